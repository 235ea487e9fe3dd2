#!/usr/bin/env bash
# `npm test`: the fast tier. Two lanes at once on the machine's cores: tsc, lint and the fast pytest tier in one,
# jest's fast project in the other; the first lane's output is printed after jest's, then both exit codes.
# `npm run test:full` (CI) adds the heavy tier (README, "Tests").
set -uo pipefail
checks_log="$(mktemp)"
trap 'rm -f "$checks_log"' EXIT
(npm run -s typecheck && npm run -s lint && npm run -s test:py) >"$checks_log" 2>&1 &
checks=$!
npm run -s test:js
jest_exit=$?
wait "$checks"
checks_exit=$?
cat "$checks_log"
echo "fast tier: tsc + lint + pytest exit $checks_exit, jest exit $jest_exit (npm run test:full adds the heavy tier)"
[ "$checks_exit" -eq 0 ] && [ "$jest_exit" -eq 0 ]

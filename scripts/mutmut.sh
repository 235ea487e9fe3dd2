#!/usr/bin/env bash
# Python mutation testing (mutmut 3.8.1) of the validation code in scoring/score.py and training/app.py, configured in
# setup.cfg [mutmut]. mutmut is not in requirements-dev.txt: it is installed once into .local/mutmut-lib (ignored by
# git) with pip --target, outside .venv, and put on PYTHONPATH for the run. docs/testing.md "Python: mutmut".
#
# Usage: bash scripts/mutmut.sh                 # the validation functions (the names below)
#        bash scripts/mutmut.sh results         # any other mutmut command, e.g. `show <mutant>`
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LIB=.local/mutmut-lib
VERSION=3.8.1
if [ ! -f "$LIB/mutmut-$VERSION.dist-info/METADATA" ]; then
  echo "[mutmut] installing mutmut==$VERSION into $LIB (not into .venv)" >&2
  bash scripts/env.sh python -m pip install --quiet --target "$LIB" "mutmut==$VERSION" >&2
fi
if [ $# -eq 0 ]; then
  # mutmut 3 names a mutant by its file's path from the project root: scoring/score.py -> scoring.score.x_<function>
  set -- run "scoring.score.x_parse_request__*" "scoring.score.x__check_body_size__*" "scoring.score.x__too_large__*" \
    "training.app.x_parse_args__*"
fi
PYTHONPATH="$ROOT/$LIB${PYTHONPATH:+:$PYTHONPATH}" exec bash scripts/env.sh python -m mutmut "$@"

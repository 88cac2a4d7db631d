#!/usr/bin/env bash
# Items 1 and 5 and the packing of 1, 2 and 4 processes per GPU, on a machine with a
# GPU (about five minutes). Results go to benchmarks/results/gpu-*.json and into
# BENCHMARKS.md's GPU section. Usage: bash benchmarks/gpu.sh [python]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-${PYTHON:-python}}"
"$PYTHON" -c 'import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices("GPU") else "no GPU visible to TensorFlow")'
exec timeout 540 "$PYTHON" -m benchmarks --quick --only overhead throughput packing "${@:2}"

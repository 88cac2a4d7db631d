#!/usr/bin/env bash
# The real multi-worker GPU check, for a machine with NVIDIA GPUs (a few minutes).
#
# Runs a tiny sgd-vs-adam study on digits with every visible GPU, K workers packed on
# each (default 2, each capped to its share of the memory), then prints what each
# worker saw: its host, process, the GPU TensorFlow found (name, memory cap) and how
# many trials it finished. Usage: scripts/gpu_workers_check.sh [K]
set -euo pipefail
per_gpu="${1:-2}"
folder="$(mktemp -d)"
url="sqlite:///${folder}/gpu-check.db"
optsearch_bin="${OPTSEARCH:-optsearch}"

nvidia-smi --query-gpu=index,name,memory.total --format=csv
"$optsearch_bin" start --study gpu-check --storage "$url" --gpus all --workers-per-gpu "$per_gpu" \
    --n-trials 16 --epochs 3 --no-progress
"$optsearch_bin" workers --study gpu-check --storage "$url"
echo "Study kept in ${folder}/gpu-check.db"

"""GPU only: several worker processes packed on one GPU, total images per second.

1, 2 and 4 processes each train the throughput benchmark's trial at the same time on
GPU 0 (memory growth on, as ``--workers-per-gpu`` does); the sum of their images per
second shows whether packing small trials on one GPU pays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import Mode, Section, Table, fmt, has_gpu

NAME = "packing"
TITLE = "GPU packing: worker processes per GPU"
GOAL = "Total images per second of 1, 2 and 4 processes sharing one GPU."

_CHILD = """
import json, sys, time
from optsearch.trainers import import_keras, load_dataset
import_keras()
import tensorflow as tf
for gpu in tf.config.list_physical_devices("GPU"):
    tf.config.experimental.set_memory_growth(gpu, True)
from benchmarks.throughput import measure
data = load_dataset("digits")
measure(data, "small_cnn", pipeline="arrays", jit=False, steps=1, mixed=False, epochs=2)
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
r = measure(data, "small_cnn", pipeline="arrays", jit=False, steps=1, mixed=False, epochs=int(sys.argv[2]))
open(sys.argv[3], "w").write(json.dumps(r))
"""


def run(mode: Mode) -> Section:
    if not has_gpu():
        return Section(NAME, TITLE, GOAL, "Not measured yet: no GPU on this machine.", (), mode=mode.name)
    epochs = 5 if mode.quick else 15
    rows = []
    base = None
    with tempfile.TemporaryDirectory() as folder:
        for count in (1, 2, 4):
            start_at = time.time() + 20
            outs = [str(Path(folder) / f"{count}-{i}.json") for i in range(count)]
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0]}
            procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(start_at), str(epochs), out], env=env)
                     for out in outs]
            for proc in procs:
                proc.wait(timeout=300)
            total = sum(json.loads(Path(o).read_text())["images_per_s"] for o in outs if os.path.exists(o))
            base = base or total
            rows.append((str(count), fmt(total, 0), fmt(total / base, 2, "×")))
    return Section(NAME, TITLE, GOAL, f"Best total: {max(rows, key=lambda r: float(r[1]))[0]} processes per GPU.",
                   (Table("Processes on one GPU", ("processes", "total images/s", "vs 1 process"), tuple(rows)),),
                   notes=(f"digits, small_cnn, batch 64, {epochs} epochs per process, started together.",))

"""Item 5: training throughput of one trial, per input pipeline and compile option.

The default preset's model and data, Adam at 1e-3, one seed, a fixed number of
epochs; each combination is measured in turn (interleaved over repeats in full mode).
The first epoch holds the graph trace (and the XLA compile with ``jit_compile``) and is
reported apart; images per second count the training images of the later epochs over
their wall time (validation included, as in a trial). The validation accuracy after the
last epoch shows whether a speed-up costs accuracy.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from benchmarks._common import Mode, Section, Table, fmt, median

NAME = "throughput"
TITLE = "5. Training throughput"
GOAL = ("Find the fastest input pipeline / jit_compile / steps_per_execution (/ mixed "
        "precision on a GPU) that leaves the accuracy after a fixed number of epochs unchanged.")
PIPELINES = ("arrays", "tf.data cached+prefetched", "on device")


def _inputs(pipeline: str, dataset: Any, batch_size: int, seed: int) -> tuple[Any, Any, dict[str, Any]]:
    import tensorflow as tf

    if pipeline == "arrays":
        return (dataset.x_train, dataset.y_train), (dataset.x_val, dataset.y_val), {"batch_size": batch_size}
    if pipeline == "on device":
        device = "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"
        with tf.device(device):
            train = (tf.constant(dataset.x_train), tf.constant(dataset.y_train))
            val = (tf.constant(dataset.x_val), tf.constant(dataset.y_val))
        return train, val, {"batch_size": batch_size}
    train = (tf.data.Dataset.from_tensor_slices((dataset.x_train, dataset.y_train)).cache()
             .shuffle(len(dataset.y_train), seed=seed, reshuffle_each_iteration=True)
             .batch(batch_size).prefetch(tf.data.AUTOTUNE))
    val = (tf.data.Dataset.from_tensor_slices((dataset.x_val, dataset.y_val)).cache()
           .batch(batch_size).prefetch(tf.data.AUTOTUNE))
    return (train,), (val,), {}


def measure(dataset: Any, model: str, *, pipeline: str, jit: bool, steps: int, mixed: bool,
            epochs: int, batch_size: int = 64, seed: int = 0) -> dict[str, float]:
    """Train one Adam trial with these choices; return compile s, images/s and accuracy."""
    from optsearch.trainers import get_model, import_keras

    keras = import_keras()
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    keras.utils.set_random_seed(seed)
    try:
        network = get_model(model)(dataset.input_shape, dataset.num_classes)
        network.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                        metrics=["accuracy"], jit_compile=jit, steps_per_execution=steps)
        train, val, kwargs = _inputs(pipeline, dataset, batch_size, seed)
        marks: list[float] = []

        class Marks(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                marks.append(time.perf_counter())

        started = time.perf_counter()
        history = network.fit(*train, validation_data=val, epochs=epochs, callbacks=[Marks()],
                              verbose=0, **kwargs)
        later = marks[-1] - marks[0]
        images = len(dataset.y_train) * (epochs - 1)
        return {"first_epoch": marks[0] - started, "images_per_s": images / later if later > 0 else float("nan"),
                "val_accuracy": float(history.history["val_accuracy"][-1])}
    finally:
        keras.mixed_precision.set_global_policy("float32")


def combinations(gpu: bool) -> list[dict[str, Any]]:
    mixed = (False, True) if gpu else (False,)
    return [{"pipeline": p, "jit": j, "steps": s, "mixed": m}
            for p, j, s, m in itertools.product(PIPELINES, (False, True), (1, 32), mixed)]


def _label(combo: dict[str, Any]) -> tuple[str, ...]:
    return (combo["pipeline"], "on" if combo["jit"] else "off", str(combo["steps"]),
            "on" if combo["mixed"] else "off")


def run(mode: Mode) -> Section:
    from optsearch.trainers import load_dataset

    from benchmarks._common import has_gpu

    gpu = has_gpu()
    epochs, repeats = (4, 1) if mode.quick else (20, 2)
    dataset = load_dataset("digits")
    combos = combinations(gpu)
    measure(dataset, "small_cnn", pipeline="arrays", jit=False, steps=1, mixed=False, epochs=2)  # warm-up
    results: dict[int, list[dict[str, float]]] = {i: [] for i in range(len(combos))}
    for _ in range(repeats):
        for index, combo in enumerate(combos):
            results[index].append(measure(dataset, "small_cnn", epochs=epochs, **combo))
    summary = []
    for index, combo in enumerate(combos):
        runs = results[index]
        summary.append((combo, median([r["images_per_s"] for r in runs]), median([r["first_epoch"] for r in runs]),
                        median([r["val_accuracy"] for r in runs])))
    base = summary[0]
    rows = []
    for combo, ips, first, acc in summary:
        rows.append((*_label(combo), fmt(ips, 0), fmt(ips / base[1], 2, "×"), fmt(first, 2),
                     fmt(acc, 4), fmt(100 * (acc - base[3]), 2)))
    # "Unchanged" accuracy: within one validation example of the baseline, or a point.
    tolerance = max(1.0 / len(dataset.y_val), 0.01)
    fair = [s for s in summary if abs(s[3] - base[3]) <= tolerance]
    best = max(fair, key=lambda s: s[1])
    verdict = (
        f"Fastest with unchanged accuracy: pipeline {best[0]['pipeline']}, jit_compile "
        f"{'on' if best[0]['jit'] else 'off'}, steps_per_execution {best[0]['steps']}"
        + (f", mixed precision {'on' if best[0]['mixed'] else 'off'}" if gpu else "")
        + f": {best[1] / base[1]:.2f}× the current default's images per second "
        f"({best[1]:.0f} vs {base[1]:.0f}), first epoch {best[2]:.2f} s vs {base[2]:.2f} s."
    )
    notes = [f"digits, small_cnn, batch 64, Adam 1e-3, seed 0, {epochs} epochs, median of {repeats} "
             f"run{'s' if repeats > 1 else ''}; first row = Keras' defaults (array input, one step per call); `train_trial` now runs small_cnn with 32 steps per call, and `input_pipeline = 'tf.data'` is a spec field."]
    if not gpu:
        notes.append("No GPU here: mixed precision (a GPU-only option) was not measured; see the GPU section.")
    return Section(NAME, TITLE, GOAL, verdict, (
        Table("Per combination", ("input pipeline", "jit_compile", "steps_per_execution", "mixed precision",
                                  "images/s", "vs default", "first epoch s (trace/compile)",
                                  "val acc", "Δ val acc (points)"), tuple(rows)),
    ), notes=tuple(notes))

"""Which devices a training process uses, set from its environment.

The launcher (``optsearch start --gpus``) gives each worker process one GPU through
``CUDA_VISIBLE_DEVICES`` and, when several workers share a GPU, a memory cap through
``OPTSEARCH_GPU_MEMORY_MB``; CPU workers get their share of the cores through
``OPTSEARCH_CPU_THREADS``. TensorFlow accepts these settings only before it first
uses a device, so they are applied right after it is imported.
"""

from __future__ import annotations

import os
from types import ModuleType

from optsearch import errors

__all__ = ["GPU_MEMORY_ENV", "CPU_THREADS_ENV", "configure_devices", "describe_devices"]

GPU_MEMORY_ENV = "OPTSEARCH_GPU_MEMORY_MB"
CPU_THREADS_ENV = "OPTSEARCH_CPU_THREADS"


def _positive_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise errors.UsageError(f"{name} must be a whole number > 0. Received: {name}={raw!r}")
    return int(raw)


def configure_devices(tf: ModuleType) -> None:
    """Apply the memory and thread settings of the environment to TensorFlow.

    Every visible GPU either gets memory growth (TensorFlow otherwise takes the whole
    card at start, and a second process on it fails) or, with
    ``OPTSEARCH_GPU_MEMORY_MB``, a hard cap of that many megabytes.
    """
    memory_mb = _positive_int(GPU_MEMORY_ENV)
    for gpu in tf.config.list_physical_devices("GPU"):
        if memory_mb is not None:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=memory_mb)]
            )
        else:
            tf.config.experimental.set_memory_growth(gpu, True)
    threads = _positive_int(CPU_THREADS_ENV)
    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))


def describe_devices() -> str:
    """What this process trains on, in words, e.g. ``GPU 0 (NVIDIA H200, cap 30000 MB)``."""
    from optsearch.trainers._keras import import_keras

    import_keras()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    if not gpus:
        threads = os.environ.get(CPU_THREADS_ENV)
        return "CPU" + (f" ({threads} threads)" if threads else "")
    names = []
    for index, gpu in enumerate(gpus):
        details = tf.config.experimental.get_device_details(gpu)
        physical = visible.split(",")[index] if visible and index < len(visible.split(",")) else str(index)
        names.append(f"GPU {physical} ({details.get('device_name', 'unknown')})")
    cap = os.environ.get(GPU_MEMORY_ENV)
    return ", ".join(names) + (f", cap {cap} MB" if cap else ", memory growth")

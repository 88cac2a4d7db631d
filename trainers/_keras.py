"""Import Keras (and TensorFlow under it) quietly and lazily.

Importing TensorFlow takes seconds and prints CUDA, oneDNN and absl messages from
C++ straight to file descriptor 2. Everything in ``optsearch.trainers`` imports
Keras through :func:`import_keras`, so ``import optsearch.trainers`` stays instant
and the user's terminal stays clean.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType

__all__ = ["import_keras"]

# Defaults only: a user who sets these on purpose (for example to debug a GPU
# set-up) keeps their value.
_QUIET_ENVIRONMENT = {
    # 3 hides INFO, WARNING and ERROR lines from TensorFlow's C++ logging.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # Keras 3 picks its backend from here; the project trains with TensorFlow.
    "KERAS_BACKEND": "tensorflow",
    # absl's "WARNING: All log messages before absl::InitializeLog()" line.
    "GRPC_VERBOSITY": "ERROR",
}


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null, restoring it afterwards.

    Redirecting ``sys.stderr`` is not enough: TensorFlow's C++ code writes to the
    descriptor itself.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # No real descriptor (e.g. an embedded interpreter).
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_keras() -> ModuleType:
    """Return the ``keras`` module, importing TensorFlow quietly the first time.

    Returns:
        The ``keras`` module (Keras 3, TensorFlow backend).

    Example:
        >>> keras = import_keras()
        >>> keras.__version__  # doctest: +SKIP
        '3.15.1'
    """
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["keras"]
    for name, value in _QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    # Only the import itself is silenced: an error raised from it still reaches the
    # caller as an exception, with its message intact.
    with _stderr_silenced():
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        import keras

        from optsearch.trainers._devices import configure_devices

        configure_devices(tf)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # absl is a TensorFlow dependency, but do not insist on it.
        pass
    return keras

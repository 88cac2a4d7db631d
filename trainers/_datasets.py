"""Dataset registry: load, scale and split image-classification data.

Every dataset comes with three splits. The test split is fixed (the official one,
or for ``digits`` one carved with a fixed seed) and is only ever used for the final
``test_accuracy``; validation is carved from the training data with the caller's
seed and drives model selection and pruning.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from optsearch import errors
from optsearch.trainers._keras import import_keras

__all__ = ["DATASETS", "Dataset", "check_dataset_name", "load_dataset"]

# The digits test split never moves, whatever seed a study uses, so test accuracies
# of different studies are comparable.
_DIGITS_TEST_SEED = 0
_DIGITS_TEST_FRACTION = 0.2
_NPZ_PREFIX = "npz:"
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


# eq=False: comparing numpy arrays field by field is ambiguous; identity will do.
@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and integer labels, split three ways.

    Attributes:
        name: The name it was loaded by, e.g. "digits" or "npz:/data/x.npz".
        x_train: Training images, float32 in [0, 1], shape (n, height, width, channels).
        y_train: Training labels, int32, shape (n,).
        x_val: Validation images (carved from the training data).
        y_val: Validation labels.
        x_test: Test images (used only for the final test accuracy).
        y_test: Test labels.
        num_classes: Number of classes.
        input_shape: Shape of one image, e.g. (8, 8, 1).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    input_shape: tuple[int, ...]

    def __repr__(self) -> str:  # The default would print whole arrays.
        return (
            f"Dataset(name={self.name!r}, train={len(self.y_train)}, val={len(self.y_val)}, "
            f"test={len(self.y_test)}, num_classes={self.num_classes}, "
            f"input_shape={self.input_shape})"
        )


_Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _images(x: np.ndarray) -> np.ndarray:
    """Add a channel axis to grey images and scale integer pixels to [0, 1]."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if np.issubdtype(x.dtype, np.integer):
        # Integer pixels are taken as 8-bit (0-255); wider ones by their maximum.
        scale = max(255.0, float(x.max(initial=0)))
        return (x.astype(np.float32) / np.float32(scale)).astype(np.float32)
    return x.astype(np.float32)


def _labels(y: np.ndarray) -> np.ndarray:
    # Keras datasets give CIFAR labels as (n, 1).
    return np.asarray(y).reshape(-1).astype(np.int32)


def _split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> _Arrays:
    """Stratified split: (x_kept, y_kept, x_carved, y_carved)."""
    from sklearn.model_selection import train_test_split

    x_kept, x_carved, y_kept, y_carved = train_test_split(
        x, y, test_size=fraction, random_state=seed, stratify=y
    )
    return x_kept, y_kept, x_carved, y_carved


def _digits() -> _Arrays:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., np.newaxis]  # Pixels are 0-16.
    y = _labels(bunch.target)
    return _split(x, y, _DIGITS_TEST_FRACTION, _DIGITS_TEST_SEED)


def _keras_loader(name: str) -> Callable[[], _Arrays]:
    def load() -> _Arrays:
        keras = import_keras()
        try:
            (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
        except Exception as error:  # Network, proxy, corrupt cache: all mean "not here".
            cause = f"{type(error).__name__}: {error}".strip()
            if len(cause) > 200:
                cause = cause[:197] + "..."
            raise errors.DatasetUnavailableError(
                f"Could not load dataset {name!r}: the download failed ({cause}). "
                f"Use 'digits' (bundled, works offline) or 'npz:PATH' with your own "
                f"copy of the data (arrays x_train, y_train, x_test, y_test)."
            ) from error
        return _images(x_train), _labels(y_train), _images(x_test), _labels(y_test)

    return load


def _npz(path: str) -> _Arrays:
    if not os.path.isfile(path):
        raise errors.DatasetUnavailableError(
            f"Dataset file {path!r} does not exist. Give the path of a .npz file with "
            f"arrays {', '.join(_NPZ_KEYS)}, e.g. 'npz:data/my_images.npz'."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in _NPZ_KEYS if key not in archive.files]
            if missing:
                raise errors.DatasetUnavailableError(
                    f"Dataset file {path!r} lacks the arrays {', '.join(missing)} "
                    f"(it has: {', '.join(archive.files) or 'none'}). It needs "
                    f"{', '.join(_NPZ_KEYS)}."
                )
            arrays = {key: archive[key] for key in _NPZ_KEYS}
    except (OSError, ValueError) as error:
        raise errors.DatasetUnavailableError(
            f"Dataset file {path!r} is not a readable .npz file ({error})."
        ) from error
    return (
        _images(arrays["x_train"]),
        _labels(arrays["y_train"]),
        _images(arrays["x_test"]),
        _labels(arrays["y_test"]),
    )


# Each loader returns (x_train, y_train, x_test, y_test), scaled, before validation
# is carved out. "npz:PATH" is handled apart because its name carries an argument.
DATASETS: Mapping[str, Callable[[], _Arrays]] = MappingProxyType(
    {
        "digits": _digits,
        "mnist": _keras_loader("mnist"),
        "fashion_mnist": _keras_loader("fashion_mnist"),
        "cifar10": _keras_loader("cifar10"),
        "cifar100": _keras_loader("cifar100"),
    }
)


def load_dataset(name: str, seed: int = 0, validation_fraction: float = 0.2) -> Dataset:
    """Load a dataset and split it into train, validation and test.

    Results are cached per process, so the trials of a study share one copy.
    The arrays are shared too: do not modify them.

    Args:
        name: One of ``DATASETS`` ("digits", "mnist", "fashion_mnist", "cifar10",
            "cifar100") or "npz:PATH" for a .npz file with arrays x_train, y_train,
            x_test, y_test.
        seed: Seed of the stratified validation split. Defaults to 0.
        validation_fraction: Share of the training data held out for validation,
            in (0, 1). Defaults to 0.2.

    Returns:
        The dataset: float32 images in [0, 1] with a channel axis, int32 labels.

    Raises:
        UnknownNameError: ``name`` is not a dataset.
        SpecError: ``validation_fraction`` is out of range.
        DatasetUnavailableError: The data could not be downloaded or read.

    Example:
        >>> data = load_dataset("digits", seed=1)
        >>> data.input_shape, len(data.y_test)
        ((8, 8, 1), 360)
    """
    return _load_dataset(name, int(seed), float(validation_fraction))


def check_dataset_name(name: str) -> None:
    """Check that ``name`` names a dataset, without loading it (nor TensorFlow).

    Raises:
        UnknownNameError: ``name`` is not a dataset; the message lists the valid ones.
        DatasetUnavailableError: ``npz:PATH`` names a file that does not exist.
    """
    if name.startswith(_NPZ_PREFIX):
        path = Path(name[len(_NPZ_PREFIX):]).expanduser()
        if not path.is_file():
            raise errors.DatasetUnavailableError(
                f"Dataset file {str(path)!r} does not exist. `npz:PATH` needs a .npz file "
                f"with arrays {', '.join(_NPZ_KEYS)}."
            )
    elif name not in DATASETS:
        raise errors.UnknownNameError("dataset", name, (*DATASETS, "npz:PATH"))


@functools.lru_cache(maxsize=8)
def _load_dataset(name: str, seed: int, validation_fraction: float) -> Dataset:
    if not 0.0 < validation_fraction < 1.0:
        raise errors.SpecError(
            "Argument `validation_fraction` must be in (0, 1). "
            f"Received: validation_fraction={validation_fraction!r}"
        )
    if name.startswith(_NPZ_PREFIX):
        x_train, y_train, x_test, y_test = _npz(name[len(_NPZ_PREFIX):])
    elif name in DATASETS:
        x_train, y_train, x_test, y_test = DATASETS[name]()
    else:
        raise errors.UnknownNameError("dataset", name, (*DATASETS, "npz:PATH"))
    x_train, y_train, x_val, y_val = _split(x_train, y_train, validation_fraction, seed)
    num_classes = int(max(y_train.max(), y_val.max(), y_test.max())) + 1
    for array in (x_train, y_train, x_val, y_val, x_test, y_test):
        array.setflags(write=False)  # Shared by every trial through the cache.
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        num_classes=num_classes,
        input_shape=tuple(int(d) for d in x_train.shape[1:]),
    )

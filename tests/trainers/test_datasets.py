from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optsearch.errors import DatasetUnavailableError, SpecError, UnknownNameError
from optsearch.trainers import DATASETS, import_keras, load_dataset


def test_digits_shapes_and_splits() -> None:
    data = load_dataset("digits", seed=0)
    assert data.input_shape == (8, 8, 1)
    assert data.num_classes == 10
    # 1797 images: 20 % test (360), then 20 % of the remaining 1437 for validation.
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (1149, 288, 360)
    assert data.x_train.shape == (1149, 8, 8, 1)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int32
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    # Stratified: every class appears in every split.
    for labels in (data.y_train, data.y_val, data.y_test):
        assert set(labels.tolist()) == set(range(10))


def test_digits_test_split_is_fixed_but_validation_follows_the_seed() -> None:
    first, second = load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    np.testing.assert_array_equal(first.x_test, second.x_test)
    np.testing.assert_array_equal(first.y_test, second.y_test)
    assert not np.array_equal(first.y_val, second.y_val) or not np.array_equal(first.x_val, second.x_val)


def test_loading_is_cached() -> None:
    assert load_dataset("digits", seed=3) is load_dataset("digits", seed=3)


def test_bad_validation_fraction() -> None:
    with pytest.raises(SpecError, match="Received: validation_fraction=1.0"):
        load_dataset("digits", validation_fraction=1.0)


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as caught:
        load_dataset("imagenet")
    message = str(caught.value)
    for name in (*DATASETS, "npz:PATH"):
        assert name in message


def _write_npz(path: Path, **arrays: np.ndarray) -> str:
    np.savez(path, **arrays)
    return f"npz:{path}"


def test_npz_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    name = _write_npz(
        tmp_path / "images.npz",
        x_train=rng.integers(0, 256, size=(100, 6, 6), dtype=np.uint8),
        y_train=np.repeat(np.arange(4), 25),
        x_test=rng.integers(0, 256, size=(20, 6, 6), dtype=np.uint8),
        y_test=np.repeat(np.arange(4), 5).reshape(-1, 1),
    )
    data = load_dataset(name, seed=0, validation_fraction=0.2)
    assert data.input_shape == (6, 6, 1)  # A channel axis was added.
    assert data.num_classes == 4
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (80, 20, 20)
    assert data.x_test.dtype == np.float32 and data.y_test.dtype == np.int32
    assert data.x_train.max() <= 1.0 and data.x_train.max() > 0.9  # Scaled from 0-255.


def test_npz_missing_keys_are_named(tmp_path: Path) -> None:
    name = _write_npz(tmp_path / "partial.npz", x_train=np.zeros((4, 2, 2)), y_train=np.zeros(4))
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset(name)
    message = str(caught.value)
    assert "partial.npz" in message
    assert "x_test, y_test" in message


def test_npz_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")


def test_download_failure_suggests_offline_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    keras = import_keras()

    def no_network() -> None:
        raise OSError("URL fetch failure: Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", no_network)
    # A seed no other test uses, so the cache cannot answer for the loader.
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset("cifar10", seed=12345)
    message = str(caught.value)
    assert "download failed" in message
    assert "name resolution" in message
    assert "digits" in message and "npz:PATH" in message

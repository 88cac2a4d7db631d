from __future__ import annotations

import math

import pytest

from optsearch import errors
from optsearch.errors import MetricMissingError
from optsearch.trainers import EpochRecord, TrialParams, load_dataset, train_trial
from optsearch.trainers._train import _epoch_callback_class

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def _check_consistent(result, epochs: int) -> None:
    assert len(result.curve) == epochs
    assert [record.epoch for record in result.curve] == list(range(1, epochs + 1))
    best = max(result.curve, key=lambda record: record.val_accuracy)
    assert result.best_val_accuracy == best.val_accuracy
    assert result.best_epoch == best.epoch
    assert result.train_accuracy_at_best == best.accuracy
    assert 0.0 <= result.test_accuracy <= 1.0
    assert not result.stopped_early and not result.diverged
    assert result.end_reason == f"completed all {epochs} epochs"
    assert result.seconds >= sum(record.seconds for record in result.curve)


def test_adam_learns_digits(digits) -> None:
    result = train_trial(TrialParams("adam", 3e-3, epochs=3, seed=1), digits, "small_cnn")
    _check_consistent(result, 3)
    # Ten classes: chance is 0.1. Three epochs of Adam reach about 0.7 here.
    assert result.test_accuracy > 0.3
    assert result.best_val_accuracy > 0.3


def test_sgd_with_step_schedule_records_each_epochs_rate(digits) -> None:
    params = TrialParams(
        "sgd",
        0.1,
        {"momentum": 0.9, "nesterov": True},
        schedule="step",
        schedule_options={"drop": 0.5, "every_fraction": 0.5},
        epochs=4,
    )
    result = train_trial(params, digits, "small_cnn")
    _check_consistent(result, 4)
    # every = round(0.5 * 4) = 2 epochs.
    assert [record.learning_rate for record in result.curve] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05]
    )
    assert result.test_accuracy > 0.15
    assert set(result.curve[0].as_dict()) == {
        "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds",
    }


def test_reporter_can_stop_after_the_first_epoch(digits) -> None:
    seen: list[EpochRecord] = []

    def prune_at_once(record: EpochRecord) -> bool:
        seen.append(record)
        return True

    result = train_trial(TrialParams("adam", 1e-3, epochs=5), digits, "small_cnn", prune_at_once)
    assert result.stopped_early and not result.diverged
    assert len(result.curve) == 1 and seen == list(result.curve)
    assert result.best_epoch == 1
    assert result.test_accuracy is not None
    assert result.end_reason == "stopped by the pruner after epoch 1"


def test_divergence_is_a_result_not_an_error(digits) -> None:
    result = train_trial(TrialParams("sgd", 1e10, epochs=4), digits, "small_cnn")
    assert result.diverged and not result.stopped_early
    assert 1 <= len(result.curve) < 4
    assert not math.isfinite(result.curve[-1].loss)
    assert result.end_reason.startswith(f"diverged at epoch {len(result.curve)} (loss=")
    # The diverged epoch's NaN weights are never picked or tested.
    assert result.best_epoch is None or result.best_epoch < len(result.curve)
    if result.best_epoch is None:
        assert result.best_val_accuracy == 0.0
        assert result.test_accuracy is None and result.train_accuracy_at_best is None


def test_missing_validation_accuracy_is_fatal() -> None:
    callback = _epoch_callback_class()(None)
    with pytest.raises(MetricMissingError) as caught:
        callback.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.8, "learning_rate": 0.1})
    message = str(caught.value)
    assert "'val_accuracy'" in message
    assert "accuracy, learning_rate, loss" in message


def test_missing_validation_accuracy_propagates_from_training(
    digits, monkeypatch: pytest.MonkeyPatch
) -> None:
    from optsearch.trainers import _train

    # Rename the monitored metric: Keras then logs val_accuracy but we look for
    # another key, as if the model had been compiled without accuracy.
    monkeypatch.setattr(_train, "_MONITOR", "val_top5")
    with pytest.raises(MetricMissingError, match="val_accuracy"):
        train_trial(TrialParams("adam", 1e-3, epochs=2), digits, "small_cnn")


@pytest.mark.slow
def test_tf_data_pipeline_trains_with_the_same_interface() -> None:
    data = load_dataset("digits")
    result = train_trial(TrialParams("adam", 1e-3, epochs=2, input_pipeline="tf.data"), data, "small_cnn")
    assert len(result.curve) == 2 and 0.0 <= result.test_accuracy <= 1.0
    with pytest.raises(errors.SpecError, match="input_pipeline"):
        TrialParams("adam", 1e-3, input_pipeline="parquet")

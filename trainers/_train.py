"""Train one trial with Keras, reporting each epoch; knows nothing of Optuna."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from optsearch import errors
from optsearch.trainers._datasets import Dataset
from optsearch.trainers._keras import import_keras
from optsearch.trainers._models import get_model
from optsearch.trainers._optimizers import get_optimizer
from optsearch.trainers._params import TrialParams
from optsearch.trainers._schedules import Schedule, make_schedule
from optsearch.trainers._switching import make_switch_monitor, switch_epoch_for

__all__ = ["STEPS_PER_EXECUTION", "EpochRecord", "EpochReporter", "TrialResult", "train_trial"]

# The metric that picks the best epoch and that the reporter is mostly about.
_MONITOR = "val_accuracy"
# Evaluation batches only change speed, not results (no dropout; batch norm uses
# its moving statistics), so evaluate the test set in large batches.
_TEST_BATCH_SIZE = 1024


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch of training produced.

    Attributes:
        epoch: Number of epochs completed (1-based).
        loss: Mean training loss over the epoch (NaN or inf when training diverged).
        accuracy: Training accuracy over the epoch.
        val_loss: Loss on the validation split at the end of the epoch.
        val_accuracy: Accuracy on the validation split at the end of the epoch.
            May be NaN on the epoch where training diverged.
        learning_rate: The learning rate used during this epoch.
        seconds: Wall time of the epoch, validation included.
    """

    epoch: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    learning_rate: float
    seconds: float

    def as_dict(self) -> dict[str, float | int]:
        """Return the record as a plain dict (e.g. for JSON or Optuna user attributes)."""
        return asdict(self)


@dataclass(frozen=True)
class TrialResult:
    """The outcome of one trial.

    Attributes:
        best_val_accuracy: Highest validation accuracy over the epochs run, ignoring
            epochs whose loss or validation accuracy was NaN/inf (0.0 if none).
        best_epoch: 1-based epoch of that maximum; None if no epoch produced usable
            weights.
        test_accuracy: Test accuracy of the weights of the best epoch; None when
            ``best_epoch`` is None.
        train_accuracy_at_best: Training accuracy of the best epoch; None when
            ``best_epoch`` is None.
        curve: One record per epoch run, in order.
        stopped_early: The reporter asked to stop (the trial was pruned).
        diverged: The training loss became NaN or infinite; training stopped there.
        end_reason: Why training ended, in words, e.g. "completed all 8 epochs".
        seconds: Wall time of the whole trial, building and testing included.
        switch_epoch: adam-to-sgd only: the first epoch (1-based) trained with SGD
            (for SWATS, the epoch holding the first SGD step); None when the run
            never switched or the optimizer is another.
        switch_step: adam-to-sgd only: the first optimizer step (1-based, counted
            over the whole run) taken with SGD; None likewise.
        switch_learning_rate: adam-to-sgd only: SGD's learning rate at the switch
            (for SWATS, ``(1 - sgd_momentum) * Λ_k``); None likewise.
    """

    best_val_accuracy: float
    best_epoch: int | None
    test_accuracy: float | None
    train_accuracy_at_best: float | None
    curve: tuple[EpochRecord, ...]
    stopped_early: bool
    diverged: bool
    end_reason: str
    seconds: float
    switch_epoch: int | None = None
    switch_step: int | None = None
    switch_learning_rate: float | None = None


class EpochReporter(Protocol):
    """Called after every epoch; returns True to stop training now (prune the trial)."""

    def __call__(self, record: EpochRecord) -> bool: ...


def _finite(value: float) -> bool:
    return value is not None and math.isfinite(value)


def _float(logs: Mapping[str, Any], key: str) -> float:
    value = logs.get(key)
    return math.nan if value is None else float(value)


def _epoch_callback_class() -> type:
    """Build the Keras callback class; deferred so Keras is imported only when training."""
    keras = import_keras()

    class EpochCallback(keras.callbacks.Callback):
        """Records each epoch, keeps the best weights, reports and stops on request.

        Also stops training at the first batch whose loss is NaN or infinite: a
        diverged trial is a legitimate result, not an error.
        """

        def __init__(self, reporter: EpochReporter | None) -> None:
            super().__init__()
            self.reporter = reporter
            self.curve: list[EpochRecord] = []
            self.best_weights: list[np.ndarray] | None = None
            self.best_epoch: int | None = None
            self.best_val_accuracy = 0.0
            self.stopped_early = False
            self.diverged = False
            self.divergent_loss = math.nan
            self._started = 0.0

        def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            self._started = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.diverged = True
                self.divergent_loss = float(loss)
                # Keras ends the epoch at this batch, still runs validation and
                # still calls on_epoch_end, so the epoch gets its record.
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            logs = dict(logs or {})
            if _MONITOR not in logs:
                raise errors.MetricMissingError(
                    f"Training produced no {_MONITOR!r} after epoch {epoch + 1}; the logs "
                    f"had: {', '.join(sorted(logs)) or 'nothing'}. The model must be "
                    "compiled with metrics=['accuracy'] and fit with validation data."
                )
            record = EpochRecord(
                epoch=epoch + 1,
                loss=_float(logs, "loss"),
                accuracy=_float(logs, "accuracy"),
                val_loss=_float(logs, "val_loss"),
                val_accuracy=_float(logs, _MONITOR),
                learning_rate=self._learning_rate(logs),
                seconds=time.perf_counter() - self._started,
            )
            self.curve.append(record)
            if not _finite(record.loss):
                self.diverged = True
                self.divergent_loss = record.loss
                self.model.stop_training = True
            # The weights of a diverged epoch are NaN; a NaN accuracy counts as 0.0.
            usable = not self.diverged and _finite(record.val_accuracy)
            if usable and (self.best_epoch is None or record.val_accuracy > self.best_val_accuracy):
                self.best_val_accuracy = record.val_accuracy
                self.best_epoch = record.epoch
                self.best_weights = [np.array(w, copy=True) for w in self.model.get_weights()]
            if self.reporter is not None and self.reporter(record):
                self.stopped_early = True
                self.model.stop_training = True

        def _learning_rate(self, logs: Mapping[str, Any]) -> float:
            # adam-to-sgd's `learning_rate` is Adam's; after its switch the rate in
            # effect is SGD's (for a mid-epoch SWATS switch: SGD's, at the epoch's end).
            current = getattr(self.model.optimizer, "current_learning_rate", None)
            if current is not None:
                return float(current)
            # LearningRateScheduler sets the rate at the start of the epoch and puts
            # it in the logs at its end; reading the optimizer covers the case where
            # it runs after us.
            if "learning_rate" in logs:
                return float(logs["learning_rate"])
            return float(np.asarray(self.model.optimizer.learning_rate))

    return EpochCallback


def _end_reason(callback: Any, epochs: int) -> str:
    last = len(callback.curve)
    if callback.diverged:
        return f"diverged at epoch {last} (loss={callback.divergent_loss})"
    if callback.stopped_early:
        return f"stopped by the pruner after epoch {last}"
    if last == epochs:
        return "completed its only epoch" if epochs == 1 else f"completed all {epochs} epochs"
    return f"stopped after epoch {last} of {epochs}"


# Training steps per call into TensorFlow, by model: the fastest setting measured by
# `python -m benchmarks --only throughput` that leaves results unchanged (the same
# batches in the same order, so the same weights). On a 2-core CPU, small_cnn on the
# digits trains the same curve 5-15% faster with 32 (fewer Python round trips per
# epoch). ResNet-20 has not been measured yet and keeps Keras' default.
STEPS_PER_EXECUTION: dict[str, int] = {"small_cnn": 32, "resnet20": 1}


def _fit_inputs(params: TrialParams, dataset: Dataset) -> dict[str, Any]:
    """The data arguments of ``fit`` for the trial's input pipeline.

    "arrays" hands Keras the NumPy arrays. "tf.data" builds a cached, per-epoch
    reshuffled (with the trial's seed) and prefetched pipeline: about 1.5x the images
    per second on a 2-core CPU, but a different shuffle order, hence not the default.
    """
    if params.input_pipeline == "arrays":
        return {"x": dataset.x_train, "y": dataset.y_train, "batch_size": params.batch_size,
                "validation_data": (dataset.x_val, dataset.y_val)}
    import tensorflow as tf

    train = (tf.data.Dataset.from_tensor_slices((dataset.x_train, dataset.y_train)).cache()
             .shuffle(len(dataset.y_train), seed=params.seed, reshuffle_each_iteration=True)
             .batch(params.batch_size).prefetch(tf.data.AUTOTUNE))
    val = (tf.data.Dataset.from_tensor_slices((dataset.x_val, dataset.y_val)).cache()
           .batch(params.batch_size).prefetch(tf.data.AUTOTUNE))
    return {"x": train, "validation_data": val}


def train_trial(
    params: TrialParams,
    dataset: Dataset,
    model: str,
    reporter: EpochReporter | None = None,
) -> TrialResult:
    """Train one model with one set of parameters and test its best epoch.

    The learning rate follows ``params.schedule``; after each epoch the reporter
    gets an :class:`EpochRecord` and may stop training by returning True. The
    weights of the epoch with the best validation accuracy are kept and, at the
    end, evaluated once on the test split.

    Args:
        params: Optimizer, learning rate, schedule, epochs, batch size and seed.
        dataset: The data (see :func:`load_dataset`).
        model: Model name, one of ``MODELS``.
        reporter: Called after each epoch; return True to stop (prune). Defaults to
            None (train all epochs).

    Returns:
        The result. A loss that becomes NaN or infinite ends training and gives a
        result with ``diverged=True``; it is not an exception.

    Raises:
        UnknownNameError: ``model`` or ``params.optimizer`` is unknown.
        MetricMissingError: Training produced no validation accuracy.
        Exception: Anything else Keras raises propagates unchanged.

    Example:
        >>> data = load_dataset("digits")
        >>> params = TrialParams("adam", 1e-3, epochs=8)
        >>> result = train_trial(params, data, "small_cnn")  # doctest: +SKIP
        >>> result.end_reason  # doctest: +SKIP
        'completed all 8 epochs'
    """
    started = time.perf_counter()
    build_model = get_model(model)
    build_optimizer = get_optimizer(params.optimizer)
    schedule: Schedule = make_schedule(
        params.schedule, params.learning_rate, params.epochs, params.schedule_options
    )
    keras = import_keras()
    # Hundreds of trials run in one process: without this, every model's graph and
    # layer names stay alive in Keras' global state and memory keeps growing.
    keras.backend.clear_session()
    keras.utils.set_random_seed(params.seed)

    network = build_model(dataset.input_shape, dataset.num_classes)
    optimizer = build_optimizer(params.learning_rate, params.optimizer_options)
    network.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=params.steps_per_execution or STEPS_PER_EXECUTION.get(model, 1),
        jit_compile="auto" if params.jit_compile is None else params.jit_compile,
    )
    callback = _epoch_callback_class()(reporter)
    # The scheduler must come first: it sets the epoch's rate before we time it,
    # and before the switch monitor reads it.
    callbacks = [keras.callbacks.LearningRateScheduler(schedule, verbose=0), callback]
    switch_monitor = None
    if params.optimizer == "adam-to-sgd":
        switch_epoch = None
        if optimizer.switch_rule == "fraction":
            switch_epoch = switch_epoch_for(float(params.optimizer_options["switch_fraction"]), params.epochs)
        switch_monitor = make_switch_monitor(switch_epoch)
        callbacks.insert(1, switch_monitor)
    network.fit(
        **_fit_inputs(params, dataset),
        epochs=params.epochs,
        callbacks=callbacks,
        verbose=0,
    )

    switch = switch_monitor.switch_point() if switch_monitor is not None else None

    test_accuracy: float | None = None
    train_accuracy_at_best: float | None = None
    if callback.best_epoch is not None:
        network.set_weights(callback.best_weights)
        scores = network.evaluate(
            dataset.x_test,
            dataset.y_test,
            batch_size=_TEST_BATCH_SIZE,
            verbose=0,
            return_dict=True,
        )
        test_accuracy = float(scores["accuracy"])
        train_accuracy_at_best = callback.curve[callback.best_epoch - 1].accuracy
    return TrialResult(
        best_val_accuracy=callback.best_val_accuracy,
        best_epoch=callback.best_epoch,
        test_accuracy=test_accuracy,
        train_accuracy_at_best=train_accuracy_at_best,
        curve=tuple(callback.curve),
        stopped_early=callback.stopped_early,
        diverged=callback.diverged,
        end_reason=_end_reason(callback, params.epochs),
        seconds=time.perf_counter() - started,
        switch_epoch=switch.epoch if switch else None,
        switch_step=switch.step if switch else None,
        switch_learning_rate=switch.learning_rate if switch else None,
    )

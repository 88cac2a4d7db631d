"""The objective: one Optuna trial = suggest parameters, train, record everything.

What a trial stores (user attributes), so that reports and exports need nothing else:
``optimizer``, ``seed``, ``sampler``, ``pruner``, ``curve`` (one record per epoch),
``best_epoch``, ``best_val_accuracy``, ``test_accuracy`` (of the best epoch's
weights), ``train_accuracy_at_best``, ``epochs_trained``, ``seconds``, ``diverged``,
``end_reason``, and ``fail_reason`` for a trial that failed. Reference trials also
carry ``reference``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import optuna

from optsearch._space import suggest_trial_params
from optsearch._spec import StudySpec
from optsearch.errors import FatalTrialError, TrialError

if TYPE_CHECKING:
    from optsearch.trainers import Dataset, EpochRecord, TrialParams

__all__ = ["Objective", "TrialObserver"]


class TrialObserver(Protocol):
    """What the progress display is told while trials run. Every method is optional."""

    def trial_started(self, number: int, params: TrialParams, reference: str | None) -> None: ...

    def epoch_ended(self, number: int, record: EpochRecord, epochs: int) -> None: ...


@dataclass
class _PruningReporter:
    """Handed to the trainer: records each epoch in the trial and asks the pruner."""

    trial: optuna.Trial
    epochs: int
    observer: TrialObserver | None
    best: float = -math.inf

    def __post_init__(self) -> None:
        self.curve: list[dict[str, Any]] = []

    def __call__(self, record: EpochRecord) -> bool:
        val = record.val_accuracy
        if math.isfinite(val):
            self.best = max(self.best, val)
        self.curve.append(record.as_dict())
        # Written every epoch, so a pruned, interrupted or killed trial keeps its curve.
        self.trial.set_user_attr("curve", self.curve)
        # The pruner sees the best validation accuracy so far: the same quantity the
        # objective returns, and less noisy than the last epoch's value. A pruned trial
        # then ends with its best value so far as its value.
        self.trial.report(self.best if math.isfinite(self.best) else 0.0, record.epoch)
        if self.observer is not None:
            self.observer.epoch_ended(self.trial.number, record, self.epochs)
        return self.trial.should_prune()


class Objective:
    """Callable objective for :meth:`optuna.Study.optimize`.

    Args:
        spec: The study spec.
        dataset: The loaded dataset (loaded once per process).
        observer: Told when trials start and epochs end. Defaults to none.
        sampler: Name of the sampler in force, recorded with each trial.
        pruner: Name of the pruner in force, recorded with each trial.
    """

    def __init__(
        self,
        spec: StudySpec,
        dataset: Dataset,
        observer: TrialObserver | None = None,
        *,
        sampler: str,
        pruner: str,
        train: Callable[..., Any] | None = None,
    ) -> None:
        self.spec = spec
        self.dataset = dataset
        self.observer = observer
        self.sampler = sampler
        self.pruner = pruner
        self.current_number: int | None = None
        if train is None:
            from optsearch.trainers import train_trial as train
        self._train = train

    def __call__(self, trial: optuna.Trial) -> float:
        self.current_number = trial.number
        try:
            return self._run(trial)
        except (optuna.TrialPruned, FatalTrialError):
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr("fail_reason", reason[:2000])
            raise TrialError(f"Trial {trial.number} failed: {reason}") from exc

    def _run(self, trial: optuna.Trial) -> float:
        params = suggest_trial_params(trial, self.spec)
        reference = trial.user_attrs.get("reference")
        for key, value in {
            "seed": params.seed,
            "sampler": "reference" if reference else self.sampler,
            "pruner": self.pruner,
            "curve": [],
        }.items():
            trial.set_user_attr(key, value)
        for stale in ("fail_reason", "end_reason", "test_accuracy"):  # copied by a retry
            if stale in trial.user_attrs:
                trial.set_user_attr(stale, None)
        if self.observer is not None:
            self.observer.trial_started(trial.number, params, reference)

        reporter = _PruningReporter(trial, params.epochs, self.observer)
        try:
            result = self._train(params, self.dataset, self.spec.model, reporter)
        except FatalTrialError as exc:
            trial.set_user_attr("fail_reason", str(exc)[:2000])
            raise
        for key, value in {
            "best_val_accuracy": result.best_val_accuracy,
            "best_epoch": result.best_epoch,
            "test_accuracy": result.test_accuracy,
            "train_accuracy_at_best": result.train_accuracy_at_best,
            "epochs_trained": len(result.curve),
            "seconds": round(result.seconds, 3),
            "diverged": result.diverged,
            "end_reason": result.end_reason,
            # Adam-to-SGD: where it switched, and to which SGD learning rate.
            "switch_epoch": getattr(result, "switch_epoch", None),
            "switch_step": getattr(result, "switch_step", None),
            "switch_learning_rate": getattr(result, "switch_learning_rate", None),
        }.items():
            if key.startswith("switch_") and value is None:
                continue
            trial.set_user_attr(key, value)
        if result.stopped_early and not result.diverged:
            raise optuna.TrialPruned(result.end_reason)
        # A diverged run is a finished trial: a bad configuration is a result, and
        # dropping it would flatter the optimizer that diverges more often.
        return float(result.best_val_accuracy)

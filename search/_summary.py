"""Numbers about a study, computed apart from any drawing: per-arm summaries, trial rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from optsearch._arms import arm_of

__all__ = ["ArmSummary", "TrialRow", "summarize_arms", "trial_rows"]

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class ArmSummary:
    """One arm of a study: how many trials, and its best trial so far."""

    arm: str
    finished: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    diverged: int = 0
    references: int = 0
    best_value: float | None = None
    best_trial: int | None = None
    best_test_accuracy: float | None = None
    best_reference: str | None = None
    best_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialRow:
    """One trial, as the tables and exports show it."""

    number: int
    state: str
    arm: str | None
    reference: str | None
    value: float | None
    test_accuracy: float | None
    epochs_trained: int | None
    note: str
    params: Mapping[str, Any]


def _hyperparameters(trial: FrozenTrial) -> dict[str, Any]:
    return {k: v for k, v in trial.params.items() if k != "optimizer"}


def summarize_arms(trials: Sequence[FrozenTrial], arms: Sequence[str]) -> tuple[ArmSummary, ...]:
    """Summarize each arm: counts by state and the trial with the best validation accuracy.

    Finished trials (complete or pruned, references included) are candidates for the
    best; a pruned trial's value is its best validation accuracy before it was pruned.
    """
    summaries = []
    for arm in arms:
        mine = [t for t in trials if arm_of(t) == arm]
        finished = [t for t in mine if t.state in _FINISHED and t.value is not None]
        best = max(finished, key=lambda t: (t.value, -t.number), default=None)
        summaries.append(
            ArmSummary(
                arm=arm,
                finished=len(finished),
                pruned=sum(t.state == TrialState.PRUNED for t in mine),
                failed=sum(t.state == TrialState.FAIL for t in mine),
                running=sum(t.state == TrialState.RUNNING for t in mine),
                diverged=sum(bool(t.user_attrs.get("diverged")) for t in finished),
                references=sum(bool(t.user_attrs.get("reference")) for t in finished),
                best_value=None if best is None else best.value,
                best_trial=None if best is None else best.number,
                best_test_accuracy=None if best is None else best.user_attrs.get("test_accuracy"),
                best_reference=None if best is None else best.user_attrs.get("reference"),
                best_params={} if best is None else _hyperparameters(best),
            )
        )
    return tuple(summaries)


def _note(trial: FrozenTrial) -> str:
    if trial.state == TrialState.FAIL:
        return str(trial.user_attrs.get("fail_reason") or "failed")
    if trial.state in _FINISHED:
        return str(trial.user_attrs.get("end_reason") or "")
    return ""


def trial_rows(trials: Sequence[FrozenTrial]) -> list[TrialRow]:
    """One row per trial, in trial order."""
    return [
        TrialRow(
            number=t.number,
            state=t.state.name.lower(),
            arm=arm_of(t),
            reference=t.user_attrs.get("reference"),
            value=t.value if t.state in _FINISHED else None,
            test_accuracy=t.user_attrs.get("test_accuracy"),
            epochs_trained=t.user_attrs.get("epochs_trained"),
            note=_note(t),
            params=_hyperparameters(t),
        )
        for t in trials
    ]

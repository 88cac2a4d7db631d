"""Export every trial of a study as JSON (nested) or CSV (one row per trial and epoch)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

from optuna.trial import FrozenTrial

from optsearch._arms import arm_of
from optsearch._spec import StudySpec

__all__ = ["EXPORT_FORMATS", "export_csv", "export_json", "trial_record"]

EXPORT_FORMATS = ("csv", "json")

_EPOCH_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")
_TRIAL_FIELDS = (
    "trial", "state", "optimizer", "reference", "sampler", "pruner", "seed", "value",
    "best_epoch", "test_accuracy", "train_accuracy_at_best", "epochs_trained", "diverged",
    "end_reason", "fail_reason", "switch_epoch", "switch_learning_rate", "retry_of", "started", "finished",
)


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def trial_record(trial: FrozenTrial) -> dict[str, Any]:
    """Everything stored about one trial, as plain data."""
    attrs = trial.user_attrs
    return _clean(
        {
            "trial": trial.number,
            "state": trial.state.name.lower(),
            "optimizer": arm_of(trial),
            "reference": attrs.get("reference"),
            "sampler": attrs.get("sampler"),
            "pruner": attrs.get("pruner"),
            "seed": attrs.get("seed"),
            "value": trial.value,
            "best_epoch": attrs.get("best_epoch"),
            "test_accuracy": attrs.get("test_accuracy"),
            "train_accuracy_at_best": attrs.get("train_accuracy_at_best"),
            "epochs_trained": attrs.get("epochs_trained"),
            "diverged": attrs.get("diverged"),
            "end_reason": attrs.get("end_reason"),
            "fail_reason": attrs.get("fail_reason"),
            "switch_epoch": attrs.get("switch_epoch"),
            "switch_learning_rate": attrs.get("switch_learning_rate"),
            "retry_of": trial.system_attrs.get("failed_trial"),
            "started": trial.datetime_start.isoformat() if trial.datetime_start else None,
            "finished": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
            "params": dict(trial.params),
            "intermediate_values": {str(k): v for k, v in sorted(trial.intermediate_values.items())},
            "curve": list(attrs.get("curve") or []),
        }
    )


def export_json(study_name: str, spec: StudySpec, trials: Sequence[FrozenTrial]) -> str:
    """The study's spec and every trial, as one JSON document."""
    document = {
        "study": study_name,
        "spec": spec.to_json_dict(),
        "trials": [trial_record(t) for t in trials],
    }
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def export_csv(trials: Sequence[FrozenTrial]) -> str:
    """One row per trial and epoch (tidy data), with the trial's fields and parameters.

    A trial that ran no epoch still gets one row, with empty epoch fields.
    """
    records = [trial_record(t) for t in trials]
    param_names = sorted({name for r in records for name in r["params"]})
    header = [*_TRIAL_FIELDS, *(f"param_{name}" for name in param_names), *_EPOCH_FIELDS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        head = [record[name] for name in _TRIAL_FIELDS]
        head += [record["params"].get(name) for name in param_names]
        for epoch in record["curve"] or [{}]:
            writer.writerow(["" if v is None else v for v in head + [epoch.get(f) for f in _EPOCH_FIELDS]])
    return out.getvalue()

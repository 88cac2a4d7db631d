from __future__ import annotations

import csv
import io
import json
import math

from optuna.trial import TrialState, create_trial
from optuna.distributions import CategoricalDistribution, FloatDistribution

from optsearch._export import export_csv, export_json
from optsearch._spec import StudySpec


def _trials():
    curve = [
        {"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.4, "learning_rate": 0.1, "seconds": 0.2},
        {"epoch": 2, "loss": math.nan, "accuracy": 0.6, "val_loss": 1.0, "val_accuracy": 0.55, "learning_rate": 0.05, "seconds": 0.2},
    ]
    dists = {"optimizer": CategoricalDistribution(["sgd", "adam"]), "learning_rate": FloatDistribution(1e-3, 1, log=True)}
    done = create_trial(
        state=TrialState.COMPLETE, value=0.55, params={"optimizer": "sgd", "learning_rate": 0.1},
        distributions=dists, user_attrs={"curve": curve, "test_accuracy": 0.5, "reference": "sgd-momentum", "diverged": True},
    )
    failed = create_trial(
        state=TrialState.FAIL, params={"optimizer": "adam", "learning_rate": 0.01},
        distributions=dists, user_attrs={"fail_reason": "RuntimeError: boom"},
    )
    failed.number, done.number = 1, 0
    return [done, failed]


def test_json_has_spec_params_curves_and_no_nan() -> None:
    document = json.loads(export_json("s", StudySpec(name="s"), _trials()))
    assert document["spec"]["name"] == "s"
    first, second = document["trials"]
    assert first["params"] == {"optimizer": "sgd", "learning_rate": 0.1}
    assert first["curve"][1]["loss"] is None  # NaN becomes null: strict JSON
    assert first["test_accuracy"] == 0.5 and first["reference"] == "sgd-momentum"
    assert second["state"] == "fail" and second["fail_reason"] == "RuntimeError: boom"


def test_csv_has_a_row_per_trial_and_epoch() -> None:
    rows = list(csv.DictReader(io.StringIO(export_csv(_trials()))))
    assert [(r["trial"], r["epoch"]) for r in rows] == [("0", "1"), ("0", "2"), ("1", "")]
    assert rows[0]["param_learning_rate"] == "0.1" and rows[0]["val_accuracy"] == "0.4"
    assert rows[2]["state"] == "fail"

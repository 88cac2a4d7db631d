"""End to end: the installed `optsearch` executable on tiny real studies (digits, Keras)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

pytestmark = pytest.mark.slow

EXE = shutil.which("optsearch") or str(Path(sys.executable).with_name("optsearch"))
# What TensorFlow prints at start-up when nobody silences it.
TF_NOISE = ("oneDNN", "cuda", "CUDA", "absl", "TensorFlow binary", "tensorflow/core", "WARNING: All log")


def optsearch(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPTSEARCH_STORAGE", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run(
        [EXE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> tuple[Path, str]:
    """A real study: 8 trials of 2 epochs on digits, in the default SQLite file."""
    folder = tmp_path_factory.mktemp("e2e")
    result = optsearch("start", "--study", "tiny", "--n-trials", "8", "--epochs", "2", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder, result.stdout + result.stderr


def _load(folder: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{folder / 'optsearch.db'}")


def test_start_stores_everything_in_a_plain_optuna_study(tiny_study) -> None:
    folder, _ = tiny_study
    study = _load(folder, "tiny")
    trials = study.get_trials()
    assert len(trials) == 8
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert {t.params["optimizer"] for t in trials} == {"sgd", "adam"}
    assert sum(t.params["optimizer"] == "sgd" for t in trials) == 4
    references = [t.user_attrs.get("reference") for t in trials if t.user_attrs.get("reference")]
    assert sorted(references) == ["adam-default", "sgd-hold-then-decay", "sgd-momentum"]
    for trial in trials:
        curve = trial.user_attrs["curve"]
        assert 1 <= len(curve) <= 2
        assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"} <= set(curve[0])
        assert 0.0 <= trial.user_attrs["test_accuracy"] <= 1.0
        assert isinstance(trial.user_attrs["seed"], int)
        assert trial.value == pytest.approx(max(r["val_accuracy"] for r in curve))
    assert study.metric_names == ["validation accuracy"]
    assert "optsearch_spec" in study.user_attrs


def test_start_prints_a_summary_and_no_tensorflow_noise(tiny_study) -> None:
    _, output = tiny_study
    assert "best trial per optimizer" in output
    assert "Target reached. 8 of 8 trials finished" in output
    for noise in TF_NOISE:
        assert noise not in output, noise


def test_trials_studies_and_export_read_the_study(tiny_study) -> None:
    folder, _ = tiny_study
    listing = optsearch("studies", cwd=folder)
    assert listing.returncode == 0 and "tiny" in listing.stdout
    table = optsearch("trials", "--study", "tiny", cwd=folder)
    assert table.returncode == 0
    assert "sgd-momentum" in table.stdout and "adam-default" in table.stdout
    exported = optsearch("export", "--study", "tiny", "--format", "json", cwd=folder)
    document = json.loads(exported.stdout)
    assert len(document["trials"]) == 8 and document["spec"]["epochs"] == 2
    out = folder / "trials.csv"
    assert optsearch("export", "--study", "tiny", "--format", "csv", "-o", str(out), cwd=folder).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["trial"] for r in rows} == {str(n) for n in range(8)}


def test_resume_runs_only_the_missing_trials(tmp_path) -> None:
    first = optsearch("start", "--study", "r", "--n-trials", "3", "--epochs", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = optsearch("start", "--study", "r", "--n-trials", "5", "--epochs", "1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Resuming study r" in again.stderr and "3 of 5 trials finished" in again.stderr
    assert len(_load(tmp_path, "r").get_trials()) == 5
    changed = optsearch("start", "--study", "r", "--epochs", "3", cwd=tmp_path)
    assert changed.returncode == 2
    assert "epochs: study has 1, new spec has 3" in changed.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_marks_the_running_trial_failed_and_the_next_start_finishes(tmp_path, sig) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPTSEARCH_STORAGE"}
    args = ["start", "--study", "i", "--n-trials", "4", "--epochs", "40", "--pruner", "none"]
    process = subprocess.Popen([EXE, *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = tmp_path / "optsearch.db"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:  # wait until a trial is mid-training
            time.sleep(0.5)
            if db.exists():
                try:
                    running = _load(tmp_path, "i").get_trials(states=(TrialState.RUNNING,))
                except Exception:  # the study may not exist yet
                    continue
                if running and len(running[0].user_attrs.get("curve", [])) >= 2:
                    break
        else:
            pytest.fail("no trial started training in time")
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert f"Interrupted by {sig.name}" in stderr
    assert "Traceback" not in stderr
    trials = _load(tmp_path, "i").get_trials()
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1
    queued = [t for t in trials if t.state == TrialState.WAITING and t.system_attrs.get("failed_trial") == failed[0].number]
    assert len(queued) == 1 and queued[0].params == failed[0].params

    done = optsearch("start", "--study", "i", "--epochs", "40", "--pruner", "none", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trials = _load(tmp_path, "i").get_trials()
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 4
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]

"""End to end: several worker processes on one study, on every storage backend."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from optsearch.storage import WorkerRegistry, open_storage
from tests.integration.test_start import EXE

pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPTSEARCH_STORAGE"}
    return {**env, **extra}


def _trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=open_storage(url, heartbeat=False)).get_trials()


def test_four_cpu_workers_finish_exactly_the_target_with_balanced_arms(storage_url, study_name, tmp_path) -> None:
    result = subprocess.run(
        [EXE, "start", "--study", study_name, "--storage", storage_url, "--workers", "4",
         "--n-trials", "12", "--epochs", "2", "--pruner", "median"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "database is locked" not in result.stderr
    trials = _trials(storage_url, study_name)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 12
    assert len(trials) == 12  # none lost, none extra, none failed
    arms = [t.params["optimizer"] for t in finished]
    assert arms.count("sgd") == arms.count("adam") == 6
    for trial in finished:  # every trial reported every epoch it ran
        assert len(trial.intermediate_values) == len(trial.user_attrs["curve"]) >= 1
    workers = WorkerRegistry(open_storage(storage_url).engine, 60).workers(study_name)
    assert len(workers) == 4
    assert all(w.state == "finished" for w in workers)
    assert sum(w.trials_finished for w in workers) == 12


def test_a_killed_worker_s_trial_is_failed_retried_once_and_the_study_finishes(tmp_path, study_name) -> None:
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    env = _env(OPTSEARCH_HEARTBEAT_SECONDS="1", OPTSEARCH_GRACE_SECONDS="5")
    launcher = subprocess.Popen(
        [EXE, "start", "--study", study_name, "--storage", url, "--workers", "2",
         "--n-trials", "6", "--epochs", "30", "--pruner", "none"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        victim = None
        deadline = time.monotonic() + 300
        while victim is None and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                running = [t for t in _trials(url, study_name) if t.state == TrialState.RUNNING]
                workers = WorkerRegistry(open_storage(url).engine, 60).workers(study_name)
            except Exception:  # the study or the table may not exist yet
                continue
            for trial in running:
                if len(trial.user_attrs.get("curve", [])) >= 2:
                    owner = [w for w in workers if w.current_trial == trial.number]
                    if owner:
                        victim = (trial.number, owner[0])
                        break
        assert victim is not None, "no trial got going in time"
        number, worker = victim
        os.kill(worker.pid, signal.SIGKILL)  # no chance to clean up: like a power cut
        _, stderr = launcher.communicate(timeout=600)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, stderr
    assert f"exited with status {-signal.SIGKILL}" in stderr
    trials = _trials(url, study_name)
    killed = trials[number]
    assert killed.state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == number]
    assert len(retries) == 1 and retries[0].params == killed.params
    assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 6
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    shown = {w.pid: w.shown_state for w in WorkerRegistry(open_storage(url).engine, 5).workers(study_name)}
    assert shown[worker.pid] == "dead"
    listing = subprocess.run([EXE, "workers", "--study", study_name, "--storage", url],
                             env=env, capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and "dead" in listing.stdout and "1 dead" in listing.stdout


def test_ctrl_c_stops_every_worker_and_leaves_nothing_running(tmp_path, study_name) -> None:
    url = f"sqlite:///{tmp_path / 'int.db'}"
    launcher = subprocess.Popen(
        [EXE, "start", "--study", study_name, "--storage", url, "--workers", "2",
         "--n-trials", "20", "--epochs", "30", "--pruner", "none"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                running = [t for t in _trials(url, study_name) if t.state == TrialState.RUNNING]
            except Exception:
                continue
            if len(running) == 2 and all(t.user_attrs.get("curve") for t in running):
                break
        launcher.send_signal(signal.SIGINT)
        _, stderr = launcher.communicate(timeout=180)
    finally:
        launcher.kill()
    assert launcher.returncode == 130, stderr
    assert "Interrupted by SIGINT" in stderr
    trials = _trials(url, study_name)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert len([t for t in trials if t.state == TrialState.FAIL]) == 2
    workers = WorkerRegistry(open_storage(url).engine, 60).workers(study_name)
    assert {w.state for w in workers} == {"interrupted"}


def test_worker_joins_an_existing_study_with_no_spec(tmp_path, study_name) -> None:
    url = f"sqlite:///{tmp_path / 'join.db'}"
    first = subprocess.run([EXE, "start", "--study", study_name, "--storage", url, "--n-trials", "2", "--epochs", "1"],
                           env=_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    more = subprocess.run([EXE, "start", "--study", study_name, "--storage", url, "--n-trials", "4", "--timeout", "0.001"],
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert more.returncode == 0, more.stderr  # raises the target to 4 without running trials
    joined = subprocess.run([EXE, "worker", "--study", study_name], cwd=tmp_path,
                            env=_env(OPTSEARCH_STORAGE=url), capture_output=True, text=True, timeout=300)
    assert joined.returncode == 0, joined.stderr
    assert "Worker done (target)" in joined.stderr
    assert len(_trials(url, study_name)) == 4
    missing = subprocess.run([EXE, "worker", "--study", "nope", "--storage", url],
                             env=_env(), capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "No study named 'nope'" in missing.stderr

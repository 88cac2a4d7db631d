"""End to end: report and verify through the installed executable on a tiny real study."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_start import optsearch

pytestmark = pytest.mark.slow


def test_report_and_verify_on_a_tiny_study(tmp_path) -> None:
    started = optsearch("start", "--study", "v", "--n-trials", "9", "--epochs", "1", "--pruner", "none", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    text = optsearch("report", "--study", "v", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "expected best validation accuracy after k random-search trials" in text.stdout
    assert "Crossover k*" in text.stdout and "Adam" in text.stdout

    checked = optsearch("verify", "--study", "v", "--seeds", "2", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "sgd − adam:" in checked.stdout

    data = json.loads(optsearch("report", "--study", "v", "--json", cwd=tmp_path).stdout)
    verify = data["verify"]
    assert len(verify["test_accuracies"]["sgd"]) == len(verify["test_accuracies"]["adam"]) == 2
    # Fresh seeds: the retraining runs use seeds no trial of the study used.
    studies = optsearch("studies", cwd=tmp_path).stdout
    assert "v:verify:" in studies
    exported = json.loads(optsearch("export", "--study", "v", "--format", "json", cwd=tmp_path).stdout)
    names = [line.split()[1] for line in studies.splitlines() if "v:verify:" in line]
    verify_export = json.loads(optsearch("export", "--study", names[0], "--format", "json", cwd=tmp_path).stdout)
    study_seeds = {t["seed"] for t in exported["trials"]}
    assert not study_seeds & {t["seed"] for t in verify_export["trials"]}


def test_five_arm_zoo_runs_end_to_end(tmp_path) -> None:
    started = optsearch("start", "--study", "zoo", "--preset", "optimizer-zoo", "--n-trials", "20",
                        "--epochs", "2", "--pruner", "none", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    exported = json.loads(optsearch("export", "--study", "zoo", "--format", "json", cwd=tmp_path).stdout)
    arms = [t["optimizer"] for t in exported["trials"]]
    assert {arms.count(a) for a in ("sgd", "sgd-nesterov", "adam", "adamw", "adam-to-sgd")} == {4}
    switched = [t for t in exported["trials"] if t["optimizer"] == "adam-to-sgd"]
    assert switched
    for trial in switched:  # the fraction rule switches at epoch 2 of a 2-epoch run
        assert trial["switch_epoch"] == 2
        assert trial["curve"][1]["learning_rate"] == pytest.approx(trial["switch_learning_rate"], rel=1e-4)
    data = json.loads(optsearch("report", "--study", "zoo", "--json", cwd=tmp_path).stdout)
    assert set(data["arms"]) == {"sgd", "sgd-nesterov", "adam", "adamw", "adam-to-sgd"}
    assert len(data["pairwise"]) == 20
    assert len(data["best_probability"]) == 5
    text = optsearch("report", "--study", "zoo", cwd=tmp_path)
    assert text.returncode == 0 and "Probability of being the best arm" in text.stdout

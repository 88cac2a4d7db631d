"""The run loop with a fast fake trainer: targets, resume, balance, references, faults."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from optsearch._run import TooManyFailures, count_trials, run_study
from optsearch._spec import StudySpec
from optsearch._study import open_study, read_spec, resolve_spec
from optsearch.errors import SpecMismatchError
from optsearch.storage import open_storage
from tests.fakes import fake_train


def _spec(name: str, **fields) -> StudySpec:
    return StudySpec.model_validate({"name": name, "epochs": 4, "n_trials": 12, "pruner": "none", **fields})


def _run(storage_url: str, spec: StudySpec, explicit: dict | None = None, **train_kwargs):
    storage = open_storage(storage_url)
    spec, _ = resolve_spec(storage, spec, explicit=explicit)
    study, _ = open_study(storage, spec)
    outcome = run_study(study, spec, dataset=None, train=fake_train(**train_kwargs))
    return study, outcome


def test_reaches_the_target_with_balanced_arms_and_references_first(storage_url, study_name) -> None:
    study, outcome = _run(storage_url, _spec(study_name))
    trials = study.get_trials()
    assert outcome.reason == "target"
    assert len(trials) == 12
    assert all(t.state == TrialState.COMPLETE for t in trials)
    refs = [t.user_attrs.get("reference") for t in trials[:3]]
    assert refs == ["adam-default", "sgd-momentum", "sgd-hold-then-decay"]
    assert not any(t.user_attrs.get("reference") for t in trials[3:])
    arms = [t.params["optimizer"] for t in trials]
    assert arms.count("sgd") == arms.count("adam") == 6
    # Balanced at every prefix too: off by at most one, references included.
    for n in range(1, len(arms) + 1):
        assert abs(arms[:n].count("sgd") - arms[:n].count("adam")) <= 2
    stored = trials[5].user_attrs
    assert len(stored["curve"]) == 4 and stored["test_accuracy"] is not None
    assert stored["sampler"] == "random" and stored["seed"] is not None


def test_resume_finishes_the_remaining_trials_and_never_overshoots(tmp_path, study_name) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    study, _ = _run(url, _spec(study_name, n_trials=5))
    assert count_trials(study).finished == 5
    # Same command again with a higher target: only the missing trials run.
    study, outcome = _run(url, _spec(study_name), explicit={"n_trials": 12})
    assert count_trials(study).finished == 12
    assert outcome.trials_run == 7
    # And once more: nothing left to do.
    study, outcome = _run(url, _spec(study_name))
    assert outcome.trials_run == 0 and len(study.get_trials()) == 12


def test_resumed_random_search_does_not_replay_earlier_draws(tmp_path, study_name) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    _run(url, _spec(study_name, n_trials=6))
    study, _ = _run(url, _spec(study_name), explicit={"n_trials": 12})
    rates = [t.params["learning_rate"] for t in study.get_trials() if not t.user_attrs.get("reference")]
    assert len(set(rates)) == len(rates)


def test_conditional_parameters_appear_only_with_their_schedule(tmp_path, study_name) -> None:
    study, _ = _run(f"sqlite:///{tmp_path / 'c.db'}", _spec(study_name, n_trials=40))
    own = {
        "constant": set(),
        "step": {"step_drop", "step_every_fraction"},
        "exponential": {"exponential_rate", "exponential_hold_fraction"},
        "cosine": {"cosine_final_fraction"},
    }
    every_schedule_param = set().union(*own.values())
    seen = set()
    for trial in study.get_trials():
        schedule = trial.params["schedule"]
        seen.add(schedule)
        assert every_schedule_param & set(trial.params) == own[schedule]
        arm_params = {"momentum", "nesterov"} if trial.params["optimizer"] == "sgd" else {"beta_1", "epsilon"}
        other = {"beta_1", "epsilon", "momentum", "nesterov"} - arm_params
        assert not other & set(trial.params)
        if not trial.user_attrs.get("reference"):
            assert arm_params <= set(trial.params)
        assert "weight_decay" not in trial.params
    assert seen == set(own)


def test_each_arm_samples_its_own_learning_rate_range(tmp_path, study_name) -> None:
    study, _ = _run(f"sqlite:///{tmp_path / 'l.db'}", _spec(study_name, n_trials=30))
    for trial in study.get_trials():
        lr = trial.params["learning_rate"]
        if trial.params["optimizer"] == "adam":
            assert 1e-5 <= lr <= 1e-1
        else:
            assert 1e-3 <= lr <= 1.0


def test_weight_decay_is_searched_only_when_the_spec_asks(tmp_path, study_name) -> None:
    spec = StudySpec.model_validate(
        {"name": study_name, "epochs": 2, "n_trials": 6, "pruner": "none",
         "space": {"weight_decay": {"low": 1e-6, "high": 1e-2, "log": True}}}
    )
    study, _ = _run(f"sqlite:///{tmp_path / 'w.db'}", spec)
    for trial in study.get_trials():
        assert ("weight_decay" in trial.params) == (not trial.user_attrs.get("reference"))


def test_a_diverging_run_is_a_finished_result(tmp_path, study_name) -> None:
    study, _ = _run(
        f"sqlite:///{tmp_path / 'd.db'}", _spec(study_name),
        diverge=lambda p: p.optimizer == "sgd" and p.learning_rate > 0.05,
    )
    diverged = [t for t in study.get_trials() if t.user_attrs.get("diverged")]
    assert diverged
    for trial in diverged:
        assert trial.state == TrialState.COMPLETE
        assert trial.value is not None
        assert "diverged" in trial.user_attrs["end_reason"]
    assert count_trials(study).finished == 12


def test_faults_are_failed_retried_and_never_counted(tmp_path, study_name) -> None:
    seen: dict[float, int] = {}

    def flaky(params) -> bool:  # the first attempt of each Adam configuration fails
        key = params.learning_rate
        seen[key] = seen.get(key, 0) + 1
        return params.optimizer == "adam" and seen[key] == 1

    study, _ = _run(f"sqlite:///{tmp_path / 'f.db'}", _spec(study_name), fail=flaky)
    trials = study.get_trials()
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all("simulated fault" in t.user_attrs["fail_reason"] for t in failed)
    assert count_trials(study).finished == 12
    for trial in failed:  # retried once with the same parameters, and that retry finished
        retries = [t for t in trials if t.system_attrs.get("failed_trial") == trial.number]
        assert len(retries) == 1
        assert retries[0].params == trial.params
        assert retries[0].state == TrialState.COMPLETE


def test_a_worker_whose_trials_keep_failing_stops(tmp_path, study_name) -> None:
    with pytest.raises(TooManyFailures, match="5 trials failed in a row.*simulated fault"):
        _run(f"sqlite:///{tmp_path / 'x.db'}", _spec(study_name), fail=lambda p: True)


def test_resuming_with_another_search_space_is_refused(tmp_path, study_name) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    _run(url, _spec(study_name, n_trials=3))
    storage = open_storage(url)
    with pytest.raises(SpecMismatchError, match="epochs: study has 4, new spec has 9"):
        resolve_spec(storage, _spec(study_name), explicit={"epochs": 9})
    # A new target is fine, and is saved into the study.
    spec, exists = resolve_spec(storage, _spec(study_name), explicit={"n_trials": 20})
    assert exists and spec.n_trials == 20 and spec.epochs == 4
    study, _ = open_study(storage, spec)
    assert read_spec(study).n_trials == 20


def test_pruned_trials_keep_their_curve_and_best_value(tmp_path, study_name) -> None:
    # Adam trials with a low learning rate are poor; the median pruner cuts them.
    spec = StudySpec(name=study_name, epochs=6, n_trials=30, pruner="median", pruner_warmup_epochs=1)
    study, _ = _run(
        f"sqlite:///{tmp_path / 'p.db'}", spec,
        quality=lambda p: 0.3 if p.learning_rate < 1e-3 else 0.9,
    )
    pruned = [t for t in study.get_trials() if t.state == TrialState.PRUNED]
    assert pruned
    for trial in pruned:
        curve = trial.user_attrs["curve"]
        assert 1 <= len(curve) < 6
        assert trial.value == pytest.approx(max(r["val_accuracy"] for r in curve))


def test_timeout_stops_starting_new_trials(tmp_path, study_name) -> None:
    import time

    study, outcome = _run(
        f"sqlite:///{tmp_path / 't.db'}", _spec(study_name, timeout=0.3),
        on_epoch=lambda params, epoch: time.sleep(0.05),
    )
    assert outcome.reason == "timeout"
    assert 1 <= count_trials(study).finished < 12
    # The timeout bounds this run only: it is not saved into the study.
    assert read_spec(study).timeout is None


def test_every_arm_of_the_zoo_suggests_its_own_parameters(tmp_path, study_name) -> None:
    from optsearch._presets import get_preset

    spec = get_preset("optimizer-zoo", study_name)
    spec = spec.model_copy(update={"epochs": 2, "n_trials": 23, "pruner": "none"})
    study, _ = _run(f"sqlite:///{tmp_path / 'zoo.db'}", spec)
    own = {
        "sgd": {"learning_rate", "momentum", "nesterov"},
        "sgd-nesterov": {"learning_rate", "momentum"},
        "adam": {"learning_rate", "beta_1", "epsilon"},
        "adamw": {"learning_rate", "beta_1", "epsilon", "weight_decay"},
        "adam-to-sgd": {"learning_rate", "sgd_momentum", "switch_fraction", "sgd_learning_rate"},
    }
    schedule_params = {"step_drop", "step_every_fraction", "exponential_rate",
                       "exponential_hold_fraction", "cosine_final_fraction"}
    arms = [t.params["optimizer"] for t in study.get_trials()]
    assert {arms.count(arm) for arm in own} <= {4, 5}  # balanced over five arms, references included
    for trial in study.get_trials():
        if trial.user_attrs.get("reference"):
            continue
        names = set(trial.params) - {"optimizer", "schedule"} - schedule_params
        assert names == own[trial.params["optimizer"]], trial.params

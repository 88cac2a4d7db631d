"""Arms: each arm's pruner and sampler see only that arm's trials."""

from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from optsearch._arms import ArmView, BalancedArmSampler, PerArmPruner, arm_counts, arm_of, hyperband_for
from optsearch._spec import StudySpec
from optsearch._strategies import make_pruner

ARM = CategoricalDistribution(["sgd", "adam"])


def _finished(arm: str, curve: list[float]) -> optuna.trial.FrozenTrial:
    return create_trial(
        state=TrialState.COMPLETE,
        value=max(curve),
        params={"optimizer": arm},
        distributions={"optimizer": ARM},
        intermediate_values=dict(enumerate(curve, start=1)),
    )


def _study_with_fast_adam_and_slow_sgd() -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for _ in range(6):
        study.add_trial(_finished("adam", [0.80, 0.90, 0.95, 0.96]))
        study.add_trial(_finished("sgd", [0.20, 0.40, 0.70, 0.97]))
    return study


def _pruned(study: optuna.Study, pruner, arm: str, values: list[float]) -> bool:
    study.pruner = pruner
    study.enqueue_trial({"optimizer": arm})
    trial = study.ask()
    assert trial.suggest_categorical("optimizer", ["sgd", "adam"]) == arm
    for step, value in enumerate(values, start=1):
        trial.report(value, step)
    return trial.should_prune()


def test_view_lists_one_arm() -> None:
    study = _study_with_fast_adam_and_slow_sgd()
    view = ArmView(study, "sgd")
    assert len(view.get_trials()) == 6
    assert {arm_of(t) for t in view._get_trials(deepcopy=False, use_cache=True)} == {"sgd"}
    assert view.study_name == study.study_name  # everything else passes through


def test_sgd_is_judged_against_sgd_not_adam() -> None:
    spec = StudySpec(name="x", pruner="median", pruner_warmup_epochs=0)
    study = _study_with_fast_adam_and_slow_sgd()
    # A typical SGD start, far below Adam at epoch 2 but at the SGD median.
    assert not _pruned(study, make_pruner(spec), "sgd", [0.20, 0.40])
    # A plain Optuna median pruner over all trials would have pruned it.
    assert _pruned(study, optuna.pruners.MedianPruner(n_startup_trials=5), "sgd", [0.20, 0.40])
    # An Adam trial that slow is pruned by its own arm.
    assert _pruned(study, make_pruner(spec), "adam", [0.20, 0.40])


def test_each_pruner_of_the_registry_is_per_arm() -> None:
    for name in ("median", "percentile", "successive-halving", "hyperband"):
        pruner = make_pruner(StudySpec(name="x", pruner=name, epochs=4, pruner_warmup_epochs=1))
        assert isinstance(pruner, PerArmPruner), name


def test_hyperband_brackets_hold_one_arm() -> None:
    study = _study_with_fast_adam_and_slow_sgd()
    pruner = hyperband_for("sgd", min_resource=1, max_resource=4, reduction_factor=3)
    pruner._try_initialization(ArmView(study, "sgd"))
    bracket = pruner._create_bracket_study(ArmView(study, "sgd"), 0)
    assert {arm_of(t) for t in bracket.get_trials()} <= {"sgd"}


def test_balanced_sampler_assigns_the_emptier_arm_and_respects_queued_arms() -> None:
    study = optuna.create_study(
        direction="maximize",
        sampler=BalancedArmSampler(["sgd", "adam"], lambda arm, n: optuna.samplers.RandomSampler(seed=n)),
    )
    study.enqueue_trial({"optimizer": "sgd"})
    study.enqueue_trial({"optimizer": "sgd"})
    arms = []
    for _ in range(8):
        trial = study.ask()
        arms.append(trial.suggest_categorical("optimizer", ["sgd", "adam"]))
        trial.suggest_float("learning_rate", 1e-3, 1.0, log=True)
        study.tell(trial, 0.5)
    # The two queued SGD trials keep their arm; Adam then catches up before alternating.
    assert arms == ["sgd", "sgd", "adam", "adam", "sgd", "adam", "sgd", "adam"]
    assert arm_counts(study.get_trials(), ["sgd", "adam"]) == {"sgd": 4, "adam": 4}


def test_failed_trials_hold_no_place() -> None:
    trials = [
        create_trial(state=TrialState.FAIL, params={"optimizer": "sgd"}, distributions={"optimizer": ARM}),
        _finished("adam", [0.5]),
    ]
    assert arm_counts(trials, ["sgd", "adam"]) == {"sgd": 0, "adam": 1}


def test_arm_samplers_never_see_the_other_arm() -> None:
    seen: dict[str, set[str]] = {"sgd": set(), "adam": set()}

    class Spy(optuna.samplers.RandomSampler):
        def __init__(self, arm: str) -> None:
            super().__init__(seed=0)
            self.arm = arm

        def sample_independent(self, study, trial, name, dist):  # noqa: ANN001
            seen[self.arm] |= {arm_of(t) for t in study.get_trials(deepcopy=False)}
            return super().sample_independent(study, trial, name, dist)

    study = optuna.create_study(sampler=BalancedArmSampler(["sgd", "adam"], lambda arm, n: Spy(arm)))
    for _ in range(6):
        trial = study.ask()
        trial.suggest_categorical("optimizer", ["sgd", "adam"])
        trial.suggest_float("learning_rate", 1e-3, 1.0, log=True, )
        study.tell(trial, 0.5)
    assert seen == {"sgd": {"sgd"}, "adam": {"adam"}}

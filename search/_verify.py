"""``optsearch verify``: retrain each arm's best configuration with fresh seeds.

A tuning gain can be seed noise. The retraining runs live in a study of their own
beside the tuned one, named ``NAME:verify:<trial numbers of the best configurations>``,
so that a later verify of other best configurations starts afresh while a rerun with
more seeds adds to the same runs. They run through the same workers as ``start``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optuna.trial import TrialState

from optsearch._arms import arm_of
from optsearch._spec import StudySpec, spec_from_mapping
from optsearch._study import study_names
from optsearch.errors import UsageError

if TYPE_CHECKING:
    import optuna

__all__ = ["VERIFY_SEED_OFFSET", "best_trials", "prepare_verify_study", "verify_study_name"]

# Far above any trial number, so that no retraining seed equals a seed of the study.
VERIFY_SEED_OFFSET = 10_000_000

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def best_trials(study: optuna.Study, arms: tuple[str, ...]) -> dict[str, optuna.trial.FrozenTrial]:
    """Each arm's trial with the best validation accuracy (references included).

    Raises:
        UsageError: An arm has no finished trial yet.
    """
    best: dict[str, optuna.trial.FrozenTrial] = {}
    for trial in study.get_trials(deepcopy=False, states=_FINISHED):
        arm = arm_of(trial)
        if arm in arms and trial.value is not None and (arm not in best or trial.value > best[arm].value):
            best[arm] = trial
    missing = [arm for arm in arms if arm not in best]
    if missing:
        raise UsageError(
            f"Study {study.study_name!r} has no finished trial of {', '.join(missing)} yet: "
            "nothing to verify. Run `optsearch start` first."
        )
    return best


def verify_study_name(study_name: str, best: dict[str, Any]) -> str:
    return f"{study_name}:verify:" + "-".join(str(best[arm].number) for arm in sorted(best))


def prepare_verify_study(
    storage: Any, study: optuna.Study, spec: StudySpec, seeds: int
) -> tuple[optuna.Study, StudySpec]:
    """Create (or extend) the verify study: ``seeds`` runs of each arm's best configuration."""
    from optsearch._study import open_study

    best = best_trials(study, spec.arms)
    name = verify_study_name(study.study_name, best)
    vspec = spec_from_mapping(
        {**spec.to_json_dict(), "name": name, "n_trials": seeds * len(spec.arms), "references": False,
         "pruner": "none", "sampler": "random", "seed_offset": VERIFY_SEED_OFFSET,
         "description": f"fresh-seed runs of the best configurations of {study.study_name}"},
        source="the verify spec",
    )
    vstudy, _ = open_study(storage, vspec)
    vstudy.set_user_attr("verify_of", {arm: t.number for arm, t in best.items()})
    vstudy.set_user_attr("verify_parent", study.study_name)
    queued = {arm: 0 for arm in spec.arms}
    for trial in vstudy.get_trials(deepcopy=False):
        if trial.state in (*_FINISHED, TrialState.RUNNING, TrialState.WAITING) and arm_of(trial) in queued:
            queued[arm_of(trial)] += 1  # type: ignore[index]
    for i in range(seeds):
        for arm in spec.arms:
            if queued[arm] > i:
                continue
            source = best[arm]
            user_attrs = {"verify_of": source.number}
            if source.user_attrs.get("reference"):
                user_attrs["reference"] = source.user_attrs["reference"]
            vstudy.enqueue_trial(dict(source.params), user_attrs=user_attrs, skip_if_exists=False)
    return vstudy, vspec


def find_verify_study(storage: Any, study: optuna.Study, arms: tuple[str, ...]) -> optuna.Study | None:
    """The verify study of the current best configurations, if ``verify`` ran for them."""
    import optuna

    try:
        name = verify_study_name(study.study_name, best_trials(study, arms))
    except UsageError:
        return None
    if name not in study_names(storage):
        return None
    return optuna.load_study(study_name=name, storage=storage)

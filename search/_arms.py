"""Arms: balanced assignment, and samplers and pruners that see one arm only.

Adam usually rises faster in the first epochs and SGD catches up later. A pruner
that compared an SGD trial with Adam trials would prune SGD for being SGD, and a
sampler fitted on both arms would mix their ranges: either would bias the very answer
the study measures. So each arm gets its own sampler and its own pruner, and both are
handed an :class:`ArmView` of the study that lists only that arm's trials.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import TYPE_CHECKING, Any

from optuna.distributions import BaseDistribution
from optuna.pruners import BasePruner, HyperbandPruner
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from optuna.study import Study

__all__ = ["ArmView", "BalancedArmSampler", "PerArmPruner", "arm_of", "arm_counts"]

ARM_PARAM = "optimizer"

# Trials that hold a place in an arm: finished ones, running ones and queued ones.
# Failed trials do not: they are retried through a queued copy, which counts instead.
_PLACE_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def arm_of(trial: FrozenTrial) -> str | None:
    """The arm of a trial, also for a queued trial whose parameters are not set yet."""
    if ARM_PARAM in trial.params:
        return str(trial.params[ARM_PARAM])
    fixed = trial.system_attrs.get("fixed_params") or {}
    if ARM_PARAM in fixed:
        return str(fixed[ARM_PARAM])
    arm = trial.user_attrs.get(ARM_PARAM)
    return None if arm is None else str(arm)


def arm_counts(
    trials: Sequence[FrozenTrial], arms: Sequence[str], exclude_number: int | None = None
) -> dict[str, int]:
    """How many trials hold a place in each arm (finished, running or queued)."""
    counts = dict.fromkeys(arms, 0)
    for trial in trials:
        if trial.number == exclude_number or trial.state not in _PLACE_STATES:
            continue
        arm = arm_of(trial)
        if arm in counts:
            counts[arm] += 1
    return counts


class ArmView:
    """A study as one arm sees it: every attribute of ``study``, but only that arm's trials.

    Optuna's samplers and pruners read trials through ``get_trials`` and
    ``_get_trials``; everything else is passed through unchanged.
    """

    def __init__(self, study: Study | ArmView, arm: str) -> None:
        self._study = study
        self._arm = arm

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        try:
            trials = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        except TypeError:  # a Study subclass (Hyperband's bracket) without use_cache
            trials = self._study.get_trials(deepcopy=deepcopy, states=states)
        return [t for t in trials if arm_of(t) == self._arm]

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return [
            t
            for t in self._study.get_trials(deepcopy=deepcopy, states=states)
            if arm_of(t) == self._arm
        ]

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()


class BalancedArmSampler(BaseSampler):
    """Assigns arms in turn, then lets the arm's own sampler choose the rest.

    A new trial goes to the arm with the fewest trials holding a place (finished,
    running or queued; ties go to the arm listed first), so the arms stay balanced,
    references included, also when several workers share the study. A queued trial
    with a fixed arm (a reference or a retry) keeps it.

    Args:
        arms: The arm names, in order.
        make_sampler: ``make_sampler(arm, trial_number)`` returns the sampler that
            chooses the parameters of one trial of ``arm``.
    """

    def __init__(self, arms: Sequence[str], make_sampler: Callable[[str, int], BaseSampler]) -> None:
        self._arms = tuple(arms)
        self._make_sampler = make_sampler
        self._active: dict[int, tuple[str, BaseSampler]] = {}

    def _for(self, trial: FrozenTrial) -> tuple[str, BaseSampler]:
        if trial.number not in self._active:  # a trial created elsewhere (tell-only paths)
            arm = arm_of(trial) or self._arms[0]
            self._active[trial.number] = (arm, self._make_sampler(arm, trial.number))
        return self._active[trial.number]

    def next_arm(self, study: Study, trial: FrozenTrial) -> str:
        trials = study._get_trials(deepcopy=False, states=_PLACE_STATES, use_cache=False)
        counts = arm_counts(trials, self._arms, exclude_number=trial.number)
        return min(self._arms, key=lambda arm: counts[arm])

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        arm = arm_of(trial) or self.next_arm(study, trial)
        sampler = self._make_sampler(arm, trial.number)
        self._active[trial.number] = (arm, sampler)
        # Other workers count this trial in its arm before its parameters are written.
        study._storage.set_trial_user_attr(trial._trial_id, ARM_PARAM, arm)
        sampler.before_trial(ArmView(study, arm), trial)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        arm, sampler = self._for(trial)
        space = sampler.infer_relative_search_space(ArmView(study, arm), trial)
        return {name: dist for name, dist in space.items() if name != ARM_PARAM}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        arm, sampler = self._for(trial)
        return sampler.sample_relative(ArmView(study, arm), trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        arm, sampler = self._for(trial)
        if param_name == ARM_PARAM:
            return arm
        return sampler.sample_independent(ArmView(study, arm), trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        arm, sampler = self._active.pop(trial.number, (None, None))
        if sampler is not None and arm is not None:
            sampler.after_trial(ArmView(study, arm), trial, state, values)

    def reseed_rng(self) -> None:
        # Samplers are made per trial from the study seed and the trial number.
        pass


class _ArmHyperband(HyperbandPruner):
    """Hyperband whose brackets hold one arm's trials only."""

    def __init__(self, arm: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._arm = arm

    def _create_bracket_study(self, study: Any, bracket_id: int) -> Any:
        return ArmView(super()._create_bracket_study(study, bracket_id), self._arm)


class PerArmPruner(BasePruner):
    """Prunes a trial by comparing it only with trials of its own arm.

    Args:
        arms: The arm names.
        make_pruner: ``make_pruner(arm)`` returns one arm's pruner; each arm gets its
            own instance because some pruners (Hyperband) keep state.
    """

    def __init__(self, arms: Sequence[str], make_pruner: Callable[[str], BasePruner]) -> None:
        self._pruners = {arm: make_pruner(arm) for arm in arms}

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        arm = arm_of(trial)
        if arm not in self._pruners:
            return False
        return self._pruners[arm].prune(ArmView(study, arm), trial)  # type: ignore[arg-type]


def hyperband_for(arm: str, **kwargs: Any) -> HyperbandPruner:
    """A Hyperband pruner restricted to one arm."""
    return _ArmHyperband(arm, **kwargs)


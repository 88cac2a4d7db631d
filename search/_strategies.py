"""Registries of samplers and pruners, wrapped so that each arm is searched on its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from optuna.pruners import (
    BasePruner,
    MedianPruner,
    NopPruner,
    PercentilePruner,
    SuccessiveHalvingPruner,
)
from optuna.samplers import BaseSampler, QMCSampler, RandomSampler, TPESampler

from optsearch._arms import BalancedArmSampler, PerArmPruner, hyperband_for
from optsearch._spec import StudySpec
from optsearch.errors import UnknownNameError

__all__ = ["PRUNERS", "SAMPLERS", "make_pruner", "make_sampler"]

# Pruners compare a trial with at least this many finished trials of its own arm
# before they prune anything: with fewer, a median is mostly noise.
PRUNER_STARTUP_TRIALS = 5


def _per_trial_seed(seed: int, arm_index: int, trial_number: int) -> int:
    # A seed per trial rather than one sampler seed per process: a resumed run or a
    # second worker with the same spec must not replay the draws of the first.
    return (seed * 7_919 + arm_index * 104_729 + trial_number * 1_299_709) % (2**32)


def _random(spec: StudySpec) -> Callable[[str, int], BaseSampler]:
    def make(arm: str, number: int) -> BaseSampler:
        return RandomSampler(seed=_per_trial_seed(spec.seed, spec.arms.index(arm), number))

    return make


def _tpe(spec: StudySpec) -> Callable[[str, int], BaseSampler]:
    def make(arm: str, number: int) -> BaseSampler:
        return TPESampler(
            seed=_per_trial_seed(spec.seed, spec.arms.index(arm), number),
            n_startup_trials=10,
        )

    return make


def _qmc(spec: StudySpec) -> Callable[[str, int], BaseSampler]:
    # One scrambled Sobol sequence per arm; Optuna keeps its position in the study, so
    # every process draws the next point of the same sequence.
    samplers = {
        arm: QMCSampler(qmc_type="sobol", scramble=True, seed=spec.seed + index, warn_independent_sampling=False)
        for index, arm in enumerate(spec.arms)
    }
    return lambda arm, number: samplers[arm]


SAMPLERS: Mapping[str, Callable[[StudySpec], Callable[[str, int], BaseSampler]]] = MappingProxyType(
    {"random": _random, "tpe": _tpe, "qmc": _qmc}
)


def make_sampler(spec: StudySpec, name: str | None = None) -> BalancedArmSampler:
    """The study's sampler: balanced arms, and ``name``'s sampler within each arm.

    Args:
        spec: The study spec (arms and seed).
        name: A sampler name. Defaults to ``spec.sampler``.
    """
    name = name or spec.sampler
    if name not in SAMPLERS:
        raise UnknownNameError("sampler", name, sorted(SAMPLERS))
    return BalancedArmSampler(spec.arms, SAMPLERS[name](spec))


def _pruner_for_arm(spec: StudySpec, name: str) -> Callable[[str], BasePruner]:
    warmup = spec.pruner_warmup_epochs
    min_resource = max(1, warmup)
    return {
        "median": lambda arm: MedianPruner(
            n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=warmup
        ),
        "percentile": lambda arm: PercentilePruner(
            25.0, n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=warmup
        ),
        "successive-halving": lambda arm: SuccessiveHalvingPruner(
            min_resource=min_resource, reduction_factor=3
        ),
        "hyperband": lambda arm: hyperband_for(
            arm, min_resource=min_resource, max_resource=spec.epochs, reduction_factor=3
        ),
    }[name]


PRUNERS: tuple[str, ...] = ("none", "median", "percentile", "successive-halving", "hyperband")


def make_pruner(spec: StudySpec, name: str | None = None) -> BasePruner:
    """The study's pruner, comparing each trial only with trials of its own arm.

    Args:
        spec: The study spec (arms, epochs, warm-up epochs).
        name: A pruner name. Defaults to ``spec.pruner``.
    """
    name = name or spec.pruner
    if name not in PRUNERS:
        raise UnknownNameError("pruner", name, list(PRUNERS))
    if name == "none":
        return NopPruner()
    return PerArmPruner(spec.arms, _pruner_for_arm(spec, name))

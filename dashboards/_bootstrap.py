"""Bootstrap bands around expected-best curves, and around the gap between two arms."""

from __future__ import annotations

import numbers
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from optsearch.dashboards._estimators import _as_values, _expected_max_weights

__all__ = ["Band", "BootstrapResult", "bootstrap_expected_max"]


@dataclass(frozen=True)
class Band:
    """A curve over budgets k = 1..K with a confidence band; one entry per budget."""

    estimate: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]

    def __post_init__(self) -> None:
        lengths = {len(self.estimate), len(self.lower), len(self.upper)}
        if len(lengths) != 1:
            raise ValueError(
                "Band fields must have one entry per budget each. Received lengths: "
                f"estimate={len(self.estimate)}, lower={len(self.lower)}, upper={len(self.upper)}."
            )


@dataclass(frozen=True)
class BootstrapResult:
    """Expected-best curves per arm, and the gap between two arms, each with its band."""

    curves: Mapping[str, Band]
    gap: Band | None = None


def _band(estimate: np.ndarray, replicates: np.ndarray, level: float) -> Band:
    """Percentile band of ``replicates`` (shape (n_resamples, K)) around ``estimate``."""
    tail = (1.0 - level) / 2.0
    lower, upper = np.quantile(replicates, [tail, 1.0 - tail], axis=0)
    return Band(
        estimate=tuple(float(x) for x in estimate),
        lower=tuple(float(x) for x in lower),
        upper=tuple(float(x) for x in upper),
    )


def _arm_rng(seed: int, arm: str) -> np.random.Generator:
    # One stream per arm, keyed by its name, so an arm's band does not change when
    # arms are added, removed or listed in another order. crc32 rather than hash(),
    # which Python randomizes per process.
    return np.random.default_rng([seed, zlib.crc32(arm.encode("utf-8"))])


def bootstrap_expected_max(
    values_by_arm: Mapping[str, Sequence[float]],
    k_max: int,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    first: str | None = None,
    second: str | None = None,
) -> BootstrapResult:
    """Expected best value after k trials per arm, with percentile bootstrap bands.

    Each arm's trials are resampled with replacement (same size) ``n_resamples`` times,
    and :func:`expected_max` is computed on every resample for k = 1..``k_max``. The
    point estimate is :func:`expected_max` of the original trials; the band runs from
    the ``(1 - level) / 2`` to the ``(1 + level) / 2`` quantile of the replicates.

    With ``first`` and ``second`` (e.g. ``"sgd"`` and ``"adam"``), the gap
    E_first(k) - E_second(k) is bootstrapped too: within each replicate both arms are
    resampled independently and the difference is taken, so the gap's band is not the
    difference of the two curves' bands.

    Each arm draws from its own random stream derived from ``seed`` and its name, so
    results are reproducible and do not depend on which other arms are passed.

    Args:
        values_by_arm: For each arm, one value per finished trial, higher is better.
        k_max: Largest budget, between 1 and the smallest arm's number of trials.
        n_resamples: Bootstrap replicates. Defaults to 1000.
        seed: Seed for :func:`numpy.random.default_rng`. Defaults to 0.
        level: Coverage of the band, strictly between 0 and 1. Defaults to 0.95.
        first: Arm whose curve the gap starts from. Defaults to None (no gap).
        second: Arm subtracted from ``first``. Defaults to None (no gap).

    Returns:
        A :class:`BootstrapResult` with one :class:`Band` per arm (in the mapping's
        order) and the gap's band, or ``gap=None`` when ``first``/``second`` are not given.

    Raises:
        ValueError: If there are no arms, an arm has no or non-finite values, ``k_max``,
            ``n_resamples`` or ``level`` is out of range, only one of ``first`` and
            ``second`` is given, or either names an unknown arm.

    Example:
        >>> result = bootstrap_expected_max(
        ...     {"sgd": [0.91, 0.93, 0.95, 0.90], "adam": [0.92, 0.92, 0.93, 0.91]},
        ...     k_max=3, n_resamples=200, first="sgd", second="adam",
        ... )
        >>> len(result.curves["sgd"].estimate), len(result.gap.lower)
        (3, 3)
    """
    if not values_by_arm:
        raise ValueError(
            f"Argument `values_by_arm` must hold at least one arm. Received: {values_by_arm!r}."
        )
    arrays = {arm: _as_values(values, f"values_by_arm[{arm!r}]") for arm, values in values_by_arm.items()}
    smallest = min(arrays, key=lambda arm: arrays[arm].size)
    n_min = arrays[smallest].size
    if isinstance(k_max, bool) or not isinstance(k_max, numbers.Integral) or not 1 <= k_max <= n_min:
        raise ValueError(
            f"Argument `k_max` must be an integer between 1 and {n_min} (arm {smallest!r} "
            f"has {n_min} trials). Received: k_max={k_max!r}."
        )
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, numbers.Integral) or n_resamples < 1:
        raise ValueError(
            f"Argument `n_resamples` must be an integer >= 1. Received: n_resamples={n_resamples!r}."
        )
    if not 0.0 < level < 1.0:
        raise ValueError(f"Argument `level` must be strictly between 0 and 1. Received: level={level!r}.")
    if (first is None) != (second is None):
        raise ValueError(
            "Arguments `first` and `second` must be given together for a gap. "
            f"Received: first={first!r}, second={second!r}."
        )
    for name, arm in (("first", first), ("second", second)):
        if arm is not None and arm not in arrays:
            raise ValueError(
                f"Argument `{name}` must name an arm. Received: {name}={arm!r}. "
                f"Valid arms: {', '.join(map(repr, arrays))}."
            )

    k_max = int(k_max)
    curves: dict[str, Band] = {}
    replicates: dict[str, np.ndarray] = {}
    for arm, values in arrays.items():
        n = values.size
        weights = _expected_max_weights(n, k_max).T  # (n, k_max)
        ordered = np.sort(values)
        # Sorting the resampled indices of the sorted values sorts the resample itself.
        picks = np.sort(_arm_rng(seed, arm).integers(0, n, size=(int(n_resamples), n)), axis=1)
        arm_replicates = ordered[picks] @ weights  # (n_resamples, k_max)
        curves[arm] = _band(ordered @ weights, arm_replicates, level)
        if arm in (first, second):
            replicates[arm] = arm_replicates

    gap = None
    if first is not None and second is not None:
        estimate = np.subtract(curves[first].estimate, curves[second].estimate)
        gap = _band(estimate, replicates[first] - replicates[second], level)
    return BootstrapResult(curves=curves, gap=gap)

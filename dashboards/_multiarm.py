"""Comparing more than two arms: the probability that each arm is the best of all.

After k trials of tuning in every arm, which arm holds the best configuration? For
each budget, the probability that arm i's best of k trials beats the best of k trials
of every other arm (Sivaprasad et al., ICML 2020, "Optimizer benchmarking needs to
account for hyperparameter tuning"); ties are shared equally among the tied arms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from optsearch.dashboards._estimators import max_distribution

__all__ = ["best_arm_probability"]


def _cdf(values: np.ndarray, probs: np.ndarray, at: float) -> tuple[float, float]:
    """P(max < at) and P(max == at) for one arm's max distribution."""
    below = float(probs[values < at].sum())
    equal = float(probs[values == at].sum())
    return below, equal


def best_arm_probability(values_by_arm: Mapping[str, Sequence[float]], k_max: int) -> dict[str, tuple[float, ...]]:
    """P(arm is the best of all arms after k trials each), for k = 1..k_max.

    Each arm's best of k is drawn without replacement from its trials, independently
    of the other arms. When several arms tie for the best, each gets an equal share,
    so the probabilities of all arms sum to one at every k.

    Args:
        values_by_arm: The trial values of each arm (at least ``k_max`` each).
        k_max: The largest budget.
    """
    arms = list(values_by_arm)
    result: dict[str, list[float]] = {arm: [] for arm in arms}
    for k in range(1, k_max + 1):
        dists = {arm: max_distribution(values_by_arm[arm], k) for arm in arms}
        for arm in arms:
            own_values, own_probs = dists[arm]
            total = 0.0
            for value, prob in zip(own_values, own_probs):
                if prob == 0:
                    continue
                # Polynomial in x: the coefficient of x^t is the probability that
                # exactly t other arms tie at ``value`` and the rest are below it.
                poly = np.array([1.0])
                for other in arms:
                    if other == arm:
                        continue
                    below, equal = _cdf(*dists[other], value)
                    poly = np.convolve(poly, [below, equal])
                shares = 1.0 / (1.0 + np.arange(poly.size))
                total += prob * float(poly @ shares)
            result[arm].append(float(total))
    return {arm: tuple(p) for arm, p in result.items()}

"""Expected best result after k trials: the numbers behind "how much tuning is enough".

Every function here takes the finished trials of one arm as plain floats and returns
numbers only (no drawing). Budgets are 1-based: entry ``k - 1`` of a returned array is
the value for a budget of ``k`` trials.

The main estimator is the unbiased one of Tang et al. (ACL 2020, "Showing Your Work
Doesn't Always Work"): the expected maximum of ``k`` trials drawn *without* replacement
from the ``N`` trials that were run. Dodge et al. (EMNLP 2019) draw *with* replacement
from the empirical distribution, which is biased low for ``k`` near ``N``; it is kept
for comparison with published curves.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from scipy.special import gammaln

__all__ = [
    "expected_max",
    "expected_max_dodge",
    "max_distribution",
    "expected_at_argmax",
    "win_probability",
    "first_budget_where",
]


def _as_values(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float array, raising ValueError if it is unusable."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(
            f"Argument `{name}` must be a 1-D sequence of numbers. "
            f"Received: {name} with shape {array.shape}."
        )
    if array.size == 0:
        raise ValueError(
            f"Argument `{name}` must hold at least one value. Received: {name}={values!r}."
        )
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"Argument `{name}` must hold finite numbers only; drop failed trials first. "
            f"Received: {name}[{i}]={float(array[i])!r}."
        )
    return array


def _budget(k: int | None, n: int, name: str, *, default: int | None = None) -> int:
    """Validate a budget ``k`` in 1..n (``None`` means ``default``, else ``n``)."""
    if k is None:
        return n if default is None else default
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ValueError(f"Argument `{name}` must be an integer. Received: {name}={k!r}.")
    if not 1 <= k <= n:
        raise ValueError(
            f"Argument `{name}` must be between 1 and {n} (the number of trials). "
            f"Received: {name}={k!r}."
        )
    return int(k)


def _log_factorials(n: int) -> np.ndarray:
    """log(m!) for m = 0..n, as a table: indexing it is far cheaper than gammaln on a matrix."""
    return gammaln(np.arange(n + 1, dtype=float) + 1.0)


def _expected_max_weights(n: int, k_max: int) -> np.ndarray:
    """Weights of shape (k_max, n): row k-1 times the ascending values gives E(k).

    W[k-1, j-1] = C(j-1, k-1) / C(n, k): the probability that the largest of k trials
    drawn without replacement is the j-th smallest. Computed in log space so that
    n in the thousands does not overflow.
    """
    log_fact = _log_factorials(n)
    ks = np.arange(1, k_max + 1)
    # log W = log (j-1)! - log (k-1)! - log (j-k)! - log C(n, k). The (j-k)! term is a
    # Toeplitz matrix: read it as sliding windows over log_fact padded with +inf (so
    # entries with j < k get weight exp(-inf) = 0) instead of building index arrays;
    # this keeps n = k_max = 5000 to a few passes over memory.
    padded = np.concatenate([np.full(k_max - 1, np.inf), log_fact[:n]])
    log_fact_j_minus_k = np.lib.stride_tricks.sliding_window_view(padded, n)[::-1]
    log_choose_n = log_fact[n] - log_fact[ks] - log_fact[n - ks]
    weights = (-log_fact[ks - 1] - log_choose_n)[:, None] + log_fact[:n][None, :]
    weights -= log_fact_j_minus_k
    np.exp(weights, out=weights)
    # Each row sums to 1 exactly in theory (hockey-stick identity); renormalizing
    # removes the ~1e-13 error of the log-gamma round trip.
    weights /= weights.sum(axis=1, keepdims=True)
    return weights


def _max_cdf(at_most: np.ndarray, n: int, k_max: int) -> np.ndarray:
    """P(max of k draws without replacement <= v) for k = 1..k_max, shape (k_max, len(at_most)).

    ``at_most[g]`` is how many of the ``n`` values are <= v_g; the probability is
    C(at_most, k) / C(n, k), zero when fewer than k values qualify.
    """
    log_fact = _log_factorials(n)
    m = np.asarray(at_most, dtype=np.int64)[None, :]
    k = np.arange(1, k_max + 1)[:, None]
    valid = m >= k
    log_p = (
        log_fact[m]
        - log_fact[np.maximum(m - k, 0)]
        - (log_fact[n] - log_fact[n - k])
    )  # log C(m, k) - log C(n, k); the k! cancels
    return np.where(valid, np.exp(np.where(valid, log_p, -np.inf)), 0.0)


def expected_max(values: Sequence[float] | np.ndarray, k_max: int | None = None) -> np.ndarray:
    """Expected best value after k trials, for k = 1..k_max (unbiased, without replacement).

    For ascending values v_(1) <= ... <= v_(N), E(k) = sum_{j=k..N} v_(j) C(j-1, k-1) / C(N, k),
    the mean over all k-subsets of the trials of their maximum (Tang et al., ACL 2020).
    Ties need no special care. E(1) is the mean, E(N) the maximum, and E is
    non-decreasing in k.

    Args:
        values: One value per finished trial (e.g. validation accuracy), higher is better.
        k_max: Largest budget, at most ``len(values)``. Defaults to ``len(values)``.

    Returns:
        Array of length ``k_max``; entry ``k - 1`` is E(k).

    Raises:
        ValueError: If ``values`` is empty or not finite, or ``k_max`` is out of range.

    Example:
        >>> expected_max([0.5, 0.7, 0.9]).round(4).tolist()
        [0.7, 0.8333, 0.9]
    """
    array = _as_values(values, "values")
    k_max = _budget(k_max, array.size, "k_max")
    return _expected_max_weights(array.size, k_max) @ np.sort(array)


def expected_max_dodge(
    values: Sequence[float] | np.ndarray, k_max: int | None = None
) -> np.ndarray:
    """Dodge et al.'s expected best value after k trials (draws with replacement).

    E(k) = sum_i v_(i) [(i/N)^k - ((i-1)/N)^k]: the expected maximum of k draws with
    replacement from the empirical distribution. It is biased low (at k = N it is below
    the maximum); prefer :func:`expected_max`. Since draws are with replacement, any
    ``k_max >= 1`` is defined, including beyond ``len(values)``.

    Args:
        values: One value per finished trial, higher is better.
        k_max: Largest budget, at least 1. Defaults to ``len(values)``.

    Returns:
        Array of length ``k_max``; entry ``k - 1`` is E(k).

    Raises:
        ValueError: If ``values`` is empty or not finite, or ``k_max`` is below 1.
    """
    array = _as_values(values, "values")
    n = array.size
    if k_max is None:
        k_max = n
    elif isinstance(k_max, bool) or not isinstance(k_max, numbers.Integral) or k_max < 1:
        raise ValueError(f"Argument `k_max` must be an integer >= 1. Received: k_max={k_max!r}.")
    i = np.arange(0, n + 1, dtype=float) / n
    k = np.arange(1, int(k_max) + 1, dtype=float)[:, None]
    cdf = i[None, :] ** k  # P(max of k draws <= v_(i)), i = 0..N
    return np.diff(cdf, axis=1) @ np.sort(array)


def max_distribution(
    values: Sequence[float] | np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of the best of k trials drawn without replacement.

    Tied values are grouped: P(max <= v) = C(#values <= v, k) / C(N, k), and the
    probability of each distinct value is the difference of consecutive ones.

    Args:
        values: One value per finished trial.
        k: Number of trials drawn, 1..``len(values)``.

    Returns:
        ``(distinct, probability)``: the distinct values in ascending order and the
        probability that the maximum equals each; the probabilities sum to 1.

    Raises:
        ValueError: If ``values`` is empty or not finite, or ``k`` is out of range.
    """
    array = _as_values(values, "values")
    k = _budget(k, array.size, "k")
    distinct, counts = np.unique(array, return_counts=True)
    cdf = _max_cdf(np.cumsum(counts), array.size, k)[k - 1]
    return distinct, np.clip(np.diff(cdf, prepend=0.0), 0.0, None)


def expected_at_argmax(
    selector: Sequence[float] | np.ndarray,
    companion: Sequence[float] | np.ndarray,
    k_max: int | None = None,
) -> np.ndarray:
    """Expected ``companion`` of the trial with the best ``selector`` among k trials.

    For example the expected *test* accuracy of the trial one would pick by
    *validation* accuracy after a budget of k trials (drawn without replacement).

    Ties in ``selector`` are broken uniformly at random among the tied trials drawn.
    This is exact, not an approximation: given that the best selector value is v, the
    drawn trials with value v are a uniformly random subset of all trials with value v,
    so the picked one is uniform over that whole group and its expected companion is the
    group's mean. (Optuna's ``best_trial`` picks the earliest of tied trials instead;
    the two agree whenever selector values do not tie.)

    Args:
        selector: Value used to pick the best trial (higher is better), one per trial.
        companion: Value reported for the picked trial, one per trial, same order.
        k_max: Largest budget, at most the number of trials. Defaults to that number.

    Returns:
        Array of length ``k_max``; entry ``k - 1`` is the expected companion at budget k.
        With ``companion`` equal to ``selector`` this is :func:`expected_max`.

    Raises:
        ValueError: If either input is empty or not finite, their lengths differ, or
            ``k_max`` is out of range.
    """
    select = _as_values(selector, "selector")
    report = _as_values(companion, "companion")
    if select.size != report.size:
        raise ValueError(
            "Arguments `selector` and `companion` must have one value per trial each. "
            f"Received: len(selector)={select.size}, len(companion)={report.size}."
        )
    k_max = _budget(k_max, select.size, "k_max")
    order = np.argsort(select, kind="stable")
    _, group, counts = np.unique(select[order], return_inverse=True, return_counts=True)
    group_mean = np.bincount(group, weights=report[order]) / counts
    # The weights summed over a tied group give P(max falls in that group), so placing
    # the group mean at each of its positions gives sum_g P(group g) * mean_g.
    return _expected_max_weights(select.size, k_max) @ group_mean[group]


def win_probability(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    k_max: int | None = None,
) -> np.ndarray:
    """Probability that the best of k trials of arm ``a`` beats the best of k trials of ``b``.

    Each arm's k trials are drawn without replacement from its own trials, independently
    of the other arm; a tie counts half.

    Args:
        a: One value per finished trial of the first arm, higher is better.
        b: Same for the second arm.
        k_max: Largest budget, at most ``min(len(a), len(b))``. Defaults to that minimum.

    Returns:
        Array of length ``k_max``; entry ``k - 1`` is P(best_a > best_b) + P(tie) / 2.

    Raises:
        ValueError: If either input is empty or not finite, or ``k_max`` is out of range.
    """
    first = np.sort(_as_values(a, "a"))
    second = np.sort(_as_values(b, "b"))
    k_max = _budget(k_max, min(first.size, second.size), "k_max")
    grid = np.union1d(first, second)
    cdf_a = _max_cdf(np.searchsorted(first, grid, side="right"), first.size, k_max)
    cdf_b = _max_cdf(np.searchsorted(second, grid, side="right"), second.size, k_max)
    p_a = np.diff(cdf_a, axis=1, prepend=0.0)
    p_b = np.diff(cdf_b, axis=1, prepend=0.0)
    below_b = cdf_b - p_b  # P(best_b < v)
    win = np.sum(p_a * below_b, axis=1) + 0.5 * np.sum(p_a * p_b, axis=1)
    return np.clip(win, 0.0, 1.0)


def first_budget_where(condition: Sequence[bool] | np.ndarray, *, for_all_larger: bool) -> int | None:
    """Smallest budget k (1-based) at which ``condition`` holds.

    Examples: the crossover budget is ``first_budget_where(gap_lower > 0,
    for_all_larger=True)``; the budget where SGD wins half the time is
    ``first_budget_where(win_prob >= 0.5, for_all_larger=False)``.

    Args:
        condition: One boolean per budget k = 1..K.
        for_all_larger: If true, the condition must also hold at every larger budget
            up to K (so a brief crossing that is later undone does not count).

    Returns:
        The budget k, or ``None`` if there is none (including when ``condition`` is empty).

    Raises:
        ValueError: If ``condition`` is not 1-D.
    """
    flags = np.asarray(condition, dtype=bool)
    if flags.ndim != 1:
        raise ValueError(
            "Argument `condition` must be 1-D, one entry per budget. "
            f"Received: condition with shape {flags.shape}."
        )
    if for_all_larger:
        if flags.size == 0 or not flags[-1]:
            return None
        failing = np.flatnonzero(~flags)
        return int(failing[-1]) + 2 if failing.size else 1
    holding = np.flatnonzero(flags)
    return int(holding[0]) + 1 if holding.size else None

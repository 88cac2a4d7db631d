"""Expected-best estimators, checked against brute force over all k-subsets."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from optsearch.dashboards._estimators import (
    expected_at_argmax,
    expected_max,
    expected_max_dodge,
    first_budget_where,
    max_distribution,
    win_probability,
)

SMALL_CASES = [
    [0.5, 0.7, 0.7, 0.9],
    [1.0, 1.0, 1.0],
    [0.3],
    [0.9, 0.1, 0.4, 0.4, 0.4, 0.8, 0.1],
    [2.0, -1.0, 3.5, 0.0, 2.0],
]


def _brute_expected_max(values: list[float], k: int) -> float:
    maxima = [max(s) for s in itertools.combinations(values, k)]
    return sum(maxima) / len(maxima)


def _brute_argmax(selector: list[float], companion: list[float], k: int) -> float:
    """Mean over k-subsets of the companion at the best selector, ties split evenly."""
    total = 0.0
    subsets = list(itertools.combinations(range(len(selector)), k))
    for subset in subsets:
        best = max(selector[i] for i in subset)
        tied = [companion[i] for i in subset if selector[i] == best]
        total += sum(tied) / len(tied)
    return total / len(subsets)


def _brute_win(a: list[float], b: list[float], k: int) -> float:
    maxima_a = [max(s) for s in itertools.combinations(a, k)]
    maxima_b = [max(s) for s in itertools.combinations(b, k)]
    score = sum((x > y) + 0.5 * (x == y) for x in maxima_a for y in maxima_b)
    return score / (len(maxima_a) * len(maxima_b))


@pytest.mark.parametrize("values", SMALL_CASES)
def test_expected_max_matches_brute_force_with_ties(values: list[float]) -> None:
    expected = [_brute_expected_max(values, k) for k in range(1, len(values) + 1)]
    np.testing.assert_allclose(expected_max(values), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("values", SMALL_CASES)
def test_expected_max_ends_at_mean_and_max_and_never_decreases(values: list[float]) -> None:
    curve = expected_max(values)
    assert curve.shape == (len(values),)
    assert curve[0] == pytest.approx(np.mean(values), abs=1e-12)
    assert curve[-1] == pytest.approx(max(values), abs=1e-12)
    assert np.all(np.diff(curve) >= -1e-12)


def test_expected_max_k_max_truncates() -> None:
    values = [0.2, 0.9, 0.4, 0.6, 0.8]
    np.testing.assert_allclose(expected_max(values, k_max=2), expected_max(values)[:2])


def test_expected_max_large_n_does_not_overflow() -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(size=5000)
    curve = expected_max(values)
    assert np.all(np.isfinite(curve))
    assert curve[0] == pytest.approx(values.mean(), rel=1e-10)
    assert curve[-1] == pytest.approx(values.max(), rel=1e-12)
    assert np.all(np.diff(curve) >= -1e-12)
    # For U(0, 1) the max of k draws has mean k / (k + 1), without replacement nearly so.
    assert curve[99] == pytest.approx(100 / 101, abs=5e-3)


def test_expected_max_constant_values_give_that_constant() -> None:
    np.testing.assert_allclose(expected_max([0.25] * 1000), 0.25, rtol=1e-12)


@pytest.mark.parametrize(
    ("values", "k_max", "message"),
    [
        ([], None, r"Received: values=\[\]"),
        ([0.1, 0.2], 0, "Received: k_max=0"),
        ([0.1, 0.2], 3, "Received: k_max=3"),
        ([0.1, 0.2], 1.5, "Received: k_max=1.5"),
        ([0.1, float("nan")], None, r"Received: values\[1\]=nan"),
    ],
)
def test_expected_max_rejects_bad_input(values: list[float], k_max: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expected_max(values, k_max)  # type: ignore[arg-type]


def test_dodge_matches_hand_computed_values() -> None:
    curve = expected_max_dodge([3.0, 1.0, 2.0])
    hand = [
        2.0,
        float(Fraction(1, 9) * 1 + Fraction(3, 9) * 2 + Fraction(5, 9) * 3),  # 22/9
        float(Fraction(1, 27) * 1 + Fraction(7, 27) * 2 + Fraction(19, 27) * 3),  # 70/27
    ]
    np.testing.assert_allclose(curve, hand, rtol=1e-12)
    assert curve[1] == pytest.approx(22 / 9)


def test_dodge_is_biased_low_against_unbiased_and_allows_k_beyond_n() -> None:
    values = [0.1, 0.5, 0.7, 0.9]
    dodge = expected_max_dodge(values, k_max=10)
    assert dodge.shape == (10,)
    assert np.all(dodge[1:4] < expected_max(values)[1:4])
    assert dodge[-1] < max(values)
    with pytest.raises(ValueError, match="Received: k_max=0"):
        expected_max_dodge(values, 0)


@pytest.mark.parametrize("values", SMALL_CASES)
def test_max_distribution_matches_brute_force(values: list[float]) -> None:
    for k in range(1, len(values) + 1):
        distinct, probability = max_distribution(values, k)
        maxima = [max(s) for s in itertools.combinations(values, k)]
        expected = [maxima.count(v) / len(maxima) for v in distinct]
        np.testing.assert_array_equal(distinct, sorted(set(values)))
        np.testing.assert_allclose(probability, expected, atol=1e-12)
        assert probability.sum() == pytest.approx(1.0)
        assert float(distinct @ probability) == pytest.approx(expected_max(values)[k - 1])


def test_max_distribution_rejects_k_out_of_range() -> None:
    with pytest.raises(ValueError, match="Received: k=4"):
        max_distribution([1.0, 2.0, 3.0], 4)


def test_expected_at_argmax_without_ties_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    selector = rng.uniform(size=7).tolist()
    companion = rng.uniform(size=7).tolist()
    expected = [_brute_argmax(selector, companion, k) for k in range(1, 8)]
    np.testing.assert_allclose(expected_at_argmax(selector, companion), expected, atol=1e-12)


def test_expected_at_argmax_with_ties_splits_evenly_among_tied_trials() -> None:
    selector = [0.5, 0.9, 0.7, 0.9, 0.7, 0.2]
    companion = [0.1, 0.3, 0.6, 0.8, 0.2, 0.9]
    expected = [_brute_argmax(selector, companion, k) for k in range(1, 7)]
    np.testing.assert_allclose(expected_at_argmax(selector, companion), expected, atol=1e-12)


@pytest.mark.parametrize("values", SMALL_CASES)
def test_expected_at_argmax_of_itself_is_expected_max(values: list[float]) -> None:
    np.testing.assert_allclose(expected_at_argmax(values, values), expected_max(values), atol=1e-12)


def test_expected_at_argmax_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="len\\(selector\\)=3, len\\(companion\\)=2"):
        expected_at_argmax([1.0, 2.0, 3.0], [1.0, 2.0])


def test_win_probability_of_identical_arms_is_one_half() -> None:
    values = [0.5, 0.7, 0.7, 0.9, 0.1]
    np.testing.assert_allclose(win_probability(values, values), 0.5, atol=1e-12)


def test_win_probability_when_one_arm_dominates() -> None:
    low, high = [0.1, 0.2, 0.3], [0.5, 0.6, 0.7, 0.8]
    np.testing.assert_allclose(win_probability(high, low), 1.0)
    np.testing.assert_allclose(win_probability(low, high), 0.0)
    assert win_probability(high, low).shape == (3,)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([0.5, 0.7, 0.7, 0.9], [0.6, 0.7, 0.8]),
        ([1.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]),
        ([0.3, 0.1, 0.9, 0.4, 0.6], [0.2, 0.5, 0.9, 0.5, 0.8, 0.0]),
    ],
)
def test_win_probability_matches_brute_force(a: list[float], b: list[float]) -> None:
    k_max = min(len(a), len(b))
    expected = [_brute_win(a, b, k) for k in range(1, k_max + 1)]
    np.testing.assert_allclose(win_probability(a, b), expected, atol=1e-12)
    # Swapping the arms gives the complement.
    np.testing.assert_allclose(win_probability(b, a), 1.0 - np.array(expected), atol=1e-12)


def test_win_probability_rejects_k_beyond_smaller_arm() -> None:
    with pytest.raises(ValueError, match="between 1 and 2 .*Received: k_max=3"):
        win_probability([1.0, 2.0, 3.0], [1.0, 2.0], k_max=3)


def test_win_probability_large_arms_stay_finite() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.1, 1, 1000), rng.normal(0, 1, 1500)
    win = win_probability(a, b)
    assert np.all(np.isfinite(win)) and np.all((win >= 0) & (win <= 1))
    # At k = 1 it is the share of all (a, b) pairs that a wins.
    assert win[0] == pytest.approx(np.mean(a[:, None] > b[None, :]), abs=1e-12)


@pytest.mark.parametrize(
    ("condition", "for_all_larger", "expected"),
    [
        ([False, True, False, True, True], True, 4),
        ([False, True, False, True, True], False, 2),
        ([True, True], True, 1),
        ([True, False], True, None),
        ([False, False], False, None),
        ([], True, None),
        ([], False, None),
    ],
)
def test_first_budget_where(condition: list[bool], for_all_larger: bool, expected: int | None) -> None:
    assert first_budget_where(np.array(condition, dtype=bool), for_all_larger=for_all_larger) == expected


def test_first_budget_where_rejects_2d() -> None:
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        first_budget_where(np.ones((2, 2), dtype=bool), for_all_larger=False)


def test_brute_force_helper_agrees_with_closed_form() -> None:
    # Guards the guard: C(j-1, k-1) / C(N, k) is the chance the j-th smallest is the max.
    n, k = 6, 3
    weights = [math.comb(j - 1, k - 1) / math.comb(n, k) for j in range(1, n + 1)]
    assert sum(weights) == pytest.approx(1.0)
    assert _brute_expected_max([1, 2, 3, 4, 5, 6], k) == pytest.approx(sum(w * j for j, w in enumerate(weights, 1)))

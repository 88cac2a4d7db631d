"""Bootstrap bands around expected-best curves and the gap between two arms."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from optsearch.dashboards._bootstrap import Band, BootstrapResult, bootstrap_expected_max
from optsearch.dashboards._estimators import expected_max


def _arms(n: int = 40, seed: int = 3) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    return {
        "sgd": rng.normal(0.90, 0.03, n).tolist(),
        "adam": rng.normal(0.91, 0.01, n).tolist(),
    }


def test_point_estimates_are_expected_max_and_bands_contain_them() -> None:
    arms = _arms()
    result = bootstrap_expected_max(arms, 10, n_resamples=300)
    assert isinstance(result, BootstrapResult) and result.gap is None
    assert list(result.curves) == ["sgd", "adam"]
    for arm, values in arms.items():
        band = result.curves[arm]
        np.testing.assert_allclose(band.estimate, expected_max(values, 10))
        assert len(band.lower) == len(band.upper) == 10
        assert all(lo <= est <= up for lo, est, up in zip(band.lower, band.estimate, band.upper))


def test_same_seed_same_result_other_seed_other_result() -> None:
    arms = _arms()
    kwargs = {"n_resamples": 200, "first": "sgd", "second": "adam"}
    one = bootstrap_expected_max(arms, 8, seed=7, **kwargs)
    assert bootstrap_expected_max(arms, 8, seed=7, **kwargs) == one
    other = bootstrap_expected_max(arms, 8, seed=8, **kwargs)
    assert other.curves["sgd"].lower != one.curves["sgd"].lower
    assert other.curves["sgd"].estimate == one.curves["sgd"].estimate


def test_an_arms_band_does_not_depend_on_the_other_arms() -> None:
    arms = _arms()
    both = bootstrap_expected_max(arms, 5, n_resamples=200)
    alone = bootstrap_expected_max({"sgd": arms["sgd"]}, 5, n_resamples=200)
    reordered = bootstrap_expected_max({"adam": arms["adam"], "sgd": arms["sgd"]}, 5, n_resamples=200)
    assert alone.curves["sgd"] == both.curves["sgd"] == reordered.curves["sgd"]


def test_band_shrinks_as_trials_grow() -> None:
    rng = np.random.default_rng(0)
    population = rng.normal(0.9, 0.03, 2000)

    def mean_width(n: int) -> float:
        band = bootstrap_expected_max({"sgd": population[:n]}, 5, n_resamples=500).curves["sgd"]
        return float(np.mean(np.subtract(band.upper, band.lower)))

    assert mean_width(500) < 0.5 * mean_width(25)


def test_gap_estimate_is_difference_of_curves_and_band_contains_it() -> None:
    result = bootstrap_expected_max(_arms(), 10, n_resamples=300, first="sgd", second="adam")
    assert result.gap is not None
    np.testing.assert_allclose(
        result.gap.estimate,
        np.subtract(result.curves["sgd"].estimate, result.curves["adam"].estimate),
    )
    assert all(lo <= est <= up for lo, est, up in zip(result.gap.lower, result.gap.estimate, result.gap.upper))


def test_gap_lower_is_positive_when_first_clearly_dominates() -> None:
    rng = np.random.default_rng(1)
    arms = {"sgd": rng.normal(0.95, 0.01, 60), "adam": rng.normal(0.85, 0.01, 60)}
    gap = bootstrap_expected_max(arms, 20, n_resamples=300, first="sgd", second="adam").gap
    assert gap is not None
    assert min(gap.lower) > 0


def test_level_widens_the_band() -> None:
    arms = _arms()
    narrow = bootstrap_expected_max(arms, 5, n_resamples=400, level=0.5).curves["sgd"]
    wide = bootstrap_expected_max(arms, 5, n_resamples=400, level=0.99).curves["sgd"]
    assert all(w_lo <= n_lo and n_up <= w_up for w_lo, n_lo, n_up, w_up in zip(wide.lower, narrow.lower, narrow.upper, wide.upper))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k_max": 41}, "between 1 and 40 .*Received: k_max=41"),
        ({"k_max": 0}, "Received: k_max=0"),
        ({"k_max": 5, "n_resamples": 0}, "Received: n_resamples=0"),
        ({"k_max": 5, "level": 1.0}, "Received: level=1.0"),
        ({"k_max": 5, "first": "sgd"}, "Received: first='sgd', second=None"),
        ({"k_max": 5, "first": "sgd", "second": "rmsprop"}, "Received: second='rmsprop'. Valid arms: 'sgd', 'adam'"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_expected_max(_arms(), **kwargs)  # type: ignore[arg-type]


def test_rejects_empty_input() -> None:
    with pytest.raises(ValueError, match=r"Received: \{\}"):
        bootstrap_expected_max({}, 1)
    with pytest.raises(ValueError, match=r"values_by_arm\['adam'\]"):
        bootstrap_expected_max({"sgd": [0.9], "adam": []}, 1)


def test_band_is_frozen_and_checks_lengths() -> None:
    band = Band(estimate=(1.0,), lower=(0.5,), upper=(1.5,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        band.estimate = (2.0,)  # type: ignore[misc]
    with pytest.raises(ValueError, match="estimate=1, lower=2, upper=1"):
        Band(estimate=(1.0,), lower=(0.5, 0.6), upper=(1.5,))


def test_thousand_resamples_of_three_hundred_trials_is_quick() -> None:
    arms = _arms(n=300)
    start = time.perf_counter()
    bootstrap_expected_max(arms, 100, first="sgd", second="adam")
    # About 0.1 s on two cores; the bound only catches a lost vectorization.
    assert time.perf_counter() - start < 5.0

from __future__ import annotations

import math

import pytest

from optsearch.errors import SpecError, UnknownNameError
from optsearch.trainers import SCHEDULE_OPTIONS, SCHEDULES, make_schedule


def values(name: str, epochs: int, options: dict[str, float], lr: float = 1.0) -> list[float]:
    schedule = make_schedule(name, lr, epochs, options)
    return [schedule(epoch) for epoch in range(epochs)]


def test_options_are_listed_for_every_schedule() -> None:
    assert set(SCHEDULE_OPTIONS) == set(SCHEDULES) == {"constant", "step", "exponential", "cosine"}


def test_constant() -> None:
    assert values("constant", 4, {}, lr=0.3) == [0.3, 0.3, 0.3, 0.3]


def test_step_halves_every_quarter() -> None:
    # every = round(0.25 * 8) = 2 epochs.
    assert values("step", 8, {"drop": 0.5, "every_fraction": 0.25}) == [
        1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125,
    ]


def test_step_drops_at_least_one_epoch_apart() -> None:
    # round(0.1 * 3) = 0, clamped to 1: drop every epoch.
    assert values("step", 3, {"drop": 0.1, "every_fraction": 0.1}, lr=2.0) == pytest.approx(
        [2.0, 0.2, 0.02]
    )


def test_step_every_fraction_one_never_drops() -> None:
    assert values("step", 5, {"drop": 0.5, "every_fraction": 1.0}) == [1.0] * 5


def test_exponential_holds_then_decays() -> None:
    # hold = floor(0.5 * 10) = 5: epochs 0-4 at lr, epoch 5 at lr*e^-0.01, ...
    got = values("exponential", 10, {"rate": 0.01, "hold_fraction": 0.5}, lr=0.1)
    expected = [0.1] * 5 + [0.1 * math.exp(-0.01 * k) for k in range(1, 6)]
    assert got == pytest.approx(expected)
    assert got[5] == pytest.approx(0.0990049834)


def test_exponential_without_hold_decays_from_first_epoch() -> None:
    got = values("exponential", 3, {"rate": 1.0, "hold_fraction": 0.0})
    assert got == pytest.approx([math.exp(-1), math.exp(-2), math.exp(-3)])


def test_cosine_first_last_and_midpoint() -> None:
    got = values("cosine", 5, {"final_fraction": 0.1}, lr=0.2)
    assert got[0] == pytest.approx(0.2)
    assert got[-1] == pytest.approx(0.02)
    # Epoch 2 of 0..4 is halfway: cos(pi/2) = 0, so lr * (0.1 + 0.9 * 0.5) = 0.11.
    assert got[2] == pytest.approx(0.11)
    # Epoch 1: cos(pi/4) = 0.70711 -> 0.2 * (0.1 + 0.9 * 0.85355) = 0.17364.
    assert got[1] == pytest.approx(0.2 * (0.1 + 0.9 * 0.5 * (1 + math.sqrt(0.5))))


def test_cosine_single_epoch_uses_base_rate() -> None:
    assert values("cosine", 1, {"final_fraction": 0.0}, lr=0.5) == [0.5]


def test_unknown_schedule_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as caught:
        make_schedule("linear", 0.1, 5, {})
    message = str(caught.value)
    assert "'linear'" in message
    for name in SCHEDULES:
        assert name in message


@pytest.mark.parametrize(
    ("name", "options", "fragment"),
    [
        ("step", {"drop": 1.5, "every_fraction": 0.5}, "drop=1.5"),
        ("step", {"drop": 0.5, "every_fraction": 0}, "every_fraction=0"),
        ("exponential", {"rate": -0.1, "hold_fraction": 0.5}, "rate=-0.1"),
        ("exponential", {"rate": 0.1, "hold_fraction": 1.0}, "hold_fraction=1.0"),
        ("cosine", {"final_fraction": 1}, "final_fraction=1"),
        ("cosine", {"final_fraction": "x"}, "final_fraction='x'"),
    ],
)
def test_out_of_range_options_quote_the_value(
    name: str, options: dict[str, float], fragment: str
) -> None:
    with pytest.raises(SpecError, match="Received: " + fragment):
        make_schedule(name, 0.1, 10, options)


def test_missing_and_unknown_options_are_named() -> None:
    with pytest.raises(SpecError) as caught:
        make_schedule("step", 0.1, 10, {"drop": 0.5, "gamma": 2.0})
    message = str(caught.value)
    assert "missing every_fraction" in message
    assert "unknown gamma" in message
    assert "Valid options: drop, every_fraction" in message


def test_constant_rejects_options() -> None:
    with pytest.raises(SpecError, match="unknown rate.*Valid options: none"):
        make_schedule("constant", 0.1, 10, {"rate": 0.5})

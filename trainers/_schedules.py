"""Learning-rate schedules: pure functions of the 0-based epoch index.

Each schedule takes the base learning rate, the number of epochs and a small
mapping of options, and returns ``f(epoch) -> learning rate`` where ``epoch``
counts from 0, which is what ``keras.callbacks.LearningRateScheduler`` passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

from optsearch import errors

__all__ = ["SCHEDULES", "SCHEDULE_OPTIONS", "Schedule", "make_schedule"]

Schedule = Callable[[int], float]
_ScheduleBuilder = Callable[[float, int, Mapping[str, float]], Schedule]


def _option(
    name: str,
    options: Mapping[str, float],
    key: str,
    low: float,
    high: float,
    *,
    low_inclusive: bool,
    high_inclusive: bool,
) -> float:
    """Read one option and check it lies in its interval, quoting it if not."""
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.SpecError(
            f"Argument `{key}` of the {name!r} schedule must be a number. "
            f"Received: {key}={value!r}"
        )
    above = value >= low if low_inclusive else value > low
    below = value <= high if high_inclusive else value < high
    if not (above and below) or math.isnan(value):
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        interval = f"{left}{low:g}, {high:g}{right}"
        raise errors.SpecError(
            f"Argument `{key}` of the {name!r} schedule must be in {interval}. "
            f"Received: {key}={value!r}"
        )
    return float(value)


def _constant(base_lr: float, epochs: int, options: Mapping[str, float]) -> Schedule:
    def schedule(epoch: int) -> float:
        return base_lr

    return schedule


def _step(base_lr: float, epochs: int, options: Mapping[str, float]) -> Schedule:
    drop = _option("step", options, "drop", 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    fraction = _option(
        "step", options, "every_fraction", 0.0, 1.0, low_inclusive=False, high_inclusive=True
    )
    # At least one epoch between drops, however short the run.
    every = max(1, round(fraction * epochs))

    def schedule(epoch: int) -> float:
        return base_lr * drop ** (epoch // every)

    return schedule


def _exponential(base_lr: float, epochs: int, options: Mapping[str, float]) -> Schedule:
    rate = _option(
        "exponential", options, "rate", 0.0, math.inf, low_inclusive=True, high_inclusive=False
    )
    fraction = _option(
        "exponential", options, "hold_fraction", 0.0, 1.0, low_inclusive=True, high_inclusive=False
    )
    hold = math.floor(fraction * epochs)

    def schedule(epoch: int) -> float:
        if epoch < hold:
            return base_lr
        # The first epoch after the hold is already decayed once.
        return base_lr * math.exp(-rate * (epoch - hold + 1))

    return schedule


def _cosine(base_lr: float, epochs: int, options: Mapping[str, float]) -> Schedule:
    final = _option(
        "cosine", options, "final_fraction", 0.0, 1.0, low_inclusive=True, high_inclusive=False
    )
    # epochs - 1 so the last epoch lands exactly on final_fraction; max(1, ...)
    # keeps a one-epoch run at the base rate instead of dividing by zero.
    span = max(1, epochs - 1)

    def schedule(epoch: int) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * epoch / span))
        return base_lr * (final + (1.0 - final) * cosine)

    return schedule


SCHEDULES: Mapping[str, _ScheduleBuilder] = MappingProxyType(
    {
        "constant": _constant,
        "step": _step,
        "exponential": _exponential,
        "cosine": _cosine,
    }
)

SCHEDULE_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "constant": (),
        "step": ("drop", "every_fraction"),
        "exponential": ("rate", "hold_fraction"),
        "cosine": ("final_fraction",),
    }
)


def make_schedule(
    name: str,
    base_lr: float,
    epochs: int,
    options: Mapping[str, float] | None = None,
) -> Schedule:
    """Build a learning-rate schedule.

    Args:
        name: One of ``SCHEDULES``: "constant", "step", "exponential", "cosine".
        base_lr: The learning rate at epoch 0 (> 0).
        epochs: How many epochs the run lasts (>= 1).
        options: The schedule's options, exactly those in ``SCHEDULE_OPTIONS[name]``.
            Defaults to no options.

    Returns:
        A function from the 0-based epoch index to the learning rate.

    Raises:
        UnknownNameError: ``name`` is not a schedule.
        SpecError: An option is missing, unknown or out of range.

    Example:
        >>> f = make_schedule("step", 1.0, 8, {"drop": 0.5, "every_fraction": 0.25})
        >>> [f(e) for e in range(8)]
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]
    """
    if name not in SCHEDULES:
        raise errors.UnknownNameError("schedule", name, tuple(SCHEDULES))
    options = dict(options or {})
    expected = SCHEDULE_OPTIONS[name]
    missing = [key for key in expected if key not in options]
    extra = sorted(key for key in options if key not in expected)
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if extra:
            problems.append(f"unknown {', '.join(extra)}")
        valid = ", ".join(expected) if expected else "none"
        raise errors.SpecError(
            f"Options of the {name!r} schedule: {'; '.join(problems)}. "
            f"Received: {options!r}. Valid options: {valid}."
        )
    if not base_lr > 0:
        raise errors.SpecError(f"Argument `base_lr` must be > 0. Received: base_lr={base_lr!r}")
    if epochs < 1:
        raise errors.SpecError(f"Argument `epochs` must be >= 1. Received: epochs={epochs!r}")
    return SCHEDULES[name](float(base_lr), int(epochs), options)

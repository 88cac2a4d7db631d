"""Optimizer registry: a name -> ``builder(learning_rate, options) -> keras optimizer``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from optsearch import errors
from optsearch.trainers._keras import import_keras

__all__ = ["OPTIMIZERS", "OPTIMIZER_OPTIONS", "OptimizerBuilder", "get_optimizer", "check_optimizer_options"]

OptimizerBuilder = Callable[[float, Mapping[str, float | bool]], Any]

OPTIMIZER_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "sgd": ("momentum", "nesterov", "weight_decay"),
        "adam": ("beta_1", "epsilon", "weight_decay"),
    }
)


def _number(name: str, key: str, value: object, *, low: float, high: float | None,
            low_inclusive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.SpecError(
            f"Argument `{key}` of the {name!r} optimizer must be a number. "
            f"Received: {key}={value!r}"
        )
    too_low = value < low if low_inclusive else value <= low
    too_high = high is not None and value >= high
    if too_low or too_high or value != value:  # value != value catches NaN.
        bound = f">= {low:g}" if low_inclusive else f"> {low:g}"
        if high is not None:
            bound = f"in [{low:g}, {high:g})" if low_inclusive else f"in ({low:g}, {high:g})"
        raise errors.SpecError(
            f"Argument `{key}` of the {name!r} optimizer must be {bound}. "
            f"Received: {key}={value!r}"
        )
    return float(value)


def check_optimizer_options(name: str, options: Mapping[str, float | bool]) -> dict[str, Any]:
    """Validate an optimizer's options and return them as Keras keyword arguments.

    Args:
        name: One of ``OPTIMIZERS``.
        options: Options for that optimizer (all optional): sgd takes ``momentum``
            in [0, 1) and ``nesterov`` (bool); adam takes ``beta_1`` in [0, 1) and
            ``epsilon`` > 0; both take ``weight_decay`` > 0.

    Returns:
        Keyword arguments for the Keras optimizer's constructor.

    Raises:
        UnknownNameError: ``name`` is not an optimizer.
        SpecError: An option is unknown or out of range.
    """
    if name not in OPTIMIZER_OPTIONS:
        raise errors.UnknownNameError("optimizer", name, tuple(OPTIMIZER_OPTIONS))
    valid = OPTIMIZER_OPTIONS[name]
    unknown = sorted(key for key in options if key not in valid)
    if unknown:
        raise errors.SpecError(
            f"Unknown option {', '.join(repr(k) for k in unknown)} for the {name!r} "
            f"optimizer. Received: {dict(options)!r}. Valid options: {', '.join(valid)}."
        )
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key == "nesterov":
            if not isinstance(value, bool):
                raise errors.SpecError(
                    f"Argument `nesterov` of the {name!r} optimizer must be true or false. "
                    f"Received: nesterov={value!r}"
                )
            kwargs[key] = value
        elif key in ("momentum", "beta_1"):
            kwargs[key] = _number(name, key, value, low=0.0, high=1.0, low_inclusive=True)
        else:  # epsilon, weight_decay
            kwargs[key] = _number(name, key, value, low=0.0, high=None, low_inclusive=False)
    return kwargs


def _sgd(learning_rate: float, options: Mapping[str, float | bool]) -> Any:
    keras = import_keras()
    return keras.optimizers.SGD(learning_rate=learning_rate, **check_optimizer_options("sgd", options))


def _adam(learning_rate: float, options: Mapping[str, float | bool]) -> Any:
    keras = import_keras()
    return keras.optimizers.Adam(learning_rate=learning_rate, **check_optimizer_options("adam", options))


OPTIMIZERS: Mapping[str, OptimizerBuilder] = MappingProxyType({"sgd": _sgd, "adam": _adam})


def get_optimizer(name: str) -> OptimizerBuilder:
    """Return the builder of the optimizer called ``name``.

    Args:
        name: One of ``OPTIMIZERS``: "sgd", "adam".

    Returns:
        ``builder(learning_rate, options) -> keras.optimizers.Optimizer``.

    Raises:
        UnknownNameError: ``name`` is not an optimizer; the message lists the valid ones.
    """
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise errors.UnknownNameError("optimizer", name, tuple(OPTIMIZERS)) from None

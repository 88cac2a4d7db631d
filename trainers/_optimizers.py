"""Optimizer registry: a name -> ``builder(learning_rate, options) -> keras optimizer``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from optsearch import errors
from optsearch.trainers._keras import import_keras

__all__ = ["OPTIMIZERS", "OPTIMIZER_OPTIONS", "OptimizerBuilder", "get_optimizer", "check_optimizer_options"]

OptionValue = float | bool | str
OptimizerBuilder = Callable[[float, Mapping[str, OptionValue]], Any]

OPTIMIZER_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "sgd": ("momentum", "nesterov", "weight_decay"),
        "adam": ("beta_1", "epsilon", "weight_decay"),
        "adamw": ("weight_decay", "beta_1", "epsilon"),
        "adam-to-sgd": (
            "switch_rule", "switch_fraction", "sgd_learning_rate", "sgd_momentum",
            "swats_epsilon", "beta_1", "epsilon", "weight_decay",
        ),
    }
)

# Options an optimizer cannot do without, and those that belong to one switch rule.
_REQUIRED: Mapping[str, tuple[str, ...]] = MappingProxyType({"adamw": ("weight_decay",)})
_RULE_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"fraction": ("switch_fraction", "sgd_learning_rate"), "swats": ("swats_epsilon",)}
)
# When the spec leaves switch_rule out: the paper's own rule.
_DEFAULT_SWITCH_RULE = "swats"


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


def _missing(name: str, keys: list[str], options: Mapping[str, OptionValue], why: str = "") -> errors.SpecError:
    return errors.SpecError(
        f"Missing option {', '.join(repr(k) for k in keys)} for the {name!r} optimizer{why}. "
        f"Received: {dict(options)!r}. Valid options: {', '.join(OPTIMIZER_OPTIONS[name])}."
    )


def _check_switch_rule(name: str, options: Mapping[str, OptionValue]) -> None:
    """adam-to-sgd: the rule is a known string and its options are there, no others."""
    rule = options.get("switch_rule", _DEFAULT_SWITCH_RULE)
    if not isinstance(rule, str) or rule not in _RULE_OPTIONS:
        raise errors.SpecError(
            f"Argument `switch_rule` of the {name!r} optimizer must be one of "
            f"{', '.join(repr(r) for r in _RULE_OPTIONS)}. Received: switch_rule={rule!r}"
        )
    foreign = sorted(
        key for other, keys in _RULE_OPTIONS.items() if other != rule for key in keys if key in options
    )
    if foreign:
        raise errors.SpecError(
            f"Option {', '.join(repr(k) for k in foreign)} of the {name!r} optimizer does not "
            f"apply with switch_rule={rule!r}. Received: {dict(options)!r}. Options of that "
            f"rule: {', '.join(_RULE_OPTIONS[rule])}."
        )
    missing = [key for key in _RULE_OPTIONS[rule] if key not in options and key != "swats_epsilon"]
    if missing:
        raise _missing(name, missing, options, f" with switch_rule={rule!r}")


def check_optimizer_options(name: str, options: Mapping[str, OptionValue]) -> dict[str, Any]:
    """Validate an optimizer's options and return them as Keras keyword arguments.

    Args:
        name: One of ``OPTIMIZERS``.
        options: Options for that optimizer. sgd: ``momentum`` in [0, 1),
            ``nesterov`` (bool), ``weight_decay`` > 0, all optional. adam: ``beta_1``
            in [0, 1), ``epsilon`` > 0, ``weight_decay`` > 0, all optional.
            adamw: ``weight_decay`` >= 0 (required), ``beta_1``, ``epsilon``.
            adam-to-sgd: ``switch_rule`` "swats" (default) or "fraction";
            with "fraction", ``switch_fraction`` in (0, 1) and ``sgd_learning_rate``
            > 0 (both required); with "swats", ``swats_epsilon`` > 0 (defaults to
            1e-9); either rule: ``sgd_momentum`` in [0, 1) (defaults to 0.9),
            ``beta_1``, ``epsilon`` for the Adam phase, ``weight_decay`` > 0
            (scaled by the rate of the phase in effect). Keras' defaults apply to
            the optional ones left out. In Keras 3, ``weight_decay`` is decoupled
            (``w -= lr * weight_decay * w`` each step) for every optimizer.

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
    missing = [key for key in _REQUIRED.get(name, ()) if key not in options]
    if missing:
        raise _missing(name, missing, options)
    if name == "adam-to-sgd":
        _check_switch_rule(name, options)
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key == "switch_rule":
            kwargs[key] = value  # Checked by _check_switch_rule.
        elif key == "nesterov":
            if not isinstance(value, bool):
                raise errors.SpecError(
                    f"Argument `nesterov` of the {name!r} optimizer must be true or false. "
                    f"Received: nesterov={value!r}"
                )
            kwargs[key] = value
        elif key in ("momentum", "beta_1", "sgd_momentum"):
            kwargs[key] = _number(name, key, value, low=0.0, high=1.0, low_inclusive=True)
        elif key == "switch_fraction":
            kwargs[key] = _number(name, key, value, low=0.0, high=1.0, low_inclusive=False)
        elif key == "weight_decay" and name == "adamw":
            # AdamW without decay is allowed: it makes "no decay" a point of the search.
            kwargs[key] = _number(name, key, value, low=0.0, high=None, low_inclusive=True)
        else:  # epsilon, weight_decay, sgd_learning_rate, swats_epsilon
            kwargs[key] = _number(name, key, value, low=0.0, high=None, low_inclusive=False)
    return kwargs


def _sgd(learning_rate: float, options: Mapping[str, OptionValue]) -> Any:
    keras = import_keras()
    return keras.optimizers.SGD(learning_rate=learning_rate, **check_optimizer_options("sgd", options))


def _adam(learning_rate: float, options: Mapping[str, OptionValue]) -> Any:
    keras = import_keras()
    return keras.optimizers.Adam(learning_rate=learning_rate, **check_optimizer_options("adam", options))


def _adamw(learning_rate: float, options: Mapping[str, OptionValue]) -> Any:
    keras = import_keras()
    return keras.optimizers.AdamW(learning_rate=learning_rate, **check_optimizer_options("adamw", options))


def _adam_to_sgd(learning_rate: float, options: Mapping[str, OptionValue]) -> Any:
    from optsearch.trainers._switching import adam_to_sgd_class

    kwargs = check_optimizer_options("adam-to-sgd", options)
    # The epoch of a "fraction" switch depends on the run's length: train_trial
    # turns switch_fraction into an epoch and switches the optimizer then.
    kwargs.pop("switch_fraction", None)
    kwargs.setdefault("switch_rule", _DEFAULT_SWITCH_RULE)
    return adam_to_sgd_class()(learning_rate=learning_rate, **kwargs)


OPTIMIZERS: Mapping[str, OptimizerBuilder] = MappingProxyType(
    {"sgd": _sgd, "adam": _adam, "adamw": _adamw, "adam-to-sgd": _adam_to_sgd}
)


def get_optimizer(name: str) -> OptimizerBuilder:
    """Return the builder of the optimizer called ``name``.

    Args:
        name: One of ``OPTIMIZERS``: "sgd", "adam", "adamw", "adam-to-sgd".

    Returns:
        ``builder(learning_rate, options) -> keras.optimizers.Optimizer``.

    Raises:
        UnknownNameError: ``name`` is not an optimizer; the message lists the valid ones.
    """
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise errors.UnknownNameError("optimizer", name, tuple(OPTIMIZERS)) from None

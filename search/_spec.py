"""Study specs: what a study compares, on what data, for how long.

A spec comes from a built-in preset or a TOML file, and flags override its fields.
It is validated when built (pydantic, frozen, unknown fields refused) and saved into
the study when the study is created, so every later process reads the same spec.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from optsearch.errors import SpecError
from optsearch.trainers._params import INPUT_PIPELINES

__all__ = [
    "ARMS",
    "FloatRange",
    "StudySpec",
    "load_spec_file",
    "spec_from_mapping",
    "spec_differences",
]

# The arms a spec can compare (the registry with their search spaces is ``_arm_spaces``).
ARMS = ("sgd", "sgd-nesterov", "adam", "adamw", "adam-to-sgd")
SWITCH_RULES = ("fraction", "swats")
SAMPLERS = ("random", "tpe", "qmc")
PRUNERS = ("none", "median", "percentile", "successive-halving", "hyperband")
SCHEDULE_NAMES = ("constant", "step", "exponential", "cosine")


def _one_of(value: str, valid: tuple[str, ...], kind: str) -> str:
    """``value`` if it is one of ``valid``; else the error that lists them."""
    if value not in valid:
        raise ValueError(f"unknown {kind} {value!r}; valid {kind}s: {', '.join(valid)}")
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FloatRange(_Frozen):
    """A float searched between ``low`` and ``high`` (log-uniformly when ``log``)."""

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> FloatRange:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"bounds must be finite. Received: low={self.low}, high={self.high}")
        if self.low > self.high:
            raise ValueError(
                f"`low` must be <= `high`. Received: low={self.low}, high={self.high}"
            )
        if self.log and self.low <= 0:
            raise ValueError(f"`low` must be > 0 when log = true. Received: low={self.low}")
        return self

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def _range(low: float, high: float, log: bool = False) -> Any:
    return Field(default_factory=lambda: FloatRange(low=low, high=high, log=log))


class SGDSpace(_Frozen):
    """SGD with momentum: learning rate, momentum and Nesterov."""

    learning_rate: FloatRange = _range(1e-3, 1.0, log=True)
    momentum: FloatRange = _range(0.0, 0.99)
    nesterov: tuple[bool, ...] = (False, True)

    @field_validator("momentum")
    @classmethod
    def _momentum_below_one(cls, value: FloatRange) -> FloatRange:
        if value.low < 0 or value.high >= 1:
            raise ValueError(
                f"momentum must lie in [0, 1). Received: low={value.low}, high={value.high}"
            )
        return value

    @field_validator("nesterov")
    @classmethod
    def _nesterov_choices(cls, value: tuple[bool, ...]) -> tuple[bool, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"nesterov must list distinct booleans. Received: {list(value)}")
        return value


class AdamSpace(_Frozen):
    """Adam: learning rate, beta_1 and epsilon.

    A large epsilon makes Adam's step behave like momentum SGD's, so it belongs in a
    fair comparison.
    """

    learning_rate: FloatRange = _range(1e-5, 1e-1, log=True)
    beta_1: FloatRange = _range(0.5, 0.99)
    epsilon: FloatRange = _range(1e-8, 1.0, log=True)

    @field_validator("beta_1")
    @classmethod
    def _beta_below_one(cls, value: FloatRange) -> FloatRange:
        if value.low < 0 or value.high >= 1:
            raise ValueError(
                f"beta_1 must lie in [0, 1). Received: low={value.low}, high={value.high}"
            )
        return value


class SGDNesterovSpace(_Frozen):
    """SGD with Nesterov momentum always on: learning rate and momentum."""

    learning_rate: FloatRange = _range(1e-3, 1.0, log=True)
    momentum: FloatRange = _range(0.0, 0.99)

    _momentum_below_one = field_validator("momentum")(SGDSpace._momentum_below_one.__func__)  # type: ignore[attr-defined]


class AdamWSpace(_Frozen):
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, ICLR 2019).

    The weight decay is searched log-uniformly down to values near zero, so "no decay"
    stays within reach of the search.
    """

    learning_rate: FloatRange = _range(1e-5, 1e-1, log=True)
    beta_1: FloatRange = _range(0.5, 0.99)
    epsilon: FloatRange = _range(1e-8, 1.0, log=True)
    weight_decay: FloatRange = _range(1e-6, 1e-1, log=True)

    _beta_below_one = field_validator("beta_1")(AdamSpace._beta_below_one.__func__)  # type: ignore[attr-defined]


class AdamToSGDSpace(_Frozen):
    """Adam first, then SGD with momentum (Keskar & Socher, 2017).

    ``switch_rule = "fraction"`` switches at a searched fraction of the epochs to a
    searched SGD learning rate; ``"swats"`` switches when the bias-corrected average of
    the projected SGD step size settles (|Λ_k − γ_k| < ``swats_epsilon``) and then uses
    Λ_k as SGD's learning rate.
    """

    learning_rate: FloatRange = _range(1e-5, 1e-1, log=True)
    switch_rule: str = "fraction"
    switch_fraction: FloatRange = _range(0.2, 0.8)
    sgd_learning_rate: FloatRange = _range(1e-3, 1.0, log=True)
    sgd_momentum: FloatRange = _range(0.0, 0.99)
    swats_epsilon: float = Field(default=1e-9, gt=0)

    @field_validator("switch_rule")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        return _one_of(value, SWITCH_RULES, "switch_rule")

    @field_validator("switch_fraction")
    @classmethod
    def _inside_training(cls, value: FloatRange) -> FloatRange:
        if value.low <= 0 or value.high >= 1:
            raise ValueError(
                f"switch_fraction must lie in (0, 1). Received: low={value.low}, high={value.high}"
            )
        return value


class ScheduleSpace(_Frozen):
    """The learning-rate decay schedule, shared by both arms.

    Each schedule's own parameters are suggested only when that schedule is chosen.
    """

    choices: tuple[str, ...] = SCHEDULE_NAMES
    step_drop: FloatRange = _range(0.1, 0.5)
    step_every_fraction: FloatRange = _range(0.2, 0.5)
    exponential_rate: FloatRange = _range(1e-3, 0.5, log=True)
    exponential_hold_fraction: FloatRange = _range(0.0, 0.75)
    cosine_final_fraction: FloatRange = _range(0.0, 0.1)

    @field_validator("choices")
    @classmethod
    def _known_schedules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in SCHEDULE_NAMES]
        if unknown or not value or len(set(value)) != len(value):
            raise ValueError(
                f"choices must be distinct names from {', '.join(SCHEDULE_NAMES)}. "
                f"Received: {list(value)}"
            )
        return value


class SearchSpace(_Frozen):
    """What is searched: one space per arm, the schedule and optional weight decay."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    sgd: SGDSpace = Field(default_factory=SGDSpace)
    sgd_nesterov: SGDNesterovSpace = Field(default_factory=SGDNesterovSpace, alias="sgd-nesterov")
    adam: AdamSpace = Field(default_factory=AdamSpace)
    adamw: AdamWSpace = Field(default_factory=AdamWSpace)
    adam_to_sgd: AdamToSGDSpace = Field(default_factory=AdamToSGDSpace, alias="adam-to-sgd")
    schedule: ScheduleSpace = Field(default_factory=ScheduleSpace)
    weight_decay: FloatRange | None = None


class StudySpec(_Frozen):
    """Everything that defines a study.

    Example:
        >>> spec = StudySpec(name="demo", epochs=2, n_trials=8)
        >>> spec.arms
        ('sgd', 'adam')
    """

    name: str = Field(min_length=1, max_length=256)
    description: str = ""
    dataset: str = "digits"
    model: str = "small_cnn"
    epochs: int = Field(default=10, ge=1, le=10_000)
    batch_size: int = Field(default=64, ge=1)
    # Speed only, never results: steps per call into TensorFlow (None: the model's
    # measured best) and XLA compilation (None: Keras' "auto").
    steps_per_execution: int | None = Field(default=None, ge=1)
    jit_compile: bool | None = None
    # "tf.data": a cached, prefetched pipeline (faster; another shuffle order).
    input_pipeline: str = "arrays"
    validation_fraction: float = Field(default=0.2, gt=0, lt=1)
    n_trials: int = Field(default=64, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    seed: int = Field(default=0, ge=0)
    # Added to every trial's training seed; `optsearch verify` sets it so that its
    # retraining runs get seeds no trial of the study used.
    seed_offset: int = Field(default=0, ge=0)
    arms: tuple[str, ...] = ("sgd", "adam")
    references: bool = True
    sampler: str = "random"
    pruner: str = "median"
    pruner_warmup_epochs: int = Field(default=3, ge=0)
    space: SearchSpace = Field(default_factory=SearchSpace)

    @field_validator("arms")
    @classmethod
    def _known_arms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [arm for arm in value if arm not in ARMS]
        if unknown:
            raise ValueError(f"unknown arm {unknown[0]!r}; valid arms: {', '.join(ARMS)}")
        if len(value) < 2 or len(set(value)) != len(value):
            raise ValueError(f"a study compares at least two distinct arms. Received: {list(value)}")
        return value

    @field_validator("input_pipeline")
    @classmethod
    def _known_pipeline(cls, value: str) -> str:
        return _one_of(value, INPUT_PIPELINES, "input_pipeline")

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, value: str) -> str:
        return _one_of(value, SAMPLERS, "sampler")

    @field_validator("pruner")
    @classmethod
    def _known_pruner(cls, value: str) -> str:
        return _one_of(value, PRUNERS, "pruner")

    @field_validator("dataset")
    @classmethod
    def _dataset_form(cls, value: str) -> str:
        # The trainers' registry has the final word (it lists the names); here only
        # the form is checked, so that specs validate without importing TensorFlow.
        if value.startswith("npz:") and len(value) == 4:
            raise ValueError("npz: needs a path, e.g. npz:data/my_arrays.npz")
        return value

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def arm_space(self, arm: str) -> BaseModel:
        """The search space of one arm."""
        return getattr(self.space, arm.replace("-", "_"))

    def search_fields(self) -> dict[str, Any]:
        """The fields that fix what trials mean; they may not change once a study exists.

        The target (``n_trials``), ``timeout``, ``sampler``, ``pruner`` and the
        description may change when a study resumes: each trial records the sampler
        and pruner it ran under.
        """
        changeable = {"n_trials", "timeout", "sampler", "pruner", "pruner_warmup_epochs",
                      "description", "name", "steps_per_execution", "jit_compile"}
        fields = {k: v for k, v in self.to_json_dict().items() if k not in changeable}
        # The spaces of arms the study does not compare change nothing.
        fields["space"] = {k: v for k, v in fields["space"].items() if k in self.arms or k in ("schedule", "weight_decay")}
        return fields


def _format_validation_error(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        received = error.get("input")
        if error["type"] == "extra_forbidden":
            message = "is not a known field"
        elif error["type"] == "missing":
            message = "is required"
        text = f"field `{where}` {message}"
        if error["type"] not in ("missing", "value_error") and not isinstance(received, dict):
            text += f" (received {received!r})"
        lines.append(text)
    return f"Invalid study spec in {source}: " + "; ".join(lines) + "."


def spec_from_mapping(data: Mapping[str, Any], source: str = "the spec") -> StudySpec:
    """Build a spec from plain data, raising :class:`SpecError` that names field and rule."""
    try:
        return StudySpec.model_validate(dict(data))
    except ValidationError as exc:
        raise SpecError(_format_validation_error(exc, source)) from None


def load_spec_file(path: str | Path, name: str | None = None) -> StudySpec:
    """Read a study spec from a TOML file.

    Args:
        path: The TOML file.
        name: The study name, overriding the file's ``name``. The file may omit
            ``name`` when one is given here.

    Raises:
        SpecError: The file is missing, is not valid TOML, or breaks a rule; the
            message names the file, the field and the rule.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"Spec file {str(path)!r} does not exist.") from None
    except OSError as exc:
        raise SpecError(f"Cannot read spec file {str(path)!r}: {exc.strerror}.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"Spec file {str(path)!r} is not valid TOML: {exc}.") from None
    if name is not None:
        data["name"] = name
    return spec_from_mapping(data, source=repr(str(path)))


def spec_differences(saved: StudySpec, wanted: StudySpec) -> list[str]:
    """List the search-defining fields where ``wanted`` differs from ``saved``."""
    return [
        f"{key}: study has {value!r}, new spec has {new!r}"
        for key, value, new in _diff(saved.search_fields(), wanted.search_fields())
    ]


def _diff(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            found += _diff(old.get(key), new.get(key), f"{prefix}{key}.")
        return found
    if old != new:
        return [(prefix.rstrip("."), old, new)]
    return []


"""The parameters of one trial: a plain, immutable record the search hands over."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from optsearch import errors
from optsearch.trainers._optimizers import check_optimizer_options
from optsearch.trainers._schedules import make_schedule

__all__ = ["TrialParams"]


def _empty() -> Mapping[str, float]:
    return MappingProxyType({})


# How training data reaches the model: NumPy arrays, or a cached, reshuffled and
# prefetched tf.data pipeline (faster, another shuffle order).
INPUT_PIPELINES = ("arrays", "tf.data")


@dataclass(frozen=True)
class TrialParams:
    """Everything that decides how one trial trains.

    Attributes:
        optimizer: Optimizer name, one of ``OPTIMIZERS``: "sgd", "adam", "adamw",
            "adam-to-sgd".
        learning_rate: Base learning rate (> 0); for "adam-to-sgd", Adam's.
        optimizer_options: sgd: ``momentum`` in [0, 1), ``nesterov`` (bool);
            adam: ``beta_1`` in [0, 1), ``epsilon`` > 0; adamw: those and
            ``weight_decay`` >= 0 (required); adam-to-sgd: ``switch_rule`` ("fraction"
            or "swats"), ``switch_fraction`` and ``sgd_learning_rate`` (fraction),
            ``swats_epsilon`` (swats), ``sgd_momentum``; any: ``weight_decay`` > 0.
            See ``OPTIMIZER_OPTIONS``; Keras' defaults apply to the ones left out.
        schedule: Learning-rate schedule: "constant", "step", "exponential", "cosine".
        schedule_options: The schedule's options (see ``SCHEDULE_OPTIONS``).
        epochs: Most epochs to train (>= 1).
        batch_size: Examples per gradient step (>= 1).
        seed: Seed for weights, shuffling and dropout.
        steps_per_execution: Training steps run per call into TensorFlow; it changes
            speed, never results. Defaults to None: the model's measured best
            (``STEPS_PER_EXECUTION``).
        input_pipeline: "arrays" (NumPy arrays, the default) or "tf.data" (cached,
            reshuffled each epoch with ``seed``, prefetched: faster, other shuffle order).
        jit_compile: Compile the training step with XLA. Defaults to None: Keras'
            "auto" (off for these models on a CPU; measured not to pay off there).

    Raises:
        SpecError: On construction, when a value breaks its rule.
        UnknownNameError: On construction, for an unknown optimizer or schedule.

    Example:
        >>> TrialParams("sgd", 0.1, {"momentum": 0.9}, epochs=8).learning_rate
        0.1
    """

    optimizer: str
    learning_rate: float
    optimizer_options: Mapping[str, float | bool | str] = field(default_factory=_empty)
    schedule: str = "constant"
    schedule_options: Mapping[str, float] = field(default_factory=_empty)
    epochs: int = 10
    batch_size: int = 64
    seed: int = 0
    steps_per_execution: int | None = None
    jit_compile: bool | None = None
    input_pipeline: str = "arrays"

    def __post_init__(self) -> None:
        # Copies, so the caller's dicts can change later without changing the record.
        object.__setattr__(self, "optimizer_options", MappingProxyType(dict(self.optimizer_options)))
        object.__setattr__(self, "schedule_options", MappingProxyType(dict(self.schedule_options)))
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (lr > 0 and math.isfinite(lr)):
            raise errors.SpecError(
                f"Argument `learning_rate` must be > 0. Received: learning_rate={lr!r}"
            )
        for name, low in (("epochs", 1), ("batch_size", 1), ("seed", 0), ("steps_per_execution", 1)):
            value = getattr(self, name)
            if name == "steps_per_execution" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise errors.SpecError(
                    f"Argument `{name}` must be an integer >= {low}. Received: {name}={value!r}"
                )
        if self.input_pipeline not in INPUT_PIPELINES:
            raise errors.SpecError(
                f"Argument `input_pipeline` must be one of {', '.join(INPUT_PIPELINES)}. "
                f"Received: input_pipeline={self.input_pipeline!r}"
            )
        check_optimizer_options(self.optimizer, self.optimizer_options)
        # Building the schedule checks its name and options without running it.
        make_schedule(self.schedule, float(lr), self.epochs, self.schedule_options)

    def __hash__(self) -> int:  # MappingProxyType is not hashable.
        return hash(
            (
                self.optimizer,
                self.learning_rate,
                tuple(sorted(self.optimizer_options.items())),
                self.schedule,
                tuple(sorted(self.schedule_options.items())),
                self.epochs,
                self.batch_size,
                self.seed,
                self.steps_per_execution,
                self.jit_compile,
                self.input_pipeline,
            )
        )

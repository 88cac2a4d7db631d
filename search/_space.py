"""The search space: what a trial suggests, and the reference configurations.

Parameter names are shared where the meaning is shared (``learning_rate``,
``schedule``) so that Optuna Dashboard and the exports read naturally; each arm's
sampler only ever sees its own arm's trials (see ``_arms.py``), so the different
ranges of the two arms never mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from optsearch._spec import FloatRange, StudySpec

if TYPE_CHECKING:
    import optuna

    from optsearch.trainers import TrialParams

__all__ = ["REFERENCES", "Reference", "references_for", "suggest_trial_params", "trial_seed"]

# Schedule parameters as stored in the study -> option names of the trainer's schedule.
_SCHEDULE_PARAMS: Mapping[str, Mapping[str, str]] = {
    "constant": {},
    "step": {"step_drop": "drop", "step_every_fraction": "every_fraction"},
    "exponential": {"exponential_rate": "rate", "exponential_hold_fraction": "hold_fraction"},
    "cosine": {"cosine_final_fraction": "final_fraction"},
}


@dataclass(frozen=True)
class Reference:
    """A hand-picked configuration run before any sampled trial, as a yardstick."""

    name: str
    description: str
    params: Mapping[str, Any]

    @property
    def arm(self) -> str:
        return str(self.params["optimizer"])


# The three configurations of the write-up that motivated optsearch. They are marked
# with the user attribute ``reference`` and kept out of the random-search statistics:
# they were not drawn from the search distribution.
REFERENCES: tuple[Reference, ...] = (
    Reference(
        "adam-default",
        "Adam at Keras' default learning rate 0.001",
        MappingProxyType(
            {"optimizer": "adam", "learning_rate": 1e-3, "beta_1": 0.9, "epsilon": 1e-7,
             "schedule": "constant"}
        ),
    ),
    Reference(
        "sgd-momentum",
        "SGD at 0.01 with momentum 0.9",
        MappingProxyType(
            {"optimizer": "sgd", "learning_rate": 1e-2, "momentum": 0.9, "nesterov": False,
             "schedule": "constant"}
        ),
    ),
    Reference(
        "sgd-hold-then-decay",
        "SGD at 0.1, held for the first half of training, then multiplied by exp(-0.01) "
        "each epoch",
        MappingProxyType(
            {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.0, "nesterov": False,
             "schedule": "exponential", "exponential_rate": 0.01,
             "exponential_hold_fraction": 0.5}
        ),
    ),
)


def references_for(spec: StudySpec) -> list[Reference]:
    """The reference trials a study runs: those whose arm the spec compares."""
    if not spec.references:
        return []
    return [
        ref
        for ref in REFERENCES
        if ref.arm in spec.arms and ref.params["schedule"] in spec.space.schedule.choices
    ]


def trial_seed(spec: StudySpec, trial_number: int) -> int:
    """The training seed of a trial: fixed by the study seed and the trial number."""
    # A large odd multiplier keeps seeds of neighbouring studies from overlapping.
    return (spec.seed * 1_000_003 + spec.seed_offset + trial_number) % (2**31 - 1)


def _float(trial: optuna.Trial, name: str, rng: FloatRange) -> float:
    return trial.suggest_float(name, rng.low, rng.high, log=rng.log)


# Each arm: which trainer optimizer it uses, and how it suggests its own parameters.
# ``wanted(name)`` is False for parameters a reference trial does not fix.
def _sgd(trial: optuna.Trial, space: Any, wanted: Any) -> tuple[str, float, dict[str, Any]]:
    options: dict[str, Any] = {}
    learning_rate = _float(trial, "learning_rate", space.learning_rate)
    if wanted("momentum"):
        options["momentum"] = _float(trial, "momentum", space.momentum)
    if wanted("nesterov"):
        options["nesterov"] = trial.suggest_categorical("nesterov", list(space.nesterov))
    return "sgd", learning_rate, options


def _sgd_nesterov(trial: optuna.Trial, space: Any, wanted: Any) -> tuple[str, float, dict[str, Any]]:
    learning_rate = _float(trial, "learning_rate", space.learning_rate)
    return "sgd", learning_rate, {"momentum": _float(trial, "momentum", space.momentum), "nesterov": True}


def _adam(trial: optuna.Trial, space: Any, wanted: Any) -> tuple[str, float, dict[str, Any]]:
    options: dict[str, Any] = {}
    learning_rate = _float(trial, "learning_rate", space.learning_rate)
    if wanted("beta_1"):
        options["beta_1"] = _float(trial, "beta_1", space.beta_1)
    if wanted("epsilon"):
        options["epsilon"] = _float(trial, "epsilon", space.epsilon)
    return "adam", learning_rate, options


def _adamw(trial: optuna.Trial, space: Any, wanted: Any) -> tuple[str, float, dict[str, Any]]:
    _, learning_rate, options = _adam(trial, space, wanted)
    options["weight_decay"] = _float(trial, "weight_decay", space.weight_decay)
    return "adamw", learning_rate, options


def _adam_to_sgd(trial: optuna.Trial, space: Any, wanted: Any) -> tuple[str, float, dict[str, Any]]:
    learning_rate = _float(trial, "learning_rate", space.learning_rate)
    options: dict[str, Any] = {"switch_rule": space.switch_rule,
                               "sgd_momentum": _float(trial, "sgd_momentum", space.sgd_momentum)}
    if space.switch_rule == "fraction":
        options["switch_fraction"] = _float(trial, "switch_fraction", space.switch_fraction)
        options["sgd_learning_rate"] = _float(trial, "sgd_learning_rate", space.sgd_learning_rate)
    else:
        options["swats_epsilon"] = space.swats_epsilon
    return "adam-to-sgd", learning_rate, options


ARM_SUGGESTERS: Mapping[str, Any] = MappingProxyType({
    "sgd": _sgd,
    "sgd-nesterov": _sgd_nesterov,
    "adam": _adam,
    "adamw": _adamw,
    "adam-to-sgd": _adam_to_sgd,
})


def suggest_trial_params(trial: optuna.Trial, spec: StudySpec) -> TrialParams:
    """Ask ``trial`` for its parameters and return them as the trainer's record.

    The arm (``optimizer``) comes first; its sampler decides the rest. Schedule
    parameters are suggested only for the schedule chosen, and weight decay only when
    the spec searches it. A reference trial suggests exactly its fixed parameters.
    """
    from optsearch.trainers import TrialParams

    reference = trial.user_attrs.get("reference")
    fixed = next((ref.params for ref in REFERENCES if ref.name == reference), None)

    def wanted(name: str) -> bool:
        return fixed is None or name in fixed

    space = spec.space
    arm = trial.suggest_categorical("optimizer", list(spec.arms))
    optimizer, learning_rate, options = ARM_SUGGESTERS[arm](trial, spec.arm_space(arm), wanted)
    # AdamW searches its own (decoupled) weight decay.
    if space.weight_decay is not None and arm != "adamw" and wanted("weight_decay"):
        options["weight_decay"] = _float(trial, "weight_decay", space.weight_decay)

    schedule = trial.suggest_categorical("schedule", list(space.schedule.choices))
    schedule_options = {
        option: _float(trial, param, getattr(space.schedule, param))
        for param, option in _SCHEDULE_PARAMS[schedule].items()
    }
    return TrialParams(
        optimizer=optimizer,
        learning_rate=learning_rate,
        optimizer_options=options,
        schedule=schedule,
        schedule_options=schedule_options,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        seed=trial_seed(spec, trial.number),
        steps_per_execution=spec.steps_per_execution,
        jit_compile=spec.jit_compile,
        input_pipeline=spec.input_pipeline,
    )

"""Adam that switches to SGD with momentum (Keskar & Socher, 2017, "SWATS").

One optimizer object holds both phases: Adam's moments, an SGD momentum buffer per
variable, and a few scalar state variables (``switched``, ``switch_step``, the SGD
rate, SWATS' λ). Before the switch it takes Adam steps; from the switch on it takes
SGD-with-momentum steps and Adam's moments stay frozen.

What exactly happens, step ``k`` (1-based), with ``lr`` the optimizer's current
``learning_rate`` (set each epoch by the trial's schedule) and ``base`` the rate the
optimizer was built with:

- Adam phase: Keras' Adam, ``m ← β1 m + (1−β1) g``, ``v ← β2 v + (1−β2) g²``,
  ``p_k = −lr √(1−β2^k)/(1−β1^k) · m/(√v + ε)`` (ε added to √v, not √v̂: the form of
  Keras' Adam and of the paper's Algorithm 1), ``w ← w + p_k``.
- SGD phase: Keras' SGD with momentum in buffer form, ``b ← μ b + g``,
  ``w ← w − η b``, with ``η = sgd_rate · lr / base``: the schedule's ratio applies
  to SGD's rate just as it applies to Adam's. The buffer starts at zero at the switch.
- ``switch_rule="fraction"``: :class:`SwitchMonitor` switches at the start of a
  given epoch; ``sgd_rate = sgd_learning_rate``.
- ``switch_rule="swats"``: after each Adam step, with ``p_k`` and ``g_k`` the
  concatenation over all trainable variables (one global estimate, not per layer),
  when ``p_kᵀg_k ≠ 0``: ``γ_k = p_kᵀp_k / (−p_kᵀg_k)``,
  ``λ_k = β2 λ_{k−1} + (1−β2) γ_k``, ``Λ_k = λ_k / (1−β2^k)``; the switch happens
  when ``k > 1`` and ``|Λ_k − γ_k| < swats_epsilon`` and ``Λ_k > 0`` (the last
  condition is ours: a negative rate would make SGD climb). The dot products and
  λ are kept in float64. Step ``k`` itself is still Adam's; SGD starts at ``k + 1``.
  The paper's SGD update is ``w ← w − (1−β1) Λ_k b``; with momentum μ =
  ``sgd_momentum`` in place of β1 this is Keras' SGD with rate ``(1−μ) Λ_k``, so
  the SGD rate right after the switch is ``(1−μ) Λ_k`` (recorded as the switch's
  learning rate) and ``Λ_k`` itself is kept as ``swats_lambda``. Later epochs scale
  it by ``schedule(epoch) / schedule(switch epoch)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from optsearch.trainers._keras import import_keras

__all__ = ["SWITCH_RULES", "SwitchPoint", "adam_to_sgd_class", "make_switch_monitor", "switch_epoch_for"]

SWITCH_RULES = ("fraction", "swats")


def switch_epoch_for(fraction: float, epochs: int) -> int | None:
    """The first epoch (1-based) trained with SGD under the "fraction" rule.

    Adam trains ``round(fraction * epochs)`` epochs (Python's rounding, as the
    schedules use), at least 1 and, when ``epochs > 1``, at most ``epochs − 1``.

    Returns:
        The epoch, or None when a one-epoch run leaves no epoch for SGD.

    Example:
        >>> switch_epoch_for(0.5, 4), switch_epoch_for(0.99, 4), switch_epoch_for(0.5, 1)
        (3, 4, None)
    """
    adam_epochs = min(max(1, round(fraction * epochs)), max(1, epochs - 1))
    return adam_epochs + 1 if adam_epochs < epochs else None


@dataclass(frozen=True)
class SwitchPoint:
    """Where an adam-to-sgd run switched.

    Attributes:
        epoch: The epoch (1-based) holding the first SGD step.
        step: The first optimizer step (1-based) taken with SGD.
        learning_rate: SGD's learning rate at the switch (Keras SGD convention,
            before later epochs' schedule ratios).
    """

    epoch: int
    step: int
    learning_rate: float


@functools.cache
def adam_to_sgd_class() -> type:
    """Build the optimizer class; deferred so Keras is imported only when training."""
    keras = import_keras()
    ops = keras.ops

    class AdamToSGD(keras.optimizers.Optimizer):
        """Adam, then SGD with momentum; see the module docstring for the exact rules.

        Args:
            learning_rate: Adam's learning rate (the trial's base rate).
            switch_rule: "swats" (switch when the rule in the paper fires) or
                "fraction" (switch when :meth:`switch_to_sgd` is called). Defaults to
                "swats".
            sgd_learning_rate: SGD's rate after a "fraction" switch (> 0); required
                for "fraction", unused by "swats".
            sgd_momentum: SGD's momentum in [0, 1). Defaults to 0.9.
            swats_epsilon: Tolerance of the SWATS test (> 0). Defaults to 1e-9.
            beta_1: Adam's β1. Defaults to 0.9.
            beta_2: Adam's β2, also the rate of SWATS' average λ. Defaults to 0.999.
            epsilon: Adam's ε. Defaults to 1e-7 (Keras' Adam).
            weight_decay: Decoupled weight decay (> 0), ``w ← w − η·weight_decay·w``
                each step with η the rate of the phase in effect. Defaults to None.
            name: Defaults to "adam_to_sgd".
        """

        def __init__(
            self,
            learning_rate: float = 1e-3,
            switch_rule: str = "swats",
            sgd_learning_rate: float | None = None,
            sgd_momentum: float = 0.9,
            swats_epsilon: float = 1e-9,
            beta_1: float = 0.9,
            beta_2: float = 0.999,
            epsilon: float = 1e-7,
            weight_decay: float | None = None,
            name: str = "adam_to_sgd",
        ) -> None:
            super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, name=name)
            if switch_rule not in SWITCH_RULES:
                raise ValueError(
                    f"Argument `switch_rule` must be one of {', '.join(SWITCH_RULES)}. "
                    f"Received: switch_rule={switch_rule!r}"
                )
            if switch_rule == "fraction" and not (sgd_learning_rate is not None and sgd_learning_rate > 0):
                raise ValueError(
                    "Argument `sgd_learning_rate` must be > 0 with switch_rule='fraction'. "
                    f"Received: sgd_learning_rate={sgd_learning_rate!r}"
                )
            self.base_learning_rate = float(learning_rate)
            self.switch_rule = switch_rule
            self.sgd_learning_rate = sgd_learning_rate
            self.sgd_momentum = float(sgd_momentum)
            self.swats_epsilon = float(swats_epsilon)
            self.beta_1 = float(beta_1)
            self.beta_2 = float(beta_2)
            self.epsilon = float(epsilon)

        def build(self, variables: list[Any]) -> None:
            if self.built:
                return
            super().build(variables)
            self._adam_m, self._adam_v, self._sgd_buffers = self.add_optimizer_variables(
                variables, ["adam_m", "adam_v", "sgd_buffer"]
            )
            scalar = functools.partial(self.add_variable, (), initializer="zeros")
            self._switched = scalar(dtype="float32", name="switched")
            self._switch_step = scalar(dtype="int64", name="switch_step")
            self._sgd_base_rate = scalar(dtype="float32", name="sgd_base_rate")
            self._lambda = scalar(dtype="float64", name="swats_lambda_average")
            self._swats_lambda = scalar(dtype="float64", name="swats_lambda")
            # The schedule's ratio lr/base in effect at the switch.
            self._switch_ratio = scalar(dtype="float32", name="switch_ratio")

        # -- Python-side views of the state (eager, e.g. from callbacks) -----------

        @property
        def switched(self) -> bool:
            return bool(self.built and float(ops.convert_to_numpy(self._switched)) > 0.5)

        @property
        def switch_step(self) -> int | None:
            """The first step (1-based) taken with SGD, or None before the switch."""
            return int(ops.convert_to_numpy(self._switch_step)) if self.switched else None

        @property
        def swats_lambda(self) -> float | None:
            """SWATS' Λ_k at the switch, or None (no switch, or the "fraction" rule)."""
            if not self.switched or self.switch_rule != "swats":
                return None
            return float(ops.convert_to_numpy(self._swats_lambda))

        @property
        def switch_learning_rate(self) -> float | None:
            """SGD's rate at the moment of the switch, or None before it."""
            if not self.switched:
                return None
            rate = ops.convert_to_numpy(self._sgd_base_rate * self._switch_ratio)
            return float(rate)

        @property
        def current_learning_rate(self) -> float:
            """The rate in effect now: Adam's before the switch, SGD's after it."""
            lr = float(ops.convert_to_numpy(self.learning_rate))
            if not self.switched:
                return lr
            return float(ops.convert_to_numpy(self._sgd_base_rate)) * lr / self.base_learning_rate

        def switch_to_sgd(self) -> None:
            """Switch now (eagerly): the next step is SGD's. Used by the "fraction" rule."""
            if self.switch_rule != "fraction":
                raise ValueError("switch_to_sgd() is for switch_rule='fraction'; SWATS switches itself.")
            if not self.built:
                raise ValueError("The optimizer switches after it is built (after the first step).")
            if self.switched:
                return
            self._switch_ratio.assign(float(ops.convert_to_numpy(self.learning_rate)) / self.base_learning_rate)
            self._switched.assign(1.0)
            self._switch_step.assign(self.iterations + 1)
            self._sgd_base_rate.assign(float(self.sgd_learning_rate))

        # -- The update ---------------------------------------------------------------

        def apply(self, grads: Any, trainable_variables: Any = None) -> None:
            """One step over all variables (the SWATS test needs global dot products).

            Gradient clipping, EMA and gradient accumulation of the Keras base class
            are not supported (the constructor does not take them); weight decay is
            applied here, not by the base class.
            """
            if len(grads) == 0:
                return
            if trainable_variables is None:
                trainable_variables = self._trainable_variables
            else:
                trainable_variables = list(trainable_variables)
                if not self.built:
                    self.build(trainable_variables)
                    self.built = True
            pairs = [(g, v) for g, v in zip(grads, trainable_variables) if g is not None]
            if pairs:
                self._update(pairs)
                for variable in trainable_variables:
                    if variable.constraint is not None:
                        variable.assign(variable.constraint(variable))
            self.iterations.assign_add(1)

        def _update(self, pairs: list[tuple[Any, Any]]) -> None:
            b1, b2, mu = self.beta_1, self.beta_2, self.sgd_momentum
            step = ops.cast(self.iterations + 1, "float32")
            lr = ops.cast(self.learning_rate, "float32")
            ratio = lr / self.base_learning_rate
            sgd_phase = ops.greater(self._switched, 0.5)  # The phase of this step.
            sgd_rate = self._sgd_base_rate * ratio
            alpha = lr * ops.sqrt(1.0 - ops.power(b2, step)) / (1.0 - ops.power(b1, step))
            pp = ops.zeros((), "float64")
            pg = ops.zeros((), "float64")
            for grad, variable in pairs:
                index = self._get_variable_index(variable)
                m, v, buffer = self._adam_m[index], self._adam_v[index], self._sgd_buffers[index]
                grad = ops.cast(grad, variable.dtype)
                m_new = m + (grad - m) * (1.0 - b1)
                v_new = v + (ops.square(grad) - v) * (1.0 - b2)
                adam_step = -ops.cast(alpha, variable.dtype) * m_new / (ops.sqrt(v_new) + self.epsilon)
                buffer_new = mu * buffer + grad
                sgd_step = -ops.cast(sgd_rate, variable.dtype) * buffer_new
                if self.switch_rule == "swats":
                    pp = pp + ops.sum(ops.cast(ops.square(adam_step), "float64"))
                    pg = pg + ops.sum(ops.cast(adam_step * grad, "float64"))
                self.assign(m, ops.where(sgd_phase, m, m_new))
                self.assign(v, ops.where(sgd_phase, v, v_new))
                self.assign(buffer, ops.where(sgd_phase, buffer_new, buffer))
                step_taken = ops.where(sgd_phase, sgd_step, adam_step)
                if self.weight_decay:
                    # Decoupled, as Keras does for every optimizer, scaled by the
                    # rate of the phase in effect.
                    rate = ops.cast(ops.where(sgd_phase, sgd_rate, lr), variable.dtype)
                    step_taken = step_taken - rate * self.weight_decay * variable
                self.assign_add(variable, step_taken)
            if self.switch_rule == "swats":
                self._swats_test(pp, pg, sgd_phase, ops.cast(step, "float64"), ops.cast(ratio, "float64"))

        def _swats_test(self, pp: Any, pg: Any, sgd_phase: Any, step: Any, ratio: Any) -> None:
            b2 = self.beta_2
            defined = ops.logical_and(ops.logical_not(sgd_phase), ops.not_equal(pg, 0.0))
            gamma = pp / ops.where(defined, -pg, 1.0)
            average = ops.where(defined, b2 * self._lambda + (1.0 - b2) * gamma, self._lambda)
            lam = average / (1.0 - ops.power(b2, step))
            fire = ops.logical_and(
                ops.logical_and(defined, ops.greater(step, 1.5)),
                ops.logical_and(ops.less(ops.abs(lam - gamma), self.swats_epsilon), ops.greater(lam, 0.0)),
            )
            # Fold this epoch's schedule ratio into the base rate, so that SGD starts at
            # exactly (1−μ)Λ_k and follows the schedule relative to the switch epoch.
            # fire implies p ≠ 0, hence lr > 0 and ratio > 0.
            safe_ratio = ops.where(fire, ratio, 1.0)
            base = ops.cast((1.0 - self.sgd_momentum) * lam / safe_ratio, "float32")
            self.assign(self._lambda, average)
            self.assign(self._switched, ops.where(fire, 1.0, self._switched))
            self.assign(self._switch_step, ops.where(fire, self.iterations + 2, self._switch_step))
            self.assign(self._swats_lambda, ops.where(fire, lam, self._swats_lambda))
            self.assign(self._sgd_base_rate, ops.where(fire, base, self._sgd_base_rate))
            self.assign(self._switch_ratio, ops.where(fire, ops.cast(ratio, "float32"), self._switch_ratio))

        def get_config(self) -> dict[str, Any]:
            config = super().get_config()
            config.update(
                switch_rule=self.switch_rule,
                sgd_learning_rate=self.sgd_learning_rate,
                sgd_momentum=self.sgd_momentum,
                swats_epsilon=self.swats_epsilon,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
            )
            return config

    return AdamToSGD


@functools.cache
def _switch_monitor_class() -> type:
    keras = import_keras()

    class SwitchMonitor(keras.callbacks.Callback):
        """Switches a "fraction" run at the start of its epoch; locates any switch.

        Notes the first step of every epoch, so the epoch of a SWATS switch is found
        exactly, whatever the number of steps per epoch.
        """

        def __init__(self, switch_epoch: int | None) -> None:
            super().__init__()
            self.switch_epoch = switch_epoch
            self.first_steps: list[int] = []

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            optimizer = self.model.optimizer
            self.first_steps.append(int(keras.ops.convert_to_numpy(optimizer.iterations)) + 1)
            if self.switch_epoch == epoch + 1:
                optimizer.switch_to_sgd()

        def switch_point(self) -> SwitchPoint | None:
            """Where the run switched, or None if it never did."""
            optimizer = self.model.optimizer
            step = optimizer.switch_step
            if step is None:
                return None
            # A SWATS switch on the very last step leaves no SGD step: its epoch is
            # then the one after the last epoch run.
            epoch = sum(1 for first in self.first_steps if first <= step)
            if step > int(keras.ops.convert_to_numpy(optimizer.iterations)):
                epoch = len(self.first_steps) + 1
            return SwitchPoint(epoch=epoch, step=step, learning_rate=optimizer.switch_learning_rate)

    return SwitchMonitor


def make_switch_monitor(switch_epoch: int | None) -> Any:
    """A Keras callback for an adam-to-sgd run (see ``SwitchMonitor``).

    Args:
        switch_epoch: For the "fraction" rule, the first epoch (1-based) to train
            with SGD (see :func:`switch_epoch_for`); None for SWATS or no switch.
    """
    return _switch_monitor_class()(switch_epoch)

from __future__ import annotations

import dataclasses

import pytest

from optsearch.errors import SpecError, UnknownNameError
from optsearch.trainers import MODELS, OPTIMIZER_OPTIONS, OPTIMIZERS, TrialParams, get_model, get_optimizer


def test_defaults_and_immutability() -> None:
    options = {"momentum": 0.9}
    params = TrialParams("sgd", 0.1, options)
    assert (params.schedule, params.epochs, params.batch_size, params.seed) == ("constant", 10, 64, 0)
    options["momentum"] = 0.5  # The record keeps its own copy.
    assert params.optimizer_options["momentum"] == 0.9
    with pytest.raises(TypeError):
        params.optimizer_options["momentum"] = 0.1  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.learning_rate = 1.0  # type: ignore[misc]
    assert params == TrialParams("sgd", 0.1, {"momentum": 0.9})
    assert hash(params) == hash(TrialParams("sgd", 0.1, {"momentum": 0.9}))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"learning_rate": 0}, "Argument `learning_rate` must be > 0. Received: learning_rate=0"),
        ({"learning_rate": -1e-3}, "Received: learning_rate=-0.001"),
        ({"epochs": 0}, "Received: epochs=0"),
        ({"batch_size": 2.5}, "Received: batch_size=2.5"),
        ({"seed": -1}, "Received: seed=-1"),
        ({"optimizer_options": {"momentum": 1.0}}, "Received: momentum=1.0"),
        ({"optimizer_options": {"nesterov": 1}}, "Received: nesterov=1"),
        ({"optimizer_options": {"weight_decay": 0}}, "Received: weight_decay=0"),
        ({"schedule": "step", "schedule_options": {"drop": 0, "every_fraction": 0.5}}, "Received: drop=0"),
    ],
)
def test_bad_values_are_quoted(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"optimizer": "sgd", "learning_rate": 0.1, **kwargs}
    with pytest.raises(SpecError) as caught:
        TrialParams(**arguments)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_unknown_optimizer_option_names_valid_ones() -> None:
    with pytest.raises(SpecError) as caught:
        TrialParams("adam", 1e-3, {"momentum": 0.9})
    message = str(caught.value)
    assert "'momentum'" in message
    assert "beta_1, epsilon, weight_decay" in message


def test_unknown_optimizer_lists_valid_names() -> None:
    with pytest.raises(
        UnknownNameError, match="Unknown optimizer 'rmsprop'. Valid optimizers: sgd, adam, adamw, adam-to-sgd\\."
    ):
        TrialParams("rmsprop", 1e-3)
    with pytest.raises(UnknownNameError, match="sgd, adam"):
        get_optimizer("lion")
    assert set(OPTIMIZERS) == {"sgd", "adam", "adamw", "adam-to-sgd"}
    assert set(OPTIMIZER_OPTIONS) == set(OPTIMIZERS)


def test_adamw_options() -> None:
    assert TrialParams("adamw", 1e-3, {"weight_decay": 0.0}).optimizer_options["weight_decay"] == 0.0
    with pytest.raises(SpecError) as caught:
        TrialParams("adamw", 1e-3, {"beta_1": 0.9})
    assert str(caught.value) == (
        "Missing option 'weight_decay' for the 'adamw' optimizer. Received: {'beta_1': 0.9}. "
        "Valid options: weight_decay, beta_1, epsilon."
    )
    with pytest.raises(SpecError, match=r"must be >= 0\. Received: weight_decay=-0\.1"):
        TrialParams("adamw", 1e-3, {"weight_decay": -0.1})
    with pytest.raises(SpecError, match="Unknown option 'momentum' for the 'adamw' optimizer"):
        TrialParams("adamw", 1e-3, {"weight_decay": 0.01, "momentum": 0.9})
    with pytest.raises(SpecError, match="must be a number. Received: epsilon='tiny'"):
        TrialParams("adamw", 1e-3, {"weight_decay": 0.01, "epsilon": "tiny"})  # type: ignore[dict-item]
    optimizer = get_optimizer("adamw")(2e-3, {"weight_decay": 0.05, "beta_1": 0.8})
    assert type(optimizer).__name__ == "AdamW"
    assert (optimizer.weight_decay, optimizer.beta_1) == pytest.approx((0.05, 0.8))


def test_unknown_schedule_in_params() -> None:
    with pytest.raises(UnknownNameError, match="Valid schedules: constant, step, exponential, cosine"):
        TrialParams("sgd", 0.1, schedule="warmup")


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="Unknown model 'vgg16'. Valid models: small_cnn, resnet20."):
        get_model("vgg16")
    assert set(MODELS) == {"small_cnn", "resnet20"}


def test_importing_the_package_does_not_import_tensorflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys, optsearch.trainers; "
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"

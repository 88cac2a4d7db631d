from __future__ import annotations

import numpy as np
import pytest

from optsearch.errors import SpecError
from optsearch.trainers import TrialParams, get_optimizer, import_keras, load_dataset, switch_epoch_for, train_trial
from optsearch.trainers._switching import adam_to_sgd_class

B1, B2, EPS, LR, MU = 0.9, 0.999, 1e-7, 0.1, 0.9


def _gradients(k: int) -> list[np.ndarray]:
    """A known gradient history (step k, 1-based) over two variables, so the SWATS
    estimate moves slowly and its test crosses a tolerance at a predictable step."""
    return [
        np.array([1.0 + 0.5 * 0.7**k, -2.0], np.float32),
        np.array([[0.3 - 0.2 * 0.8**k]], np.float32),
    ]


def _swats_by_hand(steps: int) -> list[tuple[float, float]]:
    """(γ_k, Λ_k) for k = 1..steps, in float64, with p_k over both variables."""
    m = [np.zeros(2), np.zeros((1, 1))]
    v = [np.zeros(2), np.zeros((1, 1))]
    lam = 0.0
    history = []
    for k in range(1, steps + 1):
        g = [x.astype(np.float64) for x in _gradients(k)]
        alpha = LR * np.sqrt(1 - B2**k) / (1 - B1**k)
        p = []
        for i in range(2):
            m[i] = B1 * m[i] + (1 - B1) * g[i]
            v[i] = B2 * v[i] + (1 - B2) * g[i] ** 2
            p.append(-alpha * m[i] / (np.sqrt(v[i]) + EPS))
        pp = sum(float((x * x).sum()) for x in p)
        pg = sum(float((x * y).sum()) for x, y in zip(p, g))
        gamma = pp / -pg
        lam = B2 * lam + (1 - B2) * gamma
        history.append((gamma, lam / (1 - B2**k)))
    return history


def _variables(keras):
    return [keras.Variable(np.array([0.5, -0.5], np.float32)), keras.Variable(np.array([[1.0]], np.float32))]


def _values(variables) -> list[np.ndarray]:
    return [np.array(v.numpy(), np.float64) for v in variables]


def test_swats_switches_where_the_rule_says_then_takes_sgd_steps() -> None:
    keras = import_keras()
    history = _swats_by_hand(60)
    gaps = [abs(lam - gamma) for gamma, lam in history]
    # A tolerance between two neighbouring gaps (k = 35, 36), below the gap at k = 2,
    # so the switch is at k = 36 with a few per cent margin on either side.
    tolerance = 0.00086
    expected_k = next(k for k in range(2, 61) if gaps[k - 1] < tolerance)
    assert expected_k == 36
    assert min(gaps[1:expected_k - 1]) > 1.01 * tolerance and gaps[expected_k - 1] < 0.99 * tolerance
    expected_lambda = history[expected_k - 1][1]

    optimizer = adam_to_sgd_class()(learning_rate=LR, switch_rule="swats", swats_epsilon=tolerance, sgd_momentum=MU)
    adam = keras.optimizers.Adam(learning_rate=LR)
    variables, adam_variables = _variables(keras), _variables(keras)
    for k in range(1, expected_k + 1):
        assert not optimizer.switched, f"switched early, before step {k}"
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in _gradients(k)], variables)
        adam.apply([keras.ops.convert_to_tensor(g) for g in _gradients(k)], adam_variables)
    # Up to and including step k the steps were Adam's, exactly Keras' Adam.
    for ours, keras_adam in zip(_values(variables), _values(adam_variables)):
        np.testing.assert_allclose(ours, keras_adam, rtol=1e-5)
    assert optimizer.switched
    assert optimizer.switch_step == expected_k + 1
    assert optimizer.swats_lambda == pytest.approx(expected_lambda, rel=1e-5)
    sgd_rate = (1 - MU) * expected_lambda
    assert optimizer.switch_learning_rate == pytest.approx(sgd_rate, rel=1e-5)
    assert optimizer.current_learning_rate == pytest.approx(sgd_rate, rel=1e-5)

    # From step k + 1: SGD with momentum, buffer b <- mu b + g, w <- w - rate b.
    buffers = [np.zeros(2), np.zeros((1, 1))]
    adam_m = [np.array(m.numpy()) for m in optimizer._adam_m]
    for k in range(expected_k + 1, expected_k + 6):
        before = _values(variables)
        gradients = _gradients(k)
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in gradients], variables)
        for i, (after, start) in enumerate(zip(_values(variables), before)):
            buffers[i] = MU * buffers[i] + gradients[i]
            np.testing.assert_allclose(after - start, -sgd_rate * buffers[i], rtol=1e-4, atol=1e-9)
            np.testing.assert_allclose(optimizer._sgd_buffers[i].numpy(), buffers[i], rtol=1e-6)
    # Adam's moments stay frozen after the switch; the switch point does not move.
    for frozen, now in zip(adam_m, optimizer._adam_m):
        np.testing.assert_array_equal(frozen, now.numpy())
    assert optimizer.switch_step == expected_k + 1


def test_swats_learning_rate_follows_the_schedule_after_the_switch() -> None:
    keras = import_keras()
    optimizer = adam_to_sgd_class()(learning_rate=LR, swats_epsilon=1.0)  # Switches at k = 2.
    variables = _variables(keras)
    for k in (1, 2):
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in _gradients(k)], variables)
    assert optimizer.switch_step == 3
    rate = optimizer.switch_learning_rate
    optimizer.learning_rate = LR / 4  # What LearningRateScheduler does at an epoch's start.
    assert optimizer.current_learning_rate == pytest.approx(rate / 4, rel=1e-6)
    before = _values(variables)
    optimizer.apply([keras.ops.convert_to_tensor(g) for g in _gradients(3)], variables)
    for after, start, g in zip(_values(variables), before, _gradients(3)):
        np.testing.assert_allclose(after - start, -rate / 4 * g, rtol=1e-4)


def test_fraction_switch_on_request_and_swats_cannot_be_forced() -> None:
    keras = import_keras()
    optimizer = get_optimizer("adam-to-sgd")(
        LR, {"switch_rule": "fraction", "switch_fraction": 0.5, "sgd_learning_rate": 0.05, "sgd_momentum": 0.5}
    )
    variables = _variables(keras)
    optimizer.apply([keras.ops.convert_to_tensor(g) for g in _gradients(1)], variables)
    assert not optimizer.switched and optimizer.switch_step is None
    optimizer.switch_to_sgd()
    assert optimizer.switch_step == 2 and optimizer.switch_learning_rate == pytest.approx(0.05)
    before = _values(variables)
    optimizer.apply([keras.ops.convert_to_tensor(g) for g in _gradients(2)], variables)
    for after, start, g in zip(_values(variables), before, _gradients(2)):
        np.testing.assert_allclose(after - start, -0.05 * g, rtol=1e-5)
    # Decoupled weight decay, at SGD's rate after the switch (as the search adds it).
    decaying = get_optimizer("adam-to-sgd")(
        LR, {"switch_rule": "fraction", "switch_fraction": 0.5, "sgd_learning_rate": 0.05,
             "sgd_momentum": 0.0, "weight_decay": 0.1}
    )
    variables = _variables(keras)
    decaying.apply([keras.ops.convert_to_tensor(g) for g in _gradients(1)], variables)
    decaying.switch_to_sgd()
    before = _values(variables)
    decaying.apply([keras.ops.convert_to_tensor(g) for g in _gradients(2)], variables)
    for after, start, g in zip(_values(variables), before, _gradients(2)):
        np.testing.assert_allclose(after - start, -0.05 * g - 0.05 * 0.1 * start, rtol=1e-5)
    swats = get_optimizer("adam-to-sgd")(LR, {})
    assert swats.switch_rule == "swats" and swats.swats_epsilon == 1e-9
    with pytest.raises(ValueError, match="SWATS switches itself"):
        swats.switch_to_sgd()


@pytest.mark.parametrize(
    ("fraction", "epochs", "expected"),
    [(0.5, 4, 3), (0.01, 4, 2), (0.99, 4, 4), (0.5, 1, None), (0.9, 2, 2), (0.3, 10, 4)],
)
def test_switch_epoch_for(fraction: float, epochs: int, expected: int | None) -> None:
    assert switch_epoch_for(fraction, epochs) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"switch_rule": "never"}, "must be one of 'fraction', 'swats'. Received: switch_rule='never'"),
        ({"switch_rule": 1}, "Received: switch_rule=1"),
        ({"switch_rule": "fraction", "sgd_learning_rate": 0.1}, "Missing option 'switch_fraction'"),
        ({"switch_rule": "fraction", "switch_fraction": 0.5}, "Missing option 'sgd_learning_rate'"),
        ({"switch_fraction": 0.5}, "Option 'switch_fraction' of the 'adam-to-sgd' optimizer does not apply"),
        ({"switch_rule": "fraction", "switch_fraction": 1.0, "sgd_learning_rate": 0.1},
         "Argument `switch_fraction` of the 'adam-to-sgd' optimizer must be in (0, 1). Received: switch_fraction=1.0"),
        ({"switch_rule": "fraction", "switch_fraction": 0.5, "sgd_learning_rate": 0},
         "Received: sgd_learning_rate=0"),
        ({"switch_rule": "fraction", "switch_fraction": 0.5, "sgd_learning_rate": 0.1, "swats_epsilon": 1e-9},
         "does not apply with switch_rule='fraction'"),
        ({"sgd_momentum": 1.0}, "must be in [0, 1). Received: sgd_momentum=1.0"),
        ({"swats_epsilon": "small"}, "must be a number. Received: swats_epsilon='small'"),
        ({"swats_epsilon": 0.0}, "Received: swats_epsilon=0.0"),
        ({"momentum": 0.9}, "Unknown option 'momentum' for the 'adam-to-sgd' optimizer"),
    ],
)
def test_adam_to_sgd_options_are_checked(options: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        TrialParams("adam-to-sgd", 1e-3, options)  # type: ignore[arg-type]
    assert message in str(caught.value)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.mark.slow
def test_fraction_rule_switches_at_its_epoch_in_real_training(digits) -> None:
    params = TrialParams(
        "adam-to-sgd",
        3e-3,
        {"switch_rule": "fraction", "switch_fraction": 0.5, "sgd_learning_rate": 0.05},
        schedule="step",
        schedule_options={"drop": 0.5, "every_fraction": 0.25},  # Halves every epoch.
        epochs=4,
    )
    result = train_trial(params, digits, "small_cnn")
    assert (result.switch_epoch, result.switch_learning_rate) == (3, pytest.approx(0.05 * 0.25))
    steps_per_epoch = -(-len(digits.x_train) // params.batch_size)
    assert result.switch_step == 2 * steps_per_epoch + 1
    # The curve's rate is Adam's scheduled rate, then SGD's times the schedule's ratio.
    assert [r.learning_rate for r in result.curve] == pytest.approx(
        [3e-3, 1.5e-3, 0.05 * 0.25, 0.05 * 0.125]
    )
    assert len(result.curve) == 4 and not result.diverged
    assert result.test_accuracy is not None and result.test_accuracy > 0.3


@pytest.mark.slow
def test_swats_in_graph_mode_and_xla(digits) -> None:
    """The optimizer compiles under tf.function and XLA (as on a GPU, where Keras
    turns jit_compile on) and takes the switch inside model.fit."""
    keras = import_keras()
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(digits.input_shape), keras.layers.Flatten(), keras.layers.Dense(10)])
    # A loose tolerance, so the switch happens within the first epoch.
    optimizer = adam_to_sgd_class()(learning_rate=1e-3, swats_epsilon=1e-2)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    model.fit(digits.x_train, digits.y_train, epochs=2, batch_size=64, verbose=0)
    assert optimizer.switched
    assert optimizer.switch_step is not None and optimizer.switch_step > 2
    assert optimizer.switch_learning_rate == pytest.approx(0.1 * optimizer.swats_lambda, rel=1e-5)


@pytest.mark.slow
def test_swats_trial_records_its_switch(digits) -> None:
    # γ_k is about lr / mean|g|, near 2 here: the paper's 1e-9 never fires in two
    # epochs; 0.1 switches early in epoch 2.
    params = TrialParams("adam-to-sgd", 1e-3, {"swats_epsilon": 0.1, "sgd_momentum": 0.8}, epochs=2)
    result = train_trial(params, digits, "small_cnn")
    steps_per_epoch = -(-len(digits.x_train) // params.batch_size)
    assert result.switch_step is not None
    assert result.switch_epoch == (result.switch_step - 1) // steps_per_epoch + 1
    assert result.switch_learning_rate > 0
    assert result.curve[-1].learning_rate == pytest.approx(result.switch_learning_rate, rel=1e-5)
    if result.switch_epoch == 2:
        assert result.curve[0].learning_rate == pytest.approx(1e-3)


@pytest.mark.slow
def test_adamw_trains(digits) -> None:
    result = train_trial(TrialParams("adamw", 3e-3, {"weight_decay": 1e-2}, epochs=2), digits, "small_cnn")
    assert len(result.curve) == 2 and result.test_accuracy is not None
    assert result.switch_epoch is None and result.switch_step is None and result.switch_learning_rate is None
    assert [r.learning_rate for r in result.curve] == pytest.approx([3e-3, 3e-3])

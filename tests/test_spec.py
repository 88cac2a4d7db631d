from __future__ import annotations

import pytest

from optsearch._presets import PRESETS, get_preset
from optsearch._spec import StudySpec, load_spec_file, spec_differences, spec_from_mapping
from optsearch.errors import SpecError, UnknownNameError, UsageError


def test_preset_meets_the_budget_curve_minimum() -> None:
    spec = get_preset("sgd-vs-adam")
    assert spec.arms == ("sgd", "adam")
    assert spec.sampler == "random"
    # References included, each arm still gets at least 30 sampled trials.
    assert spec.n_trials - 3 >= 2 * 30
    assert spec.dataset == "digits"


def test_preset_can_take_another_study_name() -> None:
    assert get_preset("sgd-vs-adam", "mine").name == "mine"


def test_unknown_preset_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_preset("sgd-vs-rmsprop")
    assert "sgd-vs-rmsprop" in str(info.value)
    for name in PRESETS:
        assert name in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"epochs": 0}, "field `epochs` Input should be greater than or equal to 1 (received 0)"),
        ({"sampler": "grid"}, "unknown sampler 'grid'; valid samplers: random, tpe, qmc"),
        ({"pruner": "wilcoxon"}, "valid pruners: none, median, percentile, successive-halving, hyperband"),
        ({"arms": ["sgd"]}, "at least two distinct arms"),
        ({"arms": ["sgd", "rmsprop"]}, "unknown arm 'rmsprop'"),
        ({"bogus": 1}, "field `bogus` is not a known field"),
        ({"space": {"sgd": {"momentum": {"low": 0.0, "high": 1.0}}}}, "momentum must lie in [0, 1)"),
        ({"space": {"adam": {"learning_rate": {"low": 0.0, "high": 0.1, "log": True}}}},
         "`low` must be > 0 when log = true. Received: low=0.0"),
        ({"space": {"schedule": {"choices": ["constant", "triangle"]}}}, "choices must be distinct names"),
        ({"validation_fraction": 1.5}, "field `validation_fraction`"),
    ],
)
def test_bad_fields_name_the_field_and_the_rule(fields: dict, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        spec_from_mapping({"name": "x", **fields}, source="'my.toml'")
    message = str(info.value)
    assert "'my.toml'" in message
    assert expected in message


def test_spec_is_immutable() -> None:
    spec = StudySpec(name="x")
    with pytest.raises(Exception):
        spec.epochs = 3  # type: ignore[misc]


def test_spec_file_round_trip_and_name_override(tmp_path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(
        'epochs = 3\nn_trials = 12\n[space.sgd]\nmomentum = { low = 0.5, high = 0.95 }\n'
    )
    spec = load_spec_file(path, name="from-flag")
    assert (spec.name, spec.epochs, spec.n_trials) == ("from-flag", 3, 12)
    assert spec.space.sgd.momentum.low == 0.5
    # Fields the file leaves out keep their defaults.
    assert spec.space.adam.learning_rate.high == pytest.approx(0.1)


def test_spec_file_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_spec_file(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("epochs = \n")
    with pytest.raises(SpecError, match="broken.toml.*not valid TOML"):
        load_spec_file(broken, name="x")
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = -2\n")
    with pytest.raises(SpecError) as info:
        load_spec_file(bad, name="x")
    assert "bad.toml" in str(info.value) and "`epochs`" in str(info.value)
    assert isinstance(info.value, UsageError)


def test_differences_cover_search_fields_only() -> None:
    saved = StudySpec(name="x")
    changed = spec_from_mapping(
        {**saved.to_json_dict(), "n_trials": 5, "timeout": 10, "epochs": 3,
         "space": {"sgd": {"momentum": {"low": 0.1, "high": 0.9}}}}
    )
    differences = spec_differences(saved, changed)
    assert any(d.startswith("epochs: study has 10, new spec has 3") for d in differences)
    assert any(d.startswith("space.sgd.momentum.low") for d in differences)
    assert not any(d.startswith(("n_trials", "timeout")) for d in differences)

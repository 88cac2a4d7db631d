"""The verdict on constructed studies: SGD clearly wins, clearly loses, or crosses back and forth."""

from __future__ import annotations

import json
import re

import numpy as np
import optuna
import pytest
from click.testing import CliRunner
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from optsearch.cli import cli
from optsearch.dashboards import (
    NotEnoughTrialsError,
    compute_report,
    report_figures,
    report_html,
    report_json,
    report_budgets,
)

ARM = CategoricalDistribution(["sgd", "adam", "adamw"])
LR = FloatDistribution(1e-5, 1.0, log=True)


def _trial(arm: str, value: float, *, state=TrialState.COMPLETE, epochs: int = 4, **attrs) -> optuna.trial.FrozenTrial:
    curve = [{"epoch": e, "val_accuracy": value * e / epochs, "loss": 1.0, "accuracy": value,
              "val_loss": 1.0, "learning_rate": 0.01, "seconds": 0.1} for e in range(1, epochs + 1)]
    return create_trial(
        state=state, value=value if state != TrialState.FAIL else None,
        params={"optimizer": arm, "learning_rate": 0.01 + value / 10, **({"momentum": value / 2} if arm == "sgd" else {})},
        distributions={"optimizer": ARM, "learning_rate": LR,
                       **({"momentum": FloatDistribution(0.0, 0.99)} if arm == "sgd" else {})},
        user_attrs={"sampler": "random", "test_accuracy": value - 0.01, "train_accuracy_at_best": value + 0.01,
                    "curve": curve, "epochs_trained": epochs, "seconds": 1.0, **attrs},
        intermediate_values={e: value * e / epochs for e in range(1, epochs + 1)},
    )


def _trials(sgd: list[float], adam: list[float], **extra) -> list[optuna.trial.FrozenTrial]:
    trials = [_trial("sgd", v) for v in sgd] + [_trial("adam", v) for v in adam]
    for number, trial in enumerate(trials):
        trial.number = number
    return trials


def _report(sgd, adam, **kwargs):
    return compute_report("s", _trials(sgd, adam), ("sgd", "adam"), n_resamples=1000, **kwargs)


def test_sgd_that_is_always_better_crosses_at_once() -> None:
    rng = np.random.default_rng(0)
    report = _report(list(0.90 + 0.05 * rng.random(40)), list(0.70 + 0.05 * rng.random(40)))
    assert report.crossover.k_star == 1
    assert report.crossover.k_half == 1
    assert report.verdict.startswith("SGD overtakes Adam after about 1 random-search trials")
    assert all(lo > 0 for lo in report.gap.lower)


def test_sgd_that_is_always_worse_never_crosses_and_says_so() -> None:
    rng = np.random.default_rng(1)
    report = _report(list(0.60 + 0.05 * rng.random(30)), list(0.90 + 0.05 * rng.random(30)))
    assert report.crossover.k_star is None and report.crossover.k_half is None
    assert "does not overtake Adam within 30 random-search trials" in report.verdict
    assert not re.search(r"after about \d", report.verdict)


def test_high_variance_sgd_overtakes_a_steady_adam_later() -> None:
    # Adam: every configuration is decent. SGD: most are poor, a fifth are excellent.
    rng = np.random.default_rng(2)
    sgd = [0.97 + 0.01 * rng.random() if i % 5 == 0 else 0.3 + 0.2 * rng.random() for i in range(60)]
    adam = list(0.90 + 0.02 * rng.random(60))
    report = _report(sgd, adam)
    c = report.crossover
    assert c.k_half is not None and c.k_half > 1  # Adam leads at small budgets…
    assert report.gap.estimate[0] < 0
    assert c.k_star is not None and c.k_star > c.k_half  # …SGD leads reliably later
    assert all(lo > 0 for lo in report.gap.lower[c.k_star - 1:])
    low, high = c.k_star_ci
    assert low is not None and low <= c.k_star
    assert "SGD overtakes Adam after about" in report.verdict and "Adam is ahead" in report.verdict


def test_crossing_back_and_forth_takes_the_point_after_which_it_stays() -> None:
    rng = np.random.default_rng(3)
    sgd = [0.99 if i % 10 == 0 else 0.5 + 0.1 * rng.random() for i in range(50)]
    adam = [0.95 + 0.01 * rng.random() if i % 3 == 0 else 0.6 for i in range(50)]
    report = _report(sgd, adam)
    lower = np.asarray(report.gap.lower)
    if report.crossover.k_star is not None:
        assert (lower[report.crossover.k_star - 1:] > 0).all()
        assert report.crossover.k_star == 1 or lower[report.crossover.k_star - 2] <= 0


def test_only_random_search_trials_enter_and_the_counts_say_so() -> None:
    trials = _trials([0.5, 0.6, 0.7], [0.8, 0.85, 0.9])
    trials.append(_trial("adam", 0.99, reference="adam-default"))
    trials.append(_trial("sgd", 0.99, sampler="tpe"))
    trials.append(_trial("sgd", 0.0, state=TrialState.FAIL))
    trials.append(_trial("sgd", 0.75, state=TrialState.PRUNED))
    for number, trial in enumerate(trials):
        trial.number = number
    report = compute_report("s", trials, ("sgd", "adam"), n_resamples=1000)
    sgd, adam = report.arm("sgd"), report.arm("adam")
    assert (sgd.n_trials, sgd.n_pruned, sgd.n_failed, sgd.n_other_sampler) == (4, 1, 1, 1)
    assert (adam.n_trials, adam.n_references) == (3, 1)
    assert sgd.best_value == pytest.approx(0.75)  # neither the TPE trial nor the failed one
    assert report.K == 3
    assert report.crossover.reference_name == "adam-default"
    assert report.crossover.reference_value == pytest.approx(0.99)
    assert report.crossover.k_vs_reference is None
    assert any("not pooled" in note for note in report.notes)


def test_too_few_trials_says_how_many_are_needed() -> None:
    with pytest.raises(NotEnoughTrialsError, match="sgd has 1; each arm needs at least 2"):
        _report([0.5], [0.6, 0.7])


def test_json_has_the_documented_top_level() -> None:
    data = json.loads(report_json(_report([0.5, 0.6, 0.9, 0.4], [0.7, 0.8, 0.75, 0.6])))
    assert {"arms", "gap", "win_probability", "crossover"} <= set(data)
    sgd = data["arms"]["sgd"]
    assert {"n_trials", "expected_best", "expected_best_lower", "expected_best_upper", "best_value",
            "best_test_accuracy"} <= set(sgd)
    assert len(sgd["expected_best"]) == 4 and sgd["expected_best"][0] == pytest.approx(0.6)
    assert sgd["expected_best"][-1] == pytest.approx(0.9)
    assert "k_star" in data["crossover"]


def test_html_opens_offline_and_holds_every_figure() -> None:
    rng = np.random.default_rng(4)
    report = _report(list(0.5 + 0.4 * rng.random(12)), list(0.6 + 0.3 * rng.random(12)))
    figures = report_figures(report)
    page = report_html(report, figures)
    # No script, style or image is fetched from the network: everything is inline.
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?:", page)
    assert "plotly.js v" in page or "plotly.js" in page
    assert page.count("Plotly.newPlot") == len(figures) >= 7
    for title in ("Expected best validation accuracy", "Gap:", "Probability that the best",
                  "epochs spent", "Learning curves", "learning rate and momentum", "Optimization history"):
        assert title in page, title
    assert report.verdict.split(":")[0] in page


def test_budgets_shown() -> None:
    assert report_budgets(30) == [1, 2, 5, 10, 20, 30]
    assert report_budgets(3) == [1, 2, 3]
    assert report_budgets(100) == [1, 2, 5, 10, 20, 50, 100]


def test_report_cli_on_missing_too_small_and_running_studies(tmp_path) -> None:
    from optsearch._spec import StudySpec
    from optsearch._study import open_study
    from optsearch.storage import open_storage

    url = f"sqlite:///{tmp_path / 'r.db'}"
    runner = CliRunner()
    missing = runner.invoke(cli, ["report", "--study", "ghost", "--storage", url], obj={})
    assert missing.exit_code == 2 and "No study named 'ghost'" in missing.output

    storage = open_storage(url)
    study, _ = open_study(storage, StudySpec(name="small", references=False))
    for trial in _trials([0.5], [0.6, 0.7]):
        study.add_trial(trial)
    small = runner.invoke(cli, ["report", "--study", "small", "--storage", url], obj={})
    assert small.exit_code == 2 and "needs at least 2" in small.output and "Traceback" not in small.output

    study.add_trial(_trial("sgd", 0.8))
    study.ask()  # a trial still running
    running = runner.invoke(cli, ["report", "--study", "small", "--storage", url, "--json"], obj={})
    assert running.exit_code == 0, running.output
    data = json.loads(running.output)
    assert any("still running" in note for note in data["notes"])
    page = tmp_path / "r.html"
    assert runner.invoke(cli, ["report", "--study", "small", "--storage", url, "--html", str(page)], obj={}).exit_code == 0
    assert page.stat().st_size > 1_000_000  # Plotly's JavaScript travels inside the page


def test_more_than_two_arms_get_pairwise_crossovers_and_best_probabilities() -> None:
    rng = np.random.default_rng(5)
    values = {"sgd": 0.80 + 0.05 * rng.random(20), "adam": 0.60 + 0.05 * rng.random(20),
              "adamw": 0.70 + 0.05 * rng.random(20)}
    trials = [_trial(arm, float(v)) for arm, vs in values.items() for v in vs]
    for number, trial in enumerate(trials):
        trial.number = number
    report = compute_report("zoo", trials, ("sgd", "adam", "adamw"), n_resamples=1000)
    pairs = {(p.arm, p.other): p.k_star for p in report.pairwise}
    assert len(pairs) == 6
    assert pairs[("sgd", "adam")] == 1 and pairs[("sgd", "adamw")] == 1 and pairs[("adamw", "adam")] == 1
    assert pairs[("adam", "sgd")] is None and pairs[("adam", "adamw")] is None
    totals = np.sum([report.best_probability[arm] for arm in values], axis=0)
    assert np.allclose(totals, 1.0)
    assert report.best_probability["sgd"][0] == pytest.approx(1.0)
    data = json.loads(report_json(report))
    assert len(data["pairwise"]) == 6 and set(data["best_probability"]) == set(values)
    page = report_html(report, report_figures(report))
    assert "Probability of being the best arm" in page and "Crossover budget of each arm" in page


def test_budgets_stop_at_the_cap_and_say_so(monkeypatch) -> None:
    import optsearch.dashboards._report as report_module

    monkeypatch.setattr(report_module, "MAX_BUDGET", 3)
    report = _report([0.5, 0.6, 0.7, 0.8, 0.9], [0.55, 0.65, 0.75, 0.85, 0.95])
    assert report.K == 3 and len(report.arm("sgd").expected_best) == 3
    assert any("Budgets stop at k = 3" in note for note in report.notes)

"""Publishing the verdict into the study, where optuna-dashboard shows it.

The verdict sentence and the crossover budgets become the study's note (Markdown);
the report's main figures become the study's saved Plotly figures. Every figure has a
fixed id, and the note is one per study, so publishing again replaces them instead of
piling up copies.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from optsearch.dashboards._figures import (
    expected_best_figure,
    gap_figure,
    learning_curves_figure,
    win_probability_figure,
)

if TYPE_CHECKING:
    import optuna

    from optsearch.dashboards._report import Report

__all__ = ["PUBLISHED_FIGURES", "publish_report", "report_note"]

# Ids of the figures this module owns in a study (valid HTML ids, as the dashboard wants).
PUBLISHED_FIGURES = {
    "optsearch-expected-best": expected_best_figure,
    "optsearch-gap": gap_figure,
    "optsearch-win-probability": win_probability_figure,
    "optsearch-learning-curves": learning_curves_figure,
}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def report_note(report: Report) -> str:
    """The study's note: the verdict first, then the numbers behind it."""
    c = report.crossover
    never = f"not within {c.K} trials"
    lines = [
        "## Verdict (optsearch report)",
        "",
        f"**{report.verdict}**",
        "",
        f"- Crossover k\\* (lower 95% bound of the gap above zero from then on): "
        f"{c.k_star if c.k_star is not None else never}"
        + ("" if c.k_star is None else f" (95% CI {c.k_star_ci[0] or '?'} to {c.k_star_ci[1] or f'more than {c.K}'})"),
        f"- First k where P({c.first} wins) reaches 0.5: {c.k_half if c.k_half is not None else never}",
    ]
    if c.reference_name:
        lines.append(
            f"- First k where {c.first}'s expected best passes the reference `{c.reference_name}` "
            f"({_pct(c.reference_value)}): {c.k_vs_reference if c.k_vs_reference is not None else never}"
        )
    for arm in report.arms:
        lines.append(
            f"- {arm.arm}: {arm.n_trials} random-search trials ({arm.n_pruned} pruned, "
            f"{arm.n_diverged} diverged), {arm.n_failed} failed; best {_pct(arm.best_value)} "
            f"(trial {arm.best_trial}, test {_pct(arm.best_test_accuracy)})"
        )
    lines += ["", *[f"_{note}_" for note in report.notes], "",
              f"Published {dt.datetime.now().isoformat(timespec='seconds')}; "
              "run `optsearch report --study NAME --publish` to refresh."]
    return "\n".join(lines) + "\n"


def publish_report(study: optuna.Study, report: Report) -> list[str]:
    """Write the note and the main figures into ``study``; return the figure ids."""
    import optuna_dashboard

    optuna_dashboard.save_note(study, report_note(report))
    for figure_id, draw in PUBLISHED_FIGURES.items():
        optuna_dashboard.save_plotly_graph_object(study, draw(report), graph_object_id=figure_id)
    return list(PUBLISHED_FIGURES)

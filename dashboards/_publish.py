"""Publishing the verdict into the study, where optuna-dashboard shows it.

The verdict sentence and the crossover budgets become the study's note (Markdown);
the report's main figures become the study's saved Plotly figures. Every figure has a
fixed id, and the note is one per study, so publishing again replaces them instead of
piling up copies.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from optsearch.dashboards._report import arm_lines, crossover_lines
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


def report_note(report: Report) -> str:
    """The study's note: the verdict first, then the numbers behind it."""
    # Markdown would read "k*" as the start of emphasis.
    facts = [line.replace("k*", "k\\*") for line in crossover_lines(report)] + arm_lines(report)
    lines = ["## Verdict (optsearch report)", "", f"**{report.verdict}**", "", *[f"- {f}" for f in facts]]
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

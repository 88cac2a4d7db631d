"""Reading studies: the verdict's numbers, its figures, and the HTML and JSON reports.

Compute, then draw: :func:`compute_report` returns the numbers as a frozen record
(tested without Plotly); :func:`report_figures` turns them into Plotly figures.
"""

from __future__ import annotations

from optsearch.dashboards._bootstrap import Band, BootstrapResult, bootstrap_expected_max
from optsearch.dashboards._estimators import (
    expected_at_argmax,
    expected_max,
    expected_max_dodge,
    first_budget_where,
    max_distribution,
    win_probability,
)
from optsearch.dashboards._figures import report_figures
from optsearch.dashboards._output import report_html, report_json, report_to_dict
from optsearch.dashboards._publish import PUBLISHED_FIGURES, publish_report, report_note
from optsearch.dashboards._report import (
    ArmReport,
    Crossover,
    NotEnoughTrialsError,
    Report,
    VerifySummary,
    compute_report,
    report_budgets,
    verify_summary,
)

__all__ = [
    "PUBLISHED_FIGURES",
    "ArmReport",
    "Band",
    "BootstrapResult",
    "Crossover",
    "NotEnoughTrialsError",
    "Report",
    "VerifySummary",
    "bootstrap_expected_max",
    "compute_report",
    "expected_at_argmax",
    "expected_max",
    "expected_max_dodge",
    "first_budget_where",
    "max_distribution",
    "publish_report",
    "report_budgets",
    "report_figures",
    "report_html",
    "report_json",
    "report_note",
    "report_to_dict",
    "verify_summary",
    "win_probability",
]

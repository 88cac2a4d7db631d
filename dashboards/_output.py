"""A report as JSON (for machines) and as one self-contained HTML page (for people)."""

from __future__ import annotations

import html
import json
import math
from typing import Any

from optsearch.dashboards._report import Report, _pct, arm_lines, crossover_lines, report_budgets

__all__ = ["report_html", "report_json", "report_to_dict"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report's numbers as plain data (budget lists are for k = 1…K)."""
    c = report.crossover
    data = {
        "study": report.study,
        "K": report.K,
        "verdict": report.verdict,
        "notes": list(report.notes),
        "bootstrap_resamples": report.n_resamples,
        "arms": {
            a.arm: {
                "n_trials": a.n_trials,
                "n_pruned": a.n_pruned,
                "n_failed": a.n_failed,
                "n_running": a.n_running,
                "n_references": a.n_references,
                "n_other_sampler": a.n_other_sampler,
                "n_diverged": a.n_diverged,
                "expected_best": list(a.expected_best),
                "expected_best_lower": list(a.lower),
                "expected_best_upper": list(a.upper),
                "expected_best_dodge": list(a.dodge),
                "expected_test_accuracy_at_best": list(a.expected_test_at_best),
                "best_value": a.best_value,
                "best_trial": a.best_trial,
                "best_test_accuracy": a.best_test_accuracy,
                "best_params": dict(a.best_params),
                "train_test_gap": a.train_test_gap,
                "mean_epochs_per_trial": a.mean_epochs,
                "mean_seconds_per_trial": a.mean_seconds,
                "epochs_to_95pct_of_best": a.convergence_epochs,
            }
            for a in report.arms
        },
        "gap": {
            "first": c.first,
            "second": c.second,
            "estimate": list(report.gap.estimate),
            "lower": list(report.gap.lower),
            "upper": list(report.gap.upper),
        },
        "win_probability": list(report.win_probability),
        "crossover": {
            "k_star": c.k_star,
            "k_star_ci": list(c.k_star_ci),
            "k_half": c.k_half,
            "k_vs_reference": c.k_vs_reference,
            "reference": c.reference_name,
            "reference_value": c.reference_value,
        },
        "verify": None,
        "pairwise": [
            {"arm": p.arm, "other": p.other, "k_star": p.k_star, "gap_at_K": p.gap_at_K}
            for p in report.pairwise
        ],
        "best_probability": {arm: list(p) for arm, p in report.best_probability.items()},
    }
    if report.verify is not None:
        v = report.verify
        data["verify"] = {
            "test_accuracies": {k: list(x) for k, x in v.test_accuracies.items()},
            "mean": dict(v.mean),
            "std": dict(v.std),
            "difference": v.difference,
            "difference_ci": None if v.difference_ci is None else list(v.difference_ci),
        }
    return _clean(data)


def report_json(report: Report) -> str:
    return json.dumps(report_to_dict(report), indent=2, allow_nan=False) + "\n"


def _budget_table(report: Report) -> str:
    arms = report.arms
    head = "".join(f"<th>{html.escape(a.arm)} E[best]</th>" for a in arms)
    rows = []
    for k in report_budgets(report.K):
        cells = "".join(
            f"<td>{_pct(a.expected_best[k - 1])} <small>({_pct(a.lower[k - 1])}–{_pct(a.upper[k - 1])})</small></td>"
            for a in arms
        )
        gap = report.gap.estimate[k - 1]
        rows.append(f"<tr><td>{k}</td>{cells}<td>{100 * gap:+.2f}</td>"
                    f"<td>{report.win_probability[k - 1]:.2f}</td></tr>")
    c = report.crossover
    return (f"<table><tr><th>k</th>{head}<th>gap ({html.escape(c.first)} − {html.escape(c.second)}, points)</th>"
            f"<th>P({html.escape(c.first)} wins)</th></tr>{''.join(rows)}</table>")


def _pairwise_table(report: Report) -> str:
    if not report.pairwise:
        return ""
    arms = [a.arm for a in report.arms]
    by_pair = {(p.arm, p.other): p for p in report.pairwise}
    head = "".join(f"<th>vs {html.escape(a)}</th>" for a in arms)
    rows = []
    for arm in arms:
        cells = []
        for other in arms:
            if arm == other:
                cells.append("<td>–</td>")
                continue
            p = by_pair[(arm, other)]
            cells.append(f"<td>{p.k_star if p.k_star is not None else 'not within ' + str(report.K)}"
                         f" <small>({100 * p.gap_at_K:+.1f} at K)</small></td>")
        rows.append(f"<tr><th>{html.escape(arm)}</th>{''.join(cells)}</tr>")
    return ("<h2>Crossover budget of each arm against every other</h2><p>The smallest k from which the "
            "row's arm reliably beats the column's (lower 95% bound of the gap above zero from then on); "
            f"the gap at K in points.</p><table><tr><th></th>{head}</tr>{''.join(rows)}</table>")


def report_html(report: Report, figures: list[Any]) -> str:
    """One page that opens offline: Plotly's JavaScript is inside the file, no CDN."""
    import plotly.io as pio

    parts = []
    for index, figure in enumerate(figures):
        parts.append(pio.to_html(figure, full_html=False, include_plotlyjs=index == 0,
                                 config={"displaylogo": False}))
    c = report.crossover
    facts = [*crossover_lines(report), *arm_lines(report)]
    if report.verify is not None and report.verify.difference is not None:
        v = report.verify
        low, high = v.difference_ci or (math.nan, math.nan)
        facts.append(f"Fresh-seed check (optsearch verify): {c.first} − {c.second} test accuracy "
                     f"{100 * v.difference:+.2f} points (95% CI {100 * low:+.2f} to {100 * high:+.2f}).")
    items = "".join(f"<li>{html.escape(f)}</li>" for f in [*facts, *report.notes])
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
             "text-align:right}h1{font-size:1.6em}.verdict{font-size:1.3em;background:#f4f4f4;"
             "padding:1em;border-left:4px solid #1f77b4}")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>optsearch report: {html.escape(report.study)}</title><style>{style}</style></head><body>"
        f"<h1>Study {html.escape(report.study)}: how much tuning does SGD need before it beats Adam?</h1>"
        f"<p class='verdict' id='verdict'>{html.escape(report.verdict)}</p>"
        f"<ul>{items}</ul>{_budget_table(report)}{_pairwise_table(report)}"
        + "".join(f"<div class='figure'>{p}</div>" for p in parts)
        + f"<p><small>Bootstrap: {report.n_resamples} resamples within each arm, fixed seed. "
        "Estimators: Tang et al. (ACL 2020), unbiased expected maximum without replacement; "
        "Dodge et al. (EMNLP 2019) in the JSON output.</small></p></body></html>\n"
    )

"""Plotly figures of a report. Each function takes the computed numbers and draws them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from optuna.trial import TrialState

if TYPE_CHECKING:
    import optuna
    import plotly.graph_objects as go

    from optsearch.dashboards._report import Report

__all__ = [
    "ARM_COLOURS",
    "best_probability_figure",
    "cost_figure",
    "expected_best_figure",
    "gap_figure",
    "history_figure",
    "importance_figures",
    "learning_curves_figure",
    "report_figures",
    "sgd_landscape_figure",
    "win_probability_figure",
]

ARM_COLOURS = {"sgd": "#1f77b4", "adam": "#d62728", "adamw": "#2ca02c", "adam-to-sgd": "#9467bd",
               "sgd-nesterov": "#17becf"}
_FALLBACK = ("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def colour(arm: str, index: int = 0) -> str:
    return ARM_COLOURS.get(arm, _FALLBACK[index % len(_FALLBACK)])


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _band(fig: go.Figure, x: Sequence[float], lower: Sequence[float], upper: Sequence[float],
          hex_colour: str, name: str) -> None:
    import plotly.graph_objects as go

    fig.add_trace(go.Scatter(x=list(x), y=[100 * v for v in upper], mode="lines", line={"width": 0},
                             showlegend=False, hoverinfo="skip", legendgroup=name))
    fig.add_trace(go.Scatter(x=list(x), y=[100 * v for v in lower], mode="lines", line={"width": 0},
                             fill="tonexty", fillcolor=_rgba(hex_colour, 0.18), name=f"{name} 95% band",
                             hoverinfo="skip", legendgroup=name))


def _layout(fig: go.Figure, title: str, x: str, y: str, log_x: bool = False) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, template="plotly_white",
                      legend={"orientation": "h", "y": -0.2}, margin={"t": 60})
    if log_x:
        fig.update_xaxes(type="log")
    return fig


def expected_best_figure(report: Report) -> go.Figure:
    """Expected best validation accuracy after k random-search trials, per arm, with bands."""
    import plotly.graph_objects as go

    fig = go.Figure()
    ks = list(range(1, report.K + 1))
    for i, arm in enumerate(report.arms):
        c = colour(arm.arm, i)
        _band(fig, ks, arm.lower, arm.upper, c, arm.arm)
        fig.add_trace(go.Scatter(x=ks, y=[100 * v for v in arm.expected_best], mode="lines+markers",
                                 name=f"{arm.arm} (n={arm.n_trials})", line={"color": c}, legendgroup=arm.arm))
    cross = report.crossover
    if cross.reference_value is not None:
        fig.add_hline(y=100 * cross.reference_value, line_dash="dot", line_color="grey",
                      annotation_text=f"reference {cross.reference_name}")
    if cross.k_star is not None:
        fig.add_vline(x=cross.k_star, line_dash="dash", line_color="black",
                      annotation_text=f"crossover k*={cross.k_star}")
    return _layout(fig, "Expected best validation accuracy after k trials of tuning",
                   "budget k (random-search trials)", "validation accuracy (%)")


def gap_figure(report: Report) -> go.Figure:
    """Δ(k) = E_first(k) − E_second(k) with its 95% bootstrap band."""
    import plotly.graph_objects as go

    cross = report.crossover
    fig = go.Figure()
    ks = list(range(1, report.K + 1))
    _band(fig, ks, report.gap.lower, report.gap.upper, "#444444", "gap")
    fig.add_trace(go.Scatter(x=ks, y=[100 * v for v in report.gap.estimate], mode="lines+markers",
                             name=f"{cross.first} − {cross.second}", line={"color": "#333333"}))
    fig.add_hline(y=0, line_color="black", line_width=1)
    if cross.k_star is not None:
        fig.add_vline(x=cross.k_star, line_dash="dash", annotation_text=f"k*={cross.k_star}")
    return _layout(fig, f"Gap: {cross.first} minus {cross.second}, expected best after k trials",
                   "budget k", "accuracy points")


def win_probability_figure(report: Report) -> go.Figure:
    """P(best of k first-arm trials beats best of k second-arm trials), ties counting half."""
    import plotly.graph_objects as go

    cross = report.crossover
    ks = list(range(1, report.K + 1))
    fig = go.Figure(go.Scatter(x=ks, y=list(report.win_probability), mode="lines+markers",
                               name=f"P({cross.first} wins)", line={"color": colour(cross.first)}))
    fig.add_hline(y=0.5, line_dash="dot", line_color="grey")
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, f"Probability that the best of k {cross.first} trials beats the best of k "
                   f"{cross.second} trials", "budget k", "probability")


def best_probability_figure(report: Report) -> go.Figure | None:
    """Stacked probability that each arm holds the best configuration after k trials each."""
    import plotly.graph_objects as go

    if not report.best_probability:
        return None
    ks = list(range(1, report.K + 1))
    fig = go.Figure()
    for i, (arm, probs) in enumerate(report.best_probability.items()):
        fig.add_trace(go.Scatter(x=ks, y=list(probs), mode="lines", stackgroup="best", name=arm,
                                 line={"color": colour(arm, i)}))
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, "Probability of being the best arm after k trials of each",
                   "budget k (random-search trials per arm)", "probability")


def cost_figure(report: Report) -> go.Figure:
    """Expected best against epochs actually spent (pruning included), per arm."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, arm in enumerate(report.arms):
        x = [k * arm.mean_epochs for k in range(1, report.K + 1)]
        c = colour(arm.arm, i)
        _band(fig, x, arm.lower, arm.upper, c, arm.arm)
        fig.add_trace(go.Scatter(x=x, y=[100 * v for v in arm.expected_best], mode="lines+markers",
                                 name=f"{arm.arm} ({arm.mean_epochs:.1f} epochs per trial)",
                                 line={"color": c}, legendgroup=arm.arm))
    return _layout(fig, "Expected best against training epochs spent (pruning saves epochs)",
                   "epochs trained in total (k × mean epochs per trial)", "validation accuracy (%)")


def learning_curves_figure(report: Report) -> go.Figure:
    """Validation accuracy by epoch of every finished trial, one panel per arm; pruned faint."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    arms = [a.arm for a in report.arms]
    fig = make_subplots(rows=1, cols=len(arms), subplot_titles=arms, shared_yaxes=True)
    for col, arm in enumerate(arms, start=1):
        c = colour(arm, col - 1)
        for trial in report.trials_by_arm.get(arm, ()):
            curve = trial.user_attrs.get("curve") or []
            if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED) or not curve:
                continue
            pruned = trial.state == TrialState.PRUNED
            ys = [100 * r["val_accuracy"] if r.get("val_accuracy") is not None and math.isfinite(r["val_accuracy"]) else None
                  for r in curve]
            switch = trial.user_attrs.get("switch_epoch")
            if switch is not None and 1 <= switch <= len(curve) and ys[switch - 1] is not None:
                fig.add_trace(go.Scatter(
                    x=[switch], y=[ys[switch - 1]], mode="markers", showlegend=False,
                    marker={"symbol": "triangle-down", "size": 9, "color": "black"},
                    hovertemplate=f"trial {trial.number}: switched to SGD at epoch {switch}, "
                                  f"lr {trial.user_attrs.get('switch_learning_rate', float('nan')):.3g}<extra></extra>",
                ), row=1, col=col)
            fig.add_trace(
                go.Scatter(x=[r["epoch"] for r in curve], y=ys, mode="lines",
                           line={"color": _rgba(c, 0.15 if pruned else 0.6), "width": 1 if pruned else 1.5},
                           name=f"#{trial.number}", showlegend=False,
                           hovertemplate=f"trial {trial.number} ({'pruned' if pruned else 'complete'})"
                                         "<br>epoch %{x}: %{y:.2f}%<extra></extra>"),
                row=1, col=col,
            )
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_yaxes(title_text="validation accuracy (%)", row=1, col=1)
    fig.update_layout(title="Learning curves per arm (pruned trials drawn faintly; ▼ switch to SGD)",
                      template="plotly_white")
    return fig


def sgd_landscape_figure(report: Report, arm: str = "sgd") -> go.Figure | None:
    """Validation accuracy over SGD's learning rate and momentum."""
    import plotly.graph_objects as go

    trials = [t for t in report.trials_by_arm.get(arm, ())
              if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.value is not None
              and "momentum" in t.params]
    if not trials:
        return None
    fig = go.Figure(go.Scatter(
        x=[t.params["learning_rate"] for t in trials], y=[t.params["momentum"] for t in trials],
        mode="markers",
        marker={"color": [100 * t.value for t in trials], "colorscale": "Viridis", "size": 10,
                "colorbar": {"title": "val acc (%)"},
                "symbol": ["x" if t.state == TrialState.PRUNED else "circle" for t in trials]},
        text=[f"trial {t.number}: {100 * t.value:.2f}% ({t.params.get('schedule')})" for t in trials],
        hoverinfo="text",
    ))
    return _layout(fig, f"{arm}: validation accuracy over learning rate and momentum (x = pruned)",
                   "learning rate", "momentum", log_x=True)


def _arm_studies(report: Report) -> list[optuna.Study]:
    """An in-memory study per arm holding its finished trials (for Optuna's own plots)."""
    import optuna

    studies = []
    for arm in report.arms:
        study = optuna.create_study(study_name=arm.arm, direction="maximize")
        for trial in report.trials_by_arm.get(arm.arm, ()):
            if trial.state == TrialState.COMPLETE and trial.value is not None:
                study.add_trial(trial)
        studies.append(study)
    return studies


def history_figure(report: Report) -> go.Figure:
    """Optuna's optimization history, one series per arm."""
    import optuna

    fig = optuna.visualization.plot_optimization_history(
        _arm_studies(report), target_name="validation accuracy"
    )
    fig.update_layout(title="Optimization history per arm", template="plotly_white")
    return fig


def importance_figures(report: Report) -> list[go.Figure]:
    """Optuna's hyperparameter importances (fANOVA), one figure per arm with enough trials."""
    import optuna

    import warnings

    figures = []
    for study in _arm_studies(report):
        if len(study.trials) < 4:
            continue
        try:
            with warnings.catch_warnings():
                # Conditional parameters (one schedule's) have few trials each; the
                # importances say so in their own figure, not in the terminal.
                warnings.simplefilter("ignore")
                fig = optuna.visualization.plot_param_importances(study, target_name="validation accuracy")
        except (ValueError, RuntimeError):  # too little variation to attribute
            continue
        fig.update_layout(title=f"Hyperparameter importances: {study.study_name}", template="plotly_white")
        figures.append(fig)
    return figures


def report_figures(report: Report) -> list[go.Figure]:
    """Every figure of the HTML report, in reading order."""
    figures = [
        expected_best_figure(report),
        gap_figure(report),
        win_probability_figure(report),
        *([best] if (best := best_probability_figure(report)) is not None else []),
        cost_figure(report),
        learning_curves_figure(report),
    ]
    landscape = sgd_landscape_figure(report)
    if landscape is not None:
        figures.append(landscape)
    figures.extend(importance_figures(report))
    figures.append(history_figure(report))
    return figures

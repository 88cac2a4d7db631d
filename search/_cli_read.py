"""Commands that read studies: studies, trials, export, report and dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from optsearch.cli import (
    STORAGE_HELP,
    _default_url,
    _stderr,
    _stdout,
    _storage,
    cli,
)


@cli.command()
@click.option("--storage", envvar="OPTSEARCH_STORAGE", default=None, help=STORAGE_HELP)
def studies(storage: str | None) -> None:
    """List the studies in a storage, with their trial counts."""
    import optuna
    from rich.table import Table

    from optsearch._run import count_trials
    from optsearch._study import SPEC_ATTR, study_names

    store = _storage(storage)
    names = study_names(store)
    if not names:
        _stderr().print("No studies in this storage yet. Start one with `optsearch start --study sgd-vs-adam`.")
        return
    table = Table(title="Studies", title_justify="left")
    for header in ("study", "target", "complete", "pruned", "failed", "running", "best val acc"):
        table.add_column(header, justify="left" if header == "study" else "right")
    for name in names:
        study = optuna.load_study(study_name=name, storage=store)
        counts = count_trials(study)
        target = "–"
        if SPEC_ATTR in study.user_attrs:
            from optsearch._study import read_spec

            target = str(read_spec(study).n_trials)
        finished = [t.value for t in study.get_trials(deepcopy=False) if t.value is not None]
        best = f"{100 * max(finished):.2f}%" if finished else "–"
        table.add_row(name, target, str(counts.complete), str(counts.pruned), str(counts.failed), str(counts.running), best)
    _stdout().print(table)


@cli.command()
@click.option("--study", "study_name", required=True, help="Study name.")
@click.option("--storage", envvar="OPTSEARCH_STORAGE", default=None, help=STORAGE_HELP)
def trials(study_name: str, storage: str | None) -> None:
    """Show every trial of a study in a table."""
    from optsearch._console import trials_table
    from optsearch._study import load_study
    from optsearch._summary import trial_rows

    study = load_study(_storage(storage), study_name)
    rows = trial_rows(study.get_trials(deepcopy=False))
    _stdout().print(trials_table(rows, title=f"Study {study_name}: {len(rows)} trials"))


@cli.command()
@click.option("--study", "study_name", required=True, help="Study name.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), required=True, help="csv: one row per trial and epoch; json: nested, with the spec.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None, help="File to write. Defaults to standard output.")
@click.option("--storage", envvar="OPTSEARCH_STORAGE", default=None, help=STORAGE_HELP)
def export(study_name: str, fmt: str, output: Path | None, storage: str | None) -> None:
    """Export every trial: parameters, states, per-epoch curves and test accuracy."""
    from optsearch._export import export_csv, export_json
    from optsearch._study import load_study, read_spec

    study = load_study(_storage(storage), study_name)
    trials_ = study.get_trials(deepcopy=False)
    text = export_json(study_name, read_spec(study), trials_) if fmt == "json" else export_csv(trials_)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        _stderr().print(f"Wrote {len(trials_)} trials to {output}.", highlight=False)


@cli.command()
@click.option("--study", "study_name", required=True, help="Study name.")
@click.option("--storage", envvar="OPTSEARCH_STORAGE", default=None, help=STORAGE_HELP)
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None, help="Write the report as one self-contained HTML page (opens offline).")
@click.option("--json", "as_json", is_flag=True, help="Print the report's numbers as JSON instead of tables.")
@click.option("--resamples", type=click.IntRange(min=1000), default=1000, show_default=True, help="Bootstrap resamples for the 95% bands.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--publish", is_flag=True, help="Also write the verdict and the main figures into the study, for optuna-dashboard.")
def report(study_name: str, storage: str | None, html_file: Path | None, as_json: bool, resamples: int, seed: int,
           publish: bool) -> None:
    """The verdict: after k trials of tuning, which optimizer is expected to be ahead?

    Works on a running study too (it reports on the finished trials and says so).
    Example: optsearch report --study sgd-vs-adam --html report.html
    """
    from optsearch._study import load_study, read_spec
    from optsearch._verify import find_verify_study
    from optsearch.dashboards import PUBLISHED_FIGURES as PUBLISHED
    from optsearch.dashboards import compute_report, report_html, report_json, verify_summary

    store = _storage(storage or _default_url())
    study = load_study(store, study_name)
    spec = read_spec(study)
    vstudy = find_verify_study(store, study, spec.arms)
    verified = verify_summary(vstudy.get_trials(deepcopy=False), spec.arms) if vstudy else None
    result = compute_report(study_name, study.get_trials(deepcopy=False), spec.arms,
                            n_resamples=resamples, seed=seed, verify=verified)
    if as_json:
        click.echo(report_json(result), nl=False)
    else:
        _print_report(result)
    if publish:
        from optsearch.dashboards import publish_report

        publish_report(study, result)
        _stderr().print(f"Published the verdict and {len(PUBLISHED)} figures into study {study_name!r} "
                        "(see `optsearch dashboard`).", highlight=False)
    if html_file is not None:
        from optsearch.dashboards import report_figures

        html_file.write_text(report_html(result, report_figures(result)), encoding="utf-8")
        _stderr().print(f"Wrote {html_file} (self-contained; opens offline).", highlight=False)


def _print_report(result: Any) -> None:
    from rich.table import Table

    from optsearch.dashboards import report_budgets
    from optsearch.dashboards._report import crossover_lines

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.2f}%"

    out = _stdout()
    c = result.crossover
    table = Table(title=f"Study {result.study}: expected best validation accuracy after k random-search trials", title_justify="left")
    table.add_column("k", justify="right")
    for arm in result.arms:
        table.add_column(f"{arm.arm} expected best (95% band)", justify="right")
    table.add_column(f"gap {c.first}−{c.second} (points, band)", justify="right")
    table.add_column(f"P({c.first} wins)", justify="right")
    for k in report_budgets(result.K):
        i = k - 1
        cells = [f"{pct(a.expected_best[i])} ({100 * a.lower[i]:.1f}–{100 * a.upper[i]:.1f})" for a in result.arms]
        gap = f"{100 * result.gap.estimate[i]:+.2f} ({100 * result.gap.lower[i]:+.1f} to {100 * result.gap.upper[i]:+.1f})"
        table.add_row(str(k), *cells, gap, f"{result.win_probability[i]:.2f}")
    out.print(table)
    arms = Table(title="Per optimizer", title_justify="left")
    for header in ("optimizer", "random trials used", "pruned", "diverged", "failed", "references", "other samplers",
                   "best val acc", "its test acc", "train−test gap", "epochs to 95% of best", "epochs per trial"):
        arms.add_column(header, justify="left" if header == "optimizer" else "right")
    for a in result.arms:
        arms.add_row(a.arm, str(a.n_trials), str(a.n_pruned), str(a.n_diverged), str(a.n_failed),
                     str(a.n_references), str(a.n_other_sampler), f"{pct(a.best_value)} (#{a.best_trial})",
                     pct(a.best_test_accuracy), pct(a.train_test_gap),
                     "–" if a.convergence_epochs is None else f"{a.convergence_epochs:g}", f"{a.mean_epochs:.1f}")
    out.print(arms)
    if result.pairwise:
        names = [a.arm for a in result.arms]
        by_pair = {(p.arm, p.other): p for p in result.pairwise}
        pairs = Table(title="Crossover budget of each arm (row) against every other (column): the smallest k "
                            "from which the row reliably beats the column", title_justify="left")
        pairs.add_column("arm")
        for name in names:
            pairs.add_column(f"vs {name}", justify="right")
        for name in names:
            pairs.add_row(name, *[
                "–" if name == other else (str(by_pair[(name, other)].k_star)
                                           if by_pair[(name, other)].k_star is not None else f"not within {result.K}")
                for other in names
            ])
        out.print(pairs)
        best = Table(title="Probability of being the best arm after k trials of each", title_justify="left")
        best.add_column("k", justify="right")
        for name in names:
            best.add_column(name, justify="right")
        for k in report_budgets(result.K):
            best.add_row(str(k), *[f"{result.best_probability[name][k - 1]:.2f}" for name in names])
        out.print(best)
    lines = crossover_lines(result)
    if result.verify is not None and result.verify.difference is not None:
        v = result.verify
        ci = "" if v.difference_ci is None else f" (95% CI {100 * v.difference_ci[0]:+.2f} to {100 * v.difference_ci[1]:+.2f})"
        runs = ", ".join(f"{arm} {100 * v.mean[arm]:.2f}% ± {100 * v.std[arm]:.2f} over {len(x)} seeds"
                         for arm, x in v.test_accuracies.items() if x)
        lines.append(f"Fresh seeds (optsearch verify): {runs}; {c.first} − {c.second} test accuracy "
                     f"{100 * v.difference:+.2f} points{ci}.")
    for line in [*lines, *result.notes]:
        out.print(line, highlight=False, soft_wrap=True)
    out.print(f"\n[bold]{result.verdict}[/]", highlight=False, soft_wrap=True)


@cli.command()
@click.option("--study", "study_name", default=None, help="Open this study directly.")
@click.option("--storage", envvar="OPTSEARCH_STORAGE", default=None, help=STORAGE_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on. Anything but loopback lets others read and change your studies.")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8080, show_default=True, help="Port to listen on (0: any free port).")
def dashboard(study_name: str | None, storage: str | None, host: str, port: int) -> None:
    """Browse studies in optuna-dashboard, with optsearch's verdict inside.

    Example: optsearch dashboard --study sgd-vs-adam
    """
    from optsearch._study import load_study
    from optsearch.dashboards._serve import is_loopback, make_server

    store = _storage(storage or _default_url())
    path = "/dashboard/"
    if study_name is not None:
        path = f"/dashboard/studies/{load_study(store, study_name)._study_id}"
    err = _stderr()
    if not is_loopback(host):
        err.print(
            f"[bold yellow]Warning:[/] listening on {host}: optuna-dashboard has no authentication, "
            f"so anyone who can reach port {port} can read and change your studies.",
            highlight=False, soft_wrap=True,
        )
    server = make_server(store, host, port, path)
    err.print(f"optuna-dashboard ({server.kind}) at {server.url} — press Ctrl-C to stop.",
              highlight=False, soft_wrap=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    err.print("Dashboard stopped.", highlight=False)

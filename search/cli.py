"""The ``optsearch`` command line.

Library code raises; this module alone prints errors and picks exit statuses: 2 for
usage errors (bad names, bad specs, bad options), 1 for runtime errors, 130 when
interrupted. A traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import click

from optsearch import __version__
from optsearch.errors import OptsearchError

# TensorFlow reads these when it is first imported; set them before anything can.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

STORAGE_HELP = (
    "SQLAlchemy URL of the database. Defaults to $OPTSEARCH_STORAGE, else the SQLite "
    "file optsearch.db in the current folder."
)


def _quiet_libraries() -> None:
    import optuna

    # Our own progress and tables say what Optuna's log lines would, more briefly.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")


def _storage(url: str | None) -> Any:
    from optsearch.storage import default_storage_url, open_storage

    _quiet_libraries()
    return open_storage(url or default_storage_url())


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped into a file or a log: room for whole tables rather than 80 columns.
        console = Console(stderr=stderr, width=200)
    return console


def _stdout() -> Any:
    return _console()


def _quiet() -> Any:
    from rich.console import Console

    return Console(file=open(os.devnull, "w"), force_terminal=False)  # noqa: SIM115


def _stderr() -> Any:
    return _console(stderr=True)


class _Group(click.Group):
    """Turns optsearch's errors into one clear line and the right exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OptsearchError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="optsearch")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """How much tuning does SGD need before it beats Adam?

    optsearch runs Optuna studies that compare optimizers under a tuning budget; each
    trial trains a Keras model, and results live in a SQL database.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _explicit_overrides(**flags: Any) -> dict[str, Any]:
    return {key: value for key, value in flags.items() if value is not None}


@cli.command()
@click.option("--study", "study_name", required=True, help="Study name; a new study with a preset's name uses that preset.")
@click.option("--preset", default=None, help="Built-in spec for a new study. Defaults to the study name if it is a preset, else sgd-vs-adam.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="TOML file with the study spec (the same fields as a preset).")
@click.option("--storage", envvar="OPTSEARCH_STORAGE", default=None, help=STORAGE_HELP)
@click.option("--n-trials", type=click.IntRange(min=1), default=None, help="Target total of finished trials (complete or pruned, references included).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs per trial.")
@click.option("--dataset", default=None, help="digits, mnist, fashion_mnist, cifar10, cifar100 or npz:PATH.")
@click.option("--model", default=None, help="small_cnn or resnet20.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed of the data split, the sampler and the trials.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Stop starting new trials after this many seconds.")
@click.option("--pruner", default=None, help="none, median, percentile, successive-halving or hyperband.")
@click.option("--sampler", default=None, help="random, tpe or qmc (within each arm).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Training batch size.")
@click.option("--gpus", default=None, help="Start one worker process per GPU: 'all' or indices such as 0,2,3.")
@click.option("--workers-per-gpu", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes packed on each GPU, each capped to its share of the memory.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Number of CPU worker processes (where there is no GPU). Defaults to 1, in this process.")
@click.option("--progress/--no-progress", default=True, help="Show live progress. Defaults to on.")
@click.option("--publish/--no-publish", default=True, help="At the end, write the verdict and its figures into the study for optuna-dashboard. Defaults to on.")
def start(
    study_name: str,
    preset: str | None,
    config_file: Path | None,
    storage: str | None,
    gpus: str | None,
    workers_per_gpu: int,
    workers: int | None,
    progress: bool,
    publish: bool,
    **flags: Any,
) -> None:
    """Create a study, or resume it, and run trials until the target is reached.

    Running the same command again after an interruption finishes the remaining
    trials. Example: optsearch start --study sgd-vs-adam
    """
    from optsearch._presets import PRESETS, get_preset
    from optsearch._spec import load_spec_file, spec_from_mapping
    from optsearch._study import resolve_spec

    explicit = _explicit_overrides(**flags)
    if config_file is not None:
        if preset is not None:
            raise click.UsageError("Use either --preset or --config, not both.")
        base = load_spec_file(config_file, name=study_name)
        explicit = {**base.to_json_dict(), **explicit}
        explicit.pop("name")
    else:
        base = get_preset(preset or (study_name if study_name in PRESETS else "sgd-vs-adam"), study_name)
    spec = spec_from_mapping({**base.to_json_dict(), **explicit}, source="the options")

    plans = _plans(gpus, workers_per_gpu, workers)

    url = storage or _default_url()
    store = _storage(url)
    spec, exists = resolve_spec(store, spec, explicit=explicit)
    _check_names(spec)
    try:
        if plans is None:
            _run_here(store, spec, url, progress)
        else:
            _run_workers(store, spec, url, plans, progress)
    finally:
        if publish:
            _publish_quietly(store, spec)


def _publish_quietly(store: Any, spec: Any) -> None:
    """Publish the verdict at the end of a run, when the study has enough trials for one."""
    import optuna

    from optsearch.dashboards import NotEnoughTrialsError, compute_report, publish_report

    study = optuna.load_study(study_name=spec.name, storage=store)
    try:
        result = compute_report(spec.name, study.get_trials(deepcopy=False), spec.arms)
    except NotEnoughTrialsError:
        return  # too early for a verdict; the next run publishes it
    publish_report(study, result)
    _stderr().print(f"Verdict: {result.verdict} (published into the study for optuna-dashboard)",
                    highlight=False, soft_wrap=True)


def _plans(gpus: str | None, workers_per_gpu: int, workers: int | None) -> list[Any] | None:
    """Worker processes to launch, or None to run in this process."""
    if gpus is not None and workers is not None:
        raise click.UsageError("Use either --gpus (GPU workers) or --workers (CPU workers), not both.")
    if gpus is None and (workers or 1) == 1:
        return None
    from optsearch._launch import detect_gpus, parse_gpus, plan_workers

    chosen = parse_gpus(gpus, detect_gpus()) if gpus is not None else None
    return plan_workers(chosen, workers_per_gpu=workers_per_gpu, workers=workers)


def _default_url() -> str:
    from optsearch.storage import default_storage_url

    return default_storage_url()


def _check_names(spec: Any) -> None:
    """Fail on unknown names before anything is written or trained."""
    from optsearch._strategies import make_pruner, make_sampler
    from optsearch.trainers import check_dataset_name, get_model

    make_sampler(spec)
    make_pruner(spec)
    get_model(spec.model)
    check_dataset_name(spec.dataset)


def _announce(study: Any, spec: Any, created: bool, url: str, how: str) -> None:
    from optsearch._run import count_trials
    from optsearch.storage import mask_url

    counts = count_trials(study)
    verb = "Created" if created else "Resuming"
    _stderr().print(
        f"{verb} study [bold]{spec.name}[/] in {mask_url(url)}: {spec.dataset} with {spec.model}, "
        f"{spec.epochs} epochs per trial, arms {', '.join(spec.arms)}, sampler {spec.sampler}, "
        f"pruner {spec.pruner}; {how}. {counts.finished} of {spec.n_trials} trials finished.",
        highlight=False,
        soft_wrap=True,
    )


def _finish(study: Any, spec: Any, started: float, interrupted: str | None, timed_out: bool) -> None:
    from optsearch._console import summary_table
    from optsearch._run import count_trials
    from optsearch._summary import summarize_arms

    counts = count_trials(study)
    summaries = summarize_arms(study.get_trials(deepcopy=False), spec.arms)
    _stdout().print(summary_table(summaries, title=f"Study {spec.name}: best trial per optimizer"))
    tally = (
        f"{counts.finished} of {spec.n_trials} trials finished ({counts.complete} complete, "
        f"{counts.pruned} pruned), {counts.failed} failed, in {time.monotonic() - started:.0f} s."
    )
    err = _stderr()
    if interrupted is not None:
        err.print(
            f"Interrupted by {interrupted}: running trials were marked failed and queued to "
            f"run again. {tally} Run the same command to continue.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(130)
    if timed_out or counts.finished < spec.n_trials:
        err.print(f"Stopped early. {tally} Run the same command to continue.", highlight=False, soft_wrap=True)
    else:
        err.print(f"Target reached. {tally}", highlight=False, soft_wrap=True)


def _run_here(store: Any, spec: Any, url: str, show_progress: bool) -> None:
    from optsearch._console import StudyProgress
    from optsearch._run import Interrupted, run_study, signals_interrupt
    from optsearch._study import open_study
    from optsearch.trainers import load_dataset

    with signals_interrupt():
        dataset = load_dataset(spec.dataset, seed=spec.seed, validation_fraction=spec.validation_fraction)
        study, created = open_study(store, spec)
        _announce(study, spec, created, url, "1 worker in this process")
        slot = _register(store, spec.name, "this process")
        display = StudyProgress(study, spec.arms, spec.n_trials, _stderr() if show_progress else _quiet())
        started = time.monotonic()
        interrupted = None
        outcome = None
        try:
            with display:
                outcome = run_study(
                    study, spec, dataset, observer=display if show_progress else None,
                    on_trial_end=display.trial_ended if show_progress else None, slot=slot,
                )
        except Interrupted as exc:
            interrupted = exc.signal_name
            _unregister(slot, "interrupted", f"interrupted by {interrupted}")
        except OptsearchError as exc:
            _unregister(slot, "failed", str(exc))
            raise
        else:
            _unregister(slot, "finished", f"stopped: {outcome.reason}")
    _finish(study, spec, started, interrupted, outcome is not None and outcome.reason == "timeout")


def _register(store: Any, study_name: str, label: str) -> Any:
    from optsearch._run import WorkerSlot
    from optsearch.storage import WorkerRegistry, grace_seconds
    from optsearch.trainers._devices import describe_devices

    registry = WorkerRegistry(store.engine, grace_seconds())
    try:
        device = describe_devices()
    except Exception:  # describing is best effort; the label says where it was meant to run
        device = label
    return WorkerSlot(registry, registry.register(study_name, device))


def _unregister(slot: Any, state: str, message: str) -> None:
    try:
        slot.registry.update(slot.worker_id, state=state, message=message, current_trial=None, current_epoch=None)
    except Exception:  # the database may be what failed; the heartbeat then tells the rest
        pass


def _run_workers(store: Any, spec: Any, url: str, plans: list[Any], show_progress: bool) -> None:
    from optsearch._console import WorkersProgress
    from optsearch._launch import Launcher, raise_if_all_failed
    from optsearch._run import Interrupted, signals_interrupt
    from optsearch._study import open_study
    from optsearch.storage import WorkerRegistry, grace_seconds

    study, created = open_study(store, spec)
    devices = ", ".join(p.device for p in plans)
    _announce(study, spec, created, url, f"{len(plans)} worker processes: {devices}")
    launcher = Launcher(plans, spec.name, url)
    registry = WorkerRegistry(store.engine, grace_seconds())
    started = time.monotonic()
    interrupted = None
    with signals_interrupt():
        try:
            launcher.start()
            console = _stderr() if show_progress else _quiet()
            with WorkersProgress(study, spec.arms, spec.n_trials, registry, console) as view:
                while launcher.running():
                    view.refresh()
                    time.sleep(1.0)
                view.refresh()
        except Interrupted as exc:
            interrupted = exc.signal_name
            _stderr().print(f"{interrupted}: stopping {len(plans)} workers…", highlight=False)
            launcher.stop(interrupted)
    for line in launcher.failures():
        _stderr().print(f"[red]{line}[/]", highlight=False, soft_wrap=True)
    if interrupted is None:
        raise_if_all_failed(launcher)
    _finish(study, spec, started, interrupted, False)


@cli.command()
@click.option("--study", "study_name", required=True, help="The study to join; its spec is read from the database.")
@click.option("--storage", envvar="OPTSEARCH_STORAGE", default=None, help=STORAGE_HELP)
@click.option("--gpu", type=click.IntRange(min=0), default=None, help="Train on this GPU only (sets CUDA_VISIBLE_DEVICES).")
@click.option("--device-label", default=None, hidden=True, help="Where the launcher meant this worker to run.")
@click.option("--progress/--no-progress", default=True, help="Show live progress. Defaults to on.")
def worker(study_name: str, storage: str | None, gpu: int | None, device_label: str | None, progress: bool) -> None:
    """Join a running study from any machine and run its trials.

    Needs no spec file: the spec is read from the study in the database. Example:
    optsearch worker --study sgd-vs-adam --storage postgresql+psycopg://user@db-host/studies
    """
    from optsearch._console import StudyProgress
    from optsearch._run import Interrupted, run_study, signals_interrupt
    from optsearch._study import load_study, read_spec
    from optsearch.trainers import load_dataset

    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    url = storage or _default_url()
    store = _storage(url)
    study = load_study(store, study_name)
    spec = read_spec(study)
    _check_names(spec)
    started = time.monotonic()
    with signals_interrupt():
        dataset = load_dataset(spec.dataset, seed=spec.seed, validation_fraction=spec.validation_fraction)
        slot = _register(store, spec.name, device_label or "this process")
        display = StudyProgress(study, spec.arms, spec.n_trials, _stderr() if progress else _quiet())
        try:
            with display:
                outcome = run_study(
                    study, spec, dataset, observer=display if progress else None,
                    on_trial_end=display.trial_ended, slot=slot,
                )
        except Interrupted as exc:
            _unregister(slot, "interrupted", f"interrupted by {exc.signal_name}")
            _stderr().print(f"Interrupted by {exc.signal_name}: the running trial was marked failed and queued.", highlight=False)
            sys.exit(130)
        except OptsearchError as exc:
            _unregister(slot, "failed", str(exc))
            raise
    _unregister(slot, "finished", f"stopped: {outcome.reason}")
    _stderr().print(
        f"Worker done ({outcome.reason}): ran {outcome.trials_run} trials in "
        f"{time.monotonic() - started:.0f} s; the study has {outcome.counts.finished} of "
        f"{spec.n_trials} trials finished.",
        highlight=False, soft_wrap=True,
    )


@cli.command()
@click.option("--study", "study_name", required=True, help="Study name.")
@click.option("--storage", envvar="OPTSEARCH_STORAGE", default=None, help=STORAGE_HELP)
def workers(study_name: str, storage: str | None) -> None:
    """List the workers of a study, live and dead, on every machine."""
    from optsearch._console import workers_table
    from optsearch._study import load_study
    from optsearch.storage import WorkerRegistry, grace_seconds

    store = _storage(storage or _default_url())
    load_study(store, study_name)
    rows = WorkerRegistry(store.engine, grace_seconds()).workers(study_name)
    if not rows:
        _stderr().print(f"No worker has joined study {study_name!r} yet.")
        return
    alive = sum(w.alive for w in rows)
    dead = sum(w.shown_state == "dead" for w in rows)
    _stdout().print(workers_table(rows, title=f"Study {study_name}: {len(rows)} workers, {alive} running, {dead} dead"))


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
    never = f"not within {c.K} trials"
    lines = [
        f"Crossover k* (lower 95% bound of the gap above zero from then on): {c.k_star if c.k_star is not None else never}",
        f"First k where P({c.first} wins) reaches 0.5: {c.k_half if c.k_half is not None else never}",
    ]
    if c.reference_name:
        lines.append(f"First k where {c.first}'s expected best passes the reference {c.reference_name} "
                     f"({pct(c.reference_value)}): {c.k_vs_reference if c.k_vs_reference is not None else never}")
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
@click.option("--study", "study_name", required=True, help="Study name.")
@click.option("--seeds", type=click.IntRange(min=2), default=5, show_default=True, help="Fresh-seed runs of each arm's best configuration.")
@click.option("--storage", envvar="OPTSEARCH_STORAGE", default=None, help=STORAGE_HELP)
@click.option("--gpus", default=None, help="Run the retraining on GPUs: 'all' or indices such as 0,2,3.")
@click.option("--workers-per-gpu", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes packed on each GPU.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Number of CPU worker processes.")
@click.option("--progress/--no-progress", default=True, help="Show live progress. Defaults to on.")
def verify(study_name: str, seeds: int, storage: str | None, gpus: str | None, workers_per_gpu: int,
           workers: int | None, progress: bool) -> None:
    """Retrain each arm's best configuration with fresh seeds and compare test accuracy.

    Tuning gains can be seed noise. The runs are stored beside the study and
    `optsearch report` includes them. Example: optsearch verify --study sgd-vs-adam --seeds 5
    """
    from optsearch._study import load_study, read_spec
    from optsearch._verify import prepare_verify_study
    from optsearch.dashboards import verify_summary

    url = storage or _default_url()
    store = _storage(url)
    study = load_study(store, study_name)
    spec = read_spec(study)
    plans = _plans(gpus, workers_per_gpu, workers)
    vstudy, vspec = prepare_verify_study(store, study, spec, seeds)
    _check_names(vspec)
    try:
        if plans is None:
            _run_here(store, vspec, url, progress)
        else:
            _run_workers(store, vspec, url, plans, progress)
    finally:
        summary = verify_summary(vstudy.get_trials(deepcopy=False), spec.arms)
        if summary is not None:
            out = _stdout()
            for arm, runs in summary.test_accuracies.items():
                if runs:
                    out.print(f"{arm}: test accuracy {100 * summary.mean[arm]:.2f}% ± {100 * summary.std[arm]:.2f} "
                              f"over {len(runs)} seeds ({', '.join(f'{100 * r:.1f}' for r in runs)})", highlight=False)
            if summary.difference is not None:
                ci = "" if summary.difference_ci is None else (
                    f" (95% CI {100 * summary.difference_ci[0]:+.2f} to {100 * summary.difference_ci[1]:+.2f})")
                out.print(f"sgd − adam: {100 * summary.difference:+.2f} points{ci}", highlight=False)


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


def main() -> None:
    """Entry point of the ``optsearch`` executable."""
    cli(obj={})


if __name__ == "__main__":
    main()

"""Commands that run trials: start, worker, workers and verify."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from optsearch.cli import (
    STORAGE_HELP,
    _default_url,
    explicit_overrides,
    _quiet,
    _stderr,
    _stdout,
    _storage,
    cli,
)
from optsearch.errors import OptsearchError


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

    explicit = explicit_overrides(**flags)
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
        _run(store, spec, url, plans, progress)
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


def _run(store: Any, spec: Any, url: str, plans: list[Any] | None, show_progress: bool) -> None:
    """Run the study here (no plans) or through launched worker processes."""
    if plans is None:
        _run_here(store, spec, url, show_progress)
    else:
        _run_workers(store, spec, url, plans, show_progress)


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
        _run(store, vspec, url, plans, progress)
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

"""Terminal output with Rich: live progress while trials run, and tables."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from optsearch._summary import ArmSummary, TrialRow, summarize_arms

if TYPE_CHECKING:
    import optuna

    from optsearch.trainers import EpochRecord, TrialParams

__all__ = ["StudyProgress", "format_params", "summary_table", "trials_table"]


def _pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{100 * value:.2f}%"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    return f"{value:.3g}"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _trial_line(trial: Any, status: str) -> str:
    """One finished trial as a log line: ``trial 7 sgd pruned 91.2% (why) | study status``."""
    value = _pct(trial.value) if trial.value is not None else "–"
    reason = trial.user_attrs.get("fail_reason") or trial.user_attrs.get("end_reason") or ""
    arm = trial.params.get("optimizer", "?")
    return f"trial {trial.number} {arm} {trial.state.name.lower()} {value} ({reason}) | {status}"


def format_params(params: Mapping[str, Any]) -> str:
    """Hyperparameters in one short line: ``learning_rate=0.0123 momentum=0.9 ...``."""
    return " ".join(f"{k}={_number(v)}" for k, v in params.items())


class StudyProgress:
    """Live progress of a run: the study's counts against its target, and the trial running.

    Shows trials complete / pruned / failed of the target, the best validation accuracy
    of each arm so far, elapsed time and an estimate of the time left.
    """

    def __init__(self, study: optuna.Study, arms: Sequence[str], target: int, console: Console) -> None:
        self._study = study
        self._arms = tuple(arms)
        self._target = target
        self._console = console
        self._started = time.monotonic()
        self._finished_at_start: int | None = None
        # Where output goes to a file or a CI log, a line per trial reads better than
        # the frames of a live display.
        self._live = console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=False,
            redirect_stderr=False,
        )
        self._study_task = self._progress.add_task("trials", total=target, status="")
        self._trial_task = self._progress.add_task("", total=None, status="", visible=False)
        self.refresh()

    def __enter__(self) -> StudyProgress:
        if self._live:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live:
            self._progress.update(self._trial_task, visible=False)
            self._progress.stop()

    def refresh(self) -> str:
        trials = self._study.get_trials(deepcopy=False)
        summaries = summarize_arms(trials, self._arms)
        finished = sum(s.finished for s in summaries)
        pruned = sum(s.pruned for s in summaries)
        failed = sum(s.failed for s in summaries)
        best = " · ".join(f"best {s.arm} {_pct(s.best_value)}" for s in summaries)
        status = f"complete {finished - pruned} · pruned {pruned} · failed {failed} · {best}"
        self._progress.update(
            self._study_task, completed=min(finished, self._target), status=status
        )
        if self._finished_at_start is None:
            self._finished_at_start = finished
        return f"{finished}/{self._target} finished · {status} · {self._timing(finished)}"

    def _timing(self, finished: int) -> str:
        elapsed = time.monotonic() - self._started
        done_here = finished - (self._finished_at_start or 0)
        text = f"{_duration(elapsed)} elapsed"
        if done_here > 0 and finished < self._target:
            left = elapsed / done_here * (self._target - finished)
            text += f", about {_duration(left)} left"
        return text

    # TrialObserver
    def trial_started(self, number: int, params: TrialParams, reference: str | None) -> None:
        label = f"trial {number} {params.optimizer}" + (f" ({reference})" if reference else "")
        self._progress.reset(
            self._trial_task,
            total=params.epochs,
            description=label,
            status=f"lr={params.learning_rate:.3g} {params.schedule}",
            visible=True,
        )

    def epoch_ended(self, number: int, record: EpochRecord, epochs: int) -> None:
        self._progress.update(
            self._trial_task,
            completed=record.epoch,
            status=f"epoch {record.epoch}/{epochs} val {_pct(record.val_accuracy)}",
        )

    def trial_ended(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        line = self.refresh()
        if not self._live:
            self._console.print(_trial_line(trial, line), highlight=False, soft_wrap=True)


def summary_table(summaries: Sequence[ArmSummary], title: str = "Per optimizer") -> Table:
    """The end-of-run table: one row per optimizer and its best trial."""
    table = Table(title=title, title_justify="left")
    for header, justify in [
        ("optimizer", "left"), ("trials", "right"), ("pruned", "right"), ("failed", "right"),
        ("diverged", "right"), ("best val acc", "right"), ("its test acc", "right"),
        ("trial", "right"), ("hyperparameters of the best trial", "left"),
    ]:
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for s in summaries:
        trial = "–" if s.best_trial is None else f"#{s.best_trial}"
        if s.best_reference:
            trial += f" (reference {s.best_reference})"
        table.add_row(
            s.arm, str(s.finished), str(s.pruned), str(s.failed), str(s.diverged),
            _pct(s.best_value), _pct(s.best_test_accuracy), trial, format_params(s.best_params),
        )
    return table


def trials_table(rows: Sequence[TrialRow], title: str) -> Table:
    """Every trial of a study, one row each."""
    table = Table(title=title, title_justify="left")
    for header, justify in [
        ("#", "right"), ("state", "left"), ("optimizer", "left"), ("reference", "left"),
        ("val acc", "right"), ("test acc", "right"), ("epochs", "right"),
        ("hyperparameters", "left"), ("note", "left"),
    ]:
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            str(r.number), r.state, r.arm or "–", r.reference or "", _pct(r.value),
            _pct(r.test_accuracy), "" if r.epochs_trained is None else str(r.epochs_trained),
            format_params(r.params), r.note,
        )
    return table


class WorkersProgress:
    """The launcher's combined view: the study's progress and one row per worker.

    It reads everything from the database (the study and the worker registry), so it
    shows workers of other machines too. Where output is not a terminal, it prints a
    line per finished trial instead.
    """

    def __init__(self, study: optuna.Study, arms: Sequence[str], target: int,
                 registry: Any, console: Console) -> None:
        from rich.live import Live

        self._study = study
        self._arms = tuple(arms)
        self._target = target
        self._registry = registry
        self._console = console
        self._live_mode = console.is_terminal
        self._started = time.monotonic()
        self._seen: set[int] = {
            t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()
        }
        self._finished_at_start = sum(
            1 for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")
        )
        self._live = Live(console=console, refresh_per_second=2, transient=False) if self._live_mode else None

    def __enter__(self) -> WorkersProgress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self.refresh()
            self._live.stop()

    def _status(self, trials: Sequence[Any]) -> str:
        summaries = summarize_arms(trials, self._arms)
        finished = sum(s.finished for s in summaries)
        pruned = sum(s.pruned for s in summaries)
        failed = sum(s.failed for s in summaries)
        best = " · ".join(f"best {s.arm} {_pct(s.best_value)}" for s in summaries)
        elapsed = time.monotonic() - self._started
        done_here = finished - self._finished_at_start
        timing = f"{_duration(elapsed)} elapsed"
        if done_here > 0 and finished < self._target:
            timing += f", about {_duration(elapsed / done_here * (self._target - finished))} left"
        return (f"{finished}/{self._target} finished · complete {finished - pruned} · "
                f"pruned {pruned} · failed {failed} · {best} · {timing}")

    def refresh(self) -> None:
        from rich.console import Group

        trials = self._study.get_trials(deepcopy=False)
        status = self._status(trials)
        workers = self._registry.workers(self._study.study_name)
        if self._live is not None:
            self._live.update(Group(status, workers_table(workers, title=None)))
            return
        for trial in trials:
            if trial.state.is_finished() and trial.number not in self._seen:
                self._seen.add(trial.number)
                self._console.print(_trial_line(trial, status), highlight=False, soft_wrap=True)


def _ago(moment: Any) -> str:
    import datetime as dt

    seconds = (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - moment).total_seconds()
    return f"{_duration(max(0.0, seconds))} ago"


def workers_table(workers: Sequence[Any], title: str | None) -> Table:
    """One row per worker of the registry: where it runs, what it does, whether it lives."""
    table = Table(title=title, title_justify="left")
    for header, justify in [
        ("worker", "right"), ("host", "left"), ("pid", "right"), ("device", "left"),
        ("state", "left"), ("trial", "right"), ("epoch", "right"), ("finished", "right"),
        ("started", "left"), ("last heartbeat", "left"), ("message", "left"),
    ]:
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    styles = {"running": "green", "dead": "bold red", "failed": "red", "interrupted": "yellow"}
    for w in workers:
        state = w.shown_state
        table.add_row(
            str(w.id), w.host, str(w.pid), w.device, Text(state, style=styles.get(state, "")),
            "" if w.current_trial is None else str(w.current_trial),
            "" if w.current_epoch is None else str(w.current_epoch),
            str(w.trials_finished), w.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            _ago(w.last_heartbeat), w.message or "",
        )
    return table

"""The run loop: ask for trials until the study holds its target of finished trials."""

from __future__ import annotations

import signal
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from optsearch._objective import Objective, TrialObserver
from optsearch._spec import StudySpec
from optsearch._strategies import make_pruner, make_sampler
from optsearch.errors import OptsearchError, TrialError

if TYPE_CHECKING:
    from optsearch.trainers import Dataset

__all__ = ["Interrupted", "RunOutcome", "StudyCounts", "count_trials", "run_study"]

# A worker whose trials fail this many times in a row (a broken GPU, a full disk, a
# dataset that cannot load) stops, rather than burning through the whole study.
MAX_CONSECUTIVE_FAILURES = 5

# How often a worker looks again while the last trials run in other processes.
_WAIT_SECONDS = 2.0


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: the running trial is marked failed and queued to run again."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


class TooManyFailures(OptsearchError):
    """Trials keep failing in this worker."""


@dataclass(frozen=True)
class StudyCounts:
    """Trials of a study by state; ``finished`` (complete + pruned) counts to the target."""

    complete: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    waiting: int = 0

    @property
    def finished(self) -> int:
        return self.complete + self.pruned


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: ``reason`` is ``target``, ``timeout``."""

    reason: str
    counts: StudyCounts
    trials_run: int
    seconds: float


def count_trials(study: optuna.Study) -> StudyCounts:
    """Count the trials of ``study`` by state."""
    by_state = {state: 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False):
        by_state[trial.state] += 1
    return StudyCounts(
        complete=by_state[TrialState.COMPLETE],
        pruned=by_state[TrialState.PRUNED],
        failed=by_state[TrialState.FAIL],
        running=by_state[TrialState.RUNNING],
        waiting=by_state[TrialState.WAITING],
    )


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM into the same clean interruption as Ctrl-C while trials run."""

    def on_term(signum: int, frame: Any) -> None:
        raise Interrupted("SIGTERM")

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _retry(study: optuna.Study, number: int | None) -> None:
    """Queue a failed trial to run again (bounded by the storage's retry limit)."""
    if number is None:
        return
    from optsearch.storage._engine import retry_callback

    trial = study.get_trials(deepcopy=False)[number]
    if trial.state == TrialState.FAIL:
        retry_callback()(study, trial)


def run_study(
    study: optuna.Study,
    spec: StudySpec,
    dataset: Dataset,
    *,
    observer: TrialObserver | None = None,
    on_trial_end: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    train: Callable[..., Any] | None = None,
) -> RunOutcome:
    """Run trials of ``study`` until it holds ``spec.n_trials`` finished trials.

    Finished means complete or pruned, reference trials included: running the same
    command again after an interruption finishes the remaining trials and never
    overshoots. Failed trials do not count; each is queued to run again with the same
    parameters (at most ``MAX_RETRIES`` times).

    Args:
        study: The study, created or resumed.
        spec: The spec in force.
        dataset: The loaded dataset.
        observer: Told of trial starts and epoch ends (the progress display).
        on_trial_end: Called with each finished or failed trial.
        train: The training function; defaults to :func:`optsearch.trainers.train_trial`.

    Raises:
        Interrupted: Ctrl-C or SIGTERM; the running trial was marked failed and queued.
        TooManyFailures: ``MAX_CONSECUTIVE_FAILURES`` trials failed in a row.
        FatalTrialError: A trial failed in a way every later trial would repeat.
    """
    study.sampler = make_sampler(spec)
    study.pruner = make_pruner(spec)
    objective = Objective(
        spec, dataset, observer, sampler=spec.sampler, pruner=spec.pruner, train=train
    )
    started = time.monotonic()
    trials_run = 0
    failures_in_a_row = 0
    with _signals_interrupt():
        while True:
            counts = count_trials(study)
            if counts.finished >= spec.n_trials:
                return RunOutcome("target", counts, trials_run, time.monotonic() - started)
            if spec.timeout is not None and time.monotonic() - started >= spec.timeout:
                return RunOutcome("timeout", counts, trials_run, time.monotonic() - started)
            if counts.finished + counts.running >= spec.n_trials:
                # The last trials run elsewhere (or belong to a dead process whose
                # heartbeat will expire): wait rather than overshoot the target.
                _fail_stale(study)
                time.sleep(_WAIT_SECONDS)
                continue
            objective.current_number = None
            try:
                study.optimize(objective, n_trials=1, catch=(TrialError,), gc_after_trial=False)
            except KeyboardInterrupt as exc:
                _retry(study, objective.current_number)
                raise exc if isinstance(exc, Interrupted) else Interrupted("SIGINT") from None
            trials_run += 1
            last = study.get_trials(deepcopy=False)[objective.current_number] if (
                objective.current_number is not None
            ) else None
            if last is None:
                continue
            if on_trial_end is not None:
                on_trial_end(study, last)
            if last.state == TrialState.FAIL:
                _retry(study, last.number)
                failures_in_a_row += 1
                if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
                    reason = last.user_attrs.get("fail_reason") or "unknown error"
                    raise TooManyFailures(
                        f"{failures_in_a_row} trials failed in a row; stopping this worker. "
                        f"Last error (trial {last.number}): {reason}. The failed trials are "
                        "queued and run again on the next `optsearch start`; run with "
                        "--debug to see the traceback."
                    )
            else:
                failures_in_a_row = 0


def _fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)

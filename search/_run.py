"""The run loop of one worker: ask for trials until the study holds its target.

Every worker of a study, in this process or on another machine, runs this loop. The
decision "does the study need another trial?" and the creation of that trial happen
under the study's lock (see ``optsearch.storage.study_lock``), so workers together
finish exactly the target, and arms stay balanced.
"""

from __future__ import annotations

import logging
import signal
import threading
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
from optsearch.errors import FatalTrialError, OptsearchError, StorageError, TrialError

if TYPE_CHECKING:
    from optsearch.storage import WorkerRegistry
    from optsearch.trainers import Dataset, EpochRecord, TrialParams

__all__ = [
    "Interrupted",
    "RunOutcome",
    "StudyCounts",
    "TooManyFailures",
    "WorkerSlot",
    "count_trials",
    "run_study",
]

_logger = logging.getLogger(__name__)

# A worker whose trials fail this many times in a row (a broken GPU, a full disk, a
# dataset that cannot load) stops, rather than burning through the whole study.
MAX_CONSECUTIVE_FAILURES = 5

# How often a worker looks again while the last trials run in other processes.
_WAIT_SECONDS = 2.0

# A worker that loses its database retries for this long before giving up; a server
# restart usually takes seconds. The trials that were running are failed by their
# missing heartbeats and re-run.
_DATABASE_PATIENCE_SECONDS = 300


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
    """How a run ended: ``reason`` is ``target`` or ``timeout``."""

    reason: str
    counts: StudyCounts
    trials_run: int
    seconds: float


@dataclass(frozen=True)
class WorkerSlot:
    """This worker's row in the worker registry."""

    registry: WorkerRegistry
    worker_id: int


def count_trials(study: optuna.Study) -> StudyCounts:
    """Count the trials of ``study`` by state."""
    by_state = dict.fromkeys(TrialState, 0)
    for trial in study.get_trials(deepcopy=False):
        by_state[trial.state] += 1
    return StudyCounts(
        complete=by_state[TrialState.COMPLETE],
        pruned=by_state[TrialState.PRUNED],
        failed=by_state[TrialState.FAIL],
        running=by_state[TrialState.RUNNING],
        waiting=by_state[TrialState.WAITING],
    )


_deferring = threading.local()


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn Ctrl-C (SIGINT) and SIGTERM into :class:`Interrupted`, which names the signal.

    Inside :func:`_bookkeeping` the interruption waits until the block ends, so that a
    trial is never left half-created or half-told.
    """

    def on_signal(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if getattr(_deferring, "active", False):
            _deferring.pending = name
            return
        raise Interrupted(name)

    try:
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _bookkeeping() -> Iterator[None]:
    """Hold back an interruption while the storage is updated (creating, telling a trial)."""
    _deferring.active, _deferring.pending = True, None
    try:
        yield
    finally:
        _deferring.active = False
    pending, _deferring.pending = _deferring.pending, None
    if pending is not None:
        raise Interrupted(pending)


class _Heartbeat:
    """Beats for the running trial (Optuna's heartbeat) and for this worker's row."""

    def __init__(self, storage: Any, slot: WorkerSlot | None) -> None:
        from optsearch.storage import heartbeat_seconds

        self._storage = storage
        self._slot = slot
        interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
        self._enabled = interval is not None
        self._interval = interval or heartbeat_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="optsearch-heartbeat", daemon=True)
        self.trial_id: int | None = None

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def start_trial(self, trial_id: int) -> None:
        """Beat for ``trial_id`` from now on, starting at once: a trial whose worker dies
        before its first heartbeat would otherwise never be found stale."""
        self.trial_id = trial_id
        self.beat()

    def beat(self) -> None:
        trial_id = self.trial_id
        if trial_id is not None and self._enabled:
            self._storage.record_heartbeat(trial_id)
        if self._slot is not None:
            self._slot.registry.update(self._slot.worker_id)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.beat()
            except Exception as exc:  # a database blip: the next beat tries again
                _logger.debug("heartbeat failed: %s", exc)


class _RegistryObserver:
    """Tells the worker registry (and the display, if any) what this worker does."""

    def __init__(self, slot: WorkerSlot | None, display: TrialObserver | None) -> None:
        self._slot = slot
        self._display = display

    def _update(self, **fields: Any) -> None:
        if self._slot is not None:
            self._slot.registry.update(self._slot.worker_id, **fields)

    def trial_started(self, number: int, params: TrialParams, reference: str | None) -> None:
        self._update(current_trial=number, current_epoch=0)
        if self._display is not None:
            self._display.trial_started(number, params, reference)

    def epoch_ended(self, number: int, record: EpochRecord, epochs: int) -> None:
        self._update(current_epoch=record.epoch)
        if self._display is not None:
            self._display.epoch_ended(number, record, epochs)


def _fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)


def _retry(study: optuna.Study, number: int) -> None:
    """Queue a failed trial to run again (bounded by the storage's retry limit)."""
    from optsearch.storage import retry_callback

    trial = study.get_trials(deepcopy=False)[number]
    if trial.state == TrialState.FAIL:
        retry_callback()(study, trial)


def _lock(study: optuna.Study) -> Any:
    from contextlib import nullcontext

    from optsearch.storage import study_lock

    # Optuna wraps the RDB storage of a study in a caching layer; the engine is below it.
    storage = study._storage
    engine = getattr(storage, "engine", None) or getattr(getattr(storage, "_backend", None), "engine", None)
    return nullcontext() if engine is None else study_lock(engine, study.study_name)


def run_study(
    study: optuna.Study,
    spec: StudySpec,
    dataset: Dataset,
    *,
    observer: TrialObserver | None = None,
    on_trial_end: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    train: Callable[..., Any] | None = None,
    slot: WorkerSlot | None = None,
) -> RunOutcome:
    """Run trials of ``study`` until it holds ``spec.n_trials`` finished trials.

    Finished means complete or pruned, reference trials included: running the same
    command again after an interruption finishes the remaining trials and never
    overshoots, also with many workers. Failed trials do not count; each is queued
    to run again with the same parameters (at most ``MAX_RETRIES`` times).

    Args:
        study: The study, created or resumed.
        spec: The spec in force.
        dataset: The loaded dataset.
        observer: Told of trial starts and epoch ends (the progress display).
        on_trial_end: Called with each finished or failed trial.
        train: The training function; defaults to :func:`optsearch.trainers.train_trial`.
        slot: This worker's row in the worker registry, kept up to date.

    Raises:
        Interrupted: Ctrl-C or SIGTERM; the running trial was marked failed and queued.
        TooManyFailures: ``MAX_CONSECUTIVE_FAILURES`` trials failed in a row.
        FatalTrialError: A trial failed in a way every later trial would repeat.
        StorageError: The database stayed unreachable.
    """
    from sqlalchemy.exc import InterfaceError, OperationalError

    study.sampler = make_sampler(spec)
    study.pruner = make_pruner(spec)
    objective = Objective(
        spec, dataset, _RegistryObserver(slot, observer),
        sampler=spec.sampler, pruner=spec.pruner, train=train,
    )
    started = time.monotonic()
    trials_run = 0
    failures_in_a_row = 0
    finished_here = 0
    database_down_since: float | None = None
    with signals_interrupt(), _Heartbeat(study._storage, slot) as heartbeat:
        while True:
            trial: optuna.Trial | None = None
            told = False
            try:
                with _bookkeeping(), _lock(study):
                    _fail_stale(study)
                    counts = count_trials(study)
                    if counts.finished >= spec.n_trials:
                        return RunOutcome("target", counts, trials_run, time.monotonic() - started)
                    if spec.timeout is not None and time.monotonic() - started >= spec.timeout:
                        return RunOutcome("timeout", counts, trials_run, time.monotonic() - started)
                    if counts.finished + counts.running < spec.n_trials:
                        with warnings.catch_warnings():
                            # This loop sends the heartbeats Optuna's optimize() would.
                            warnings.filterwarnings("ignore", "Heartbeat of storage")
                            trial = study.ask()
                            heartbeat.start_trial(trial._trial_id)
                database_down_since = None
                if trial is None:
                    # The last trials run elsewhere (or belong to a dead worker whose
                    # heartbeat will expire): wait rather than overshoot the target.
                    time.sleep(_WAIT_SECONDS)
                    continue
                trials_run += 1
                try:
                    value = objective(trial)
                except optuna.TrialPruned:
                    state, values = TrialState.PRUNED, None
                except FatalTrialError:
                    with _bookkeeping():
                        study.tell(trial, state=TrialState.FAIL)
                        told = True
                    raise
                except TrialError:
                    state, values = TrialState.FAIL, None
                else:
                    state, values = TrialState.COMPLETE, value
                with _bookkeeping():
                    study.tell(trial, values, state=state)
                    told = True
                    heartbeat.trial_id = None
                last = study._storage.get_trial(trial._trial_id)
                if on_trial_end is not None:
                    on_trial_end(study, last)
                if last.state != TrialState.FAIL:
                    failures_in_a_row = 0
                    finished_here += 1
                    if slot is not None:
                        slot.registry.update(
                            slot.worker_id, trials_finished=finished_here,
                            current_trial=None, current_epoch=None,
                        )
                    continue
                reason = str(last.user_attrs.get("fail_reason") or "unknown error").rstrip(".")
                _retry(study, last.number)
                failures_in_a_row += 1
                if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
                    raise TooManyFailures(
                        f"{failures_in_a_row} trials failed in a row; stopping this worker. "
                        f"Last error (trial {last.number}): {reason}. The failed trials are "
                        "queued and run again on the next `optsearch start`; run with "
                        "--debug to see the traceback."
                    )
            except KeyboardInterrupt as exc:
                if trial is not None and not told:
                    with _bookkeeping():
                        heartbeat.trial_id = None
                        study.tell(trial, state=TrialState.FAIL)
                        _retry(study, trial.number)
                raise exc if isinstance(exc, Interrupted) else Interrupted("SIGINT") from None
            except (OperationalError, InterfaceError) as exc:
                # The database went away (a restart, a network cut). The running
                # trial, if any, is lost: its heartbeat stops and another worker (or
                # this one, later) fails and re-runs it.
                heartbeat.trial_id = None
                now = time.monotonic()
                database_down_since = database_down_since or now
                if now - database_down_since > _DATABASE_PATIENCE_SECONDS:
                    raise StorageError(
                        f"The database stayed unreachable for {_DATABASE_PATIENCE_SECONDS} s "
                        f"({str(exc.orig or exc).splitlines()[0]}); stopping this worker."
                    ) from None
                _logger.warning("database unreachable, retrying: %s", exc)
                time.sleep(_WAIT_SECONDS)

"""Open Optuna's RDB storage with engine settings that suit long, shared studies."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optsearch.errors import StorageError
from optsearch.storage._locks import file_lock
from optsearch.storage._url import mask_url, parse_url

if TYPE_CHECKING:
    import optuna

# A worker sends a heartbeat every HEARTBEAT_SECONDS while a trial runs; a trial whose
# heartbeat is older than GRACE_SECONDS belongs to a dead process and is failed (and
# retried) by the next worker that starts a trial. Epochs of the default preset take
# well under a second, but a ResNet epoch on a CPU can take minutes and heartbeats come
# from a thread, so the grace period only has to cover a stalled process, not an epoch.
# Both can be set per deployment through OPTSEARCH_HEARTBEAT_SECONDS and
# OPTSEARCH_GRACE_SECONDS (a shorter grace re-runs a dead worker's trial sooner).
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60

# A failed trial (a fault, an interrupt, a dead worker) is re-run with the same
# parameters at most this many times; a configuration that keeps failing is a bug to
# look at, not something to retry forever.
MAX_RETRIES = 2

# SQLite waits this long for a lock held by another local process before giving up.
SQLITE_BUSY_TIMEOUT_SECONDS = 60

_DRIVER_EXTRAS = {
    "psycopg": "postgres",
    "psycopg2": "postgres",
    "pymysql": "mysql",
    "MySQLdb": "mysql",
}


def _engine_kwargs(url: Any) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}}
    # A server shared by many workers: check connections before use (a restarted
    # server or a proxy that dropped an idle connection), recycle old ones, and keep
    # each worker's pool small so dozens of workers do not exhaust the server.
    return {"pool_pre_ping": True, "pool_recycle": 1800, "pool_size": 2, "max_overflow": 2}


def _prepare_sqlite(url: Any) -> None:
    database = url.database
    if not database or database == ":memory:":
        return
    path = Path(database)
    if not path.parent.exists():
        raise StorageError(
            f"Cannot create the SQLite file {str(path)!r}: the folder {str(path.parent)!r} "
            "does not exist. Create it first, or pass another --storage."
        )
    # Write-ahead logging lets readers (the dashboard, `optsearch trials`) work while a
    # trial writes, and is a property of the file, so setting it once is enough.
    try:
        with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise StorageError(f"Cannot open the SQLite file {str(path)!r}: {exc}.") from exc


def _seconds_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise StorageError(f"{name} must be a whole number of seconds > 0. Received: {name}={raw!r}")
    return value


def heartbeat_seconds() -> int:
    """Seconds between heartbeats of a running trial and of a worker."""
    return _seconds_from_env("OPTSEARCH_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)


def grace_seconds() -> int:
    """Seconds without a heartbeat after which a trial or a worker counts as dead."""
    grace = _seconds_from_env("OPTSEARCH_GRACE_SECONDS", GRACE_SECONDS)
    return max(grace, 2 * heartbeat_seconds())


def retry_callback() -> optuna.storages.RetryHeartbeatStaleTrialCallback:
    """Queues a failed trial to run again with the same parameters, ``MAX_RETRIES`` at most.

    Optuna calls it for trials of dead workers; the run loop calls it for trials that
    raised or were interrupted, so every kind of fault is retried the same way.
    """
    import optuna

    return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # With write-ahead logging, NORMAL syncs at checkpoints rather than at every commit:
    # the file can never be corrupted, and a power cut loses at most the last commits
    # (a trial that is then re-run). It makes per-epoch bookkeeping several times cheaper.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _create(url: str, parsed: Any, heartbeat: bool) -> optuna.storages.RDBStorage:
    storage = _create_tables(url, parsed, heartbeat)
    if parsed.get_backend_name() == "sqlite":
        from sqlalchemy import event

        event.listen(storage.engine, "connect", _sqlite_pragmas)
        storage.engine.dispose()  # connections made before the listener reconnect with it
    return storage


def _create_tables(url: str, parsed: Any, heartbeat: bool) -> optuna.storages.RDBStorage:
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    # Workers that start together on a new database all create Optuna's tables; all
    # but one lose that race with an IntegrityError, and then find the tables made.
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=_engine_kwargs(parsed),
                heartbeat_interval=heartbeat_seconds() if heartbeat else None,
                grace_period=grace_seconds() if heartbeat else None,
                heartbeat_stale_trial_callback=retry_callback() if heartbeat else None,
            )
        except (IntegrityError, ProgrammingError, OperationalError) as exc:
            if attempt == 4 or "exist" not in str(exc).lower() and not isinstance(exc, IntegrityError):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def open_storage(url: str, *, heartbeat: bool = True) -> optuna.storages.RDBStorage:
    """Open (and if needed create) Optuna's tables at ``url``.

    Args:
        url: Any SQLAlchemy URL: ``sqlite:///path.db``,
            ``postgresql+psycopg://user@host/db``, ``mysql+pymysql://user@host/db``.
        heartbeat: Turn on Optuna's trial heartbeats, so trials of a process that died
            are failed and retried. Defaults to True.

    Returns:
        An :class:`optuna.storages.RDBStorage`.

    Raises:
        StorageError: The URL is invalid, its driver is not installed, or the database
            cannot be reached. The message never contains the password.
    """
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    parsed = parse_url(url)
    shown = mask_url(url)
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite(parsed)
    try:
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            # Processes on one machine share a SQLite file: one creates the tables at a time.
            with file_lock(Path(f"{parsed.database}.optsearch-lock")):
                return _create(url, parsed, heartbeat)
        return _create(url, parsed, heartbeat)
    except ImportError as exc:
        missing = getattr(exc.__cause__, "name", None) or getattr(exc, "name", None) or ""
        extra = _DRIVER_EXTRAS.get(missing.split(".")[0])
        hint = (
            f"Install it with: pip install -e '.[{extra}]'"
            if extra
            else "Install the database driver named in the URL."
        )
        raise StorageError(
            f"The database driver for {shown} is not installed ({missing or exc}). {hint}"
        ) from None
    except SQLAlchemyError as exc:
        host = parsed.host or parsed.database or "?"
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if parsed.password:
            reason = reason.replace(parsed.password, "***")
        raise StorageError(
            f"Cannot reach the database at {host} ({shown}): {reason}. "
            "Check that the server runs and the URL is right."
        ) from None

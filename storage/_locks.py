"""A short lock per study, shared by every worker process, on any backend.

Deciding whether the study needs another trial and creating that trial (which also
assigns its arm) must happen as one step: otherwise two workers that both see
"one trial to go" would both start one and overshoot the target, or both pick the
emptier arm and unbalance the study. The lock is held for milliseconds, never while
training.

- SQLite: all workers of a SQLite file run on one machine, so a file lock beside the
  database serializes them (it never touches SQLite's own locks).
- PostgreSQL: a session-level advisory lock on a key derived from the study name.
- MySQL / MariaDB: a named lock (``GET_LOCK``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from optsearch.errors import StorageError

__all__ = ["file_lock", "study_lock"]

LOCK_TIMEOUT_SECONDS = 120


def _key(study_name: str) -> int:
    digest = hashlib.sha256(f"optsearch:{study_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def study_lock(engine: Any, study_name: str) -> Iterator[None]:
    """Hold the study's lock for the duration of the ``with`` block.

    Args:
        engine: The SQLAlchemy engine of the study's storage (``RDBStorage.engine``).
        study_name: The study.

    Raises:
        StorageError: The lock could not be taken within ``LOCK_TIMEOUT_SECONDS``.
    """
    import sqlalchemy as sa

    backend = engine.url.get_backend_name()
    if backend == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with file_lock(Path(f"{database}.optsearch-lock")):
            yield
        return

    key = _key(study_name)
    with engine.connect() as connection:
        if backend == "postgresql":
            connection.execute(
                sa.text("SELECT set_config('lock_timeout', :ms, false)"),
                {"ms": f"{LOCK_TIMEOUT_SECONDS * 1000}"},
            )
            try:
                connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            except sa.exc.OperationalError:
                raise StorageError(
                    f"Could not take the lock of study {study_name!r} within "
                    f"{LOCK_TIMEOUT_SECONDS} s: another worker holds it. Is one stuck?"
                ) from None
            connection.commit()
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        elif backend in ("mysql", "mariadb"):
            name = f"optsearch-{key & 0xFFFFFFFFFFFF:x}"
            got = connection.execute(
                sa.text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": LOCK_TIMEOUT_SECONDS}
            ).scalar()
            if got != 1:
                raise StorageError(
                    f"Could not take the lock of study {study_name!r} within "
                    f"{LOCK_TIMEOUT_SECONDS} s: another worker holds it. Is one stuck?"
                )
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        else:  # Another backend: no cross-process lock; counts may overshoot by a few.
            yield

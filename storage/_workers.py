"""The worker registry: one row per worker process, in the study's own database.

Optuna's tables stay Optuna's; this table is ours (``optsearch_workers``), created
beside them with SQLAlchemy. Each worker writes its host, process id, device, start
time and a heartbeat, the trial and epoch it is on, how many trials it finished, and
its state. A worker whose state is ``running`` but whose heartbeat is older than the
grace period is dead (killed, or its machine lost power).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

__all__ = ["WorkerRecord", "WorkerRegistry"]

_metadata = sa.MetaData()

workers_table = sa.Table(
    "optsearch_workers",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_name", sa.String(512), nullable=False, index=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("device", sa.String(255), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("last_heartbeat", sa.DateTime, nullable=False),
    sa.Column("trials_finished", sa.Integer, nullable=False, default=0),
    sa.Column("current_trial", sa.Integer, nullable=True),
    sa.Column("current_epoch", sa.Integer, nullable=True),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("message", sa.String(1000), nullable=True),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class WorkerRecord:
    """One worker as the registry knows it; ``alive`` is judged from its heartbeat."""

    id: int
    study_name: str
    host: str
    pid: int
    device: str
    started_at: dt.datetime
    last_heartbeat: dt.datetime
    trials_finished: int
    current_trial: int | None
    current_epoch: int | None
    state: str
    message: str | None
    alive: bool

    @property
    def shown_state(self) -> str:
        if self.state == "running" and not self.alive:
            return "dead"
        return self.state


class WorkerRegistry:
    """Reads and writes the ``optsearch_workers`` table.

    Args:
        engine: The SQLAlchemy engine of the study's storage.
        grace_seconds: A running worker whose heartbeat is older than this is dead.
    """

    def __init__(self, engine: Any, grace_seconds: float) -> None:
        self._engine = engine
        self._grace = dt.timedelta(seconds=grace_seconds)
        for attempt in range(5):
            try:
                _metadata.create_all(engine, checkfirst=True)
                break
            except sa.exc.DBAPIError as exc:
                # Workers starting together race to create the table; the losers
                # find it made by the winner.
                if attempt == 4 or "exist" not in str(exc).lower() and not isinstance(exc, sa.exc.IntegrityError):
                    raise
                time.sleep(0.2 * (attempt + 1))

    def register(self, study_name: str, device: str) -> int:
        """Add this process as a running worker of ``study_name``; return its id."""
        now = _now()
        with self._engine.begin() as connection:
            result = connection.execute(
                workers_table.insert().values(
                    study_name=study_name, host=socket.gethostname(), pid=os.getpid(),
                    device=device[:255], started_at=now, last_heartbeat=now,
                    trials_finished=0, state="running",
                )
            )
            return int(result.inserted_primary_key[0])

    def update(self, worker_id: int, **fields: Any) -> None:
        """Record a heartbeat, and any of ``current_trial``, ``current_epoch``,
        ``trials_finished``, ``state``, ``message``."""
        if "message" in fields and fields["message"] is not None:
            fields["message"] = str(fields["message"])[:1000]
        with self._engine.begin() as connection:
            connection.execute(
                workers_table.update()
                .where(workers_table.c.id == worker_id)
                .values(last_heartbeat=_now(), **fields)
            )

    def workers(self, study_name: str) -> list[WorkerRecord]:
        """Every worker that ever joined ``study_name``, oldest first."""
        now = _now()
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(workers_table)
                .where(workers_table.c.study_name == study_name)
                .order_by(workers_table.c.id)
            ).mappings().all()
        return [
            WorkerRecord(
                **dict(row),
                alive=row["state"] == "running" and now - row["last_heartbeat"] <= self._grace,
            )
            for row in rows
        ]

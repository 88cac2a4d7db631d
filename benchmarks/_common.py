"""Shared by the benchmark items: modes, timing, result records, machine description."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Mode",
    "Section",
    "Table",
    "describe_machine",
    "has_gpu",
    "percentile",
    "reachable",
    "stopwatch",
    "unique_name",
]


@dataclass(frozen=True)
class Mode:
    """How big a run is: ``quick`` fits a laptop in minutes, ``full`` uses real sizes."""

    name: str  # "quick" or "full"
    gpu: bool = False

    @property
    def quick(self) -> bool:
        return self.name == "quick"


@dataclass(frozen=True)
class Table:
    """One table of a section: column names and rows of already formatted cells."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |",
                 "| " + " | ".join("---" for _ in self.columns) + " |"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass(frozen=True)
class Section:
    """What one benchmark item found: a goal, whether this run met it, tables, notes."""

    name: str
    title: str
    goal: str
    verdict: str
    tables: tuple[Table, ...]
    notes: tuple[str, ...] = ()
    mode: str = "quick"
    seconds: float = 0.0
    machine: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Section:
        tables = tuple(
            Table(t["title"], tuple(t["columns"]), tuple(tuple(r) for r in t["rows"]))
            for t in data["tables"]
        )
        return cls(**{**data, "tables": tables, "notes": tuple(data.get("notes", ()))})


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` holds the wall seconds."""
    box = [0.0]
    started = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - started


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def unique_name(prefix: str) -> str:
    """A study name no other run (or engineer on a shared server) uses."""
    return f"bench-{prefix}-{uuid.uuid4().hex[:10]}"


def reachable(url: str, timeout: float = 1.0) -> bool:
    """Whether the server of a SQLAlchemy URL accepts TCP connections (SQLite: always)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return True
    port = parsed.port or {"postgresql": 5432, "mysql": 3306}.get(parsed.get_backend_name(), 0)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def has_gpu() -> bool:
    """Whether TensorFlow sees a GPU (imports TensorFlow)."""
    from optsearch.trainers import import_keras

    import_keras()
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(gpu: bool = False) -> dict[str, str]:
    """CPU model, cores, GPU, load, Python/TensorFlow/Keras/Optuna versions and the date."""
    import optuna

    from optsearch.trainers import import_keras

    keras = import_keras()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    names = []
    for device in gpus:
        try:
            names.append(tf.config.experimental.get_device_details(device).get("device_name", device.name))
        except Exception:  # details are best effort
            names.append(device.name)
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "gpu": ", ".join(names) if names else "none",
        "load average at start": load,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "optuna": optuna.__version__,
    }


def fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    """A number for a table cell; a dash for None or NaN."""
    if value is None or value != value:
        return "–"
    return f"{value:.{digits}f}{suffix}"

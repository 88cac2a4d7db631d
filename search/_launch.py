"""Launching worker processes: one per GPU (or several), or N on the CPU.

Workers are processes, never threads: each imports TensorFlow on its own and sees
only its own device. The placement is computed as plain data (:func:`plan_workers`),
so it is tested without a GPU; :class:`Launcher` starts the processes and watches
them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from optsearch.errors import OptsearchError, UsageError

__all__ = ["GpuInfo", "Launcher", "WorkerPlan", "detect_gpus", "parse_gpus", "plan_workers"]

# Share of a GPU's memory handed out when several workers pack one GPU; the rest is
# left for the CUDA context of each process and for fragmentation.
_GPU_MEMORY_SHARE = 0.9

# Seconds a stopped worker gets to mark its trial failed before it is killed.
_STOP_GRACE_SECONDS = 60


@dataclass(frozen=True)
class GpuInfo:
    """A GPU as ``nvidia-smi`` reports it."""

    index: int
    name: str = "GPU"
    memory_mb: int | None = None


@dataclass(frozen=True)
class WorkerPlan:
    """One worker process to start: its label, its device, and its environment."""

    label: str
    device: str
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def detect_gpus(run: object = subprocess.run) -> list[GpuInfo]:
    """The GPUs of this machine, from ``nvidia-smi``; an empty list where there is none.

    ``CUDA_VISIBLE_DEVICES``, when set, restricts the list to the GPUs it names.
    """
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        result = run(  # type: ignore[operator]
            ["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if result.returncode != 0:
        return []
    gpus = []
    for line in result.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and parts[0].isdigit():
            memory = int(float(parts[2])) if parts[2].replace(".", "", 1).isdigit() else None
            gpus.append(GpuInfo(int(parts[0]), parts[1], memory))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        allowed = {v.strip() for v in visible.split(",") if v.strip()}
        gpus = [g for g in gpus if str(g.index) in allowed]
    return gpus


def parse_gpus(text: str, available: Sequence[GpuInfo]) -> list[GpuInfo]:
    """Turn ``--gpus all`` or ``--gpus 0,2,3`` into the GPUs to use.

    Raises:
        UsageError: No GPU is visible, or an index names none of them.
    """
    if not available:
        raise UsageError(
            f"--gpus {text} asks for GPUs, but none is visible on this machine "
            "(nvidia-smi lists none). Use --workers N to run N workers on the CPU."
        )
    if text.strip().lower() == "all":
        return list(available)
    by_index = {g.index: g for g in available}
    chosen = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) not in by_index:
            raise UsageError(
                f"--gpus {text}: {part!r} is not a visible GPU. Visible GPUs: "
                f"{', '.join(str(i) for i in by_index)}; or use --gpus all."
            )
        if by_index[int(part)] not in chosen:
            chosen.append(by_index[int(part)])
    return chosen


def plan_workers(
    gpus: Sequence[GpuInfo] | None = None,
    workers_per_gpu: int = 1,
    workers: int | None = None,
    cpu_count: int | None = None,
) -> list[WorkerPlan]:
    """Where each worker runs, and the environment that puts it there.

    Args:
        gpus: The GPUs to use; each gets ``workers_per_gpu`` workers that see only it.
        workers_per_gpu: Workers packed on each GPU; with more than one, each gets a
            memory cap of its share of the card. Defaults to 1.
        workers: CPU workers to start when ``gpus`` is empty or None.
        cpu_count: Cores to share among CPU workers. Defaults to the machine's.

    Raises:
        UsageError: Neither GPUs nor a worker count, or counts below one.
    """
    if workers_per_gpu < 1:
        raise UsageError(f"--workers-per-gpu must be >= 1. Received: {workers_per_gpu}")
    plans = []
    if gpus:
        for gpu in gpus:
            for k in range(workers_per_gpu):
                env = {"CUDA_VISIBLE_DEVICES": str(gpu.index)}
                device = f"GPU {gpu.index}"
                if workers_per_gpu > 1 and gpu.memory_mb:
                    cap = int(gpu.memory_mb * _GPU_MEMORY_SHARE / workers_per_gpu)
                    env["OPTSEARCH_GPU_MEMORY_MB"] = str(cap)
                    device += f" ({k + 1}/{workers_per_gpu}, {cap} MB)"
                plans.append(WorkerPlan(f"gpu{gpu.index}-{k}", device, MappingProxyType(env)))
        return plans
    if workers is None or workers < 1:
        raise UsageError(f"--workers must be >= 1. Received: {workers}")
    cores = cpu_count or os.cpu_count() or 1
    threads = max(1, cores // workers)
    for k in range(workers):
        env = {"CUDA_VISIBLE_DEVICES": "", "OPTSEARCH_CPU_THREADS": str(threads)}
        plans.append(WorkerPlan(f"cpu-{k}", f"CPU ({threads} threads)", MappingProxyType(env)))
    return plans


@dataclass
class _Process:
    plan: WorkerPlan
    popen: subprocess.Popen[str]
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))

    def read_stderr(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.tail.append(line.rstrip())

    @property
    def last_error(self) -> str:
        errors = [line for line in self.tail if line.startswith("Error:")]
        return errors[-1] if errors else (self.tail[-1] if self.tail else "")


class Launcher:
    """Starts the planned worker processes on one study and watches them.

    Each worker runs ``optsearch worker``; the storage URL travels in the environment
    (``OPTSEARCH_STORAGE``), not on the command line, so no password shows in ``ps``.
    """

    def __init__(self, plans: Sequence[WorkerPlan], study_name: str, storage_url: str) -> None:
        self.plans = list(plans)
        self.study_name = study_name
        self.storage_url = storage_url
        self.processes: list[_Process] = []
        self.signal_name: str | None = None

    def start(self) -> None:
        for plan in self.plans:
            env = {**os.environ, **plan.env, "OPTSEARCH_STORAGE": self.storage_url,
                   "PYTHONUNBUFFERED": "1"}
            command = [sys.executable, "-m", "optsearch", "worker", "--study", self.study_name,
                       "--device-label", plan.device, "--no-progress"]
            popen = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True, start_new_session=True,
            )
            process = _Process(plan, popen)
            threading.Thread(target=process.read_stderr, daemon=True).start()
            self.processes.append(process)

    def running(self) -> bool:
        return any(p.popen.poll() is None for p in self.processes)

    def stop(self, signal_name: str) -> None:
        """Ask every worker to stop (SIGTERM): each marks its trial failed and exits."""
        self.signal_name = signal_name
        for process in self.processes:
            if process.popen.poll() is None:
                os.killpg(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        for process in self.processes:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()

    def failures(self) -> list[str]:
        """One line per worker that exited with an error (not interrupted)."""
        lines = []
        for process in self.processes:
            code = process.popen.returncode
            if code not in (0, None, 130):
                lines.append(f"worker {process.plan.label} ({process.plan.device}) exited with "
                             f"status {code}: {process.last_error or 'no message'}")
        return lines


def raise_if_all_failed(launcher: Launcher) -> None:
    failures = launcher.failures()
    if failures and len(failures) == len(launcher.processes):
        raise OptsearchError("Every worker failed. " + " | ".join(failures))

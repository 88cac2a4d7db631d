"""Item 3: the storage under load, on SQLite, PostgreSQL and MariaDB.

Worker processes (multiprocessing, spawn) each run optsearch's own ``run_study`` on one
study, with a fake trainer that trains nothing and reports every step: so every step
goes through the real path (curve written to the trial, ``trial.report``, the pruner's
``should_prune``), and trial creation through the study lock, exactly as with real
workers. Afterwards the study is counted: the target must be met exactly, with no
failed trial.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import Mode, Section, Table, fmt, percentile, reachable, unique_name

NAME = "storage"
TITLE = "3. Storage under load"
GOAL = "Zero lost, duplicated or failed trials on every backend and worker count."

SERVERS = {
    "PostgreSQL": ("OPTSEARCH_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "MariaDB": ("OPTSEARCH_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def _fake_train(latencies: list[float]) -> Any:
    from optsearch.trainers import EpochRecord, TrialResult

    def train(params: Any, dataset: Any, model: str, reporter: Any = None) -> Any:
        # Quality fixed by the parameters, so the pruner has something to compare.
        quality = 0.5 + 0.4 * ((hash(params) % 1000) / 1000)
        curve, stopped = [], False
        for step in range(1, params.epochs + 1):
            acc = quality * (1 - 0.5**step)
            record = EpochRecord(step, 1.0 / step, acc, 1.0 / step, acc, params.learning_rate, 0.0)
            curve.append(record)
            started = time.perf_counter()
            stop = reporter(record) if reporter is not None else False
            latencies.append(time.perf_counter() - started)
            if stop:
                stopped = True
                break
        best = max(curve, key=lambda r: r.val_accuracy)
        return TrialResult(best.val_accuracy, best.epoch, best.val_accuracy, best.accuracy,
                           tuple(curve), stopped, False, "fake", 0.0)

    return train


def _worker(url: str, study_name: str, spec_json: str, start_at: float, out: str) -> None:
    """One worker process: wait for the common start, run the study, dump latencies."""
    from optsearch._run import run_study
    from optsearch._spec import spec_from_mapping
    from optsearch._study import load_study
    from optsearch.storage import open_storage

    spec = spec_from_mapping(json.loads(spec_json), source="benchmark")
    storage = open_storage(url)
    study = load_study(storage, study_name)
    latencies: list[float] = []
    time.sleep(max(0.0, start_at - time.time()))
    error = None
    try:
        run_study(study, spec, None, train=_fake_train(latencies))
    except Exception as exc:  # reported in the table, not raised in a child
        error = f"{type(exc).__name__}: {exc}"
    Path(out).write_text(json.dumps({"latencies": latencies, "error": error}))


def _one(url: str, workers: int, n_trials: int, steps: int, folder: str) -> dict[str, Any]:
    import optuna
    from optuna.trial import TrialState

    from optsearch._spec import StudySpec
    from optsearch._study import open_study
    from optsearch.storage import open_storage

    spec = StudySpec(name=unique_name(NAME), epochs=steps, n_trials=n_trials, pruner="median",
                     pruner_warmup_epochs=2)
    storage = open_storage(url)
    study, _ = open_study(storage, spec)
    context = multiprocessing.get_context("spawn")
    # Processes take a second or two to import; all start working at the same moment.
    start_at = time.time() + 2.0 + 0.5 * workers
    outs = [os.path.join(folder, f"{spec.name}-{i}.json") for i in range(workers)]
    procs = [context.Process(target=_worker, args=(url, spec.name, json.dumps(spec.to_json_dict()), start_at, out))
             for out in outs]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=600)
        if proc.is_alive():
            proc.terminate()
            proc.join()
    latencies, errors = [], []
    for out in outs:
        if os.path.exists(out):
            data = json.loads(Path(out).read_text())
            latencies += data["latencies"]
            if data["error"]:
                errors.append(data["error"])
        else:
            errors.append("worker wrote no result")
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    failed = sum(t.state == TrialState.FAIL for t in trials)
    span = (max(t.datetime_complete for t in finished) - min(t.datetime_start for t in finished)).total_seconds() \
        if finished else float("nan")
    try:
        optuna.delete_study(study_name=spec.name, storage=storage)  # our own study only
    except Exception:
        pass
    storage.engine.dispose()
    return {
        "finished": len(finished), "lost": max(0, n_trials - len(finished)),
        "duplicated": max(0, len(finished) - n_trials), "failed": failed,
        "running": sum(t.state == TrialState.RUNNING for t in trials),
        "per_second": len(finished) / span if span and span > 0 else float("nan"),
        "p50": 1000 * percentile(latencies, 50), "p99": 1000 * percentile(latencies, 99),
        "reports": len(latencies), "errors": errors,
    }


def run(mode: Mode) -> Section:
    worker_counts, n_trials, steps = ((1, 2), 24, 10) if mode.quick else ((1, 2, 4, 8), 200, 20)
    backends = []
    notes = [f"{n_trials} trials per study, {steps} reported steps each, median pruner "
             "(per arm, warm-up 2 steps), heartbeats on; worker processes started with "
             "multiprocessing (spawn), each running optsearch's `run_study` with a fake trainer."]
    with tempfile.TemporaryDirectory() as folder:
        backends.append(("SQLite", f"sqlite:///{Path(folder) / 'load.db'}"))
        for name, (env, default) in SERVERS.items():
            url = os.environ.get(env, default)
            if reachable(url):
                backends.append((name, url))
            else:
                notes.append(f"{name} skipped: no server at {url.split('@')[-1]} (set {env}).")
        rows, clean, errors = [], True, []
        for backend, url in backends:
            for workers in worker_counts:
                r = _one(url, workers, n_trials, steps, folder)
                bad = r["lost"] + r["duplicated"] + r["failed"] + r["running"]
                clean &= bad == 0 and not r["errors"]
                errors += [f"{backend}, {workers} workers: {e}" for e in r["errors"]]
                rows.append((backend, str(workers), fmt(r["per_second"], 1), fmt(r["p50"], 1), fmt(r["p99"], 1),
                             str(r["lost"]), str(r["duplicated"]), str(r["failed"]), str(r["reports"])))
    notes.append("Trials per second: finished trials over the span from the first start to the last "
                 "completion (process start-up excluded). Latency: one step's report "
                 "(curve to the trial, `trial.report`, `should_prune`), over every step of every worker.")
    notes += errors[:5]
    verdict = (f"{'Met' if clean else 'Not met'}: "
               f"{'no' if clean else 'some'} lost, duplicated, failed or stuck trials on "
               f"{', '.join(b for b, _ in backends)}.")
    return Section(NAME, TITLE, GOAL, verdict, (
        Table("Per backend and worker count",
              ("backend", "workers", "trials/s", "report p50 ms", "report p99 ms", "lost", "duplicated",
               "failed", "reports"), tuple(rows)),
    ), notes=tuple(notes))

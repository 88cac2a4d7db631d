"""Item 4: how costs grow with the study's size.

Finished trials are created synthetically (``optuna.trial.create_trial`` and
``study.add_trials``) in a temporary SQLite file, with the parameters and user
attributes that ``optsearch report`` reads. At each size the suite times, per sampler,
one step of the run loop that asks for a new trial (counting the study's trials, then
``study.ask()`` and the parameter suggestions), and times ``optsearch report --json``
and ``optsearch trials`` as real subprocesses (their Python start-up, measured with
``optsearch --version``, is shown apart).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import Mode, Section, Table, fmt, median, unique_name

NAME = "growth"
TITLE = "4. Growth with the study size"
GOAL = ("`optsearch report` on 10,000 trials in a few seconds; no step growing faster than "
        "the trials themselves (exponent ≤ 1) without a reason written down.")
EPOCHS = 20


def _synthetic(number: int, rng: np.random.Generator) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState, create_trial

    arm = ("sgd", "adam")[number % 2]
    quality = float(0.6 + 0.35 * rng.random())
    pruned = rng.random() < 0.5
    epochs = int(rng.integers(4, EPOCHS)) if pruned else EPOCHS
    curve = [{"epoch": e, "loss": 1.0 / e, "accuracy": quality * e / epochs, "val_loss": 1.0 / e,
              "val_accuracy": quality * e / epochs, "learning_rate": 0.01, "seconds": 0.1}
             for e in range(1, epochs + 1)]
    lr = FloatDistribution(1e-3, 1.0, log=True) if arm == "sgd" else FloatDistribution(1e-5, 1e-1, log=True)
    params = {"optimizer": arm, "learning_rate": float(lr.low * 10), "schedule": "constant"}
    dists = {"optimizer": CategoricalDistribution(["sgd", "adam"]), "learning_rate": lr,
             "schedule": CategoricalDistribution(["constant", "step", "exponential", "cosine"])}
    if arm == "sgd":
        params["momentum"], dists["momentum"] = float(0.9 * rng.random()), FloatDistribution(0.0, 0.99)
    else:
        params["beta_1"], dists["beta_1"] = float(0.5 + 0.4 * rng.random()), FloatDistribution(0.5, 0.99)
    return create_trial(
        state=TrialState.PRUNED if pruned else TrialState.COMPLETE, value=quality,
        params=params, distributions=dists,
        user_attrs={"optimizer": arm, "sampler": "random", "pruner": "median", "seed": number,
                    "curve": curve, "best_epoch": epochs, "best_val_accuracy": quality,
                    "test_accuracy": quality - 0.01, "train_accuracy_at_best": quality + 0.01,
                    "epochs_trained": epochs, "seconds": 2.0, "diverged": False,
                    "end_reason": "synthetic"},
        intermediate_values={e: quality * e / epochs for e in range(1, epochs + 1)},
    )


def _cli(args: list[str], env: dict[str, str]) -> float:
    exe = str(Path(sys.executable).with_name("optsearch"))
    command = [exe] if os.path.exists(exe) else [sys.executable, "-m", "optsearch.cli"]
    started = time.perf_counter()
    subprocess.run(command + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env, timeout=600)
    return time.perf_counter() - started


def _ask_seconds(study: Any, spec: Any, sampler: str, repeats: int) -> float:
    from optuna.trial import TrialState

    from optsearch._run import count_trials
    from optsearch._space import suggest_trial_params
    from optsearch._strategies import make_sampler

    study.sampler = make_sampler(spec, sampler)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        count_trials(study)
        trial = study.ask()
        suggest_trial_params(trial, spec)
        times.append(time.perf_counter() - started)
        # Failed, so it never counts as a result; the next size adds its own trials.
        study.tell(trial, state=TrialState.FAIL)
    return median(times)


def _exponent(sizes: list[int], seconds: list[float]) -> float:
    """Slope of log(time) against log(size) between the two largest sizes."""
    if len(sizes) < 2 or seconds[-2] <= 0 or seconds[-1] <= 0:
        return float("nan")
    return math.log(seconds[-1] / seconds[-2]) / math.log(sizes[-1] / sizes[-2])


def run(mode: Mode) -> Section:
    from optsearch._spec import StudySpec
    from optsearch._study import open_study
    from optsearch.storage import open_storage

    sizes = [100, 1_000] if mode.quick else [100, 1_000, 10_000]
    samplers = ("random", "tpe", "qmc")
    repeats = 3 if mode.quick else 5
    rng = np.random.default_rng(0)
    ask: dict[str, list[float]] = {s: [] for s in samplers}
    report_s, trials_s, rows = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'growth.db'}"
        env = {**os.environ, "OPTSEARCH_STORAGE": url, "TF_CPP_MIN_LOG_LEVEL": "3"}
        storage = open_storage(url, heartbeat=False)
        spec = StudySpec(name=unique_name(NAME), epochs=EPOCHS, n_trials=max(sizes), references=False)
        study, _ = open_study(storage, spec)
        startup = min(_cli(["--version"], env) for _ in range(2))
        made = 0
        for size in sizes:
            started = time.perf_counter()
            study.add_trials([_synthetic(made + i, rng) for i in range(size - made)])
            made = size
            create = time.perf_counter() - started
            for sampler in samplers:
                ask[sampler].append(_ask_seconds(study, spec, sampler, repeats))
            report_s.append(_cli(["report", "--study", spec.name, "--json"], env))
            trials_s.append(_cli(["trials", "--study", spec.name], env))
            rows.append((f"{size:,}", *(fmt(1000 * ask[s][-1], 0) for s in samplers),
                         fmt(report_s[-1], 2), fmt(trials_s[-1], 2), fmt(create, 1)))
        storage.engine.dispose()
    exponents = [("ask, " + s, _exponent(sizes, ask[s])) for s in samplers] + [
        ("report (minus start-up)", _exponent(sizes, [t - startup for t in report_s])),
        ("trials (minus start-up)", _exponent(sizes, [t - startup for t in trials_s])),
    ]
    fast = [name for name, e in exponents if e == e and e > 1.15]
    largest = sizes[-1]
    report_ok = report_s[-1] < 5.0
    met = report_ok and not fast and largest >= 10_000
    verdict = (
        f"{'Met' if met else 'Not met' if largest >= 10_000 else 'Not measured at 10,000 in this mode'}: "
        f"`optsearch report` took {report_s[-1]:.1f} s on {largest:,} trials"
        + (f"; growing faster than linear: {', '.join(fast)}." if fast else "; nothing grows faster than linear.")
    )
    return Section(NAME, TITLE, GOAL, verdict, (
        Table("Time per study size (ask: median ms of one run-loop step; report, trials: s, subprocess)",
              ("finished trials", "ask random ms", "ask tpe ms", "ask qmc ms", "report --json s", "trials s",
               "creating the trials s"), tuple(rows)),
        Table(f"Growth exponent between {sizes[-2]:,} and {largest:,} trials (1 = linear)",
              ("step", "exponent"), tuple((n, fmt(e, 2)) for n, e in exponents)),
    ), notes=(
        f"SQLite; {EPOCHS}-epoch curves, half the trials pruned; Python start-up of the CLI "
        f"(`optsearch --version`) took {startup:.2f} s and is inside the report and trials times.",
        "An ask step is what the run loop does per new trial under the study lock: count the "
        "study's trials, `study.ask()`, suggest the parameters. Every step reads all trials, so "
        "an exponent near 1 is expected: a whole study costs O(n²) in asks.",
    ))

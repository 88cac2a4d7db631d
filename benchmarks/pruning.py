"""Item 2: what pruning saves, and whether it changes the answer.

For each sampler seed the sgd-vs-adam study runs once unpruned with real training;
every trial's full curve is kept. The same study is then run with each pruner, and
each trial *replays* its stored curve epoch by epoch through optsearch's reporter and
the pruner, stopping where the pruner says. The random sampler draws a trial's
parameters from the seed and the trial number alone, so the pruned studies ask for
exactly the trials the unpruned one trained, and a trained epoch is the same epoch
whether or not it is pruned later: the replay gives the pruned search's decisions
without training noise, at a quarter of the cost.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._common import Mode, Section, Table, fmt, unique_name

NAME = "pruning"
TITLE = "2. Pruning savings"
GOAL = ("Each pruner saves at least half the epochs, finds a best validation accuracy "
        "within 0.5 points of the unpruned search, and gives the same verdict.")
PRUNERS = ("none", "median", "successive-halving", "hyperband")


class _Recorder:
    """Real training that keeps every trial's result, keyed by its parameters."""

    def __init__(self) -> None:
        from optsearch.trainers import train_trial

        self._train = train_trial
        self.results: dict[Any, Any] = {}

    def __call__(self, params: Any, dataset: Any, model: str, reporter: Any = None) -> Any:
        result = self._train(params, dataset, model, reporter)
        self.results[params] = result
        return result


class _Replayer:
    """Replays stored curves through the reporter; trains for real only on a miss."""

    def __init__(self, recorded: dict[Any, Any]) -> None:
        self._recorded = recorded
        self.misses = 0

    def __call__(self, params: Any, dataset: Any, model: str, reporter: Any = None) -> Any:
        from optsearch.trainers import TrialResult, train_trial

        full = self._recorded.get(params)
        if full is None:
            self.misses += 1
            return train_trial(params, dataset, model, reporter)
        curve, stopped = [], False
        for record in full.curve:
            curve.append(record)
            if reporter is not None and reporter(record):
                stopped = record is not full.curve[-1] or not full.diverged
                break
        usable = [r for r in curve if math.isfinite(r.loss) and math.isfinite(r.val_accuracy)]
        best = max(usable, key=lambda r: r.val_accuracy, default=None)
        diverged = full.diverged and len(curve) == len(full.curve)
        return TrialResult(
            best_val_accuracy=best.val_accuracy if best else 0.0,
            best_epoch=best.epoch if best else None,
            # Test accuracy is not replayable epoch by epoch; the full run's stands in
            # (it plays no part in pruning, the best value or the verdict).
            test_accuracy=full.test_accuracy if best else None,
            train_accuracy_at_best=best.accuracy if best else None,
            curve=tuple(curve), stopped_early=stopped and not diverged, diverged=diverged,
            end_reason=full.end_reason if not stopped else f"stopped by the pruner after epoch {len(curve)}",
            seconds=sum(r.seconds for r in curve),
        )


def _outcome(study: Any, spec: Any) -> dict[str, Any]:
    from optuna.trial import TrialState

    from optsearch.dashboards import compute_report

    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    epochs = sum(int(t.user_attrs.get("epochs_trained") or len(t.user_attrs.get("curve") or ())) for t in finished)
    best = max((t.value for t in finished if t.value is not None), default=float("nan"))
    try:
        report = compute_report(spec.name, trials, spec.arms, n_resamples=1000, seed=0)
        k_star, verdict = report.crossover.k_star, report.verdict
    except Exception as exc:  # too few trials per arm in a tiny quick run
        k_star, verdict = None, f"no verdict ({type(exc).__name__})"
    return {
        "epochs": epochs, "best": best, "k_star": k_star, "verdict": verdict,
        "pruned": sum(t.state == TrialState.PRUNED for t in finished),
        "sgd_ahead": verdict.startswith("SGD overtakes"),
    }


def run(mode: Mode) -> Section:
    from optsearch._presets import get_preset
    from optsearch._run import run_study
    from optsearch._study import open_study
    from optsearch.storage import open_storage
    from optsearch.trainers import load_dataset

    seeds, update = ((0,), {"epochs": 8, "n_trials": 24}) if mode.quick else ((0, 1, 2), {})
    rows, summary_rows, misses = [], {p: [] for p in PRUNERS[1:]}, 0
    spec = None
    with tempfile.TemporaryDirectory() as folder:
        storage = open_storage(f"sqlite:///{Path(folder) / 'pruning.db'}")
        for seed in seeds:
            base = get_preset("sgd-vs-adam", "x").model_copy(update={**update, "seed": seed})
            dataset = load_dataset(base.dataset, seed=seed, validation_fraction=base.validation_fraction)
            recorder = _Recorder()
            outcomes = {}
            for pruner in PRUNERS:
                spec = base.model_copy(update={"name": unique_name(f"{NAME}-{pruner}"), "pruner": pruner})
                study, _ = open_study(storage, spec)
                train = recorder if pruner == "none" else _Replayer(recorder.results)
                run_study(study, spec, dataset, train=train)
                misses += getattr(train, "misses", 0)
                outcomes[pruner] = _outcome(study, spec)
            ref = outcomes["none"]
            for pruner in PRUNERS:
                o = outcomes[pruner]
                saved = 1 - o["epochs"] / ref["epochs"]
                delta = 100 * (o["best"] - ref["best"])
                same = o["sgd_ahead"] == ref["sgd_ahead"]
                rows.append((
                    str(seed), pruner, str(o["epochs"]), fmt(100 * saved, 0, "%"), str(o["pruned"]),
                    fmt(o["best"], 4), fmt(delta, 2), str(o["k_star"] if o["k_star"] is not None else "none"),
                    "yes" if same else "**no**",
                ))
                if pruner != "none":
                    summary_rows[pruner].append((saved, delta, same))
        storage.engine.dispose()
    summary, all_met = [], True
    for pruner, values in summary_rows.items():
        saved = sum(v[0] for v in values) / len(values)
        worst = min(v[1] for v in values)
        same = all(v[2] for v in values)
        met = saved >= 0.5 and worst >= -0.5 and same
        all_met &= met
        summary.append((pruner, fmt(100 * saved, 0, "%"), fmt(worst, 2), f"{sum(v[2] for v in values)}/{len(values)}",
                        "met" if met else "not met"))
    best_pruner = max(summary_rows, key=lambda p: sum(v[0] for v in summary_rows[p]))
    verdict = (
        f"{'Met by every pruner' if all_met else 'Not met by every pruner'} "
        f"({len(seeds)} seed{'s' if len(seeds) > 1 else ''}); most epochs saved: {best_pruner}."
    )
    notes = [
        f"{spec.dataset}, {spec.model}, {spec.epochs} epochs, {spec.n_trials} trials per study "
        f"(3 references included), random sampler, warm-up {spec.pruner_warmup_epochs} epochs.",
        "Verdict compared: whether `optsearch report` says SGD overtakes Adam (k* = its "
        "crossover; `none` = not within the trials).",
    ]
    if misses:
        notes.append(f"{misses} pruned-run trials were not in the unpruned run and trained for real.")
    return Section(
        NAME, TITLE, GOAL, verdict,
        (
            Table("Per pruner (worst over seeds)",
                  ("pruner", "epochs saved, mean", "best val acc − unpruned (points), worst",
                   "same verdict", "goal"), tuple(summary)),
            Table("Per seed", ("seed", "pruner", "epochs trained", "saved", "pruned trials",
                               "best val acc", "Δ best (points)", "k*", "same verdict"), tuple(rows)),
        ),
        notes=tuple(notes),
    )

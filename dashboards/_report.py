"""The verdict's numbers: how good is the best of k tuned trials, per optimizer.

Computed from a study's trials, without drawing anything (see ``_figures.py``).

What enters the statistics: only random-search trials. Reference trials and trials
drawn by another sampler (TPE, QMC) are shown, not pooled: their draws are not
exchangeable with random ones, and the expected-maximum estimators assume they are.
A pruned trial enters with its best validation accuracy before it was pruned (a
pruner's verdict is part of the search being measured); failed trials are counted and
shown, never used as values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from optsearch._arms import arm_of
from optsearch.dashboards._bootstrap import Band, bootstrap_expected_max
from optsearch.dashboards._multiarm import best_arm_probability
from optsearch.dashboards._estimators import (
    expected_at_argmax,
    expected_max_dodge,
    first_budget_where,
    win_probability,
)
from optsearch.errors import UsageError

__all__ = [
    "ArmReport",
    "Crossover",
    "NotEnoughTrialsError",
    "PairCrossover",
    "arm_lines",
    "crossover_lines",
    "Report",
    "VerifySummary",
    "compute_report",
    "report_budgets",
    "verify_summary",
]

MIN_TRIALS_PER_ARM = 2
# The largest budget the report computes. Budgets beyond a thousand trials per arm are
# not a tuning question anyone asks, and the bootstrap costs grow with N × K: at 5,000
# trials per arm, K = N would take most of a minute for no reader's benefit.
MAX_BUDGET = 1000
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class NotEnoughTrialsError(UsageError):
    """The study has too few usable trials for a budget curve."""


@dataclass(frozen=True)
class ArmReport:
    """One optimizer: its trials, its expected-best curve, and its best trials."""

    arm: str
    n_trials: int
    n_pruned: int
    n_failed: int
    n_running: int
    n_references: int
    n_other_sampler: int
    n_diverged: int
    expected_best: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    dodge: tuple[float, ...]
    expected_test_at_best: tuple[float, ...]
    best_value: float
    best_trial: int
    best_test_accuracy: float | None
    best_params: Mapping[str, Any]
    train_test_gap: float | None
    mean_epochs: float
    mean_seconds: float
    convergence_epochs: float | None


@dataclass(frozen=True)
class Crossover:
    """From which budget SGD comes out ahead, and how sure that is.

    ``k_star``: the smallest k from which the lower 95% bound of Δ(k) stays above zero
    for every larger k (None: not within ``K`` trials). ``k_star_ci``: the 95% interval
    of the same crossover over bootstrap resamples (None for a bound means "not within
    ``K``"). ``k_half``: the smallest k where P(best of k SGD > best of k Adam) reaches
    one half. ``k_vs_reference``: the smallest k where SGD's expected best passes the
    reference trial of the other arm (Adam at Keras' defaults).
    """

    first: str
    second: str
    K: int
    k_star: int | None
    k_star_ci: tuple[int | None, int | None]
    k_half: int | None
    k_vs_reference: int | None
    reference_name: str | None
    reference_value: float | None


@dataclass(frozen=True)
class VerifySummary:
    """Fresh-seed retraining of each arm's best configuration (``optsearch verify``)."""

    test_accuracies: Mapping[str, tuple[float, ...]]
    mean: Mapping[str, float]
    std: Mapping[str, float]
    difference: float | None
    difference_ci: tuple[float, float] | None


@dataclass(frozen=True)
class PairCrossover:
    """Whether (and from which budget) ``arm`` reliably beats ``other``."""

    arm: str
    other: str
    k_star: int | None
    gap_at_K: float


@dataclass(frozen=True)
class Report:
    """Everything ``optsearch report`` says about a study."""

    study: str
    arms: tuple[ArmReport, ...]
    K: int
    gap: Band
    win_probability: tuple[float, ...]
    crossover: Crossover
    verdict: str
    notes: tuple[str, ...]
    n_resamples: int
    verify: VerifySummary | None = None
    pairwise: tuple[PairCrossover, ...] = ()
    best_probability: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    trials_by_arm: Mapping[str, tuple[FrozenTrial, ...]] = field(default_factory=dict, repr=False)

    def arm(self, name: str) -> ArmReport:
        return next(a for a in self.arms if a.arm == name)


def _is_random_draw(trial: FrozenTrial) -> bool:
    return not trial.user_attrs.get("reference") and trial.user_attrs.get("sampler", "random") == "random"


def _epochs_to_reach(curve: Sequence[Mapping[str, Any]], target: float) -> int | None:
    for record in curve:
        value = record.get("val_accuracy")
        if value is not None and math.isfinite(value) and value >= target:
            return int(record["epoch"])
    return None


def _arm_report(arm: str, trials: Sequence[FrozenTrial], K: int, band: Band) -> ArmReport:
    mine = [t for t in trials if arm_of(t) == arm]
    finished = [t for t in mine if t.state in _FINISHED and t.value is not None]
    used = [t for t in finished if _is_random_draw(t)]
    values = np.array([t.value for t in used], dtype=float)
    tests = np.array(
        [t.user_attrs.get("test_accuracy") if t.user_attrs.get("test_accuracy") is not None else np.nan
         for t in used],
        dtype=float,
    )
    best = max(used, key=lambda t: (t.value, -t.number))
    # Train-minus-test gap over the arm's best trials (top 5 by validation accuracy).
    top = sorted(used, key=lambda t: -t.value)[:5]
    gaps = [
        t.user_attrs["train_accuracy_at_best"] - t.user_attrs["test_accuracy"]
        for t in top
        if t.user_attrs.get("train_accuracy_at_best") is not None
        and t.user_attrs.get("test_accuracy") is not None
    ]
    reach = [_epochs_to_reach(t.user_attrs.get("curve") or [], 0.95 * best.value) for t in top]
    reached = [r for r in reach if r is not None]
    test_ok = ~np.isnan(tests)
    expected_test = (
        expected_at_argmax(values[test_ok], tests[test_ok], min(K, int(test_ok.sum())))
        if test_ok.sum() >= 1 else np.array([])
    )
    return ArmReport(
        arm=arm,
        n_trials=len(used),
        n_pruned=sum(t.state == TrialState.PRUNED for t in used),
        n_failed=sum(t.state == TrialState.FAIL for t in mine),
        n_running=sum(t.state == TrialState.RUNNING for t in mine),
        n_references=sum(bool(t.user_attrs.get("reference")) for t in finished),
        n_other_sampler=sum(
            not t.user_attrs.get("reference") and not _is_random_draw(t) for t in finished
        ),
        n_diverged=sum(bool(t.user_attrs.get("diverged")) for t in used),
        expected_best=tuple(band.estimate),
        lower=tuple(band.lower),
        upper=tuple(band.upper),
        dodge=tuple(float(v) for v in expected_max_dodge(values, K)),
        expected_test_at_best=tuple(float(v) for v in expected_test),
        best_value=float(best.value),
        best_trial=best.number,
        best_test_accuracy=best.user_attrs.get("test_accuracy"),
        best_params={k: v for k, v in best.params.items() if k != "optimizer"},
        train_test_gap=float(np.mean(gaps)) if gaps else None,
        mean_epochs=float(np.mean([t.user_attrs.get("epochs_trained") or len(t.intermediate_values) for t in used])),
        mean_seconds=float(np.mean([t.user_attrs.get("seconds") or 0.0 for t in used])),
        convergence_epochs=float(np.median(reached)) if reached else None,
    )


def _crossover_ci(
    first: np.ndarray, second: np.ndarray, K: int, n_resamples: int, seed: int
) -> tuple[int | None, int | None]:
    """95% interval of the point crossover (gap > 0 from k on) over paired resamples."""
    from optsearch.dashboards._estimators import _expected_max_weights

    rng = np.random.default_rng(seed + 1)

    def curves(values: np.ndarray) -> np.ndarray:  # (n_resamples, K)
        resamples = np.sort(rng.choice(values, size=(n_resamples, values.size), replace=True), axis=1)
        return resamples @ _expected_max_weights(values.size, K).T

    ahead = curves(first) - curves(second) > 0
    # The crossover of a replicate: one past the last k where it is not ahead
    # (K + 1, "not within K", when it is behind at K).
    behind_at = np.where(~ahead, np.arange(1, K + 1), 0).max(axis=1)
    ks = behind_at + 1
    low, high = np.percentile(ks, [2.5, 97.5], method="nearest")
    return (None if low > K else int(low)), (None if high > K else int(high))


def _points(x: float) -> str:
    return f"{100 * abs(x):.1f} point" + ("" if round(100 * abs(x), 1) == 1.0 else "s")


def _verdict(c: Crossover, gap: Band, first: str, second: str) -> str:
    nice = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "sgd-nesterov": "SGD with Nesterov",
            "adam-to-sgd": "Adam-to-SGD"}
    a, b = nice.get(first, first), nice.get(second, second)
    # A small budget to quote beside the crossover: 5 trials, or K if fewer.
    k_small = min(5, c.K)
    at_small = gap.estimate[k_small - 1]
    leader = a if at_small > 0 else b
    small = (
        f"at {k_small} trials the two are level" if at_small == 0
        else f"at {k_small} trial{'s' if k_small > 1 else ''} {leader} is ahead by {_points(at_small)}"
    )
    if c.k_star is not None:
        low, high = c.k_star_ci
        ci = f"95% CI {low if low is not None else '?'} to {high if high is not None else f'more than {c.K}'}"
        return f"{a} overtakes {b} after about {c.k_star} random-search trials ({ci}); {small}."
    at_k = gap.estimate[-1]
    if at_k > 0:
        return (
            f"{a} does not reliably overtake {b} within {c.K} random-search trials: at {c.K} "
            f"trials {a} is ahead by {_points(at_k)} on average, but the 95% band of the gap "
            f"({100 * gap.lower[-1]:+.1f} to {100 * gap.upper[-1]:+.1f} points) still includes zero."
        )
    return (
        f"{a} does not overtake {b} within {c.K} random-search trials: at {c.K} trials {b} is "
        f"ahead by {_points(at_k)} (95% band of the gap {100 * gap.lower[-1]:+.1f} to "
        f"{100 * gap.upper[-1]:+.1f} points)."
    )


def _pct(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.2f}%"


def crossover_lines(report: Report) -> list[str]:
    """The crossover budgets in sentences, as every output (terminal, HTML, note) says them."""
    c = report.crossover
    never = f"not within {c.K} trials"
    k_star = never if c.k_star is None else (
        f"{c.k_star} (95% CI {c.k_star_ci[0] or '?'} to {c.k_star_ci[1] or f'more than {c.K}'})"
    )
    lines = [
        f"Crossover k* (the lower 95% bound of the gap stays above zero from then on): {k_star}",
        f"First k where P({c.first} wins) reaches 0.5: {c.k_half if c.k_half is not None else never}",
    ]
    if c.reference_name:
        lines.append(
            f"First k where {c.first}'s expected best passes the reference {c.reference_name} "
            f"({_pct(c.reference_value)}): {c.k_vs_reference if c.k_vs_reference is not None else never}"
        )
    return lines


def arm_lines(report: Report) -> list[str]:
    """One sentence per arm: what entered its curve and its best trial."""
    return [
        f"{a.arm}: {a.n_trials} random-search trials used ({a.n_pruned} pruned, {a.n_diverged} diverged), "
        f"{a.n_failed} failed, {a.n_references} reference, {a.n_other_sampler} from other samplers; "
        f"best {_pct(a.best_value)} (trial #{a.best_trial}, test {_pct(a.best_test_accuracy)}); "
        f"train−test gap of the best trials {_pct(a.train_test_gap)}; epochs to 95% of the best: "
        f"{'–' if a.convergence_epochs is None else f'{a.convergence_epochs:g}'}"
        for a in report.arms
    ]


def verify_summary(
    trials: Sequence[FrozenTrial], arms: Sequence[str], first: str = "sgd", second: str = "adam"
) -> VerifySummary | None:
    """Mean, spread and the first-minus-second difference of fresh-seed test accuracies.

    The interval of the difference is Welch's t interval (unequal variances); it needs
    at least two runs of each arm.
    """
    from scipy import stats

    accuracies = {
        arm: tuple(
            float(t.user_attrs["test_accuracy"]) for t in trials
            if arm_of(t) == arm and t.state == TrialState.COMPLETE
            and t.user_attrs.get("test_accuracy") is not None
        )
        for arm in arms
    }
    if not any(accuracies.values()):
        return None
    mean = {arm: float(np.mean(v)) for arm, v in accuracies.items() if v}
    std = {arm: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for arm, v in accuracies.items() if v}
    difference = ci = None
    a, b = accuracies.get(first, ()), accuracies.get(second, ())
    if a and b:
        difference = mean[first] - mean[second]
    if len(a) >= 2 and len(b) >= 2:
        if np.var(a) == 0 and np.var(b) == 0:
            ci = (difference, difference)
        else:
            interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
            ci = (float(interval.low), float(interval.high))
    return VerifySummary(accuracies, mean, std, difference, ci)


def report_budgets(K: int) -> list[int]:
    """The budgets the terminal table shows: 1, 2, 5, 10, 20, 50, 100, … up to K (and K)."""
    budgets, scale = [], 1
    while True:
        for step in (1, 2, 5):
            k = step * scale
            if k > K:
                return budgets if budgets and budgets[-1] == K else [*budgets, K]
            budgets.append(k)
        scale *= 10


def compute_report(
    study_name: str,
    trials: Sequence[FrozenTrial],
    arms: Sequence[str],
    *,
    first: str | None = None,
    second: str | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    verify: VerifySummary | None = None,
) -> Report:
    """Compute the verdict of a study from its trials.

    Args:
        study_name: The study's name, for the text.
        trials: All trials of the study (any state).
        arms: The study's arms.
        first: The arm whose crossover is sought. Defaults to "sgd" when the study
            has it, else the first arm.
        second: The arm it is compared with. Defaults to "adam" when the study has
            it, else the first other arm.
        n_resamples: Bootstrap resamples (at least 1,000 for a report).
        seed: Seed of the bootstrap.
        verify: Results of ``optsearch verify``, when they exist.

    Raises:
        NotEnoughTrialsError: An arm has fewer than two random-search trials.
    """
    if first is None:
        first = "sgd" if "sgd" in arms else arms[0]
    if second is None:
        second = "adam" if "adam" in arms and first != "adam" else next(a for a in arms if a != first)
    if first not in arms or second not in arms:
        raise NotEnoughTrialsError(
            f"Study {study_name!r} compares {', '.join(arms)}; the report needs both "
            f"{first!r} and {second!r}."
        )
    values: dict[str, np.ndarray] = {}
    for arm in arms:
        used = [
            t for t in trials
            if arm_of(t) == arm and t.state in _FINISHED and t.value is not None and _is_random_draw(t)
        ]
        values[arm] = np.array([t.value for t in used], dtype=float)
    short = {arm: v.size for arm, v in values.items() if v.size < MIN_TRIALS_PER_ARM}
    if short:
        listed = ", ".join(f"{arm} has {n}" for arm, n in short.items())
        raise NotEnoughTrialsError(
            f"Study {study_name!r} has too few finished random-search trials for a budget "
            f"curve: {listed}; each arm needs at least {MIN_TRIALS_PER_ARM} (30 or more for "
            "a useful verdict). Run `optsearch start` to add trials."
        )
    K = min(MAX_BUDGET, *(v.size for v in values.values()))
    boot = bootstrap_expected_max(
        values, K, n_resamples=n_resamples, seed=seed, first=first, second=second
    )
    assert boot.gap is not None
    arm_reports = tuple(_arm_report(arm, trials, K, boot.curves[arm]) for arm in arms)
    win = win_probability(values[first], values[second], K)
    k_star = first_budget_where(np.asarray(boot.gap.lower) > 0, for_all_larger=True)
    reference = next(
        (t for t in trials if arm_of(t) == second and t.user_attrs.get("reference")
         and t.state in _FINISHED and t.value is not None),
        None,
    )
    k_ref = None
    if reference is not None:
        k_ref = first_budget_where(np.asarray(boot.curves[first].estimate) > reference.value, for_all_larger=False)
    crossover = Crossover(
        first=first, second=second, K=K, k_star=k_star,
        k_star_ci=_crossover_ci(values[first], values[second], K, n_resamples, seed),
        k_half=first_budget_where(np.asarray(win) >= 0.5, for_all_larger=False),
        k_vs_reference=k_ref,
        reference_name=None if reference is None else reference.user_attrs.get("reference"),
        reference_value=None if reference is None else float(reference.value),
    )
    running = sum(t.state == TrialState.RUNNING for t in trials)
    capped = []
    if min(v.size for v in values.values()) > MAX_BUDGET:
        capped.append(f"Budgets stop at k = {MAX_BUDGET}, though every arm has more trials.")
    notes = [
        "Only random-search trials enter the curves; reference trials and trials of other "
        "samplers are shown, not pooled, because their draws are not exchangeable.",
        "Pruned trials enter with their best validation accuracy before they were pruned; "
        "failed trials are counted, not used.",
        *capped,
    ]
    if running:
        notes.insert(0, f"The study is still running ({running} trials running): this report "
                        "uses the trials finished so far.")
    by_arm = {arm: tuple(t for t in trials if arm_of(t) == arm) for arm in arms}
    pairwise: list[PairCrossover] = []
    best_probability: dict[str, tuple[float, ...]] = {}
    if len(arms) > 2:
        for arm in arms:
            for other in arms:
                if arm == other:
                    continue
                pair = boot if (arm, other) == (first, second) else bootstrap_expected_max(
                    {arm: values[arm], other: values[other]}, K,
                    n_resamples=n_resamples, seed=seed, first=arm, second=other,
                )
                assert pair.gap is not None
                pairwise.append(PairCrossover(
                    arm, other, first_budget_where(np.asarray(pair.gap.lower) > 0, for_all_larger=True),
                    float(pair.gap.estimate[-1]),
                ))
        best_probability = best_arm_probability({arm: values[arm] for arm in arms}, K)
    return Report(
        study=study_name,
        arms=arm_reports,
        K=K,
        gap=boot.gap,
        win_probability=tuple(float(p) for p in win),
        crossover=crossover,
        verdict=_verdict(crossover, boot.gap, first, second),
        notes=tuple(notes),
        n_resamples=n_resamples,
        verify=verify,
        pairwise=tuple(pairwise),
        best_probability=best_probability,
        trials_by_arm=by_arm,
    )

"""A fast stand-in for the Keras trainer, for tests of the search machinery."""

from __future__ import annotations

import math
from collections.abc import Callable

from optsearch.trainers import EpochRecord, TrialParams, TrialResult


def fake_train(
    quality: Callable[[TrialParams], float] | None = None,
    *,
    diverge: Callable[[TrialParams], bool] = lambda p: False,
    fail: Callable[[TrialParams], bool] = lambda p: False,
    on_epoch: Callable[[TrialParams, int], None] | None = None,
) -> Callable[..., TrialResult]:
    """A trainer whose validation accuracy rises towards ``quality(params)``.

    The curve is ``quality * (1 - 0.5 ** epoch)``; ``diverge`` makes the loss NaN at
    epoch 2, ``fail`` raises RuntimeError, ``on_epoch`` is called after each epoch.
    """

    def default_quality(p: TrialParams) -> float:
        return 0.9 if p.optimizer == "adam" else 0.8

    quality = quality or default_quality

    def train(params: TrialParams, dataset: object, model: str, reporter=None) -> TrialResult:  # noqa: ANN001
        if fail(params):
            raise RuntimeError("simulated fault")
        curve: list[EpochRecord] = []
        stopped = diverged = False
        for epoch in range(1, params.epochs + 1):
            nan = diverge(params) and epoch >= 2
            acc = quality(params) * (1 - 0.5**epoch)
            record = EpochRecord(
                epoch=epoch, loss=math.nan if nan else 1.0 / epoch, accuracy=acc,
                val_loss=1.0 / epoch, val_accuracy=0.1 if nan else acc,
                learning_rate=params.learning_rate, seconds=0.01,
            )
            curve.append(record)
            if on_epoch is not None:
                on_epoch(params, epoch)
            if nan:
                diverged = True
                break
            if reporter is not None and reporter(record):
                stopped = True
                break
        best = max(curve, key=lambda r: r.val_accuracy)
        return TrialResult(
            best_val_accuracy=best.val_accuracy, best_epoch=best.epoch,
            test_accuracy=best.val_accuracy - 0.01, train_accuracy_at_best=best.accuracy,
            curve=tuple(curve), stopped_early=stopped, diverged=diverged,
            end_reason=(
                f"diverged at epoch {curve[-1].epoch} (loss=nan)" if diverged
                else f"stopped by the pruner after epoch {curve[-1].epoch}" if stopped
                else f"completed all {params.epochs} epochs"
            ),
            seconds=0.01 * len(curve),
        )

    return train

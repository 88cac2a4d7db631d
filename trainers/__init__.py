"""Train one trial with Keras: models, optimizers, schedules and datasets.

This package knows nothing of Optuna. The search hands it a :class:`TrialParams`
and an optional :class:`EpochReporter`; it returns a :class:`TrialResult`.
TensorFlow is imported only when something is trained or loaded, quietly.

Example:
    >>> from optsearch.trainers import TrialParams, load_dataset, train_trial
    >>> data = load_dataset("digits")
    >>> result = train_trial(TrialParams("adam", 1e-3, epochs=8), data, "small_cnn")  # doctest: +SKIP
"""

from __future__ import annotations

from optsearch.trainers._datasets import DATASETS, Dataset, check_dataset_name, load_dataset
from optsearch.trainers._keras import import_keras
from optsearch.trainers._models import MODELS, get_model
from optsearch.trainers._optimizers import OPTIMIZER_OPTIONS, OPTIMIZERS, get_optimizer
from optsearch.trainers._params import INPUT_PIPELINES, TrialParams
from optsearch.trainers._schedules import SCHEDULE_OPTIONS, SCHEDULES, make_schedule
from optsearch.trainers._switching import SWITCH_RULES, switch_epoch_for
from optsearch.trainers._train import STEPS_PER_EXECUTION, EpochRecord, EpochReporter, TrialResult, train_trial

__all__ = [
    "DATASETS",
    "Dataset",
    "EpochRecord",
    "EpochReporter",
    "INPUT_PIPELINES",
    "MODELS",
    "OPTIMIZERS",
    "OPTIMIZER_OPTIONS",
    "SCHEDULES",
    "SCHEDULE_OPTIONS",
    "STEPS_PER_EXECUTION",
    "SWITCH_RULES",
    "TrialParams",
    "TrialResult",
    "check_dataset_name",
    "get_model",
    "get_optimizer",
    "import_keras",
    "load_dataset",
    "make_schedule",
    "switch_epoch_for",
    "train_trial",
]

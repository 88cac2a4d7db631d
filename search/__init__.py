"""optsearch: how much tuning does SGD need before it beats Adam?

Optuna studies compare optimizers (SGD with momentum and Adam) under a tuning
budget. Each trial trains a Keras model; results live in a SQL database.

The package is light to import: TensorFlow, Plotly and database engines load only
where they are needed, so ``optsearch --help`` answers at once.
"""

from __future__ import annotations

from optsearch.errors import OptsearchError

__version__ = "0.1.0"

__all__ = ["OptsearchError", "__version__"]

"""Errors raised by optsearch.

Library code raises these; only the command line prints them and chooses the exit
status. Every message says what went wrong, the value received and what to do next.

Usage errors (a bad name, a bad spec, a bad option) exit with status 2; everything
else exits with status 1.
"""

from __future__ import annotations

__all__ = [
    "OptsearchError",
    "UsageError",
    "UnknownNameError",
    "SpecError",
    "SpecMismatchError",
    "StudyNotFoundError",
    "StorageError",
    "DatasetUnavailableError",
    "TrialError",
    "FatalTrialError",
    "MetricMissingError",
]


class OptsearchError(Exception):
    """Root of every error optsearch raises on purpose."""

    exit_code = 1


class UsageError(OptsearchError):
    """The user asked for something that cannot work as asked (exit status 2)."""

    exit_code = 2


class UnknownNameError(UsageError, KeyError):
    """A name that is not in a registry; the message lists the valid names."""

    def __init__(self, kind: str, name: str, valid: list[str] | tuple[str, ...]) -> None:
        self.kind = kind
        self.name = name
        self.valid = tuple(valid)
        super().__init__(
            f"Unknown {kind} {name!r}. Valid {kind}s: {', '.join(self.valid)}."
        )

    def __str__(self) -> str:  # KeyError would quote the message otherwise.
        return str(self.args[0])


class SpecError(UsageError):
    """A study spec (preset, TOML file or flags) broke one of its rules."""


class SpecMismatchError(UsageError):
    """Resuming a study with a spec that differs from the one saved in the study."""


class StudyNotFoundError(UsageError):
    """A study name that is not in the storage; the message lists the ones that are."""


class StorageError(OptsearchError):
    """The database could not be reached or used. Messages never show a password."""


class DatasetUnavailableError(OptsearchError):
    """A dataset could not be loaded (no network, missing file, wrong arrays)."""


class TrialError(OptsearchError):
    """A trial failed for a reason worth retrying (the default for unexpected faults)."""


class FatalTrialError(OptsearchError):
    """A trial failed in a way that every later trial would repeat: stop the search."""


class MetricMissingError(FatalTrialError):
    """The monitored metric (validation accuracy) was not produced by training."""

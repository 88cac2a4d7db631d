"""Creating, resuming and reading studies; the spec lives inside the study."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from optsearch._space import references_for
from optsearch._spec import StudySpec, spec_differences, spec_from_mapping
from optsearch.errors import SpecMismatchError, StorageError, StudyNotFoundError, UsageError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "OBJECTIVE_NAME",
    "SPEC_ATTR",
    "load_study",
    "open_study",
    "read_spec",
    "resolve_spec",
    "study_names",
]

SPEC_ATTR = "optsearch_spec"
OBJECTIVE_NAME = "validation accuracy"


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    """Names of the studies in ``storage``, sorted."""
    return sorted(summary.study_name for summary in _summaries(storage))


def _summaries(storage: optuna.storages.BaseStorage) -> list[Any]:
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return optuna.get_all_study_summaries(storage, include_best_trial=False)
    except SQLAlchemyError as exc:
        raise StorageError(f"Cannot list the studies: {str(exc).splitlines()[0]}.") from None


def read_spec(study: optuna.Study) -> StudySpec:
    """The spec saved in ``study`` when it was created.

    Raises:
        UsageError: The study was not created by optsearch.
    """
    raw = study.user_attrs.get(SPEC_ATTR)
    if raw is None:
        raise UsageError(
            f"Study {study.study_name!r} has no optsearch spec: it was not created by "
            "`optsearch start`. Use another study name."
        )
    data = json.loads(raw) if isinstance(raw, str) else raw
    return spec_from_mapping(data, source=f"study {study.study_name!r}")


def load_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """Load an existing study, or say which studies exist.

    Raises:
        StudyNotFoundError: No study of that name; the message lists those that exist.
    """
    import optuna

    names = study_names(storage)
    if name not in names:
        listed = ", ".join(names) if names else "none yet"
        raise StudyNotFoundError(
            f"No study named {name!r} in this storage. Studies here: {listed}. "
            "Create one with `optsearch start --study NAME`."
        )
    return optuna.load_study(study_name=name, storage=storage)


def _enqueue_references(study: optuna.Study, spec: StudySpec) -> None:
    for reference in references_for(spec):
        study.enqueue_trial(
            dict(reference.params),
            user_attrs={
                "reference": reference.name,
                "reference_description": reference.description,
            },
            skip_if_exists=False,
        )


def resolve_spec(
    storage: optuna.storages.BaseStorage,
    spec: StudySpec,
    *,
    explicit: dict[str, Any] | None = None,
) -> tuple[StudySpec, bool]:
    """The spec a run of study ``spec.name`` works under, and whether the study exists.

    A new study takes ``spec``. An existing study keeps the spec saved in it; only the
    fields in ``explicit`` (set by the user for this run) override it, and a change to
    a field that fixes what trials mean (data, model, epochs, search space, seed) is
    refused.

    Args:
        storage: Optuna storage.
        spec: The spec built for this run (preset or file, with flags applied).
        explicit: The fields the user set for this run: flag values, or every field of
            a ``--config`` file. Defaults to none.

    Raises:
        SpecMismatchError: The explicit fields change the search of an existing study.
    """
    import optuna

    if spec.name not in study_names(storage):
        return spec, False
    saved = read_spec(optuna.load_study(study_name=spec.name, storage=storage))
    merged = spec_from_mapping(
        {**saved.to_json_dict(), **(explicit or {})}, source=f"study {spec.name!r}"
    )
    differences = spec_differences(saved, merged)
    if differences:
        raise SpecMismatchError(
            f"Study {spec.name!r} exists with another search; resuming it with this "
            f"spec would mix incomparable trials. Differences: {'; '.join(differences)}. "
            "Start a new study with another --study name, or drop these options."
        )
    return merged, True


def open_study(storage: optuna.storages.BaseStorage, spec: StudySpec) -> tuple[optuna.Study, bool]:
    """Create the study of ``spec`` (saving the spec, queuing the references) or load it.

    Call :func:`resolve_spec` first: this saves ``spec`` into an existing study as is.

    Returns:
        ``(study, created)``.
    """
    import contextlib

    import optuna

    from optsearch.storage import study_lock

    engine = getattr(storage, "engine", None)
    # Two `optsearch start` racing on a new study must queue the references once.
    with study_lock(engine, spec.name) if engine is not None else contextlib.nullcontext():
        study = optuna.create_study(
            study_name=spec.name, storage=storage, direction="maximize", load_if_exists=True
        )
        created = SPEC_ATTR not in study.user_attrs
        if created:
            study.set_metric_names([OBJECTIVE_NAME])
            _enqueue_references(study, spec)
        if study.user_attrs.get(SPEC_ATTR) != _dump(spec):
            study.set_user_attr(SPEC_ATTR, _dump(spec))
    return study, created


def _dump(spec: StudySpec) -> str:
    # A timeout bounds one run, not the study: a later run without --timeout should
    # not inherit it.
    return json.dumps({**spec.to_json_dict(), "timeout": None}, sort_keys=True)

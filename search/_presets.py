"""Built-in study presets, shipped as TOML files beside this module."""

from __future__ import annotations

from importlib import resources

from optsearch._spec import StudySpec, load_spec_file
from optsearch.errors import UnknownNameError

__all__ = ["PRESETS", "get_preset"]


def _preset_files() -> dict[str, object]:
    folder = resources.files("optsearch") / "presets"
    return {
        entry.name.removesuffix(".toml"): entry
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    }


PRESETS: tuple[str, ...] = tuple(sorted(_preset_files()))


def get_preset(name: str, study_name: str | None = None) -> StudySpec:
    """Return the built-in preset ``name``, optionally under another study name.

    Raises:
        UnknownNameError: No such preset; the message lists the valid ones.
    """
    files = _preset_files()
    if name not in files:
        raise UnknownNameError("preset", name, sorted(files))
    with resources.as_file(files[name]) as path:  # type: ignore[arg-type]
        return load_spec_file(path, name=study_name or name)

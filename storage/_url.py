"""Storage URLs: the default SQLite file, the environment variable, hiding passwords."""

from __future__ import annotations

import os
from pathlib import Path

from optsearch.errors import StorageError

DEFAULT_STORAGE_ENV = "OPTSEARCH_STORAGE"
DEFAULT_SQLITE_FILE = "optsearch.db"


def default_storage_url(cwd: str | os.PathLike[str] | None = None) -> str:
    """The storage used when none is given.

    ``$OPTSEARCH_STORAGE`` when it is set, else a SQLite file ``optsearch.db`` in the
    current folder (as an absolute path, so worker processes that change folder still
    find the same file).

    Args:
        cwd: Folder for the SQLite file. Defaults to the current folder.
    """
    url = os.environ.get(DEFAULT_STORAGE_ENV, "").strip()
    if url:
        return url
    folder = Path(cwd) if cwd is not None else Path.cwd()
    return f"sqlite:///{(folder / DEFAULT_SQLITE_FILE).resolve()}"


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, safe to print or log."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # Not a URL SQLAlchemy understands: hide everything between "://" and "@".
        head, sep, tail = url.partition("://")
        if sep and "@" in tail:
            return f"{head}://***@{tail.split('@', 1)[1]}"
        return url
    return parsed.render_as_string(hide_password=True)


def parse_url(url: str):  # -> sqlalchemy.engine.URL
    """Parse a storage URL, raising :class:`StorageError` with a hint when it is not one."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StorageError(
            f"Invalid storage URL {mask_url(url)!r}: {exc}. Use a SQLAlchemy URL such as "
            "sqlite:///optsearch.db, postgresql+psycopg://user@host/db or "
            "mysql+pymysql://user@host/db."
        ) from None

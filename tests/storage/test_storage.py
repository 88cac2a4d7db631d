from __future__ import annotations

import sqlite3

import pytest

from optsearch.errors import StorageError
from optsearch.storage import default_storage_url, mask_url, open_storage


def test_default_is_a_sqlite_file_in_the_current_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_storage_url() == f"sqlite:///{tmp_path.resolve() / 'optsearch.db'}"
    monkeypatch.setenv("OPTSEARCH_STORAGE", "postgresql+psycopg://u@h/db")
    assert default_storage_url() == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://alice:s3cret@db.example:5432/studies", "mysql+pymysql://root:s3cret@h/test"],
)
def test_passwords_are_masked(url: str) -> None:
    masked = mask_url(url)
    assert "s3cret" not in masked
    assert "***" in masked and "alice" in masked or "root" in masked


def test_sqlite_file_uses_write_ahead_logging(tmp_path) -> None:
    path = tmp_path / "wal.db"
    open_storage(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    import sqlalchemy as sa

    with open_storage(f"sqlite:///{path}").engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_heartbeats_are_on_by_default(tmp_path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'h.db'}")
    assert storage.get_heartbeat_interval() is not None


def test_unreachable_server_is_one_clear_line_without_the_password() -> None:
    with pytest.raises(StorageError) as info:
        open_storage("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/test")
    message = str(info.value)
    assert "hunter2" not in message
    assert "127.0.0.1" in message and "Cannot reach the database" in message
    assert "\n" not in message


def test_missing_folder_and_bad_url_are_explained(tmp_path) -> None:
    with pytest.raises(StorageError, match="folder .* does not exist"):
        open_storage(f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}")
    with pytest.raises(StorageError, match="Invalid storage URL"):
        open_storage("not a url")


def test_missing_driver_names_the_extra() -> None:
    with pytest.raises(StorageError, match=r"pip install -e '\.\[mysql\]'"):
        open_storage("mysql+mysqldb://root@127.0.0.1/test")

"""Shared fixtures: seeding, storage modes, and skipping tests whose resource is absent.

Markers (registered in pyproject.toml):
- ``slow``: trains real Keras models or runs the CLI end to end.
- ``db``: needs a server URL in OPTSEARCH_TEST_POSTGRES_URL / OPTSEARCH_TEST_MYSQL_URL.
- ``browser``: needs Chromium.  ``gpu``: needs a visible GPU.
"""

from __future__ import annotations

import os
import random
import shutil
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

POSTGRES_ENV = "OPTSEARCH_TEST_POSTGRES_URL"
MYSQL_ENV = "OPTSEARCH_TEST_MYSQL_URL"

# One list of storage modes, so SQLite, PostgreSQL and MariaDB get the same tests.
STORAGE_MODES = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.db),
    pytest.param("mysql", marks=pytest.mark.db),
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    for item in items:
        if "browser" in item.keywords and not chromium:
            item.add_marker(pytest.mark.skip(reason="Chromium is not installed (apt-get install chromium)"))
        if "gpu" in item.keywords and not os.environ.get("OPTSEARCH_TEST_GPU"):
            item.add_marker(pytest.mark.skip(reason="no GPU here (set OPTSEARCH_TEST_GPU=1 on a GPU machine)"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    """Keep each phase's report on the test item, so fixtures can act on a failure
    (the browser fixture saves a screenshot)."""
    outcome = yield
    setattr(item, f"rep_{call.when}", outcome.get_result())


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same random state (Python, NumPy; Keras seeds per trial)."""
    random.seed(0)
    np.random.seed(0)


@pytest.fixture(autouse=True)
def _no_user_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's OPTSEARCH_STORAGE must never receive test studies."""
    monkeypatch.delenv("OPTSEARCH_STORAGE", raising=False)


@pytest.fixture
def study_name() -> str:
    """A study name no other test (or earlier run on a shared server) uses."""
    return f"test-{uuid.uuid4().hex[:10]}"


def storage_url_for(mode: str, tmp_path) -> str:  # noqa: ANN001 - pytest's path type
    if mode == "sqlite":
        return f"sqlite:///{tmp_path / 'optsearch.db'}"
    env = POSTGRES_ENV if mode == "postgres" else MYSQL_ENV
    url = os.environ.get(env)
    if not url:
        pytest.skip(f"no {mode} server: set {env} to a SQLAlchemy URL to run this test")
    return url


@pytest.fixture(params=STORAGE_MODES)
def storage_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """A storage URL for each mode: a SQLite file under tmp_path, or a server from the env."""
    yield storage_url_for(request.param, tmp_path)

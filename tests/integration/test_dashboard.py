"""optsearch dashboard: a real server, a real study, checked in headless Chromium."""

from __future__ import annotations

import os
import re
import select
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna_dashboard._custom_plot_data import list_graph_object_ids

from optsearch._run import run_study
from optsearch._spec import StudySpec
from optsearch._study import open_study, resolve_spec
from optsearch.storage import open_storage
from tests.fakes import fake_train
from tests.integration.test_start import EXE

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OPTSEARCH_STORAGE"}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[str, str, int]:
    """A finished 16-trial study (fast fake training) with its verdict published."""
    folder = tmp_path_factory.mktemp("dash")
    url = f"sqlite:///{folder / 'dash.db'}"
    spec = StudySpec(name="dash-study", epochs=4, n_trials=16, pruner="none")
    storage = open_storage(url)
    spec, _ = resolve_spec(storage, spec)
    study, _ = open_study(storage, spec)
    run_study(study, spec, dataset=None, train=fake_train(quality=lambda p: 0.5 + p.learning_rate / 3))
    result = subprocess.run([EXE, "report", "--study", "dash-study", "--storage", url, "--publish"],
                            env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    verdict = result.stdout.strip().splitlines()[-1]
    return url, verdict, study._study_id


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([EXE, "dashboard", *args], env=_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            line = process.stderr.readline()
            seen += line
            match = re.search(r"(http://\S+)", line)
            if match:
                return process, match.group(1)
        if process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f"the dashboard printed no address: {seen}{process.stderr.read()}")


@pytest.fixture
def browser(tmp_path, request) -> Iterator[object]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    yield driver
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot = tmp_path / "dashboard-failure.png"
        driver.save_screenshot(str(shot))
        print(f"screenshot of the failure: {shot}")
    driver.quit()


def _page_text(driver, url: str, expected: str, timeout: float = 30) -> str:  # noqa: ANN001
    driver.get(url)
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = driver.find_element("tag name", "body").text
        if expected in text:
            return text
        time.sleep(0.5)
    raise AssertionError(f"{expected!r} did not appear at {url}; the page showed:\n{text[:2000]}")


def _svg_text(driver, url: str, expected: str, timeout: float = 30) -> None:  # noqa: ANN001
    driver.get(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        titles = [e.get_attribute("textContent") or "" for e in driver.find_elements("css selector", ".gtitle")]
        if any(expected in t for t in titles):
            return
        time.sleep(0.5)
    raise AssertionError(f"no figure titled {expected!r} at {url}; titles: {titles}")


@pytest.mark.browser
def test_a_person_sees_the_study_its_trials_and_the_verdict(published, browser) -> None:
    url, verdict, study_id = published
    server, address = _serve("--study", "dash-study", "--storage", url, "--port", "0")
    try:
        assert address.endswith(f"/dashboard/studies/{study_id}")
        root = address.split("/dashboard/")[0]
        _page_text(browser, f"{root}/dashboard/", "dash-study")
        trials = _page_text(browser, f"{root}/dashboard/studies/{study_id}/trials", "16 Trials")
        # The trial list, and the first trial's attributes, readable as a person sees them.
        trials = _page_text(browser, f"{root}/dashboard/studies/{study_id}/trials", "User Attributes")
        for text in ("Trial 15", "Complete", "learning_rate", "optimizer adam", "reference adam-default",
                     "test_accuracy", "end_reason completed all 4 epochs"):
            assert text in trials, text
        note = _page_text(browser, f"{root}/dashboard/studies/{study_id}/note", "Verdict (optsearch report)")
        assert verdict.split(";")[0].split(":")[0] in note
        _svg_text(browser, address, "Expected best validation accuracy after k trials of tuning")
        _svg_text(browser, address, "validation accuracy")  # the objective's name, not "Objective 0"
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode in (0, -15)


def test_a_non_loopback_host_is_warned_about(published) -> None:
    url, _, _ = published
    process = subprocess.Popen([EXE, "dashboard", "--storage", url, "--host", "0.0.0.0", "--port", "0"],
                               env=_env(), stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    assert "no authentication" in stderr and "anyone who can reach port 0" in stderr


def test_a_port_in_use_is_one_clear_line(published) -> None:
    url, _, _ = published
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([EXE, "dashboard", "--storage", url, "--port", str(port)],
                                env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_publishing_twice_keeps_one_copy(published) -> None:
    url, _, _ = published
    again = subprocess.run([EXE, "report", "--study", "dash-study", "--storage", url, "--publish"],
                           env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    study = optuna.load_study(study_name="dash-study", storage=open_storage(url, heartbeat=False))
    ids = list_graph_object_ids(study._storage.get_study_system_attrs(study._study_id))
    assert sorted(ids) == sorted(
        ["optsearch-expected-best", "optsearch-gap", "optsearch-win-probability", "optsearch-learning-curves"]
    )
    from optuna_dashboard import get_note

    assert get_note(study).count("Verdict (optsearch report)") == 1


def test_unreachable_database_is_one_line() -> None:
    result = subprocess.run([EXE, "dashboard", "--storage", "postgresql+psycopg://u:pw@127.0.0.1:1/db"],
                            env=_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Cannot reach the database" in result.stderr and "pw" not in result.stderr




def test_ctrl_c_stops_the_dashboard_cleanly(published) -> None:
    url, _, _ = published
    server, address = _serve("--storage", url, "--port", "0")
    import signal
    import urllib.request

    with urllib.request.urlopen(address, timeout=30) as response:  # it serves before we stop it
        assert response.status == 200
    server.send_signal(signal.SIGINT)
    _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0
    assert "Dashboard stopped." in stderr and "Traceback" not in stderr

"""CLI errors and exit statuses, in process (fast): one clear line, the right status."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from optsearch.cli import cli


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), obj={})


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--preset", "nope"], "Unknown preset 'nope'. Valid presets: optimizer-zoo, sgd-vs-adam."),
        (["--sampler", "grid"], "unknown sampler 'grid'; valid samplers: random, tpe, qmc"),
        (["--pruner", "magic"], "valid pruners: none, median, percentile, successive-halving, hyperband"),
        (["--model", "vgg"], "Unknown model 'vgg'. Valid models: "),
        (["--dataset", "imagenet"], "Unknown dataset 'imagenet'. Valid datasets: "),
    ],
)
def test_unknown_names_exit_2_and_list_the_valid_ones(db: str, args: list[str], expected: str) -> None:
    result = _invoke("start", "--study", "x", "--storage", db, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output


def test_bad_config_file_names_file_field_and_rule(db: str, tmp_path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text("epochs = 0\n[space.sgd]\nmomentum = { low = 0.2, high = 1.2 }\n")
    result = _invoke("start", "--study", "x", "--storage", db, "--config", str(config))
    assert result.exit_code == 2
    assert "mine.toml" in result.output
    assert "field `epochs`" in result.output and "momentum must lie in [0, 1)" in result.output


def test_unreachable_storage_exits_1_without_password() -> None:
    result = _invoke("studies", "--storage", "postgresql+psycopg://me:topsecret@127.0.0.1:1/db")
    assert result.exit_code == 1
    assert "topsecret" not in result.output
    assert "Cannot reach the database at 127.0.0.1" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_study_lists_the_studies_there(db: str) -> None:
    result = _invoke("trials", "--study", "ghost", "--storage", db)
    assert result.exit_code == 2
    assert "No study named 'ghost'" in result.output and "none yet" in result.output


def test_bad_option_value_is_a_usage_error(db: str) -> None:
    result = _invoke("start", "--study", "x", "--storage", db, "--epochs", "0")
    assert result.exit_code == 2
    assert "--epochs" in result.output


def test_debug_shows_the_traceback(db: str) -> None:
    result = CliRunner().invoke(cli, ["--debug", "start", "--study", "x", "--storage", db, "--preset", "nope"], obj={})
    assert result.exit_code != 0
    assert result.exception is not None  # re-raised for the traceback


def test_empty_storage_says_how_to_start(db: str) -> None:
    result = _invoke("studies", "--storage", db)
    assert result.exit_code == 0
    assert "optsearch start --study sgd-vs-adam" in result.output


def test_python_dash_m_runs_the_same_commands() -> None:
    import subprocess
    import sys

    for module in ("optsearch", "optsearch.cli"):
        result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        for command in ("start", "worker", "workers", "report", "verify", "dashboard"):
            assert command in result.stdout, (module, command)

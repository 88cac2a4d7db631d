"""The README keeps in step with the command line (as Datasette's test_docs does)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from optsearch.cli import cli

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _options() -> list[tuple[str, str]]:
    found = []
    for name, command in cli.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts + param.secondary_opts:
                    if opt.startswith("--") and opt != "--help":
                        found.append((name, opt))
    return found


@pytest.mark.parametrize(("command", "option"), _options())
def test_every_cli_option_is_in_the_readme(command: str, option: str) -> None:
    assert f"optsearch {command}" in README
    assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", README), (
        f"{option} of {command} is not documented"
    )


def test_readme_has_exactly_two_setup_commands() -> None:
    block = README.split("<!-- setup:start -->")[1].split("<!-- setup:end -->")[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("```")]
    assert len(commands) == 2
    assert "optsearch start --study sgd-vs-adam" in commands[0]
    assert "pytest" in commands[1]


def test_readme_figure_exists() -> None:
    for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (Path(__file__).parents[1] / target).exists(), target

"""The ``optsearch`` command line.

Library code raises; this module alone prints errors and picks exit statuses: 2 for
usage errors (bad names, bad specs, bad options), 1 for runtime errors, 130 when
interrupted. A traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import click

from optsearch import __version__
from optsearch.errors import OptsearchError

# TensorFlow reads these when it is first imported; set them before anything can.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

STORAGE_HELP = (
    "SQLAlchemy URL of the database. Defaults to $OPTSEARCH_STORAGE, else the SQLite "
    "file optsearch.db in the current folder."
)


def _quiet_libraries() -> None:
    import optuna

    # Our own progress and tables say what Optuna's log lines would, more briefly.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")


def _storage(url: str | None) -> Any:
    from optsearch.storage import default_storage_url, open_storage

    _quiet_libraries()
    return open_storage(url or default_storage_url())


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped into a file or a log: room for whole tables rather than 80 columns.
        console = Console(stderr=stderr, width=200)
    return console


def _stdout() -> Any:
    return _console()


def _quiet() -> Any:
    from rich.console import Console

    return Console(file=open(os.devnull, "w"), force_terminal=False)  # noqa: SIM115


def _stderr() -> Any:
    return _console(stderr=True)


class _Group(click.Group):
    """Turns optsearch's errors into one clear line and the right exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OptsearchError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="optsearch")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """How much tuning does SGD need before it beats Adam?

    optsearch runs Optuna studies that compare optimizers under a tuning budget; each
    trial trains a Keras model, and results live in a SQL database.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def explicit_overrides(**flags: Any) -> dict[str, Any]:
    return {key: value for key, value in flags.items() if value is not None}


def _default_url() -> str:
    from optsearch.storage import default_storage_url

    return default_storage_url()


# The commands register themselves on `cli` when their modules are imported.
from optsearch import _cli_read, _cli_run  # noqa: E402, F401


def main() -> None:
    """Entry point of the ``optsearch`` executable."""
    cli(obj={})


if __name__ == "__main__":
    # Run as a script, this file is `__main__`, a second copy of the module: the
    # commands registered themselves on the importable `optsearch.cli`, so call that.
    from optsearch.cli import main as _main

    _main()

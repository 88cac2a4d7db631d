"""``python -m optsearch``: the same as the ``optsearch`` executable."""

from __future__ import annotations

from optsearch.cli import main

main()

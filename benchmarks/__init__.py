"""optsearch's benchmark suite: overhead, pruning, storage, growth, throughput.

Run ``python -m benchmarks --quick`` (a few minutes on a laptop) or ``--full``; each
item writes its numbers to ``benchmarks/results/NAME.json`` and the runner renders all
stored results into ``BENCHMARKS.md``. Benchmarks are not tests: nothing here asserts
a time; each item reports its goal and whether this run met it.
"""

from __future__ import annotations

__all__: list[str] = []

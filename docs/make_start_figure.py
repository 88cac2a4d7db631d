"""Draw docs/start.svg, the README's figure, from a finished sgd-vs-adam study.

Usage: python docs/make_start_figure.py [STORAGE_URL] [STUDY]
(defaults: the optsearch.db of the current folder, sgd-vs-adam).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from optsearch._console import summary_table
from optsearch._run import count_trials
from optsearch._study import load_study, read_spec
from optsearch._summary import summarize_arms
from optsearch.storage import default_storage_url, open_storage


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else default_storage_url()
    name = sys.argv[2] if len(sys.argv) > 2 else "sgd-vs-adam"
    study = load_study(open_storage(url, heartbeat=False), name)
    spec = read_spec(study)
    counts = count_trials(study)
    console = Console(record=True, width=150, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(f"$ optsearch start --study {name}", style="bold")
    console.print(
        f"{counts.finished} of {spec.n_trials} trials finished ({counts.complete} complete, "
        f"{counts.pruned} pruned), {counts.failed} failed.",
        highlight=False,
    )
    console.print(summary_table(summarize_arms(study.get_trials(), spec.arms),
                                title=f"Study {name}: best trial per optimizer"))
    target = Path(__file__).with_name("start.svg")
    console.save_svg(str(target), title="optsearch start --study sgd-vs-adam")
    print(f"Wrote {target}")


if __name__ == "__main__":
    main()

"""``python -m benchmarks [--quick|--full] [--only NAME ...] [--output BENCHMARKS.md]``.

Runs the selected items, stores each one's result as ``RESULTS/NAME.json`` (``gpu-NAME``
on a machine with a GPU), and renders every stored result into the output file, so a
run of some items keeps the others' latest numbers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks._common import Mode, Section, describe_machine, has_gpu  # noqa: E402

ITEMS = ("overhead", "pruning", "storage", "growth", "throughput")
GPU_ITEMS = ("overhead", "throughput", "packing")
_MODULES = {"overhead": "overhead", "pruning": "pruning", "storage": "storage_load",
            "growth": "growth", "throughput": "throughput", "packing": "packing"}
_ROOT = Path(__file__).resolve().parent.parent

HEADER = "<!-- Written by python -m benchmarks, do not edit by hand. -->"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="mode", help="Tiny sizes (default).")
    size.add_argument("--full", action="store_const", const="full", dest="mode", help="The real sizes.")
    parser.add_argument("--only", nargs="+", choices=sorted(_MODULES), metavar="NAME",
                        help=f"Run only these items ({', '.join(_MODULES)}).")
    parser.add_argument("--render-only", action="store_true",
                        help="Run nothing: rewrite the output file from the stored results.")
    parser.add_argument("--output", type=Path, default=_ROOT / "BENCHMARKS.md", help="Markdown file to write.")
    parser.add_argument("--results", type=Path, default=_ROOT / "benchmarks" / "results",
                        help="Folder of the stored per-item results.")
    args = parser.parse_args(argv)
    args.mode = args.mode or "quick"
    return args


def _load(folder: Path, key: str) -> Section | None:
    path = folder / f"{key}.json"
    return Section.from_json(json.loads(path.read_text())) if path.exists() else None


def _section_md(section: Section, heading: str = "##") -> str:
    parts = [f"{heading} {section.title}", "",
             f"*Goal:* {section.goal}", "", f"**Result:** {section.verdict}", "",
             f"<sub>{section.mode} mode, {section.seconds:.0f} s, {section.machine.get('date', '?')} on "
             f"{section.machine.get('cpu', '?')} ({section.machine.get('cores', '?')} cores, GPU: "
             f"{section.machine.get('gpu', '?')}, load {section.machine.get('load average at start', '?')})</sub>", ""]
    for table in section.tables:
        parts += [table.markdown(), ""]
    parts += [f"- {note}" for note in section.notes]
    return "\n".join(parts).rstrip() + "\n"


def render(folder: Path, machine: dict[str, str]) -> str:
    """The whole BENCHMARKS.md from the stored results."""
    docs = (Path(__file__).with_name("README.md")).read_text(encoding="utf-8").strip()
    out = [HEADER, "", "# Benchmarks", "", docs, "", "## The machine of the latest run", "",
           "| | |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in machine.items()), ""]
    for name in ITEMS:
        section = _load(folder, name)
        out.append(_section_md(section) if section else f"## {name}\n\nNot run yet.\n")
    out += ["## GPU", "",
            "`benchmarks/gpu.sh` runs items 1 and 5 and the packing of 1, 2 and 4 worker "
            "processes on one GPU, in a few minutes, on a machine with a GPU; its results land "
            "here.", ""]
    gpu_sections = [s for s in (_load(folder, f"gpu-{n}") for n in GPU_ITEMS) if s]
    if not gpu_sections:
        out.append("**Not measured yet**: no machine with a GPU has run `benchmarks/gpu.sh`.\n")
    for section in gpu_sections:
        out.append(_section_md(section, "###"))
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    gpu = has_gpu()
    mode = Mode(args.mode, gpu=gpu)
    names = [] if args.render_only else (args.only or (GPU_ITEMS if gpu else ITEMS))
    machine = describe_machine(gpu)
    args.results.mkdir(parents=True, exist_ok=True)
    for name in names:
        module = importlib.import_module(f"benchmarks.{_MODULES[name]}")
        print(f"[benchmarks] {name} ({mode.name})…", file=sys.stderr, flush=True)
        started = time.perf_counter()
        section = module.run(mode)
        section = replace(section, mode=mode.name, seconds=time.perf_counter() - started, machine=machine)
        key = f"gpu-{name}" if gpu else name
        (args.results / f"{key}.json").write_text(json.dumps(section.to_json(), indent=1), encoding="utf-8")
        print(f"[benchmarks] {name}: {section.verdict} ({section.seconds:.0f} s)", file=sys.stderr, flush=True)
    args.output.write_text(render(args.results, machine), encoding="utf-8")
    print(f"[benchmarks] wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

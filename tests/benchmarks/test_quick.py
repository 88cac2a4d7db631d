"""The benchmark suite's quick mode runs and writes its tables; no timing is asserted."""

from __future__ import annotations

import json

import pytest

from benchmarks.__main__ import HEADER, main


@pytest.mark.slow
def test_quick_mode_writes_its_tables(tmp_path) -> None:
    output, results = tmp_path / "BENCHMARKS.md", tmp_path / "results"
    # The cheapest items that still train a model, use the storage and the CLI.
    assert main(["--quick", "--only", "storage", "throughput", "--output", str(output),
                 "--results", str(results)]) == 0
    text = output.read_text()
    assert text.startswith(HEADER)
    assert "## 3. Storage under load" in text and "## 5. Training throughput" in text
    assert "| backend | workers | trials/s |" in text
    assert "| SQLite | 1 |" in text
    assert "| arrays | off | 1 | off |" in text
    assert "## overhead\n\nNot run yet." in text
    assert "Not measured yet" in text or "### " in text
    stored = json.loads((results / "storage.json").read_text())
    assert stored["mode"] == "quick" and stored["tables"][0]["rows"]

"""Every benchmark runs at a tiny size (benchmarks are not tests: no figure is asserted)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import BENCHMARKS
from benchmarks.__main__ import main
from benchmarks._common import match_lags, percentile, running_transitions


@pytest.mark.parametrize("bench", BENCHMARKS, ids=lambda b: b.NAME)
def test_benchmark_runs_at_a_tiny_size(bench) -> None:
    result = bench.run(runs=1, quick=True)
    section = bench.report(result)
    assert section[0].startswith(f"## {bench.NAME}")
    assert "|" in "\n".join(section)


def test_runner_writes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    assert main(["--quick", "--only", "B4", "--output", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# aiospace benchmarks")
    assert "## Summary" in text and "## B4" in text and "machine:" in text


def test_ground_truth_matching() -> None:
    events = [
        {"seq": 0, "space": "a/x", "stage": "RUNNING", "time": 0.0},
        {"seq": 1, "space": "a/x", "stage": "RUNNING_BUILDING", "time": 10.0},
        {"seq": 2, "space": "a/x", "stage": "RUNNING", "time": 50.0},
        {"seq": 3, "space": "a/y", "stage": "RUNNING", "time": 0.0},
        {"seq": 4, "space": "a/y", "stage": "BUILDING", "time": 20.0},
        {"seq": 5, "space": "a/y", "stage": "RUNNING", "time": 70.0},
    ]
    truth = running_transitions(events)
    assert truth == [("a/x", 50.0), ("a/y", 70.0)]
    lags, missed = match_lags(truth, {"a/x": [49.0, 51.5]}, until=100.0)
    assert lags == [1.5] and missed == 1
    assert percentile([1.0, 2.0, math.inf], 0.5) == 2.0
    assert percentile([1.0, math.inf], 0.95) == math.inf

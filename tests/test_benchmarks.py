"""Every benchmark runs at a tiny size (benchmarks are not tests: no figure is asserted)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import BENCHMARKS
from benchmarks.__main__ import main, summary
from benchmarks._baseline import PINNED, TOLERANCE, Tree, checkout, probe, versus
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


def _has_commit(sha: str) -> bool:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        ["git", "-C", str(root), "cat-file", "-e", f"{sha}^{{commit}}"], capture_output=True
    )
    return done.returncode == 0


needs_pinned = pytest.mark.skipif(not _has_commit(PINNED), reason="the pinned baseline is not in this clone")
NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"


def _number(text: str) -> float:
    return float(text.replace(",", ""))


@needs_pinned
def test_baseline_rows_are_measured(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    assert main(["--quick", "--only", "B1,W1", "--baseline", "--output", str(out)]) == 0
    text = out.read_text()
    short = PINNED[:7]
    assert f"baseline: `{PINNED}`" in text
    # B1: this checkout's row and the baseline's, both measured.
    rows = {}
    for label in ("aiospace", f"aiospace (baseline {short})"):
        m = re.search(rf"^\| {re.escape(label)} \| ({NUMBER}) \| ({NUMBER})x \|", text, re.M)
        assert m, label
        rows[label] = _number(m.group(1))
        assert rows[label] > 0
    # The summary's B1 row is the ratio of those two figures.
    target = f"<= {TOLERANCE:.2f}x"
    m = re.search(
        rf"^\| B1 aiospace now / baseline {short} \(CPU per read\) \| {re.escape(target)} "
        rf"\| ({NUMBER}) / ({NUMBER}) us = ({NUMBER})x \| (yes|\*\*no\*\*) \|$",
        text,
        re.M,
    )
    assert m
    b1_ok = m.group(4) == "yes"
    now, base, vs = (_number(m.group(i)) for i in (1, 2, 3))
    assert (now, base) == (rows["aiospace"], rows[f"aiospace (baseline {short})"])
    assert vs == pytest.approx(now / base, abs=0.006)
    assert b1_ok == (now <= base * TOLERANCE)
    # W1: both pairs measured, and the summary's comparison of their ratios.
    w1 = {}
    for label in ("client's own read", "Watcher poll"):
        for which in ("now", f"baseline {short}"):
            m = re.search(rf"^\| {re.escape(label)} \({which}\) \| ({NUMBER}) \| ({NUMBER}) \|$", text, re.M)
            assert m, (label, which)
            w1[label, which] = _number(m.group(1))
            assert w1[label, which] > 0
    m = re.search(
        rf"^\| W1 Watcher poll / client read, now vs baseline {short} \| {re.escape(target)} "
        rf"\| ({NUMBER})x now vs ({NUMBER})x baseline = ({NUMBER})x \| (yes|\*\*no\*\*) \|$",
        text,
        re.M,
    )
    assert m
    ratio_now = w1["Watcher poll", "now"] / w1["client's own read", "now"]
    ratio_base = w1["Watcher poll", f"baseline {short}"] / w1["client's own read", f"baseline {short}"]
    assert _number(m.group(1)) == pytest.approx(ratio_now, abs=0.02)
    assert _number(m.group(2)) == pytest.approx(ratio_base, abs=0.02)
    w1_ok = m.group(4) == "yes"
    assert w1_ok == (_number(m.group(3)) <= TOLERANCE) or abs(_number(m.group(3)) - TOLERANCE) < 0.01
    assert f"now <= baseline x {TOLERANCE:.2f}" in text
    # A comparison that is not met is called out below the summary.
    assert ("**Costlier than the baseline:**" in text) == (not (b1_ok and w1_ok))


@needs_pinned
def test_baseline_copy_is_reused_and_probed_from_its_own_tree(tmp_path: Path) -> None:
    tree = checkout(PINNED, cache=tmp_path)
    assert tree.path == tmp_path / PINNED and tree.short == PINNED[:7]
    init = tree.path / "aiospace" / "__init__.py"
    stamp = init.stat().st_mtime_ns
    assert checkout(PINNED[:7], cache=tmp_path).path == tree.path
    assert init.stat().st_mtime_ns == stamp
    # The probe refuses to measure an aiospace from anywhere but the tree it was given.
    with pytest.raises(RuntimeError, match="probe failed"):
        probe(Tree(tmp_path / "empty"), {"kind": "read"})


def test_versus_judges_within_the_tolerance() -> None:
    assert versus(100.0, 100.0) == (1.0, True)
    assert versus(100.0 * TOLERANCE, 100.0)[1] is True
    assert versus(100.0 * TOLERANCE + 1.0, 100.0)[1] is False
    assert versus(math.nan, 100.0)[1] is None


def test_a_costlier_read_is_called_out() -> None:
    cpu = {"aiohttp floor": [100.0], "aiospace": [130.0], "huggingface_hub": [900.0], "baseline": [110.0]}
    lines = summary({"B1": {"cpu_us": cpu, "baseline": {"sha": PINNED, "ref": PINNED[:7]}}})
    text = "\n".join(lines)
    assert f"| B1 aiospace now / baseline {PINNED[:7]} (CPU per read) |" in text
    assert "| **no** |" in text.split("now / baseline")[1]
    assert "**Costlier than the baseline:**" in text


def test_a_partial_run_keeps_the_other_sections(tmp_path: Path) -> None:
    from benchmarks._merge import merge

    def report(date: str, rows: list[str], sections: dict[str, str]) -> str:
        parts = [
            f"# aiospace benchmarks\n\nProduced by `python -m benchmarks {date}` in 1 s.\n\n- date: {date}\n"
        ]
        parts.append(
            "## Summary\n\n| figure | target | measured (median of runs) | met |\n| --- | --- | --- | --- |"
        )
        parts += [*rows, ""]
        parts += [f"## {name}: title\n\n{body}\n" for name, body in sections.items()]
        return "\n".join(parts)

    old = report(
        "then", ["| B1 a | t | 1 | yes |", "| E1 b | t | 2 | yes |"], {"B1": "b1 then", "E1": "e1 then"}
    )
    new = report("now", ["| E1 b | t | 3 | yes |", "| W3 c | t | 4 | - |"], {"E1": "e1 now", "W3": "w3 now"})
    merged = merge(old, new, {"E1", "W3"})
    assert "b1 then" in merged and "| B1 a | t | 1 | yes |" in merged  # kept
    assert "e1 then" not in merged and "| E1 b | t | 2 | yes |" not in merged  # replaced
    assert "e1 now" in merged and "w3 now" in merged and "| W3 c | t | 4 | - |" in merged
    assert "- E1, W3 re-measured on now by `python -m benchmarks now`" in merged
    out = tmp_path / "RESULTS.md"
    out.write_text(old)
    assert main(["--quick", "--only", "B4", "--output", str(out)]) == 0
    text = out.read_text()
    assert "b1 then" in text and "## B4" in text and "- B4 re-measured on" in text

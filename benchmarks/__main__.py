"""``python -m benchmarks [--quick] [--runs N] [--only B1,B3] [--output PATH] [--baseline [REF]]``.

A full run writes ``benchmarks/RESULTS.md``; with ``--only``, over a report that exists, only
the sections and summary rows of the benchmarks run are replaced (:mod:`benchmarks._merge`),
the rest is kept. ``--quick`` runs every benchmark at a
tiny size (a smoke test, a few seconds) and prints the report instead, unless
``--output`` is given. ``--baseline REF`` (a git ref; the pinned commit before the
package's reorganisation without a value) also measures B1's aiospace client and W1 with
``REF``'s ``aiospace``, round by round beside this checkout's (:mod:`benchmarks._baseline`);
``--no-baseline`` undoes it.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from . import BENCHMARKS, RUNS, b1_poll_cost, e1_emulator, w1_engine
from ._baseline import PINNED, TOLERANCE, Tree, checkout, tolerance_text, versus, versus_medians
from ._common import fmt, machine
from ._merge import merge

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _median(values: list[float]) -> float:
    data = [v for v in values if not math.isnan(v)]
    return statistics.median(data) if data else math.nan


def _baseline_rows(
    results: dict[str, Any],
) -> tuple[list[tuple[str, str, str, bool | None]], list[str], bool]:
    """The summary's rows comparing this checkout with the baseline, a line per costlier one, and
    whether the two ``aiospace/`` trees are the same."""
    rows: list[tuple[str, str, str, bool | None]] = []
    costlier: list[str] = []
    compared = [(results.get(k) or {}).get("baseline") or {} for k in ("B1", "W1")]
    identical = any(base.get("identical", False) for base in compared)
    target = f"<= {TOLERANCE:.2f}x"
    b1 = results.get("B1")
    if b1 and b1.get("baseline"):
        short = b1["baseline"]["sha"][:7]
        cpu = b1["cpu_us"]
        vs, ok = versus_medians(cpu["aiospace"], cpu["baseline"])
        figure = f"{fmt(_median(cpu['aiospace']))} / {fmt(_median(cpu['baseline']))} us = {fmt(vs, 2)}x"
        rows.append((f"B1 aiospace now / baseline {short} (CPU per read)", target, figure, ok))
        if ok is False:
            costlier.append(f"B1: a client read costs {fmt(vs, 2)}x the baseline {short}'s CPU")
        instr = b1.get("instructions") or {}
        if "baseline" in instr:
            vs_i, ok_i = versus(instr["aiospace"], instr["baseline"])
            figure = f"{instr['aiospace'] / 1000:,.1f}k / {instr['baseline'] / 1000:,.1f}k = {vs_i:.3f}x"
            rows.append((f"B1 aiospace now / baseline {short} (instructions per read)", target, figure, ok_i))
            if ok_i is False:
                costlier.append(f"B1: a client read runs {vs_i:.3f}x the baseline {short}'s instructions")
    w1 = results.get("W1")
    if w1 and w1.get("baseline"):
        short = w1["baseline"]["sha"][:7]
        now, then, vs, ok = w1_engine.baseline_verdict(w1)
        figure = f"{fmt(now, 2)}x now vs {fmt(then, 2)}x baseline = {fmt(vs, 2)}x"
        rows.append((f"W1 Watcher poll / client read, now vs baseline {short}", target, figure, ok))
        if ok is False:
            costlier.append(
                f"W1: a Watcher poll costs {fmt(now, 2)}x a client read now, {fmt(then, 2)}x "
                f"with the baseline {short} ({fmt(vs, 2)}x)"
            )
    return rows, costlier, identical


def summary(results: dict[str, Any]) -> list[str]:
    """The targets of the issue, each with its measured figure and whether it is met."""
    rows: list[tuple[str, str, str, bool | None]] = []
    if "B1" in results:
        cpu = results["B1"]["cpu_us"]
        floor, ours, hf = (_median(cpu[k]) for k in ("aiohttp floor", "aiospace", "huggingface_hub"))
        target = b1_poll_cost.TARGET_VS_FLOOR
        rows.append(
            (
                "B1 aiospace CPU per read / aiohttp floor",
                f"<= {target:.2f}x",
                f"{ours / floor:.2f}x",
                ours / floor <= target,
            )
        )
        instr = results["B1"].get("instructions")
        if instr:
            vs = instr["aiospace"] / instr["aiohttp floor"]
            figure = f"{instr['aiospace'] / 1000:,.1f}k / {instr['aiohttp floor'] / 1000:,.1f}k = {vs:.3f}x"
            rows.append(
                (
                    "B1 aiospace instructions per read / aiohttp floor",
                    f"<= {target:.2f}x",
                    figure,
                    vs <= target,
                )
            )
        rows.append(
            ("B1 huggingface_hub CPU per read / aiospace", ">= 6x", f"{hf / ours:.2f}x", hf / ours >= 6)
        )
    if "B2" in results:
        for n, row in results["B2"]["sizes"].items():
            rss = _median(row["rss_per_space"])
            rows.append(
                (
                    f"B2 resident memory per watched Space ({n:,})",
                    "<= 4,096 B",
                    f"{fmt(rss, 0)} B",
                    rss <= 4096,
                )
            )
        for n, row in results["B2"]["sizes"].items():
            lag = _median(row["lag_p99_ms"])
            rows.append((f"B2 event-loop lag p99 while polling ({n:,})", "(none)", f"{fmt(lag, 2)} ms", None))
    if "B3" in results:
        for key, label in (("aiospace", "default cadence"), ("aiospace-fast2", "Cadence(fast=2.0)")):
            ours = results["B3"][key]
            worst = max(ours["limited"])
            rows.append((f"B3 aiospace 429s, {label} (worst run)", "0", fmt(worst, 0), worst == 0))
            lag = _median(ours["lag_median"])
            rows.append(
                (f"B3 aiospace median detection lag, {label}", "<= 1 Hub s", f"{fmt(lag, 2)} s", lag <= 1.0)
            )
        hf = results["B3"]["huggingface_hub"]
        rows.append(("B3 huggingface_hub 429s", "(comparison)", fmt(_median(hf["limited"]), 0), None))
    if "B4" in results:
        for name in ("aiospace", "huggingface_hub"):
            row = results["B4"][name]
            figure = f"{fmt(_median(row['requests']), 0)} requests, lag {fmt(_median(row['lag']), 2)} s"
            rows.append((f"B4 {name} restart to RUNNING", "(comparison)", figure, None))
    if "W1" in results:
        w1 = results["W1"]
        engine, client = _median(w1["engine_us"]), _median(w1["client_us"])
        rows.append(
            (
                "W1 Watcher CPU per poll / client read",
                f"<= {w1_engine.TARGET_VS_READ:.2f}x",
                f"{engine / client:.2f}x",
                engine / client <= w1_engine.TARGET_VS_READ,
            )
        )
        rss = _median(w1["rss_per_space"])
        rows.append(
            (
                f"W1 resident memory per watched Space ({w1['n']:,})",
                f"<= {w1_engine.TARGET_BYTES:,} B",
                f"{fmt(rss, 0)} B",
                rss <= w1_engine.TARGET_BYTES,
            )
        )
    if "W2" in results:
        share = results["W2"]["share 0.5"]
        worst = max(share["limited"])
        rows.append(("W2 share 0.5: 429s (worst run)", "0", fmt(worst, 0), worst == 0))
        over = max(a - b for a, b in zip(share["sliding_max"], share["allowed"], strict=True))
        rows.append(("W2 share 0.5: most in any 300 s minus the share", "<= 0", fmt(over, 0), over <= 0))
        ready, p95 = _median(share["ready_median"]), _median(share["ready_p95"])
        rows.append(("W2 share 0.5: ready lag median", "<= 0.5 Hub s", f"{fmt(ready, 2)} s", ready <= 0.5))
        rows.append(("W2 share 0.5: ready lag p95", "<= 1 Hub s", f"{fmt(p95, 2)} s", p95 <= 1.0))
        crash = _median(share["crash_median"])
        rows.append(("W2 share 0.5: crash-detection lag median", "(new figure)", f"{fmt(crash, 2)} s", None))
    if "W3" in results:
        w3 = results["W3"]
        worst = max(w3["aiospace_limited"])
        rows.append(("W3 aiospace 429s (worst run)", "0", fmt(worst, 0), worst == 0))
        vs = _median(w3["crash_vs_bound"])
        rows.append(("W3 crash-detection median / A/(2B)", "<= 1.25x", f"{vs:.2f}x", vs <= 1.25))
        ready = _median(w3["aiospace_ready_median"])
        rows.append(("W3 ready lag median", "<= 2 Hub s", f"{fmt(ready, 2)} s", ready <= 2.0))
        missed = max(w3["aiospace_missed"])
        rows.append(("W3 transitions missed by aiospace (worst run)", "(none)", fmt(missed, 0), None))
    if "E1" in results:
        rows += e1_emulator.summary_rows(results["E1"])
    versus_rows, costlier, identical = _baseline_rows(results)
    rows += versus_rows
    lines = ["| figure | target | measured (median of runs) | met |", "| --- | --- | --- | --- |"]
    for figure, target, measured, met in rows:
        mark = "-" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {figure} | {target} | {measured} | {mark} |")
    if versus_rows:
        lines += [
            "",
            f'Against the baseline, "no worse" means {tolerance_text()} (a {TOLERANCE - 1:.0%} tolerance), '
            "on the medians over runs; both versions ran in the same rounds, each in a fresh process."
            + (
                " This checkout's `aiospace/` is identical to the baseline's: the differences are the "
                "measurement's noise on this machine."
                if identical
                else ""
            ),
        ]
        if costlier:
            lines += ["", "**Costlier than the baseline:**", "", *(f"- **{line}**" for line in costlier)]
        else:
            lines += ["", "Nothing measured against the baseline got costlier beyond the tolerance."]
    return lines


def render(
    results: dict[str, Any],
    reports: list[list[str]],
    info: dict[str, str],
    elapsed: float,
    argv: str,
    baseline: Tree | None = None,
) -> str:
    lines = [
        "# aiospace benchmarks",
        "",
        f"Produced by `python -m benchmarks{argv}` (`nox -s bench`) in {elapsed:.0f} s; every figure below "
        "is measured by that run (nothing is copied in by hand).",
        "",
        f"- date: {info['date']}",
        f"- machine: {info['machine']}",
        f"- Python: {info['python']}",
        f"- versions: {info['versions']}",
        "- network: loopback only (127.0.0.1); servers run in child processes.",
        *(
            [
                f"- baseline: `{baseline.sha}` (`--baseline {baseline.shown_ref}`), its `aiospace/` taken by "
                f"`git archive` into `.bench-baseline/`; measured in B1 and W1 beside this checkout's"
                + (
                    ", whose `aiospace/` is identical to it (the differences measured are noise)."
                    if baseline.identical
                    else "."
                )
            ]
            if baseline is not None
            else []
        ),
        "",
        "## Summary",
        "",
        *summary(results),
        "",
    ]
    for section in reports:
        lines += section
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each (a smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="runs per benchmark (default: per benchmark)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names, e.g. B1,B3")
    parser.add_argument("--output", type=Path, default=None, help="where to write the report")
    parser.add_argument(
        "--baseline",
        nargs="?",
        const=PINNED,
        default=None,
        metavar="REF",
        help=f"also measure B1 and W1 with this git ref's aiospace (no value: {PINNED[:7]})",
    )
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_const",
        const=None,
        help="measure no baseline (undoes an earlier --baseline, e.g. the one nox -s bench passes)",
    )
    args = parser.parse_args(argv)
    only = {name.strip().upper() for name in args.only.split(",") if name.strip()}
    try:
        baseline = checkout(args.baseline) if args.baseline is not None else None
    except RuntimeError as exc:
        parser.error(str(exc))
    info = machine()
    started = time.perf_counter()
    results: dict[str, Any] = {}
    reports: list[list[str]] = []
    for bench in BENCHMARKS:
        if only and bench.NAME not in only:
            continue
        runs = args.runs or (1 if args.quick else RUNS[bench.NAME])
        t = time.perf_counter()
        print(f"{bench.TITLE}: {runs} run(s)...", file=sys.stderr, flush=True)
        extra = (
            {"baseline": baseline} if baseline is not None and getattr(bench, "TAKES_BASELINE", False) else {}
        )
        results[bench.NAME] = bench.run(runs=runs, quick=args.quick, **extra)
        reports.append(bench.report(results[bench.NAME]))
        print(f"  done in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    shown = " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
    elapsed = time.perf_counter() - started
    text = render(results, reports, info, elapsed, f" {shown}" if shown else "", baseline)
    output = args.output if args.output is not None else (None if args.quick else RESULTS)
    if output is None:
        print(text)
    else:
        if only and output.exists():  # a partial run keeps the other benchmarks' sections
            text = merge(output.read_text(encoding="utf-8"), text, {r for r in results})
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

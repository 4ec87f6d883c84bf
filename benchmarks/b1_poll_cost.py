"""B1, cost per poll: client CPU per runtime read against a canned answer.

A minimal aiohttp server in a child process answers every
``GET /api/spaces/{id}/runtime`` with the same JSON (a real Hub shape, with the
Hub's ``RateLimit`` headers). Three clients (four with a baseline) read it ``polls`` times each, with
``concurrency`` reads in flight, and we count the client process's CPU time
(``getrusage``: user + system, every thread):

* the floor: a bare ``aiohttp`` GET and ``json.loads`` of the body, in a fresh child process
  per run (:func:`benchmarks._probe.floor_cost`), started as aiospace's are;
* aiospace: ``SpaceClient.get_space_runtime(id, retry=False)`` (request building, token,
  rate-limit headers, listeners, JSON, typed ``SpaceRuntime``), in a fresh child process
  per run (:mod:`benchmarks._probe`, importing this checkout's ``aiospace``);
* with ``--baseline REF``: the same reads by ``REF``'s ``aiospace`` (its own fresh child
  process per run, :mod:`benchmarks._baseline`), run next to this checkout's in every
  round, the two taking turns at going first;
* huggingface_hub: ``HfApi(endpoint=...).get_space_runtime`` from a thread pool of
  ``concurrency`` threads.

huggingface_hub runs in this process. Each client's CPU is counted over its
reads only (not a child's start-up or imports).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import _probe
from ._baseline import (
    CURRENT,
    Tree,
    count_instructions,
    count_regions,
    describe,
    probe,
    tolerance_text,
    valgrind_available,
    versus,
    versus_medians,
)
from ._common import cell, cpu_seconds, fmt, ratio, serve

NAME = "B1"
TITLE = "B1: cost per poll (client CPU per runtime read, canned server)"
#: ``run`` takes ``baseline=``: an earlier aiospace measured beside this one.
TAKES_BASELINE = True
REPO = "bench/space"
TOKEN = "hf_bench"
CLIENTS = ("aiohttp floor", "aiospace", "huggingface_hub")
#: aiospace's read at most this many times raw aiohttp's (issue 27), in CPU and in instructions.
TARGET_VS_FLOOR = 1.15


def _floor(url: str, polls: int, concurrency: int, warmup: int) -> tuple[float, float]:
    """Raw aiohttp (GET and ``json.loads``), in a fresh child process as aiospace's reads are."""
    job = {"kind": "floor", "url": url, "repo": REPO, "token": TOKEN}
    out = probe(CURRENT, {**job, "polls": polls, "concurrency": concurrency, "warmup": warmup})
    return float(out["cpu"]), float(out["wall"])


def _aiospace(tree: Tree, url: str, polls: int, concurrency: int, warmup: int) -> tuple[float, float]:
    """``tree``'s aiospace, in a fresh child process."""
    job = {"kind": "read", "url": url, "repo": REPO, "token": TOKEN}
    out = probe(tree, {**job, "polls": polls, "concurrency": concurrency, "warmup": warmup})
    return float(out["cpu"]), float(out["wall"])


def _hf(url: str, polls: int, concurrency: int, warmup: int) -> tuple[float, float]:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=url, token=TOKEN)
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: api.get_space_runtime(REPO), range(warmup)))
        cpu, wall = cpu_seconds(), time.perf_counter()
        list(pool.map(lambda _: api.get_space_runtime(REPO), range(polls)))
        return cpu_seconds() - cpu, time.perf_counter() - wall


def _where(path: str) -> str:
    if "/aiospace/" in path:
        return "aiospace"
    if any(f"/{p}/" in path for p in ("aiohttp", "yarl", "multidict", "propcache", "frozenlist")):
        return "aiohttp, yarl, multidict"
    if "/asyncio/" in path or "selectors" in path or "select.epoll" in path:
        return "asyncio event loop"
    if "_socket.socket" in path:
        return "socket send/recv (kernel)"
    if "/json/" in path:
        return "json"
    if "<attrs generated" in path or "/attr/" in path or "/cattrs/" in path:
        return "attrs models"
    return "other"


def profile(url: str, polls: int, concurrency: int) -> dict[str, float]:
    """Where aiospace's client CPU goes: cProfile's own time, by package (shares of the total).

    This checkout's aiospace, profiled in this process.
    """
    import cProfile
    import pstats

    asyncio.run(_probe.read_cost(url, REPO, TOKEN, 50, concurrency, 10))
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(_probe.read_cost(url, REPO, TOKEN, polls, concurrency, 0))
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    shares: dict[str, float] = {}
    for (path, _, name), (_, _, tottime, _, _) in stats.items():
        where = _where(path if path != "~" else name)
        shares[where] = shares.get(where, 0.0) + tottime
    total = sum(shares.values()) or 1.0
    return {k: v / total for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}


#: Reads counted under callgrind per client (instructions repeat within a fraction of a percent).
COUNTED_READS = 1000
#: Calls of each step of :mod:`benchmarks._components` (timed; a fifth of them under callgrind).
STEP_CALLS = 20_000


def instructions(url: str, baseline: Tree | None, reads: int = COUNTED_READS) -> dict[str, float]:
    """Instructions per read (callgrind, the measured loop alone) of the floor, this checkout's
    aiospace and the baseline's, each in a fresh process under valgrind."""
    job = {"url": url, "repo": REPO, "token": TOKEN, "polls": reads, "concurrency": 8, "warmup": 100}
    out = {
        "aiohttp floor": count_instructions(CURRENT, {**job, "kind": "floor"}) / reads,
        "aiospace": count_instructions(CURRENT, {**job, "kind": "read"}) / reads,
    }
    if baseline is not None:
        out["baseline"] = count_instructions(baseline, {**job, "kind": "read"}) / reads
    return out


def components(url: str, tree: Tree, counted: bool, calls: int = STEP_CALLS) -> dict[str, Any]:
    """Each step of ``tree``'s read (:mod:`benchmarks._components`): µs per call, and with
    ``counted`` instructions per call (callgrind, less an empty loop's)."""
    job = {"kind": "components", "url": url, "repo": REPO, "token": TOKEN, "iterations": calls}
    out = probe(tree, job)
    result: dict[str, Any] = {"steps": out["steps"], "us": out["us"], "instructions": None}
    if counted:
        small = max(1, calls // 10)
        regions = count_regions(tree, {**job, "iterations": small})
        empty = regions[0]
        result["instructions"] = [max(0.0, r - empty) / small for r in regions[1:]]
    return result


def _order(i: int, baseline: bool) -> list[str]:
    """Round ``i``'s clients: rotated, so no client always goes first; the baseline next to aiospace."""
    rotated = CLIENTS[i % 3 :] + CLIENTS[: i % 3]
    if not baseline:
        return list(rotated)
    pair = ["aiospace", "baseline"] if i % 2 == 0 else ["baseline", "aiospace"]
    return [c for name in rotated for c in (pair if name == "aiospace" else [name])]


def run(*, runs: int, quick: bool, baseline: Tree | None = None) -> dict[str, Any]:
    polls = 200 if quick else 4000
    concurrency = 8
    warmup = 20 if quick else 200
    names = (*CLIENTS, "baseline") if baseline is not None else CLIENTS
    cpu_us: dict[str, list[float]] = {c: [] for c in names}
    wall_us: dict[str, list[float]] = {c: [] for c in names}
    server_us: dict[str, list[float]] = {c: [] for c in names}
    with serve("canned") as server:
        for i in range(runs):
            for name in _order(i, baseline is not None):
                before = server.cpu_seconds()
                if name == "aiohttp floor":
                    cpu, wall = _floor(server.url, polls, concurrency, warmup)
                elif name == "aiospace":
                    cpu, wall = _aiospace(CURRENT, server.url, polls, concurrency, warmup)
                elif name == "baseline":
                    assert baseline is not None
                    cpu, wall = _aiospace(baseline, server.url, polls, concurrency, warmup)
                else:
                    cpu, wall = _hf(server.url, polls, concurrency, warmup)
                cpu_us[name].append(cpu / polls * 1e6)
                wall_us[name].append(wall / polls * 1e6)
                server_us[name].append((server.cpu_seconds() - before) / (polls + warmup) * 1e6)
        where = profile(server.url, polls, concurrency)
        counted = valgrind_available() and not quick
        instr = instructions(server.url, baseline) if counted else None
        steps = {"now": components(server.url, CURRENT, counted, 2_000 if quick else STEP_CALLS)}
        if baseline is not None:
            steps["baseline"] = components(server.url, baseline, counted, 2_000 if quick else STEP_CALLS)
    return {
        "instructions": instr,
        "steps": steps,
        "where": where,
        "polls": polls,
        "concurrency": concurrency,
        "runs": runs,
        "cpu_us": cpu_us,
        "wall_us": wall_us,
        "server_us": server_us,
        "baseline": None if baseline is None else describe(baseline),
    }


def report(r: dict[str, Any]) -> list[str]:
    cpu, wall, srv = r["cpu_us"], r["wall_us"], r["server_us"]
    floor, ours, hf = cpu["aiohttp floor"], cpu["aiospace"], cpu["huggingface_hub"]
    lines = [
        f"## {TITLE}",
        "",
        f"{r['polls']:,} reads per client per run, {r['concurrency']} in flight, {r['runs']} runs; "
        "the server runs in a child process (its CPU is not counted in the client column). "
        "Figures: median (min-max) over runs, microseconds per read.",
        "",
        "| client | client CPU per read (us) | vs floor | wall per read (us) | server CPU per read (us) |",
        "| --- | --- | --- | --- | --- |",
    ]
    base = r.get("baseline")
    names = ["aiohttp floor", "aiospace", *(["baseline"] if base else []), "huggingface_hub"]
    for name in names:
        label = f"aiospace (baseline {base['sha'][:7]})" if name == "baseline" and base else name
        lines.append(
            f"| {label} | {cell(cpu[name])} | {ratio(cpu[name], floor)} | {cell(wall[name])} "
            f"| {cell(srv[name])} |"
        )
    lines += [""]
    if base:
        short = base["sha"][:7]
        vs, ok = versus_medians(ours, cpu["baseline"])
        rounds = ", ".join(f"{a / b:.2f}x" for a, b in zip(ours, cpu["baseline"], strict=True))
        verdict = "no worse" if ok else ("n/a" if ok is None else "**COSTLIER than the baseline**")
        lines += [
            f"- aiospace now / baseline {short} (`--baseline {base['ref']}`, same rounds, taking turns "
            f"at going first): **{fmt(vs, 2)}x**, {verdict} ({tolerance_text()}); round by round: {rounds}",
        ]
    lines += [
        f"- aiospace / floor: **{ratio(ours, floor)}** (target at most {TARGET_VS_FLOOR:.2f}x)",
        f"- huggingface_hub / aiospace: **{ratio(hf, ours)}** (target at least 6x)",
        f"- huggingface_hub / floor: {ratio(hf, floor)} (the most huggingface_hub / aiospace could be: "
        "an aiospace read costing no more than raw aiohttp's)",
        "",
        *_instruction_lines(r),
        *_step_lines(r),
        "Where aiospace's client CPU goes (one cProfile run of the same reads, own time by package):",
        "",
        "| where | share |",
        "| --- | --- |",
        *(f"| {k} | {v:.0%} |" for k, v in r["where"].items()),
        "",
    ]
    return lines


def _instruction_lines(r: dict[str, Any]) -> list[str]:
    instr = r.get("instructions")
    if not instr:
        return []
    cpu = r["cpu_us"]
    base = r.get("baseline")
    floor = instr["aiohttp floor"]
    lines = [
        f"Instructions per read (valgrind's callgrind, {COUNTED_READS:,} reads, 8 in flight, the "
        "measured loop alone, each client in a fresh process; a count repeats within a fraction of a "
        "percent however busy the machine is, where CPU time moves by 10-20 % on it), beside the CPU "
        "time of the rounds above:",
        "",
        "| client | instructions per read | vs floor | CPU per read (us, median) | vs floor |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("aiohttp floor", "aiospace", *(["baseline"] if "baseline" in instr else [])):
        label = f"aiospace (baseline {base['sha'][:7]})" if name == "baseline" and base else name
        lines.append(
            f"| {label} | {instr[name] / 1000:,.1f}k | {instr[name] / floor:.3f}x "
            f"| {cell(cpu[name])} | {ratio(cpu[name], cpu['aiohttp floor'])} |"
        )
    lines += [
        "",
        f"- aiospace / floor in instructions: **{instr['aiospace'] / floor:.3f}x** "
        f"(target at most {TARGET_VS_FLOOR:.2f}x)",
    ]
    if "baseline" in instr and base:
        vs, ok = versus(instr["aiospace"], instr["baseline"])
        verdict = "no worse" if ok else "**COSTLIER than the baseline**"
        lines.append(f"- aiospace now / baseline {base['sha'][:7]} in instructions: **{vs:.3f}x**, {verdict}")
    return [*lines, ""]


def _step_lines(r: dict[str, Any]) -> list[str]:
    steps = r.get("steps") or {}
    now = steps.get("now")
    if not now:
        return []
    from ._components import STEPS

    before = steps.get("baseline")
    base = r.get("baseline")
    short = base["sha"][:7] if base else "baseline"
    counted = now["instructions"] is not None
    head = "| step | on a plain read | now (us) |" + (" now (instructions) |" if counted else "")
    rule = "| --- | --- | --- |" + (" --- |" if counted else "")
    if before:
        head += f" {short} (us) |" + (f" {short} (instructions) |" if counted else "")
        rule += " --- |" + (" --- |" if counted else "")
    lines = [
        "Where a read goes, step by step (:mod:`benchmarks._components`: each step called "
        f"{STEP_CALLS:,} times on one real answer of the canned server, best of 5 rounds, and a tenth "
        "of that under callgrind, an empty loop's cost taken off; the steps a version runs inline are "
        'copies of its lines). "the rest" is the whole read (the counts above) less the steps a '
        "plain read runs: aiohttp's request and response, the event loop, the layers between.",
        "",
        head,
        rule,
    ]

    def cells(row: dict[str, Any], i: int) -> str:
        out = f" {row['us'][i]:.2f} |"
        if counted and row["instructions"] is not None:
            out += f" {row['instructions'][i] / 1000:,.1f}k |"
        return out

    for i, (name, on_path) in enumerate(STEPS):
        line = f"| {name} | {'yes' if on_path else 'no'} |" + cells(now, i)
        if before:
            line += cells(before, i)
        lines.append(line)
    instr = r.get("instructions")
    if counted and instr:
        on = [i for i, (_, on_path) in enumerate(STEPS) if on_path]
        rest_now = instr["aiospace"] - sum(now["instructions"][i] for i in on)
        line = f"| the rest (aiohttp, event loop, layers) | yes | - | {rest_now / 1000:,.1f}k |"
        if before and before["instructions"] is not None and "baseline" in instr:
            rest_then = instr["baseline"] - sum(before["instructions"][i] for i in on)
            line += f" - | {rest_then / 1000:,.1f}k |"
        lines.append(line)
        line = f"| **whole read** | | {cell(r['cpu_us']['aiospace'])} | {instr['aiospace'] / 1000:,.1f}k |"
        if before and "baseline" in instr:
            line += f" {cell(r['cpu_us']['baseline'])} | {instr['baseline'] / 1000:,.1f}k |"
        lines.append(line)
        floor = instr["aiohttp floor"]
        lines.append(
            f"| raw aiohttp's whole read (GET + `json.loads`) | | {cell(r['cpu_us']['aiohttp floor'])} "
            f"| {floor / 1000:,.1f}k |" + (" | |" if before else "")
        )
    return [*lines, ""]

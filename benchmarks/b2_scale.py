"""B2, scale: one Watcher over 1,000 and 10,000 settled Spaces.

The emulator runs in a child process (speed ``SPEED``, no effective quota), so this
process holds only the client and the watcher. Every Space is polled on its own
(``batch=False``: the engine's worst case, no listing shortcut), at a fixed cadence
chosen so that the whole fleet is swept about ``RATE`` times per real second.

* memory per watched Space: the client process's (a fresh child process) resident set growth from before the
  watcher existed to after it had observed every Space once, divided by the count;
  and, separately, ``tracemalloc`` around the engine's own state (a Watcher, its
  trackers, heap and a last runtime per Space, without the network);
* CPU per poll: process CPU over the steady state divided by the polls made;
* event-loop lag: a ticker task sleeps 5 ms over and over during the steady state and
  records how late it wakes up.
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from aiospace._hub import requests
from aiospace._hub.convert import structure

from ._common import cell, cpu_seconds, emulator, fleet_seed, fmt, percentile, rss_bytes

NAME = "B2"
TITLE = "B2: scale (one Watcher, settled Spaces)"
SPEED = 10.0
RATE = 600.0  # polls per real second the cadence aims at
TICK = 0.005


def _child(url: str, origin: float, n: int, steady: float) -> dict[str, float]:
    """In a fresh process (nothing freed earlier to reuse): the watcher run, on the emulator's clock."""
    from aiospace._clock import ScaledClock

    clock = ScaledClock(SPEED)
    clock._real_origin = origin
    return asyncio.run(_watch(url, clock, n, steady))


async def _watch(url: str, clock: Any, n: int, steady: float) -> dict[str, float]:
    from aiospace import SpaceClient
    from aiospace.engine.transitions import Cadence

    author = "scale"
    ids = [f"{author}/space-{i:05d}" for i in range(n)]
    interval = n / RATE * SPEED  # Hub seconds between two polls of one Space
    async with SpaceClient(endpoint=url, token=f"hf_{author}", clock=clock) as client:
        await client.get_space_runtime(ids[0])  # session and connection warm
        gc.collect()
        rss0 = rss_bytes()
        seen = 0
        all_seen = asyncio.Event()
        watcher = client.watcher(
            cadence=Cadence(fast=interval, slow=interval, jitter=0.1),
            batch=False,
            quota=10**9,
            window=300,
            concurrency=16,
            seed=1,
        )
        async with watcher as w:
            w.add(*ids)

            async def consume() -> None:
                nonlocal seen
                async for t in w:
                    if t.is_initial:
                        seen += 1
                        if seen == n:
                            all_seen.set()

            consumer = asyncio.ensure_future(consume())
            start = time.perf_counter()
            await all_seen.wait()
            first_sweep = time.perf_counter() - start
            gc.collect()
            rss1 = rss_bytes()

            lags: list[float] = []
            stop = False

            async def ticker() -> None:
                while not stop:
                    t0 = time.perf_counter()
                    await asyncio.sleep(TICK)
                    lags.append(time.perf_counter() - t0 - TICK)

            requests0, cpu0, wall0 = w.stats.requests, cpu_seconds(), time.perf_counter()
            tick = asyncio.ensure_future(ticker())
            await asyncio.sleep(steady)
            stop = True
            await tick
            polls = w.stats.requests - requests0
            cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
            failures = w.stats.failures
            consumer.cancel()
    return {
        "rss_per_space": (rss1 - rss0) / n,
        "cpu_us_per_poll": cpu / max(1, polls) * 1e6,
        "polls_per_s": polls / wall,
        "lag_p50_ms": percentile(lags, 0.5) * 1e3,
        "lag_p99_ms": percentile(lags, 0.99) * 1e3,
        "lag_max_ms": max(lags, default=float("nan")) * 1e3,
        "first_sweep_s": first_sweep,
        "failures": failures,
    }


def engine_state_bytes(n: int) -> float:
    """tracemalloc: bytes per Space of a Watcher's own state (trackers, heap, last runtimes)."""
    from aiospace import SpaceClient
    from aiospace.engine.watcher import Watcher
    from aiospace.models import SpaceRuntime

    from ._serve import CANNED_RUNTIME

    ids = [f"mem/space-{i:05d}" for i in range(n)]
    request = requests.get_space_runtime(ids[0])
    body = json.dumps(CANNED_RUNTIME)
    client = SpaceClient(endpoint="http://127.0.0.1:9", token=False)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    watcher = Watcher(client, batch=False, seed=1)
    watcher.add(*ids)
    for repo_id in ids:
        # What a poll leaves behind: a runtime decoded from its own answer.
        runtime = structure(json.loads(body), SpaceRuntime, request)
        watcher._observed(watcher.tracker(repo_id), runtime, 0.0)
        watcher._schedule.push(watcher.tracker(repo_id))

    async def drain() -> None:  # the consumer takes every (initial) transition
        for _ in ids:
            await watcher.__anext__()

    asyncio.run(drain())
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return used / n


def run(*, runs: int, quick: bool) -> dict[str, Any]:
    sizes = (50,) if quick else (1_000, 10_000)
    out: dict[str, Any] = {"runs": runs, "speed": SPEED, "rate": RATE, "sizes": {}}
    for n in sizes:
        steady = 0.5 if quick else max(4.0, n / RATE)
        results: list[dict[str, float]] = []
        for _ in range(runs):
            with (
                emulator(speed=SPEED, seed=fleet_seed("scale", n), quota=10**9) as emu,
                ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool,
            ):
                origin = emu.clock._real_origin
                results.append(pool.submit(_child, emu.url, origin, n, steady).result())
        keys = results[0].keys()
        row = {k: [r[k] for r in results] for k in keys}
        row["engine_bytes"] = [engine_state_bytes(n)]
        row["steady_s"] = steady
        out["sizes"][n] = row
    return out


def report(r: dict[str, Any]) -> list[str]:
    lines = [
        f"## {TITLE}",
        "",
        f"Emulator in a child process at speed {r['speed']:g}; every Space polled on its own "
        f"(`batch=False`), cadence set so the fleet is polled about {r['rate']:g} times per real "
        f"second, 16 polls in flight; {r['runs']} runs, median (min-max).",
        "",
        "| Spaces | RSS per Space (bytes) | engine state per Space (tracemalloc, bytes) "
        "| CPU per poll (us) | polls/s | loop lag p50 / p99 / max (ms) | first sweep (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, row in r["sizes"].items():
        lag = f"{cell(row['lag_p50_ms'], 2)} / {cell(row['lag_p99_ms'], 2)} / {cell(row['lag_max_ms'], 1)}"
        lines.append(
            f"| {n:,} | {cell(row['rss_per_space'], 0)} | {cell(row['engine_bytes'], 0)} "
            f"| {cell(row['cpu_us_per_poll'])} | {cell(row['polls_per_s'], 0)} | {lag} "
            f"| {cell(row['first_sweep_s'], 2)} |"
        )
    biggest = max(r["sizes"])
    rss = r["sizes"][biggest]["rss_per_space"]
    lines += [
        "",
        f"- resident memory per watched Space at {biggest:,}: **{fmt(sorted(rss)[len(rss) // 2], 0)} bytes** "
        "(target at most 4,096)",
        "",
    ]
    return lines

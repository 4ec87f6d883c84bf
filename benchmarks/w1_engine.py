"""W1, engine cost: a Watcher's CPU per poll next to the client's own read, in one process.

A canned server in a child process answers every ``GET /api/spaces/{id}/runtime`` with
the same JSON (no rate-limit headers, so the client keeps the quota it is given). In one
fresh child process of its own (nothing freed earlier to reuse), for ``N`` Space ids:

* the client's own read: ``concurrency`` tasks calling
  ``SpaceClient.get_space_runtime(id, retry=False)`` over the ids in turn (the same URLs
  the watcher asks for), CPU per read;
* the engine: one ``Watcher`` over the ``N`` Spaces, ``batch=False`` (every Space polled
  on its own), a cadence that asks for more polls than can be sent (every Space is
  always due, so it runs flat out like the read loop), ``concurrency`` polls in flight;
  after the first sweep, process CPU over the steady state divided by the polls made.
  The ratio of the two is the engine's own cost.
* resident memory per watched Space: the process's RSS growth from before the watcher
  existed to after it had observed every Space once, divided by ``N``.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ._common import cell, cpu_seconds, ratio, rss_bytes, serve

NAME = "W1"
TITLE = "W1: engine cost (Watcher CPU per poll vs the client's own read, 10,000 Spaces)"
TOKEN = "hf_bench"
#: Polls per real second the cadence asks for: more than a client can send, so that the
#: watcher, like the client's own read loop, runs flat out (both CPU figures are then
#: per request at full speed, not diluted by an idle event loop's wake-ups).
RATE = 100_000.0
CONCURRENCY = 8


def _child(url: str, n: int, steady: float) -> dict[str, float]:
    return asyncio.run(_measure(url, n, steady))


async def _measure(url: str, n: int, steady: float) -> dict[str, float]:
    from aiospace import Cadence, SpaceClient

    ids = [f"bench/space-{i:05d}" for i in range(n)]
    async with SpaceClient(endpoint=url, token=TOKEN) as client:
        client.budget.configure(10**9, 300)
        # The client's own read, over the same ids.
        await client.get_space_runtime(ids[0])
        reads, stop = 0, False

        async def reader(start: int) -> None:
            nonlocal reads
            i = start
            while not stop:
                await client.get_space_runtime(ids[i % n], retry=False)
                reads += 1
                i += CONCURRENCY

        warm = [asyncio.ensure_future(reader(k)) for k in range(CONCURRENCY)]
        await asyncio.sleep(min(1.0, steady / 4))
        cpu0, reads0, wall0 = cpu_seconds(), reads, time.perf_counter()
        await asyncio.sleep(steady)
        client_cpu, client_reads = cpu_seconds() - cpu0, reads - reads0
        client_rate = client_reads / (time.perf_counter() - wall0)
        stop = True
        await asyncio.gather(*warm)

        # The engine.
        interval = n / RATE
        gc.collect()
        rss0 = rss_bytes()
        seen = 0
        all_seen = asyncio.Event()
        cadence = Cadence(fast=interval, slow=interval, jitter=0.1)
        async with client.watcher(cadence=cadence, batch=False, concurrency=CONCURRENCY, seed=1) as w:
            w.add(*ids)

            async def consume() -> None:
                nonlocal seen
                async for t in w:
                    if t.is_initial:
                        seen += 1
                        if seen == n:
                            all_seen.set()

            consumer = asyncio.ensure_future(consume())
            await all_seen.wait()
            gc.collect()
            rss1 = rss_bytes()
            await asyncio.sleep(interval / 2)
            polls0, cpu0, wall0 = w.stats.requests, cpu_seconds(), time.perf_counter()
            await asyncio.sleep(steady)
            polls = w.stats.requests - polls0
            engine_cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
            consumer.cancel()
    return {
        "client_us": client_cpu / max(1, client_reads) * 1e6,
        "client_per_s": client_rate,
        "engine_us": engine_cpu / max(1, polls) * 1e6,
        "engine_per_s": polls / wall,
        "rss_per_space": (rss1 - rss0) / n,
    }


def run(*, runs: int, quick: bool) -> dict[str, Any]:
    n = 200 if quick else 10_000
    steady = 0.5 if quick else 8.0
    rows: list[dict[str, float]] = []
    for _ in range(runs):
        with (
            serve("canned", {"rate_headers": False}) as srv,
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool,
        ):
            rows.append(pool.submit(_child, srv.url, n, steady).result())
    return {"runs": runs, "n": n, "rate": RATE, **{k: [r[k] for r in rows] for k in rows[0]}}


def report(r: dict[str, Any]) -> list[str]:
    return [
        f"## {TITLE}",
        "",
        f"Canned server in a child process; in one fresh client process, {CONCURRENCY} reads in flight "
        f"over {r['n']:,} Space ids, then one `Watcher` over the same {r['n']:,} Spaces (`batch=False`, "
        f"cadence asking for {r['rate']:g} polls per real second, {CONCURRENCY} polls in "
        f"flight, every Space always due); {r['runs']} runs, median (min-max). CPU is the whole client "
        "process's (user + system).",
        "",
        "| | CPU per request (us) | requests/s |",
        "| --- | --- | --- |",
        f"| client's own read | {cell(r['client_us'])} | {cell(r['client_per_s'], 0)} |",
        f"| Watcher poll | {cell(r['engine_us'])} | {cell(r['engine_per_s'], 0)} |",
        "",
        f"- Watcher poll / client read: **{ratio(r['engine_us'], r['client_us'])}** (target at most 1.3x)",
        f"- resident memory per watched Space at {r['n']:,}: **{cell(r['rss_per_space'], 0)} bytes** "
        "(target at most 2,048)",
        "",
    ]

"""The measured aiospace code of B1 and W1, run in a fresh process of its own per measurement.

``python benchmarks/_probe.py TREE JOB`` imports ``aiospace`` from ``TREE`` (the
directory holding the ``aiospace/`` package: this checkout, or a baseline commit's copy
under ``.bench-baseline/``), runs ``JOB`` (JSON: ``{"kind": "read", ...}`` for B1,
``{"kind": "engine", ...}`` for W1) and prints one JSON line: the figures, the version
and the file ``aiospace`` was imported from. The parent (:mod:`benchmarks._baseline`)
puts ``TREE`` first on ``PYTHONPATH``; the probe refuses to measure an ``aiospace`` found
anywhere else.

So that the same code measures every version, it only uses names that exist in all of
them and survive the package's reorganisation: ``aiospace.SpaceClient(endpoint=...,
token=...)``, ``client.budget.configure(...)``, ``client.get_space_runtime(id,
retry=False)``, ``client.watcher(...)`` (its ``add``, ``stats.requests`` and its
transitions' ``is_initial``) and ``aiospace.Cadence`` (the watcher's cadence has no other
spelling). No private module is imported, nor anything of the :mod:`benchmarks` package:
this file imports only the standard library and ``aiospace``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def cpu_seconds() -> float:
    """This process's user + system CPU time (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    """This process's resident set size now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def gather_calls(concurrency: int, calls: int, one: Any) -> None:
    """``calls`` awaits of ``one()``, spread over ``concurrency`` tasks."""
    per, extra = divmod(calls, concurrency)

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    await asyncio.gather(*(worker(per + (i < extra)) for i in range(concurrency)))


def mark_start() -> None:
    """Where a counted region starts: ``valgrind --tool=callgrind --dump-before=getppid`` dumps
    (and zeroes) the counts at this libc call, which nothing else on the measured path makes."""
    os.getppid()


def mark_end() -> None:
    """Where a counted region ends (``--dump-before=getpgrp``): that dump holds the region alone."""
    os.getpgrp()


async def timed_calls(concurrency: int, polls: int, warmup: int, one: Any) -> tuple[float, float]:
    """(CPU s, wall s) of ``polls`` awaits of ``one()`` after ``warmup``, between the marks."""
    await gather_calls(concurrency, warmup, one)
    mark_start()
    cpu, wall = cpu_seconds(), time.perf_counter()
    await gather_calls(concurrency, polls, one)
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    mark_end()
    return cpu, wall


async def read_cost(
    url: str, repo: str, token: str, polls: int, concurrency: int, warmup: int
) -> tuple[float, float]:
    """B1: (CPU s, wall s) of ``polls`` runtime reads, ``concurrency`` in flight, after ``warmup``."""
    import aiospace

    async with aiospace.SpaceClient(endpoint=url, token=token) as client:

        async def one() -> None:
            await client.get_space_runtime(repo, retry=False)

        return await timed_calls(concurrency, polls, warmup, one)


async def floor_cost(
    url: str, repo: str, token: str, polls: int, concurrency: int, warmup: int
) -> tuple[float, float]:
    """B1's floor: a bare aiohttp GET and ``json.loads`` of the body, as :func:`read_cost` counts."""
    import aiohttp

    target = f"{url}/api/spaces/{repo}/runtime"
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            async with session.get(target, headers=headers) as response:
                json.loads(await response.read())

        return await timed_calls(concurrency, polls, warmup, one)


async def engine_cost(
    url: str, token: str, n: int, steady: float, concurrency: int, rate: float
) -> dict[str, float]:
    """W1: the client's own read over ``n`` ids, then one Watcher over them (:mod:`benchmarks.w1_engine`)."""
    import aiospace

    ids = [f"bench/space-{i:05d}" for i in range(n)]
    async with aiospace.SpaceClient(endpoint=url, token=token) as client:
        client.budget.configure(10**9, 300)
        # The client's own read, over the same ids.
        await client.get_space_runtime(ids[0], retry=False)
        reads, stop = 0, False

        async def reader(start: int) -> None:
            nonlocal reads
            i = start
            while not stop:
                await client.get_space_runtime(ids[i % n], retry=False)
                reads += 1
                i += concurrency

        warm = [asyncio.ensure_future(reader(k)) for k in range(concurrency)]
        await asyncio.sleep(min(1.0, steady / 4))
        mark_start()
        cpu0, reads0, wall0 = cpu_seconds(), reads, time.perf_counter()
        await asyncio.sleep(steady)
        client_cpu, client_reads = cpu_seconds() - cpu0, reads - reads0
        mark_end()
        client_rate = client_reads / (time.perf_counter() - wall0)
        stop = True
        await asyncio.gather(*warm)

        # The engine.
        interval = n / rate
        gc.collect()
        rss0 = rss_bytes()
        seen = 0
        all_seen = asyncio.Event()
        cadence = aiospace.Cadence(fast=interval, slow=interval, jitter=0.1)
        async with client.watcher(cadence=cadence, batch=False, concurrency=concurrency, seed=1) as w:
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
            mark_start()
            polls0, cpu0, wall0 = w.stats.requests, cpu_seconds(), time.perf_counter()
            await asyncio.sleep(steady)
            polls = w.stats.requests - polls0
            engine_cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
            mark_end()
            consumer.cancel()
    return {
        "client_us": client_cpu / max(1, client_reads) * 1e6,
        "client_per_s": client_rate,
        "engine_us": engine_cpu / max(1, polls) * 1e6,
        "engine_per_s": polls / wall,
        "rss_per_space": (rss1 - rss0) / n,
        "client_reads": client_reads,
        "polls": polls,
    }


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in this process (the ``aiospace`` already importable is the one measured)."""
    if job["kind"] in ("read", "floor"):
        cost = read_cost if job["kind"] == "read" else floor_cost
        cpu, wall = asyncio.run(
            cost(job["url"], job["repo"], job["token"], job["polls"], job["concurrency"], job["warmup"])
        )
        return {"cpu": cpu, "wall": wall}
    if job["kind"] == "components":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import _components  # this file's sibling: the standard library, aiohttp and aiospace only

        marks = (mark_start, mark_end)
        return _components.measure(job["url"], job["repo"], job["token"], job["iterations"], marks)
    if job["kind"] == "engine":
        return asyncio.run(
            engine_cost(job["url"], job["token"], job["n"], job["steady"], job["concurrency"], job["rate"])
        )
    raise ValueError(f"unknown job kind {job['kind']!r}")


def main(argv: list[str]) -> int:
    tree, job = Path(argv[0]).resolve(), json.loads(argv[1])
    import aiospace

    where = Path(aiospace.__file__).resolve()
    if where.parent.parent != tree:
        print(f"probe: aiospace imported from {where}, not from {tree}", file=sys.stderr)
        return 2
    out = measure(job)
    out["aiospace"] = {"version": str(getattr(aiospace, "__version__", "?")), "file": str(where)}
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

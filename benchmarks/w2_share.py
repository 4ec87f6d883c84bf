"""W2, a budget share: B3's fleet watched by a Watcher that spends half the quota.

Same world as B3 (200 Spaces of one author, 20 redeployed at random times, quota 1,000
per 300 Hub s), plus ``CRASHES`` unannounced crashes of settled Spaces
(``POST /_emulator/spaces/.../crash``: ``RUNNING -> RUNTIME_ERROR``). One row per way of
watching, each on a fresh emulator with the same seeds:

* ``Watcher(budget_share=0.5)``: spends half the quota in every window;
* ``Watcher()`` (cadence mode, the default): polls by its cadence, at most 80% of the quota.

Figures: 429s; the most requests the emulator served in one of its fixed windows
(``GET /_emulator/stats`` read at every window boundary) and in any sliding 300 Hub s
(from the client's own record of its requests); ready lag (a ground-truth transition to
``RUNNING`` to the watcher's first observation of it) and crash lag (a crash to the
first observation of ``RUNTIME_ERROR``), in Hub seconds.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import defaultdict
from typing import Any

import aiohttp

from . import b3_fleet
from ._common import Emu, cell, emulator, match_lags, percentile, running_transitions

NAME = "W2"
TITLE = "W2: a budget share (B3's fleet, half the quota spent, unannounced crashes)"
AUTHOR, TOKEN = b3_fleet.AUTHOR, b3_fleet.TOKEN
QUOTA, WINDOW = b3_fleet.QUOTA, b3_fleet.WINDOW
CRASHES = 20
#: Rows: the budget share given to the Watcher (None: cadence mode).
CLIENTS: dict[str, float | None] = {"share 0.5": 0.5, "cadence (default)": None}


def crash_events(events: list[dict[str, Any]], crashed: set[str], since: float) -> list[tuple[str, float]]:
    """(space, Hub time) of each ground-truth crash to ``RUNTIME_ERROR`` of the crashed Spaces."""
    return [
        (e["space"], float(e["time"]))
        for e in sorted(events, key=lambda e: e["seq"])
        if e["stage"] == "RUNTIME_ERROR" and e["space"] in crashed and float(e["time"]) >= since
    ]


def sliding_max(times: list[float], width: float) -> int:
    """The most of ``times`` inside any interval of ``width``."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def _run(
    emu: Emu,
    spaces: list[str],
    plan: list[tuple[float, str]],
    crashes: list[tuple[float, str]],
    duration: float,
    share: float | None,
) -> dict[str, Any]:
    from aiospace import SpaceClient, SpaceStage

    ready: dict[str, list[float]] = defaultdict(list)
    broken: dict[str, list[float]] = defaultdict(list)
    sent: list[float] = []
    windows: list[int] = []
    async with (
        aiohttp.ClientSession() as admin,
        SpaceClient(endpoint=emu.url, token=TOKEN, clock=emu.clock) as client,
    ):
        client.subscribe(lambda exchange: sent.append(emu.clock.now()))
        async with client.watcher(quota=QUOTA, window=WINDOW, budget_share=share, seed=1) as w:
            t0 = emu.clock.now()
            w.add(*spaces)

            async def consume() -> None:
                async for t in w:
                    if t.previous is None:
                        continue
                    stage = t.current.stage
                    if stage == SpaceStage.RUNNING and t.previous.stage != SpaceStage.RUNNING:
                        ready[t.repo_id].append(t.observed_at)
                    if stage == SpaceStage.RUNTIME_ERROR and t.previous.stage != SpaceStage.RUNTIME_ERROR:
                        broken[t.repo_id].append(t.observed_at)

            async def crash() -> None:
                for offset, space in crashes:
                    await emu.clock.sleep(t0 + offset - emu.clock.now())
                    await emu.call(admin, "POST", f"/spaces/{space}/crash")

            async def count_windows() -> None:
                before = (await emu.stats(admin))["requests"]
                for k in range(1, int(duration // WINDOW) + 1):
                    await emu.clock.sleep(t0 + k * WINDOW - emu.clock.now())
                    now = (await emu.stats(admin))["requests"]
                    windows.append(now - before)
                    before = now

            consumer = asyncio.ensure_future(consume())
            await asyncio.gather(b3_fleet._drive(emu, admin, t0, plan), crash(), count_windows())
            await emu.clock.sleep(t0 + duration - emu.clock.now())
            end = emu.clock.now()
            consumer.cancel()
            rate = w.budget.rate
        stats = await emu.stats(admin)
        events = await emu.events(admin)
    return {
        "t0": t0,
        "end": end,
        "ready": ready,
        "broken": broken,
        "sent": sent,
        "windows": windows,
        "stats": stats,
        "events": events,
        "rate": rate,
    }


def _measure(client: str, size: dict[str, Any], seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    world = b3_fleet._seed(size["count"], rng, size["builds"], size["starts"])
    spaces = [s["id"] for s in world["spaces"]]
    duration = size["duration"]
    latest = duration - 1.3 * (size["builds"][1] + size["starts"][1])
    plan = b3_fleet._plan(spaces, size["redeploys"], latest, rng)
    redeployed = {s for _, s in plan}
    settled = [s for s in spaces if s not in redeployed]
    crashes = sorted((rng.uniform(30, duration - 60), s) for s in rng.sample(settled, size["crashes"]))
    with emulator(speed=size["speed"], seed=world, quota=QUOTA, window=WINDOW) as emu:
        raw = asyncio.run(_run(emu, spaces, plan, crashes, duration, CLIENTS[client]))
    truth = [(s, t) for s, t in running_transitions(raw["events"]) if t >= raw["t0"]]
    lags, missed = match_lags(truth, raw["ready"], raw["end"])
    ready = lags + [math.inf] * missed
    crash_truth = crash_events(raw["events"], {s for _, s in crashes}, raw["t0"])
    clags, cmissed = match_lags(crash_truth, raw["broken"], raw["end"])
    crash = clags + [math.inf] * cmissed
    share = CLIENTS[client]
    return {
        "sent": raw["stats"]["requests"],
        "limited": raw["stats"]["rate_limited"]["total"],
        "window_max": max(raw["windows"], default=math.nan),
        "sliding_max": sliding_max(raw["sent"], WINDOW),
        "allowed": QUOTA * (share if share is not None else 0.8),
        "ready_median": percentile(ready, 0.5),
        "ready_p95": percentile(ready, 0.95),
        "crash_median": percentile(crash, 0.5),
        "crash_p95": percentile(crash, 0.95),
        "missed": missed + cmissed,
    }


FULL = {**b3_fleet.FULL, "crashes": CRASHES}
QUICK = {**b3_fleet.QUICK, "crashes": 3}


def run(*, runs: int, quick: bool) -> dict[str, Any]:
    size = QUICK if quick else FULL
    out: dict[str, Any] = {"runs": runs, **size}
    for client in CLIENTS:
        results = [_measure(client, size, seed=run) for run in range(runs)]
        out[client] = {k: [r[k] for r in results] for k in results[0]}
    return out


def report(r: dict[str, Any]) -> list[str]:
    lines = [
        f"## {TITLE}",
        "",
        f"{r['count']} Spaces of one author, {r['redeploys']} redeployed and {r['crashes']} settled ones "
        f"crashed at random times, {r['duration']:g} Hub seconds at emulator speed {r['speed']:g}, quota "
        f"{QUOTA:,} per {WINDOW:g} Hub s; {r['runs']} runs (same seeds for every row), median (min-max). "
        "Lags in Hub seconds; a missed transition counts as an infinite lag.",
        "",
        "| Watcher | requests | 429s | most in one fixed window (emulator) | most in any 300 s (client) "
        "| allowed per window | ready lag median / p95 | crash lag median / p95 | missed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in CLIENTS:
        row = r[name]
        lines.append(
            f"| {name} | {cell(row['sent'], 0)} | {cell(row['limited'], 0)} | {cell(row['window_max'], 0)} "
            f"| {cell(row['sliding_max'], 0)} | {cell(row['allowed'], 0)} "
            f"| {cell(row['ready_median'], 2)} / {cell(row['ready_p95'], 2)} "
            f"| {cell(row['crash_median'], 2)} / {cell(row['crash_p95'], 2)} | {cell(row['missed'], 0)} |"
        )
    share = r["share 0.5"]
    lines += [
        "",
        f"- share 0.5: {cell(share['limited'], 0)} 429s (target 0); at most {cell(share['sliding_max'], 0)} "
        f"requests in any 300 s for {cell(share['allowed'], 0)} allowed; ready lag median "
        f"**{cell(share['ready_median'], 2)} s** (target at most 0.5) and p95 "
        f"**{cell(share['ready_p95'], 2)} s** "
        f"(target at most 1); an unannounced crash is noticed after a median of "
        f"**{cell(share['crash_median'], 2)} s**.",
        "",
    ]
    return lines

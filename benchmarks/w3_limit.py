"""W3, the limit: 10,000 Spaces across 100 authors on the free tier, next to the official client.

With ``B`` requests per second of budget and ``A`` authors to list (one page each), no
watcher can notice an unannounced change faster than a median of about ``A / (2B)``
seconds: every author must be listed, one request each, so a full sweep takes ``A / B``
seconds and a change waits half a sweep on average.

The world (emulator in a child process, speed ``SPEED``): ``AUTHORS`` authors of
``PER_AUTHOR`` running Spaces each, plus ``SINGLES`` Spaces of authors whose other Spaces
are not watched (so they are polled one by one). During ``DURATION`` Hub seconds,
``REDEPLOYS`` Spaces get a new commit and rebuild, and ``CRASHES`` settled ones crash
(``RUNTIME_ERROR``) unannounced. The watcher's token has the free tier's quota
(1,000 per 300 Hub s) to itself.

* aiospace: one ``Watcher(budget_share=1.0, cadence=Cadence(fast=2, building=10))``
  over all of them (it spends the whole quota: listings of the authors, the Spaces of
  quiet authors one by one, rebuilding Spaces sooner);
* huggingface_hub, beside it on the same world with a token of its own (same quota):
  ``THREADS`` threads, each calling ``HfApi.get_space_runtime`` over its share of the
  Spaces in turn (a 429 is counted and the thread goes on).

Figures: 429s; crash lag (a crash to the first observation of ``RUNTIME_ERROR``) against
the bound ``A / (2B)`` with ``B`` the watcher's sustained budget; ready lag (a rebuild's
``RUNNING`` to its first observation); Hub seconds.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections import defaultdict
from typing import Any

import aiohttp

from ._common import Emu, cell, emulator, match_lags, percentile, running_transitions
from .w2_share import crash_events

NAME = "W3"
TITLE = "W3: the limit (10,000 Spaces across 100 authors on the free tier)"
QUOTA, WINDOW = 1000, 300.0
THREADS = 32


def _seed(size: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    def space(space_id: str) -> dict[str, Any]:
        return {
            "id": space_id,
            "sdk": "gradio",
            "hardware": "cpu-basic",
            "build_seconds": round(rng.uniform(30, 120), 1),
            "start_seconds": round(rng.uniform(5, 20), 1),
            # One log line per 10 minutes: 10,000 Spaces logging every 5 s would keep the
            # emulator itself busy, and the logs are not what is measured.
            "log_interval": 600,
        }

    spaces = [
        space(f"org{a:03d}/app{i:03d}") for a in range(size["authors"]) for i in range(size["per_author"])
    ]
    singles = [space(f"solo{k:03d}/app{i}") for k in range(size["singles"]) for i in range(3)]
    return {
        "users": {"watcher": "hf_watcher", "official": "hf_official"},
        "spaces": spaces + singles,
    }


async def _aiospace(
    emu: Emu,
    spaces: list[str],
    commits: list[tuple[float, str]],
    crashes: list[tuple[float, str]],
    size: dict[str, Any],
) -> dict[str, Any]:
    from aiospace import Cadence, SpaceClient, SpaceStage

    ready: dict[str, list[float]] = defaultdict(list)
    broken: dict[str, list[float]] = defaultdict(list)
    duration = size["duration"]
    async with (
        aiohttp.ClientSession() as admin,
        SpaceClient(endpoint=emu.url, token="hf_watcher", clock=emu.clock) as client,
    ):
        cadence = Cadence(fast=2.0, building=10.0)
        async with client.watcher(quota=QUOTA, window=WINDOW, budget_share=1.0, cadence=cadence, seed=1) as w:
            t0 = emu.clock.now()
            w.add(*spaces)

            async def consume() -> None:
                async for t in w:
                    if t.previous is None:
                        continue
                    stage, before = t.current.stage, t.previous.stage
                    if stage == SpaceStage.RUNNING and before != SpaceStage.RUNNING:
                        ready[t.repo_id].append(t.observed_at)
                    if stage == SpaceStage.RUNTIME_ERROR and before != SpaceStage.RUNTIME_ERROR:
                        broken[t.repo_id].append(t.observed_at)

            async def act(plan: list[tuple[float, str]], action: str) -> None:
                for offset, space in plan:
                    await emu.clock.sleep(t0 + offset - emu.clock.now())
                    await emu.call(admin, "POST", f"/spaces/{space}/{action}")

            consumer = asyncio.ensure_future(consume())
            hf = asyncio.ensure_future(asyncio.to_thread(_hf, emu, spaces, t0 + duration))
            await asyncio.gather(act(commits, "commit"), act(crashes, "crash"))
            await emu.clock.sleep(t0 + duration - emu.clock.now())
            end = emu.clock.now()
            consumer.cancel()
            official = await hf
            rate, limited, listings = w.budget.rate, w.stats.rate_limited, w.stats.batch_requests
            requests = w.stats.requests
        events = await emu.events(admin)
    return {
        "t0": t0,
        "end": end,
        "ready": ready,
        "broken": broken,
        "events": events,
        "rate": rate,
        "limited": limited,
        "listings": listings,
        "requests": requests,
        "official": official,
    }


def _hf(emu: Emu, spaces: list[str], until: float) -> dict[str, Any]:
    """The official client's threads, each over its share of the Spaces, until Hub time ``until``."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=emu.url, token="hf_official")
    ready: dict[str, list[float]] = defaultdict(list)
    broken: dict[str, list[float]] = defaultdict(list)
    counts = {"requests": 0, "limited": 0, "errors": 0}
    lock = threading.Lock()

    def poller(mine: list[str]) -> None:
        last: dict[str, str] = {}
        while emu.hub_time(time.monotonic()) < until:
            for space in mine:
                if emu.hub_time(time.monotonic()) >= until:
                    return
                try:
                    stage = str(api.get_space_runtime(space).stage)
                except HfHubHTTPError as error:
                    with lock:
                        counts["requests"] += 1
                        limited = getattr(error.response, "status_code", None) == 429
                        counts["limited" if limited else "errors"] += 1
                    if limited:
                        time.sleep(0.05)
                    continue
                now = emu.hub_time(time.monotonic())
                with lock:
                    counts["requests"] += 1
                    before = last.get(space)
                    if before is not None and stage != before:
                        if stage == "RUNNING":
                            ready[space].append(now)
                        elif stage == "RUNTIME_ERROR":
                            broken[space].append(now)
                last[space] = stage

    threads = [
        threading.Thread(target=poller, args=(spaces[k::THREADS],), daemon=True) for k in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"ready": ready, "broken": broken, **counts}


def _measure(size: dict[str, Any], seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    world = _seed(size, rng)
    singles = [f"solo{k:03d}/app0" for k in range(size["singles"])]
    spaces = [s["id"] for s in world["spaces"] if s["id"].startswith("org")] + singles
    duration = size["duration"]
    redeployed = rng.sample(spaces, size["redeploys"])
    commits = sorted((rng.uniform(10, duration - 200), s) for s in redeployed)
    settled = [s for s in spaces if s not in set(redeployed)]
    crashed = rng.sample(settled, size["crashes"])
    crashes = sorted((rng.uniform(60, duration - 120), s) for s in crashed)
    with emulator(speed=size["speed"], seed=world, quota=QUOTA, window=WINDOW) as emu:
        raw = asyncio.run(_aiospace(emu, spaces, commits, crashes, size))
    t0, end = raw["t0"], raw["end"]
    truth = [(s, t) for s, t in running_transitions(raw["events"]) if t >= t0]
    crash_truth = crash_events(raw["events"], set(crashed), t0)
    out: dict[str, float] = {}
    for who, ready, broken in (
        ("aiospace", raw["ready"], raw["broken"]),
        ("official", raw["official"]["ready"], raw["official"]["broken"]),
    ):
        lags, missed = match_lags(truth, ready, end)
        clags, cmissed = match_lags(crash_truth, broken, end)
        ready_all, crash_all = lags + [math.inf] * missed, clags + [math.inf] * cmissed
        out[f"{who}_ready_median"] = percentile(ready_all, 0.5)
        out[f"{who}_crash_median"] = percentile(crash_all, 0.5)
        out[f"{who}_crash_p95"] = percentile(crash_all, 0.95)
        out[f"{who}_missed"] = missed + cmissed
        out[f"{who}_missed_ready"] = missed
        out[f"{who}_missed_crash"] = cmissed
    bound = size["authors"] / (2 * raw["rate"])
    out.update(
        {
            "bound": bound,
            "crash_vs_bound": out["aiospace_crash_median"] / bound,
            "aiospace_limited": raw["limited"],
            "aiospace_requests": raw["requests"],
            "aiospace_listings": raw["listings"],
            "rate": raw["rate"],
            "official_requests": raw["official"]["requests"],
            "official_limited": raw["official"]["limited"],
            "transitions": len(truth) + len(crash_truth),
        }
    )
    return out


FULL = {
    "authors": 100,
    "per_author": 100,
    "singles": 50,
    "redeploys": 100,
    "crashes": 20,
    "duration": 2400.0,
    "speed": 25.0,
}
QUICK = {
    "authors": 5,
    "per_author": 10,
    "singles": 3,
    "redeploys": 3,
    "crashes": 2,
    "duration": 400.0,
    "speed": 100.0,
}


def run(*, runs: int, quick: bool) -> dict[str, Any]:
    size = QUICK if quick else FULL
    results = [_measure(size, seed=run) for run in range(runs)]
    return {"runs": runs, **size, **{k: [r[k] for r in results] for k in results[0]}}


def report(r: dict[str, Any]) -> list[str]:
    total = r["authors"] * r["per_author"] + r["singles"]
    return [
        f"## {TITLE}",
        "",
        f"{r['authors']} authors of {r['per_author']} Spaces plus {r['singles']} Spaces of unwatched "
        f"authors ({total:,} watched), {r['redeploys']} redeployed and {r['crashes']} crashed at random "
        f"times, {r['duration']:g} Hub s at emulator speed {r['speed']:g}; the watcher's token has "
        f"{QUOTA:,} requests per {WINDOW:g} Hub s; {r['runs']} runs, median (min-max). aiospace: "
        "`Watcher(budget_share=1.0, cadence=Cadence(fast=2, building=10))`; huggingface_hub: "
        f"{THREADS} threads over the same Spaces with a token (and quota) of its own.",
        "",
        "| client | requests | 429s | crash lag median / p95 (Hub s) | ready lag median (Hub s) | missed |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| aiospace | {cell(r['aiospace_requests'], 0)} ({cell(r['aiospace_listings'], 0)} listings) "
        f"| {cell(r['aiospace_limited'], 0)} | {cell(r['aiospace_crash_median'], 1)} / "
        f"{cell(r['aiospace_crash_p95'], 1)} | {cell(r['aiospace_ready_median'], 2)} "
        f"| {cell(r['aiospace_missed'], 0)} / {cell(r['transitions'], 0)} |",
        f"| huggingface_hub | {cell(r['official_requests'], 0)} | {cell(r['official_limited'], 0)} "
        f"| {cell(r['official_crash_median'], 1)} / {cell(r['official_crash_p95'], 1)} "
        f"| {cell(r['official_ready_median'], 2)} "
        f"| {cell(r['official_missed'], 0)} / {cell(r['transitions'], 0)} |",
        "",
        f"- the bound A / (2B): A = {r['authors']} authors, B = {cell(r['rate'], 2)} requests/s (the "
        f"watcher's sustained budget) -> **{cell(r['bound'], 1)} Hub s**; aiospace's crash-detection "
        f"median is **{cell(r['crash_vs_bound'], 2)}x** of it (target at most 1.25x).",
        f"- aiospace: {cell(r['aiospace_limited'], 0)} 429s (target 0); ready lag median "
        f"**{cell(r['aiospace_ready_median'], 2)} Hub s** (target at most 2).",
        "",
    ]

"""Fault soak: a fleet of watched Spaces living a random life on a Hub that keeps failing.

For a bounded stretch of Hub time the emulator injects every kind of fault it has
(5xx bursts, 429 storms, latency beyond the client's timeout, connections reset
mid-answer, truncated and malformed JSON, log streams cut mid-event) while a chaos
driver restarts, upgrades, pauses, commits and crashes Spaces at random, and log
followers read run logs with ``follow=True``. Then the faults stop and a quiet
period lets the watcher converge. Checked against the emulator's ground truth:

* every Space's final (stage, hardware, requested) was observed;
* the observed states of each Space are a subsequence of the true ones (no
  invented change), and each transition starts where the previous one ended;
* every followed log line is a line the Space really wrote (no torn events);
* no unhandled exception (loop handler, emulator internal errors), no leaked task,
  connection or session (ResourceWarnings are errors through pyproject).

The suite runs the small size (``AIOSPACE_SOAK=small``, the default: 20 Spaces, a few
seconds). ``nox -s soak`` runs the large one (``AIOSPACE_SOAK=large``: 200 Spaces).
``AIOSPACE_SOAK_REPORT=path`` writes the figures as JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import random
from typing import Any

import aiohttp
import anyio
import attrs
import pytest
from helpers import client_for

from aiospace import Cadence, HubHTTPError, SpaceRuntime, Transition, TransportError
from aiospace.emulator import Emulator, HubError


@attrs.frozen
class SoakSize:
    spaces: int
    authors: int
    speed: float
    chaos: float  # Hub seconds with faults and lifecycle events
    quiet: float  # Hub seconds without either, to converge
    event_every: float  # mean Hub seconds between two lifecycle events
    followers: int  # concurrent follow=True log readers
    quota: int
    window: float
    timeout: float  # the client's per-request timeout, real seconds


SIZES = {
    "small": SoakSize(
        spaces=20, authors=4, speed=100, chaos=400, quiet=150, event_every=2.5, followers=3,
        quota=400, window=60, timeout=0.3,
    ),
    "large": SoakSize(
        spaces=200, authors=10, speed=50, chaos=2400, quiet=300, event_every=1.0, followers=10,
        quota=2000, window=60, timeout=0.6,
    ),
}  # fmt: skip

FLAVORS = ["cpu-basic", "cpu-upgrade", "t4-small", "a10g-small"]
ACTIONS = ["restart", "factory", "hardware", "pause", "commit", "crash"]
WATCH_CADENCE = Cadence(fast=2.0, slow=10.0, jitter=0.1, after_write=20.0, error_max=10.0)
Key = tuple[Any, ...]


def fleet_seed(size: SoakSize) -> dict[str, Any]:
    authors = [f"team{a}" for a in range(size.authors)]
    rng = random.Random(1)
    return {
        "users": {"ops": "hf_ops"},
        "orgs": {a: ["ops"] for a in authors},  # one token may write to every Space
        "spaces": [
            {
                "id": f"{authors[i % size.authors]}/app{i:03d}",
                "sdk": "docker" if i % 3 else "gradio",
                "hardware": rng.choice(FLAVORS),
                "build_seconds": rng.uniform(4, 15),
                "start_seconds": rng.uniform(1, 5),
                "hardware_seconds": rng.uniform(1, 6),
                "factory_seconds": 5,
                "log_interval": 3,
            }
            for i in range(size.spaces)
        ],
    }


def fault_specs(size: SoakSize) -> list[dict[str, Any]]:
    """Every kind of fault, at rates that leave most requests alone."""
    too_slow = size.timeout * size.speed * 2  # Hub seconds: twice the client's timeout
    return [
        {"kind": "error", "route": "*", "status": 503, "rate": 0.06},
        {"kind": "error", "route": "*", "status": 502, "rate": 0.03},
        {"kind": "error", "route": "get_space_runtime", "status": 504, "rate": 0.03},
        {"kind": "error", "route": "*", "status": 503, "retry_after": 2, "rate": 0.02},
        {"kind": "error", "route": "*", "status": 429, "retry_after": 3, "rate": 0.03},
        {"kind": "latency", "route": "*", "latency": too_slow, "jitter": too_slow, "rate": 0.01},
        {"kind": "latency", "route": "*", "latency": 0.5, "jitter": 1.0, "rate": 0.2},
        {"kind": "reset", "route": "*", "rate": 0.04},
        {"kind": "truncate", "route": "*", "rate": 0.04},
        {"kind": "malformed", "route": "*", "rate": 0.04},
        {"kind": "sse_cut", "route": "*", "after_events": 2, "rate": 0.3},
    ]


def truth_keys(hub: Emulator, space: str) -> list[Key]:
    keys: list[Key] = []
    for event in hub.world.events_for(space):
        key = (event.stage, event.hardware, event.requested)
        if not keys or keys[-1] != key:
            keys.append(key)
    return keys


def key_of(runtime: SpaceRuntime) -> Key:
    return (
        runtime.stage.value,
        None if runtime.hardware is None else runtime.hardware.value,
        None if runtime.requested_hardware is None else runtime.requested_hardware.value,
    )


def subsequence_violation(observed: list[Key], truth: list[Key]) -> str | None:
    position = 0
    for key in observed:
        while position < len(truth) and truth[position] != key:
            position += 1
        if position == len(truth):
            return f"{key} observed but not next in the truth"
    return None


def foreign_tasks() -> set[asyncio.Task[Any]]:
    """Tasks that are neither the emulator's request handlers nor its ticker."""
    return {
        t
        for t in asyncio.all_tasks()
        if not t.get_coro().__qualname__.startswith(("RequestHandler", "HubApp._tick"))  # type: ignore[union-attr]
    }


@attrs.define
class SoakReport:
    size: str
    spaces: int
    hub_seconds: float = 0.0
    requests: int = 0
    faults: dict[str, int] = attrs.field(factory=dict)
    rate_limited: int = 0
    by_status: dict[str, int] = attrs.field(factory=dict)
    events: int = 0
    event_errors: int = 0
    transitions: int = 0
    true_transitions: int = 0
    log_lines: int = 0
    log_reconnects_given_up: int = 0
    watch_failures: int = 0
    violations: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


async def run_soak(name: str, *, seed: int = 7) -> SoakReport:
    size = SIZES[name]
    report = SoakReport(size=name, spaces=size.spaces)
    rng = random.Random(seed)
    loop_errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    baseline = foreign_tasks()
    try:
        async with Emulator(
            speed=size.speed, seed=fleet_seed(size), quota=size.quota, window=size.window, rng_seed=seed
        ) as hub:
            spaces = list(hub.world.spaces)
            observed: dict[str, list[Transition]] = {s: [] for s in spaces}
            followed: dict[str, list[str]] = {}
            client = client_for(hub, "ops", timeout=size.timeout, seed=seed)
            client_token = hub.token_for("ops")
            async with client:

                async def chaos() -> None:
                    for spec in fault_specs(size):
                        hub.world.faults.add_spec(spec)
                    start = hub.clock.now()
                    end, storm = start + size.chaos, False
                    # A 429 storm of the limiter itself: a tenth of the quota for two windows.
                    storm_from, storm_to = start + size.chaos / 3, start + size.chaos / 3 + 2 * size.window
                    while hub.clock.now() < end:
                        if (storm_from <= hub.clock.now() < storm_to) != storm:
                            storm = not storm
                            quota = size.quota // 10 if storm else size.quota
                            hub.world.limiter.configure(quota, size.window)
                            if storm:
                                # A neighbour on the same token spends the cut quota at once:
                                # the watcher's budget can't foresee it, so it meets real 429s.
                                await neighbour_spends(hub, client_token, quota)
                        await hub.clock.sleep(rng.expovariate(1 / size.event_every))
                        space, action = rng.choice(spaces), rng.choice(ACTIONS)
                        report.events += 1
                        try:
                            if action == "restart":
                                await client.restart_space(space)
                            elif action == "factory":
                                await client.restart_space(space, factory_reboot=True)
                            elif action == "hardware":
                                await client.request_space_hardware(space, rng.choice(FLAVORS))
                            elif action == "pause":
                                await client.pause_space(space)
                            elif action == "commit":
                                hub.world.commit(space)
                            else:
                                hub.world.crash(space)
                        except (HubHTTPError, TransportError, HubError):
                            report.event_errors += 1  # a write refused or lost in a fault: still the truth
                    hub.world.clear_faults()
                    hub.world.limiter.configure(size.quota, size.window)

                async def follow(space: str, stop: anyio.Event) -> None:
                    lines = followed.setdefault(space, [])
                    while not stop.is_set():
                        try:
                            async for line in client.fetch_space_logs(space, follow=True, max_reconnects=8):
                                lines.append(line)
                                if stop.is_set():
                                    break
                        except (HubHTTPError, TransportError):
                            report.log_reconnects_given_up += 1
                        await hub.clock.sleep(5)  # the stream ended (paused, crashed): look again later

                async with client.watcher(cadence=WATCH_CADENCE, batch_min=3, seed=seed) as watcher:
                    watcher.add(*spaces)
                    stop_followers = anyio.Event()
                    async with anyio.create_task_group() as tg:

                        async def drive() -> None:
                            await chaos()
                            await hub.clock.sleep(size.quiet)
                            stop_followers.set()
                            await hub.clock.sleep(10)  # followers notice at their next line or retry
                            tg.cancel_scope.cancel()

                        tg.start_soon(drive)
                        for space in rng.sample(spaces, size.followers):
                            tg.start_soon(follow, space, stop_followers)
                        async for transition in watcher:
                            observed[transition.repo_id].append(transition)
                    report.watch_failures = watcher.stats.failures
                # Everything has stopped: no connection may still be held.
                connector = (
                    client._transport._session.connector if client._transport._session is not None else None
                )
                held = len(getattr(connector, "_acquired", ()))
                if held:
                    report.violations.append(f"{held} connection(s) still acquired after the soak")
            if client._transport._session is not None:
                report.violations.append("the client's session is still open")

            report.hub_seconds = round(hub.clock.now(), 1)
            stats = hub.world.stats
            report.requests = stats.total
            report.faults = dict(sorted(stats.faults.items()))
            report.rate_limited = sum(stats.rate_limited.values())
            report.by_status = {str(k): v for k, v in sorted(stats.by_status.items()) if k >= 400}
            if stats.by_status.get(500):
                report.violations.append(f"{stats.by_status[500]} internal error(s) of the emulator")
            for space in spaces:
                truth = truth_keys(hub, space)
                report.true_transitions += len(truth)
                seen = observed[space]
                report.transitions += len(seen)
                if not seen:
                    report.violations.append(f"{space}: never observed")
                    continue
                keys = [key_of(t.current) for t in seen]
                problem = subsequence_violation(keys, truth)
                if problem:
                    report.violations.append(f"{space}: {problem}; truth {truth}, observed {keys}")
                if keys[-1] != truth[-1]:
                    report.violations.append(f"{space}: final state {keys[-1]} observed, truth {truth[-1]}")
                for before, after in itertools.pairwise(seen):
                    if after.previous != before.current or not after.changes:
                        report.violations.append(f"{space}: a transition does not follow the previous one")
            for space, lines in followed.items():
                written = {entry.text for entry in hub.world.space(space).run_log}
                report.log_lines += len(set(lines))
                torn = [line for line in lines if line not in written]
                if torn:
                    report.violations.append(f"{space}: {len(torn)} log line(s) never written: {torn[:3]}")
    finally:
        loop.set_exception_handler(previous_handler)
    await asyncio.sleep(0)  # let cancelled tasks finish
    leaked = foreign_tasks() - baseline
    if leaked:
        report.violations.append(f"leaked tasks: {sorted(t.get_coro().__qualname__ for t in leaked)}")  # type: ignore[union-attr]
    for context in loop_errors:
        report.violations.append(f"unhandled: {context.get('message')} {context.get('exception')!r}")
    return report


async def neighbour_spends(hub: Emulator, token: str, requests: int) -> None:
    """Another program with the same token sends ``requests`` requests (10 at a time)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one() -> None:
            try:
                async with session.get(f"{hub.url}/api/whoami-v2") as answer:
                    await answer.read()
            except aiohttp.ClientError:
                pass  # a fault cut it: it was counted all the same

        for start in range(0, requests, 10):
            await asyncio.gather(*(one() for _ in range(min(10, requests - start))))


def soak_size() -> str:
    name = os.environ.get("AIOSPACE_SOAK", "small")
    if name not in SIZES:
        raise pytest.UsageError(f"AIOSPACE_SOAK must be one of {', '.join(SIZES)}, not {name!r}")
    return name


async def test_fault_soak_against_the_ground_truth(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    report = await run_soak(soak_size())
    summary = json.dumps(report.to_json(), indent=2)
    print(summary)
    if path := os.environ.get("AIOSPACE_SOAK_REPORT"):
        await anyio.Path(path).write_text(summary + "\n", encoding="utf-8")
    # No error logged anywhere: the emulator's "unexpected error", aiohttp's "Error handling
    # request", asyncio's "Task exception was never retrieved"...
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors
    assert report.violations == []
    # The soak really soaked: every kind of fault fired, Spaces moved, logs flowed.
    assert set(report.faults) == {"error", "latency", "reset", "truncate", "malformed", "sse_cut"}
    assert report.transitions > report.spaces, "lifecycle events were observed, not just initial states"
    assert report.events > 0 and report.log_lines > 0 and report.watch_failures > 0
    assert report.rate_limited > 0 and report.by_status.get("429", 0) > report.rate_limited

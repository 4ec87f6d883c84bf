"""Idle-GPU bot: pause a GPU Space that stays idle, or that has cost more than a budget.

Event-driven: a :meth:`~aiospace.SpaceClient.watcher` feeds it every transition of an author's
Spaces; it keeps, per Space, when it started running on paid hardware and when it last
changed, prices the running time with the hardware catalogue
(:attr:`~aiospace.models.SpaceHardwareInfo.cost_per_hour_usd`), and pauses the Space when
either limit is crossed. "Idle" here means no transition (no deploy, restart or
hardware change) for ``--idle`` seconds: plug your own traffic metric into
:func:`is_idle` if you have one.

Run it with no setup (an embedded Hub emulator is started when no endpoint or token is given)::

    python examples/idle_gpu_bot.py                        # pauses alice/gpu-app (t4-small)
    python examples/idle_gpu_bot.py --budget 0.02 --idle 86400 --dry-run

Against the Hub::

    HF_TOKEN=hf_... python examples/idle_gpu_bot.py --author my-org --idle 1800 --budget 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager

import anyio
import attrs

from aiospace import SpaceClient, SpaceRuntime, Transition
from aiospace.emulator import Emulator
from aiospace.models import SpaceHardwareInfo


@asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[SpaceClient]:
    """A client for --endpoint/--token (or HF_ENDPOINT/HF_TOKEN), else for an embedded emulator."""
    endpoint = args.endpoint or os.environ.get("HF_ENDPOINT")
    token = args.token or os.environ.get("HF_TOKEN")
    if endpoint or token:
        async with SpaceClient(endpoint=endpoint, token=token) as hub:
            yield hub
        return
    async with Emulator(speed=args.speed) as emulator:
        print(f"(no endpoint or token given: using an embedded Hub emulator at {args.speed:g}x)")
        async with SpaceClient(
            endpoint=emulator.url, token=emulator.token_for(args.author), clock=emulator.clock
        ) as hub:
            yield hub


@attrs.define
class Meter:
    """What the bot knows of one Space."""

    hourly_usd: float = 0.0  # price of the hardware it runs on (0: free or not running)
    running_since: float | None = None  # Hub time it started running on paid hardware
    last_change: float = 0.0  # Hub time of its last transition
    spent_usd: float = 0.0  # cost of its earlier running periods, seen by the bot

    def cost(self, now: float) -> float:
        running = 0.0 if self.running_since is None else now - self.running_since
        return self.spent_usd + running / 3600 * self.hourly_usd


def is_idle(meter: Meter, now: float, idle_after: float) -> bool:
    """No transition for ``idle_after`` seconds (replace with a real traffic metric if you have one)."""
    return now - meter.last_change >= idle_after


def paid_rate(runtime: SpaceRuntime, catalogue: dict[str, SpaceHardwareInfo]) -> float:
    """Dollars per hour of a Space that runs on paid hardware (0 otherwise)."""
    info = catalogue.get(str(runtime.hardware)) if runtime.stage.is_serving else None
    return (info.cost_per_hour_usd or 0.0) if info is not None else 0.0


async def follow(
    watcher: AsyncIterable[Transition], meters: dict[str, Meter], catalogue: dict[str, SpaceHardwareInfo]
) -> None:
    """Keep every Space's meter up to date from its transitions."""
    async for t in watcher:
        if t.removed:  # deleted, or no longer readable: nothing to pause
            meters.pop(t.repo_id, None)
            continue
        meter = meters.setdefault(t.repo_id, Meter())
        meter.spent_usd = meter.cost(t.observed_at)  # close the previous period
        meter.hourly_usd = paid_rate(t.current, catalogue)
        meter.running_since = t.observed_at if meter.hourly_usd > 0 else None
        meter.last_change = t.observed_at
        print(f"{t.observed_at:8.1f}s  {t.repo_id}: {t.current.stage} on {t.current.hardware or '-'}")


async def patrol(
    hub: SpaceClient, args: argparse.Namespace, meters: dict[str, Meter], paused: list[str]
) -> None:
    """Every --check seconds, pause the paid Spaces that are idle or over budget."""
    while True:
        await hub.clock.sleep(args.check)
        now = hub.clock.now()
        for repo_id, meter in meters.items():
            if meter.running_since is None or repo_id in paused:
                continue
            cost = meter.cost(now)
            if cost >= args.budget:
                reason = f"cost ${cost:.3f} reached the ${args.budget:g} budget"
            elif is_idle(meter, now, args.idle):
                reason = f"idle for {now - meter.last_change:.0f}s (${cost:.3f} so far)"
            else:
                continue
            paused.append(repo_id)
            print(f"{now:8.1f}s  {'would pause' if args.dry_run else 'pausing'} {repo_id}: {reason}")
            if not args.dry_run:
                await hub.pause_space(repo_id)


async def run(args: argparse.Namespace) -> int:
    async with connect(args) as hub:
        catalogue = {str(h.name): h for h in await hub.list_spaces_hardware()}
        meters: dict[str, Meter] = {}
        paused: list[str] = []
        with anyio.move_on_after(args.duration / hub.clock.speed):
            async with hub.watcher() as watcher, anyio.create_task_group() as tg:
                watcher.follow(args.author)  # its Spaces now and later; a deleted one leaves
                tg.start_soon(follow, watcher, meters, catalogue)
                tg.start_soon(patrol, hub, args, meters, paused)
        for repo_id in paused:
            print(f"{repo_id} is now {(await hub.get_space_runtime(repo_id)).stage}")
        # A dry run paused nothing: what it would pause is still on paid hardware.
        still = [
            r for r, m in meters.items() if m.running_since is not None and (args.dry_run or r not in paused)
        ]
        done = "would pause" if args.dry_run else "paused"
        print(f"{done}: {', '.join(paused) or 'none'}; still on paid hardware: {', '.join(still) or 'none'}")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--author", default="alice", help="user or organization (default alice)")
    parser.add_argument("--idle", type=float, default=600.0, help="pause after this many idle seconds (600)")
    parser.add_argument("--budget", type=float, default=1.0, help="pause once a Space cost this many USD (1)")
    parser.add_argument("--check", type=float, default=30.0, help="seconds between two patrols (30)")
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds to run (1800)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be paused, pause nothing")
    parser.add_argument("--endpoint", help="the Hub's URL (default: $HF_ENDPOINT)")
    parser.add_argument("--token", help="a Hub token (default: $HF_TOKEN)")
    parser.add_argument("--speed", type=float, default=300.0, help="speed of the embedded emulator")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

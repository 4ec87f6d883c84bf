"""Fleet watcher: every Space of an author, each transition as it comes, for a while.

Run it with no setup (an embedded Hub emulator is started when no endpoint or token is
given; a couple of its Spaces are then restarted and upgraded so there is something to see)::

    python examples/fleet_watcher.py                          # alice's Spaces, 5 Hub minutes
    python examples/fleet_watcher.py --author bob --json | jq .stage

Against the Hub::

    HF_TOKEN=hf_... python examples/fleet_watcher.py --author my-org --duration 3600

One :meth:`~aiospace.SpaceClient.watcher` polls every Space on one rate budget (fast while a Space
changes, slower while it is quiet) and yields only real changes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from aiospace import SpaceClient, Transition
from aiospace.emulator import Emulator


@asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[tuple[SpaceClient, Emulator | None]]:
    """A client for --endpoint/--token (or HF_ENDPOINT/HF_TOKEN), else for an embedded emulator."""
    endpoint = args.endpoint or os.environ.get("HF_ENDPOINT")
    token = args.token or os.environ.get("HF_TOKEN")
    if endpoint or token:
        async with SpaceClient(endpoint=endpoint, token=token) as hub:
            yield hub, None
        return
    async with Emulator(speed=args.speed) as emulator:
        print(
            f"(no endpoint or token given: using an embedded Hub emulator at {args.speed:g}x)",
            file=sys.stderr,
        )
        token = emulator.token_for(args.author) if args.author in emulator.world.users.values() else None
        async with SpaceClient(endpoint=emulator.url, token=token or False, clock=emulator.clock) as hub:
            yield hub, emulator


def counted(n: int, noun: str) -> str:
    """``1 Space``, ``3 Spaces``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def describe(t: Transition) -> str:
    cur = t.current
    if t.removed:  # deleted, or no longer readable: its last event
        return f"{t.observed_at:8.1f}s  {t.repo_id:<28} removed ({t.reason})"
    if t.previous is None:
        what = f"is {cur.stage}"
    elif t.previous.stage != cur.stage:
        what = f"{t.previous.stage} -> {cur.stage}"
    else:
        what = f"still {cur.stage}"
    hardware = f"on {cur.hardware or '-'}"
    if cur.requested_hardware and cur.requested_hardware != cur.hardware:
        hardware += f" (requested {cur.requested_hardware})"
    return f"{t.observed_at:8.1f}s  {t.repo_id:<28} {what} {hardware}{'  [converged]' if t.converged else ''}"


async def stir(hub: SpaceClient, spaces: list[str]) -> None:
    """Embedded emulator only: restart one Space and upgrade another, so the fleet moves."""
    await hub.clock.sleep(10)
    if spaces:
        await hub.restart_space(spaces[0])
    if len(spaces) > 1:
        await hub.clock.sleep(20)
        await hub.request_space_hardware(spaces[1], "t4-medium")


async def watch_fleet(args: argparse.Namespace) -> int:
    async with connect(args) as (hub, emulator):
        infos = [info async for info in hub.list_spaces(author=args.author, expand=["runtime"])]
        # Static Spaces never change: leave them out.
        spaces = [i.id for i in infos if i.runtime is None or i.runtime.requested_hardware is not None]
        if not spaces:
            print(f"{args.author} has no Spaces to watch", file=sys.stderr)
            return 1
        print(
            f"watching {counted(len(spaces), 'Space')} of {args.author} for {args.duration:g} Hub seconds",
            file=sys.stderr,
        )
        count = 0
        async with anyio.create_task_group() as tg:
            if emulator is not None and hub.has_token:
                tg.start_soon(stir, hub, spaces)
            with anyio.move_on_after(args.duration / hub.clock.speed):
                async with hub.watcher() as watcher:
                    watcher.add(*spaces)
                    async for transition in watcher:
                        count += 1
                        if args.json:
                            print(json.dumps(transition.to_json()), flush=True)
                        else:
                            print(describe(transition), flush=True)
            tg.cancel_scope.cancel()
        print(f"{counted(count, 'transition')}, {counted(hub.stats.requests, 'request')}", file=sys.stderr)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--author", default="alice", help="user or organization (default alice)")
    parser.add_argument("--duration", type=float, default=300.0, help="Hub seconds to watch (default 300)")
    parser.add_argument("--json", action="store_true", help="one JSON object per transition")
    parser.add_argument("--endpoint", help="the Hub's URL (default: $HF_ENDPOINT)")
    parser.add_argument("--token", help="a Hub token (default: $HF_TOKEN)")
    parser.add_argument("--speed", type=float, default=50.0, help="speed of the embedded emulator")
    return asyncio.run(watch_fleet(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

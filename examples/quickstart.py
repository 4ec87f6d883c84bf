"""Quickstart: restart a Space and wait for it, watch it move to a GPU, then watch many Spaces.

Run it with no setup (with neither ``HF_ENDPOINT`` nor ``HF_TOKEN``, an embedded Hub
emulator is started and ``alice/demo`` of its demo world is used)::

    python examples/quickstart.py

Against a Hub emulator running 10 times faster than real time (``aiospace emulator
--speed 10`` in another shell), or against the Hub with a Space of yours::

    HF_ENDPOINT=http://127.0.0.1:7860 HF_TOKEN=hf_alice python examples/quickstart.py --hub-speed 10
    HF_TOKEN=hf_... python examples/quickstart.py me/my-space

docs/getting-started.md shows the two functions at the heart of it (a test keeps the two in sync).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from aiospace import ScaledClock, SpaceClient, SpaceFailedError, WaitTimeoutError
from aiospace.emulator import Emulator


async def quickstart(hub: SpaceClient, space: str) -> None:
    await hub.restart_space(space)
    try:
        runtime = await hub.wait_for_space(space, timeout=600)  # in Hub seconds
    except SpaceFailedError as failure:  # BUILD_ERROR, RUNTIME_ERROR...
        print(failure.runtime.stage, *failure.log_lines, sep="\n")
        raise
    except WaitTimeoutError as timeout:
        print("still", timeout.runtime.stage if timeout.runtime else "unknown")
        raise
    print(f"{space} is up: {runtime.stage} on {runtime.hardware}")

    # Every change of a Space as it happens (the first event is its current state),
    # here until it has settled on the GPU it is moved to (or failed):
    await hub.request_space_hardware(space, "t4-small")
    async for t in hub.watch(space):
        changes = ", ".join(sorted(change.value for change in t.changes))
        print(f"  {t.current.stage} on {t.current.hardware} ({changes})")
        if t.current.is_settled:  # not building or starting, hardware converged
            break

    # Many Spaces, one scheduler, one rate budget: here, the state of each of the
    # author's Spaces (the first event of each), then it stops.
    spaces = [info.id async for info in hub.list_spaces(author=space.split("/")[0])]
    async with hub.watcher(quota=1000, window=300) as watcher:
        watcher.add(*spaces)
        seen: set[str] = set()
        async for t in watcher:
            print(f"  {t.repo_id}: {t.current.stage}")
            seen.add(t.repo_id)
            if seen == set(spaces):
                break


async def run(space: str, *, hub_speed: float = 1.0, emulator_speed: float = 50.0) -> None:
    if os.environ.get("HF_ENDPOINT") or os.environ.get("HF_TOKEN"):  # the Hub, or `aiospace emulator`
        # The token comes from HF_TOKEN (or $HF_HOME/token). For an emulator running N
        # times faster than real time, clock=ScaledClock(N) makes the client's polls and
        # timeouts count in its (Hub) seconds.
        async with SpaceClient(clock=ScaledClock(hub_speed)) as hub:
            await quickstart(hub, space)
        return
    async with Emulator(speed=emulator_speed) as emulator:  # no endpoint: a local Hub
        print(f"(no HF_ENDPOINT: an embedded Hub emulator, {emulator_speed:g}x real time)")
        token = emulator.token_for(space.split("/")[0])
        async with SpaceClient(endpoint=emulator.url, token=token, clock=emulator.clock) as hub:
            await quickstart(hub, space)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("space", nargs="?", default="alice/demo", help="namespace/name (default alice/demo)")
    parser.add_argument("--hub-speed", type=float, default=1.0, help="the speed of the Hub at HF_ENDPOINT")
    parser.add_argument("--speed", type=float, default=50.0, help="the speed of the embedded emulator")
    args = parser.parse_args(argv)
    try:
        asyncio.run(run(args.space, hub_speed=args.hub_speed, emulator_speed=args.speed))
    except (SpaceFailedError, WaitTimeoutError):
        return 1  # what went wrong is printed
    except KeyError as unknown:  # the embedded emulator's demo world has no such user
        print(
            f"the embedded emulator has no user {unknown} (try alice/demo); for the Hub, set HF_TOKEN",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

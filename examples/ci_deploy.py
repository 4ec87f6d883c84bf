"""CI deployment waiter: restart a Space, wait until it runs, fail the job with its logs.

Run it with no setup (an embedded Hub emulator is started when no endpoint or token is given)::

    python examples/ci_deploy.py alice/demo                  # exit 0: the Space is up
    python examples/ci_deploy.py alice/demo --break-build    # exit 1: BUILD_ERROR and its log tail

Against the Hub, in a CI job::

    HF_TOKEN=${{ secrets.HF_TOKEN }} python examples/ci_deploy.py me/my-space --timeout 900

Exit codes: 0 running, 1 the Space failed, 3 timed out, 4 no access, 5 other Hub error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiospace import (
    AiospaceError,
    AuthenticationError,
    PermissionDeniedError,
    SpaceClient,
    SpaceFailedError,
    SpaceNotFoundError,
    WaitTimeoutError,
)
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
        owner = args.space.split("/")[0]
        print(f"(no endpoint or token given: using an embedded Hub emulator at {args.speed:g}x)")
        async with SpaceClient(
            endpoint=emulator.url, token=emulator.token_for(owner), clock=emulator.clock
        ) as hub:
            yield hub, emulator


def annotate(message: str) -> None:
    """An error line; on GitHub Actions, also an annotation on the job."""
    print(message, file=sys.stderr)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::error title=Space deployment failed::{message}")


async def deploy(args: argparse.Namespace) -> int:
    async with connect(args) as (hub, emulator):
        if args.break_build:
            if emulator is None:
                raise SystemExit("--break-build only works on the embedded emulator")
            emulator.world.configure(args.space, fail_build=True)
        try:
            if args.hardware:
                await hub.request_space_hardware(args.space, args.hardware)  # this also rebuilds
            else:
                await hub.restart_space(args.space, factory_reboot=args.factory)
            print(f"{args.space}: rebuilding, waiting up to {args.timeout:g}s...")
            runtime = await hub.wait_for_space(
                args.space, hardware=args.hardware, timeout=args.timeout, log_lines=args.log_lines
            )
        except SpaceFailedError as failure:
            annotate(f"{args.space} failed: {failure.runtime.stage}")
            print(f"--- last {len(failure.log_lines)} log lines ---", file=sys.stderr)
            for line in failure.log_lines:
                print(line.rstrip(), file=sys.stderr)
            return 1
        except WaitTimeoutError as timeout:
            stage = timeout.runtime.stage if timeout.runtime else "unknown"
            annotate(f"{args.space} still {stage} after {args.timeout:g}s")
            return 3
        except (SpaceNotFoundError, AuthenticationError, PermissionDeniedError) as denied:
            annotate(f"no access to {args.space}: {denied.message}")
            return 4
        except AiospaceError as error:
            annotate(f"{args.space}: {error}")
            return 5
        print(f"{args.space} is {runtime.stage} on {runtime.hardware} ({hub.stats.requests} requests)")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("space", nargs="?", default="alice/demo", help="namespace/name (default alice/demo)")
    parser.add_argument("--hardware", help="move the Space to this flavor (instead of a restart)")
    parser.add_argument("--factory", action="store_true", help="rebuild without cache")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default 900)")
    parser.add_argument("--log-lines", type=int, default=30, help="log lines to show on failure")
    parser.add_argument("--endpoint", help="the Hub's URL (default: $HF_ENDPOINT)")
    parser.add_argument("--token", help="a Hub token (default: $HF_TOKEN)")
    parser.add_argument("--speed", type=float, default=20.0, help="speed of the embedded emulator")
    parser.add_argument(
        "--break-build", action="store_true", help="embedded emulator only: make the build fail"
    )
    return asyncio.run(deploy(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

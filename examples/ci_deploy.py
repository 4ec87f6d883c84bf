"""CI deploy: push, then wait until the Space serves *that* commit; fail the job with its logs.

Right after a push the Hub still shows the old container RUNNING for a few seconds: a
plain "wait until RUNNING" would pass for code that never ran. ``wait_for_space(
revision=sha)`` returns only once the pushed commit's build ran.

Run it with no setup (an embedded Hub emulator is started when no endpoint or token is
given; the push is a commit through the emulator's admin route)::

    python examples/ci_deploy.py alice/demo                  # exit 0: the new commit serves
    python examples/ci_deploy.py alice/demo --break-build    # exit 1: BUILD_ERROR and its log tail

Against the Hub, in a CI job (push a folder with huggingface_hub, or name a commit you
pushed yourself, e.g. with ``git push``)::

    HF_TOKEN=${{ secrets.HF_TOKEN }} python examples/ci_deploy.py me/my-space --folder ./app
    HF_TOKEN=${{ secrets.HF_TOKEN }} python examples/ci_deploy.py me/my-space --revision $(git rev-parse HEAD)

Exit codes: 0 the commit serves; 1 the Space failed, stalled, won't start on its own, or
a newer push superseded the commit; 3 timed out; 4 no access; 5 other Hub error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from aiospace import (
    AiospaceError,
    AuthenticationError,
    PermissionDeniedError,
    RevisionSupersededError,
    SpaceClient,
    SpaceFailedError,
    SpaceNotFoundError,
    SpaceNotStartingError,
    SpaceStalledError,
    Transition,
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


async def push(args: argparse.Namespace, hub: SpaceClient, emulator: Emulator | None) -> str:
    """Push the new code; return the commit's sha (what ``CommitInfo.oid`` is after an upload)."""
    if args.revision:
        return str(args.revision)  # pushed by someone else (git push, another job)
    if emulator is not None:
        # The emulator's stand-in for a push: a commit through its admin route, answering the new head.
        url = f"{emulator.url}/_emulator/spaces/{args.space}/commit"
        async with aiohttp.ClientSession() as http, http.post(url, headers=emulator.admin_headers) as answer:
            answer.raise_for_status()
            return str((await answer.json())["sha"])
    if not args.folder:
        raise SystemExit("against the Hub, give --folder DIR to push, or --revision SHA you pushed")
    from huggingface_hub import HfApi  # the official client does the upload

    api = HfApi(endpoint=hub.endpoint, token=args.token or os.environ.get("HF_TOKEN"))
    info = await asyncio.to_thread(
        api.upload_folder, repo_id=args.space, repo_type="space", folder_path=args.folder
    )
    return str(info.oid)


def annotate(message: str) -> None:
    """An error line; on GitHub Actions, also an annotation on the job."""
    print(message, file=sys.stderr)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::error title=Space deployment failed::{message}")


def print_tail(lines: list[str]) -> None:
    print(f"--- last {len(lines)} log lines ---", file=sys.stderr)
    for line in lines:
        print(line.rstrip(), file=sys.stderr)


def progress(transition: Transition) -> None:
    """What the wait saw and did, one line each."""
    changes = ", ".join(sorted(c.value for c in transition.changes))
    print(f"  {transition.current.stage} ({changes})", flush=True)


async def deploy(args: argparse.Namespace) -> int:
    async with connect(args) as (hub, emulator):
        if args.break_build:
            if emulator is None:
                raise SystemExit("--break-build only works on the embedded emulator")
            emulator.world.configure(args.space, fail_build=True)
        try:
            before = await hub.space_info(args.space, expand=["sha"])  # 404/401/403 before pushing
            sha = await push(args, hub, emulator)
            if args.hardware:
                await hub.request_space_hardware(args.space, args.hardware)
            was = str(before.sha)[:12]
            print(f"{args.space}: pushed {sha[:12]} (was {was}), waiting up to {args.timeout:g}s")
            runtime = await hub.wait_for_space(
                args.space,
                revision=sha,
                hardware=args.hardware,
                timeout=args.timeout,
                log_lines=args.log_lines,
                stall_after=args.stall_after,
                on_stall="factory_reboot" if args.factory_reboot_on_stall else "raise",
                retry_capacity=args.retry_capacity,
                fallback_hardware=args.fallback_hardware or (),
                on_transition=progress,
            )
        except SpaceStalledError as stall:
            annotate(f"{args.space} stalled in {stall.runtime.stage} for {stall.stalled_for:.0f}s")
            print_tail(stall.log_lines)
            return 1
        except SpaceFailedError as failure:
            why = f" ({failure.runtime.error_message})" if failure.runtime.error_message else ""
            annotate(f"{args.space} failed: {failure.runtime.stage}{why}")
            print_tail(failure.log_lines)
            return 1
        except RevisionSupersededError as superseded:
            annotate(f"{args.space}: {superseded.revision[:12]} was superseded by {superseded.head[:12]}")
            return 1
        except SpaceNotStartingError as idle:
            annotate(f"{args.space} is {idle.runtime.stage}: {idle.hint}")
            return 1
        except WaitTimeoutError as timeout:
            stage = timeout.runtime.stage if timeout.runtime else "unknown"
            why = f": {timeout.reason}" if timeout.reason else ""
            annotate(f"{args.space} still {stage} after {timeout.timeout:g}s{why}")
            return 3
        except (SpaceNotFoundError, AuthenticationError, PermissionDeniedError) as denied:
            annotate(f"no access to {args.space}: {denied.message}")
            return 4
        except AiospaceError as error:
            annotate(f"{args.space}: {error}")
            return 5
        print(f"{args.space} serves {sha[:12]}: {runtime.stage} on {runtime.hardware}")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("space", nargs="?", default="alice/demo", help="namespace/name (default alice/demo)")
    parser.add_argument("--folder", help="push this folder (huggingface_hub's upload_folder)")
    parser.add_argument("--revision", help="wait for this commit (full sha) instead of pushing")
    parser.add_argument("--hardware", help="also move the Space to this flavor")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default 900)")
    parser.add_argument("--log-lines", type=int, default=30, help="log lines to show on failure")
    parser.add_argument("--stall-after", type=float, help="fail if a build or start lasts longer (seconds)")
    parser.add_argument(
        "--factory-reboot-on-stall", action="store_true", help="on a stall, rebuild once without cache"
    )
    parser.add_argument("--retry-capacity", type=int, default=0, help="restarts after a capacity failure")
    parser.add_argument("--fallback-hardware", action="append", help="flavors those restarts move to")
    parser.add_argument("--endpoint", help="the Hub's URL (default: $HF_ENDPOINT)")
    parser.add_argument("--token", help="a Hub token (default: $HF_TOKEN)")
    parser.add_argument("--speed", type=float, default=20.0, help="speed of the embedded emulator")
    parser.add_argument(
        "--break-build", action="store_true", help="embedded emulator only: make the build fail"
    )
    return asyncio.run(deploy(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

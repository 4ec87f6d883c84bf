"""GPU job: move a Space to a GPU for a job, and bring it back down whatever happens.

``SpaceClient.lease`` remembers the Space's flavor and sleep time, requests the GPU,
waits until the Space runs on it, and on any exit (the job's end, its exception, a
cancellation, Ctrl-C) requests the old flavor again and checks that the Hub took it.
If the release can't be confirmed, ``LeaseReleaseError`` says so: a GPU is never left
on silently.

Run it with no setup (an embedded Hub emulator is started when no endpoint or token is given)::

    python examples/gpu_job.py                        # alice/demo: cpu-basic -> t4-small -> cpu-basic
    python examples/gpu_job.py --fail                 # the job raises: the Space is brought back anyway
    python examples/gpu_job.py --jobs 3               # three jobs queue up for one Space
    python examples/gpu_job.py --release pause        # pause the Space after the job

Against the Hub::

    HF_TOKEN=hf_... python examples/gpu_job.py me/my-space --hardware a10g-small --job-seconds 600

Exit codes: 0 every job ran and the Space was released; 1 a job failed (the Space was
released); 2 a release failed (the Space may still run on the GPU: look at it!);
3 the GPU could not be had (the Space failed, or the timeout passed); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from aiospace import LeaseReleaseError, SpaceClient, SpaceFailedError, SpaceRuntime, WaitTimeoutError
from aiospace.emulator import Emulator


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
            endpoint=emulator.url, token=emulator.token_for(args.space.split("/")[0]), clock=emulator.clock
        ) as hub:
            yield hub


def app_url(runtime: SpaceRuntime) -> str:
    """The Space's app URL, from the domains its runtime reports (a ready one first)."""
    domains = sorted((d for d in runtime.domains if d.domain), key=lambda d: d.stage not in (None, "READY"))
    return f"https://{domains[0].domain}" if domains else "(no domain reported)"


class JobFailed(Exception):
    """The work itself went wrong (``--fail``)."""


async def job(hub: SpaceClient, args: argparse.Namespace, number: int) -> None:
    """One job: lease the GPU, work on it for --job-seconds, let the lease release it."""
    print(f"job {number}: asking for {args.hardware} on {args.space}")
    async with hub.lease(
        args.space, args.hardware, sleep_time=args.sleep_time, release=args.release, timeout=args.timeout
    ) as runtime:
        print(f"job {number}: running on {runtime.hardware} at {app_url(runtime)}")
        # Your work goes here: call the app, run a batch, fine-tune... (here: wait)
        await hub.clock.sleep(args.job_seconds / 2)
        if args.fail:
            raise JobFailed(f"job {number} failed half-way")
        await hub.clock.sleep(args.job_seconds / 2)
        print(f"job {number}: done")


async def run(args: argparse.Namespace) -> int:
    async with connect(args) as hub:
        before = await hub.get_space_runtime(args.space)
        hardware, requested = before.hardware or "-", before.requested_hardware
        print(f"{args.space} is {before.stage} on {hardware}, requested {requested}")
        outcomes: list[Exception] = []

        async def one(number: int) -> None:
            # A failed job must not cancel the others (they wait for the Space in turn).
            try:
                await job(hub, args, number)
            except (JobFailed, LeaseReleaseError, SpaceFailedError, WaitTimeoutError) as error:
                outcomes.append(error)

        async with anyio.create_task_group() as tg:
            for number in range(1, args.jobs + 1):
                tg.start_soon(one, number)
        after = await hub.get_space_runtime(args.space)
        print(f"{args.space} is now {after.stage}, requested {after.requested_hardware}")
        for error in outcomes:
            if isinstance(error, LeaseReleaseError):
                print(f"RELEASE FAILED: {error}", file=sys.stderr)
            elif isinstance(error, JobFailed):
                print(f"{error} (the Space was released all the same)", file=sys.stderr)
            else:
                print(f"could not get {args.hardware}: {error}", file=sys.stderr)
        for kind, code in ((LeaseReleaseError, 2), ((SpaceFailedError, WaitTimeoutError), 3), (JobFailed, 1)):
            if any(isinstance(error, kind) for error in outcomes):
                return code
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("space", nargs="?", default="alice/demo", help="the Space (default alice/demo)")
    parser.add_argument("--hardware", default="t4-small", help="the flavor to lease (t4-small)")
    parser.add_argument("--sleep-time", type=int, help="sleep time to request with it (seconds)")
    parser.add_argument("--release", default="restore", help="restore (default), pause, or a flavor")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to get the GPU (900)")
    parser.add_argument("--job-seconds", type=float, default=120.0, help="how long a job works (120)")
    parser.add_argument("--jobs", type=int, default=1, help="jobs run at once on the Space (1)")
    parser.add_argument("--fail", action="store_true", help="make each job fail half-way")
    parser.add_argument("--endpoint", help="the Hub's URL (default: $HF_ENDPOINT)")
    parser.add_argument("--token", help="a Hub token (default: $HF_TOKEN)")
    parser.add_argument("--speed", type=float, default=100.0, help="speed of the embedded emulator")
    args = parser.parse_args(argv)
    # The lease logs what it does (asking, acquired, released) on the "aiospace.lease" logger.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  [lease] %(message)s"))
    lease_log = logging.getLogger("aiospace.lease")
    lease_log.addHandler(handler)
    lease_log.setLevel(logging.INFO)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        print("interrupted: the lease was released on the way out", file=sys.stderr)
        return 130
    finally:
        lease_log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())

"""``aiospace logs``: print a Space's run or build log, or its last lines, and follow it."""

from __future__ import annotations

import argparse
from collections import deque

from ..._http.logs import HubSince
from ...client import SpaceClient
from ..command import HubCommand
from ..options import count, space_argument
from ..render.answers import format_duration
from ..render.streams import print_error
from ..util import EXIT_OK, parse_duration

__all__ = ["LOGS"]


async def cmd_logs(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Print a Space's run log (or build log); -n: only its last lines; -f keeps following it."""
    logged = 0  # lines in the log, shown or not
    # Back from the Hub's now (its answer's Date: this machine's clock may be off); one cutoff
    # for both reads of -n with -f, so that they skip the same lines.
    since = None if args.since is None else HubSince(seconds=args.since)
    if args.lines is None:
        async for line in hub.fetch_space_logs(args.space, build=args.build, follow=args.follow, since=since):
            print(line, flush=True)
            logged += 1
    else:
        tail: deque[str] = deque(maxlen=args.lines)
        async for line in hub.fetch_space_logs(args.space, build=args.build, since=since):
            tail.append(line)
            logged += 1
        for line in tail:
            print(line, flush=True)
        if args.follow:
            replayed = logged  # the stream starts over from the log's first line: skip those read
            async for line in hub.fetch_space_logs(args.space, build=args.build, follow=True, since=since):
                if replayed:
                    replayed -= 1
                    continue
                print(line, flush=True)
                logged += 1
    if not logged:
        info = await hub.space_info(args.space)
        which = "build" if args.build else "run"
        why = "it is a static Space: it has no logs" if info.sdk == "static" else f"its {which} log is empty"
        if since is not None and info.sdk != "static":
            why = f"no line of its {which} log in the last {format_duration(args.since)}"
        print_error(args.command, f"{args.space}: nothing to show, {why}")
    return EXIT_OK


def _arguments(p: argparse.ArgumentParser) -> None:
    """SPACE, which log, how much of it, and whether to follow it."""
    space_argument(p)
    p.add_argument("--build", action="store_true", help="the build log (default: the run log)")
    p.add_argument(
        "-f", "--follow", action="store_true", help="keep following until the stream ends or Ctrl-C"
    )
    p.add_argument(
        "-n",
        "--tail",
        "--lines",  # the name before hf's (`hf spaces logs -n/--tail`); kept
        dest="lines",
        type=count,
        metavar="N",
        help="only the last N lines (with -f: then follow)",
    )
    p.add_argument(
        "--since",
        type=parse_duration,
        metavar="DURATION",
        help="only the lines stamped within this long back (Hub time), e.g. 10m",
    )


LOGS = HubCommand(
    name="logs",
    help="print a Space's logs",
    example="aiospace logs me/my-space --build -f",
    run=cmd_logs,
    arguments=_arguments,
)

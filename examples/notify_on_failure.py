"""Notify on failure: watch an author's Spaces and tell someone when one breaks.

A :meth:`~aiospace.SpaceClient.watcher` follows every Space of ``--author`` (created later
too; a deleted one leaves with a ``removed`` event); :class:`~aiospace.Dispatcher` hands the
transitions that land in an error stage (a :class:`~aiospace.TransitionFilter`), and the
removals, to an async callback, a few at a time. The callback reads the tail of the Space's
log and prints the alert with the Hub's error message, and with ``--webhook URL`` also POSTs
the event there (its JSON, or ``--format slack|discord`` for a chat's incoming webhook;
signed when ``AIOSPACE_WEBHOOK_SECRET`` is set; retried on 5xx; the URL's query string,
where webhook secrets live, is never printed). A notification that fails is logged and
counted: it never stops the watch.

Run it with no setup (an embedded Hub emulator is started when no endpoint or token is
given; one Space's build is then broken and another crashes, so there is something to see)::

    python examples/notify_on_failure.py
    python examples/notify_on_failure.py --webhook http://127.0.0.1:8000/hook

Against the Hub::

    HF_TOKEN=hf_... python examples/notify_on_failure.py --author my-org --duration 86400 \\
        --webhook "https://hooks.example.com/aiospace?key=..."
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio

from aiospace import Dispatcher, SpaceClient, Transition, TransitionFilter, WebhookPoster
from aiospace.emulator import Emulator
from aiospace.engine.wait import log_tail

ERRORS = ["BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE"]


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
        print(f"(no endpoint or token given: using an embedded Hub emulator at {args.speed:g}x)")
        async with SpaceClient(
            endpoint=emulator.url, token=emulator.token_for(args.author), clock=emulator.clock
        ) as hub:
            yield hub, emulator


async def break_things(hub: SpaceClient, emulator: Emulator) -> None:
    """On the emulator: a commit that doesn't build, then a crash (something to be told about)."""
    await hub.clock.sleep(10)
    emulator.world.configure("alice/demo", fail_build=True)
    emulator.world.commit("alice/demo")
    await hub.clock.sleep(20)
    emulator.world.crash("alice/gpu-app")


async def run(args: argparse.Namespace) -> int:
    async with connect(args) as (hub, emulator), AsyncExitStack() as stack:
        poster = None
        if args.webhook:
            secret = os.environ.get("AIOSPACE_WEBHOOK_SECRET") or None  # signs each delivery
            poster = await stack.enter_async_context(
                WebhookPoster(args.webhook, post_format=args.format, secret=secret)
            )
            print(f"failures are also posted to {poster.target}")

        async def alert(t: Transition) -> None:
            """Print the failure with its log tail; post it to the webhook if there is one."""
            if t.removed:
                print(f"ALERT {t.repo_id} was removed ({t.reason})")
            else:
                lines = await log_tail(hub, t.repo_id, t.current, args.log_lines)
                print(
                    f"ALERT {t.repo_id} is {t.current.stage} (was {t.previous.stage if t.previous else '-'})"
                )
                if t.current.error_message:
                    print(f"    why: {t.current.error_message}")
                for line in lines:
                    print(f"    | {line.rstrip()}")
            if poster is not None:
                await poster(t)

        print(f"following {args.author}'s Spaces for {', '.join(ERRORS)} and removals", file=sys.stderr)
        failed = TransitionFilter.parse(stages=ERRORS)
        dispatcher = Dispatcher(alert, concurrency=4, timeout=60, accept=lambda t: t.removed or failed(t))
        # The watch stops at --duration, but the alerts under way are still delivered: the
        # transitions go through a stream that is closed at the deadline, and the dispatcher
        # ends once it has delivered what it read.
        send, receive = anyio.create_memory_object_stream[Transition](100)

        async def deliver() -> None:
            async with receive:
                await dispatcher.run(receive)

        async with hub.watcher() as watcher, anyio.create_task_group() as tg:
            watcher.follow(args.author)
            tg.start_soon(deliver)
            if emulator is not None:
                tg.start_soon(break_things, hub, emulator)
            async with send:
                with anyio.move_on_after(args.duration / hub.clock.speed):
                    async for transition in watcher:
                        await send.send(transition)
        stats = dispatcher.stats
        print(f"done: {stats.delivered} alert(s), {stats.failed} failed, {stats.skipped} other transitions")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--author", default="alice", help="user or organization (default alice)")
    parser.add_argument("--webhook", help="also POST each failure to this URL")
    parser.add_argument(
        "--format", choices=("json", "slack", "discord"), default="json", help="the webhook's body (json)"
    )
    parser.add_argument("--log-lines", type=int, default=3, help="log lines in an alert (3)")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds to watch (300)")
    parser.add_argument("--endpoint", help="the Hub's URL (default: $HF_ENDPOINT)")
    parser.add_argument("--token", help="a Hub token (default: $HF_TOKEN)")
    parser.add_argument("--speed", type=float, default=100.0, help="speed of the embedded emulator")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

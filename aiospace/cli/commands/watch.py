"""``aiospace watch``: print every transition of some Spaces as it happens, and notify others of them."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import sys
from collections.abc import Collection, Mapping

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from yarl import URL

from ..._hub.validate import check_author, check_repo_id, check_seconds
from ...client import SpaceClient
from ...engine.notify import (
    CHANGE_FILTERS,
    POST_FORMATS,
    CommandRunner,
    Dispatcher,
    TransitionFilter,
    WebhookPoster,
    sign,
)
from ...engine.transitions import Transition
from ...engine.watcher import DEFAULT_LISTING_INTERVAL
from ...errors import HubHTTPError, InvalidArgumentError
from ...models import SpaceRuntime
from ..command import HubCommand
from ..options import positive_int
from ..render.progress import HubHealth
from ..render.streams import log_lines, print_error
from ..render.watch import WatchOutput, print_notify_summary
from ..util import EXIT_OK, UsageError, describe_error, exit_code_for, parse_duration

__all__ = ["SECRET_VARIABLE", "WATCH", "cmd_watch"]

#: The environment variable whose value signs every ``--post`` delivery (never shown).
SECRET_VARIABLE = "AIOSPACE_WEBHOOK_SECRET"


def _notifiers(args: argparse.Namespace) -> list[tuple[str, CommandRunner | WebhookPoster]]:
    """The targets of ``--exec`` and ``--post``, named for people; checked before any request."""
    targets: list[tuple[str, CommandRunner | WebhookPoster]] = []
    for command in args.exec_commands or ():
        runner = CommandRunner(command, timeout=args.notify_timeout)
        targets.append((f"--exec {runner.target}", runner))
    signing = os.environ.get(SECRET_VARIABLE) or None
    if signing is not None and args.post_urls:
        try:
            sign(signing, b"")
        except InvalidArgumentError:
            raise UsageError(f"${SECRET_VARIABLE} is not valid UTF-8 text (its value is not shown)") from None
    args.redactor.add(signing)
    for url in args.post_urls or ():
        parsed = URL(url)
        # Even the debug log never shows them; a webhook's path may be its secret (Slack's).
        path = parsed.raw_path if parsed.raw_path not in ("", "/") else None
        for secret in (parsed.raw_query_string, parsed.raw_password, parsed.raw_fragment, path):
            args.redactor.add(secret)
        poster = WebhookPoster(url, timeout=args.notify_timeout, post_format=args.post_format, secret=signing)
        targets.append((f"--post {poster.target}", poster))
    return targets


async def cmd_watch(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Print every transition of some Spaces as it happens (a table, or JSON lines)."""
    spaces = list(dict.fromkeys(check_repo_id(s, "SPACE") for s in args.spaces))
    authors = list(dict.fromkeys(check_author(a, "--author") for a in args.author or ()))
    check_seconds(args.listing_interval, "--listing-interval", positive=True, finite=True)
    accept = TransitionFilter.parse(stages=args.on or (), changes=args.on_change or ())
    targets = _notifiers(args)  # refused before any request, like every other argument
    if not spaces and not authors:
        raise UsageError("nothing to watch: name a SPACE or an --author")
    terminal = sys.stdout.isatty()
    # On a terminal, a live table redrawn in place; piped with --table, one line per transition.
    output = WatchOutput(
        hub.clock.now(), as_json=args.json or (not args.table and not terminal), terminal=terminal
    )
    output.begin()
    dispatchers: list[tuple[str, Dispatcher]] = []
    try:
        code = await _watch_and_notify(args, hub, (spaces, authors), output, accept, targets, dispatchers)
    finally:  # also when interrupted (Ctrl-C, SIGTERM): the --exec commands have ended by then
        for name, dispatcher in dispatchers:
            stats = dispatcher.stats
            print_notify_summary(
                args.command, name, stats.delivered, stats.failed, stats.timed_out, stats.cut_short
            )
    return code


async def _watch_and_notify(
    args: argparse.Namespace,
    hub: SpaceClient,
    what: tuple[list[str], list[str]],
    output: WatchOutput,
    accept: TransitionFilter,
    targets: list[tuple[str, CommandRunner | WebhookPoster]],
    dispatchers: list[tuple[str, Dispatcher]],
) -> int:
    """The watch with its notifiers (each added to ``dispatchers`` as it starts); the exit code.

    ``what``: the Spaces named and the authors followed (as :func:`_watch` takes them)."""
    with log_lines(
        "aiospace.notify",
        logging.WARNING,
        args.command,
        redactor=args.redactor,
        enabled=not args.verbose,
    ):
        async with contextlib.AsyncExitStack() as stack, anyio.create_task_group() as notifying:
            senders: list[MemoryObjectSendStream[Transition]] = []
            for name, callback in targets:
                if isinstance(callback, WebhookPoster):
                    await stack.enter_async_context(callback)  # its own HTTP session
                # Each target has its own timeout (per run, per POST attempt): no second one here.
                dispatcher = Dispatcher(callback, concurrency=args.notify_concurrency, timeout=None)
                send, receive = anyio.create_memory_object_stream[Transition](NOTIFY_BUFFER)
                notifying.start_soon(_notify_from, dispatcher, receive)
                senders.append(send)
                dispatchers.append((name, dispatcher))
            unsubscribe = hub.subscribe(HubHealth(args.command, hub.endpoint))
            try:
                code = await _watch(args, hub, what, output, accept, senders)
            finally:
                unsubscribe()
                for send in senders:
                    send.close()  # the notifiers deliver what they hold, then end
    return code


async def _watch(
    args: argparse.Namespace,
    hub: SpaceClient,
    what: tuple[list[str], list[str]],
    output: WatchOutput,
    accept: TransitionFilter,
    senders: list[MemoryObjectSendStream[Transition]],
) -> int:
    """The watch itself: show and hand on what passes the filter, until a limit; the exit code.

    ``what``: the Spaces named (a permanent error of one is an exit code) and the authors followed
    (their Spaces come and go, each leaving with a ``removed`` event)."""
    spaces, authors = what
    code = EXIT_OK
    events = 0
    # What the consumer got, not watcher.latest(): that may run ahead of transitions still
    # queued for it (--until-settled would end before the final RUNNING is shown).
    delivered: dict[str, SpaceRuntime] = {}
    with anyio.move_on_after(math.inf if args.timeout is None else args.timeout / hub.clock.speed):
        async with hub.watcher() as watcher:
            watcher.add(*spaces)
            if authors:
                watcher.follow(*authors, every=args.listing_interval)
            while True:
                try:
                    transition = await watcher.__anext__()
                except HubHTTPError as error:  # the watcher only raises what ends a Space's watch
                    print_error(args.command, f"stopped watching: {describe_error(error)}")
                    code = exit_code_for(error)
                    if not watcher.spaces and not authors:
                        break
                    # --until-settled: the Space that was not settled yet may be the one that left.
                    if args.until_settled and _all_settled(watcher.spaces, delivered):
                        break
                    continue
                except StopAsyncIteration:  # pragma: no cover - the watcher ends only when closed
                    break
                delivered[transition.repo_id] = transition.current
                reported = accept(transition)
                if reported or output.live is not None:  # the live table shows every Space
                    output.show(transition)
                if reported:
                    for send in senders:
                        await send.send(transition)
                    events += 1
                    if args.max_events is not None and events >= args.max_events:
                        break
                if args.until_settled and _all_settled(watcher.spaces, delivered):
                    break
    return code


def _all_settled(spaces: Collection[str], delivered: Mapping[str, SpaceRuntime]) -> bool:
    """--until-settled: every Space still watched was last seen settled (and there is one)."""
    return bool(spaces) and all((rt := delivered.get(s)) is not None and rt.is_settled for s in spaces)


#: Transitions waiting for a notifier before the watch waits for it (the watcher coalesces meanwhile).
NOTIFY_BUFFER = 256


async def _notify_from(dispatcher: Dispatcher, receive: MemoryObjectReceiveStream[Transition]) -> None:
    async with receive:
        await dispatcher.run(receive)


def _arguments(p: argparse.ArgumentParser) -> None:
    """SPACEs, --author, when to stop, and the filters and notifications."""
    p.add_argument("spaces", nargs="*", metavar="SPACE", help="namespace/name (any number)")
    p.add_argument(
        "--author",
        action="append",
        metavar="NAME",
        help="follow this user or org: its Spaces now and later (a deleted one leaves: 'removed')",
    )
    p.add_argument(
        "--listing-interval",
        type=parse_duration,
        default=DEFAULT_LISTING_INTERVAL,
        metavar="DURATION",
        help=f"how often each --author is listed (default {DEFAULT_LISTING_INTERVAL:g}s; "
        "each listing costs a request of the rate budget)",
    )

    p.add_argument("--table", action="store_true", help="a table even when stdout is not a terminal")
    p.add_argument("--timeout", type=parse_duration, metavar="DURATION", help="stop after this long")
    p.add_argument("--max-events", type=positive_int, metavar="N", help="stop after N transitions")
    p.add_argument(
        "--until-settled",
        action="store_true",
        help="stop once every Space is settled (not building or starting, hardware converged)",
    )
    notify = p.add_argument_group(
        "filters and notifications",
        "The filters pick the transitions reported: printed (JSON lines or rows), notified\n"
        "and counted by --max-events; the live table always shows every Space.",
    )
    notify.add_argument(
        "--on",
        action="append",
        metavar="STAGE[,STAGE...]",
        help="only transitions to these stages (e.g. BUILD_ERROR,RUNTIME_ERROR)",
    )
    notify.add_argument(
        "--on-change",
        action="append",
        metavar="KIND[,KIND...]",
        help=f"only transitions with these changes: {', '.join(CHANGE_FILTERS)}",
    )
    notify.add_argument(
        "--exec",
        dest="exec_commands",
        action="append",
        metavar="CMD",
        help="run CMD (through sh -c) for each transition, its JSON on stdin",
    )
    notify.add_argument(
        "--post",
        dest="post_urls",
        action="append",
        metavar="URL",
        help="POST each transition to URL (retried on 5xx and transport errors); "
        f"signed when ${SECRET_VARIABLE} is set",
    )
    notify.add_argument(
        "--post-format",
        choices=POST_FORMATS,
        default="json",
        help="the body of --post: the event's JSON, or a chat message (Slack: text, Discord: content)",
    )
    notify.add_argument(
        "--notify-timeout",
        type=parse_duration,
        default=30.0,
        metavar="DURATION",
        help="real time one --exec run or --post attempt may take (default 30s)",
    )
    notify.add_argument(
        "--notify-concurrency",
        type=positive_int,
        default=8,
        metavar="N",
        help="Spaces notified at once, per target (default 8; one Space's transitions go in order)",
    )


WATCH = HubCommand(
    name="watch",
    help="print every transition of Spaces as it happens",
    example="aiospace watch --author me --json | jq -c '{repo_id, stage, error_message}'",
    run=cmd_watch,
    arguments=_arguments,
    json=True,
    epilog="A table on a terminal; JSON lines (the event payload, version 1: docs/events.md)\n"
    "when stdout is not a terminal or with --json. With $AIOSPACE_WEBHOOK_SECRET set, each\n"
    "--post carries X-Aiospace-Signature-256: sha256=<hex HMAC-SHA256 of the body>.\n"
    "Runs until Ctrl-C, --timeout, --max-events or --until-settled.",
    exit_codes={
        0: "ended at --timeout, --max-events or --until-settled",
        4: "a SPACE named could not be watched (not found, no access)",
    },
)

"""What each ``aiospace`` subcommand does: one ``cmd_<name>`` function per subcommand.

A command takes the parsed arguments (and, for those that talk to the Hub, the one
:class:`~aiospace.SpaceClient` of the run), makes its calls and returns an exit code;
an error it does not handle propagates to :mod:`aiospace.cli`, which maps it to an exit
code. What a command shows is drawn by :mod:`aiospace.cli.render`. The first line of a
command's docstring is its ``--help`` description.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import math
import os
import shutil
import signal
import sys
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import attrs
from anyio.abc import Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from yarl import URL

from .._hub.validate import check_flavor, check_repo_id, check_tier
from ..client import SpaceClient
from ..engine.lease import app_url
from ..engine.notify import CommandRunner, Dispatcher, TransitionFilter, WebhookPoster
from ..engine.options import OnTrouble, WaitFor
from ..engine.transitions import Transition
from ..errors import (
    AiospaceError,
    AuthenticationError,
    ConflictError,
    HubHTTPError,
    RevisionSupersededError,
    SpaceFailedError,
    SpaceNotStartingError,
    WaitTimeoutError,
)
from ..models import SpaceRuntime, SpaceStorage
from . import render
from .util import (
    EXIT_ACCESS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    NO_TOKEN,
    UsageError,
    describe_error,
    did_you_mean,
    exit_code_for,
    parse_volume,
)

__all__ = [
    "Command",
    "HubCommand",
    "LocalCommand",
    "cmd_create",
    "cmd_delete",
    "cmd_demo",
    "cmd_dev_mode",
    "cmd_duplicate",
    "cmd_emulator",
    "cmd_hardware",
    "cmd_hardware_list",
    "cmd_lease",
    "cmd_logs",
    "cmd_pause",
    "cmd_restart",
    "cmd_runtime",
    "cmd_secrets",
    "cmd_sleep_time",
    "cmd_storage",
    "cmd_variables",
    "cmd_volumes",
    "cmd_wait",
    "cmd_watch",
    "cmd_zero_gpu_quota",
    "hub_flavor",
    "known_tier",
    "wait_for",
    "wait_options",
]

log = logging.getLogger("aiospace.cli")

#: A command that runs its own event loop (``emulator``).
Command = Callable[[argparse.Namespace], int]
#: A command that runs in the CLI's event loop without a Hub client (``demo``).
LocalCommand = Callable[[argparse.Namespace], Awaitable[int]]
#: A command that talks to the Hub through the run's client (all the others).
HubCommand = Callable[[argparse.Namespace, SpaceClient], Awaitable[int]]


# ---------------------------------------------------------------------- emulator, demo


def cmd_emulator(args: argparse.Namespace) -> int:
    """Run the Hub emulator until interrupted."""
    from ..emulator import serve

    try:
        asyncio.run(
            serve(
                host=args.host,
                port=args.port,
                speed=args.speed,
                seed=args.seed,
                quota=args.quota,
                window=args.window,
                admin_token=args.admin_token,
                rng_seed=args.rng_seed,
                print_fn=lambda line: print(line, flush=True),
            )
        )
    except KeyboardInterrupt:
        return 0
    except (OSError, ValueError) as err:
        print(f"aiospace emulator: {err}", file=sys.stderr)
        return 1
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    """Restart a Space and change its hardware on an embedded emulator, showing each transition."""
    from .demo import run_demo

    return await run_demo(
        speed=args.speed,
        space=check_repo_id(args.space),
        hardware=check_flavor(args.hardware).value,
        print_fn=lambda line: print(line, flush=True),
    )


# ---------------------------------------------------------------------- names the Hub knows

#: The flavors of each client's Hub, asked once per client (one command line = one client).
_CATALOGUES: weakref.WeakKeyDictionary[SpaceClient, frozenset[str]] = weakref.WeakKeyDictionary()


async def hub_flavor(hub: SpaceClient, flavor: str, argument: str = "FLAVOR") -> str:
    """``flavor`` if the Hub's own hardware catalogue lists it; else a usage error saying what was meant.

    Checked before anything is sent or waited for. The catalogue is asked once per run;
    a Hub that answers it with an error leaves the flavor for the call itself to judge.
    (The Python API takes any well-formed name: only the command line checks the catalogue.)
    """
    name = check_flavor(flavor, argument).value
    known = _CATALOGUES.get(hub)
    if known is None:
        try:
            known = frozenset(info.name.value for info in await hub.list_spaces_hardware())
        except HubHTTPError as error:
            log.debug("no hardware catalogue to check %s against: %s", argument, error)
            known = frozenset()
        _CATALOGUES[hub] = known
    if not known or name in known:
        return name
    raise UsageError(
        f"{argument}: {name!r} is not a hardware flavor of this Hub{did_you_mean(name, sorted(known))}; "
        "`aiospace hardware-list` lists them"
    )


def known_tier(tier: str, argument: str = "TIER") -> str:
    """``tier`` if it is a storage tier (small, medium, large); else a usage error saying what was meant."""
    name = check_tier(tier, argument).value
    tiers = [t.value for t in SpaceStorage]
    if name not in tiers:
        raise UsageError(
            f"{argument}: {name!r} is not a storage tier{did_you_mean(name, tiers)}; "
            f"the tiers are {', '.join(tiers[:-1])} and {tiers[-1]}"
        )
    return name


# ---------------------------------------------------------------------- waiting


async def wait_options(
    args: argparse.Namespace, hub: SpaceClient, *, hardware: str | None
) -> tuple[WaitFor, OnTrouble]:
    """What a command's wait is for (``hardware``, ``--revision``) and what it may do about trouble.

    Every :class:`~aiospace.OnTrouble` field has the flag of its name (``stall_after``:
    ``--stall-after``); a command without that flag leaves the field's default, so a new
    option is a field and a flag. Flavors are checked against the Hub's catalogue
    (:func:`hub_flavor`). Raises :class:`~aiospace.cli.util.UsageError` or
    :class:`~aiospace.errors.InvalidArgumentError` for a bad one, before the wait.
    """
    given = {
        field.name: getattr(args, field.name)
        for field in attrs.fields(OnTrouble)
        if getattr(args, field.name, None) is not None
    }
    if given.get("on_stall", "raise") != "raise" and "stall_after" not in given:
        raise UsageError("--on-stall needs --stall-after (how long a stage may last)")
    if "fallback_hardware" in given:  # repeated, or separated by commas
        fallbacks = [f.strip() for item in given["fallback_hardware"] for f in item.split(",") if f.strip()]
        if given.get("retry_capacity"):  # only capacity retries use them (else OnTrouble refuses them)
            fallbacks = [await hub_flavor(hub, f, "--fallback-hardware") for f in fallbacks]
        given["fallback_hardware"] = fallbacks
    trouble = OnTrouble(**given)
    want = WaitFor(
        hardware=None if hardware is None else check_flavor(await hub_flavor(hub, hardware, "--hardware")),
        revision=getattr(args, "revision", None),
    )
    return want, trouble


async def wait_for(
    args: argparse.Namespace, hub: SpaceClient, space: str, *, hardware: str | None, timeout: float | None
) -> int:
    """Wait for ``space`` to run (on ``hardware``; the rest as :func:`wait_options` reads ``args``);
    report it, return the exit code."""
    want, trouble = await wait_options(args, hub, hardware=hardware)
    progress = render.WaitProgress(
        args.command,
        space,
        hub.clock,
        tty=sys.stderr.isatty(),
        enabled=not getattr(args, "quiet", False),
        as_json=getattr(args, "json", False),
    )
    outcome: SpaceRuntime | AiospaceError

    def heard(transition: Transition) -> None:
        progress.update(transition.current)
        progress.action(transition)

    health = render.HubHealth(args.command, hub.endpoint, before=progress.clear)
    unsubscribe = hub.subscribe(health) if progress.enabled else (lambda: None)
    async with anyio.create_task_group() as tg:
        if progress.tty and progress.enabled:
            tg.start_soon(progress.tick)
        try:
            outcome = await hub.wait_for_space(
                space,
                timeout=timeout,
                stage=want.stage,
                hardware=want.hardware,
                revision=want.revision,
                trouble=trouble,
                on_transition=heard,
            )
        except AiospaceError as error:
            outcome = error
        finally:
            unsubscribe()
            tg.cancel_scope.cancel()
            progress.clear()
    progress.report(outcome)
    if isinstance(
        outcome, (SpaceFailedError, WaitTimeoutError, RevisionSupersededError, SpaceNotStartingError)
    ):
        return exit_code_for(outcome)
    if isinstance(outcome, AiospaceError):
        raise outcome
    return EXIT_OK


async def cmd_wait(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Wait until a Space runs (on a hardware flavor, serving a commit); exit codes say how it went."""
    return await wait_for(args, hub, args.space, hardware=args.hardware, timeout=args.timeout)


# ---------------------------------------------------------------------- watching


def _notifiers(args: argparse.Namespace) -> list[tuple[str, CommandRunner | WebhookPoster]]:
    """The targets of ``--exec`` and ``--post``, named for people; checked before any request."""
    targets: list[tuple[str, CommandRunner | WebhookPoster]] = []
    for command in args.exec_commands or ():
        runner = CommandRunner(command, timeout=args.notify_timeout)
        targets.append((f"--exec {runner.target}", runner))
    for url in args.post_urls or ():
        parsed = URL(url)
        # Even the debug log never shows them; a webhook's path may be its secret (Slack's).
        path = parsed.raw_path if parsed.raw_path not in ("", "/") else None
        for secret in (parsed.raw_query_string, parsed.raw_password, parsed.raw_fragment, path):
            args.redactor.add(secret)
        poster = WebhookPoster(url, timeout=args.notify_timeout)
        targets.append((f"--post {poster.target}", poster))
    return targets


async def cmd_watch(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Print every transition of some Spaces as it happens (a table, or JSON lines)."""
    spaces = [check_repo_id(s, "SPACE") for s in args.spaces]
    accept = TransitionFilter.parse(stages=args.on or (), changes=args.on_change or ())
    targets = _notifiers(args)  # refused before any request, like every other argument
    for author in args.author or ():
        async for info in hub.list_spaces(author=author):
            spaces.append(info.id)
    spaces = list(dict.fromkeys(spaces))
    if not spaces:
        raise UsageError("nothing to watch: name a SPACE or an --author who has Spaces")
    terminal = sys.stdout.isatty()
    # On a terminal, a live table redrawn in place; piped with --table, one line per transition.
    output = render.WatchOutput(
        hub.clock.now(), as_json=args.json or (not args.table and not terminal), terminal=terminal
    )
    output.begin()
    dispatchers: list[tuple[str, Dispatcher]] = []
    with render.log_lines(
        "aiospace.engine.notify",
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
            unsubscribe = hub.subscribe(render.HubHealth(args.command, hub.endpoint))
            try:
                code = await _watch(args, hub, spaces, output, accept, senders)
            finally:
                unsubscribe()
                for send in senders:
                    send.close()  # the notifiers deliver what they hold, then end
    for name, dispatcher in dispatchers:
        stats = dispatcher.stats
        render.print_notify_summary(args.command, name, stats.delivered, stats.failed, stats.timed_out)
    return code


async def _watch(
    args: argparse.Namespace,
    hub: SpaceClient,
    spaces: list[str],
    output: render.WatchOutput,
    accept: TransitionFilter,
    senders: list[MemoryObjectSendStream[Transition]],
) -> int:
    """The watch itself: show and hand on what passes the filter, until a limit; the exit code."""
    code = EXIT_OK
    events = 0
    # What the consumer got, not watcher.latest(): that may run ahead of transitions still
    # queued for it (--until-settled would end before the final RUNNING is shown).
    delivered: dict[str, SpaceRuntime] = {}
    with anyio.move_on_after(math.inf if args.timeout is None else args.timeout / hub.clock.speed):
        async with hub.watcher() as watcher:
            watcher.add(*spaces)
            while True:
                try:
                    transition = await watcher.__anext__()
                except HubHTTPError as error:  # the watcher only raises what ends a Space's watch
                    render.print_error(args.command, f"stopped watching: {describe_error(error)}")
                    code = exit_code_for(error)
                    if not watcher.spaces:
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
                if args.until_settled and all(
                    (rt := delivered.get(s)) is not None and rt.is_settled for s in watcher.spaces
                ):
                    break
    return code


#: Transitions waiting for a notifier before the watch waits for it (the watcher coalesces meanwhile).
NOTIFY_BUFFER = 256


async def _notify_from(dispatcher: Dispatcher, receive: MemoryObjectReceiveStream[Transition]) -> None:
    async with receive:
        await dispatcher.run(receive)


# ---------------------------------------------------------------------- leasing


class _LeaseSignals:
    """SIGINT and SIGTERM during ``aiospace lease``: the first one ends the lease, never the release.

    While the lease is acquired, the first signal cancels that (the Space is released);
    while COMMAND runs, it is handed on (SIGTERM; the terminal sends Ctrl-C to COMMAND
    itself) and COMMAND gets ``grace`` seconds before SIGTERM, then SIGKILL; once the
    release is under way, signals only say that it is.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        self.received: int | None = None
        self.event = anyio.Event()
        #: Cancelled by the first signal while the lease is acquired.
        self.acquiring: anyio.CancelScope | None = None

    def __call__(self, signum: int) -> None:
        if self.received is not None:
            render.print_error(self.command, "still ending the lease: the Space is released before exiting")
            return
        self.received = signum
        self.event.set()
        if self.acquiring is not None:
            self.acquiring.cancel()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM while inside (where the event loop can: the main thread, not Windows)."""
        loop = asyncio.get_running_loop()
        installed = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self, signum)
                installed.append(signum)
        try:
            yield
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)


def _send(process: Process, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signum)


async def _stop_on_signal(process: Process, signals: _LeaseSignals, grace: float) -> None:
    """After a signal: SIGTERM is handed on at once; then SIGTERM after ``grace``, SIGKILL after another."""
    await signals.event.wait()
    if signals.received == signal.SIGTERM:
        _send(process, signal.SIGTERM)
    await anyio.sleep(grace)
    _send(process, signal.SIGTERM)
    await anyio.sleep(grace)
    _send(process, signal.SIGKILL)


async def _run_command(
    args: argparse.Namespace, command: list[str], env: dict[str, str], signals: _LeaseSignals
) -> int:
    """Run COMMAND with the terminal's stdin, stdout and stderr; its exit code (128+N for signal N)."""
    try:
        process = await anyio.open_process(command, stdin=None, stdout=None, stderr=None, env=env)
    except FileNotFoundError:
        render.print_error(args.command, f"{command[0]}: command not found")
        return EXIT_NOT_FOUND
    except OSError as error:
        render.print_error(args.command, f"{command[0]}: {error.strerror or error}")
        return EXIT_CANNOT_RUN
    async with process:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_signal, process, signals, args.grace)
            code = await process.wait()
            tg.cancel_scope.cancel()
    return code if code >= 0 else 128 - code


#: COMMAND could not be run (as a shell says): not found, or not executable.
EXIT_NOT_FOUND = 127
EXIT_CANNOT_RUN = 126


async def cmd_lease(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Run COMMAND while a Space runs on a hardware flavor, then release it (whatever happens)."""
    command = list(args.cmd)
    if not command:
        raise UsageError("nothing to run: aiospace lease SPACE FLAVOR -- COMMAND...")
    flavor = check_flavor(args.flavor, "FLAVOR")
    if shutil.which(command[0]) is None:  # before the GPU is asked for
        render.print_error(args.command, f"{command[0]}: command not found (or not executable)")
        return EXIT_NOT_FOUND
    _, trouble = await wait_options(args, hub, hardware=None)  # the flavor is FLAVOR
    signals = _LeaseSignals(args.command)
    code = EXIT_OK
    with (
        render.log_lines(
            "aiospace.engine.lease",
            logging.WARNING if args.quiet else logging.INFO,
            args.command,
            redactor=args.redactor,
            enabled=not args.verbose,
        ),
        signals.installed(),
    ):
        with anyio.CancelScope() as signals.acquiring:
            async with hub.lease(
                args.space,
                flavor,
                sleep_time=args.sleep_time,
                release=args.release,
                timeout=args.timeout,
                release_timeout=args.release_timeout,
                trouble=trouble,
            ) as runtime:
                signals.acquiring = None  # from here, a signal goes to COMMAND
                url = app_url(args.space, runtime)
                env = {
                    **os.environ,
                    "AIOSPACE_SPACE": args.space,
                    "AIOSPACE_URL": url,
                    "AIOSPACE_HARDWARE": str(runtime.hardware or flavor),
                }
                if not args.quiet:
                    render.print_error(
                        args.command, f"{args.space} runs on {flavor} ({url}): running {command[0]}"
                    )
                if signals.received is None:
                    code = await _run_command(args, command, env, signals)
                    if not args.quiet:
                        render.print_error(
                            args.command, f"{command[0]} exited with {code}; releasing {args.space}"
                        )
    if signals.received is not None:
        return EXIT_TERMINATED if signals.received == signal.SIGTERM else EXIT_INTERRUPTED
    return code


# ---------------------------------------------------------------------- runtime calls


async def _then_wait(
    args: argparse.Namespace, hub: SpaceClient, space: str, runtime: SpaceRuntime, note: str, hw: str | None
) -> int:
    """Show the runtime a change answered; with ``--wait``, then wait for the Space to run (on ``hw``)."""
    if not args.wait:
        render.show_runtime(space, runtime, note, as_json=args.json)
        return EXIT_OK
    if not args.json:
        print(f"{render.runtime_line(space, runtime)} -- {note}; waiting...", flush=True)
    return await wait_for(args, hub, space, hardware=hw, timeout=args.timeout)


async def cmd_runtime(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Show a Space's runtime."""
    render.print_runtime(args.space, await hub.get_space_runtime(args.space), as_json=args.json)
    return EXIT_OK


async def cmd_pause(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Pause a Space (not billed; only a restart leaves the pause)."""
    render.show_runtime(args.space, await hub.pause_space(args.space), "paused", as_json=args.json)
    return EXIT_OK


async def cmd_restart(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Restart a Space (``--factory``: rebuild without cache), optionally waiting for it."""
    runtime = await hub.restart_space(args.space, factory_reboot=args.factory)
    note = "factory reboot requested" if args.factory else "restart requested"
    return await _then_wait(args, hub, args.space, runtime, note, None)


async def cmd_hardware(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Request a hardware flavor, optionally waiting until the Space runs on it."""
    flavor = await hub_flavor(hub, args.flavor, "FLAVOR")
    runtime = await hub.request_space_hardware(args.space, flavor, sleep_time=args.sleep_time)
    return await _then_wait(args, hub, args.space, runtime, f"{flavor} requested", flavor)


#: How long a Space on free hardware may stay idle before it sleeps (not settable).
FREE_SLEEP_TIME = 48 * 3600


async def cmd_sleep_time(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Set the seconds without visits before the Space sleeps (-1 or never: never sleep)."""
    runtime = await hub.set_space_sleep_time(args.space, args.seconds)
    note = (
        "never sleeps"
        if args.seconds == -1
        else f"sleeps after {render.format_sleep_time(args.seconds)} idle"
    )
    if runtime.requested_hardware is not None and runtime.requested_hardware.is_free:
        note += f" (ignored on free hardware: it sleeps after {render.format_sleep_time(FREE_SLEEP_TIME)})"
    render.show_runtime(args.space, runtime, note, as_json=args.json)
    return EXIT_OK


async def cmd_dev_mode(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Turn dev mode on or off."""
    on = args.state == "on"
    runtime = await (hub.enable_space_dev_mode if on else hub.disable_space_dev_mode)(args.space)
    render.show_runtime(args.space, runtime, f"dev mode {args.state}", as_json=args.json)
    return EXIT_OK


async def cmd_storage(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Attach persistent storage of a tier, or delete it."""
    if args.delete and args.tier is not None:
        raise UsageError("give a TIER or --delete, not both")
    if args.delete:
        runtime = await hub.delete_space_storage(args.space)
        note = "storage deleted"
    elif args.tier is None:
        raise UsageError("missing TIER: small, medium or large (or --delete to delete the storage)")
    else:
        tier = known_tier(args.tier)
        runtime = await hub.request_space_storage(args.space, tier)
        note = f"{tier} storage requested"
    render.show_runtime(args.space, runtime, note, as_json=args.json)
    return EXIT_OK


async def cmd_duplicate(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Copy a Space (to your namespace by default), optionally waiting for the copy to run."""
    hardware = None if args.hardware is None else await hub_flavor(hub, args.hardware, "--hardware")
    storage = None if args.storage is None else known_tier(args.storage, "--storage")
    try:
        duplicated = await hub.duplicate_space(
            args.source,
            args.target,
            private=args.private,
            hardware=hardware,
            storage=storage,
            sleep_time=args.sleep_time,
            exist_ok=args.exist_ok,
        )
    except ConflictError as error:
        render.print_error(args.command, f"{describe_error(error)}; --exist-ok accepts the existing Space")
        return exit_code_for(error)
    if args.json and not args.wait:
        document = {"space": duplicated.repo_id, "url": duplicated.url, "existed": duplicated.existed}
        render.print_json(document)
        return EXIT_OK
    if not args.json:
        if duplicated.existed:
            print(f"{duplicated.repo_id} already existed: nothing copied ({duplicated.url})", flush=True)
        else:
            print(f"{args.source} duplicated to {duplicated.repo_id}: {duplicated.url}", flush=True)
    if not args.wait:
        return EXIT_OK
    return await wait_for(args, hub, duplicated.repo_id, hardware=args.hardware, timeout=args.timeout)


# ---------------------------------------------------------------------- secrets, variables


def _read_secret(args: argparse.Namespace) -> str:
    """The secret's value: from a file, from stdin, or typed at a hidden prompt. Never from argv."""
    if args.value_file is not None:
        try:
            value = Path(args.value_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --value-file: {exc.strerror or exc}") from None
    elif args.value_stdin:
        value = sys.stdin.read()
    elif sys.stdin.isatty():
        value = getpass.getpass(f"value of {args.key} (not echoed): ")
    else:
        raise UsageError("stdin is not a terminal: pass the value with --value-stdin or --value-file")
    # One trailing newline is what `echo` and editors add: not part of the value.
    value = value[:-1] if value.endswith("\n") else value
    value = value[:-1] if value.endswith("\r") else value
    if not value:
        raise UsageError(f"empty value for secret {args.key}")
    return value


async def cmd_secrets(args: argparse.Namespace, hub: SpaceClient) -> int:
    """List, add or remove a Space's secrets (values are write-only and never printed)."""
    try:
        return await _secrets(args, hub)
    except AuthenticationError:
        if hub.has_token:
            raise
        verb = {"ls": "read", "add": "add", "rm": "remove"}[args.action]
        render.print_error(args.command, f"{args.space}: a token is needed to {verb} secrets; {NO_TOKEN}")
        return EXIT_ACCESS


async def _secrets(args: argparse.Namespace, hub: SpaceClient) -> int:
    if args.action == "ls":
        render.print_secrets(args.space, await hub.get_space_secrets(args.space), as_json=args.json)
        return EXIT_OK
    if args.action == "add":
        value = _read_secret(args)
        args.redactor.add(value)
        await hub.add_space_secret(args.space, args.key, value, description=args.description)
        print(f"{args.space}: secret {args.key} set (the Space rebuilds to use it)", flush=True)
        return EXIT_OK
    # The Hub takes the removal of a missing key as done: ask first, to say which it was.
    if args.key not in await hub.get_space_secrets(args.space):
        print(f"{args.space}: there is no secret {args.key}: nothing removed", flush=True)
        return EXIT_OK
    await hub.delete_space_secret(args.space, args.key)
    print(f"{args.space}: secret {args.key} removed", flush=True)
    return EXIT_OK


async def cmd_variables(args: argparse.Namespace, hub: SpaceClient) -> int:
    """List, add or remove a Space's variables."""
    if args.action == "ls":
        variables = await hub.get_space_variables(args.space)
    elif args.action == "add":
        variables = await hub.add_space_variable(
            args.space, args.key, args.value, description=args.description
        )
    else:
        # The Hub takes the removal of a missing key as done: ask first, to say which it was.
        variables = await hub.get_space_variables(args.space)
        if args.key not in variables:
            if args.json:
                render.print_variables(args.space, variables, as_json=True)
            else:
                print(f"{args.space}: there is no variable {args.key}: nothing removed", flush=True)
            return EXIT_OK
        variables = await hub.delete_space_variable(args.space, args.key)
    if args.action != "ls" and not args.json:
        print(f"{args.space}: variable {args.key} {'set' if args.action == 'add' else 'removed'}", flush=True)
    else:
        render.print_variables(args.space, variables, as_json=args.json)
    return EXIT_OK


# ---------------------------------------------------------------------- hardware, logs


async def cmd_hardware_list(args: argparse.Namespace, hub: SpaceClient) -> int:
    """The hardware catalogue, with the price of an hour on each flavor."""
    render.print_hardware_list(await hub.list_spaces_hardware(), as_json=args.json)
    return EXIT_OK


async def cmd_logs(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Print a Space's run log (or build log); -n: only its last lines; -f keeps following it."""
    logged = 0  # lines in the log, shown or not
    # One cutoff for both reads of -n with -f, so that they skip the same lines.
    since = None if args.since is None else hub.clock.wall() - timedelta(seconds=args.since)
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
            why = f"no line of its {which} log in the last {render.format_duration(args.since)}"
        render.print_error(args.command, f"{args.space}: nothing to show, {why}")
    return EXIT_OK


# ---------------------------------------------------------------------- create, delete, volumes, quota


async def cmd_create(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Create a Space with an SDK (and hardware, visibility, volumes), optionally waiting for it to run."""
    volumes = [parse_volume(spec) for spec in args.volume or ()]
    visibility = "private" if args.private else "protected" if args.protected else None
    hardware = None if args.hardware is None else await hub_flavor(hub, args.hardware, "--hardware")
    created = await hub.create_space(
        args.space,
        sdk=args.sdk,
        visibility=visibility,
        hardware=hardware,
        sleep_time=args.sleep_time,
        volumes=volumes or None,
        exist_ok=args.exist_ok,
    )
    if args.json and not args.wait:
        render.print_json({"space": created.repo_id, "url": created.url})
        return EXIT_OK
    if not args.json:
        print(f"{created.repo_id} created: {created.url}", flush=True)
    if not args.wait:
        return EXIT_OK
    hardware = None if args.sdk == "static" else args.hardware
    return await wait_for(args, hub, created.repo_id, hardware=hardware, timeout=args.timeout)


def _confirm(question: str) -> bool:
    """Ask ``question [y/N]`` on the terminal; True only for yes."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


async def cmd_delete(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Delete a Space for good (asks first on a terminal; ``--yes`` otherwise)."""
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("stdin is not a terminal: confirm with --yes to delete")
        if not _confirm(f"Delete the Space {args.space} and everything in it? This can't be undone."):
            render.print_error(args.command, f"{args.space} not deleted")
            return EXIT_USAGE
    await hub.delete_space(args.space, missing_ok=args.missing_ok)
    if args.json:
        render.print_json({"space": args.space, "deleted": True})
    else:
        print(f"{args.space} deleted", flush=True)
    return EXIT_OK


async def cmd_volumes(args: argparse.Namespace, hub: SpaceClient) -> int:
    """List, set or remove the volumes mounted in a Space (buckets, models, datasets, Spaces)."""
    if args.action == "ls":
        if args.volumes:
            raise UsageError("`volumes ls` takes no volume")
        runtime = await hub.get_space_runtime(args.space)
        render.print_volumes(args.space, runtime.volumes, as_json=args.json)
        return EXIT_OK
    if args.action == "rm":
        if args.volumes:
            raise UsageError("`volumes rm` removes every volume: it takes none")
        await hub.delete_space_volumes(args.space)
        if args.json:
            render.print_json({"space": args.space, "volumes": []})
        else:
            print(f"{args.space}: volumes removed (the Space rebuilds)", flush=True)
        return EXIT_OK
    if not args.volumes:
        raise UsageError(
            "`volumes set` needs at least one TYPE:SOURCE:/MOUNT (`volumes rm` removes them all)"
        )
    volumes = [parse_volume(spec) for spec in args.volumes]
    await hub.set_space_volumes(args.space, volumes)
    if args.json:
        render.print_json({"space": args.space, "volumes": [render.volume_json(v) for v in volumes]})
    else:
        count = f"{len(volumes)} volume{'s' if len(volumes) > 1 else ''}"
        print(f"{args.space}: {count} set (the Space rebuilds)", flush=True)
    return EXIT_OK


async def cmd_zero_gpu_quota(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Your ZeroGPU quota: GPU-seconds left of the period's base, and when it refills."""
    render.print_zero_gpu_quota(await hub.get_zero_gpu_quota(), as_json=args.json)
    return EXIT_OK

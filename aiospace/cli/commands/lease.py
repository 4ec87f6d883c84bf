"""``aiospace lease``: run a command while a Space runs on a hardware flavor, then release it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
from collections.abc import Iterator

import anyio
from anyio.abc import Process

from ..._hub.validate import check_flavor
from ...client import SpaceClient
from ...engine.lease import app_url
from ..command import HubCommand
from ..options import space_argument
from ..render.streams import log_lines, print_error
from ..util import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    UsageError,
    parse_duration,
    parse_sleep_time,
)
from .wait import wait_settings

__all__ = ["LEASE", "cmd_lease"]

LEASE_HELP = """\
COMMAND runs with the terminal's stdin, stdout and stderr, and AIOSPACE_SPACE,
AIOSPACE_URL (the app's URL) and AIOSPACE_HARDWARE in its environment. The Space
is released when COMMAND ends, fails, or on Ctrl-C / SIGTERM, and the release is
confirmed by the Hub (retried with backoff) before aiospace exits.

exit codes:
  COMMAND's own  COMMAND ran (128+N if signal N killed it)
  126, 127       COMMAND could not be run (not executable, not found)
  130, 143       interrupted by Ctrl-C (SIGINT) or SIGTERM
  1, 3, 4, 5     before COMMAND ran: the Space failed, timed out, no access, Hub error
  2              usage error
  6              the release was not confirmed: the Space may still run on FLAVOR
  74             stdout or stderr could not be written (a full disk, an I/O error)
"""


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
            print_error(self.command, "still ending the lease: the Space is released before exiting")
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
        print_error(args.command, f"{command[0]}: command not found")
        return EXIT_NOT_FOUND
    except OSError as error:
        print_error(args.command, f"{command[0]}: {error.strerror or error}")
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
        print_error(args.command, f"{command[0]}: command not found (or not executable)")
        return EXIT_NOT_FOUND
    _, trouble = await wait_settings(args, hub, hardware=None)  # the flavor is FLAVOR
    signals = _LeaseSignals(args.command)
    code = EXIT_OK
    with (
        log_lines(
            "aiospace.lease",
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
                    print_error(args.command, f"{args.space} runs on {flavor} ({url}): running {command[0]}")
                if signals.received is None:
                    code = await _run_command(args, command, env, signals)
                    if not args.quiet:
                        print_error(args.command, f"{command[0]} exited with {code}; releasing {args.space}")
    if signals.received is not None:
        return EXIT_TERMINATED if signals.received == signal.SIGTERM else EXIT_INTERRUPTED
    return code


def _arguments(p: argparse.ArgumentParser) -> None:
    """SPACE, FLAVOR, the lease's options, then COMMAND after --."""
    space_argument(p)
    p.add_argument("flavor", metavar="FLAVOR", help="the flavor to run on (see `aiospace hardware-list`)")
    p.add_argument(
        "--release",
        default="restore",
        metavar="restore|pause|FLAVOR",
        help="afterwards: restore the previous flavor and sleep time (default), pause, or request FLAVOR",
    )
    p.add_argument("--sleep-time", type=parse_sleep_time, metavar="DURATION", help="sleep time while leased")
    p.add_argument(
        "--timeout",
        type=parse_duration,
        default=600.0,
        metavar="DURATION",
        help="how long to wait for the flavor (default 10m)",
    )
    p.add_argument(
        "--release-timeout",
        type=parse_duration,
        default=120.0,
        metavar="DURATION",
        help="how long the release may take, retries included (default 2m)",
    )
    p.add_argument(
        "--grace",
        type=parse_duration,
        default=10.0,
        metavar="DURATION",
        help="after a signal, real time COMMAND has to exit before SIGTERM, then SIGKILL (default 10s)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="say nothing on stderr but errors")
    # What follows `--` is set aside before parsing (see rest= below): COMMAND's own options stay its own.
    p.add_argument("cmd", nargs="*", metavar="-- COMMAND", help="what to run, after --")


LEASE = HubCommand(
    name="lease",
    help="run a command while a Space runs on a hardware flavor, then release it",
    example="aiospace lease me/my-space a10g-small --timeout 15m -- python batch.py",
    run=cmd_lease,
    arguments=_arguments,
    epilog=LEASE_HELP,
    rest="cmd",
)

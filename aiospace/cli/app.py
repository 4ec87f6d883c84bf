"""The ``aiospace`` command line: manage Hugging Face Spaces from a shell.

This module owns the entry points (:func:`main`, and :func:`amain` which does the same
inside a running event loop, e.g. in tests), the argument parser (:func:`build_parser`:
the global options, then one subparser per command of
:data:`~aiospace.cli.commands.COMMANDS`), the checks every command shares, the debug
log, the run of a command with its one :class:`~aiospace.SpaceClient`, the mapping of
errors to exit codes and Ctrl-C. Each subcommand's arguments and what it does are in
its module of :mod:`aiospace.cli.commands`; what it draws is in
:mod:`aiospace.cli.render`. Every command but ``emulator`` and ``demo`` talks to the
Hub through one :class:`~aiospace.SpaceClient`.

Global options (before or after the command): ``--endpoint`` (else ``HF_ENDPOINT``),
``--token`` (else ``HF_TOKEN``, then ``$HF_HOME/token``), ``-v`` (debug log on stderr),
``--hub-speed N`` (the Hub's clock runs N times
faster than real time, as an ``aiospace emulator --speed N`` does: poll intervals,
backoff and ``--timeout`` then count in Hub seconds, as every time on screen does),
``--allow-insecure-http`` and ``--version``. A closed stdout (``| head``) ends a
command quietly with exit 0. Everything a command prints (its output, the error line,
the debug log) masks the token, whatever its source, and the secret values of the run
(``***``).

Exit codes: 0 success; 1 the Space landed in an error stage, stalled, won't start on
its own (paused, stopped, sleeping), or the revision waited for was superseded; 2 usage
error (bad arguments, or a value refused before any request); 3 a wait timed out (or no
build of the revision began within ``--build-grace``); 4 access error
(Space not found, bad token, no permission); 5 any other Hub or transport error (an
answer that can't be read included: one line, never a traceback);
6 a lease's release was not confirmed; 74 stdout or stderr could not be written (a full
disk, an I/O error: one line on stderr if it still takes one, never a traceback); 130
interrupted (Ctrl-C); 143 terminated (SIGTERM, which ends a command as Ctrl-C does: ``watch``
ends its ``--exec`` commands and prints its summary). ``aiospace lease`` passes its
COMMAND's exit code through.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

from ..__about__ import __version__
from .._clock import Clock, ScaledClock
from .._http.budget import Exchange
from .._http.endpoint import resolve_token
from .._hub.validate import check_repo_id
from ..client import SpaceClient
from ..errors import AiospaceError, InvalidArgumentError
from .command import BlockingCommand, Command, HubCommand, LocalCommand
from .commands import COMMANDS, command_named
from .options import VALUED_GLOBAL_OPTIONS, HelpFormatter, global_options
from .render.answers import format_duration
from .render.streams import hub_time_note, print_error, print_note, redacted_output
from .util import (
    EXIT_INTERRUPTED,
    EXIT_IOERR,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    OutputError,
    Redactor,
    UsageError,
    describe_error,
    exit_code_for,
    is_broken_pipe,
    on_stdout_closed,
    output_error,
    silence_stdout,
)

__all__ = ["amain", "build_parser", "main"]

log = logging.getLogger("aiospace.cli")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: the global options, then one subparser per command of :data:`COMMANDS`."""
    parser = _Parser(
        prog="aiospace",
        description="Manage Hugging Face Spaces: runtime, hardware, secrets, logs; wait for and watch them.",
        epilog="examples:\n  aiospace demo\n  aiospace restart me/my-space --wait --timeout 15m\n"
        "  aiospace watch --author me --json | jq .stage\n\n"
        "`aiospace COMMAND --help` shows each command's options and an example.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"aiospace {__version__}")
    global_options(parser, top=True)
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_CommandParser
    )
    for command in COMMANDS:
        command.add_to(subparsers)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but a failed write of its help, version or usage error is not dropped.

    argparse swallows an :class:`OSError` there, so ``aiospace --help > /dev/full`` ended 0
    with nothing written: here a closed pipe is still a quiet end, any other write error
    an :class:`OutputError` (exit 74, as for every command's output).
    """

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if not message:
            return
        stream = sys.stderr if file is None else file
        name = "stdout" if stream is sys.stdout else "stderr"
        try:
            stream.write(message)
            flush = getattr(stream, "flush", None)
            if flush is not None:
                flush()
        except BrokenPipeError:
            silence_stdout(name)
        except OSError as error:
            silence_stdout(name)  # what is still buffered goes nowhere, not into a second error
            raise OutputError(name, error) from None


class _CommandParser(_Parser):
    """A subcommand's parser: an option it doesn't know is its error, shown with its own usage
    (argparse leaves unknown words to the main parser, which would show the top-level usage)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


# ---------------------------------------------------------------------- running a command


def _parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; for a command with a ``rest`` (``lease``), everything after the first ``--``
    is left unparsed, in that destination."""
    words = list(sys.argv[1:] if argv is None else argv)
    if "--" in words:
        cut = words.index("--")
        skip = False
        for word in words[:cut]:
            if skip:
                skip = False
            elif word in VALUED_GLOBAL_OPTIONS:
                skip = True
            elif not word.startswith("-"):
                command = command_named(word)
                if command is not None and command.rest is not None:
                    args = parser.parse_args(words[:cut])
                    setattr(args, command.rest, [*getattr(args, command.rest), *words[cut + 1 :]])
                    return args
                break
    return parser.parse_args(words)


def _check_arguments(args: argparse.Namespace) -> None:
    """What argparse can't express: the command's own checks, then every Space's name."""
    command: Command = args.subcommand
    if command.check is not None:
        command.check(args)
    for name in ("space", "source", "target"):
        value = getattr(args, name, None)
        if value is not None:
            check_repo_id(value, name.upper() if name != "source" else "FROM")


def _verbose_logging(args: argparse.Namespace) -> Callable[[], None]:
    """Debug logging of the ``aiospace`` loggers on stderr, through a redactor; returns the undo."""
    redactor: Redactor = args.redactor
    try:
        redactor.add(resolve_token(args.token))  # --token, else HF_TOKEN, else the token file
    except InvalidArgumentError:
        # A token no header can carry: the client refuses it (exit 2); mask it all the same.
        redactor.add((args.token or os.environ.get("HF_TOKEN") or "").strip() or None)
    if not args.verbose:
        return lambda: None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.addFilter(redactor)
    logger = logging.getLogger("aiospace")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def undo() -> None:
        """Remove the handler and restore the level."""
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return undo


def _log_exchange(exchange: Exchange) -> None:
    """Log one request and its answer at debug level (``-v``)."""
    left = f" ({exchange.rate_limit.remaining} left)" if exchange.rate_limit else ""
    status = exchange.status if exchange.status is not None else "no answer"
    # Method and path only: a request body may hold a secret value.
    log.debug("%s %s -> %s%s", exchange.method, exchange.path, status, left)


async def _run(args: argparse.Namespace, clock: Clock | None) -> int:
    """Run the parsed command (with a client on ``clock`` if it talks to the Hub); errors -> exit codes."""
    args.redactor = Redactor()
    undo = _verbose_logging(args)
    try:
        with redacted_output(args.redactor):
            try:
                return await _run_command(args, clock)
            except Exception as error:
                failed = output_error(error)
                if failed is None:
                    raise
                return _output_failed(args.command, failed.stream, str(failed))
    finally:
        undo()


def _output_failed(command: str, stream: str, problem: str) -> int:
    """A write to ``stream`` failed (not a closed pipe): one line on stderr if it can take it; exit 74."""
    with contextlib.suppress(Exception):
        print_error(command, problem)
    silence_stdout(stream)  # what is still buffered goes nowhere, not into a second error at exit
    return EXIT_IOERR


async def _run_command(args: argparse.Namespace, clock: Clock | None) -> int:
    """The command itself, on a client; an :class:`AiospaceError` is one line and an exit code."""
    token_given = True
    try:
        _check_arguments(args)
        command: Command = args.subcommand
        if isinstance(command, LocalCommand):
            code: int = await command.run(args)
            return code
        assert isinstance(command, HubCommand), command  # amain and main run a BlockingCommand apart
        if clock is None and args.hub_speed is not None:
            clock = ScaledClock(args.hub_speed)
        async with _client(args, clock) as hub:
            token_given = hub.has_token
            log.debug("%r, clock speed %g", hub, hub.clock.speed)
            if args.hub_speed is not None and args.hub_speed != 1:
                print_note(args.command, hub_time_note(args.hub_speed))
            unsubscribe = hub.subscribe(_log_exchange)
            try:
                code = await command.run(args, hub)
            finally:
                unsubscribe()
            return code
    except AiospaceError as error:
        if args.verbose:
            log.debug("%s failed", args.command, exc_info=True)
        print_error(args.command, describe_error(error, token_given=token_given))
        return exit_code_for(error)
    except Exception as error:
        if not is_broken_pipe(error):
            raise
        # The reader of stdout had enough (`| head`): a quiet end, as Unix tools make.
        silence_stdout()
        return EXIT_OK


def _client(args: argparse.Namespace, clock: Clock | None) -> SpaceClient:
    """The run's client; a refused endpoint is a usage error worded for the command line."""
    try:
        return SpaceClient(
            endpoint=args.endpoint,
            token=args.token,
            clock=clock,
            allow_insecure_http=args.allow_insecure_http,
        )
    except InvalidArgumentError as error:
        if error.argument == "endpoint" and "allow_insecure_http=True" in error.problem:
            problem = error.problem.replace("pass allow_insecure_http=True", "add --allow-insecure-http")
            raise UsageError(f"--endpoint: {problem}") from None
        raise


def _parse_command(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Command] | int:
    """The parsed arguments and their command, or the exit code when there is nothing to run
    (no command: the help, 2; the help, version or usage error could not be written: 74).
    argparse's own ``SystemExit`` (``--help``, ``--version``, a usage error) goes through."""
    parser = build_parser()
    try:
        args = _parse_args(parser, argv)
        command: Command | None = getattr(args, "subcommand", None)
        if command is None:
            parser.print_help()
            return EXIT_USAGE
    except OutputError as failed:  # --help, --version or a usage error could not be written
        return _parse_output_failed(argv, failed)
    return args, command


async def amain(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    """:func:`main` inside a running event loop; ``clock`` is the Hub's clock (an emulator's).

    Usage errors return 2 (``--help`` and ``--version`` return 0) instead of exiting.
    """
    try:
        parsed = _parse_command(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if isinstance(parsed, int):
        return parsed
    args, command = parsed
    if isinstance(command, BlockingCommand):
        raise RuntimeError(f"`aiospace {command.name}` runs its own event loop: call main() instead")
    return await _run(args, clock)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the subcommand; returns the exit code."""
    for stream in (sys.stdout, sys.stderr):
        # A terminal or pipe that can't show a character (an ASCII locale) gets its escape,
        # never a UnicodeEncodeError halfway through the output.
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    parsed = _parse_command(argv)
    if isinstance(parsed, int):
        return parsed
    args, command = parsed
    if isinstance(command, BlockingCommand):
        return command.run(args)
    started = time.monotonic()
    args.terminated = False
    try:
        code: int = asyncio.run(_interruptible(args))
    except KeyboardInterrupt:  # a second signal: no clean exit waited for
        code = EXIT_TERMINATED if args.terminated else EXIT_INTERRUPTED
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        # In Hub time, as every time on screen (said once at the start with --hub-speed).
        elapsed = (time.monotonic() - started) * (getattr(args, "hub_speed", None) or 1.0)
        how = "terminated (SIGTERM)" if code == EXIT_TERMINATED else "interrupted"
        with contextlib.suppress(OSError):
            print(f"\naiospace {args.command}: {how} after {format_duration(elapsed)}", file=sys.stderr)
    return _flushed(args.command, code)


def _parse_output_failed(argv: Sequence[str] | None, failed: OutputError) -> int:
    """What parsing printed (help, version, a usage error) could not be written: exit 74, one line."""
    words = sys.argv[1:] if argv is None else argv
    name = next((word for word in words if command_named(word) is not None), None)
    with contextlib.suppress(Exception):
        print(f"aiospace{'' if name is None else ' ' + name}: {failed}", file=sys.stderr, flush=True)
    return EXIT_IOERR


def _flushed(command: str, code: int) -> int:
    """Flush stdout and stderr before exiting: a write error there is exit 74 too (one line)."""
    for stream in ("stdout", "stderr"):
        try:
            getattr(sys, stream).flush()
        except BrokenPipeError:
            silence_stdout(stream)
        except (OSError, ValueError) as error:
            problem = f"could not write to {stream}: {getattr(error, 'strerror', None) or error}"
            code = _output_failed(command, stream, problem)
    return code


async def _interruptible(args: argparse.Namespace) -> int:
    """Run the command; Ctrl-C cancels it through an anyio scope (level-triggered: it can't be lost).

    So does SIGTERM (exit 143; ``args.terminated`` says it came), and the reader of a piped
    stdout going away (exit 0: it had enough).
    """
    loop = asyncio.get_running_loop()
    interrupted = False
    reader_gone = False
    with anyio.CancelScope() as scope:

        def on_reader_gone() -> None:
            """Nobody reads stdout any more: end the command quietly."""
            nonlocal reader_gone
            reader_gone = True
            scope.cancel()

        def on_signal(signum: int) -> None:
            """The first Ctrl-C (or SIGTERM) cancels the command; a second one stops waiting for it."""
            nonlocal interrupted
            if interrupted:  # a second signal: stop waiting for a clean exit
                raise KeyboardInterrupt
            interrupted = True
            args.terminated = signum == signal.SIGTERM
            scope.cancel()

        # Not on Windows, nor outside the main thread: asyncio.run's own Ctrl-C handling remains.
        for signum in _ENDING_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, on_signal, signum)
        stop_watching_stdout = on_stdout_closed(loop, on_reader_gone)
        try:
            return await _run(args, None)
        finally:
            stop_watching_stdout()
            for signum in _ENDING_SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
    if reader_gone and not interrupted:
        silence_stdout()
        return EXIT_OK
    return EXIT_TERMINATED if args.terminated else EXIT_INTERRUPTED


#: The signals that end a command as Ctrl-C does (SIGTERM: systemd, docker stop, CI cancellation).
_ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

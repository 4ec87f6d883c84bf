"""Plumbing of the ``aiospace`` command line that draws nothing.

Owns the argument types (durations, sleep times), the exit codes and the error ->
exit code / one-line message mapping, the :class:`UsageError` (with its "did you mean"
suggestions), the :class:`Redactor` that masks tokens and secret values in the debug
log, and what a closed stdout takes (:func:`is_broken_pipe`, :func:`on_stdout_closed`,
:func:`silence_stdout`: a reader that had enough ends a command quietly). Nothing here
talks to the Hub (:mod:`aiospace.cli.commands` does) or prints
(:mod:`aiospace.cli.render` does).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import io
import logging
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable

if sys.platform == "linux":
    import fcntl

from .._hub import redact as _hub_redact
from ..errors import (
    NO_TOKEN_HINT,
    AiospaceError,
    AuthenticationError,
    BadAnswerError,
    HubHTTPError,
    InvalidArgumentError,
    LeaseReleaseError,
    PermissionDeniedError,
    RevisionSupersededError,
    SpaceFailedError,
    SpaceNotFoundError,
    SpaceNotStartingError,
    TransportError,
    WaitTimeoutError,
)
from ..models import Volume, VolumeType

__all__ = [
    "EXIT_ACCESS",
    "EXIT_FAILED",
    "EXIT_HUB",
    "EXIT_INTERRUPTED",
    "EXIT_IOERR",
    "EXIT_OK",
    "EXIT_RELEASE",
    "EXIT_TERMINATED",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "OutputError",
    "Redactor",
    "UsageError",
    "describe_error",
    "did_you_mean",
    "exit_code_for",
    "is_broken_pipe",
    "on_stdout_closed",
    "output_error",
    "parse_duration",
    "parse_sleep_time",
    "parse_volume",
    "silence_stdout",
]

#: Exit codes (documented in ``aiospace wait --help`` and the CLI reference, docs/cli.md).
EXIT_OK = 0
EXIT_FAILED = 1  # the Space failed, stalled, won't start on its own, or its revision was superseded
EXIT_USAGE = 2  # bad arguments (argparse's own code), or refused before any request
EXIT_TIMEOUT = 3  # a wait ran out of time
EXIT_ACCESS = 4  # not found, bad token, no permission
EXIT_HUB = 5  # any other Hub or transport error (an answer that can't be read included)
EXIT_RELEASE = 6  # a lease's release was not confirmed: the Space may still run on the GPU
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT)
EXIT_TERMINATED = 143  # SIGTERM
EXIT_IOERR = 74  # stdout or stderr could not be written (a full disk, an I/O error): sysexits' EX_IOERR

ACCESS_ERRORS = (SpaceNotFoundError, AuthenticationError, PermissionDeniedError)


class UsageError(AiospaceError):
    """A command line that parses but makes no sense (exit code 2)."""


_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``10m``, ``1h``, ``1.5h`` or ``1h30m`` (an argparse type)."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if (
        not compact
        or "".join(number + unit for number, unit in parts) != compact
        or (len(parts) > 1 and any(unit == "" for _, unit in parts))
    ):
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (examples: 90, 90s, 10m, 1h, 1h30m)")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def parse_sleep_time(text: str) -> int:
    """A sleep time in whole seconds: a duration, or ``-1`` / ``never`` (never sleep).

    0 is refused: the Space would go to sleep the moment nobody visits it.
    """
    if text.strip().lower() in ("-1", "never"):
        return -1
    seconds = round(parse_duration(text))
    if seconds == 0:
        raise argparse.ArgumentTypeError(
            f"a sleep time of {text!r} would put the Space to sleep as soon as nobody visits it: "
            "give a duration (e.g. 15m, 1h) or never"
        )
    return seconds


VOLUME_FORMAT = "TYPE:SOURCE[@REVISION]:/MOUNT[:ro|:rw]"


def parse_volume(text: str) -> Volume:
    """A :class:`~aiospace.Volume` from ``TYPE:SOURCE[@REVISION]:/MOUNT[:ro|:rw]``.

    ``model:me/my-model:/models``, ``bucket:me/data:/data:rw``,
    ``dataset:me/set@v1:/set:ro``. Raises :class:`UsageError` for another shape; the
    values themselves are checked with the call (an unknown type, a relative mount path).
    """
    parts = text.split(":")
    access = None
    if len(parts) == 4 and parts[3] in ("ro", "rw"):
        access = parts.pop() == "ro"
    if len(parts) != 3 or not all(parts):
        raise UsageError(f"volume {text[:100]!r} is not {VOLUME_FORMAT} (e.g. model:me/my-model:/models:ro)")
    kind, source, mount = parts
    revision = None
    if "@" in source:
        source, _, revision = source.partition("@")
    if kind not in VolumeType._value2member_map_:
        choices = ", ".join(t.value for t in VolumeType)
        raise UsageError(f"volume {text[:100]!r}: TYPE must be one of {choices}")
    return Volume(kind, source, mount, revision=revision or None, read_only=access)


def exit_code_for(error: BaseException) -> int:
    """The exit code of an error (see the ``EXIT_*`` constants)."""
    if isinstance(error, (InvalidArgumentError, UsageError)):
        return EXIT_USAGE
    if isinstance(error, (SpaceFailedError, RevisionSupersededError, SpaceNotStartingError)):
        return EXIT_FAILED
    if isinstance(error, WaitTimeoutError):
        return EXIT_TIMEOUT
    if isinstance(error, ACCESS_ERRORS):
        return EXIT_ACCESS
    if isinstance(error, LeaseReleaseError):
        return EXIT_RELEASE
    return EXIT_HUB


def describe_error(error: BaseException, *, token_given: bool = True) -> str:
    """One line naming the Space and the Hub's message (never a token: errors hold none).

    ``token_given`` False: the run had no token, which a 401 is then about.
    """
    if isinstance(error, HubHTTPError):
        space = f"{error.repo_id}: " if error.repo_id else ""
        code = f" {error.error_code}" if error.error_code else ""
        rid = f" (request id {error.request_id})" if error.request_id else ""
        hint = ""
        if isinstance(error, SpaceNotFoundError) and (error.no_token or not token_given):
            hint = f" ({NO_TOKEN_HINT}; {NO_TOKEN_AT})"
        elif isinstance(error, SpaceNotFoundError):
            hint = " (no such Space, or it is private and the token can't see it)"
        elif isinstance(error, AuthenticationError):
            hint = f" ({NO_TOKEN})" if not token_given else " (check --token / HF_TOKEN)"
        return f"{space}{error.message} [{error.status}{code}]{hint}{rid}"
    if isinstance(error, BadAnswerError):
        space = f"{error.repo_id}: " if error.repo_id else ""
        call = f" to {error.method} {error.path}" if error.method and error.path else ""
        status = f" [{error.status}]" if error.status is not None else ""
        rid = f" (request id {error.request_id})" if error.request_id else ""
        return f"{space}the Hub's answer{call} could not be read: {error.problem}{status}{rid}"
    if isinstance(error, TransportError):
        space = f"{error.repo_id}: " if error.repo_id else ""
        return f"{space}could not talk to the Hub: {error.message}"
    if isinstance(error, SpaceFailedError):
        return f"{error.repo_id} failed: {error.runtime.stage}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


#: Where a token is taken from.
NO_TOKEN_AT = "pass --token, set HF_TOKEN, or write it to $HF_HOME/token"
#: What to say when a call needed a token and the run had none.
NO_TOKEN = f"no token was given: {NO_TOKEN_AT}"


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean t4-small?)`` when one or two of ``choices`` are close to ``value``, else ``""``.

    Case-insensitive (``T4-small``: ``t4-small``); a choice that starts with the value comes first
    (``a100``: ``a100-large``), then the closest spellings.
    """
    by_key = {choice.lower(): choice for choice in choices}
    key = value.strip().lower()
    if key in by_key:
        return f" (did you mean {by_key[key]}?)"
    close = [c for k, c in by_key.items() if key and k.startswith(key)][:2]
    if not close:
        close = [by_key[k] for k in difflib.get_close_matches(key, list(by_key), n=2, cutoff=0.6)]
    return f" (did you mean {' or '.join(close)}?)" if close else ""


# ---------------------------------------------------------------------- a closed stdout


def is_broken_pipe(error: BaseException) -> bool:
    """True if ``error`` is a :class:`BrokenPipeError`, or an exception group of nothing else."""
    if isinstance(error, BrokenPipeError):
        return True
    group = getattr(error, "exceptions", None)  # a (Base)ExceptionGroup, also from the 3.10 backport
    return (
        isinstance(group, tuple)
        and bool(group)
        and all(isinstance(e, BaseException) and is_broken_pipe(e) for e in group)
    )


class OutputError(Exception):
    """Writing to stdout or stderr failed for another reason than a closed pipe (ENOSPC, EIO...).

    Not an :class:`OSError`, so that no command's own handling of a file or a process
    takes it for its own: it ends the command with exit 74 (:func:`output_error`).
    """

    def __init__(self, stream: str, error: OSError) -> None:
        super().__init__(f"could not write to {stream}: {error.strerror or error}")
        #: ``"stdout"`` or ``"stderr"``.
        self.stream = stream


def output_error(error: BaseException) -> OutputError | None:
    """The :class:`OutputError` that ``error`` is, or that an exception group holds with
    nothing else than closed pipes and cancellations; None otherwise."""
    if isinstance(error, OutputError):
        return error
    group = getattr(error, "exceptions", None)
    if not isinstance(group, tuple) or not group:
        return None
    found = None
    for inner in group:
        failed = output_error(inner) if isinstance(inner, BaseException) else None
        if failed is not None:
            found = found or failed
        elif not (is_broken_pipe(inner) or isinstance(inner, asyncio.CancelledError)):
            return None
    return found


def silence_stdout(stream: str = "stdout") -> None:
    """Point stdout (or stderr) at /dev/null once its reader is gone, as Python's docs advise for SIGPIPE.

    What is still buffered, and the flush at exit, then go nowhere instead of raising
    another :class:`BrokenPipeError` (or the same write error). A stream that is not a
    file descriptor is left alone.
    """
    try:
        fd = getattr(sys, stream).fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def on_stdout_closed(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` as soon as the reader of a piped stdout goes away; returns the undo.

    Without it a command that prints seldom (``watch``, ``logs -f``) would only notice
    at its next line. Linux only (epoll reports a pipe whose reader is gone as an error
    on its write end); elsewhere, and when stdout is not a write-only pipe, nothing is
    watched and the next write's :class:`BrokenPipeError` ends the command instead.
    """
    if sys.platform != "linux":
        return lambda: None
    try:
        fd = sys.stdout.fileno()
        is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
        write_only = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return lambda: None
    if not (is_pipe and write_only):  # a read-write pipe would look readable with our own output
        return lambda: None

    def gone() -> None:
        loop.remove_reader(fd)
        callback()

    try:
        loop.add_reader(fd, gone)
    except (NotImplementedError, RuntimeError, ValueError, OSError):
        return lambda: None

    def undo() -> None:
        """Stop watching."""
        loop.remove_reader(fd)

    return undo


class Redactor(logging.Filter):
    """A logging filter that masks sensitive strings (the token, secret values) in every record,
    as :class:`aiospace._hub.redact.Redactor` masks them, with ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self._redactor = _hub_redact.Redactor(mark="***")

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values masked so far."""
        return self._redactor.values

    def add(self, value: str | None) -> None:
        """Mask ``value`` from now on (empty values are ignored)."""
        self._redactor = self._redactor.plus((value,))

    def redact(self, text: str) -> str:
        """``text`` with every sensitive string replaced by ``***``."""
        return self._redactor.mask(text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's message and traceback; always keep the record."""
        if self._redactor:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True

"""Plumbing of the ``aiospace`` command line that draws nothing.

Owns the argument types (durations, sleep times), the exit codes and the error ->
exit code / one-line message mapping, the :class:`UsageError`, and the
:class:`Redactor` that masks tokens and secret values in the debug log. Nothing here
talks to the Hub (:mod:`aiospace._cli_commands` does) or prints
(:mod:`aiospace._cli_render` does).
"""

from __future__ import annotations

import argparse
import logging
import re

from .errors import (
    AiospaceError,
    AuthenticationError,
    HubHTTPError,
    InvalidArgumentError,
    PermissionDeniedError,
    RevisionSupersededError,
    SpaceFailedError,
    SpaceNotFoundError,
    SpaceNotStartingError,
    TransportError,
    WaitTimeoutError,
)
from .models import Volume, VolumeType

__all__ = [
    "EXIT_ACCESS",
    "EXIT_FAILED",
    "EXIT_HUB",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "Redactor",
    "UsageError",
    "describe_error",
    "exit_code_for",
    "parse_duration",
    "parse_sleep_time",
    "parse_volume",
]

#: Exit codes (documented in ``aiospace wait --help`` and the README).
EXIT_OK = 0
EXIT_FAILED = 1  # the Space failed, stalled, won't start on its own, or its revision was superseded
EXIT_USAGE = 2  # bad arguments (argparse's own code), or refused before any request
EXIT_TIMEOUT = 3  # a wait ran out of time
EXIT_ACCESS = 4  # not found, bad token, no permission
EXIT_HUB = 5  # any other Hub or transport error
EXIT_INTERRUPTED = 130  # Ctrl-C

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
    """A sleep time in whole seconds: a duration, or ``-1`` / ``never`` (never sleep)."""
    if text.strip().lower() in ("-1", "never"):
        return -1
    return round(parse_duration(text))


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
    return EXIT_HUB


def describe_error(error: BaseException) -> str:
    """One line naming the Space and the Hub's message (never a token: errors hold none)."""
    if isinstance(error, HubHTTPError):
        space = f"{error.repo_id}: " if error.repo_id else ""
        code = f" {error.error_code}" if error.error_code else ""
        rid = f" (request id {error.request_id})" if error.request_id else ""
        hint = ""
        if isinstance(error, SpaceNotFoundError):
            hint = " (no such Space, or it is private and the token can't see it)"
        elif isinstance(error, AuthenticationError):
            hint = " (check --token / HF_TOKEN)"
        return f"{space}{error.message} [{error.status}{code}]{hint}{rid}"
    if isinstance(error, TransportError):
        space = f"{error.repo_id}: " if error.repo_id else ""
        return f"{space}could not talk to the Hub: {error.message}"
    if isinstance(error, SpaceFailedError):
        return f"{error.repo_id} failed: {error.runtime.stage}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class Redactor(logging.Filter):
    """A logging filter that masks sensitive strings (the token, secret values) in every record."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, value: str | None) -> None:
        """Mask ``value`` from now on (empty values are ignored)."""
        if value:
            self.secrets.add(value)

    def redact(self, text: str) -> str:
        """``text`` with every sensitive string replaced by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's message and traceback; always keep the record."""
        if self.secrets:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True

"""Helpers of the ``aiospace`` command line: durations, exit codes, error lines, output shapes.

Nothing here talks to the Hub; :mod:`aiospace.cli` does.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from .errors import (
    AiospaceError,
    AuthenticationError,
    HubHTTPError,
    InvalidArgumentError,
    PermissionDeniedError,
    SpaceFailedError,
    SpaceNotFoundError,
    TransportError,
    WaitTimeoutError,
)
from .models import SpaceHardwareInfo, SpaceRuntime, SpaceSecret, SpaceVariable

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
    "format_duration",
    "hardware_json",
    "parse_duration",
    "parse_sleep_time",
    "runtime_json",
    "runtime_line",
    "table",
]

#: Exit codes (documented in ``aiospace wait --help`` and the README).
EXIT_OK = 0
EXIT_FAILED = 1  # the Space landed in an error stage
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


def format_duration(seconds: float) -> str:
    """``42.0s``, ``3m05s``, ``1h02m``: short and readable."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def exit_code_for(error: BaseException) -> int:
    """The exit code of an error (see the ``EXIT_*`` constants)."""
    if isinstance(error, (InvalidArgumentError, UsageError)):
        return EXIT_USAGE
    if isinstance(error, SpaceFailedError):
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


def _value(x: object) -> object:
    return None if x is None else getattr(x, "value", x)


def runtime_json(repo_id: str, runtime: SpaceRuntime) -> dict[str, Any]:
    """What ``--json`` prints for a runtime (stable keys)."""
    replicas = runtime.replicas
    return {
        "space": repo_id,
        "stage": runtime.stage.value,
        "hardware": _value(runtime.hardware),
        "requested_hardware": _value(runtime.requested_hardware),
        "converged": runtime.is_converged,
        "sleep_time": runtime.sleep_time,
        "storage": _value(runtime.storage),
        "dev_mode": runtime.dev_mode,
        "replicas": None
        if replicas is None
        else {"requested": replicas.requested, "current": replicas.current},
    }


def runtime_line(repo_id: str, runtime: SpaceRuntime) -> str:
    """``alice/demo: RUNNING on cpu-basic`` or ``... on cpu-basic (requested t4-small)``."""
    hardware = runtime.hardware.value if runtime.hardware is not None else "no hardware"
    text = f"{repo_id}: {runtime.stage} on {hardware}"
    if runtime.requested_hardware is not None and runtime.requested_hardware != runtime.hardware:
        text += f" (requested {runtime.requested_hardware})"
    return text


def hardware_json(info: SpaceHardwareInfo) -> dict[str, Any]:
    """One catalogue entry for ``hardware-list --json``."""
    acc = info.accelerator
    return {
        "name": info.name.value,
        "pretty_name": info.pretty_name,
        "cpu": info.cpu,
        "ram": info.ram,
        "accelerator": None
        if acc is None
        else {
            "model": acc.model,
            "quantity": acc.quantity,
            "vram": acc.vram,
            "manufacturer": acc.manufacturer,
        },
        "cost_per_hour_usd": None if info.cost_per_hour_usd is None else round(info.cost_per_hour_usd, 4),
    }


def secret_json(secret: SpaceSecret) -> dict[str, Any]:
    """One secret for ``secrets ls --json`` (there is no value to show: the Hub never returns it)."""
    updated = secret.updated_at.isoformat() if secret.updated_at else None
    return {"key": secret.key, "description": secret.description, "updated_at": updated}


def variable_json(variable: SpaceVariable) -> dict[str, Any]:
    """One variable for ``variables ls --json``."""
    updated = variable.updated_at.isoformat() if variable.updated_at else None
    return {
        "key": variable.key,
        "value": variable.value,
        "description": variable.description,
        "updated_at": updated,
    }


def table(rows: Iterable[Sequence[object]], header: Sequence[str]) -> str:
    """A plain left-aligned text table."""
    cells = [[str(c) for c in header], *([("" if c is None else str(c)) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def print_json(data: object, file: TextIO | None = None) -> None:
    """One compact JSON document on a line (flushed: jq and bots read it at once)."""
    print(json.dumps(data, separators=(",", ":"), sort_keys=False), file=file or sys.stdout, flush=True)


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
        if self.secrets:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True

"""Checks run on arguments before any request is built (sans-I/O).

Each raises :class:`~aiospace.errors.InvalidArgumentError` (a ``ValueError``) naming
the argument, so a bad value never reaches the network.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidArgumentError
from .models import SpaceHardware, SpaceStorage

__all__ = [
    "MAX_VALUE_BYTES",
    "check_description",
    "check_flavor",
    "check_key",
    "check_repo_id",
    "check_sleep_time",
    "check_tier",
    "check_value",
]

# The Hub's repo names: ASCII letters, digits, '-', '_', '.'; starting and ending with a
# letter, digit or '_'; no '--' or '..'; at most 96 characters per part.
_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_])?")
MAX_PART = 96
# Environment-variable names: what a Space exposes secrets and variables as.
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")
MAX_KEY = 256
# A flavor or tier the Hub may add later: lowercase, digits, '-', '.'.
_OPEN_VALUE = re.compile(r"[a-z0-9](?:[a-z0-9.\-]{0,62}[a-z0-9])?")
MAX_VALUE_BYTES = 64 * 1024
_VALID_IDS: set[str] = set()
MAX_DESCRIPTION = 1024


def check_repo_id(repo_id: Any, argument: str = "repo_id") -> str:
    """Return ``repo_id`` if it is a well-formed ``namespace/name``; raise otherwise."""
    if type(repo_id) is str and repo_id in _VALID_IDS:
        return repo_id
    if not isinstance(repo_id, str):
        raise InvalidArgumentError(argument, f"expected a str 'namespace/name', got {type(repo_id).__name__}")
    if repo_id.count("/") != 1:
        raise InvalidArgumentError(argument, f"{repo_id!r} must be 'namespace/name' (exactly one '/')")
    for part in repo_id.split("/"):
        if not part:
            raise InvalidArgumentError(argument, f"{repo_id!r} has an empty part")
        if len(part) > MAX_PART:
            raise InvalidArgumentError(argument, f"{repo_id!r}: a part is longer than {MAX_PART} characters")
        if "--" in part or ".." in part:
            raise InvalidArgumentError(argument, f"{repo_id!r} must not contain '--' or '..'")
        if part.endswith(".git"):
            raise InvalidArgumentError(argument, f"{repo_id!r} must not end with '.git'")
        if not _PART.fullmatch(part):
            raise InvalidArgumentError(
                argument,
                f"{repo_id!r} may only hold ASCII letters, digits, '-', '_' and '.', "
                "starting and ending with a letter, digit or '_'",
            )
    if len(_VALID_IDS) < 65536:  # the poll loop checks the same ids over and over
        _VALID_IDS.add(repo_id)
    return repo_id


def check_sleep_time(sleep_time: Any, argument: str = "sleep_time") -> int:
    """Return ``sleep_time`` if it is -1 (never sleep) or a non-negative int of seconds."""
    if isinstance(sleep_time, bool) or not isinstance(sleep_time, int):
        raise InvalidArgumentError(argument, f"expected an int of seconds, got {sleep_time!r}")
    if sleep_time < -1:
        raise InvalidArgumentError(argument, f"{sleep_time} must be -1 (never sleep) or >= 0")
    return sleep_time


def _check_open_value(value: Any, known: type[SpaceHardware] | type[SpaceStorage], argument: str) -> Any:
    if not isinstance(value, str):
        raise InvalidArgumentError(argument, f"expected a str, got {type(value).__name__}")
    if value in known._value2member_map_ or _OPEN_VALUE.fullmatch(value):
        return known(value)
    choices = ", ".join(m.value for m in known)
    raise InvalidArgumentError(argument, f"{value!r} is not a valid name (known: {choices})")


def check_flavor(flavor: Any, argument: str = "hardware") -> SpaceHardware:
    """Return the flavor as a :class:`SpaceHardware` (known, or a well-formed new name)."""
    result: SpaceHardware = _check_open_value(flavor, SpaceHardware, argument)
    return result


def check_tier(tier: Any, argument: str = "storage") -> SpaceStorage:
    """Return the tier as a :class:`SpaceStorage` (known, or a well-formed new name)."""
    result: SpaceStorage = _check_open_value(tier, SpaceStorage, argument)
    return result


def check_key(key: Any, argument: str = "key") -> str:
    """Return ``key`` if it is a valid environment-variable name (what the Hub requires)."""
    if not isinstance(key, str):
        raise InvalidArgumentError(argument, f"expected a str, got {type(key).__name__}")
    if not _KEY.fullmatch(key):
        # The key is never quoted, nor any part of it but one common separator: a caller
        # who swapped key and value would see their secret here.
        raise InvalidArgumentError(argument, f"an environment-variable name {_broken_key_rule(key)}")
    return key


#: Characters a refused key may be told it holds: common separators, not a secret's substance.
_NAMED_CHARACTERS = {"-": "'-'", ".": "'.'", " ": "a space", "=": "'='", "/": "'/'", ":": "':'"}


def _broken_key_rule(key: str) -> str:
    """Which rule of an environment-variable name ``key`` breaks (without quoting ``key``)."""
    if not key:
        return "must not be empty"
    if len(key) > MAX_KEY:
        return f"must be at most {MAX_KEY} characters long, not {len(key)}"
    if key[0].isascii() and key[0].isdigit():
        return "must not start with a digit"
    bad = next(c for c in key if not (c.isascii() and (c.isalnum() or c == "_")))
    named = _NAMED_CHARACTERS.get(bad)
    holds = f"it holds {named}" if named else "it holds another character"
    return f"may only hold ASCII letters, digits and '_' ({holds})"


def check_value(value: Any, argument: str = "value") -> str:
    """Return ``value`` if it is a str of at most 64 KiB. The value itself is never quoted."""
    if not isinstance(value, str):
        raise InvalidArgumentError(argument, f"expected a str, got {type(value).__name__}")
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_VALUE_BYTES:
        raise InvalidArgumentError(argument, f"{size} bytes is over the limit of {MAX_VALUE_BYTES}")
    return value


def check_description(description: Any, argument: str = "description") -> str | None:
    """Return ``description`` if it is None or a str of at most 1,024 characters."""
    if description is None:
        return None
    if not isinstance(description, str):
        raise InvalidArgumentError(argument, f"expected a str, got {type(description).__name__}")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidArgumentError(argument, f"longer than {MAX_DESCRIPTION} characters")
    return description

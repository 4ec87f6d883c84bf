"""Checks run on arguments before any request is built (sans-I/O).

Each raises :class:`~aiospace.errors.InvalidArgumentError` (a ``ValueError``) naming
the argument, so a bad value never reaches the network.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, overload

import attrs

from ..errors import InvalidArgumentError
from ..models import SpaceHardware, SpaceStorage, Volume, VolumeType

__all__ = [
    "MAX_VALUE_BYTES",
    "SDKS",
    "VISIBILITIES",
    "check_author",
    "check_count",
    "check_description",
    "check_expand",
    "check_flag",
    "check_flavor",
    "check_key",
    "check_repo_id",
    "check_sdk",
    "check_sleep_time",
    "check_tier",
    "check_value",
    "check_visibility",
    "check_volume",
    "check_volumes",
    "resolve_visibility",
]

#: The SDKs a Space may be created with (the official client's ``SPACES_SDK_TYPES``).
SDKS = ("gradio", "streamlit", "docker", "static")
#: A Space's visibilities: ``protected`` Spaces serve a public app from private files.
VISIBILITIES = ("public", "private", "protected")

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


def _quoted(value: str, limit: int = 80) -> str:
    """``value`` quoted for an error message, cut when long (a line stays a line)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[: limit - 20]!r}... ({len(value):,} characters)"


def check_repo_id(repo_id: Any, argument: str = "repo_id") -> str:
    """Return ``repo_id`` if it is a well-formed ``namespace/name``; raise otherwise."""
    if type(repo_id) is str and repo_id in _VALID_IDS:
        return repo_id
    if not isinstance(repo_id, str):
        raise InvalidArgumentError(argument, f"expected a str 'namespace/name', got {type(repo_id).__name__}")
    shown = _quoted(repo_id)
    if repo_id.count("/") != 1:
        raise InvalidArgumentError(argument, f"{shown} must be 'namespace/name' (exactly one '/')")
    for part in repo_id.split("/"):
        if not part:
            raise InvalidArgumentError(argument, f"{shown} has an empty part")
        if len(part) > MAX_PART:
            raise InvalidArgumentError(argument, f"{shown}: a part is longer than {MAX_PART} characters")
        if "--" in part or ".." in part:
            raise InvalidArgumentError(argument, f"{shown} must not contain '--' or '..'")
        if part.endswith(".git"):
            raise InvalidArgumentError(argument, f"{shown} must not end with '.git'")
        if not _PART.fullmatch(part):
            raise InvalidArgumentError(
                argument,
                f"{shown} may only hold ASCII letters, digits, '-', '_' and '.', "
                "starting and ending with a letter, digit or '_'",
            )
    if len(_VALID_IDS) < 65536:  # the poll loop checks the same ids over and over
        _VALID_IDS.add(repo_id)
    return repo_id


def check_author(author: Any, argument: str = "author") -> str:
    """Return ``author`` if it is a well-formed user or organization name; raise otherwise."""
    if not isinstance(author, str) or not _PART.fullmatch(author) or len(author) > MAX_PART:
        shown = _quoted(author) if isinstance(author, str) else type(author).__name__
        raise InvalidArgumentError(argument, f"{shown} is not a valid user or organization name")
    return author


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


def check_sdk(sdk: Any, argument: str = "sdk") -> str:
    """Return ``sdk`` if it is one of :data:`SDKS` (``gradio``, ``streamlit``, ``docker``, ``static``)."""
    if not isinstance(sdk, str) or sdk not in SDKS:
        shown = repr(sdk) if isinstance(sdk, str) else type(sdk).__name__
        raise InvalidArgumentError(argument, f"{shown[:100]} is not an SDK (one of: {', '.join(SDKS)})")
    return sdk


def check_visibility(visibility: Any, argument: str = "visibility") -> str:
    """Return ``visibility`` if it is ``public``, ``private`` or ``protected``."""
    if not isinstance(visibility, str) or visibility not in VISIBILITIES:
        shown = repr(visibility) if isinstance(visibility, str) else type(visibility).__name__
        raise InvalidArgumentError(argument, f"{shown[:100]} must be one of: {', '.join(VISIBILITIES)}")
    return visibility


def resolve_visibility(private: Any, visibility: Any) -> str | None:
    """The ``visibility`` to send from ``private`` or ``visibility`` (not both), as the official client.

    None when neither is given (the Hub's default, or the source's on a duplicate).
    """
    if private is not None and visibility is not None:
        raise InvalidArgumentError("visibility", "give private or visibility, not both")
    if visibility is not None:
        return check_visibility(visibility)
    if private is None:
        return None
    if not isinstance(private, bool):
        raise InvalidArgumentError("private", f"expected a bool, got {type(private).__name__}")
    return "private" if private else "public"


def _check_source(source: Any, argument: str) -> str:
    # A bucket or repository id: "ns/name", or a bare name (legacy top-level models like "gpt2").
    if not isinstance(source, str) or not source:
        raise InvalidArgumentError(argument, "expected a non-empty str 'namespace/name'")
    parts = source.split("/")
    if len(parts) > 2 or not all(_PART.fullmatch(part) for part in parts):
        raise InvalidArgumentError(argument, f"{source[:200]!r} is not a bucket or repository id")
    return source


def _check_optional_str(value: Any, argument: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > 1024:
        raise InvalidArgumentError(argument, "expected a non-empty str of at most 1,024 characters")
    return value


def check_volume(volume: Any, argument: str = "volumes") -> Volume:
    """Return ``volume`` (a :class:`Volume`, or a mapping of its fields) as a checked :class:`Volume`.

    The type must be known, the source a bucket or repository id, the mount path
    absolute; a revision is for repositories only.
    """
    if isinstance(volume, Mapping):
        unknown = set(volume) - {f.name for f in attrs.fields(Volume)}
        if unknown:
            raise InvalidArgumentError(
                argument, f"unknown volume field(s): {', '.join(sorted(map(str, unknown)))}"
            )
        try:
            volume = Volume(**volume)
        except TypeError as exc:
            raise InvalidArgumentError(
                argument, f"a volume needs type, source and mount_path ({exc})"
            ) from None
    if not isinstance(volume, Volume):
        raise InvalidArgumentError(argument, f"expected a Volume, got {type(volume).__name__}")
    kind = volume.type
    if not isinstance(kind, VolumeType) or not kind.is_known:
        choices = ", ".join(m.value for m in VolumeType)
        shown = repr(str(kind))[:100] if isinstance(kind, str) else type(kind).__name__
        raise InvalidArgumentError(f"{argument}.type", f"{shown} is not a volume type (one of: {choices})")
    _check_source(volume.source, f"{argument}.source")
    mount = volume.mount_path
    if not isinstance(mount, str) or not mount.startswith("/"):
        shown = repr(mount)[:100] if isinstance(mount, str) else type(mount).__name__
        raise InvalidArgumentError(
            f"{argument}.mount_path", f"{shown} must be an absolute path (start with '/')"
        )
    if "\x00" in mount or len(mount) > 1024:
        raise InvalidArgumentError(f"{argument}.mount_path", "must hold no NUL and at most 1,024 characters")
    if _check_optional_str(volume.revision, f"{argument}.revision") is not None and kind == VolumeType.BUCKET:
        raise InvalidArgumentError(f"{argument}.revision", "a bucket has no revision (repositories only)")
    if volume.read_only is not None and not isinstance(volume.read_only, bool):
        raise InvalidArgumentError(
            f"{argument}.read_only", f"expected a bool, got {type(volume.read_only).__name__}"
        )
    _check_optional_str(volume.path, f"{argument}.path")
    return volume


def check_volumes(volumes: Any, argument: str = "volumes") -> list[Volume]:
    """Return ``volumes`` as a list of checked :class:`Volume` (see :func:`check_volume`).

    Two volumes may not share a mount path.
    """
    if isinstance(volumes, (str, bytes, Mapping, Volume)) or not isinstance(volumes, Iterable):
        raise InvalidArgumentError(argument, f"expected a list of Volume, got {type(volumes).__name__}")
    checked = [check_volume(item, f"{argument}[{i}]") for i, item in enumerate(volumes)]
    seen: set[str] = set()
    for volume in checked:
        mount = volume.mount_path.rstrip("/") or "/"
        if mount in seen:
            raise InvalidArgumentError(argument, f"two volumes are mounted at {volume.mount_path[:100]!r}")
        seen.add(mount)
    return checked


def check_flag(value: Any, argument: str) -> bool:
    """A yes/no argument must be a bool: ``factory_reboot="no"`` is a str, and a true one."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(argument, f"expected a bool, got {type(value).__name__}")
    return value


def _shown(value: Any) -> str:
    """``repr(value)`` for a message, short (an int too long to print is named, not printed)."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit
        return f"an int of {value.bit_length():,} bits"
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text):,} characters)"


@overload
def check_seconds(
    value: Any, argument: str, *, positive: bool = ..., finite: bool = ..., optional: Literal[False] = ...
) -> float: ...
@overload
def check_seconds(
    value: Any, argument: str, *, positive: bool = ..., finite: bool = ..., optional: bool
) -> float | None: ...
def check_seconds(
    value: Any, argument: str, *, positive: bool = False, finite: bool = False, optional: bool = False
) -> float | None:
    """A duration in seconds: a real number (not a bool, not NaN), >= 0 (``positive``: > 0),
    ``math.inf`` allowed unless ``finite``; None only when ``optional``. The one duration check:
    every timeout, delay and interval of aiospace goes through it."""
    if value is None and optional:
        return None
    least = "> 0" if positive else ">= 0"
    seconds, huge = math.nan, False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int past any float: not a duration anyone means
            huge = True
    if math.isnan(seconds) or seconds < 0 or (positive and seconds == 0) or (finite and math.isinf(seconds)):
        kind = "a finite number" if finite else "a number"
        shown = "an int too large for seconds" if huge else _shown(value)
        raise InvalidArgumentError(
            argument, f"{shown} must be {kind} of seconds {least}" + (", or None" if optional else "")
        )
    return seconds


def check_count(value: Any, argument: str) -> int:
    """A count (of retries, reconnections...): an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(argument, f"{value!r} must be an int >= 0")
    return value


#: Property names one call may expand (the Hub has a few dozen).
_MAX_EXPAND = 64
_EXPAND = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")


def check_expand(expand: Any, argument: str = "expand") -> tuple[str, ...]:
    """Property names to expand: an iterable of names, or one name as a str (as ``HfApi`` sends it)."""
    if expand is None:
        return ()
    names = (expand,) if isinstance(expand, str) else expand
    try:
        names = tuple(itertools.islice(names, _MAX_EXPAND + 1))  # an endless iterable ends here
    except TypeError:
        raise InvalidArgumentError(argument, f"expected names (str), got {type(expand).__name__}") from None
    if len(names) > _MAX_EXPAND:
        raise InvalidArgumentError(argument, f"more than {_MAX_EXPAND} property names")
    for name in names:
        if not isinstance(name, str) or not _EXPAND.fullmatch(name):
            shown = repr(name) if isinstance(name, str) else type(name).__name__
            raise InvalidArgumentError(argument, f"{shown[:70]} is not a property name")
    return names

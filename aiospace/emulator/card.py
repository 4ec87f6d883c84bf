"""A Space's card: the YAML front matter of its ``README.md``, served as ``cardData`` in its info.

The Hub reads a Space's metadata from the front matter of its ``README.md`` (between two
``---`` lines) and serves it as ``cardData``. The emulator reads the part of YAML that
cards use: top-level ``key: value`` pairs (strings, quoted or not, integers, numbers,
booleans, null) and lists (``[a, b]`` or ``- item`` lines). A nested mapping, or a line it
can't read, is left out: the keys that matter to a runtime (``sdk``, ``app_port``,
``startup_duration_timeout``, ``suggested_hardware``) are plain scalars. Bounded: the first
64 KiB of the README and 1,000 keys.

``startup_duration_timeout`` is a duration as the Hub takes it (``30m``, ``1h``, ``2h``,
``1h30m``; a bare number is seconds): :func:`duration_seconds` reads it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CARD_FILE",
    "SEED_CARD_KEYS",
    "card_data",
    "check_duration",
    "duration_seconds",
    "parse_front_matter",
    "with_card_keys",
]

#: The file whose front matter is the card.
CARD_FILE = "README.md"
#: Card keys a seed entry may set (written into the Space's README card).
SEED_CARD_KEYS = frozenset({"startup_duration_timeout"})
_MAX_CARD_BYTES = 64 * 1024
_MAX_KEYS = 1000
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)\s*:(?:\s+(.*))?$")
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.IGNORECASE)
_DURATION = re.compile(r"(\s*\d+(?:\.\d+)?\s*[dhms]\s*)+", re.IGNORECASE)
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def _scalar(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if " #" in text:
        text = text.split(" #", 1)[0].rstrip()
    lowered = text.lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    if lowered in ("null", "~", ""):
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [] if not inner else [_scalar(part) for part in inner.split(",")]
    return text


def parse_front_matter(text: str) -> dict[str, Any]:
    """The card of a README's text: its front matter's top-level keys ({} without front matter)."""
    lines = text[:_MAX_CARD_BYTES].splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    card: dict[str, Any] = {}
    current: str | None = None
    for line in lines[1:]:
        if line.strip() == "---":
            return card
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t-":  # a list item of the last key, or a nested line (skipped)
            item = line.strip()
            value = card.get(current) if current is not None else False
            if current is not None and item.startswith("- ") and (value is None or isinstance(value, list)):
                items = card[current] = [] if value is None else value
                if len(items) < _MAX_KEYS:
                    items.append(_scalar(item[2:]))
            elif current is not None and value is None:  # a nested mapping: not read
                del card[current]
                current = None
            continue
        found = _KEY.match(line)
        if found is None or len(card) >= _MAX_KEYS:
            current = None
            continue
        current = found.group(1)
        card[current] = _scalar(found.group(2) or "")
    return {}  # no closing "---": not front matter


@functools.lru_cache(maxsize=1024)
def _cached(content: bytes) -> dict[str, Any]:
    return parse_front_matter(content[:_MAX_CARD_BYTES].decode("utf-8", "replace"))


def card_data(files: Mapping[str, bytes]) -> dict[str, Any]:
    """The card of a Space's files (a fresh dict: the caller may change it)."""
    content = files.get(CARD_FILE)
    if content is None:
        return {}
    return dict(_cached(content))


def duration_seconds(value: object) -> float | None:
    """A card duration (``"2h"``, ``"30m"``, ``"1h30m"``, seconds) in seconds; None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    if not isinstance(value, str) or len(value) > 40 or not _DURATION.fullmatch(value):
        return None
    seconds = sum(float(n) * _UNITS[unit.lower()] for n, unit in _DURATION_PART.findall(value))
    return seconds if seconds > 0 else None


def check_duration(key: str, value: object) -> str:
    """A seed's card duration, as the card writes it (else ``ValueError``)."""
    if not isinstance(value, str) or duration_seconds(value) is None:
        raise ValueError(f"{key} must be a duration as a card writes it ('30m', '2h', '1h30m')")
    return value


def with_card_keys(readme: bytes | str | None, keys: Mapping[str, str], title: str, sdk: str) -> bytes:
    """``readme`` with ``keys`` set in its front matter (one made if it has none)."""
    text = readme.decode("utf-8", "replace") if isinstance(readme, bytes) else readme
    if text is None:
        text = f"---\ntitle: {title}\nsdk: {sdk}\n---\n\n# {title}\n"
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in (line.strip() for line in lines[1:]):
        lines = ["---", "---", *lines]
    end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    kept = [line for line in lines[1:end] if not any(line.startswith(f"{key}:") for key in keys)]
    added = [f"{key}: {value}" for key, value in keys.items()]
    return ("\n".join([lines[0], *kept, *added, *lines[end:]]) + "\n").encode()

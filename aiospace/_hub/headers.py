"""The Hub's headers: ``RateLimit``/``RateLimit-Policy``, ``Retry-After`` and ``Link``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from ..models import RateLimit


def _rate_params(header: str, into: dict[str, float]) -> None:
    # Parameters are `;`-separated `k=number` items (`"api";r=12;t=30`); on the poll path,
    # so plain string splitting rather than a regex. A value that is not a finite number is skipped.
    for part in header.split(";"):
        part = part.strip()
        if len(part) > 2 and part[1] == "=":
            try:
                value = float(part[2:])
            except ValueError:
                continue
            if math.isfinite(value):
                into[part[0]] = value


#: ``RateLimit-Policy`` values already read, by their text.
_POLICIES: dict[str, dict[str, float]] = {}


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """Read ``RateLimit: "api";r=R;t=T`` and ``RateLimit-Policy: ...;q=Q;w=W``."""
    current = headers.get("RateLimit")
    policy = headers.get("RateLimit-Policy")
    if not current and not policy:
        return None
    values: dict[str, float] = {}
    if current:
        _rate_params(current, values)
    if policy:
        # The policy rarely changes: read each spelling once (a few kept, however many come).
        known = _POLICIES.get(policy)
        if known is None:
            known = {}
            _rate_params(policy, known)
            if len(_POLICIES) >= 16:
                _POLICIES.clear()
            _POLICIES[policy] = known
        values.update(known)
    remaining = values.get("r")
    quota = values.get("q")
    return RateLimit(
        remaining=None if remaining is None else int(remaining),
        reset=values.get("t"),
        quota=None if quota is None else int(quota),
        window=values.get("w"),
    )


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta-seconds or an HTTP date).

    A date without a time zone is read as UTC (as HTTP dates are); a value that is not
    a finite number of seconds, or not a date, is ignored (None).
    """
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


def parse_link_next(header: str | None) -> str | None:
    """The URL with ``rel="next"`` in a ``Link`` header, if any."""
    if not header:
        return None
    for url, params in _LINK.findall(header):
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "rel" and "next" in value.strip().strip('"').split():
                return str(url)
    return None

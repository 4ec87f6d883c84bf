"""When to try again: the one backoff rule and the one limit on the Hub's ``Retry-After``.

Every retry of aiospace (a call, a followed log, a watch's poll, an author listing, a
capacity restart, a webhook delivery) takes its delay from :func:`backoff`, and waits for a
``Retry-After`` (read by :func:`aiospace._hub.headers.parse_retry_after`) through
:func:`retry_delay`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["MAX_RETRY_AFTER", "backoff", "retry_delay"]

#: The longest ``Retry-After`` aiospace waits for (Hub seconds). A call asked to wait longer
#: raises its :class:`~aiospace.errors.RateLimitedError` (the caller decides); a watch, which
#: must go on, waits this long and tries again.
MAX_RETRY_AFTER = 300.0


def backoff(
    attempt: int, base: float, cap: float, rng: random.Random | None = None, *, least: float = 0.0
) -> float:
    """The delay before retry ``attempt + 1`` (``attempt`` counts from 0): ``base`` doubling up to ``cap``.

    With ``rng``, jitter: a uniform draw between ``least`` times that delay and the delay
    (``least=0``: full jitter), so that many clients retrying at once spread out.
    """
    delay = min(cap, base * 2 ** min(max(attempt, 0), 64))
    return delay if rng is None else rng.uniform(delay * least, delay)


def retry_delay(
    retry_after: float | None, fallback: Callable[[], float], limit: float = MAX_RETRY_AFTER
) -> float | None:
    """The Hub's ``retry_after`` when it gave one, else ``fallback()``; None when the Hub asks for
    more than ``limit`` (too long to wait for)."""
    if retry_after is None:
        return fallback()
    return None if retry_after > limit else retry_after

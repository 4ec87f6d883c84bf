"""The Hub's rate limiter: fixed windows of simulated time, counted per token or IP.

Every API answer carries ``RateLimit: "api";r=<remaining>;t=<seconds to reset>`` and
``RateLimit-Policy: "fixed window";"api";q=<quota>;w=<window>``; past the quota the
answer is a 429 with an integer ``Retry-After`` (simulated seconds until the window
resets, rounded up). Windows are aligned on multiples of ``window`` since the clock's
origin. Defaults are generous (10,000 requests per 300 s) so that only tests that
want a 429 see one.
"""

from __future__ import annotations

import math

import attrs

from .._clock import ScaledClock
from .encode import rate_limit_headers

__all__ = [
    "DEFAULT_QUOTA",
    "DEFAULT_WINDOW",
    "MAX_QUOTA",
    "MAX_WINDOW",
    "MIN_WINDOW",
    "Decision",
    "RateLimiter",
]

DEFAULT_QUOTA = 10_000
DEFAULT_WINDOW = 300.0
#: Bounds of the policy: a quota is an int in [1, MAX_QUOTA], a window (simulated
#: seconds) a finite number in [MIN_WINDOW, MAX_WINDOW].
MAX_QUOTA = 10**12
MIN_WINDOW = 0.001
MAX_WINDOW = 10.0**9


@attrs.frozen
class Decision:
    """The limiter's answer for one request."""

    allowed: bool
    remaining: int
    reset: float
    quota: int
    window: float

    @property
    def headers(self) -> dict[str, str]:
        """``RateLimit`` and ``RateLimit-Policy`` (plus ``Retry-After`` when refused)."""
        out = rate_limit_headers(self.remaining, self.reset, self.quota, self.window)
        if not self.allowed:
            out["Retry-After"] = str(max(1, math.ceil(self.reset)))
        return out


class RateLimiter:
    """Fixed-window counters per key (a token, or ``ip:<address>`` for anonymous calls).

    Only the current window's counters are kept: those of past windows are dropped
    as soon as a request falls in a later window.
    """

    def __init__(self, clock: ScaledClock, quota: int | None = None, window: float = DEFAULT_WINDOW) -> None:
        self.clock = clock
        self.configure(quota, window)

    def configure(self, quota: int | None = None, window: float | None = None) -> None:
        """Change the quota and/or window (counters restart); out of bounds is a ``ValueError``."""
        if quota is not None and (
            isinstance(quota, bool) or not isinstance(quota, int) or not 1 <= quota <= MAX_QUOTA
        ):
            raise ValueError(f"quota must be an int within [1, {MAX_QUOTA}]")
        if window is not None and (
            isinstance(window, bool)
            or not isinstance(window, (int, float))
            or not MIN_WINDOW <= window <= MAX_WINDOW
        ):
            raise ValueError(f"window must be a number of seconds within [{MIN_WINDOW}, {MAX_WINDOW:.0f}]")
        self.quota = DEFAULT_QUOTA if quota is None else int(quota)
        self.window = DEFAULT_WINDOW if window is None else float(window)
        self._counts: dict[str, tuple[int, int]] = {}
        self._index = -1

    def __len__(self) -> int:
        """The number of counters kept (those of the current window)."""
        return len(self._counts)

    def hit(self, key: str, now: float | None = None) -> Decision:
        """Count one request for ``key`` (unless refused) and decide."""
        t = self.clock.now() if now is None else now
        index = math.floor(t / self.window)
        reset = (index + 1) * self.window - t
        if index > self._index:
            # A new window: every counter of a past one is void, drop them.
            self._counts = {k: c for k, c in self._counts.items() if c[0] >= index}
            self._index = index
        window_index, used = self._counts.get(key, (index, 0))
        if window_index != index:
            used = 0
        if used >= self.quota:
            self._counts[key] = (index, used)
            return Decision(False, 0, reset, self.quota, self.window)
        used += 1
        self._counts[key] = (index, used)
        return Decision(True, self.quota - used, reset, self.quota, self.window)

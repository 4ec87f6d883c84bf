"""The client's request budget, and what it hears after each answer.

* :class:`Exchange` is what a :meth:`SpaceClient.subscribe` listener is told after
  every answer (or failure): the call, the Space, the status and the rate-limit headers.
* :class:`RateBudget` is one request budget per client, paced so that a fixed-window
  quota is never exceeded, corrected by the Hub's ``RateLimit`` headers, and paused
  globally on a 429 until ``Retry-After``. The client owns it; the watch engine spends it.

Nothing here does I/O beyond sleeping on the client's clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs

from .._clock import Clock
from ..errors import InvalidArgumentError
from ..models import RateLimit

__all__ = ["MAX_POLICY_WINDOW", "Exchange", "Listener", "RateBudget", "WritesOnly"]

#: The longest window of a ``RateLimit-Policy`` the budget takes from the Hub (a day); a
#: longer one is ignored, as a non-finite one is: "2 requests in 10^300 s" would stop every watch.
MAX_POLICY_WINDOW = 86_400.0


@attrs.frozen
class Exchange:
    """What a listener hears after each answer (see :meth:`SpaceClient.subscribe`).

    It names the call, never its body: a request body may hold a secret value.
    """

    #: The call's name (the client's method, e.g. ``"get_space_runtime"``).
    call: str
    method: str
    #: The path asked for (without the query string).
    path: str
    repo_id: str | None
    #: The answer's status; None when no answer came (connection failed, timed out).
    status: int | None
    rate_limit: RateLimit | None
    retry_after: float | None = None

    @property
    def is_write(self) -> bool:
        """A request that changes something (not a GET)."""
        return self.method != "GET"

    @property
    def wrote_to(self) -> str | None:
        """The Space a successful write changed (None for reads, failures and non-Space calls)."""
        if not self.is_write or self.status is None or self.status >= 400:
            return None
        return self.repo_id


#: A :meth:`SpaceClient.subscribe` listener.
Listener = Callable[[Exchange], None]


class WritesOnly:
    """A listener that hears the exchanges of writes only (not a GET): a watcher's, which only
    looks for the Spaces a write changed. The transport builds no :class:`Exchange` for a read
    when every listener is one of these (the poll path)."""

    __slots__ = ("listener",)

    def __init__(self, listener: Listener) -> None:
        self.listener = listener

    def __call__(self, exchange: Exchange) -> None:
        if exchange.method != "GET":
            self.listener(exchange)


class RateBudget:
    """A request budget that keeps a client under a fixed-window quota.

    Requests are paced by a token bucket refilled at ``quota * (1 - reserve) / window``
    per Hub second, with a burst of ``quota * reserve``: within any fixed window it
    never allows more than ``quota``. The Hub's ``RateLimit`` headers adjust the
    quota, the window and what is left; a 429 pauses everyone until ``Retry-After``.

    Raises :class:`~aiospace.errors.InvalidArgumentError` for a reserve outside (0, 1).
    """

    def __init__(
        self, clock: Clock, *, quota: int = 1000, window: float = 300.0, reserve: float = 0.1
    ) -> None:
        if not (isinstance(reserve, (int, float)) and 0 < reserve < 1):
            raise InvalidArgumentError("reserve", f"{reserve!r} must be between 0 and 1 (exclusive)")
        self.clock = clock
        self.reserve = float(reserve)
        self.quota, self.window = 1, 1.0
        self._tokens = 0.0
        self.configure(quota, window)
        self._tokens = self.burst
        self._stamp = clock.now()
        self.paused_until = -math.inf
        self.rate_limited = 0

    def configure(self, quota: int | None = None, window: float | None = None) -> None:
        """Change the quota and/or the window (from the user, or from the Hub's policy header).

        Raises :class:`~aiospace.errors.InvalidArgumentError` unless ``quota >= 1`` and
        ``window`` is a finite number of seconds > 0.
        """
        quota = self.quota if quota is None else quota
        window = self.window if window is None else window
        if isinstance(quota, bool) or not isinstance(quota, (int, float)) or not 1 <= quota < math.inf:
            raise InvalidArgumentError("quota", f"{quota!r} must be a finite number >= 1")
        if isinstance(window, bool) or not isinstance(window, (int, float)) or not 0 < window < math.inf:
            raise InvalidArgumentError("window", f"{window!r} must be a finite number of seconds > 0")
        self.quota, self.window = int(quota), float(window)
        # Worked out here, where they change: every request reads them (the poll path).
        self._rate = self.quota * (1 - self.reserve) / self.window
        self._burst = max(1.0, self.quota * self.reserve)
        self._tokens = min(self._tokens, self._burst)

    @property
    def rate(self) -> float:
        """Requests per Hub second the budget allows on average."""
        return self._rate

    @property
    def burst(self) -> float:
        """How many requests may go at once."""
        return self._burst

    def _refill(self) -> float:
        now = self.clock.now()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        return now

    def delay(self) -> float:
        """Hub seconds until one request may be sent (0: now)."""
        now = self._refill()
        wait = max(0.0, self.paused_until - now)
        if self._tokens < 1 - 1e-9:  # tolerance: float refills land a hair under 1
            wait = max(wait, (1 - self._tokens) / self._rate)
        return wait

    def take(self) -> None:
        """Spend one request."""
        self._refill()
        self._tokens -= 1

    async def acquire(self) -> None:
        """Wait for and spend one request (no suspension when one is available now)."""
        while (wait := self.delay()) > 0:
            await self.clock.sleep(wait)
        self._tokens -= 1  # delay() just refilled

    def observe(self, rate_limit: RateLimit | None, retry_after: float | None, status: int | None) -> None:
        """Learn from an answer's headers (quota, window, remaining) and from a 429."""
        now = self._refill()
        if rate_limit is not None:
            quota, window = rate_limit.quota, rate_limit.window
            if (
                quota
                and window
                and 1 <= quota < math.inf
                and 0 < window <= MAX_POLICY_WINDOW
                and (quota != self.quota or window != self.window)  # the poll path: most often the same
            ):
                self.configure(quota, window)
            remaining = rate_limit.remaining
            if remaining is not None and math.isfinite(remaining):
                # Someone else (another process, the same IP) may be spending too.
                left = remaining - self.quota * self.reserve / 2
                if left < self._tokens:
                    self._tokens = max(left, -self.burst)
                reset = rate_limit.reset
                if remaining <= 0 and reset is not None and math.isfinite(reset):
                    self.paused_until = max(self.paused_until, now + min(reset, max(self.window, 300.0)))
        if status == 429:
            self.rate_limited += 1
            pause = retry_after if retry_after is not None else (rate_limit.reset if rate_limit else None)
            if pause is None or not math.isfinite(pause):
                pause = self.window / 10
            # Never longer than a window (or 5 minutes): a Hub that says "in a year" is wrong.
            self.paused_until = max(self.paused_until, now + min(pause, max(self.window, 300.0)))

    def hear(self, exchange: Exchange) -> None:
        """A :meth:`SpaceClient.subscribe` listener: learn from every answer the client gets."""
        if exchange.rate_limit is None and exchange.status != 429:
            return  # nothing to learn (the poll path: most answers)
        self.observe(exchange.rate_limit, exchange.retry_after, exchange.status)


class BudgetShare:
    """A fraction of a client's :class:`RateBudget`, for one consumer (a watcher).

    A token bucket of its own at ``fraction`` of the parent's rate and burst, so that in
    any fixed window it never spends more than ``fraction`` of the quota; every request
    it allows is also taken from the parent, which keeps the whole client under the
    quota and pauses everyone on a 429. The quota and window follow the parent's (the
    Hub's ``RateLimit-Policy`` included).

    Raises :class:`~aiospace.errors.InvalidArgumentError` unless ``0 < fraction <= 1``.
    """

    def __init__(self, parent: RateBudget, fraction: float) -> None:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise InvalidArgumentError("budget_share", f"{fraction!r} must be a fraction in (0, 1]")
        self.parent = parent
        self.fraction = float(fraction)
        self.clock = parent.clock
        self._tokens = self.burst
        self._stamp = self.clock.now()

    @property
    def quota(self) -> float:
        """Requests per window this share may spend."""
        return self.parent.quota * self.fraction

    @property
    def window(self) -> float:
        """The parent's window, in Hub seconds."""
        return self.parent.window

    @property
    def rate(self) -> float:
        """Requests per Hub second this share allows on average."""
        return self.parent.rate * self.fraction

    @property
    def burst(self) -> float:
        """How many requests of this share may go at once."""
        return max(1.0, self.parent.burst * self.fraction)

    def delay(self) -> float:
        """Hub seconds until one request may be sent (0: now), by this share and by the parent."""
        parent = self.parent
        now = self.clock.now()
        rate = parent._rate * self.fraction
        self._tokens = min(max(1.0, parent._burst * self.fraction), self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        wait = 0.0 if self._tokens >= 1 - 1e-9 else (1 - self._tokens) / rate
        return max(wait, parent.delay())

    async def acquire(self) -> None:
        """Wait for and spend one request of this share (and of the parent)."""
        while (wait := self.delay()) > 0:
            await self.clock.sleep(wait)
        self._tokens -= 1
        self.parent._tokens -= 1  # delay() just refilled the parent too

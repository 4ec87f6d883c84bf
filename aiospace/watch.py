"""The watch engine: a Space's life as an async iterator of :class:`Transition` events.

Three layers, each usable on its own:

* :func:`detect_changes` and :class:`SpaceTracker` (pure): what changed between two
  polls of one Space, and when to poll it next (:class:`Cadence`).
* :class:`RateBudget`: one request budget per client, paced so that a fixed-window
  quota is never exceeded, corrected by the Hub's ``RateLimit`` headers, and paused
  globally on a 429 until ``Retry-After``.
* Two drivers: :class:`SpaceWatch` polls one Space inline (no background task, so
  ``break`` leaves nothing behind) and :class:`Watcher` schedules many Spaces from
  one task group, with bounded concurrency, priority to transitional Spaces, batch
  polling by author, and a coalescing buffer per Space.

Honest semantics: a failed poll is never a transition; a transition is only ever
reported for a change two successful polls showed.
"""

from __future__ import annotations

import enum
import heapq
import logging
import math
import random
from collections import Counter, deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
import attrs
from anyio.abc import TaskGroup

from . import _wire as wire
from ._clock import Clock
from .errors import (
    HubHTTPError,
    RateLimitedError,
    TransportError,
)
from .models import RateLimit, SpaceRuntime

if TYPE_CHECKING:
    from .client import Exchange, SpaceClient

__all__ = [
    "Cadence",
    "Change",
    "RateBudget",
    "SpaceTracker",
    "SpaceWatch",
    "Transition",
    "WatchStats",
    "Watcher",
    "detect_changes",
]

log = logging.getLogger("aiospace.watch")

#: Page size asked of an author listing (the Hub's largest; it pages further with ``Link``).
LISTING_PAGE = 1000


def is_permanent(error: BaseException) -> bool:
    """A poll failure that ends a watch: any Hub 4xx but 429 (gone, no access, refused).

    Everything else (5xx, 429, transport) is transient: retried, never a transition.
    """
    return isinstance(error, HubHTTPError) and error.status < 500 and error.status != 429


class Change(str, enum.Enum):
    """What a :class:`Transition` reports."""

    INITIAL = "initial"
    STAGE = "stage"
    HARDWARE = "hardware"
    REQUESTED_HARDWARE = "requested_hardware"
    #: ``hardware`` reached ``requested_hardware`` after they differed.
    CONVERGED = "converged"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class Transition:
    """One observed change of a Space (or its first observation)."""

    repo_id: str
    previous: SpaceRuntime | None
    current: SpaceRuntime
    changes: frozenset[Change]
    #: When it was observed, in the client's clock (Hub seconds).
    observed_at: float

    @property
    def is_initial(self) -> bool:
        """The first observation of the Space (no previous runtime)."""
        return self.previous is None

    @property
    def converged(self) -> bool:
        """The hardware just reached the requested flavor."""
        return Change.CONVERGED in self.changes

    def to_json(self) -> dict[str, object]:
        """A flat, stable dict (what ``aiospace watch --json`` prints)."""
        prev = self.previous
        cur = self.current
        return {
            "space": self.repo_id,
            "observed_at": round(self.observed_at, 3),
            "changes": sorted(c.value for c in self.changes),
            "stage": cur.stage.value,
            "previous_stage": None if prev is None else prev.stage.value,
            "hardware": None if cur.hardware is None else cur.hardware.value,
            "requested_hardware": None if cur.requested_hardware is None else cur.requested_hardware.value,
            "converged": cur.is_converged,
        }

    def merge(self, later: Transition) -> Transition:
        """This transition and a later one of the same Space, as one (the union of their changes)."""
        return Transition(
            self.repo_id,
            self.previous,
            later.current,
            self.changes | later.changes,  # only a first transition is INITIAL: it stays so
            later.observed_at,
        )


def detect_changes(previous: SpaceRuntime | None, current: SpaceRuntime) -> frozenset[Change]:
    """What changed from ``previous`` to ``current`` (empty: nothing worth reporting)."""
    if previous is None:
        return frozenset({Change.INITIAL})
    changes: set[Change] = set()
    if current.stage != previous.stage:
        changes.add(Change.STAGE)
    if current.hardware != previous.hardware:
        changes.add(Change.HARDWARE)
    if current.requested_hardware != previous.requested_hardware:
        changes.add(Change.REQUESTED_HARDWARE)
    if (
        current.hardware is not None
        and current.hardware == current.requested_hardware
        and previous.hardware != previous.requested_hardware
        and previous.requested_hardware is not None
    ):
        changes.add(Change.CONVERGED)
    return frozenset(changes)


@attrs.frozen
class Cadence:
    """How often to poll, in Hub seconds.

    ``fast`` while a Space is transitional or its hardware has not converged, and
    right after a write through the same client (for ``after_write`` seconds);
    otherwise the interval grows by ``backoff`` per quiet poll up to ``slow``.
    Every interval is spread by +/- ``jitter`` (a fraction). Failed polls back off
    from ``fast`` to ``error_max``.
    """

    fast: float = 1.0
    slow: float = 30.0
    backoff: float = 1.5
    jitter: float = 0.1
    after_write: float = 60.0
    error_max: float = 60.0

    def __attrs_post_init__(self) -> None:
        if not 0 < self.fast <= self.slow:
            raise ValueError("cadence needs 0 < fast <= slow")
        if self.backoff < 1 or not 0 <= self.jitter < 1:
            raise ValueError("cadence needs backoff >= 1 and 0 <= jitter < 1")


def _needs_attention(runtime: SpaceRuntime) -> bool:
    return runtime.is_transitional or (runtime.stage.is_serving and not runtime.is_converged)


@attrs.define
class SpaceTracker:
    """One watched Space: its last runtime, its counters and when to poll it next (pure)."""

    repo_id: str
    cadence: Cadence
    rng: random.Random
    last: SpaceRuntime | None = None
    next_due: float = 0.0
    interval: float = 0.0
    boost_until: float = -math.inf
    failures: int = 0
    last_error: BaseException | None = None
    polls: int = 0
    transitions: int = 0

    @property
    def urgent(self) -> bool:
        """Deserves priority when the budget is tight: never seen, changing, or just written to."""
        return self.last is None or _needs_attention(self.last) or self.interval <= self.cadence.fast

    def observe(self, runtime: SpaceRuntime, now: float) -> Transition | None:
        """Record a successful poll; return the transition it shows, if any."""
        self.polls += 1
        self.failures = 0
        self.last_error = None
        changes = detect_changes(self.last, runtime)
        transition = None
        if changes:
            transition = Transition(self.repo_id, self.last, runtime, changes, now)
            self.transitions += 1
        self.last = runtime
        self._plan(now, changed=bool(changes))
        return transition

    def _plan(self, now: float, *, changed: bool) -> None:
        c = self.cadence
        if changed or now < self.boost_until or (self.last is not None and _needs_attention(self.last)):
            self.interval = c.fast
        else:
            self.interval = min(c.slow, max(c.fast, self.interval * c.backoff))
        self.next_due = now + self._spread(self.interval)

    def _spread(self, interval: float) -> float:
        j = self.cadence.jitter
        return interval * (1 + self.rng.uniform(-j, j)) if j else interval

    def fail(self, error: BaseException, now: float, retry_after: float | None = None) -> None:
        """Record a failed poll (never a transition) and schedule the retry."""
        self.failures += 1
        self.last_error = error
        delay = min(self.cadence.error_max, self.cadence.fast * (2 ** (self.failures - 1)))
        delay = self.rng.uniform(delay / 2, delay)
        if retry_after is not None:
            delay = max(delay, retry_after)
        self.next_due = now + delay

    def wrote(self, now: float) -> None:
        """A write went through the same client: poll again soon, and fast for a while."""
        self.boost_until = now + self.cadence.after_write
        self.interval = self.cadence.fast
        self.next_due = min(self.next_due, now + min(1.0, self.cadence.fast))


@attrs.define
class WatchStats:
    """Counters of a watch or watcher."""

    requests: int = 0
    batch_requests: int = 0
    rate_limited: int = 0
    failures: int = 0
    transitions: int = 0
    coalesced: int = 0
    polls: Counter[str] = attrs.field(factory=Counter)
    last_error: BaseException | None = None

    def count_failure(self, error: BaseException) -> None:
        """A failed poll: counted and kept as ``last_error`` (never a transition)."""
        self.failures += 1
        self.last_error = error
        if isinstance(error, RateLimitedError):
            self.rate_limited += 1


class RateBudget:
    """A request budget that keeps a client under a fixed-window quota.

    Requests are paced by a token bucket refilled at ``quota * (1 - reserve) / window``
    per Hub second, with a burst of ``quota * reserve``: within any fixed window it
    never allows more than ``quota``. The Hub's ``RateLimit`` headers adjust the
    quota, the window and what is left; a 429 pauses everyone until ``Retry-After``.
    """

    def __init__(
        self, clock: Clock, *, quota: int = 1000, window: float = 300.0, reserve: float = 0.1
    ) -> None:
        if not 0 < reserve < 1:
            raise ValueError("budget needs 0 < reserve < 1")
        self.clock = clock
        self.reserve = reserve
        self.quota, self.window = 1, 1.0
        self._tokens = 0.0
        self.configure(quota, window)
        self._tokens = self.burst
        self._stamp = clock.now()
        self.paused_until = -math.inf
        self.rate_limited = 0

    def configure(self, quota: int | None = None, window: float | None = None) -> None:
        """Change the quota and/or the window (from the user, or from the Hub's policy header)."""
        quota = self.quota if quota is None else quota
        window = self.window if window is None else window
        if quota < 1 or not window > 0:
            raise ValueError("budget needs quota >= 1 and window > 0")
        self.quota, self.window = int(quota), float(window)
        self._tokens = min(self._tokens, self.burst)

    @property
    def rate(self) -> float:
        """Requests per Hub second the budget allows on average."""
        return self.quota * (1 - self.reserve) / self.window

    @property
    def burst(self) -> float:
        """How many requests may go at once."""
        return max(1.0, self.quota * self.reserve)

    def _refill(self) -> float:
        now = self.clock.now()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        return now

    def delay(self) -> float:
        """Hub seconds until one request may be sent (0: now)."""
        now = self._refill()
        wait = max(0.0, self.paused_until - now)
        if self._tokens < 1 - 1e-9:  # tolerance: float refills land a hair under 1
            wait = max(wait, (1 - self._tokens) / self.rate)
        return wait

    def take(self) -> None:
        """Spend one request."""
        self._refill()
        self._tokens -= 1

    async def acquire(self) -> None:
        """Wait for and spend one request."""
        while (wait := self.delay()) > 0:
            await self.clock.sleep(wait)
        self.take()

    def observe(self, rate_limit: RateLimit | None, retry_after: float | None, status: int | None) -> None:
        """Learn from an answer's headers (quota, window, remaining) and from a 429."""
        now = self._refill()
        if rate_limit is not None:
            if rate_limit.quota and rate_limit.window:
                self.configure(rate_limit.quota, rate_limit.window)
            if rate_limit.remaining is not None:
                # Someone else (another process, the same IP) may be spending too.
                left = rate_limit.remaining - self.quota * self.reserve / 2
                if left < self._tokens:
                    self._tokens = max(left, -self.burst)
                if rate_limit.remaining <= 0 and rate_limit.reset is not None:
                    self.paused_until = max(self.paused_until, now + rate_limit.reset)
        if status == 429:
            self.rate_limited += 1
            pause = retry_after if retry_after is not None else (rate_limit.reset if rate_limit else None)
            self.paused_until = max(
                self.paused_until, now + (pause if pause is not None else self.window / 10)
            )

    def hear(self, exchange: Exchange) -> None:
        """A :meth:`SpaceClient.subscribe` listener: learn from every answer the client gets."""
        self.observe(exchange.rate_limit, exchange.retry_after, exchange.status)


def _is_write_to(exchange: Exchange) -> str | None:
    if exchange.request.is_read or exchange.status is None or exchange.status >= 400:
        return None
    return exchange.request.repo_id


async def _wait_event(event: anyio.Event, clock: Clock, hub_seconds: float) -> None:
    with anyio.move_on_after(max(0.0, hub_seconds) / clock.speed):
        await event.wait()


class SpaceWatch:
    """Transitions of one Space, polled inline by the consumer's own task.

    No background task: a ``break`` out of ``async for`` leaves nothing running.
    Made by :meth:`SpaceClient.watch`.
    """

    def __init__(
        self,
        client: SpaceClient,
        repo_id: str,
        *,
        cadence: Cadence | None = None,
        budget: RateBudget | None = None,
        seed: int | None = None,
    ) -> None:
        from ._validate import check_repo_id

        self.client = client
        self.repo_id = check_repo_id(repo_id)
        self.tracker = SpaceTracker(repo_id, cadence or Cadence(), random.Random(seed))
        self.budget = budget or client.budget
        self.stats = WatchStats()
        self._woken = anyio.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False

    def __aiter__(self) -> SpaceWatch:
        return self

    async def __aenter__(self) -> SpaceWatch:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop watching (idempotent)."""
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @property
    def last(self) -> SpaceRuntime | None:
        """The latest runtime observed."""
        return self.tracker.last

    def _on_exchange(self, exchange: Exchange) -> None:
        if _is_write_to(exchange) == self.repo_id:
            self.tracker.wrote(self.client.clock.now())
            self._woken.set()

    async def __anext__(self) -> Transition:
        if self._closed:
            raise StopAsyncIteration
        if self._unsubscribe is None:
            self._unsubscribe = self.client.subscribe(self._on_exchange)
        clock = self.client.clock
        tracker = self.tracker
        while True:
            wait = tracker.next_due - clock.now()
            if wait > 0:
                self._woken = anyio.Event()
                await _wait_event(self._woken, clock, wait)
                continue
            await self.budget.acquire()
            self.stats.requests += 1
            self.stats.polls[self.repo_id] += 1
            try:
                runtime = await self.client._poll_runtime(self.repo_id)
            except (HubHTTPError, TransportError) as error:
                if is_permanent(error):
                    await self.aclose()
                    raise
                self.stats.count_failure(error)
                tracker.fail(error, clock.now(), getattr(error, "retry_after", None))
                log.debug("poll of %s failed, retrying: %s", self.repo_id, error)
                continue
            transition = tracker.observe(runtime, clock.now())
            if transition is not None:
                self.stats.transitions += 1
                return transition


class Watcher:
    """Watch many Spaces from one scheduler; iterate over all their transitions.

    ::

        async with client.watcher() as w:
            w.add("user/a", "user/b")
            async for t in w:
                ...

    Spaces can be added and removed while it runs. A slow consumer never stalls
    polling: each Space buffers up to ``buffer`` transitions, merging the oldest
    two when full, so the latest state is never dropped.
    """

    def __init__(
        self,
        client: SpaceClient,
        *,
        cadence: Cadence | None = None,
        concurrency: int = 8,
        quota: int | None = None,
        window: float | None = None,
        batch: bool = True,
        batch_min: int = 3,
        buffer: int = 8,
        on_permanent_error: str = "raise",
        seed: int | None = None,
    ) -> None:
        if concurrency < 1 or buffer < 1:
            raise ValueError("concurrency and buffer must be >= 1")
        if on_permanent_error not in ("raise", "drop"):
            raise ValueError("on_permanent_error must be 'raise' or 'drop'")
        self.client = client
        self.cadence = cadence or Cadence()
        self.budget = client.budget
        if quota is not None or window is not None:
            self.budget.configure(quota, window)
        self.concurrency = concurrency
        self.batch = batch
        self.batch_min = batch_min
        self.buffer = buffer
        self.on_permanent_error = on_permanent_error
        self.stats = WatchStats()
        #: Spaces dropped after a permanent error, with that error.
        self.errors: dict[str, BaseException] = {}
        self._rng = random.Random(seed)
        self._trackers: dict[str, SpaceTracker] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._in_flight: set[str] = set()
        self._pending: dict[str, deque[Transition]] = {}
        self._ready: deque[str] = deque()
        self._fatal: BaseException | None = None
        self._wake_scheduler = anyio.Event()
        self._wake_consumer = anyio.Event()
        self._limiter = anyio.Semaphore(concurrency)
        self._task_group: TaskGroup | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._author_pages: dict[str, int] = {}
        self._by_author: dict[str, set[str]] = {}
        self._no_batch_until: dict[str, float] = {}
        self._ready_heap: list[tuple[bool, float, int, str]] = []

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Watcher:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._unsubscribe = self.client.subscribe(self._on_exchange)
        self._task_group.start_soon(self._schedule)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        try:
            return await self._task_group.__aexit__(exc_type, exc, tb)
        finally:
            self._task_group = None
            self._wake_consumer.set()

    # ------------------------------------------------------------------ membership

    def add(self, *repo_ids: str) -> None:
        """Start watching Spaces (a Space already watched is left as it is)."""
        from ._validate import check_repo_id

        now = self.client.clock.now()
        for repo_id in repo_ids:
            check_repo_id(repo_id)
            if repo_id in self._trackers:
                continue
            tracker = SpaceTracker(repo_id, self.cadence, self._rng, next_due=now)
            self._trackers[repo_id] = tracker
            self._by_author.setdefault(repo_id.split("/")[0], set()).add(repo_id)
            self._push(tracker)
        self._wake_scheduler.set()

    def remove(self, *repo_ids: str) -> None:
        """Stop watching Spaces; their undelivered transitions are dropped."""
        for repo_id in repo_ids:
            self._trackers.pop(repo_id, None)
            self._pending.pop(repo_id, None)
            self._by_author.get(repo_id.split("/")[0], set()).discard(repo_id)

    @property
    def spaces(self) -> list[str]:
        """The Spaces being watched."""
        return list(self._trackers)

    def tracker(self, repo_id: str) -> SpaceTracker:
        """The tracker of a watched Space (last runtime, counters, last error)."""
        return self._trackers[repo_id]

    def latest(self, repo_id: str) -> SpaceRuntime | None:
        """The latest runtime observed for a Space."""
        tracker = self._trackers.get(repo_id)
        return None if tracker is None else tracker.last

    # ------------------------------------------------------------------ consumer side

    def __aiter__(self) -> Watcher:
        return self

    async def __anext__(self) -> Transition:
        while True:
            if self._fatal is not None:
                error, self._fatal = self._fatal, None
                raise error
            while self._ready:
                repo_id = self._ready.popleft()
                queue = self._pending.get(repo_id)
                if queue:
                    transition = queue.popleft()
                    if queue:
                        self._ready.append(repo_id)
                    else:
                        del self._pending[repo_id]  # an empty deque per Space costs ~600 bytes
                    return transition
            if self._task_group is None:
                raise StopAsyncIteration
            self._wake_consumer = anyio.Event()
            await self._wake_consumer.wait()

    def _deliver(self, transition: Transition) -> None:
        queue = self._pending.setdefault(transition.repo_id, deque())
        if not queue:
            self._ready.append(transition.repo_id)
        queue.append(transition)
        if len(queue) > self.buffer:
            # The consumer is behind: merge the two oldest, keep the newest intact.
            first = queue.popleft()
            queue[0] = first.merge(queue[0])
            self.stats.coalesced += 1
        self.stats.transitions += 1
        self._wake_consumer.set()

    # ------------------------------------------------------------------ scheduler side

    def _push(self, tracker: SpaceTracker) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (tracker.next_due, self._seq, tracker.repo_id))

    def _on_exchange(self, exchange: Exchange) -> None:
        repo_id = _is_write_to(exchange)
        tracker = self._trackers.get(repo_id) if repo_id else None
        if tracker is not None:
            tracker.wrote(self.client.clock.now())
            self._push(tracker)
            self._wake_scheduler.set()

    def _move_due(self, now: float) -> None:
        """Move every tracker due by ``now`` to the ready queue, urgent ones first."""
        while self._heap and self._heap[0][0] <= now:
            when, seq, repo_id = heapq.heappop(self._heap)
            tracker = self._trackers.get(repo_id)
            if tracker is None or repo_id in self._in_flight or tracker.next_due != when:
                continue  # stale: removed, being polled, or rescheduled since
            heapq.heappush(self._ready_heap, (not tracker.urgent, when, seq, repo_id))

    def _next_ready(self) -> SpaceTracker | None:
        while self._ready_heap:
            _, when, _, repo_id = heapq.heappop(self._ready_heap)
            tracker = self._trackers.get(repo_id)
            if tracker is not None and repo_id not in self._in_flight and tracker.next_due == when:
                return tracker
        return None

    async def _schedule(self) -> None:
        clock = self.client.clock
        async with anyio.create_task_group() as polls:
            while True:
                # Wait for a free slot and a request first, then pick the most deserving
                # Space: when the budget is tight, changing Spaces go first.
                await self._limiter.acquire()
                await self.budget.acquire()
                while True:
                    now = clock.now()
                    self._move_due(now)
                    tracker = self._next_ready()
                    if tracker is not None:
                        break
                    wait = self._heap[0][0] - now if self._heap else math.inf
                    self._wake_scheduler = anyio.Event()
                    await _wait_event(self._wake_scheduler, clock, min(wait, 3600.0))
                author, group = self._batch_for(tracker, now)
                for member in group:
                    self._in_flight.add(member.repo_id)
                polls.start_soon(self._poll, author, group)

    def _batch_for(self, tracker: SpaceTracker, now: float) -> tuple[str | None, list[SpaceTracker]]:
        """Poll ``tracker`` alone, or its author's whole listing when that saves requests.

        A listing refreshes every watched Space of the author, so it takes along those
        due within the next ``fast`` interval too: their polls realign on the listing.
        """
        author = tracker.repo_id.split("/")[0]
        names = self._by_author.get(author, ())
        if not self.batch or len(names) < self.batch_min or self._no_batch_until.get(author, -1.0) > now:
            return None, [tracker]
        horizon = now + self.cadence.fast
        members = [self._trackers[r] for r in names if r not in self._in_flight and r in self._trackers]
        due_soon = sum(1 for t in members if t.next_due <= horizon)
        if due_soon >= max(self.batch_min, self._author_pages.get(author, 1) + 1):
            return author, members
        # Not worth it now; don't count again for a while (keeps dispatch O(log n)).
        self._no_batch_until[author] = now + self.cadence.fast / 2
        return None, [tracker]

    async def _poll(self, author: str | None, trackers: list[SpaceTracker]) -> None:
        try:
            if author is None:
                await self._poll_one(trackers[0])
            else:
                await self._poll_author(author, trackers)
        finally:
            for tracker in trackers:
                self._in_flight.discard(tracker.repo_id)
                if self._trackers.get(tracker.repo_id) is tracker:
                    self._push(tracker)
            self._limiter.release()
            self._wake_scheduler.set()

    async def _poll_one(self, tracker: SpaceTracker) -> None:
        clock = self.client.clock
        self.stats.requests += 1
        self.stats.polls[tracker.repo_id] += 1
        try:
            runtime = await self.client._poll_runtime(tracker.repo_id)
        except (HubHTTPError, TransportError) as error:
            self._failed(tracker, error)
            return
        self._observed(tracker, runtime, clock.now())

    async def _poll_author(self, author: str, trackers: list[SpaceTracker]) -> None:
        clock = self.client.clock
        wanted = {t.repo_id: t for t in trackers}
        found: dict[str, SpaceRuntime] = {}
        pages = 0
        # The largest page the Hub serves: one request refreshes up to 1,000 Spaces (not 20).
        request = wire.list_spaces(author=author, expand=["runtime"], limit=LISTING_PAGE)
        try:
            while True:
                pages += 1
                self.stats.requests += 1
                self.stats.batch_requests += 1
                data, headers = await self.client._request(request, retry=False)
                for item in data if isinstance(data, list) else ():
                    if isinstance(item, dict) and item.get("id") in wanted and item.get("runtime"):
                        found[item["id"]] = wire.structure(item["runtime"], SpaceRuntime, request)
                next_url = wire.parse_link_next(headers.get("Link"))
                if not next_url or len(found) == len(wanted):
                    break
                await self.budget.acquire()
                request = attrs.evolve(request, path=next_url, params=())
        except (HubHTTPError, TransportError) as error:
            if is_permanent(error):
                # The listing itself is refused: fall back to per-Space polls.
                self.batch = False
            for tracker in trackers:
                self._failed(tracker, error, permanent_ok=False)
            return
        self._author_pages[author] = pages
        now = clock.now()
        for repo_id, tracker in wanted.items():
            runtime = found.get(repo_id)
            if runtime is not None:
                self.stats.polls[repo_id] += 1
                self._observed(tracker, runtime, now)
        # Missing from the listing (private, or renamed): poll each on its own.
        missing = [t for r, t in wanted.items() if r not in found]
        for tracker in missing:
            await self.budget.acquire()
            await self._poll_one(tracker)

    def _observed(self, tracker: SpaceTracker, runtime: SpaceRuntime, now: float) -> None:
        transition = tracker.observe(runtime, now)
        if transition is not None and tracker.repo_id in self._trackers:
            self._deliver(transition)

    def _failed(self, tracker: SpaceTracker, error: BaseException, *, permanent_ok: bool = True) -> None:
        self.stats.count_failure(error)
        if permanent_ok and is_permanent(error):
            self.remove(tracker.repo_id)
            self.errors[tracker.repo_id] = error
            if self.on_permanent_error == "raise":
                self._fatal = error
                self._wake_consumer.set()
            return
        tracker.fail(error, self.client.clock.now(), getattr(error, "retry_after", None))

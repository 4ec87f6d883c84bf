"""The watch engine: a Space's life as an async iterator of :class:`Transition` events.

Three layers, each usable on its own:

* :func:`detect_changes` and :class:`SpaceTracker` (pure): what changed between two
  polls of one Space, and when to poll it next (:class:`Cadence`).
* Two drivers: :class:`SpaceWatch` polls one Space inline (no background task, so
  ``break`` leaves nothing behind) and :class:`Watcher` schedules many Spaces from
  one task group, with bounded concurrency, priority to transitional Spaces, batch
  polling by author, and a coalescing buffer per Space. Both spend the client's
  :class:`~aiospace.budget.RateBudget`.
* :func:`wait_for_space`: a waiter on :class:`SpaceWatch`.

The engine sits on the session's public surface only (:meth:`HubSession.get_space_runtime`,
:meth:`HubSession.author_runtimes`, :meth:`HubSession.fetch_space_logs`,
:meth:`HubSession.subscribe`, :attr:`HubSession.budget`): it never builds a request.

Honest semantics: a failed poll is never a transition; a transition is only ever
reported for a change two successful polls showed.
"""

from __future__ import annotations

import contextlib
import enum
import heapq
import logging
import math
import random
import weakref
from collections import Counter, deque
from collections.abc import Callable
from types import TracebackType
from typing import Literal

import anyio
import attrs
from anyio.abc import TaskGroup

from ._clock import Clock
from ._validate import check_flavor, check_repo_id
from .budget import Exchange, RateBudget
from .errors import (
    AiospaceError,
    HubHTTPError,
    InvalidArgumentError,
    RateLimitedError,
    SpaceFailedError,
    TransportError,
    WaitTimeoutError,
)
from .models import SpaceHardware, SpaceRuntime, SpaceStage
from .session import HubSession

__all__ = [
    "Cadence",
    "Change",
    "SpaceTracker",
    "SpaceWatch",
    "Transition",
    "WatchStats",
    "Watcher",
    "detect_changes",
    "wait_for_space",
]

log = logging.getLogger("aiospace.watch")

#: What a :class:`Watcher` does when a Space's poll fails for good (404, 401, 403, 400).
PermanentErrorMode = Literal["raise", "drop"]


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

    def merge(self, later: Transition) -> Transition | None:
        """This transition and a later one of the same Space, as one; None if they cancel out.

        The changes are recomputed from the merged ends (``self.previous`` to
        ``later.current``): RUNNING -> RUNNING_BUILDING -> RUNNING is no change at all.
        """
        changes = detect_changes(self.previous, later.current)
        if not changes:
            return None
        return Transition(self.repo_id, self.previous, later.current, changes, later.observed_at)


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
        numbers = (self.fast, self.slow, self.backoff, self.jitter, self.after_write, self.error_max)
        if not all(isinstance(n, (int, float)) and math.isfinite(n) for n in numbers):
            raise InvalidArgumentError("cadence", "every interval must be a finite number")
        if not 0 < self.fast <= self.slow:
            raise InvalidArgumentError("cadence", "needs 0 < fast <= slow")
        if self.backoff < 1 or not 0 <= self.jitter < 1:
            raise InvalidArgumentError("cadence", "needs backoff >= 1 and 0 <= jitter < 1")
        if self.after_write < 0 or self.error_max < self.fast:
            raise InvalidArgumentError("cadence", "needs after_write >= 0 and error_max >= fast")


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
    #: A poll of this Space is under way (a Watcher never polls one Space twice at once).
    in_flight: bool = False

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


async def _wait_event(event: anyio.Event, clock: Clock, hub_seconds: float) -> None:
    with anyio.move_on_after(max(0.0, hub_seconds) / clock.speed):
        await event.wait()


class _WeakListener:
    """A subscribe() listener that doesn't keep its watch alive.

    A watch left by ``break`` without ``aclose()`` is garbage once the loop drops it;
    its listener then unsubscribes itself at the next answer, instead of living (and
    costing time on every request) as long as the client.
    """

    __slots__ = ("_target", "unsubscribe")

    def __init__(self, target: SpaceWatch) -> None:
        self._target = weakref.ref(target)
        self.unsubscribe: Callable[[], None] | None = None

    def __call__(self, exchange: Exchange) -> None:
        target = self._target()
        if target is not None:
            target._on_exchange(exchange)
        elif self.unsubscribe is not None:
            self.unsubscribe()
            self.unsubscribe = None


class SpaceWatch:
    """Transitions of one Space, polled inline by the consumer's own task.

    No background task: a ``break`` out of ``async for`` leaves nothing running (its
    listener on the client goes with the watch). Made by :meth:`SpaceClient.watch`.
    Iterating raises the poll's error when it fails for good (a 4xx but 429: see
    :func:`is_permanent`); every other failure is retried and counted in ``stats``.
    """

    def __init__(
        self,
        client: HubSession,
        repo_id: str,
        *,
        cadence: Cadence | None = None,
        budget: RateBudget | None = None,
        seed: int | None = None,
    ) -> None:
        self.client = client
        self.repo_id = check_repo_id(repo_id)
        self.tracker = SpaceTracker(repo_id, cadence or Cadence(), random.Random(seed))
        self.budget = budget or client.budget
        self.stats = WatchStats()
        self._woken = anyio.Event()
        self._listener: _WeakListener | None = None
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
        if self._listener is not None and self._listener.unsubscribe is not None:
            self._listener.unsubscribe()
            self._listener.unsubscribe = None
        self._listener = None

    @property
    def last(self) -> SpaceRuntime | None:
        """The latest runtime observed."""
        return self.tracker.last

    def _on_exchange(self, exchange: Exchange) -> None:
        if exchange.wrote_to == self.repo_id:
            self.tracker.wrote(self.client.clock.now())
            self._woken.set()

    async def __anext__(self) -> Transition:
        if self._closed:
            raise StopAsyncIteration
        if self._listener is None:
            self._listener = _WeakListener(self)
            self._listener.unsubscribe = self.client.subscribe(self._listener)
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
                runtime = await self.client.get_space_runtime(self.repo_id, retry=False)
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

    Args:
        client: the session to poll through (its rate budget is shared).
        cadence: poll intervals (:class:`Cadence`).
        concurrency: polls under way at once.
        quota: requests per ``window`` the client's budget allows (None: as the Hub says).
        window: the budget's window in Hub seconds.
        batch: refresh an author's Spaces with one listing when that saves requests.
        batch_min: watched Spaces an author needs before its listing is used.
        buffer: undelivered transitions kept per Space before merging.
        on_permanent_error: ``"raise"`` ends the iteration with the error of a Space
            that fails for good (404, 401, 403, 400); ``"drop"`` stops watching that
            Space, keeps its error in :attr:`errors` and goes on.
        seed: seeds the jitter, for reproducible runs.

    Raises :class:`~aiospace.errors.InvalidArgumentError` for a bad argument. Errors
    raised in the ``async with`` body reach the caller as themselves.
    """

    def __init__(
        self,
        client: HubSession,
        *,
        cadence: Cadence | None = None,
        concurrency: int = 8,
        quota: int | None = None,
        window: float | None = None,
        batch: bool = True,
        batch_min: int = 3,
        buffer: int = 8,
        on_permanent_error: PermanentErrorMode = "raise",
        seed: int | None = None,
    ) -> None:
        for name, value in (("concurrency", concurrency), ("buffer", buffer), ("batch_min", batch_min)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(name, f"{value!r} must be an int >= 1")
        if on_permanent_error not in ("raise", "drop"):
            raise InvalidArgumentError("on_permanent_error", "must be 'raise' or 'drop'")
        self.client = client
        self.cadence = cadence or Cadence()
        self.budget = client.budget
        if quota is not None or window is not None:
            self.budget.configure(quota, window)
        self.concurrency = concurrency
        self.batch = batch
        self.batch_min = batch_min
        self.buffer = buffer
        self.on_permanent_error: PermanentErrorMode = on_permanent_error
        self.stats = WatchStats()
        #: Spaces dropped after a permanent error, with that error.
        self.errors: dict[str, BaseException] = {}
        self._rng = random.Random(seed)
        self._trackers: dict[str, SpaceTracker] = {}
        self._heap: list[tuple[float, int, SpaceTracker]] = []
        self._seq = 0
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
        #: Authors whose listing the Hub refused: their Spaces are polled one by one.
        self._unlisted_authors: set[str] = set()
        self._ready_heap: list[tuple[bool, float, int, SpaceTracker]] = []

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Watcher:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._unsubscribe = self.client.subscribe(self._on_exchange)
        self._task_group.start_soon(self._schedule)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        try:
            # The body's own exception is not handed to the task group, so it reaches the
            # caller as itself (never wrapped in an ExceptionGroup). The scheduler keeps its
            # failures to itself (see _schedule), so the group can only end cancelled here.
            await self._task_group.__aexit__(None, None, None)
        finally:
            self._task_group = None
            self._wake_consumer.set()

    # ------------------------------------------------------------------ membership

    def add(self, *repo_ids: str) -> None:
        """Start watching Spaces (a Space already watched is left as it is).

        Raises :class:`~aiospace.errors.InvalidArgumentError` for a bad repo id (before any is added).
        """
        for repo_id in repo_ids:
            check_repo_id(repo_id)
        now = self.client.clock.now()
        for repo_id in repo_ids:
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
        """The tracker of a watched Space (last runtime, counters, last error); KeyError if not watched."""
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
        queue = self._pending.get(transition.repo_id)
        if queue is None:
            queue = self._pending[transition.repo_id] = deque()
        if not queue:
            self._ready.append(transition.repo_id)
        queue.append(transition)
        self.stats.transitions += 1
        if len(queue) > self.buffer:
            # The consumer is behind: merge the two oldest, keep the newest intact.
            first = queue.popleft()
            merged = first.merge(queue[0])
            if merged is None:
                queue.popleft()  # they cancel out (RUNNING -> RUNNING_BUILDING -> RUNNING)
                self.stats.transitions -= 1
            else:
                queue[0] = merged
            self.stats.coalesced += 1
            self.stats.transitions -= 1
        self._wake_consumer.set()

    # ------------------------------------------------------------------ scheduler side

    def _push(self, tracker: SpaceTracker) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (tracker.next_due, self._seq, tracker))

    def _is_current(self, tracker: SpaceTracker, when: float) -> bool:
        """Still watched (not removed, nor removed and added again), idle, and due at ``when``."""
        return (
            self._trackers.get(tracker.repo_id) is tracker
            and not tracker.in_flight
            and tracker.next_due == when
        )

    def _on_exchange(self, exchange: Exchange) -> None:
        repo_id = exchange.wrote_to
        tracker = self._trackers.get(repo_id) if repo_id else None
        if tracker is not None:
            tracker.wrote(self.client.clock.now())
            self._push(tracker)
            self._wake_scheduler.set()

    def _move_due(self, now: float) -> None:
        """Move every tracker due by ``now`` to the ready queue, urgent ones first."""
        while self._heap and self._heap[0][0] <= now:
            when, seq, tracker = heapq.heappop(self._heap)
            if self._is_current(tracker, when):
                heapq.heappush(self._ready_heap, (not tracker.urgent, when, seq, tracker))

    def _next_ready(self) -> SpaceTracker | None:
        while self._ready_heap:
            _, when, _, tracker = heapq.heappop(self._ready_heap)
            if self._is_current(tracker, when):
                return tracker
        return None

    async def _schedule(self) -> None:
        try:
            await self._dispatch()
        except Exception as error:  # a bug of ours: hand it to the consumer, never to the task group
            log.exception("the watcher's scheduler failed")
            self._fatal = error
            self._wake_consumer.set()

    async def _dispatch(self) -> None:
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
                    member.in_flight = True
                polls.start_soon(self._poll, author, group)

    def _batch_for(self, tracker: SpaceTracker, now: float) -> tuple[str | None, list[SpaceTracker]]:
        """Poll ``tracker`` alone, or its author's whole listing when that saves requests.

        A listing refreshes every watched Space of the author, so it takes along those
        due within the next ``fast`` interval too: their polls realign on the listing.
        """
        author = tracker.repo_id.split("/")[0]
        names = self._by_author.get(author, ())
        if (
            not self.batch
            or len(names) < self.batch_min
            or author in self._unlisted_authors
            or self._no_batch_until.get(author, -1.0) > now
        ):
            return None, [tracker]
        horizon = now + self.cadence.fast
        members = [t for t in (self._trackers.get(r) for r in names) if t is not None and not t.in_flight]
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
                tracker.in_flight = False
                if self._trackers.get(tracker.repo_id) is tracker:
                    self._push(tracker)
            self._limiter.release()
            self._wake_scheduler.set()

    async def _poll_one(self, tracker: SpaceTracker) -> None:
        clock = self.client.clock
        self.stats.requests += 1
        self.stats.polls[tracker.repo_id] += 1
        try:
            runtime = await self.client.get_space_runtime(tracker.repo_id, retry=False)
        except (HubHTTPError, TransportError) as error:
            self._failed(tracker, error)
            return
        self._observed(tracker, runtime, clock.now())

    async def _poll_author(self, author: str, trackers: list[SpaceTracker]) -> None:
        wanted = {t.repo_id: t for t in trackers}
        pages = 1
        self.stats.requests += 1
        self.stats.batch_requests += 1

        async def next_page() -> None:
            nonlocal pages
            await self.budget.acquire()
            pages += 1
            self.stats.requests += 1
            self.stats.batch_requests += 1

        try:
            found = await self.client.author_runtimes(
                author, spaces=wanted, retry=False, before_page=next_page
            )
        except (HubHTTPError, TransportError) as error:
            if is_permanent(error):
                # This author's listing is refused: poll its Spaces one by one from now on.
                self._unlisted_authors.add(author)
            for tracker in trackers:
                self._failed(tracker, error, permanent_ok=False)
            return
        self._author_pages[author] = pages
        now = self.client.clock.now()
        for repo_id, tracker in wanted.items():
            runtime = found.get(repo_id)
            if runtime is not None:
                self.stats.polls[repo_id] += 1
                self._observed(tracker, runtime, now)
        # Missing from the listing (private, renamed, or unreadable): poll each on its own.
        for repo_id, tracker in wanted.items():
            if repo_id not in found:
                await self.budget.acquire()
                await self._poll_one(tracker)

    def _observed(self, tracker: SpaceTracker, runtime: SpaceRuntime, now: float) -> None:
        transition = tracker.observe(runtime, now)
        if transition is not None and self._trackers.get(tracker.repo_id) is tracker:
            self._deliver(transition)

    def _failed(self, tracker: SpaceTracker, error: BaseException, *, permanent_ok: bool = True) -> None:
        self.stats.count_failure(error)
        if permanent_ok and is_permanent(error):
            if self._trackers.get(tracker.repo_id) is tracker:
                self.remove(tracker.repo_id)
            self.errors[tracker.repo_id] = error
            if self.on_permanent_error == "raise":
                self._fatal = error
                self._wake_consumer.set()
            return
        tracker.fail(error, self.client.clock.now(), getattr(error, "retry_after", None))


# --------------------------------------------------------------------------- waiting


def _target_stage(stage: SpaceStage | str) -> SpaceStage:
    """A known stage, any case (``"running"``); an unknown one would never be reached."""
    if isinstance(stage, str):
        found = SpaceStage.__members__.get(stage.upper())
        if found is not None:
            return found
    raise InvalidArgumentError(
        "stage", f"{stage!r} is not a known stage ({', '.join(SpaceStage.__members__)})"
    )


async def wait_for_space(
    client: HubSession,
    repo_id: str,
    *,
    timeout: float | None = None,
    stage: SpaceStage | str = SpaceStage.RUNNING,
    hardware: SpaceHardware | str | None = None,
    until: Callable[[SpaceRuntime], bool] | None = None,
    cadence: Cadence | None = None,
    log_lines: int = 20,
    log_timeout: float = 30.0,
    on_transition: Callable[[Transition], None] | None = None,
) -> SpaceRuntime:
    """Wait until the Space reaches ``stage`` (``RUNNING``), on ``hardware`` if given.

    ``until`` replaces that test with any predicate on the runtime. Returns the final
    runtime. ``on_transition`` hears every transition seen on the way (for progress).

    Raises:
        SpaceFailedError: the Space landed in an error stage; it carries the runtime and
            the last ``log_lines`` lines of its build or run log (read within
            ``log_timeout`` Hub seconds, even past ``timeout``: the failure wins).
        WaitTimeoutError: ``timeout`` Hub seconds went by; it carries the last runtime.
        InvalidArgumentError: an unknown ``stage``, a bad flavor or timeout (before any request).
        HubHTTPError: the Space is gone or out of reach (404, 401, 403).
    """
    want_stage = _target_stage(stage)
    want_hardware = None if hardware is None else check_flavor(hardware)
    check_repo_id(repo_id)
    for name, value in (("timeout", timeout), ("log_timeout", log_timeout)):
        if value is not None and not (
            isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= math.inf
        ):
            raise InvalidArgumentError(name, f"{value!r} must be a number of seconds >= 0")

    def reached(runtime: SpaceRuntime) -> bool:
        if until is not None:
            return until(runtime)
        if runtime.stage != want_stage:
            return False
        return want_hardware is None or (
            runtime.hardware == want_hardware and runtime.requested_hardware == want_hardware
        )

    clock = client.clock
    failed: SpaceRuntime | None = None
    async with SpaceWatch(client, repo_id, cadence=cadence) as watch:
        with anyio.move_on_after(math.inf if timeout is None else timeout / clock.speed):
            async for transition in watch:
                if on_transition is not None:
                    on_transition(transition)
                runtime = transition.current
                if reached(runtime):
                    return runtime
                if runtime.is_error:
                    failed = runtime
                    break
    if failed is None:
        raise WaitTimeoutError(repo_id, timeout or 0.0, watch.last)
    lines: list[str] = []
    with anyio.move_on_after(log_timeout / clock.speed):
        lines = await log_tail(client, repo_id, failed, log_lines)
    raise SpaceFailedError(repo_id, failed, lines)


async def log_tail(client: HubSession, repo_id: str, runtime: SpaceRuntime, count: int) -> list[str]:
    """The last ``count`` lines of the log that explains ``runtime``'s stage (best effort: [] on failure).

    The build log for a stage of the build (``BUILD_ERROR``, ``CONFIG_ERROR``,
    ``NO_APP_FILE``), the run log otherwise.
    """
    if count <= 0:
        return []
    build = runtime.stage in (SpaceStage.BUILD_ERROR, SpaceStage.CONFIG_ERROR, SpaceStage.NO_APP_FILE)
    tail: deque[str] = deque(maxlen=count)
    try:
        async with contextlib.aclosing(client.fetch_space_logs(repo_id, build=build)) as lines:
            async for line in lines:
                tail.append(line)
    except AiospaceError as exc:
        log.debug("could not read the logs of %s: %s", repo_id, exc)
    return list(tail)

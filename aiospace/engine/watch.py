"""The watch engine's drivers: a Space's life as an async iterator of transitions.

* :class:`SpaceWatch` polls one Space inline (no background task, so ``break``
  leaves nothing behind).
* :class:`Watcher` schedules many Spaces from one task group, with bounded
  concurrency, priority to transitional Spaces, batch polling by author, and a
  coalescing buffer per Space.

Both spend the client's :class:`~aiospace._http.budget.RateBudget` and sit on the session's
public surface only (:meth:`HubClient.get_space_runtime`, :meth:`HubClient.space_info`,
:meth:`HubClient.author_runtimes`, :meth:`HubClient.subscribe`,
:attr:`HubClient.budget`): the engine never builds a request. Both report a Space
that stays in one transitional stage past its limit as ``Change.STALLED``
(:data:`~aiospace.engine.transitions.DEFAULT_STALL_AFTER`, or ``stall_after``). What a transition is,
and when to poll, is in :mod:`aiospace.engine.transitions`; waiting is in :mod:`aiospace.engine.wait`.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import weakref
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Literal

import anyio
import attrs
from anyio.abc import TaskGroup

from .._clock import Clock
from .._http.budget import BudgetShare, Exchange, RateBudget
from .._hub.retry import backoff
from .._hub.validate import check_flag, check_repo_id
from ..errors import (
    AiospaceError,
    BadAnswerError,
    HubHTTPError,
    InvalidArgumentError,
    RateLimitedError,
    TransportError,
)
from ..models import SpaceInfo, SpaceRuntime
from ._client import HubClient
from .transitions import (
    DEFAULT_STALL_AFTER,
    Cadence,
    SpaceTracker,
    StallAfter,
    Transition,
    WatchStats,
    check_cadence,
    is_permanent,
    seeded_rng,
    stall_limits,
)

__all__ = ["INFO_EXPAND", "PermanentErrorMode", "Poll", "SpaceWatch", "Watcher"]

#: What a watch with ``poll_info`` asks of the Space's info: the head commit, the SDK and the runtime.
INFO_EXPAND = ("sha", "sdk", "runtime")


@attrs.frozen
class Poll:
    """One successful poll of a :class:`SpaceWatch`: the runtime, and what it changed.

    ``transition`` is None when nothing worth reporting changed; ``info`` is the
    Space's info (head ``sha``, ``sdk``) when the watch polls it (``poll_info``).
    """

    runtime: SpaceRuntime
    transition: Transition | None
    info: SpaceInfo | None
    #: When it was observed, in the client's clock (Hub seconds).
    observed_at: float


log = logging.getLogger("aiospace.engine.watch")

#: The share of the client's quota a :class:`Watcher` polling by its cadence may use: the
#: rest is left for the caller's own calls.
CADENCE_SHARE = 0.8

#: Real seconds early a Watcher may poll a Space rather than set a timer for it.
_SLACK = 0.002

#: Spaces backing off from a failed poll a Watcher spending a share looks past for one to poll early.
_EARLY_SCAN = 64

#: What a :class:`Watcher` does when a Space's poll fails for good (404, 401, 403, 400).
PermanentErrorMode = Literal["raise", "drop"]


async def _wait_event(event: asyncio.Event, clock: Clock, hub_seconds: float) -> None:
    """Wait until ``event`` is set or ``hub_seconds`` have passed (a timer, not a cancel scope: cheap)."""
    if event.is_set():
        return
    handle = asyncio.get_running_loop().call_later(max(0.0, hub_seconds) / clock.speed, event.set)
    try:
        await event.wait()
    finally:
        handle.cancel()


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
    :func:`is_permanent`), or the last of ``cadence.max_bad_answers`` unreadable answers
    in a row (:class:`~aiospace.errors.BadAnswerError`); every other failure is retried
    with backoff and counted in ``stats``.

    ``stall_after`` sets the stall limits (:func:`~aiospace.engine.transitions.stall_limits`;
    None: no ``STALLED`` transition). With ``poll_info``, each poll reads the Space's
    info (:data:`INFO_EXPAND`: head commit, SDK, runtime) instead of its runtime alone,
    still one request; :attr:`info` is the latest.
    """

    def __init__(
        self,
        client: HubClient,
        repo_id: str,
        *,
        cadence: Cadence | None = None,
        budget: RateBudget | None = None,
        seed: int | None = None,
        stall_after: StallAfter | None = DEFAULT_STALL_AFTER,
        poll_info: bool = False,
    ) -> None:
        self.client = client
        self.repo_id = check_repo_id(repo_id)
        self.tracker = SpaceTracker(
            repo_id, check_cadence(cadence), seeded_rng(seed), stall_after=stall_limits(stall_after)
        )
        self.budget = budget or client.budget
        self.poll_info = poll_info
        #: The latest info read (``poll_info`` only).
        self.info: SpaceInfo | None = None
        self.stats = WatchStats()
        self._woken = asyncio.Event()
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
        while True:
            transition = (await self.poll()).transition
            if transition is not None:
                return transition

    async def poll(self) -> Poll:
        """Wait until the next poll is due, then poll until one succeeds; return it.

        Every successful poll, changed or not (iterating yields only the changes).
        Raises the poll's error when it fails for good, as iterating does.
        """
        if self._closed:
            raise InvalidArgumentError("watch", "this watch is closed")
        if self._listener is None:
            self._listener = _WeakListener(self)
            self._listener.unsubscribe = self.client.subscribe(self._listener)
        clock = self.client.clock
        tracker = self.tracker
        while True:
            wait = tracker.next_due - clock.now()
            if wait > 0:
                self._woken.clear()
                await _wait_event(self._woken, clock, wait)
                continue
            await self.budget.acquire()
            self.stats.requests += 1
            info = None
            try:
                if self.poll_info:
                    info = await self.client.space_info(self.repo_id, expand=INFO_EXPAND, retry=False)
                    runtime = info.runtime
                    if runtime is None:  # an info without its runtime: read it on its own
                        runtime = await self.client.get_space_runtime(self.repo_id, retry=False)
                else:
                    runtime = await self.client.get_space_runtime(self.repo_id, retry=False)
            except (HubHTTPError, TransportError) as error:
                if is_permanent(error):
                    await self.aclose()
                    raise
                self.stats.count_failure(error)
                tracker.fail(error, clock.now(), getattr(error, "retry_after", None))
                if tracker.gave_up:  # max_bad_answers unreadable answers: the schema changed
                    await self.aclose()
                    raise
                log.debug("poll of %s failed, retrying: %s", self.repo_id, error)
                continue
            now = clock.now()
            if info is not None:
                self.info = info
            transition = tracker.observe(runtime, now)
            if transition is not None:
                self.stats.transitions += 1
            return Poll(runtime, transition, info, now)


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
            that fails for good (404, 401, 403, 400, or ``cadence.max_bad_answers``
            unreadable answers in a row); ``"drop"`` stops watching that Space, keeps
            its error in :attr:`errors` and goes on.
        seed: seeds the jitter, for reproducible runs.
        budget_share: None (the default) polls by the ``cadence`` and never uses more
            than :data:`CADENCE_SHARE` (80%) of the quota, leaving the rest for the
            caller's own calls. A fraction in (0, 1] makes the watcher *spend* that share
            of the quota in every window: requests the cadence leaves unused refresh the
            stalest Spaces early (never one more often than every ``cadence.fast / 2``),
            changing Spaces first, and Spaces refreshed together by one author listing
            more often than those polled alone (their settled interval shrinks by the
            square root of the Spaces a request refreshes), which minimises the mean
            time to notice an unannounced change.
        stall_after: stall limits (:func:`~aiospace.engine.transitions.stall_limits`):
            a Space that stays in one transitional stage longer is reported once per
            stay with ``Change.STALLED``; None: never.

    Raises :class:`~aiospace.errors.InvalidArgumentError` for a bad argument. Errors
    raised in the ``async with`` body reach the caller as themselves.
    """

    def __init__(
        self,
        client: HubClient,
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
        budget_share: float | None = None,
        stall_after: StallAfter | None = DEFAULT_STALL_AFTER,
    ) -> None:
        self._stall_limits = stall_limits(stall_after)
        for name, value in (("concurrency", concurrency), ("buffer", buffer), ("batch_min", batch_min)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(name, f"{value!r} must be an int >= 1")
        if on_permanent_error not in ("raise", "drop"):
            raise InvalidArgumentError("on_permanent_error", "must be 'raise' or 'drop'")
        check_flag(batch, "batch")
        self.client = client
        self.cadence = check_cadence(cadence)
        if quota is not None or window is not None:
            client.budget.configure(quota, window)
        #: Spend the budget share (True) or poll by the cadence (False).
        self.eager = budget_share is not None
        self.budget = BudgetShare(client.budget, CADENCE_SHARE if budget_share is None else budget_share)
        self.concurrency = concurrency
        self.batch = batch
        self.batch_min = batch_min
        self.buffer = buffer
        self.on_permanent_error: PermanentErrorMode = on_permanent_error
        self.stats = WatchStats()
        #: Spaces dropped after a permanent error, with that error.
        self.errors: dict[str, BaseException] = {}
        self._rng = seeded_rng(seed)
        self._trackers: dict[str, SpaceTracker] = {}
        self._heap: list[tuple[float, int, SpaceTracker]] = []
        self._seq = 0
        self._pending: dict[str, deque[Transition]] = {}
        self._ready: deque[str] = deque()
        self._fatal: BaseException | None = None
        self._wake_picker = asyncio.Event()
        #: Hub time the picking worker sleeps until (a push due before it wakes it).
        self._picker_until = math.inf
        self._now = 0.0  # the picking worker's "now" (Hub time)
        #: Spending a share: the turn of the latest resting Space picked (stride scheduling).
        self._virtual = -math.inf
        self._picking = asyncio.Lock()
        self._wake_consumer = anyio.Event()
        self._task_group: TaskGroup | None = None
        self._entered = False
        self._unsubscribe: Callable[[], None] | None = None
        self._author_pages: dict[str, int] = {}
        self._by_author: dict[str, set[str]] = {}
        self._no_batch_until: dict[str, float] = {}
        #: Listings of an author that failed in a row (transiently): its Spaces are polled one
        #: by one meanwhile, and the listing is tried again after a backoff.
        self._listing_failures: dict[str, int] = {}
        #: Authors whose listing the Hub refused: their Spaces are polled one by one.
        self._unlisted_authors: set[str] = set()
        self._ready_heap: list[tuple[bool, float, int, SpaceTracker]] = []

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Watcher:
        if self._task_group is not None:
            # A second task group would orphan the first one's workers (they polled on forever).
            raise InvalidArgumentError("watcher", "is running already: enter it with one `async with`")
        self._entered = True
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._unsubscribe = self.client.subscribe(self._on_exchange)
        for _ in range(self.concurrency):
            self._task_group.start_soon(self._worker)
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
            tracker = SpaceTracker(
                repo_id, self.cadence, self._rng, next_due=now, stall_after=self._stall_limits
            )
            self._trackers[repo_id] = tracker
            self._by_author.setdefault(repo_id.split("/")[0], set()).add(repo_id)
            self._push(tracker)
        self._wake_picker.set()

    def remove(self, *repo_ids: str) -> None:
        """Stop watching Spaces; their undelivered transitions are dropped."""
        for repo_id in repo_ids:
            self._trackers.pop(repo_id, None)
            self._pending.pop(repo_id, None)
            author = repo_id.split("/")[0]
            names = self._by_author.get(author)
            if names is not None:
                names.discard(repo_id)
                if not names:  # the author's last Space: forget what was learnt of its listing
                    del self._by_author[author]
                    self._no_batch_until.pop(author, None)
                    self._author_pages.pop(author, None)
                    self._listing_failures.pop(author, None)
                    self._unlisted_authors.discard(author)
        if len(self._ready) > 2 * len(self._pending) + 64:
            # Removed Spaces' turns that no consumer took: keep each waiting Space's first one.
            ready: deque[str] = deque()
            for repo_id in dict.fromkeys(self._ready):
                if self._pending.get(repo_id):
                    ready.append(repo_id)
            self._ready = ready

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
                if not self._entered:  # not a silent empty loop: nothing would ever be polled
                    raise InvalidArgumentError("watcher", "iterate it inside `async with client.watcher()`")
                raise StopAsyncIteration
            if self._wake_consumer.is_set():
                # A new event only once the old one fired: two consumers waiting share it, so
                # neither is left waiting on an event nobody will set.
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
        if tracker.next_due < self._picker_until:
            self._wake_picker.set()  # due before the picking worker meant to look again

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
            self._wake_picker.set()

    def _move_due(self, now: float) -> None:
        """Move every tracker due by ``now`` to the ready queue, urgent ones first."""
        while self._heap and self._heap[0][0] <= now:
            when, seq, tracker = heapq.heappop(self._heap)
            if self._is_current(tracker, when):
                heapq.heappush(self._ready_heap, (not tracker.urgent, when, seq, tracker))

    def _next_ready(self) -> SpaceTracker | None:
        """The most deserving Space due by ``self._now`` (changing ones first), or None."""
        heap = self._heap
        if not self._ready_heap and heap:
            # The common case: exactly one Space is due. Take it straight from the heap.
            when = heap[0][0]
            now_due = heap[1][0] if len(heap) > 1 else math.inf
            if len(heap) > 2:
                now_due = min(now_due, heap[2][0])
            if when <= self._now and now_due > self._now:
                _, _, tracker = heapq.heappop(heap)
                if self._is_current(tracker, when):
                    return tracker
        # Whatever came due since the last pick joins the ready ones first: a Space that
        # starts changing must not wait behind a backlog of resting ones.
        self._move_due(self._now)
        while self._ready_heap:
            _, when, _, tracker = heapq.heappop(self._ready_heap)
            if self._is_current(tracker, when):
                return tracker
        return None

    async def _worker(self) -> None:
        """One of ``concurrency`` pollers: pick the most deserving due Space, poll it, repeat.

        Long-lived workers rather than a task per poll: a poll costs no task creation.
        """
        try:
            while True:
                # One worker picks at a time: it takes a request from the budget first, then
                # the most deserving Space due by then (when the budget is tight, changing
                # Spaces go first).
                async with self._picking:
                    await self.budget.acquire()
                    author, group = await self._pick()
                await self._poll(author, group)
        except AiospaceError as error:  # the client was closed under the watcher, say: not a bug
            self._fatal = error
            self._wake_consumer.set()
        except Exception as error:  # a bug of ours: hand it to the consumer, never to the task group
            log.exception("a watcher worker failed")
            self._fatal = error
            self._wake_consumer.set()

    async def _pick(self) -> tuple[str | None, list[SpaceTracker]]:
        clock = self.client.clock
        # A Space due within a couple of real milliseconds is polled now: a timer per poll
        # would cost more than the poll is early (intervals carry +/- 10% jitter anyway).
        slack = _SLACK * clock.speed
        while True:
            now = clock.now()
            self._now = now + slack  # due by then counts as due now
            tracker = self._next_ready()
            early_at = math.inf
            if tracker is None and self.eager:
                tracker, early_at = self._early(now)
            if tracker is not None:
                break
            wait = min(self._heap[0][0] - now if self._heap else math.inf, early_at - now, 3600.0)
            self._picker_until = now + wait
            self._wake_picker.clear()
            await _wait_event(self._wake_picker, clock, wait)
        self._picker_until = math.inf
        author, group = self._batch_for(tracker, now)
        for member in group:
            member.in_flight = True
            member.attempted_at = now
        if self.eager and not tracker.urgent:
            self._virtual = max(self._virtual, min(tracker.next_due, now))
        return author, group

    @property
    def _min_gap(self) -> float:
        """The shortest time between two polls of one Space when spending a share early."""
        return self.cadence.fast / 2

    def _early(self, now: float) -> tuple[SpaceTracker | None, float]:
        """Spending a share: the Space due soonest, now, if it rested ``_min_gap`` since its last
        poll; else None and when to look again.

        A Space backing off from a failed poll is never polled early: it waits for its own
        turn (its backoff, or the Hub's ``Retry-After``).
        """
        heap = self._heap
        backing_off: list[tuple[float, int, SpaceTracker]] | None = None  # made only when needed
        try:
            while heap:
                when, _, tracker = heap[0]
                if not self._is_current(tracker, when):
                    heapq.heappop(heap)  # stale entry
                    continue
                if tracker.failures:
                    if backing_off is None:
                        backing_off = []
                    elif len(backing_off) >= _EARLY_SCAN:
                        return None, math.inf  # a failing Hub: no early polls until one is due
                    backing_off.append(heapq.heappop(heap))
                    continue
                rested_at = tracker.attempted_at + self._min_gap
                if now < rested_at:
                    return None, rested_at
                heapq.heappop(heap)
                return tracker, now
            return None, math.inf
        finally:
            for entry in backing_off or ():
                heapq.heappush(heap, entry)

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
        members = [t for t in (self._trackers.get(r) for r in names) if t is not None and not t.in_flight]
        worth = max(self.batch_min, self._author_pages.get(author, 1) + 1)
        if self.eager:
            # Spending a share: one listing refreshes them all for the price of one poll.
            return (author, members) if len(members) >= worth else (None, [tracker])
        horizon = now + self.cadence.fast
        due_soon = sum(1 for t in members if t.next_due <= horizon)
        if due_soon >= worth:
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

    async def _poll_one(self, tracker: SpaceTracker) -> None:
        clock = self.client.clock
        self.stats.requests += 1
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
            if author not in self._by_author:
                pass  # its Spaces were all removed meanwhile: nothing to learn for them
            elif is_permanent(error) or (isinstance(error, BadAnswerError) and error.reason != "not-json"):
                # This author's listing is refused, or can't be read: poll its Spaces one by
                # one from now on (a garbled answer may read fine next time: not counted).
                self._unlisted_authors.add(author)
            elif not isinstance(error, RateLimitedError):  # a 429 pauses everyone: nothing to learn
                # A listing that failed may fail again (its route down, say, while each Space
                # reads fine): poll the Spaces one by one meanwhile, not the listing again at once.
                failures = self._listing_failures.get(author, 0) + 1
                self._listing_failures[author] = failures
                delay = backoff(failures, self.cadence.fast, self.cadence.error_max)
                self._no_batch_until[author] = self.client.clock.now() + delay
            for tracker in trackers:
                self._failed(tracker, error, permanent_ok=False)
            return
        if author in self._by_author:
            self._listing_failures.pop(author, None)
            self._author_pages[author] = pages
        now = self.client.clock.now()
        base = None
        if self.eager:
            # One request refreshes len(wanted) Spaces: poll them more often (see budget_share),
            # and on one turn, the author's: the earliest of its Spaces'.
            scale = math.sqrt(pages / max(1, len(wanted)))
            for tracker in trackers:
                tracker.settled_scale = scale
            base = max(self._virtual, min(now, *(t.next_due for t in trackers)))
        for repo_id, tracker in wanted.items():
            runtime = found.get(repo_id)
            if runtime is not None:
                self._observed(tracker, runtime, now, base)
        # Missing from the listing (private, renamed, or unreadable): poll each on its own.
        for repo_id, tracker in wanted.items():
            if repo_id not in found:
                await self.budget.acquire()
                await self._poll_one(tracker)

    def _observed(
        self, tracker: SpaceTracker, runtime: SpaceRuntime, now: float, base: float | None = None
    ) -> None:
        if self.eager and base is None:
            base = max(self._virtual, min(now, tracker.next_due))  # its own turn, moved on by its interval
        transition = tracker.observe(runtime, now, base=base)
        if transition is not None and self._trackers.get(tracker.repo_id) is tracker:
            self._deliver(transition)

    def _failed(self, tracker: SpaceTracker, error: BaseException, *, permanent_ok: bool = True) -> None:
        self.stats.count_failure(error)
        if permanent_ok and is_permanent(error):
            self._give_up(tracker, error)
            return
        tracker.fail(error, self.client.clock.now(), getattr(error, "retry_after", None))
        if tracker.gave_up:  # max_bad_answers unreadable answers in a row: as a permanent failure
            self._give_up(tracker, error)

    def _give_up(self, tracker: SpaceTracker, error: BaseException) -> None:
        """Stop watching a Space that fails for good; raise its error or keep it (``on_permanent_error``)."""
        if self._trackers.get(tracker.repo_id) is not tracker:
            return  # removed meanwhile (perhaps added again): its old poll says nothing now
        self.remove(tracker.repo_id)
        self.errors[tracker.repo_id] = error
        if self.on_permanent_error == "raise":
            self._fatal = error
            self._wake_consumer.set()

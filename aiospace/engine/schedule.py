"""When a :class:`~aiospace.engine.watcher.Watcher` polls each Space, and with which others (no I/O).

:class:`Schedule` holds the watched Spaces' trackers and decides the next poll:

* the due queue: a Space is polled when its tracker's ``next_due`` comes; among those due,
  changing ones (:attr:`~aiospace.engine.transitions.SpaceTracker.urgent`) first;
* the budget share (``eager``): when the watcher spends a share of the quota, requests the
  cadence leaves unused poll the stalest resting Space early (never one twice within
  ``cadence.fast / 2``, never one backing off from a failure), and resting Spaces take
  turns by stride scheduling, so they keep their relative rates when the budget is short;
* author batches: one listing of an author refreshes all its watched Spaces when that
  costs fewer requests than polling them one by one; an author whose listing is refused
  or unreadable is polled Space by Space from then on, one whose listing failed
  transiently for a backoff.

Everything an author's batching learnt lives in one :class:`AuthorRecord`, dropped with
the author's last Space. The watcher tells the schedule what each poll did
(:meth:`Schedule.done`, :meth:`Schedule.turn`, :meth:`Schedule.listed`,
:meth:`Schedule.listing_failed`); the schedule never polls.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque

import attrs

from .._clock import Clock
from .._http.budget import BudgetShare
from .._hub.retry import backoff
from ..errors import BadAnswerError, RateLimitedError
from .transitions import Cadence, SpaceTracker, is_permanent

__all__ = ["AuthorRecord", "Batch", "Follow", "Schedule", "Turn", "wait_event"]

#: Real seconds early a Space may be polled rather than set a timer for it.
_SLACK = 0.002

#: Spaces backing off from a failed poll that an early pick looks past for one to poll early.
_EARLY_SCAN = 64

#: One poll: an author whose listing refreshes the trackers (None: the one tracker alone).
Batch = tuple[str | None, list[SpaceTracker]]


async def wait_event(event: asyncio.Event, clock: Clock, hub_seconds: float) -> None:
    """Return once ``event`` is set or ``hub_seconds`` have passed on ``clock``, whichever comes first."""
    if event.is_set():
        return
    # A timer, not a cancel scope: this runs once per poll, and a timer is cheap.
    handle = asyncio.get_running_loop().call_later(max(0.0, hub_seconds) / clock.speed, event.set)
    try:
        await event.wait()
    finally:
        handle.cancel()


class Turn:
    """The turn to pick (:meth:`Schedule.pick`), one worker at a time.

    Unlike an :class:`asyncio.Lock` (first come, first served), a worker that finds the turn
    free takes it at once, even while others wait: once workers queue for a lock, each turn
    is handed on with a future resolved and a task woken, and the queue never drains while
    every worker is back for its next turn before the queue empties (a poll's cost up 5%).
    A turn taken and given back without waiting in between costs nothing of the kind.
    """

    def __init__(self) -> None:
        #: A worker has the turn.
        self.busy = False
        self._waiting: deque[asyncio.Future[None]] = deque()

    def take(self) -> bool:
        """Take the turn if it is free (True), without waiting."""
        if self.busy:
            return False
        self.busy = True
        return True

    async def wait(self) -> None:
        """Wait until the turn is free, and take it."""
        loop = asyncio.get_running_loop()
        while self.busy:
            woken = loop.create_future()
            self._waiting.append(woken)
            try:
                await woken
            except BaseException:
                if woken in self._waiting:
                    self._waiting.remove(woken)
                elif not woken.cancelled() and not self.busy:
                    self.give_back()  # woken, then cancelled: the wake-up goes to the next in line
                raise
        self.busy = True

    def give_back(self) -> None:
        """End the turn: the longest waiting worker is woken (unless another takes the turn first)."""
        self.busy = False
        while self._waiting:
            woken = self._waiting.popleft()
            if not woken.done():
                woken.set_result(None)
                return


@attrs.define
class AuthorRecord:
    """What the schedule knows of one author's watched Spaces and of its listing."""

    #: The author's watched Spaces (repo ids).
    spaces: set[str] = attrs.field(factory=set)
    #: Pages its last successful listing took.
    pages: int = 1
    #: Hub time before which its Spaces are polled one by one (a listing not worth it, or failing).
    no_batch_until: float = -1.0
    #: Listings that failed in a row, transiently.
    listing_failures: int = 0
    #: The Hub refused its listing, or answered it unreadably: never listed again.
    unlisted: bool = False


@attrs.define
class Follow:
    """A followed author (:meth:`~aiospace.engine.watcher.Watcher.follow`): its interval, its Spaces."""

    #: Hub seconds between two listings.
    every: float
    #: The Spaces its listings added (and not removed since).
    spaces: set[str] = attrs.field(factory=set)
    #: Spaces the caller removed: kept out while its listing still shows them.
    gone: set[str] = attrs.field(factory=set)


class Schedule:
    """The watched Spaces' trackers, and which to poll next (one event loop; never polls itself).

    ``eager`` spends the watcher's budget share (see the module); ``batch`` allows author
    listings once an author has ``batch_min`` watched Spaces.
    """

    def __init__(self, clock: Clock, cadence: Cadence, *, eager: bool, batch: bool, batch_min: int) -> None:
        self.clock = clock
        self.cadence = cadence
        self.eager = eager
        self.batch = batch
        self.batch_min = batch_min
        #: The watched Spaces' trackers, by repo id.
        self.trackers: dict[str, SpaceTracker] = {}
        #: One record per author with a watched Space.
        self.authors: dict[str, AuthorRecord] = {}
        self._heap: list[tuple[float, int, SpaceTracker]] = []
        #: Polling by the cadence: the urgent Spaces' polls, apart (one heap operation each way per
        #: poll rather than a move through the ready queue: on 10,000 Spaces, all due, that move
        #: is two more operations on a heap of thousands per poll). Spending a share: unused.
        self._urgent: list[tuple[float, int, SpaceTracker]] = []
        self._ready_heap: list[tuple[bool, float, int, SpaceTracker]] = []
        self._seq = 0
        self._turn = Turn()  # to take a request and pick
        self._wake = asyncio.Event()
        #: Hub time the picker sleeps until (a Space due before it wakes it).
        self._sleeping_until = math.inf
        self._now = 0.0  # the picker's "now" (Hub time)
        #: Spending a share: the turn of the latest resting Space picked (stride scheduling).
        self._virtual = -math.inf

    # ------------------------------------------------------------------ membership

    def add(self, tracker: SpaceTracker) -> None:
        """Schedule a new tracker (its first poll at its ``next_due``)."""
        repo_id = tracker.repo_id
        self.trackers[repo_id] = tracker
        record = self.authors.get(repo_id.split("/")[0])
        if record is None:
            record = self.authors[repo_id.split("/")[0]] = AuthorRecord()
        record.spaces.add(repo_id)
        self.push(tracker)

    def remove(self, repo_id: str) -> None:
        """Forget a Space; with the author's last Space, everything learnt of the author."""
        self.trackers.pop(repo_id, None)
        author = repo_id.split("/")[0]
        record = self.authors.get(author)
        if record is not None:
            record.spaces.discard(repo_id)
            if not record.spaces:
                del self.authors[author]

    def wake(self) -> None:
        """Have the picker look again now (Spaces were added, or one was written to)."""
        self._wake.set()

    def wrote(self, repo_id: str) -> None:
        """A write to ``repo_id`` went through the client: poll it soon, and fast for a while."""
        tracker = self.trackers.get(repo_id)
        if tracker is not None:
            tracker.wrote(self.clock.now())
            self.push(tracker)
            self._wake.set()

    def push(self, tracker: SpaceTracker) -> None:
        """Queue ``tracker``'s next poll at its ``next_due``."""
        self._seq += 1
        heap = self._urgent if not self.eager and tracker.urgent else self._heap
        heapq.heappush(heap, (tracker.next_due, self._seq, tracker))
        if tracker.next_due < self._sleeping_until:
            self._wake.set()  # due before the picker meant to look again

    def _is_current(self, tracker: SpaceTracker, when: float) -> bool:
        """Still watched (not removed, nor removed and added again), idle, and due at ``when``."""
        return (
            self.trackers.get(tracker.repo_id) is tracker
            and not tracker.in_flight
            and tracker.next_due == when
        )

    # ------------------------------------------------------------------ picking

    async def pick(self, budget: BudgetShare) -> Batch:
        """Wait for a request of ``budget``, then for the most deserving Space due by then;
        return it with the Spaces one request refreshes (when the budget is tight, changing
        Spaces go first).

        One caller at a time takes its request and picks; the others wait their :class:`Turn`.
        The Spaces returned are marked in flight (never picked twice at once) until :meth:`done`.
        """
        clock = self.clock
        # A Space due within a couple of real milliseconds is polled now: a timer per poll
        # would cost more than the poll is early (intervals carry +/- 10% jitter anyway).
        slack = _SLACK * clock.speed
        turn = self._turn
        if not turn.take():
            await turn.wait()
        try:
            await budget.acquire()
            while True:
                now = clock.now()
                self._now = now + slack  # due by then counts as due now
                tracker = self._next_ready()
                early_at = math.inf
                if tracker is None and self.eager:
                    tracker, early_at = self._early(now)
                if tracker is not None:
                    break
                due = min(
                    self._heap[0][0] if self._heap else math.inf,
                    self._urgent[0][0] if self._urgent else math.inf,
                )
                wait = min(due - now, early_at - now, 3600.0)
                self._sleeping_until = now + wait
                self._wake.clear()
                await wait_event(self._wake, clock, wait)
            self._sleeping_until = math.inf
            author, group = self._batch_for(tracker, now)
            for member in group:
                member.in_flight = True
                member.attempted_at = now
            if self.eager and not tracker.urgent:
                self._virtual = max(self._virtual, min(tracker.next_due, now))
            return author, group
        finally:
            turn.give_back()

    def done(self, trackers: list[SpaceTracker]) -> None:
        """The poll of ``trackers`` ended: queue each one still watched at its new ``next_due``."""
        for tracker in trackers:
            tracker.in_flight = False
            if self.trackers.get(tracker.repo_id) is tracker:
                self.push(tracker)

    def _move_due(self, now: float) -> None:
        """Move every tracker due by ``now`` to the ready queue, urgent ones first."""
        while self._heap and self._heap[0][0] <= now:
            when, seq, tracker = heapq.heappop(self._heap)
            if self._is_current(tracker, when):
                heapq.heappush(self._ready_heap, (not tracker.urgent, when, seq, tracker))

    def _next_ready(self) -> SpaceTracker | None:
        """The most deserving Space due by ``self._now`` (changing ones first), or None."""
        if not self.eager:
            # By the cadence: urgent Spaces were queued apart (see push), each heap in order of due.
            for queue in (self._urgent, self._heap):
                while queue and queue[0][0] <= self._now:
                    when, _, tracker = heapq.heappop(queue)
                    if self._is_current(tracker, when):
                        return tracker
            return None
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

    def _early(self, now: float) -> tuple[SpaceTracker | None, float]:
        """Spending a share: the Space due soonest, if it rested ``cadence.fast / 2`` since its last
        poll; else None and when to look again. A Space backing off is left to its own turn."""
        heap = self._heap
        min_gap = self.cadence.fast / 2
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
                rested_at = tracker.attempted_at + min_gap
                if now < rested_at:
                    return None, rested_at
                heapq.heappop(heap)
                return tracker, now
            return None, math.inf
        finally:
            for entry in backing_off or ():
                heapq.heappush(heap, entry)

    # ------------------------------------------------------------------ author batches

    def _batch_for(self, tracker: SpaceTracker, now: float) -> Batch:
        """Poll ``tracker`` alone, or its author's whole listing when that saves requests.

        A listing refreshes every watched Space of the author, so it takes along those
        due within the next ``fast`` interval too: their polls realign on the listing.
        """
        if not self.batch:
            return None, [tracker]
        author = tracker.repo_id.split("/")[0]
        record = self.authors.get(author)
        if (
            record is None
            or len(record.spaces) < self.batch_min
            or record.unlisted
            or record.no_batch_until > now
        ):
            return None, [tracker]
        trackers = (self.trackers.get(r) for r in record.spaces)
        members = [t for t in trackers if t is not None and not t.in_flight]
        worth = max(self.batch_min, record.pages + 1)
        if self.eager:
            # Spending a share: one listing refreshes them all for the price of one poll.
            return (author, members) if len(members) >= worth else (None, [tracker])
        horizon = now + self.cadence.fast
        due_soon = sum(1 for t in members if t.next_due <= horizon)
        if due_soon >= worth:
            return author, members
        # Not worth it now; don't count again for a while (keeps picking O(log n)).
        record.no_batch_until = now + self.cadence.fast / 2
        return None, [tracker]

    def turn(self, tracker: SpaceTracker, now: float) -> float | None:
        """Where a resting Space's next interval counts from after a poll at ``now``
        (:meth:`~aiospace.engine.transitions.SpaceTracker.observe`'s ``base``; None: from ``now``)."""
        if not self.eager:
            return None
        return max(self._virtual, min(now, tracker.next_due))  # its own turn, moved on by its interval

    def listed(self, author: str, trackers: list[SpaceTracker], pages: int, now: float) -> float | None:
        """An author listing of ``pages`` pages refreshed ``trackers``; the turn their polls count from."""
        record = self.authors.get(author)
        if record is not None:
            record.listing_failures = 0
            record.pages = pages
        if not self.eager:
            return None
        # One request refreshes len(trackers) Spaces: their settled interval shrinks by the square
        # root of that (what minimises the mean time to notice a change for a given budget).
        scale = math.sqrt(pages / max(1, len(trackers)))
        for tracker in trackers:
            tracker.settled_scale = scale
        return max(self._virtual, min(now, *(t.next_due for t in trackers)))

    def listing_failed(self, author: str, error: BaseException) -> None:
        """An author listing failed: list the author again after a backoff, or never (refused, unreadable)."""
        record = self.authors.get(author)
        if record is None:
            return  # its Spaces were all removed meanwhile: nothing to learn for them
        if is_permanent(error) or (isinstance(error, BadAnswerError) and error.reason != "not-json"):
            record.unlisted = True  # a garbled answer (not-json) may read fine next time: not counted
        elif not isinstance(error, RateLimitedError):  # a 429 pauses everyone: nothing to learn
            # Its route may be down while each Space reads fine: poll them one by one meanwhile.
            record.listing_failures += 1
            delay = backoff(record.listing_failures, self.cadence.fast, self.cadence.error_max)
            record.no_batch_until = self.clock.now() + delay

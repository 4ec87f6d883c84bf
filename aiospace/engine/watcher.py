"""Many Spaces' lives as one async iterator of transitions: :class:`Watcher`.

The watcher runs ``concurrency`` long-lived pollers in a task group of its own; which
Space each poll is for, and whether one author listing refreshes several, is its
:class:`~aiospace.engine.schedule.Schedule`'s decision. Transitions wait for the consumer
in a bounded, coalescing buffer per Space.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Literal

import anyio
from anyio.abc import TaskGroup

from .._http.budget import BudgetShare, Exchange, WritesOnly
from .._hub.validate import check_flag, check_repo_id
from ..errors import AiospaceError, HubHTTPError, InvalidArgumentError, TransportError
from ..models import SpaceRuntime
from ._client import HubClient
from .schedule import Schedule
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

__all__ = ["CADENCE_SHARE", "PermanentErrorMode", "Watcher"]

log = logging.getLogger("aiospace.watch")

#: The share of the client's quota a :class:`Watcher` polling by its cadence may use: the
#: rest is left for the caller's own calls.
CADENCE_SHARE = 0.8

#: What a :class:`Watcher` does when a Space's poll fails for good (404, 401, 403, 400).
PermanentErrorMode = Literal["raise", "drop"]


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
        client: the client to poll through (its rate budget is shared).
        cadence: poll intervals (:class:`~aiospace.engine.transitions.Cadence`).
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
            more often than those polled alone (see :mod:`aiospace.engine.schedule`).
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
        self.budget = BudgetShare(client.budget, CADENCE_SHARE if budget_share is None else budget_share)
        self.concurrency = concurrency
        self.buffer = buffer
        self.on_permanent_error: PermanentErrorMode = on_permanent_error
        self.stats = WatchStats()
        #: Spaces dropped after a permanent error, with that error.
        self.errors: dict[str, BaseException] = {}
        self._rng = seeded_rng(seed)
        self._schedule = Schedule(
            client.clock, self.cadence, eager=budget_share is not None, batch=batch, batch_min=batch_min
        )
        self._trackers = self._schedule.trackers  # the schedule's own map, read on every poll
        self._pending: dict[str, deque[Transition]] = {}
        self._ready: deque[str] = deque()
        self._fatal: BaseException | None = None
        self._picking = asyncio.Lock()
        self._wake_consumer = anyio.Event()
        self._task_group: TaskGroup | None = None
        self._entered = False
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def eager(self) -> bool:
        """Spends its budget share (True), or polls by the cadence (False)."""
        return self._schedule.eager

    @property
    def batch(self) -> bool:
        """Author listings are used when they save requests."""
        return self._schedule.batch

    @property
    def batch_min(self) -> int:
        """Watched Spaces an author needs before its listing is used."""
        return self._schedule.batch_min

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Watcher:
        if self._task_group is not None:
            # A second task group would orphan the first one's workers (they polled on forever).
            raise InvalidArgumentError("watcher", "is running already: enter it with one `async with`")
        self._entered = True
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        # It only looks for writes: no Exchange is built for its polls (WritesOnly).
        self._unsubscribe = self.client.subscribe(WritesOnly(self._on_exchange))
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
            # caller as itself (never wrapped in an ExceptionGroup). The workers keep their
            # failures to themselves (see _worker), so the group can only end cancelled here.
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
        limits = self._stall_limits
        for repo_id in repo_ids:
            if repo_id not in self._trackers:
                self._schedule.add(
                    SpaceTracker(repo_id, self.cadence, self._rng, next_due=now, stall_after=limits)
                )
        self._schedule.wake()

    def remove(self, *repo_ids: str) -> None:
        """Stop watching Spaces; their undelivered transitions are dropped."""
        for repo_id in repo_ids:
            self._schedule.remove(repo_id)
            self._pending.pop(repo_id, None)
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
        """The latest runtime observed for a Space (None: not watched, or not polled yet)."""
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

    # ------------------------------------------------------------------ polling side

    def _on_exchange(self, exchange: Exchange) -> None:
        if exchange.wrote_to:
            self._schedule.wrote(exchange.wrote_to)

    async def _worker(self) -> None:
        """One of ``concurrency`` pollers: take the schedule's next pick, poll it, repeat.

        Long-lived workers rather than a task per poll: a poll costs no task creation.
        """
        try:
            while True:
                # One worker picks at a time: it takes a request from the budget first, then
                # the most deserving Space due by then (when the budget is tight, changing
                # Spaces go first).
                async with self._picking:
                    await self.budget.acquire()
                    author, group = await self._schedule.pick()
                try:
                    if author is None:
                        await self._poll_one(group[0])
                    else:
                        await self._poll_author(author, group)
                finally:
                    self._schedule.done(group)
        except AiospaceError as error:  # the client was closed under the watcher, say: not a bug
            self._fatal = error
            self._wake_consumer.set()
        except Exception as error:  # a bug of ours: hand it to the consumer, never to the task group
            log.exception("a watcher worker failed")
            self._fatal = error
            self._wake_consumer.set()

    async def _poll_one(self, tracker: SpaceTracker) -> None:
        self.stats.requests += 1
        try:
            runtime = await self.client.get_space_runtime(tracker.repo_id, retry=False)
        except (HubHTTPError, TransportError) as error:
            self._failed(tracker, error)
            return
        self._observed(tracker, runtime, self.client.clock.now())

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
            self._schedule.listing_failed(author, error)
            for tracker in trackers:
                self._failed(tracker, error, permanent_ok=False)
            return
        now = self.client.clock.now()
        base = self._schedule.listed(author, trackers, pages, now)
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
        if base is None:
            base = self._schedule.turn(tracker, now)
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

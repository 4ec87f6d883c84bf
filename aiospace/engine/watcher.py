"""Many Spaces' lives as one async iterator of transitions: :class:`Watcher`.

The watcher runs ``concurrency`` long-lived pollers in a task group of its own (in a task
of its own, so that a service may enter it in its start hook and exit it in its stop
hook); which Space each poll is for, and whether one author listing refreshes several, is
its :class:`~aiospace.engine.schedule.Schedule`'s decision. Transitions wait for the
consumer in a bounded, coalescing buffer per Space. A followed author
(:meth:`Watcher.follow`) is listed every ``every`` seconds: new Spaces join, and one
deleted or no longer readable leaves with a last ``removed`` event.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Literal

import anyio
import attrs
from anyio.abc import TaskGroup

from .._http.budget import BudgetShare, Exchange, WritesOnly
from .._hub.validate import check_author, check_flag, check_repo_id, check_seconds
from ..errors import AiospaceError, HubHTTPError, InvalidArgumentError, TransportError
from ..models import SpaceRuntime
from ._client import HubClient
from .schedule import Follow, Schedule
from .transitions import (
    DEFAULT_STALL_AFTER,
    Cadence,
    Change,
    SpaceTracker,
    StallAfter,
    Transition,
    WatchStats,
    check_cadence,
    is_permanent,
    seeded_rng,
    space_url,
    stall_limits,
)

__all__ = ["CADENCE_SHARE", "DEFAULT_LISTING_INTERVAL", "MAX_ERRORS_KEPT", "PermanentErrorMode", "Watcher"]

log = logging.getLogger("aiospace.watch")

#: The share of the client's quota a :class:`Watcher` polling by its cadence may use: the
#: rest is left for the caller's own calls.
CADENCE_SHARE = 0.8

#: How often (Hub seconds) a followed author is listed by default.
DEFAULT_LISTING_INTERVAL = 60.0

#: The most errors :attr:`Watcher.errors` keeps (the latest): a follow that runs for months
#: over short-lived Spaces (a preview per pull request) must not grow without end.
MAX_ERRORS_KEPT = 1000


def _keep(errors: dict[str, BaseException], repo_id: str, error: BaseException) -> None:
    """Keep ``error`` as ``repo_id``'s, the latest last; past :data:`MAX_ERRORS_KEPT`, the oldest go."""
    errors.pop(repo_id, None)
    errors[repo_id] = error
    while len(errors) > MAX_ERRORS_KEPT:
        del errors[next(iter(errors))]


#: What a :class:`Watcher` does when a Space's poll fails for good (404, 401, 403, 400).
PermanentErrorMode = Literal["raise", "drop"]


class Watcher:
    """Watch many Spaces from one scheduler; iterate over all their transitions.

    ::

        async with client.watcher() as w:
            w.add("user/a", "user/b")
            w.follow("acme")  # every Space of acme, now and later
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
            added by name that fails for good (404, 401, 403, 400, or
            ``cadence.max_bad_answers`` unreadable answers in a row); ``"drop"`` stops
            watching that Space, keeps its error in :attr:`errors` and goes on. A Space
            watched only because its author is followed always leaves with a last
            ``Change.REMOVED`` transition instead (its error in :attr:`errors` too).
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
        #: Spaces dropped after a permanent error, with it (the latest :data:`MAX_ERRORS_KEPT`).
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
        self._runner: asyncio.Task[None] | None = None
        self._entered = False
        self._unsubscribe: Callable[[], None] | None = None
        #: Spaces added by name (``add``): a permanent error of theirs is ``on_permanent_error``'s.
        self._named: set[str] = set()
        #: The followed authors.
        self._follows: dict[str, Follow] = {}

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
        if self._runner is not None:
            # A second task group would orphan the first one's workers (they polled on forever).
            raise InvalidArgumentError("watcher", "is running already: enter it with one `async with`")
        self._entered = True
        started = asyncio.Event()
        # The workers run in a task of their own: the watcher may be exited in another task than
        # the one that entered it (a service's start and stop hooks), and its cancel scope never
        # encloses the caller's task.
        self._runner = runner = asyncio.get_running_loop().create_task(self._run(started))
        try:
            await started.wait()
        except BaseException:  # cancelled while starting: leave nothing running
            self._runner = None
            runner.cancel()
            raise
        # It only looks for writes: no Exchange is built for its polls (WritesOnly).
        self._unsubscribe = self.client.subscribe(WritesOnly(self._on_exchange))
        return self

    async def _run(self, started: asyncio.Event) -> None:
        """The workers and the followers, until the watcher is exited."""
        try:
            async with anyio.create_task_group() as group:
                self._task_group = group
                for _ in range(self.concurrency):
                    group.start_soon(self._worker)
                for author in self._follows:
                    group.start_soon(self._follow, author)
                started.set()
                await anyio.sleep_forever()
        finally:
            started.set()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        runner, self._runner = self._runner, None
        try:
            if runner is not None:
                # The body's own exception never reaches the task group: it leaves as itself
                # (never wrapped in an ExceptionGroup). The workers keep their failures to
                # themselves (see _worker), so the group can only end cancelled here.
                runner.cancel()
                await asyncio.wait([runner])
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
        for repo_id in repo_ids:
            self._named.add(repo_id)
            self._track(repo_id)
        self._schedule.wake()

    def _track(self, repo_id: str) -> SpaceTracker:
        """The Space's tracker, made and scheduled (due now) if it is not watched yet."""
        tracker = self._trackers.get(repo_id)
        if tracker is None:
            now = self.client.clock.now()
            tracker = SpaceTracker(
                repo_id, self.cadence, self._rng, next_due=now, stall_after=self._stall_limits
            )
            self._schedule.add(tracker)
        return tracker

    def follow(self, *authors: str, every: float = DEFAULT_LISTING_INTERVAL) -> None:
        """Watch every Space of these users or organizations, and keep the set current.

        Each author is listed every ``every`` Hub seconds (each page taken from the rate
        budget, counted in :attr:`stats`): a Space created later joins within two listings
        (its first transition is ``INITIAL``); a Space deleted, or no longer readable
        (404, 401, 403), leaves with one last transition whose changes are ``{REMOVED}``,
        and the watch goes on. Following an author again sets its interval. Raises
        :class:`~aiospace.errors.InvalidArgumentError` for a bad name or interval (before any is followed).
        """
        for author in authors:
            check_author(author)
        every = check_seconds(every, "every", positive=True, finite=True)
        for author in authors:
            record = self._follows.get(author)
            if record is not None:
                record.every = every
                continue
            self._follows[author] = Follow(every)
            if self._task_group is not None:
                self._task_group.start_soon(self._follow, author)

    def unfollow(self, *authors: str) -> None:
        """Stop following authors: their listing stops, and the Spaces it added leave (no event)."""
        for author in authors:
            record = self._follows.pop(author, None)
            if record is not None:
                self.remove(*(r for r in record.spaces if r not in self._named))

    @property
    def following(self) -> list[str]:
        """The followed authors."""
        return list(self._follows)

    def remove(self, *repo_ids: str) -> None:
        """Stop watching Spaces; their undelivered transitions are dropped. A followed author's
        Space stays out while its listing still shows it."""
        for repo_id in repo_ids:
            self._schedule.remove(repo_id)
            self._pending.pop(repo_id, None)
            self._named.discard(repo_id)
            record = self._follows.get(repo_id.split("/")[0])
            if record is not None and repo_id in record.spaces:
                record.spaces.discard(repo_id)
                record.gone.add(repo_id)
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
            # No head commits asked here: this is the refresh path, kept as lean as a poll.
            found = await self.client.author_runtimes(
                author, spaces=wanted, retry=False, before_page=next_page
            )
        except (HubHTTPError, TransportError) as error:
            self._schedule.listing_failed(author, error)
            self.stats.count_failure(error)  # one request failed, however many Spaces it was for
            for tracker in trackers:
                self._failed(tracker, error, permanent_ok=False, counted=True)
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

    async def _follow(self, author: str) -> None:
        """List a followed author every ``every`` Hub seconds while it is followed."""
        clock = self.client.clock
        while (record := self._follows.get(author)) is not None:
            started = clock.now()  # listings start every `every` seconds, however long each takes
            await self.budget.acquire()
            if self._follows.get(author) is not record:
                return
            try:
                await self._list_followed(author, record)
            except AiospaceError as error:  # the client was closed under the watcher, say
                self._fatal = error
                self._wake_consumer.set()
                return
            interval = record.every * (1 + self._rng.uniform(-0.05, 0.05))
            await clock.sleep(started + interval - clock.now())

    async def _list_followed(self, author: str, record: Follow) -> None:
        """One listing of a followed author: new Spaces join, missing ones are polled (a 404 removes them)."""

        async def next_page() -> None:
            await self.budget.acquire()
            self._count_listing()

        self._count_listing()
        shas: dict[str, str] = {}
        try:
            found = await self.client.author_runtimes(author, retry=False, before_page=next_page, shas=shas)
        except (HubHTTPError, TransportError) as error:
            self.stats.count_failure(error)  # the next listing, at its time, may do better
            log.debug("listing of followed author %s failed: %s", author, error)
            return
        if self._follows.get(author) is not record:
            return  # unfollowed meanwhile
        now = self.client.clock.now()
        record.gone &= found.keys()  # a Space no longer listed may come back, created anew
        for repo_id, runtime in found.items():
            if repo_id in record.gone:
                continue  # removed by the caller while the listing still shows it
            tracker = self._track(repo_id)
            record.spaces.add(repo_id)
            if not tracker.in_flight:
                self._observed(tracker, runtime, now, sha=shas.get(repo_id))
                self._schedule.push(tracker)
        for repo_id in record.spaces - found.keys():
            missing = self._trackers.get(repo_id)
            if missing is not None and not missing.in_flight:
                missing.next_due = now  # gone, or no longer readable: its own poll says which
                self._schedule.push(missing)

    def _count_listing(self) -> None:
        self.stats.requests += 1
        self.stats.batch_requests += 1
        self.stats.follow_requests += 1

    def _observed(
        self,
        tracker: SpaceTracker,
        runtime: SpaceRuntime,
        now: float,
        base: float | None = None,
        *,
        sha: str | None = None,
    ) -> None:
        if base is None:
            base = self._schedule.turn(tracker, now)
        transition = tracker.observe(runtime, now, base=base)
        if transition is not None and self._trackers.get(tracker.repo_id) is tracker:
            self._deliver(self._stamp(transition, sha))

    def _stamp(self, transition: Transition, sha: str | None = None, reason: str | None = None) -> Transition:
        """The transition with its wall-clock time, its Space's page and what else is known."""
        url = space_url(self.client.endpoint, transition.repo_id)
        return attrs.evolve(transition, at=self.client.clock.wall(), sha=sha, url=url, reason=reason)

    def _failed(
        self, tracker: SpaceTracker, error: BaseException, *, permanent_ok: bool = True, counted: bool = False
    ) -> None:
        if not counted:
            self.stats.count_failure(error)
        if permanent_ok and is_permanent(error):
            self._give_up(tracker, error)
            return
        tracker.fail(error, self.client.clock.now(), getattr(error, "retry_after", None))
        if tracker.gave_up:  # max_bad_answers unreadable answers in a row: as a permanent failure
            self._give_up(tracker, error)

    def _give_up(self, tracker: SpaceTracker, error: BaseException) -> None:
        """Stop watching a Space that fails for good: a followed one leaves with a ``removed``
        transition; one added by name raises its error or keeps it (``on_permanent_error``)."""
        repo_id = tracker.repo_id
        if self._trackers.get(repo_id) is not tracker:
            return  # removed meanwhile (perhaps added again): its old poll says nothing now
        _keep(self.errors, repo_id, error)
        record = self._follows.get(repo_id.split("/")[0])
        if repo_id not in self._named and record is not None and repo_id in record.spaces:
            self._schedule.remove(repo_id)  # its undelivered transitions stay: the removal comes last
            record.spaces.discard(repo_id)  # a later listing that shows it again (created anew) adds it
            last = tracker.last
            if last is not None:
                reason = error.message if isinstance(error, HubHTTPError) else str(error)
                now = self.client.clock.now()
                removed = Transition(repo_id, last, last, frozenset({Change.REMOVED}), now)
                self.stats.removed += 1
                self._deliver(self._stamp(removed, reason=reason))
            return
        self.remove(repo_id)
        if self.on_permanent_error == "raise":
            self._fatal = error
            self._wake_consumer.set()

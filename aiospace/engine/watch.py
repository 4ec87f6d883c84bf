"""One Space's life as an async iterator of transitions: :class:`SpaceWatch`.

A :class:`SpaceWatch` polls one Space inline, in the consumer's own task (no background
task, so ``break`` leaves nothing behind); :class:`~aiospace.engine.watcher.Watcher`
watches many. Both spend the client's :class:`~aiospace._http.budget.RateBudget` and use
only the :class:`~aiospace.engine._client.HubClient` members: the engine never builds a
request. Both report a Space that stays in one transitional stage past its limit as
``Change.STALLED`` (:data:`~aiospace.engine.transitions.DEFAULT_STALL_AFTER`, or
``stall_after``). What a transition is, and when to poll, is in
:mod:`aiospace.engine.transitions`; waiting is in :mod:`aiospace.engine.wait`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from types import TracebackType

import attrs

from .._http.budget import Exchange, RateBudget
from .._hub.validate import check_repo_id
from ..errors import HubHTTPError, InvalidArgumentError, TransportError
from ..models import SpaceInfo, SpaceRuntime
from ._client import HubClient
from .schedule import wait_event
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
    space_url,
    stall_limits,
)

__all__ = ["INFO_EXPAND", "Poll", "SpaceWatch"]

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


log = logging.getLogger("aiospace.watch")


class _WeakListener:
    """A ``subscribe()`` listener that doesn't keep its watch alive: once the watch is garbage
    (left by ``break`` without ``aclose()``), it unsubscribes itself at the client's next answer."""

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
    listener on the client goes with the watch). Made by :meth:`~aiospace.SpaceClient.watch`.
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
                await wait_event(self._woken, clock, wait)
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
                sha = None if info is None else info.sha
                url = space_url(self.client.endpoint, self.repo_id)
                transition = attrs.evolve(transition, at=clock.wall(), sha=sha, url=url)
            return Poll(runtime, transition, info, now)

"""``SpaceClient``: the session with the Hub, plus the watch engine's conveniences.

:class:`~aiospace._http.session.HubSession` holds every Hub call; the watch engine
(:mod:`aiospace.engine.watch`) is built on its public surface; this class puts the two
together so that one object does everything::

    async with SpaceClient() as hub:
        await hub.restart_space("user/space")
        runtime = await hub.wait_for_space("user/space", timeout=600)
        async with hub.lease("user/space", "a10g-small") as runtime:
            ...  # runs on a10g-small; the previous flavor is requested again on any exit
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from ._http.session import DEFAULT_ENDPOINT, ClientStats, HubSession, RetryPolicy
from .engine import lease as _lease
from .engine import wait as _wait
from .engine.options import OnTrouble, WaitFor
from .engine.transitions import DEFAULT_STALL_AFTER, Cadence, StallAfter, Transition
from .engine.watch import SpaceWatch
from .engine.watcher import PermanentErrorMode, Watcher
from .models import SpaceHardware, SpaceRuntime, SpaceStage

__all__ = ["DEFAULT_ENDPOINT", "ClientStats", "RetryPolicy", "SpaceClient"]


class SpaceClient(HubSession):
    """An async session with the Hub for Space calls, watches and waits.

    Every Hub call (named after ``huggingface_hub.HfApi``) comes from
    :class:`~aiospace._http.session.HubSession`, whose arguments it takes: ``token``,
    ``endpoint``, ``session``, ``timeout``, ``retry``, ``clock``,
    ``allow_insecure_http``, ``user_agent``, ``max_redirects``, ``connection_limit``,
    ``logs_idle_timeout`` and ``seed``. This class adds :meth:`watch`, :meth:`watcher`,
    :meth:`wait_for_space` and :meth:`lease` (the engine: :mod:`aiospace.engine.watch`,
    :mod:`aiospace.engine.wait`, :mod:`aiospace.engine.lease`).
    """

    def watch(
        self,
        repo_id: str,
        *,
        cadence: Cadence | None = None,
        seed: int | None = None,
        stall_after: StallAfter | None = DEFAULT_STALL_AFTER,
    ) -> SpaceWatch:
        """An async iterator of the Space's :class:`~aiospace.Transition` events, polled inline.

        The first event is the initial state; then one per observed change of stage,
        hardware or requested hardware, with a ``converged`` signal when the hardware
        reaches the requested flavor, and a ``stalled`` one (once per stay) when the
        Space stays in one transitional stage longer than ``stall_after`` allows
        (:data:`~aiospace.DEFAULT_STALL_AFTER`; None: never). Transient failures are
        retried (see ``.stats``); a 4xx other than 429 (404, 401, 403...) ends the
        iteration with the typed error. No background task: ``break`` leaves nothing
        running. Raises :class:`~aiospace.errors.InvalidArgumentError` for a bad repo id,
        cadence, seed or limit.
        """
        return SpaceWatch(self, repo_id, cadence=cadence, seed=seed, stall_after=stall_after)

    def watcher(
        self,
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
    ) -> Watcher:
        """A watcher of many Spaces on this client's rate budget (use ``async with``, then ``add``).

        The arguments are :class:`~aiospace.engine.watcher.Watcher`'s (see there); a bad
        one raises :class:`~aiospace.errors.InvalidArgumentError`.
        """
        return Watcher(
            self,
            cadence=cadence,
            concurrency=concurrency,
            quota=quota,
            window=window,
            batch=batch,
            batch_min=batch_min,
            buffer=buffer,
            on_permanent_error=on_permanent_error,
            seed=seed,
            budget_share=budget_share,
            stall_after=stall_after,
        )

    async def wait_for_space(
        self,
        repo_id: str,
        *,
        timeout: float | None = None,
        stage: SpaceStage | str = SpaceStage.RUNNING,
        hardware: SpaceHardware | str | None = None,
        revision: str | None = None,
        until: Callable[[SpaceRuntime], bool] | None = None,
        trouble: OnTrouble | None = None,
        cadence: Cadence | None = None,
        log_lines: int = 20,
        log_timeout: float = 30.0,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> SpaceRuntime:
        """Wait until the Space reaches ``stage`` (``RUNNING``), on ``hardware`` if given; return its runtime.

        ``revision`` (a full commit sha): only once the Space serves that commit. ``until``:
        any predicate on the runtime instead of the stage and hardware test (see
        :class:`~aiospace.engine.options.WaitFor`). ``trouble``: what the wait may do about
        stalls and capacity failures (:class:`~aiospace.OnTrouble`; default: raise).
        ``timeout`` is in Hub seconds (None: none). ``on_transition`` hears every transition
        on the way, and every action taken about trouble.

        Raises :class:`~aiospace.errors.SpaceFailedError` (with the log tail;
        :class:`~aiospace.errors.SpaceStalledError` for a stall),
        :class:`~aiospace.errors.SpaceNotStartingError`,
        :class:`~aiospace.errors.RevisionSupersededError`,
        :class:`~aiospace.errors.WaitTimeoutError` (with the last runtime), and
        :class:`~aiospace.errors.InvalidArgumentError` before any request; the details are
        :func:`aiospace.engine.wait.wait_for_space`'s.
        """
        want = WaitFor(stage=stage, hardware=hardware, revision=revision, until=until)
        return await _wait.wait_for_space(
            self,
            repo_id,
            want,
            OnTrouble() if trouble is None else trouble,
            timeout=timeout,
            cadence=cadence,
            log_lines=log_lines,
            log_timeout=log_timeout,
            on_transition=on_transition,
        )

    def lease(
        self,
        repo_id: str,
        hardware: SpaceHardware | str,
        *,
        sleep_time: int | None = None,
        release: _lease.ReleaseMode | str = "restore",
        timeout: float | None = None,
        release_timeout: float = _lease.DEFAULT_RELEASE_TIMEOUT,
        release_attempts: int = _lease.DEFAULT_RELEASE_ATTEMPTS,
        cadence: Cadence | None = None,
        trouble: OnTrouble | None = None,
    ) -> AbstractAsyncContextManager[SpaceRuntime]:
        """Run the Space on ``hardware`` inside ``async with``; always release it on exit::

            async with hub.lease("me/app", "a10g-small", sleep_time=600) as runtime:
                ...  # the Space runs on a10g-small

        The previous flavor and sleep time are remembered; on any exit (normal,
        exception, cancellation) ``release`` is carried out in a shielded scope with its
        own deadline and confirmed by reading the runtime back: ``"restore"`` (the
        previous flavor and sleep time; a paused Space is paused again), ``"pause"``,
        or a flavor name. A second lease of the Space from this client waits for the
        first. ``timeout`` and ``trouble`` are the wait's, as in :meth:`wait_for_space`.
        Raises as :meth:`wait_for_space` while acquiring, and
        :class:`~aiospace.errors.LeaseReleaseError` when the release can't be confirmed;
        the details are :func:`aiospace.engine.lease.lease_space`'s.
        """
        leases: _lease.Leases | None = vars(self).get("_leases")
        if leases is None:  # made with the first lease: a client that never leases holds none
            leases = self._leases = _lease.Leases()
        return _lease.lease_space(
            self,
            repo_id,
            hardware,
            sleep_time=sleep_time,
            release=release,
            timeout=timeout,
            release_timeout=release_timeout,
            release_attempts=release_attempts,
            cadence=cadence,
            trouble=trouble,
            leases=leases,
        )

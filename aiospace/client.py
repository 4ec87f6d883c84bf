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

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

from ._http.session import DEFAULT_ENDPOINT, ClientStats, HubSession, RetryPolicy
from .engine import lease as _lease
from .engine import wait as _wait
from .engine.transitions import DEFAULT_STALL_AFTER, Cadence, StallAfter, Transition
from .engine.wait import OnStall
from .engine.watch import PermanentErrorMode, SpaceWatch, Watcher
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
        """An async iterator of the Space's :class:`~aiospace.engine.watch.Transition` events.

        The first event is the initial state; then one per observed change of stage,
        hardware or requested hardware, with a ``converged`` signal when the hardware
        reaches the requested flavor, and a ``stalled`` one (once per stay) when the
        Space stays in one transitional stage longer than ``stall_after`` allows
        (:data:`~aiospace.engine.transitions.DEFAULT_STALL_AFTER`; None: never). Transient
        failures are retried (see ``.stats``); a 4xx other than 429 (404, 401, 403...)
        ends the iteration with the typed error. Raises
        :class:`~aiospace.errors.InvalidArgumentError` for a bad repo id or limit.
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
        """A :class:`~aiospace.engine.watch.Watcher` for many Spaces at once (use ``async with``).

        The arguments are the :class:`~aiospace.engine.watch.Watcher`'s (see there); it raises
        :class:`~aiospace.errors.InvalidArgumentError` for a bad one.
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
        until: Callable[[SpaceRuntime], bool] | None = None,
        cadence: Cadence | None = None,
        log_lines: int = 20,
        log_timeout: float = 30.0,
        on_transition: Callable[[Transition], None] | None = None,
        revision: str | None = None,
        build_grace: float = 120.0,
        stall_after: StallAfter | None = None,
        on_stall: OnStall = "raise",
        retry_capacity: int = 0,
        fallback_hardware: Sequence[SpaceHardware | str] = (),
    ) -> SpaceRuntime:
        """Wait until the Space reaches ``stage`` (``RUNNING``), on ``hardware`` if given.

        With ``revision`` (a full commit sha), only once the Space serves that commit.
        See :func:`aiospace.engine.wait.wait_for_space` (this is it, on this client): it
        returns the final runtime and raises :class:`~aiospace.errors.SpaceFailedError`
        (with the log tail; :class:`~aiospace.errors.SpaceStalledError` for a stall),
        :class:`~aiospace.errors.SpaceNotStartingError`,
        :class:`~aiospace.errors.RevisionSupersededError`,
        :class:`~aiospace.errors.WaitTimeoutError` (with the last runtime) or
        :class:`~aiospace.errors.InvalidArgumentError`.
        """
        return await _wait.wait_for_space(
            self,
            repo_id,
            timeout=timeout,
            stage=stage,
            hardware=hardware,
            until=until,
            cadence=cadence,
            log_lines=log_lines,
            log_timeout=log_timeout,
            on_transition=on_transition,
            revision=revision,
            build_grace=build_grace,
            stall_after=stall_after,
            on_stall=on_stall,
            retry_capacity=retry_capacity,
            fallback_hardware=fallback_hardware,
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
    ) -> AbstractAsyncContextManager[SpaceRuntime]:
        """Run the Space on ``hardware`` inside ``async with``; always release it on exit.

        See :func:`aiospace.engine.lease.lease_space` (this is it, on this client)::

            async with hub.lease("me/app", "a10g-small", sleep_time=600) as runtime:
                ...  # the Space runs on a10g-small

        The previous flavor and sleep time are remembered; on any exit (normal,
        exception, cancellation) ``release`` is carried out in a shielded scope with its
        own deadline and confirmed by reading the runtime back: ``"restore"`` (the
        previous flavor and sleep time; a paused Space is paused again), ``"pause"``,
        or a flavor name. A second lease of the Space from this client waits for the
        first. Raises as :meth:`wait_for_space` while acquiring, and
        :class:`~aiospace.errors.LeaseReleaseError` when the release can't be confirmed.
        """
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
        )

"""GPU leases: move a Space to a flavor for a job, and always bring it back down.

::

    async with hub.lease("me/app", "a10g-small") as runtime:
        ...  # the Space runs on a10g-small
    # here the Hub has taken the release: the previous flavor (and sleep time) is requested again

:func:`lease_space` (the engine of :meth:`~aiospace.SpaceClient.lease`) remembers the
Space's requested flavor, sleep time and whether it was paused; requests ``hardware``
(restarting a paused Space, which only a restart leaves); waits until the Space runs on it
(as :func:`~aiospace.engine.wait.wait_for_space`); and yields the runtime. On every exit
(normal, exception, cancellation, a failed or timed-out wait) it releases in a shielded
cancel scope with its own deadline, then reads the runtime back to confirm the Hub took the
release. A failed release is retried with backoff; if it finally fails,
:class:`~aiospace.errors.LeaseReleaseError` is raised (over whatever else was under way): a
GPU is never left on silently.

Two leases of one Space through one :class:`Leases` (one per client) queue up: the second
waits until the first is released (first come, first served), then reads the Space's state
afresh, so it restores what the first restored. Its ``timeout`` counts the wait. The same
task asking twice would wait for itself: that is refused with
:class:`~aiospace.errors.InvalidArgumentError`. Leases from different clients or processes
are not coordinated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import anyio
import attrs

from .._clock import Clock
from .._hub.validate import check_flavor, check_repo_id, check_seconds, check_sleep_time
from ..errors import HubHTTPError, InvalidArgumentError, LeaseReleaseError, TransportError, WaitTimeoutError
from ..models import SpaceHardware, SpaceRuntime, SpaceStage
from ._client import HubClient
from .options import OnTrouble, WaitFor
from .transitions import Cadence
from .wait import wait_for_space

__all__ = [
    "DEFAULT_RELEASE_ATTEMPTS",
    "DEFAULT_RELEASE_TIMEOUT",
    "Leases",
    "ReleaseMode",
    "ReleasePlan",
    "app_url",
    "lease_space",
    "plan_release",
    "release_space",
]

log = logging.getLogger("aiospace.lease")

#: What a lease does on exit: ``"restore"`` the previous flavor and sleep time,
#: ``"pause"`` the Space, or any flavor name (request that flavor).
ReleaseMode = Literal["restore", "pause"]

#: Hub seconds a release may take, retries included, before it is given up.
DEFAULT_RELEASE_TIMEOUT = 120.0
#: Attempts at a release (each: the request, then a read back to confirm it).
DEFAULT_RELEASE_ATTEMPTS = 5


@attrs.frozen
class ReleasePlan:
    """What releasing a lease does: request ``hardware`` (with ``sleep_time``), then pause if ``pause``.

    ``hardware`` None leaves the requested flavor alone (a plain pause).
    """

    repo_id: str
    hardware: SpaceHardware | None
    sleep_time: int | None = None
    pause: bool = False
    #: How the plan was asked for: "restore", "pause" or "request" (a flavor).
    mode: str = "restore"

    def describe(self) -> str:
        """A short phrase for logs and errors ("restore cpu-basic, sleep time 3600", "pause")."""
        words = [f"{self.mode} {self.hardware}" if self.hardware is not None else self.mode]
        if self.sleep_time is not None:
            words.append("never sleep" if self.sleep_time < 0 else f"sleep time {self.sleep_time}")
        if self.pause and self.hardware is not None:
            words.append("paused")
        return ", ".join(words)

    def taken(self, runtime: SpaceRuntime) -> bool:
        """The runtime shows the release: the flavor requested, paused if asked, the sleep time set.

        A "never sleep" restore is not checked (the Hub may report it as absent or -1).
        """
        if self.hardware is not None and runtime.requested_hardware != self.hardware:
            return False
        if self.pause and runtime.stage != SpaceStage.PAUSED:
            return False
        wanted = self.sleep_time
        return wanted is None or wanted < 0 or runtime.sleep_time == wanted


def _check_release(release: object) -> SpaceHardware | ReleaseMode:
    if release == "restore" or release == "pause":
        return release
    if not isinstance(release, str):
        raise InvalidArgumentError("release", f"expected 'restore', 'pause' or a flavor, got {release!r}")
    return check_flavor(release, "release")


def plan_release(
    repo_id: str,
    release: ReleaseMode | str,
    previous: SpaceRuntime,
    leased: SpaceHardware | str,
    sleep_time: int | None = None,
) -> ReleasePlan:
    """What releasing a lease of ``leased`` (and ``sleep_time``) does, given the runtime before it.

    ``"restore"`` requests the previous flavor again, and its sleep time when it is paid
    hardware and the lease may have changed it (a sleep time was given, or the leased
    flavor is free, which drops it); a Space that was paused is paused again.
    ``"pause"`` pauses; a flavor name requests it. Raises
    :class:`~aiospace.errors.InvalidArgumentError` for a bad ``release``, or a
    ``"restore"`` of a Space with no requested flavor (a static one).
    """
    mode = _check_release(release)
    if mode == "pause":
        return ReleasePlan(repo_id, None, pause=True, mode="pause")
    if mode != "restore":
        return ReleasePlan(repo_id, SpaceHardware(mode), mode="request")
    before = previous.requested_hardware
    if before is None:
        raise InvalidArgumentError(
            "release", f"Space {repo_id} has no requested flavor to restore: pass 'pause' or a flavor"
        )
    leased_flavor = SpaceHardware(leased)
    restore_sleep = None
    if not before.is_free and (sleep_time is not None or leased_flavor.is_free):
        restore_sleep = previous.sleep_time if previous.sleep_time is not None else -1
    return ReleasePlan(
        repo_id, before, restore_sleep, pause=previous.stage == SpaceStage.PAUSED, mode="restore"
    )


def _is_final(error: BaseException) -> bool:
    """A release failure that retrying can't fix: a bad argument, or the Hub's 4xx but 409 and 429."""
    if isinstance(error, InvalidArgumentError):
        return True
    return isinstance(error, HubHTTPError) and 400 <= error.status < 500 and error.status not in (409, 429)


def _refused(error: BaseException) -> bool:
    """The Hub provably did not act on a request: refused (4xx) or never reached."""
    if isinstance(error, InvalidArgumentError):
        return True
    if isinstance(error, HubHTTPError):
        return error.status < 500
    return isinstance(error, TransportError) and not error.sent


async def release_space(
    client: HubClient,
    plan: ReleasePlan,
    *,
    leased: SpaceHardware | str,
    timeout: float = DEFAULT_RELEASE_TIMEOUT,
    attempts: int = DEFAULT_RELEASE_ATTEMPTS,
) -> SpaceRuntime:
    """Carry out ``plan``, shielded from cancellation, until the Hub confirms it; return that runtime.

    Each attempt sends the request(s), then reads the runtime back; an attempt that
    fails, or whose read back does not show the release, is retried after a backoff
    (the client's :class:`~aiospace.RetryPolicy`), within ``attempts`` and ``timeout``
    Hub seconds. A 4xx but 409 and 429 is not retried.

    The release runs in a shielded cancel scope, in a task of its own that is awaited
    to its end: neither a cancel scope nor asyncio's ``Task.cancel()`` (however many
    times: a second Ctrl-C) can cut it short. A cancellation that came meanwhile is
    raised once the release is done; a failed release wins over it. Under
    ``asyncio.run``, whose second Ctrl-C raises ``KeyboardInterrupt`` out of the loop (and
    then cancels every task left), SIGINT, and a SIGTERM handled as Ctrl-C, are held
    while a release runs (see :func:`_signals_held`).

    Raises:
        LeaseReleaseError: the release was not confirmed; ``__cause__`` is its last failure.
    """
    work = asyncio.ensure_future(_release(client, plan, leased=leased, timeout=timeout, attempts=attempts))
    interrupted: asyncio.CancelledError | None = None
    with (
        _signals_held(f"{plan.repo_id} (may still run on {leased})"),
        anyio.CancelScope(shield=True),  # a cancelled scope outside would cancel this task over and over
    ):
        while not work.done():
            try:
                await asyncio.wait({work})
            except asyncio.CancelledError as cancelled:  # Task.cancel(): not shielded by anyio
                interrupted = cancelled
    if interrupted is not None and work.exception() is None:
        raise interrupted
    return work.result()


async def _release(
    client: HubClient,
    plan: ReleasePlan,
    *,
    leased: SpaceHardware | str,
    timeout: float,
    attempts: int,
) -> SpaceRuntime:
    clock = client.clock
    repo_id = plan.repo_id
    last_error: BaseException | None = None
    last_runtime: SpaceRuntime | None = None
    reason = "no attempt was made"
    what = plan.describe()
    tried = 0
    with anyio.CancelScope(shield=True) as scope:
        scope.deadline = anyio.current_time() + timeout / clock.speed
        for attempt in range(attempts):
            if attempt:
                await clock.sleep(client.backoff(attempt - 1))
            tried += 1
            try:
                if plan.hardware is not None:
                    await client.request_space_hardware(repo_id, plan.hardware, sleep_time=plan.sleep_time)
                if plan.pause:
                    await client.pause_space(repo_id)
                runtime = await client.get_space_runtime(repo_id)
            except Exception as error:
                last_error = error
                reason = f"{type(error).__name__}: {error}"
                log.warning("release of %s (%s) failed, attempt %d: %s", repo_id, what, tried, reason)
                if _is_final(error):
                    break
                continue
            last_runtime = runtime
            if plan.taken(runtime):
                log.info("released %s: %s", repo_id, what)
                return runtime
            last_error = None
            reason = (
                f"the Hub shows {runtime.stage}, requested {runtime.requested_hardware}, "
                f"sleep time {runtime.sleep_time}"
            )
            log.warning("release of %s (%s) not taken, attempt %d: %s", repo_id, what, tried, reason)
    if scope.cancelled_caught:
        reason = f"not confirmed within {timeout:g}s ({reason})"
    failure = LeaseReleaseError(repo_id, what, str(leased), tried, reason, last_runtime)
    log.error("%s", failure)
    raise failure from last_error


@attrs.define
class _Held:
    """The signals held on one event loop while releases run there."""

    #: Signal -> the handler it had (Python's, or ``asyncio.run``'s Ctrl-C handler).
    previous: dict[int, Any] = attrs.field(factory=dict)
    #: The releases under way (what each would leave on).
    releases: list[str] = attrs.field(factory=list)
    #: The signals that came meanwhile, in order.
    pending: list[int] = attrs.field(factory=list)

    def hold(self, signum: int) -> None:
        """A signal during a release: said, and handed on once the last release is done."""
        self.pending.append(signum)
        log.warning(
            "%s during the release of %s: the release goes on (within its release_timeout)",
            signal.Signals(signum).name,
            ", ".join(self.releases),
        )


#: The event loops with releases under way, and what they hold.
_HELD: dict[asyncio.AbstractEventLoop, _Held] = {}


def _is_python_handler(handler: object) -> bool:
    """Python's own Ctrl-C handler, or ``asyncio.run``'s (the one whose second call raises
    ``KeyboardInterrupt`` out of the loop): the handlers a release holds signals from."""
    if handler is signal.default_int_handler:
        return True
    func = getattr(handler, "func", None)  # asyncio.run's: functools.partial(Runner._on_sigint, ...)
    runner = getattr(asyncio, "Runner", None)
    return runner is not None and isinstance(getattr(func, "__self__", None), runner)


@contextlib.contextmanager
def _signals_held(what: str) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM handled by Python's (or ``asyncio.run``'s) Ctrl-C handler
    are taken by the event loop and held: a second Ctrl-C can't end the process, and every
    task with it, in the middle of a release. Once the last release of the loop is done, the
    first signal held is handed on to that handler (the process then ends, or its main task
    is cancelled, as it would have been; not when this task is being cancelled already, by
    an earlier Ctrl-C: the process is ending). Handlers set by the program itself, and a SIGTERM
    Python leaves to the system, are left alone; so is every signal outside the main thread.
    """
    loop = asyncio.get_running_loop()
    held = _HELD.get(loop)
    if held is None:
        held = _HELD[loop] = _Held()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError, OSError):
                previous = signal.getsignal(signum)
                if _is_python_handler(previous):
                    loop.add_signal_handler(signum, held.hold, signum)
                    held.previous[signum] = previous
    held.releases.append(what)
    try:
        yield
    finally:
        held.releases.remove(what)
        if not held.releases:
            del _HELD[loop]
            for number, previous in held.previous.items():
                with contextlib.suppress(ValueError, RuntimeError, NotImplementedError, OSError):
                    loop.remove_signal_handler(number)
                    signal.signal(number, previous)
            # Handed on, unless this task is being cancelled already (the first Ctrl-C did it).
            cancelling = getattr(asyncio.current_task(), "cancelling", lambda: 0)()
            if held.pending and not cancelling and callable(handler := held.previous.get(held.pending[0])):
                loop.call_soon(handler, held.pending[0], None)


@attrs.define
class _Queue:
    """The leases of one Space: who holds it, how many hold or wait."""

    lock: anyio.Lock
    holder: object = None
    users: int = 0


class Leases:
    """The leases of one client, by Space: a second lease of a Space waits for the first.

    A client owns one (its :meth:`~aiospace.SpaceClient.lease` passes it to
    :func:`lease_space`); a Space's queue lives only while a lease holds or waits for it.
    """

    def __init__(self) -> None:
        self._queues: dict[str, _Queue] = {}

    def __len__(self) -> int:
        """Spaces with a lease held or waited for."""
        return len(self._queues)

    @contextlib.asynccontextmanager
    async def turn(self, repo_id: str, timeout: float | None, clock: Clock) -> AsyncIterator[None]:
        """Hold the lease of ``repo_id`` for the body, first waiting (first come, first served) for another.

        Raises:
            WaitTimeoutError: another lease still held it after ``timeout`` Hub seconds.
            InvalidArgumentError: this task holds the lease of ``repo_id`` already.
        """
        queue = self._queues.get(repo_id)
        if queue is None:
            queue = self._queues[repo_id] = _Queue(anyio.Lock())
        task = anyio.get_current_task().id
        if queue.holder == task:
            raise InvalidArgumentError("repo_id", f"this task already holds a lease of {repo_id}")
        queue.users += 1
        try:
            wait = math.inf if timeout is None else timeout / clock.speed
            with anyio.move_on_after(wait) as scope:
                await queue.lock.acquire()
            if scope.cancelled_caught:
                reason = "another lease of the Space from this client held it"
                raise WaitTimeoutError(repo_id, timeout or 0.0, None, reason=reason)
            queue.holder = task
            try:
                yield
            finally:
                queue.holder = None
                queue.lock.release()
        finally:
            queue.users -= 1
            if not queue.users:
                self._queues.pop(repo_id, None)


@contextlib.asynccontextmanager
async def lease_space(
    client: HubClient,
    repo_id: str,
    hardware: SpaceHardware | str,
    *,
    sleep_time: int | None = None,
    release: ReleaseMode | str = "restore",
    timeout: float | None = None,
    release_timeout: float = DEFAULT_RELEASE_TIMEOUT,
    release_attempts: int = DEFAULT_RELEASE_ATTEMPTS,
    cadence: Cadence | None = None,
    trouble: OnTrouble | None = None,
    leases: Leases,
) -> AsyncIterator[SpaceRuntime]:
    """Run the Space on ``hardware`` for the body of an ``async with``; release it on any exit.

    Yields the runtime once the Space runs on ``hardware`` (or on a flavor of
    ``trouble.fallback_hardware``, after capacity retries). ``sleep_time`` is requested
    with the flavor. ``release`` says what the exit does: ``"restore"`` (the previous
    flavor and sleep time, paused again if it was), ``"pause"``, or a flavor name.
    ``timeout`` bounds (in Hub seconds) the wait for the flavor, a queued lease's wait
    included; ``trouble`` is what that wait may do about trouble (default: raise);
    ``release_timeout`` and ``release_attempts`` bound the release. ``leases`` queues the
    leases of one client (see :class:`Leases`).

    Raises:
        InvalidArgumentError: a bad argument (before any request), a release flavor
            unknown to this version and absent from the Hub's catalogue (checked before
            any write), a ``"restore"`` of a Space with no flavor, or a second lease of
            the Space from the same task.
        SpaceFailedError, WaitTimeoutError, HubHTTPError, TransportError: as
            :func:`~aiospace.engine.wait.wait_for_space` (the Space is released first).
        LeaseReleaseError: the release was not confirmed (see :func:`release_space`).
    """
    check_repo_id(repo_id)
    flavor = check_flavor(hardware)
    if sleep_time is not None:
        check_sleep_time(sleep_time)
    release_mode = _check_release(release)
    if timeout is not None:
        check_seconds(timeout, "timeout")
    check_seconds(release_timeout, "release_timeout", positive=True)
    if isinstance(release_attempts, bool) or not isinstance(release_attempts, int) or release_attempts < 1:
        raise InvalidArgumentError("release_attempts", f"{release_attempts!r} must be an int >= 1")
    if trouble is None:
        trouble = OnTrouble()
    elif not isinstance(trouble, OnTrouble):
        raise InvalidArgumentError("trouble", f"expected an OnTrouble, got {type(trouble).__name__}")
    clock = client.clock
    started = clock.now()
    if isinstance(release_mode, SpaceHardware) and not release_mode.is_known:
        # A release that the Hub refuses would leave the GPU on: check a new name first.
        offered = {str(info.name) for info in await client.list_spaces_hardware()}
        if str(release_mode) not in offered:
            raise InvalidArgumentError("release", f"{str(release_mode)!r} is not a flavor the Hub offers")
    async with leases.turn(repo_id, timeout, clock):
        previous = await client.get_space_runtime(repo_id)
        plan = plan_release(repo_id, release, previous, flavor, sleep_time)
        log.info("leasing %s on %s (then %s)", repo_id, flavor, plan.describe())
        release_needed = True
        try:
            try:
                await client.request_space_hardware(repo_id, flavor, sleep_time=sleep_time)
            except BaseException as error:
                release_needed = not _refused(error)
                raise
            if previous.stage == SpaceStage.PAUSED:
                await client.restart_space(repo_id)  # only a restart leaves PAUSED
            remaining = None if timeout is None else max(0.0, timeout - (clock.now() - started))
            runtime = await wait_for_space(
                client, repo_id, WaitFor(hardware=flavor), trouble, timeout=remaining, cadence=cadence
            )
            log.info("lease of %s on %s acquired", repo_id, flavor)
            yield runtime
        finally:
            if release_needed:
                await release_space(
                    client, plan, leased=flavor, timeout=release_timeout, attempts=release_attempts
                )


def app_url(repo_id: str, runtime: SpaceRuntime | None = None) -> str:
    """The URL of the Space's app: the runtime's domain (a ``READY`` one first), else a guess.

    The guess spells the subdomain as the Hub usually does (``user/My_App`` ->
    ``https://user-my-app.hf.space``); the runtime's own domain wins when it has one.
    """
    domains = () if runtime is None else runtime.domains
    for domain in sorted(domains, key=lambda d: d.stage not in (None, "READY")):
        if domain.domain:
            return f"https://{domain.domain}"
    return "https://" + re.sub(r"[^a-z0-9]+", "-", repo_id.lower()).strip("-") + ".hf.space"

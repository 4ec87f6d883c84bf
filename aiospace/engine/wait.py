"""Waiting for a Space: :func:`wait_for_space`, on a :class:`~aiospace.engine.watch.SpaceWatch`.

It returns once the Space reaches what was asked (:class:`~aiospace.engine.options.WaitFor`)
and raises a typed error when it can't: an error stage (with the tail of its logs), a stage
it won't leave on its own, a stall, a revision superseded, or the time up (with the last
runtime seen). What it may do about trouble first (a factory reboot, capacity retries) is
its :class:`~aiospace.engine.options.OnTrouble`.

With a revision, the runtime returned is one read after the Space's latest build log named
that commit, or (a static Space) after its head became it; a ``RUNNING`` returned is a
container started after that build was queued. With ``WaitFor.ready``, the app itself must
answer too (:mod:`aiospace.engine.ready`).

An error stage is a failure (:data:`~aiospace.models.ERROR_STAGES`), and so is a stage this
version of aiospace doesn't know whose name ends in ``_ERROR`` (a stage the Hub adds later,
``OOM_ERROR`` say): :func:`is_failure`. Another unknown stage (``OOM_KILLED``) is waited
through, until the timeout.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import anyio

from .._hub.retry import backoff
from .._hub.validate import check_count, check_repo_id, check_seconds
from ..errors import (
    AiospaceError,
    AppNotReadyError,
    BadAnswerError,
    HubHTTPError,
    InvalidArgumentError,
    RevisionSupersededError,
    SpaceFailedError,
    SpaceNotStartingError,
    SpaceStalledError,
    TransportError,
    WaitTimeoutError,
)
from ..models import SpaceHardware, SpaceRuntime, SpaceStage
from ._client import HubClient
from .options import OnTrouble, WaitFor
from .ready import DEFAULT_READY_TIMEOUT, START_STAGES, Readiness, start_limits, startup_timeout
from .transitions import Cadence, Change, Transition, check_cadence
from .watch import Poll, SpaceWatch

__all__ = [
    "AT_REST",
    "CAPACITY_BACKOFF",
    "CAPACITY_BACKOFF_MAX",
    "is_capacity_failure",
    "is_failure",
    "log_tail",
    "wait_for_space",
]

log = logging.getLogger("aiospace.watch")

#: Stages a Space does not leave on its own, and what would move it. A wait for another
#: stage ends at once on them (``SpaceNotStartingError``), unless something already
#: requested will move the Space: the revision's push, until its build shows, wakes a
#: sleeping or stopped Space (a paused one only leaves ``PAUSED`` by a restart).
AT_REST: dict[SpaceStage, str] = {
    SpaceStage.PAUSED: "a restart would move it (restart_space, or `aiospace restart`)",
    SpaceStage.STOPPED: "a restart would move it (restart_space, or `aiospace restart`)",
    SpaceStage.SLEEPING: "a visit to its app, or a restart, would wake it",
}

#: Hub seconds before the first restart after a capacity failure; doubled for each next one.
CAPACITY_BACKOFF = 30.0
#: The longest wait before a capacity retry.
CAPACITY_BACKOFF_MAX = 300.0

_CAPACITY = re.compile(r"scheduling failure|capacity", re.IGNORECASE)
_SHA = re.compile(r"[0-9a-f]{40}")
# The build log's header names the commit it builds (``===== Build Queued at ... / Commit SHA:
# 1a2b3c4 =====``, as the Hub's logs read).
_BUILD_COMMIT = re.compile(r"Commit SHA:\s*([0-9a-fA-F]{7,40})")
_LOG_TIME = r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)"
#: The build log's header: when its build was queued (``===== Build Queued at ... / Commit SHA``).
_BUILD_QUEUED = re.compile(r"Build Queued at " + _LOG_TIME)
#: The run log's header: when the running container started (``===== Application Startup at ...``).
_APP_STARTUP = re.compile(r"Application Startup at " + _LOG_TIME)
#: The build log's header line (the rest of the log needn't be read).
_HEADER = re.compile(r"Commit SHA:")
#: What a build log says of the revision (see ``_Wait._build_verdict``).
_Verdict = Literal["yes", "no", "unknown", "pending"]
#: The build log's first lines, where its commit is named.
_BUILD_HEADER_LINES = 5


def is_failure(runtime: SpaceRuntime) -> bool:
    """An error stage: a known one, or an unknown stage whose name ends in ``_ERROR``."""
    stage = runtime.stage
    return stage.is_error or (not stage.is_known and stage.name.endswith("_ERROR"))


def is_capacity_failure(runtime: SpaceRuntime) -> bool:
    """A ``RUNTIME_ERROR`` whose ``error_message`` reports a scheduling or capacity failure.

    Such a failure may clear by itself: a later restart can find a machine.
    """
    return (
        runtime.stage == SpaceStage.RUNTIME_ERROR
        and runtime.error_message is not None
        and _CAPACITY.search(runtime.error_message) is not None
    )


async def wait_for_space(
    client: HubClient,
    repo_id: str,
    want: WaitFor,
    trouble: OnTrouble,
    *,
    timeout: float | None = None,
    cadence: Cadence | None = None,
    log_lines: int = 20,
    log_timeout: float = 30.0,
    on_transition: Callable[[Transition], None] | None = None,
    ready_timeout: float = DEFAULT_READY_TIMEOUT,
) -> SpaceRuntime:
    """Wait until the Space reaches what ``want`` says, doing what ``trouble`` allows on the way.

    With ``want.ready``, its app must also answer (a status below 500) within
    ``ready_timeout`` Hub seconds of the runtime holding (:mod:`aiospace.engine.ready`).
    Starts are judged stalled past the Space's own ``startup_duration_timeout`` unless
    ``trouble.stall_after`` names a limit for them (:func:`~aiospace.engine.ready.start_limits`).

    Returns the runtime that reached it. ``on_transition`` hears every transition seen on
    the way (for progress), and what the wait does about them (``Change.FACTORY_REBOOT``,
    ``Change.CAPACITY_RETRY``); every such action is also logged at WARNING.

    Raises:
        SpaceFailedError: the Space landed in an error stage; it carries the runtime and
            the last ``log_lines`` lines of its build or run log (read within
            ``log_timeout`` Hub seconds, even past ``timeout``: the failure wins).
        AppNotReadyError: with ``want.ready``, the Space holds but its app never answered
            within ``ready_timeout`` (a :class:`SpaceFailedError`: the last status, the run log's tail).
        SpaceStalledError: the Space stalled (a :class:`SpaceFailedError`, with the log tail);
            also when the factory reboot asked by ``trouble.on_stall`` is refused or fails (its
            ``__cause__`` is the refusal). A capacity retry refused likewise ends in the
            :class:`SpaceFailedError` it was to cure, the refusal as its ``__cause__``.
        SpaceNotStartingError: the Space is ``PAUSED``, ``STOPPED`` or ``SLEEPING`` and
            nothing asked will move it (the error says what would); raised at once.
        RevisionSupersededError: the head moved past ``want.revision`` (names both shas).
        WaitTimeoutError: ``timeout`` Hub seconds went by, or no build of the revision
            showed within ``trouble.build_grace``; it carries the last runtime.
        InvalidArgumentError: a bad argument (before any request).
        HubHTTPError: the Space is gone or out of reach (404, 401, 403).
        BadAnswerError: ``cadence.max_bad_answers`` answers in a row the client can't
            read (a changed Hub schema): the wait never spins in silence.
    """
    if not isinstance(want, WaitFor):
        raise InvalidArgumentError("want", f"expected a WaitFor, got {type(want).__name__}")
    if not isinstance(trouble, OnTrouble):
        raise InvalidArgumentError("trouble", f"expected an OnTrouble, got {type(trouble).__name__}")
    check_repo_id(repo_id)
    check_seconds(timeout, "timeout", optional=True)
    check_seconds(log_timeout, "log_timeout")
    check_seconds(ready_timeout, "ready_timeout")
    check_count(log_lines, "log_lines")
    if on_transition is not None and not callable(on_transition):
        kind = type(on_transition).__name__
        raise InvalidArgumentError("on_transition", f"expected a function, got {kind}")
    check_cadence(cadence)

    limits, from_space = start_limits(trouble.stall_after)
    wait = _Wait(client, repo_id, want, trouble, on_transition)
    wait.start_pending = from_space
    if want.ready:
        wait.ready = Readiness(client, repo_id, ready_timeout)
    clock = client.clock
    poll_info = want.revision is not None
    async with SpaceWatch(client, repo_id, cadence=cadence, stall_after=limits, poll_info=poll_info) as watch:
        wait.watch = watch
        with anyio.move_on_after(math.inf if timeout is None else timeout / clock.speed):
            while wait.ending is None:
                reached = await wait.judge(await watch.poll())
                if reached is not None:
                    return reached
    ending = wait.ending
    if ending is None:
        failure = watch.tracker.last_error
        raise WaitTimeoutError(
            repo_id,
            timeout or 0.0,
            watch.last,
            reason=wait.ready_reason(),
            last_error=failure if isinstance(failure, AiospaceError) else None,
        )
    lines: list[str] = []
    with anyio.move_on_after(log_timeout / clock.speed):
        lines = await log_tail(client, repo_id, ending.runtime, log_lines)
    raise ending.error(lines) from ending.cause


class _Ending:
    """How a wait ends in failure, once the log tail is read (``cause``: a remedy the Hub refused)."""

    def __init__(
        self,
        runtime: SpaceRuntime,
        error: Callable[[list[str]], AiospaceError],
        cause: AiospaceError | None = None,
    ) -> None:
        self.runtime = runtime
        self.error = error
        self.cause = cause


class _Wait:
    """The state of one wait, judged poll by poll."""

    watch: SpaceWatch
    #: With ``WaitFor.ready``: the app's readiness (None: the runtime alone decides).
    ready: Readiness | None = None
    #: The Space's own start timeout is still to be read (when a start is first seen).
    start_pending: bool = False

    def __init__(
        self,
        client: HubClient,
        repo_id: str,
        want: WaitFor,
        trouble: OnTrouble,
        on_transition: Callable[[Transition], None] | None,
    ) -> None:
        self.client = client
        self.repo_id = repo_id
        self.want_stage = want.stage
        #: The flavor to reach; a capacity retry onto a fallback moves it there.
        self.want_hardware: SpaceHardware | None = want.hardware
        self.until = want.until
        self.revision = want.revision
        self.on_transition = on_transition
        self.build_grace = trouble.build_grace
        self.on_stall = trouble.on_stall
        self.retry_capacity = trouble.retry_capacity
        self.fallbacks = trouble.fallback_hardware
        self.ending: _Ending | None = None
        self.started = client.clock.now()
        #: When the head was first seen at the revision (None: not yet).
        self.head_at: float | None = None
        #: A build or start of the revision was seen (always true without a revision).
        self.build_seen = self.revision is None
        #: The build log named the revision: nothing left to confirm.
        self.confirmed = self.revision is None
        self.static = False
        #: Answers in a row whose info had no readable head sha.
        self.headless = 0
        self.rebooted = False
        self.retries = 0
        #: When the last capacity retry was asked, until the Space is seen out of its error.
        self.retried_at: float | None = None

    # ------------------------------------------------------------------ the judgement of one poll

    async def judge(self, poll: Poll) -> SpaceRuntime | None:
        """The runtime to return if this poll ends the wait; sets ``ending`` if it fails."""
        transition = poll.transition
        if transition is not None:
            self._report(transition)
        runtime = poll.runtime
        if self.revision is not None and not await self._follow_revision(poll):
            return None
        if self.start_pending and runtime.stage in START_STAGES:
            await self._read_start_timeout()
        if transition is not None and transition.stalled:
            await self._stalled(runtime, poll.observed_at)
            return None
        if self._reached(runtime):
            if await self._is_the_revision(runtime):
                return runtime if self.ready is None else await self._app_answers(runtime, poll.observed_at)
            return None
        if self.ready is not None:
            self.ready.lost()
        if self.retried_at is not None:
            if is_failure(runtime) and poll.observed_at - self.retried_at < self.build_grace:
                return None  # the failure the retry is curing: the restart hasn't shown yet
            self.retried_at = None
        if is_failure(runtime) and self.build_seen:
            if not await self._is_the_revision(runtime):
                return None  # an earlier commit's failure: the revision's build is still to come
            if is_capacity_failure(runtime) and self.retries < self.retry_capacity:
                await self._retry_capacity(runtime)
                return None
            self.ending = _Ending(runtime, lambda lines: SpaceFailedError(self.repo_id, runtime, lines))
            return None
        hint = AT_REST.get(runtime.stage)
        # Before its build shows, a push still wakes a sleeping or stopped Space (not a paused one).
        if (
            hint is not None
            and self.until is None
            and runtime.stage != self.want_stage
            and (self.build_seen or runtime.stage == SpaceStage.PAUSED)
        ):
            raise SpaceNotStartingError(self.repo_id, runtime, hint)
        return None

    def _reached(self, runtime: SpaceRuntime) -> bool:
        if not self.build_seen:
            return False
        if self.until is not None:
            return self.until(runtime)
        if runtime.stage != self.want_stage:
            return False
        return self.want_hardware is None or (
            runtime.hardware == self.want_hardware and runtime.requested_hardware == self.want_hardware
        )

    async def _app_answers(self, runtime: SpaceRuntime, now: float) -> SpaceRuntime | None:
        """``runtime`` once the app answers; None meanwhile (ending the wait past ``ready_timeout``)."""
        ready = self.ready
        assert ready is not None
        if await ready.answers(runtime, now):
            return runtime
        if ready.overdue(now):
            status, waited, url = ready.last_status, ready.waited(now), ready.url

            def error(lines: list[str]) -> AiospaceError:
                return AppNotReadyError(
                    self.repo_id, runtime, lines, last_status=status, waited=waited, url=url
                )

            self.ending = _Ending(runtime, error)
            return None
        tracker = self.watch.tracker
        tracker.next_due = min(tracker.next_due, ready.next_ask)  # poll again when the app is due
        return None

    def ready_reason(self) -> str | None:
        """What a timeout says of the app, if the wait was asking it."""
        ready = self.ready
        if ready is None or ready.since is None:
            return None
        last = "no answer" if ready.last_status is None else f"status {ready.last_status}"
        return f"the app had not answered (last: {last})"

    async def _read_start_timeout(self) -> None:
        """Judge the starts against the Space's ``startup_duration_timeout`` (read once, best effort)."""
        self.start_pending = False
        info = None
        try:
            info = await self.client.space_info(self.repo_id)
        except AiospaceError as exc:
            log.debug("%s: could not read its card, the Hub's start timeout applies: %s", self.repo_id, exc)
        limit = startup_timeout(info)
        limits = dict(self.watch.tracker.stall_after)
        for stage in START_STAGES:
            limits[stage] = limit
        self.watch.tracker.stall_after = limits

    def _report(self, transition: Transition) -> None:
        if self.on_transition is not None:
            self.on_transition(transition)

    # ------------------------------------------------------------------ revisions

    async def _follow_revision(self, poll: Poll) -> bool:
        """Track the head against the revision; False when this poll can't end the wait."""
        assert self.revision is not None
        info, runtime, now = poll.info, poll.runtime, poll.observed_at
        tracker = self.watch.tracker
        head = None if info is None or not isinstance(info.sha, str) else info.sha.lower()
        if head is None or not _SHA.fullmatch(head):
            # No head, or not a sha: nothing can be judged (never "superseded by ''"); a
            # Hub that keeps answering so has changed its schema: the wait doesn't spin on it.
            self.headless += 1
            if self.headless >= tracker.cadence.max_bad_answers:
                raise BadAnswerError(
                    f"the Space's info has no head commit sha in {self.headless} answers in a row",
                    reason="shape",
                    repo_id=self.repo_id,
                    method="GET",
                    path=f"/api/spaces/{self.repo_id}",
                )
            return False
        self.headless = 0
        if head != self.revision:
            if self.head_at is not None:
                self._end_superseded(runtime, head, seen=True)
            elif now - self.started >= self.build_grace:
                self._end_superseded(runtime, head, seen=False)
            else:
                tracker.wrote(now)  # the push may be on its way: poll fast
            return False
        if self.head_at is None:
            self.head_at = now
            self.static = info is not None and info.sdk == "static"
            if self.static:
                self.build_seen = self.confirmed = True
        if not self.build_seen and runtime.is_transitional:
            self.build_seen = True  # a build under way: confirmed (or not) by its log later
        if not self.build_seen:
            tracker.wrote(now)  # the build is due any moment: poll fast
            verdict = "unknown" if runtime.stage in AT_REST else await self._build_verdict(runtime)
            if verdict == "yes":
                # Running (or failed) and the latest build names the revision: the deploy is
                # over, or its build ran between two polls, or began after this runtime was
                # read (then it is the old container's): the next poll, read after the log,
                # is the one judged.
                self.build_seen = self.confirmed = True
                return False
            if verdict == "pending":
                self.build_seen = True  # its build is queued: the container running is the old one
                return False
            if now - self.head_at >= self.build_grace:
                reason = (
                    f"no build of revision {self.revision[:12]} began within "
                    f"{self.build_grace:g}s after the head reached it"
                )
                raise WaitTimeoutError(self.repo_id, self.build_grace, runtime, reason=reason)
        return True

    def _end_superseded(self, runtime: SpaceRuntime, head: str, *, seen: bool) -> None:
        revision = self.revision or ""

        def error(lines: list[str]) -> AiospaceError:
            return RevisionSupersededError(
                self.repo_id, revision, head, runtime=runtime, log_lines=lines, seen=seen
            )

        self.ending = _Ending(runtime, error)

    async def _is_the_revision(self, runtime: SpaceRuntime) -> bool:
        """Whether what the Space shows comes from the revision: its latest build names it.

        A build seen only by its stage may have been an earlier commit's (one under way
        when the push came): if the log names another commit, it was, and the wait goes
        on for the revision's own build. A log that names none is taken at its stage.
        A ``RUNNING`` container started before the revision's build was queued is the
        old one: the wait goes on for the new one.
        """
        if self.confirmed:
            return True
        verdict = await self._build_verdict(runtime)
        if verdict == "no":
            self.build_seen = False
            log.debug(
                "%s: the build seen was not of revision %s; waiting for it", self.repo_id, self.revision
            )
            return False
        if verdict == "pending":
            log.debug("%s: revision %s is built, not yet running", self.repo_id, self.revision)
            return False
        self.confirmed = True  # named (or named nothing: taken at its stage)
        return True

    async def _build_verdict(self, runtime: SpaceRuntime) -> _Verdict:
        """Does the latest build log name the revision ("yes", "no"; "unknown": no commit named)?

        "pending" when it does, but ``runtime`` is ``RUNNING`` and the run log says no
        container started since that build was queued (its last ``===== Application
        Startup at ...`` is before ``Build Queued at ...``): the old container, the build
        still to run. A run log without that header leaves the build log's word.
        """
        header = await _log_head(self.client, self.repo_id, build=True)
        commit = _first_match(_BUILD_COMMIT, header)
        if commit is None or self.revision is None:
            return "unknown"
        if not self.revision.startswith(commit.lower()):
            return "no"
        if runtime.stage == SpaceStage.RUNNING:
            queued = _stamp(_first_match(_BUILD_QUEUED, header))
            if queued is not None:
                started = await _last_startup(self.client, self.repo_id)
                if started is not None and started < queued:
                    return "pending"
        return "yes"

    # ------------------------------------------------------------------ stalls and capacity

    async def _stalled(self, runtime: SpaceRuntime, now: float) -> None:
        tracker = self.watch.tracker
        stalled_for = tracker.stalled_for
        if self.on_stall == "factory_reboot" and not self.rebooted:
            self.rebooted = True
            log.warning(
                "%s stalled in %s for %.0fs: rebuilding it without cache",
                self.repo_id,
                runtime.stage,
                stalled_for,
            )
            try:
                answer = await self.client.restart_space(self.repo_id, factory_reboot=True)
            except (HubHTTPError, TransportError) as refused:
                # A read-only token, a conflict, the Hub out of reach: the stall is what
                # the caller needs to hear (exit 1, the build log), with the refusal as cause.
                log.warning("%s: the factory reboot failed: %s", self.repo_id, refused)
                self._end_stalled(runtime, stalled_for, rebooted=False, cause=refused)
                return
            tracker.reset_stay(self.client.clock.now())
            self._report(Transition(self.repo_id, runtime, answer, frozenset({Change.FACTORY_REBOOT}), now))
            return
        self._end_stalled(runtime, stalled_for, rebooted=self.rebooted)

    def _end_stalled(
        self, runtime: SpaceRuntime, stalled_for: float, *, rebooted: bool, cause: AiospaceError | None = None
    ) -> None:
        def error(lines: list[str]) -> AiospaceError:
            return SpaceStalledError(self.repo_id, runtime, lines, stalled_for=stalled_for, rebooted=rebooted)

        self.ending = _Ending(runtime, error, cause)

    async def _retry_capacity(self, runtime: SpaceRuntime) -> None:
        self.retries += 1
        delay = backoff(self.retries - 1, CAPACITY_BACKOFF, CAPACITY_BACKOFF_MAX)
        flavor = None
        if self.fallbacks:
            flavor = self.fallbacks[min(self.retries, len(self.fallbacks)) - 1]
        move = f" on {flavor}" if flavor is not None and flavor != runtime.requested_hardware else ""
        log.warning(
            "%s: %s; retry %d of %d%s in %.0fs",
            self.repo_id,
            runtime.error_message,
            self.retries,
            self.retry_capacity,
            move,
            delay,
        )
        clock = self.client.clock
        await clock.sleep(delay)
        try:
            if move and flavor is not None:
                answer = await self.client.request_space_hardware(self.repo_id, flavor)
                if self.want_hardware is not None:
                    self.want_hardware = flavor  # the fallback is now what the wait is for
            else:
                answer = await self.client.restart_space(self.repo_id)
        except (HubHTTPError, TransportError) as refused:
            # The capacity failure stands (exit 1, its log tail), the refusal as its cause.
            log.warning("%s: the capacity retry failed: %s", self.repo_id, refused)
            self.ending = _Ending(
                runtime, lambda lines: SpaceFailedError(self.repo_id, runtime, lines), refused
            )
            return
        self.retried_at = clock.now()
        self._report(
            Transition(self.repo_id, runtime, answer, frozenset({Change.CAPACITY_RETRY}), self.retried_at)
        )


async def build_commit(client: HubClient, repo_id: str) -> str | None:
    """The commit (a sha prefix, lower case) the Space's latest build log names; None if none is named.

    Reads the head of the build log (``===== Build Queued at ... / Commit SHA: 1a2b3c4 =====``),
    best effort: None when the log can't be read.
    """
    commit = _first_match(_BUILD_COMMIT, await _log_head(client, repo_id, build=True))
    return None if commit is None else commit.lower()


async def _log_head(client: HubClient, repo_id: str, *, build: bool = False) -> list[str]:
    """The first lines of the build (or run) log, up to its header; best effort ([] on failure)."""
    head: list[str] = []
    try:
        async with contextlib.aclosing(client.fetch_space_logs(repo_id, build=build)) as lines:
            async for line in lines:
                head.append(line)
                if len(head) >= _BUILD_HEADER_LINES or _HEADER.search(line):
                    break
    except AiospaceError as exc:
        log.debug("could not read the %s log of %s: %s", "build" if build else "run", repo_id, exc)
    return head


async def _last_startup(client: HubClient, repo_id: str) -> datetime | None:
    """When the latest container started, by the run log's ``Application Startup at`` lines (best effort)."""
    latest: datetime | None = None
    try:
        async with contextlib.aclosing(client.fetch_space_logs(repo_id)) as lines:
            async for line in lines:
                found = _APP_STARTUP.search(line)
                stamp = None if found is None else _stamp(found.group(1))
                if stamp is not None and (latest is None or stamp > latest):
                    latest = stamp
    except AiospaceError as exc:
        log.debug("could not read the run log of %s: %s", repo_id, exc)
    return latest


def _first_match(pattern: re.Pattern[str], lines: list[str]) -> str | None:
    for line in lines:
        found = pattern.search(line)
        if found is not None:
            return found.group(1)
    return None


def _stamp(text: str | None) -> datetime | None:
    """A log header's time (``2024-05-01 12:00:00``, the Hub's UTC); None if absent or unreadable."""
    if text is None:
        return None
    try:
        return datetime.strptime(text.replace("T", " "), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


async def log_tail(client: HubClient, repo_id: str, runtime: SpaceRuntime, count: int) -> list[str]:
    """The last ``count`` lines of the log that explains ``runtime``'s stage (best effort: [] on failure).

    The build log for a stage of the build (``BUILD_ERROR``, ``CONFIG_ERROR``,
    ``NO_APP_FILE``, and a build under way), the run log otherwise. The client's token
    is masked (:meth:`HubClient.redact`): a Space may print its
    environment, and the lines go into errors.
    """
    if count <= 0:
        return []
    build = runtime.stage in _BUILD_LOG_STAGES
    tail: deque[str] = deque(maxlen=count)
    try:
        async with contextlib.aclosing(client.fetch_space_logs(repo_id, build=build)) as lines:
            async for line in lines:
                tail.append(line)
    except AiospaceError as exc:
        log.debug("could not read the logs of %s: %s", repo_id, exc)
    return [client.redact(line) for line in tail]


_BUILD_LOG_STAGES = frozenset(
    {
        SpaceStage.BUILD_ERROR,
        SpaceStage.CONFIG_ERROR,
        SpaceStage.NO_APP_FILE,
        SpaceStage.BUILDING,
        SpaceStage.RUNNING_BUILDING,
    }
)

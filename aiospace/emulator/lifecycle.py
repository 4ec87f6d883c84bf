"""The lifecycle state machine: every Space's stages over simulated time, and the event log.

Pure Python, no I/O and no event loop: time comes from the one
:class:`~aiospace._clock.ScaledClock`, so the whole lifecycle is a deterministic
function of simulated time and of the operations applied. :class:`Lifecycle` owns
the Spaces, the scheduled timers and the ground-truth event log; it knows nothing
of users, access or the wire (see :mod:`~aiospace.emulator.operations`).

Lazy evaluation
---------------
Each Space's pending transitions (build done, app started, crash, sleep, log
lines...) wait in one time-ordered schedule. :meth:`Lifecycle.advance` applies every
transition due up to ``clock.now()``, stamping each at its *scheduled* simulated
time; every operation advances first, and the emulator's server runs a ticker that
advances in the background so logs and sleeps progress with no request at all.
A timer carries the generation it was armed in (``Space.gen``, ``container``,
``sleep_gen``): bumping one voids every timer of the old generation.

The model
---------
* A commit moves the head ``sha`` at once; its build starts ``push_delay`` seconds
  later (meanwhile the runtime still shows the old container). A later commit
  re-arms the delay; a build that starts meanwhile (a restart...) builds the head.
* Restart, commit, and settings changes (hardware, storage, volumes, secrets,
  variables) rebuild: ``BUILDING -> APP_STARTING -> RUNNING``, or from a serving Space
  ``RUNNING_BUILDING -> RUNNING_APP_STARTING -> RUNNING`` (the old container keeps
  serving, on its old hardware, until the new one runs).
* A build lasts ``build_seconds`` (plus ``factory_seconds`` for a factory reboot),
  the app starts in ``start_seconds`` (plus ``hardware_seconds`` when the new
  container runs on other hardware than the last one).
* ``hardware.requested`` changes at once; ``hardware.current`` becomes the
  requested flavor when the Space reaches ``RUNNING``, and is null whenever no
  container runs (building from a stopped state, paused, sleeping, errors).
* ``fail_build``: the build ends in ``BUILD_ERROR`` with the error in the build
  logs. ``crash_after``: ``RUNTIME_ERROR`` that many seconds after reaching
  ``RUNNING``, with a traceback in the run logs. ``stuck``: the build never ends.
  ``capacity_failures: N``: the next N starts on paid hardware find no machine and
  end in ``RUNTIME_ERROR``. Every error stage carries an ``errorMessage``.
* What a build builds is the head's files (:mod:`~aiospace.emulator.repo`): without
  the SDK's app file a build is ``NO_APP_FILE`` at once (no container); a
  ``build-error`` marker in the app file fails the build as ``fail_build`` does, a
  ``runtime-error`` marker crashes the app as it starts. A static Space's commit
  serves its files at once (``NO_APP_FILE`` without ``index.html``).
* Pause: ``PAUSED``, requested hardware kept, current null; only a restart leaves
  it. Settings changed while paused apply at the next restart.
* Sleep: a ``RUNNING`` Space with no visit for its sleep time goes ``SLEEPING``;
  a visit wakes it through ``APP_STARTING`` (the image is cached, no build), a
  restart rebuilds it. The sleep time is ``gcTimeout``: 172800 s on free
  hardware (``cpu-basic``, ``zero-a10g``), never by default on paid hardware.
  Setting a sleep time on free hardware is accepted (200) and ignored, as on the
  Hub (the official client warns about it after a successful call).
* Static Spaces are always ``RUNNING`` with null hardware; pausing, restarting,
  or changing their hardware, sleep time, storage or dev mode is a 400.
* A running Space writes a heartbeat line to its run logs every
  ``log_interval`` seconds, and a build a progress line as often: a log stream
  that is open always sees new lines. These lines are not scheduled: each log
  makes them when it is read, followed or written to (:class:`~.state.Periodic`),
  so an idle world of 10,000 Spaces costs nothing until a log is looked at.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from .._clock import ScaledClock
from ..models import SpaceStage
from .encode import format_time, runtime_json
from .repo import AppVerdict, app_file, app_verdict
from .state import CAPACITY_MESSAGE, LogBuffer, Periodic, Space, is_free, not_found

__all__ = ["MAX_EVENTS", "Event", "Lifecycle"]


@attrs.frozen
class Event:
    """One entry of the ground-truth event log."""

    seq: int
    time: float
    at: datetime
    space: str
    stage: str
    hardware: str | None
    requested: str | None
    reason: str
    runtime: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The event as ``GET /_emulator/events`` answers it."""
        return {
            "seq": self.seq,
            "time": self.time,
            "at": format_time(self.at),
            "space": self.space,
            "stage": self.stage,
            "hardware": self.hardware,
            "requested": self.requested,
            "reason": self.reason,
            "runtime": dict(self.runtime),
        }


@attrs.frozen(order=True)
class _Pending:
    """A scheduled transition: due at ``time``, void unless ``token`` is still current."""

    time: float
    seq: int
    space: str = attrs.field(order=False)
    kind: str = attrs.field(order=False)
    token: int = attrs.field(order=False)


#: Events the log keeps (a loop of restarts must not grow memory without end): the oldest go.
MAX_EVENTS = 100_000


class Lifecycle:
    """The Spaces, their scheduled transitions and the event log, on one simulated clock."""

    def __init__(self, clock: ScaledClock) -> None:
        self.clock = clock
        self._wall0 = clock.wall() - timedelta(seconds=clock.now())
        self.spaces: dict[str, Space] = {}
        #: The newest :data:`MAX_EVENTS` events (sequence numbers keep counting past it).
        self.events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self._event_seq = 0
        self._schedule: list[_Pending] = []
        self._seq = itertools.count()
        self._now = 0.0
        self._last: dict[str, tuple[str, str | None, str | None]] = {}
        self._now_of = self.now  # one bound method shared by every periodic log

    # ------------------------------------------------------------------ time

    def wall(self, t: float | None = None) -> datetime:
        """Simulated time ``t`` (default: now) as a UTC datetime."""
        return self._wall0 + timedelta(seconds=self._now if t is None else t)

    def now(self) -> float:
        """The latest time applied (advance first to move it to ``clock.now()``)."""
        return self._now

    def advance(self, until: float | None = None) -> float:
        """Apply every transition due up to ``until`` (default ``clock.now()``)."""
        target = self.clock.now() if until is None else until
        while self._schedule and self._schedule[0].time <= target:
            item = heapq.heappop(self._schedule)
            self._now = max(self._now, item.time)
            space = self.spaces.get(item.space)
            if space is not None:
                self._fire(space, item)
        self._now = max(self._now, target)
        return self._now

    def _at(self, space: Space, t: float, kind: str, token: int) -> None:
        heapq.heappush(self._schedule, _Pending(t, next(self._seq), space.id, kind, token))

    # ------------------------------------------------------------------ the Spaces

    def find(self, repo_id: str) -> Space | None:
        """A Space by id, once every transition due is applied (None if missing)."""
        self.advance()
        return self.spaces.get(repo_id)

    def space(self, repo_id: str) -> Space:
        """A Space by id, whatever its visibility (404 HubError if missing)."""
        space = self.find(repo_id)
        if space is None:
            raise not_found(repo_id)
        return space

    def add(self, space: Space, stage: SpaceStage, reason: str) -> None:
        """Register a new Space (created now) and put it in ``stage``.

        ``RUNNING`` starts it with its build and start-up already in its logs;
        ``BUILDING`` / ``RUNNING_BUILDING`` start a build; any other stage (paused,
        sleeping, an error...) is taken as is, with no container.
        """
        t = self._now
        space.sha = space.sha or _sha(space)
        self.spaces[space.id] = space
        if space.is_static or stage == SpaceStage.RUNNING:
            space.stage = SpaceStage.RUNNING
            if not space.is_static:
                self._seed_logs(space, t)
                space.current = space.requested
                space.container += 1
                self._heartbeats(space, t)
                self.record(space, t, reason, force=True)
                self._started(space, t)
            else:
                self.record(space, t, reason, force=True)
        elif stage in (SpaceStage.BUILDING, SpaceStage.RUNNING_BUILDING):
            space.stage = SpaceStage.STOPPED
            self._build(space, t, reason)
        else:
            space.stage = stage
            space.error_message = _SEEDED_ERRORS.get(stage)
            if stage == SpaceStage.BUILD_ERROR:
                space.build_log.append(t, "ERROR: failed to build the image (seeded)")
            space.build_log.closed = True
            space.run_log.closed = True
            self.record(space, t, reason, force=True)

    def _heartbeats(self, space: Space, t: float) -> None:
        """The container started at ``t`` writes a heartbeat every ``log_interval`` (made lazily)."""
        first = t + space.behaviour.log_interval
        space.run_log.start_periodic(Periodic(first, space.behaviour, self._heartbeat_line, self._now_of))

    def _heartbeat_line(self, t: float) -> str:
        return f"INFO:     heartbeat: app alive at {_stamp(self.wall(t))}"

    def _seed_logs(self, space: Space, t: float) -> None:
        for line in _build_script(space, self.wall(t), factory=False):
            space.build_log.append(t, line)
        space.build_log.append(t, "DONE 0.0s")
        space.build_log.append(t, "--> Pushing image")
        space.build_log.closed = True
        space.run_log.append(t, f"===== Application Startup at {_stamp(self.wall(t))} =====")
        space.run_log.append(t, _app_banner(space))

    def remove(self, repo_id: str) -> None:
        """Delete a Space (its pending transitions are dropped)."""
        space = self.spaces.pop(repo_id, None)
        if space is None:
            raise not_found(repo_id)
        space.build_log.closed = space.run_log.closed = True
        self.record(space, self.advance(), "deleted", force=True, stage="DELETING")

    # ------------------------------------------------------------------ the event log

    def record(
        self, space: Space, t: float, reason: str, *, force: bool = False, stage: str | None = None
    ) -> None:
        """Log the Space's runtime at ``t`` if its stage or hardware changed (always if ``force``)."""
        runtime = runtime_json(space)
        if stage is not None:
            runtime["stage"] = stage
        hw = runtime["hardware"]
        key = (runtime["stage"], hw["current"], hw["requested"])
        if not force and self._last.get(space.id) == key:
            return
        self._last[space.id] = key
        self.events.append(Event(self._event_seq, t, self.wall(t), space.id, *key, reason, runtime))
        self._event_seq += 1

    def events_for(self, space: str | None = None, after: int = -1) -> list[Event]:
        """The event log (of one Space), from sequence number ``after + 1`` on."""
        return [e for e in self.events if e.seq > after and (space is None or e.space == space)]

    # ------------------------------------------------------------------ what happens to a Space now

    def rebuild(self, space: Space, reason: str, *, factory: bool = False) -> None:
        """Start a build now (a restart; ``factory``: without cache, longer)."""
        self._build(space, self._now, reason, factory=factory)

    def settings_changed(self, space: Space, reason: str) -> None:
        """A setting changed: rebuild, unless the Space is static or paused (then at restart)."""
        if space.is_static or space.stage == SpaceStage.PAUSED:
            return
        self._build(space, self._now, reason)

    def commit(self, space: Space, sha: str | None = None) -> None:
        """A new commit: the head moves now (to ``sha``, else a derived id); the Space rebuilds
        ``push_delay`` seconds later.

        Static Spaces serve the new files at once (``NO_APP_FILE`` without ``index.html``);
        a paused Space builds the head at its next restart.
        """
        t = self._now
        space.commits += 1
        space.sha = sha or _sha(space)
        space.last_modified = t
        if space.is_static:
            self._static_update(space, t)
            return
        if space.stage == SpaceStage.PAUSED:
            return
        delay = space.behaviour.push_delay
        if delay <= 0:
            self._build(space, t, "commit")
            return
        space.pending_push = space.commits
        self._at(space, t + delay, "push", space.commits)

    def pause(self, space: Space) -> None:
        """Pause now: any build is cancelled and the container stops, until a restart."""
        if space.stage == SpaceStage.PAUSED:
            return
        t = self._now
        if space.is_building:
            space.build_log.append(t, "Build cancelled: the Space was paused")
        space.build_log.closed = True
        self._stop_container(space)
        space.gen += 1
        space.sleep_gen += 1
        space.pending_push = None  # a paused Space builds its head at the next restart
        space.stage = SpaceStage.PAUSED
        self.record(space, t, "pause")

    def crash(self, space: Space, reason: str) -> None:
        """The app crashes now: ``RUNTIME_ERROR`` with a traceback in the run log."""
        self._crash(space, self._now, reason)

    def visit(self, space: Space) -> None:
        """A visit to the Space's app: resets its sleep timer, wakes it if sleeping."""
        t = self._now
        space.last_visit = t
        if space.stage == SpaceStage.SLEEPING:
            space.gen += 1
            self._start_container(space, t, SpaceStage.APP_STARTING, "visit (wake up)")
        elif space.stage == SpaceStage.RUNNING:
            self.arm_sleep(space)

    def arm_sleep(self, space: Space) -> None:
        """(Re-)arm the sleep timer of a running Space from its last visit and ``gcTimeout``."""
        space.sleep_gen += 1
        timeout = space.gc_timeout
        if space.stage == SpaceStage.RUNNING and timeout is not None and timeout >= 0:
            self._at(space, space.last_visit + timeout, "sleep", space.sleep_gen)

    # ------------------------------------------------------------------ transitions

    def _build(self, space: Space, t: float, reason: str, *, factory: bool = False) -> None:
        """Start a build (rebuild) at ``t``: of the head, so a pending push is served by it."""
        space.pending_push = None
        space.error_message = None
        verdict = app_verdict(space.sdk, space.files)
        if verdict is AppVerdict.NO_APP_FILE:
            self._no_app_file(space, t, reason)
            return
        space.app_fault = None if verdict is AppVerdict.OK else verdict.value
        space.gen += 1
        space.sleep_gen += 1
        if space.is_serving:
            space.stage = SpaceStage.RUNNING_BUILDING
        else:
            self._stop_container(space)
            space.stage = SpaceStage.BUILDING
        space.build_log.closed = True
        space.build_log = LogBuffer()
        for line in _build_script(space, self.wall(t), factory=factory):
            space.build_log.append(t, line)
        self.record(space, t, reason, force=True)
        behave = space.behaviour
        space.build_started = t
        space.build_end = None
        done = (
            None if behave.stuck else t + behave.build_seconds + (behave.factory_seconds if factory else 0.0)
        )
        space.build_end = done
        progress = functools.partial(_progress_line, t)
        space.build_log.start_periodic(
            Periodic(t + behave.log_interval, behave, progress, self._now_of, done)
        )
        if done is not None:
            self._at(space, done, "build_done", space.gen)

    def _stop_container(self, space: Space) -> None:
        if space.has_container:
            space.container += 1
        space.current = None
        space.run_log.closed = True

    def _start_container(self, space: Space, t: float, stage: SpaceStage, reason: str) -> None:
        """Start the app (after a build, or waking up) at ``t``."""
        fresh = not space.has_container
        space.stage = stage
        space.error_message = None
        # A start on paid hardware may find no machine (``capacity_failures``): it fails at start_done.
        behave = space.behaviour
        space.unschedulable = (
            space.requested is not None and not is_free(space.requested) and behave.capacity_failures > 0
        )
        if space.unschedulable:
            behave.capacity_failures -= 1
        if fresh:
            space.container += 1
            space.run_log = _reopen(space.run_log)
            self._heartbeats(space, t)
        space.run_log.append(t, f"===== Application Startup at {_stamp(self.wall(t))} =====")
        self.record(space, t, reason)
        delay = space.behaviour.start_seconds
        if space.requested != space.last_hardware:
            delay += space.behaviour.hardware_seconds
        self._at(space, t + delay, "start_done", space.gen)

    def _started(self, space: Space, t: float) -> None:
        """The Space reached RUNNING at ``t``: arm crash and sleep, start heartbeats."""
        space.last_visit = space.running_since = t
        if space.behaviour.crash_after is not None:
            self._at(space, t + space.behaviour.crash_after, "crash", space.gen)
        self.arm_sleep(space)

    def _fire(self, space: Space, item: _Pending) -> None:
        t, kind = item.time, item.kind
        if kind == "build_done":
            if item.token != space.gen or not space.is_building:
                return
            self._build_done(space, t)
        elif kind == "push":
            if item.token != space.pending_push or space.stage == SpaceStage.PAUSED:
                return
            self._build(space, t, "commit")
        elif kind == "start_done":
            if item.token != space.gen or space.stage not in (
                SpaceStage.APP_STARTING,
                SpaceStage.RUNNING_APP_STARTING,
            ):
                return
            if space.unschedulable:
                self._unschedulable(space, t)
                return
            if space.app_fault == AppVerdict.RUNTIME_ERROR.value:
                self._crash(space, t, "crash (runtime-error marker)")
                return
            space.stage = SpaceStage.RUNNING
            space.current = space.requested
            space.last_hardware = space.requested
            space.run_log.append(t, f"Running on local URL:  http://0.0.0.0:7860 ({space.current})")
            self.record(space, t, "app started")
            self._started(space, t)
        elif kind == "crash":
            if item.token != space.gen or space.stage != SpaceStage.RUNNING:
                return
            self._crash(space, t, "crash")
        elif kind == "sleep":
            if item.token != space.sleep_gen or space.stage != SpaceStage.RUNNING:
                return
            space.run_log.append(t, "Space is going to sleep after inactivity")
            self._stop_container(space)
            space.gen += 1
            space.stage = SpaceStage.SLEEPING
            self.record(space, t, "sleep")

    def _build_done(self, space: Space, t: float) -> None:
        if space.app_fault == AppVerdict.BUILD_ERROR.value:
            marker = f"ERROR: the build-error marker of {app_file(space.sdk)} (aiospace emulator)"
            space.build_log.append(t, marker)
        if space.behaviour.fail_build or space.app_fault == AppVerdict.BUILD_ERROR.value:
            for line in (
                'ERROR: process "/bin/sh -c pip install --no-cache-dir -r requirements.txt" '
                "did not complete successfully: exit code: 1",
                "ERROR: failed to solve: emulated build failure",
            ):
                space.build_log.append(t, line)
            space.build_log.closed = True
            self._stop_container(space)
            space.gen += 1
            space.stage = SpaceStage.BUILD_ERROR
            space.error_message = "Build failed with exit code: 1"
            self.record(space, t, "build failed")
            return
        space.build_log.append(t, "DONE 0.0s")
        space.build_log.append(t, "--> Pushing image")
        space.build_log.closed = True
        nxt = (
            SpaceStage.RUNNING_APP_STARTING
            if space.stage == SpaceStage.RUNNING_BUILDING
            else SpaceStage.APP_STARTING
        )
        self._start_container(space, t, nxt, "build finished")

    def _no_app_file(self, space: Space, t: float, reason: str) -> None:
        """The files lack the SDK's app file: no build, no container, ``NO_APP_FILE``."""
        space.gen += 1
        space.sleep_gen += 1
        self._stop_container(space)
        space.stage = SpaceStage.NO_APP_FILE
        space.error_message = f"No application file: {app_file(space.sdk)} is missing"
        space.build_log.closed = True
        space.build_log = LogBuffer()
        space.build_log.append(t, _build_script(space, self.wall(t), factory=False)[0])
        space.build_log.append(t, f"ERROR: no application file: {app_file(space.sdk)} is missing")
        space.build_log.closed = True
        space.build_end = None
        self.record(space, t, reason, force=True)

    def _static_update(self, space: Space, t: float) -> None:
        """A static Space serves its new files at once (``NO_APP_FILE`` without its ``index.html``)."""
        missing = app_verdict(space.sdk, space.files) is AppVerdict.NO_APP_FILE
        space.stage = SpaceStage.NO_APP_FILE if missing else SpaceStage.RUNNING
        space.error_message = f"No application file: {app_file(space.sdk)} is missing" if missing else None
        self.record(space, t, "commit")  # an event only if the stage changed

    def _crash(self, space: Space, t: float, reason: str) -> None:
        for line in (
            "Traceback (most recent call last):",
            '  File "/home/user/app/app.py", line 42, in <module>',
            "RuntimeError: emulated crash",
        ):
            space.run_log.append(t, line)
        space.build_log.stop_periodic()  # a build under way (RUNNING_BUILDING) ends with the crash
        self._stop_container(space)
        space.gen += 1
        space.sleep_gen += 1
        space.stage = SpaceStage.RUNTIME_ERROR
        space.error_message = "Exit code: 1. Reason: RuntimeError: emulated crash"
        self.record(space, t, reason)

    def _unschedulable(self, space: Space, t: float) -> None:
        """No machine of the requested flavor was free: ``RUNTIME_ERROR``; a later restart may run."""
        space.unschedulable = False
        space.run_log.append(t, f"{CAPACITY_MESSAGE} for {space.requested}")
        self._stop_container(space)
        space.gen += 1
        space.sleep_gen += 1
        space.stage = SpaceStage.RUNTIME_ERROR
        space.error_message = CAPACITY_MESSAGE
        self.record(space, t, "scheduling failure")


# ---------------------------------------------------------------------- log lines


#: The ``errorMessage`` of a Space seeded in an error stage.
_SEEDED_ERRORS = {
    SpaceStage.BUILD_ERROR: "Build failed with exit code: 1",
    SpaceStage.RUNTIME_ERROR: "Exit code: 1. Reason: (seeded)",
    SpaceStage.CONFIG_ERROR: "Invalid configuration in README.md: 'sdk' is missing",
    SpaceStage.NO_APP_FILE: "No application file",
}


def _sha(space: Space) -> str:
    """The head commit: a stable function of the Space and its number of commits."""
    return hashlib.sha1(f"{space.id}:{space.commits}".encode()).hexdigest()


def _reopen(log: LogBuffer) -> LogBuffer:
    log.closed = False
    return log


def _progress_line(started: float, t: float) -> str:
    return f"Building... {t - started:.0f}s elapsed"


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _app_banner(space: Space) -> str:
    return f"Running on local URL:  http://0.0.0.0:7860 ({space.current or space.requested})"


def _build_script(space: Space, when: datetime, *, factory: bool) -> list[str]:
    lines = [f"===== Build Queued at {_stamp(when)} / Commit SHA: {space.sha[:7]} ====="]
    if factory:
        lines.append("Factory reboot: rebuilding from scratch without cache")
    lines += [
        "--> FROM docker.io/library/python:3.10@sha256:emulated",
        "--> RUN pip install --no-cache-dir -r requirements.txt",
    ]
    return lines

"""The emulator's world: users, Spaces, their lifecycle and the event log.

Pure Python, no I/O and no event loop: every operation takes the simulated time
from the one :class:`~aiospace._clock.ScaledClock`, so the whole lifecycle is a
deterministic function of simulated time and of the operations applied.

Lifecycle model (lazy evaluation)
---------------------------------
Each Space holds pending transitions in one time-ordered schedule (build done,
app started, crash, sleep, log lines...). :meth:`World.advance` applies every
transition due up to ``clock.now()``, stamping each at its *scheduled* simulated
time; every public operation advances first, and the emulator's server runs a
ticker that advances in the background so logs and sleeps progress with no
request at all.

* Restart, commit, and settings changes (hardware, storage, secrets, variables)
  rebuild: ``BUILDING -> APP_STARTING -> RUNNING``, or from a serving Space
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
  that is open always sees new lines.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from .._clock import ScaledClock
from .._validate import check_repo_id
from ..models import SpaceHardware, SpaceStage, SpaceStorage
from . import encode
from .encode import EXPAND_PROPERTIES, format_time, runtime_json
from .faults import Fault, FaultInjector
from .ratelimit import DEFAULT_WINDOW, RateLimiter
from .state import (
    BEHAVIOUR_FIELDS,
    DEFAULT_FREE_SLEEP,
    HARDWARE,
    STORAGE_ORDER,
    Behaviour,
    HubError,
    LogBuffer,
    Space,
    StoredSecret,
    StoredVariable,
    is_free,
    not_found,
)

__all__ = [
    "BEHAVIOUR_FIELDS",
    "DEFAULT_FREE_SLEEP",
    "HARDWARE",
    "Behaviour",
    "Event",
    "HubError",
    "LogBuffer",
    "Space",
    "Stats",
    "World",
]


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
    time: float
    seq: int
    space: str = attrs.field(order=False)
    kind: str = attrs.field(order=False)
    token: int = attrs.field(order=False)


class Stats:
    """Request counters: by route name, by Space, by status; 429s and injected faults."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.total = 0
        self.by_route: Counter[str] = Counter()
        self.by_space: dict[str, Counter[str]] = {}
        self.by_status: Counter[int] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()

    def count(self, route: str, space: str | None) -> None:
        """One request arrived."""
        self.total += 1
        self.by_route[route] += 1
        if space is not None:
            self.by_space.setdefault(space, Counter())[route] += 1

    def to_json(self) -> dict[str, Any]:
        """The counters as ``GET /_emulator/stats`` answers them."""
        return {
            "requests": self.total,
            "by_route": dict(self.by_route),
            "by_space": {
                space: {"total": sum(c.values()), "by_route": dict(c)} for space, c in self.by_space.items()
            },
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "rate_limited": {"total": sum(self.rate_limited.values()), **self.rate_limited},
            "faults": dict(self.faults),
        }


class World:
    """Users, organizations and Spaces, driven by one simulated clock.

    It also holds the request-side machinery (fault injector, rate limiter and
    stats) so that tests reach everything through one object.
    """

    def __init__(
        self,
        clock: ScaledClock,
        *,
        rng_seed: int | str | None = 0,
        quota: int | None = None,
        window: float = DEFAULT_WINDOW,
    ) -> None:
        self.clock = clock
        self.faults = FaultInjector(rng_seed)
        self.limiter = RateLimiter(clock, quota, window)
        self.stats = Stats()
        self._wall0 = clock.wall() - timedelta(seconds=clock.now())
        self.users: dict[str, str] = {}  # token -> user name
        self.orgs: dict[str, set[str]] = {}  # org name -> members
        self.spaces: dict[str, Space] = {}
        self.events: list[Event] = []
        self._schedule: list[_Pending] = []
        self._seq = itertools.count()
        self._now = 0.0
        self._last: dict[str, tuple[str, str | None, str | None]] = {}

    # ------------------------------------------------------------------ faults and stats

    def add_fault(self, kind: str, **options: Any) -> Fault:
        """Inject a fault (see :mod:`aiospace.emulator.faults`)."""
        return self.faults.add(kind, **options)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def stats_json(self) -> dict[str, Any]:
        """The request counters (``GET /_emulator/stats``)."""
        return self.stats.to_json()

    def reset_stats(self) -> None:
        """Zero the request counters."""
        self.stats.reset()

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

    # ------------------------------------------------------------------ users and access

    def add_user(self, name: str, token: str | None = None) -> str:
        """Add a user (or give an existing one another token); return the token."""
        _check_namespace(name, "user")
        if name in self.orgs:
            raise ValueError(f"{name!r} is an organization")
        token = token or f"hf_{name}_{hashlib.sha256(name.encode()).hexdigest()[:12]}"
        if token in self.users and self.users[token] != name:
            raise ValueError(f"token already belongs to {self.users[token]!r}")
        self.users[token] = name
        return token

    def token_for(self, user: str) -> str:
        """A token of ``user`` (KeyError if unknown)."""
        for token, name in self.users.items():
            if name == user:
                return token
        raise KeyError(user)

    def add_org(self, name: str, members: Iterable[str]) -> None:
        """Add an organization; its members may write to its Spaces."""
        _check_namespace(name, "organization")
        if name in self.users.values():
            raise ValueError(f"{name!r} is a user: an organization can't take its name")
        self.orgs.setdefault(name, set()).update(members)

    def authenticate(self, authorization: str | None) -> str | None:
        """The user behind an ``Authorization`` header (None: anonymous; 401 if invalid)."""
        if authorization is None:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        user = self.users.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def can_write(self, space: Space, user: str | None) -> bool:
        """The owner, or a member of the owning organization."""
        return user is not None and (user == space.author or user in self.orgs.get(space.author, ()))

    def can_read(self, space: Space, user: str | None) -> bool:
        """Public Spaces to anyone; private ones to those who can write."""
        return not space.private or self.can_write(space, user)

    def _read(self, repo_id: str, user: str | None) -> Space:
        self.advance()
        space = self.spaces.get(repo_id)
        if space is None or not self.can_read(space, user):
            raise not_found(repo_id)
        return space

    def _write(self, repo_id: str, user: str | None) -> Space:
        space = self._read(repo_id, user)
        if user is None:
            raise HubError(401, "You must be authenticated to change a Space")
        if not self.can_write(space, user):
            raise HubError(403, f"You don't have the rights to change spaces/{repo_id}")
        return space

    @staticmethod
    def _not_static(space: Space, what: str) -> None:
        if space.is_static:
            raise HubError(400, f"Cannot {what} a static Space")

    # ------------------------------------------------------------------ creating Spaces

    def add_space(
        self,
        repo_id: str,
        *,
        sdk: str = "gradio",
        private: bool = False,
        hardware: str | None = "cpu-basic",
        stage: str = "RUNNING",
        sleep_time: int | None = None,
        storage: str | None = None,
        dev_mode: bool = False,
        secrets: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        likes: int = 0,
        behaviour: Behaviour | Mapping[str, Any] | None = None,
        reason: str = "created",
    ) -> Space:
        """Create a Space in ``stage`` (RUNNING, BUILDING, PAUSED, SLEEPING, or an error)."""

        check_repo_id(repo_id)
        if repo_id in self.spaces:
            raise HubError(409, f"You already created this space repo: {repo_id}")
        if hardware is not None and hardware not in HARDWARE:
            raise HubError(400, f"Invalid hardware flavor: {hardware}")
        if storage is not None and storage not in STORAGE_ORDER:
            raise HubError(400, f"Invalid storage tier: {storage}")
        if isinstance(behaviour, Behaviour):
            behave = behaviour
        else:
            behave = Behaviour()
            behave.update(behaviour or {})
        t = self.advance()
        static = sdk == "static"
        flavor = None if static or hardware is None else SpaceHardware(hardware)
        space = Space(
            id=repo_id,
            sdk=sdk,
            private=private,
            created=t,
            behaviour=behave,
            requested=flavor,
            sleep_time=sleep_time,
            storage=None if storage is None else SpaceStorage(storage),
            dev_mode=dev_mode,
            last_modified=t,
            last_visit=t,
            last_hardware=flavor,
            likes=likes,
        )
        space.sha = self._sha(space)
        for key, item in (secrets or {}).items():
            value, desc = _key_value(item)
            space.secrets[key] = StoredSecret(value, desc, t)
        for key, item in (variables or {}).items():
            value, desc = _key_value(item)
            space.variables[key] = StoredVariable(value, desc, t)
        self.spaces[repo_id] = space
        wanted = SpaceStage(stage)
        if static or wanted == SpaceStage.RUNNING:
            space.stage = SpaceStage.RUNNING
            if not static:
                self._seed_logs(space, t)
                space.current = flavor
                space.container += 1
                self._at(space, t + behave.log_interval, "run_tick", space.container)
                self._record(space, t, reason, force=True)
                self._started(space, t)
            else:
                self._record(space, t, reason, force=True)
        elif wanted in (SpaceStage.BUILDING, SpaceStage.RUNNING_BUILDING):
            space.stage = SpaceStage.STOPPED
            self._build(space, t, reason)
        else:
            space.stage = wanted
            if wanted == SpaceStage.BUILD_ERROR:
                space.build_log.append(t, "ERROR: failed to build the image (seeded)")
            space.build_log.closed = True
            space.run_log.closed = True
            self._record(space, t, reason, force=True)
        return space

    def _seed_logs(self, space: Space, t: float) -> None:
        for line in _build_script(space, self.wall(t), factory=False):
            space.build_log.append(t, line)
        space.build_log.append(t, "DONE 0.0s")
        space.build_log.append(t, "--> Pushing image")
        space.build_log.closed = True
        space.run_log.append(t, f"===== Application Startup at {_stamp(self.wall(t))} =====")
        space.run_log.append(t, _app_banner(space))

    def remove_space(self, repo_id: str) -> None:
        """Delete a Space (its pending transitions are dropped)."""
        space = self.spaces.pop(repo_id, None)
        if space is None:
            raise not_found(repo_id)
        space.build_log.closed = space.run_log.closed = True
        self._record(space, self.advance(), "deleted", force=True, stage="DELETING")

    def _sha(self, space: Space) -> str:
        return hashlib.sha1(f"{space.id}:{space.commits}".encode()).hexdigest()

    # ------------------------------------------------------------------ events

    def _record(
        self, space: Space, t: float, reason: str, *, force: bool = False, stage: str | None = None
    ) -> None:
        runtime = runtime_json(space)
        if stage is not None:
            runtime["stage"] = stage
        hw = runtime["hardware"]
        key = (runtime["stage"], hw["current"], hw["requested"])
        if not force and self._last.get(space.id) == key:
            return
        self._last[space.id] = key
        self.events.append(Event(len(self.events), t, self.wall(t), space.id, *key, reason, runtime))

    def events_for(self, space: str | None = None, after: int = -1) -> list[Event]:
        """The event log (of one Space), from sequence number ``after + 1`` on."""
        return [e for e in self.events if e.seq > after and (space is None or e.space == space)]

    # ------------------------------------------------------------------ lifecycle core

    def _build(self, space: Space, t: float, reason: str, *, factory: bool = False) -> None:
        """Start a build (rebuild) at ``t``."""
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
        self._record(space, t, reason, force=True)
        behave = space.behaviour
        space.build_started = t
        space.build_end = None
        if behave.stuck:
            self._at(space, t + behave.log_interval, "build_tick", space.gen)
            return
        done = t + behave.build_seconds + (behave.factory_seconds if factory else 0.0)
        space.build_end = done
        if t + behave.log_interval < done:
            self._at(space, t + behave.log_interval, "build_tick", space.gen)
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
        if fresh:
            space.container += 1
            space.run_log = _reopen(space.run_log)
            self._at(space, t + space.behaviour.log_interval, "run_tick", space.container)
        space.run_log.append(t, f"===== Application Startup at {_stamp(self.wall(t))} =====")
        self._record(space, t, reason)
        delay = space.behaviour.start_seconds
        if space.requested != space.last_hardware:
            delay += space.behaviour.hardware_seconds
        self._at(space, t + delay, "start_done", space.gen)

    def _started(self, space: Space, t: float) -> None:
        """The Space reached RUNNING at ``t``: arm crash and sleep, start heartbeats."""
        space.last_visit = t
        if space.behaviour.crash_after is not None:
            self._at(space, t + space.behaviour.crash_after, "crash", space.gen)
        self._arm_sleep(space)

    def _arm_sleep(self, space: Space) -> None:
        space.sleep_gen += 1
        timeout = space.gc_timeout
        if space.stage == SpaceStage.RUNNING and timeout is not None and timeout >= 0:
            self._at(space, space.last_visit + timeout, "sleep", space.sleep_gen)

    def _fire(self, space: Space, item: _Pending) -> None:
        t, kind = item.time, item.kind
        if kind == "build_tick":
            if item.token != space.gen or not space.is_building:
                return
            elapsed = t - space.build_started
            space.build_log.append(t, f"Building... {elapsed:.0f}s elapsed")
            nxt = t + space.behaviour.log_interval
            if space.build_end is None or nxt < space.build_end:
                self._at(space, nxt, "build_tick", space.gen)
        elif kind == "build_done":
            if item.token != space.gen or not space.is_building:
                return
            self._build_done(space, t)
        elif kind == "start_done":
            if item.token != space.gen or space.stage not in (
                SpaceStage.APP_STARTING,
                SpaceStage.RUNNING_APP_STARTING,
            ):
                return
            space.stage = SpaceStage.RUNNING
            space.current = space.requested
            space.last_hardware = space.requested
            space.run_log.append(t, f"Running on local URL:  http://0.0.0.0:7860 ({space.current})")
            self._record(space, t, "app started")
            self._started(space, t)
        elif kind == "run_tick":
            if item.token != space.container or not space.has_container:
                return
            space.run_log.append(t, f"INFO:     heartbeat: app alive at {_stamp(self.wall(t))}")
            self._at(space, t + space.behaviour.log_interval, "run_tick", space.container)
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
            self._record(space, t, "sleep")

    def _build_done(self, space: Space, t: float) -> None:
        if space.behaviour.fail_build:
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
            self._record(space, t, "build failed")
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

    def _crash(self, space: Space, t: float, reason: str) -> None:
        for line in (
            "Traceback (most recent call last):",
            '  File "/home/user/app/app.py", line 42, in <module>',
            "RuntimeError: emulated crash",
        ):
            space.run_log.append(t, line)
        self._stop_container(space)
        space.gen += 1
        space.sleep_gen += 1
        space.stage = SpaceStage.RUNTIME_ERROR
        self._record(space, t, reason)

    # ------------------------------------------------------------------ admin triggers

    def space(self, repo_id: str) -> Space:
        """A Space by id, whatever its visibility (404 HubError if missing)."""
        self.advance()
        space = self.spaces.get(repo_id)
        if space is None:
            raise not_found(repo_id)
        return space

    def commit(self, repo_id: str) -> Space:
        """A new commit: the Space rebuilds (static Spaces just update)."""
        space = self.space(repo_id)
        t = self._now
        space.commits += 1
        space.sha = self._sha(space)
        space.last_modified = t
        if not space.is_static and space.stage != SpaceStage.PAUSED:
            self._build(space, t, "commit")
        return space

    def crash(self, repo_id: str) -> Space:
        """The app crashes now (400 HubError if no container runs)."""
        space = self.space(repo_id)
        if space.is_static or not space.has_container:
            raise HubError(400, f"Space {repo_id} has no running container")
        self._crash(space, self._now, "crash (admin)")
        return space

    def visit(self, repo_id: str) -> Space:
        """A visit to the Space's app: resets its sleep timer, wakes it if sleeping."""
        space = self.space(repo_id)
        t = self._now
        space.last_visit = t
        if space.stage == SpaceStage.SLEEPING:
            space.gen += 1
            self._start_container(space, t, SpaceStage.APP_STARTING, "visit (wake up)")
        elif space.stage == SpaceStage.RUNNING:
            self._arm_sleep(space)
        return space

    def configure(self, repo_id: str, **values: Any) -> Space:
        """Change a Space's behaviour (durations, failures); applies to what comes next."""
        space = self.space(repo_id)
        space.behaviour.update(values)
        return space

    def append_log(self, repo_id: str, text: str, *, build: bool = False) -> None:
        """Write a line to a Space's run (or build) log."""
        space = self.space(repo_id)
        (space.build_log if build else space.run_log).append(self._now, text)

    # ------------------------------------------------------------------ the API's operations

    def runtime(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``GET .../runtime``."""
        return runtime_json(self._read(repo_id, user))

    def request_hardware(
        self, user: str | None, repo_id: str, flavor: str, sleep_time: int | None = None
    ) -> dict[str, Any]:
        """``POST .../hardware``."""
        space = self._write(repo_id, user)
        self._not_static(space, "change the hardware of")
        if flavor not in HARDWARE:
            raise HubError(400, f"Invalid hardware flavor: {flavor}")
        new = SpaceHardware(flavor)
        changed = new != space.requested
        space.requested = new
        if is_free(flavor):
            space.sleep_time = None
        elif sleep_time is not None:
            space.sleep_time = sleep_time
        t = self._now
        if changed:
            self._record(space, t, "hardware requested")
            self._settings_changed(space, t, "hardware change")
        elif space.stage == SpaceStage.RUNNING:
            self._arm_sleep(space)
        return runtime_json(space)

    def _settings_changed(self, space: Space, t: float, reason: str) -> None:
        if space.is_static or space.stage == SpaceStage.PAUSED:
            return
        self._build(space, t, reason)

    def set_sleep_time(self, user: str | None, repo_id: str, seconds: int) -> dict[str, Any]:
        """``POST .../sleeptime`` (ignored on free hardware, as on the Hub)."""
        space = self._write(repo_id, user)
        self._not_static(space, "set the sleep time of")
        if not is_free(space.requested):
            space.sleep_time = seconds
            self._arm_sleep(space)
        return runtime_json(space)

    def pause(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``POST .../pause``."""
        space = self._write(repo_id, user)
        self._not_static(space, "pause")
        if space.stage != SpaceStage.PAUSED:
            t = self._now
            if space.is_building:
                space.build_log.append(t, "Build cancelled: the Space was paused")
            space.build_log.closed = True
            self._stop_container(space)
            space.gen += 1
            space.sleep_gen += 1
            space.stage = SpaceStage.PAUSED
            self._record(space, t, "pause")
        return runtime_json(space)

    def restart(self, user: str | None, repo_id: str, factory: bool = False) -> dict[str, Any]:
        """``POST .../restart`` (``factory``: rebuild without cache, longer)."""
        space = self._write(repo_id, user)
        self._not_static(space, "restart")
        self._build(space, self._now, "factory reboot" if factory else "restart", factory=factory)
        return runtime_json(space)

    def set_dev_mode(self, user: str | None, repo_id: str, enabled: bool) -> dict[str, Any]:
        """``POST .../dev-mode``."""
        space = self._write(repo_id, user)
        self._not_static(space, "set dev mode on")
        space.dev_mode = enabled
        return runtime_json(space)

    def get_secrets(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``GET .../secrets``: keys, descriptions and dates, never values."""
        space = self._write(repo_id, user)
        return encode.secrets_json(space.secrets, self.wall)

    def add_secret(
        self, user: str | None, repo_id: str, key: str, value: str, description: str | None
    ) -> dict[str, Any]:
        """``POST .../secrets``: add or update (a changed description alone is kept)."""
        space = self._write(repo_id, user)
        t = self._now
        old = space.secrets.get(key)
        if description is None and old is not None:
            description = old.description
        space.secrets[key] = StoredSecret(value, description, t)
        self._settings_changed(space, t, "secrets changed")
        return {}

    def delete_secret(self, user: str | None, repo_id: str, key: str) -> dict[str, Any]:
        """``DELETE .../secrets`` (a missing key is not an error)."""
        space = self._write(repo_id, user)
        if space.secrets.pop(key, None) is not None:
            self._settings_changed(space, self._now, "secrets changed")
        return {}

    def get_variables(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``GET .../variables``."""
        space = self._write(repo_id, user)
        return encode.variables_json(space.variables, self.wall)

    def add_variable(
        self, user: str | None, repo_id: str, key: str, value: str, description: str | None
    ) -> dict[str, Any]:
        """``POST .../variables``: add or update; answers all variables."""
        space = self._write(repo_id, user)
        t = self._now
        old = space.variables.get(key)
        if description is None and old is not None:
            description = old.description
        space.variables[key] = StoredVariable(value, description, t)
        self._settings_changed(space, t, "variables changed")
        return encode.variables_json(space.variables, self.wall)

    def delete_variable(self, user: str | None, repo_id: str, key: str) -> dict[str, Any]:
        """``DELETE .../variables``; answers the remaining variables."""
        space = self._write(repo_id, user)
        if space.variables.pop(key, None) is not None:
            self._settings_changed(space, self._now, "variables changed")
        return encode.variables_json(space.variables, self.wall)

    def request_storage(self, user: str | None, repo_id: str, tier: str) -> dict[str, Any]:
        """``POST .../storage`` (a downgrade is a 400: delete first, as on the Hub)."""
        space = self._write(repo_id, user)
        self._not_static(space, "add storage to")
        if tier not in STORAGE_ORDER:
            raise HubError(400, f"Invalid storage tier: {tier}")
        if space.storage is not None:
            if STORAGE_ORDER[tier] < STORAGE_ORDER.get(space.storage.value, 0):
                raise HubError(400, "Cannot downgrade persistent storage: delete it first")
            if space.storage.value == tier:
                return runtime_json(space)
        space.storage = SpaceStorage(tier)
        self._settings_changed(space, self._now, "storage change")
        return runtime_json(space)

    def delete_storage(self, user: str | None, repo_id: str) -> dict[str, Any]:
        """``DELETE .../storage`` (400 when the Space has none)."""
        space = self._write(repo_id, user)
        if space.storage is None:
            raise HubError(400, f"Space {repo_id} has no persistent storage")
        space.storage = None
        self._settings_changed(space, self._now, "storage deleted")
        return runtime_json(space)

    def duplicate(
        self,
        user: str | None,
        from_id: str,
        to_id: str,
        *,
        private: bool | None = None,
        hardware: str | None = None,
        storage: str | None = None,
        sleep_time: int | None = None,
        secrets: Iterable[Mapping[str, Any]] = (),
        variables: Iterable[Mapping[str, Any]] = (),
    ) -> Space:
        """``POST .../duplicate``: a new Space owned by ``to_id``'s namespace, building."""
        source = self._read(from_id, user)
        if user is None:
            raise HubError(401, "You must be authenticated to duplicate a Space")
        namespace = to_id.split("/", 1)[0]
        if namespace != user and user not in self.orgs.get(namespace, ()):
            raise HubError(403, f"You don't have the rights to create a Space in {namespace}")
        if to_id in self.spaces:
            raise HubError(
                409,
                f"You already created this space repo: {to_id}",
                extra={"url": f"{{base}}/spaces/{to_id}"},
            )
        flavor = None if source.is_static else (hardware or "cpu-basic")
        if flavor is not None and flavor not in HARDWARE:
            raise HubError(400, f"Invalid hardware flavor: {flavor}")
        new_vars: dict[str, Any] = {
            k: {"value": v.value, "description": v.description} for k, v in source.variables.items()
        }
        new_vars.update({item["key"]: dict(item) for item in variables})
        space = self.add_space(
            to_id,
            sdk=source.sdk,
            private=source.private if private is None else private,
            hardware=flavor,
            stage="BUILDING",
            sleep_time=None if flavor is None or is_free(flavor) else sleep_time,
            storage=storage,
            secrets={item["key"]: dict(item) for item in secrets},
            variables=new_vars,
            behaviour=attrs.evolve(source.behaviour),
            reason=f"duplicated from {from_id}",
        )
        return space

    def space_info(self, user: str | None, repo_id: str, expand: Iterable[str] = ()) -> dict[str, Any]:
        """``GET /api/spaces/{repo_id}``."""
        return self.info_json(self._read(repo_id, user), list(expand), full=True)

    def list_spaces(
        self,
        user: str | None,
        *,
        author: str | None = None,
        search: str | None = None,
        expand: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """``GET /api/spaces`` (all pages; the app paginates)."""
        self.advance()
        wanted = list(expand)
        needle = (search or "").lower()
        return [
            self.info_json(space, wanted, full=False)
            for space in self.spaces.values()
            if self.can_read(space, user)
            and (author is None or space.author == author)
            and needle in space.id.lower()
        ]

    def info_json(self, space: Space, expand: list[str], *, full: bool) -> dict[str, Any]:
        """A Space's info: all properties, or ``id`` plus the ``expand``-ed ones."""
        unknown = [e for e in expand if e not in EXPAND_PROPERTIES]
        if unknown:
            raise HubError(400, f"Invalid expand value(s): {', '.join(unknown)}")
        return encode.space_info_json(space, self.wall, expand, full=full)

    def logs(self, user: str | None, repo_id: str, build: bool) -> tuple[Space, LogBuffer]:
        """The Space and the log buffer a log stream replays and follows."""
        space = self._read(repo_id, user)
        return space, space.build_log if build else space.run_log

    def whoami(self, user: str | None) -> dict[str, Any]:
        """``GET /api/whoami-v2`` (used by the official client's duplicate)."""
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return encode.whoami_json(user, (org for org, members in self.orgs.items() if user in members))


# ---------------------------------------------------------------------- helpers


def _check_namespace(name: Any, what: str) -> None:
    """A user or organization name: the first part of a repo id."""
    if not isinstance(name, str):
        raise ValueError(f"a {what} name must be a string")
    try:
        check_repo_id(f"{name}/x", what)
    except ValueError as exc:
        raise ValueError(f"invalid {what} name {name!r}") from exc


def _key_value(item: Any) -> tuple[str, str | None]:
    if isinstance(item, Mapping):
        desc = item.get("description")
        return str(item.get("value", "")), None if desc is None else str(desc)
    return str(item), None


def _reopen(log: LogBuffer) -> LogBuffer:
    log.closed = False
    return log


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

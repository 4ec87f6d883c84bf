"""The emulator's world: the one object through which routes, seeds and tests reach everything.

A :class:`World` is the Hub API's operations (:mod:`~aiospace.emulator.operations`)
over the Spaces and their lifecycle (:mod:`~aiospace.emulator.lifecycle`) under the
access rules (:mod:`~aiospace.emulator.access`). It adds what an administrator (or
a test) does by Space id, with no access check: create, delete, configure, commit,
crash, visit, write a log line; and it holds the request-side machinery the HTTP
app uses (fault injector, rate limiter, stats). Pure Python, no I/O: time is the
one simulated clock's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from .._clock import ScaledClock
from .access import Access
from .faults import Fault, FaultInjector
from .lifecycle import Event, Lifecycle
from .operations import Operations
from .pushes import Pushes
from .ratelimit import DEFAULT_WINDOW, RateLimiter
from .state import BEHAVIOUR_FIELDS, DEFAULT_FREE_SLEEP, HARDWARE, Behaviour, HubError, LogBuffer, Space
from .stats import Stats

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


class World(Operations, Pushes):
    """Users, organizations and Spaces, driven by one simulated clock.

    The API's operations (``runtime(user, id)``, ``restart(user, id, factory)``...)
    are inherited from :class:`~aiospace.emulator.operations.Operations`, pushes and
    file reads (``push(user, id, revision, request)``, ``push_files(id, files)``...)
    from :class:`~aiospace.emulator.pushes.Pushes`; the rest reaches the
    :attr:`lifecycle` and :attr:`access` parts by Space id or name.
    """

    def __init__(
        self,
        clock: ScaledClock,
        *,
        rng_seed: int | str | None = 0,
        quota: int | None = None,
        window: float = DEFAULT_WINDOW,
    ) -> None:
        super().__init__(Lifecycle(clock), Access())
        self.clock = clock
        self.faults = FaultInjector(rng_seed)
        self.limiter = RateLimiter(clock, quota, window)
        self.stats = Stats()

    # ------------------------------------------------------------------ state

    @property
    def users(self) -> dict[str, str]:
        """Token -> user name."""
        return self.access.users

    @property
    def orgs(self) -> dict[str, set[str]]:
        """Organization name -> members."""
        return self.access.orgs

    @property
    def spaces(self) -> dict[str, Space]:
        """Every Space, by id."""
        return self.lifecycle.spaces

    @property
    def events(self) -> Sequence[Event]:
        """The ground-truth event log (the newest ``lifecycle.MAX_EVENTS``)."""
        return self.lifecycle.events

    # ------------------------------------------------------------------ time

    def wall(self, t: float | None = None) -> datetime:
        """Simulated time ``t`` (default: now) as a UTC datetime."""
        return self.lifecycle.wall(t)

    def now(self) -> float:
        """The latest time applied (advance first to move it to ``clock.now()``)."""
        return self.lifecycle.now()

    def advance(self, until: float | None = None) -> float:
        """Apply every transition due up to ``until`` (default ``clock.now()``)."""
        return self.lifecycle.advance(until)

    # ------------------------------------------------------------------ users and access

    def add_user(self, name: str, token: str | None = None) -> str:
        """Add a user (or give an existing one another token); return the token."""
        return self.access.add_user(name, token)

    def token_for(self, user: str) -> str:
        """A token of ``user`` (KeyError if unknown)."""
        return self.access.token_for(user)

    def add_org(self, name: str, members: Iterable[str]) -> None:
        """Add an organization; its members may write to its Spaces."""
        self.access.add_org(name, members)

    def authenticate(self, authorization: str | None) -> str | None:
        """The user behind an ``Authorization`` header (None: anonymous; 401 if invalid)."""
        return self.access.authenticate(authorization)

    def known_token(self, authorization: str | None) -> str | None:
        """The token of an ``Authorization`` header if it names a user (None otherwise)."""
        return self.access.known_token(authorization)

    def can_write(self, space: Space, user: str | None) -> bool:
        """The owner, or a member of the owning organization."""
        return self.access.can_write(space, user)

    def can_read(self, space: Space, user: str | None) -> bool:
        """Public Spaces to anyone; private ones to those who can write."""
        return self.access.can_read(space, user)

    # ------------------------------------------------------------------ admin triggers (by Space id)

    def space(self, repo_id: str) -> Space:
        """A Space by id, whatever its visibility (404 HubError if missing)."""
        return self.lifecycle.space(repo_id)

    def remove_space(self, repo_id: str) -> None:
        """Delete a Space (its pending transitions are dropped)."""
        self.lifecycle.remove(repo_id)

    def configure(self, repo_id: str, **values: Any) -> Space:
        """Change a Space's behaviour (durations, failures); applies to what comes next."""
        space = self.space(repo_id)
        space.build_log.catch_up()  # the periodic lines due so far keep the old interval
        space.run_log.catch_up()
        space.behaviour.update(values)
        return space

    def commit(self, repo_id: str) -> Space:
        """A new commit: the head ``sha`` moves now, the Space rebuilds ``push_delay`` seconds later.

        Static Spaces just update; a paused one builds the new head at its next restart.
        """
        space = self.space(repo_id)
        self._move_head(space, space.files, "Commit (emulator admin)\n", None)
        return space

    def crash(self, repo_id: str) -> Space:
        """The app crashes now (400 HubError if no container runs)."""
        space = self.space(repo_id)
        if space.is_static or not space.has_container:
            raise HubError(400, f"Space {repo_id} has no running container")
        self.lifecycle.crash(space, "crash (admin)")
        return space

    def visit(self, repo_id: str) -> Space:
        """A visit to the Space's app: resets its sleep timer, wakes it if sleeping."""
        space = self.space(repo_id)
        self.lifecycle.visit(space)
        return space

    def append_log(self, repo_id: str, text: str, *, build: bool = False) -> None:
        """Write a line to a Space's run (or build) log."""
        space = self.space(repo_id)
        (space.build_log if build else space.run_log).append(self.now(), text)

    def events_for(self, space: str | None = None, after: int = -1) -> list[Event]:
        """The event log (of one Space), from sequence number ``after + 1`` on."""
        return self.lifecycle.events_for(space, after)

    def set_zero_gpu_quota(self, user: str, **values: Any) -> None:
        """Set some of ``user``'s ZeroGPU figures: ``base``, ``remaining``, ``overquota_used``
        (GPU-seconds), ``resets_in`` (simulated seconds from now), ``use`` (spend now).

        Unknown names or bad values raise ``ValueError``.
        """
        unknown = set(values) - {"base", "remaining", "resets_in", "overquota_used", "use"}
        if unknown:
            raise ValueError(f"unknown ZeroGPU quota field(s): {', '.join(sorted(unknown))}")
        self.zero_gpu.configure(user, self.advance(), **values)

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

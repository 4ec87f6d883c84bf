"""What the watch engine reports, and when it polls: pure, no I/O.

* :func:`detect_changes` and :class:`Transition`: what changed between two polls of
  one Space (stage, hardware, requested hardware, convergence).
* :class:`Cadence` and :class:`SpaceTracker`: when to poll a Space next (fast while it
  changes or after a write, slower while it rests, backing off after failures).
* :func:`is_permanent`: which poll failures end a watch.
* :data:`DEFAULT_STALL_AFTER` and :func:`stall_limits`: how long a Space may stay in
  one transitional stage before its watch reports it ``STALLED``.
* :class:`WatchStats`: the counters of a watch.

Honest semantics: a failed poll is never a transition; a transition is only ever
reported for a change two successful polls showed.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import TypeAlias

import attrs
from yarl import URL

from .._hub.retry import MAX_RETRY_AFTER, backoff
from .._hub.validate import check_seconds
from ..errors import BadAnswerError, HubHTTPError, InvalidArgumentError, RateLimitedError
from ..models import SERVING_STAGES, TRANSITIONAL_STAGES, SpaceRuntime, SpaceStage

__all__ = [
    "DEFAULT_STALL_AFTER",
    "MAX_RETRY_AFTER",
    "PAYLOAD_SCHEMA",
    "PAYLOAD_VERSION",
    "Cadence",
    "Change",
    "SpaceTracker",
    "StallAfter",
    "Transition",
    "WatchStats",
    "check_cadence",
    "detect_changes",
    "is_permanent",
    "seeded_rng",
    "space_url",
    "stall_limits",
]

_BUILD_AND_START: dict[SpaceStage, float] = {
    SpaceStage.BUILDING: 1800.0,
    SpaceStage.RUNNING_BUILDING: 1800.0,
    SpaceStage.APP_STARTING: 1800.0,
    SpaceStage.RUNNING_APP_STARTING: 1800.0,
}
_DEFAULTS: dict[SpaceStage | str, float] = {stage: limit for stage, limit in _BUILD_AND_START.items()}
#: How long (Hub seconds) a Space may stay in one transitional stage before its watch
#: reports it ``STALLED``: 30 minutes for a build, 30 for a start (the Hub's own default
#: ``startup_duration_timeout``; a wait reads the Space's own). A large image or a model
#: downloaded at start-up can take that long; "stuck in BUILDING for hours" can't.
DEFAULT_STALL_AFTER: Mapping[SpaceStage | str, float] = MappingProxyType(_DEFAULTS)

#: A stall limit: seconds for every transitional stage, or limits by stage (over the defaults).
StallAfter: TypeAlias = float | Mapping[SpaceStage | str, float]


def stall_limits(stall_after: StallAfter | None) -> dict[SpaceStage, float]:
    """Per-stage stall limits: None gives none (no stall is reported).

    A number is the limit of every transitional stage; a mapping (stage or stage
    name, any case, to seconds) overrides :data:`DEFAULT_STALL_AFTER` for those
    stages (``math.inf``: never). Raises :class:`InvalidArgumentError` otherwise.
    """
    if stall_after is None:
        return {}
    if not isinstance(stall_after, Mapping):
        limit = check_seconds(stall_after, "stall_after", positive=True)
        return dict.fromkeys(_BUILD_AND_START, limit)
    limits = dict(_BUILD_AND_START)
    for stage, seconds in stall_after.items():
        found = SpaceStage.__members__.get(stage.upper()) if isinstance(stage, str) else None
        if found is None or found not in _BUILD_AND_START:
            raise InvalidArgumentError(
                "stall_after", f"{stage!r} is not a transitional stage ({', '.join(_BUILD_AND_START)})"
            )
        limits[found] = check_seconds(seconds, f"stall_after[{found.value}]", positive=True)
    return limits


def is_permanent(error: BaseException) -> bool:
    """A poll failure that ends a watch: any Hub 4xx but 429 (gone, no access, refused).

    Everything else (5xx, 429, transport, an unreadable answer) is transient: retried,
    never a transition. Unreadable answers end a watch too, but only after
    ``Cadence.max_bad_answers`` of them (see :attr:`SpaceTracker.gave_up`).
    """
    return isinstance(error, HubHTTPError) and error.status < 500 and error.status != 429


class Change(str, enum.Enum):
    """What a :class:`Transition` reports: each name is also an ``--on-change`` filter.

    The meaning of each is said once, in docs/guides.md ("The event payload").
    """

    #: The first observation of the Space by this watch.
    INITIAL = "initial"
    #: The stage changed (a Space that stops, pauses, sleeps or fails changes stage).
    STAGE = "stage"
    #: The Space runs on another flavor than at the last observation. A Space that stops (paused,
    #: asleep, failed: it runs on none) or starts again changes stage: that is reported as a
    #: ``stage`` change, not a ``hardware`` one.
    HARDWARE = "hardware"
    #: The flavor asked for changed (a hardware request, by anyone).
    REQUESTED_HARDWARE = "requested_hardware"
    #: ``hardware`` reached ``requested_hardware`` after they differed.
    CONVERGED = "converged"
    #: The Space has stayed in one transitional stage longer than its stall limit (once per stay).
    STALLED = "stalled"
    #: A waiter restarted the Space after a scheduling (capacity) failure.
    CAPACITY_RETRY = "capacity_retry"
    #: A waiter rebuilt the stalled Space without cache.
    FACTORY_REBOOT = "factory_reboot"
    #: A followed author's Space was deleted or can no longer be read: its last event.
    REMOVED = "removed"

    def __str__(self) -> str:
        return self.value


#: The version of :meth:`Transition.to_json` (its ``schema`` key).
PAYLOAD_VERSION = 1

_NULLABLE_STR: dict[str, object] = {"type": ["string", "null"]}
#: The JSON Schema of :meth:`Transition.to_json`: what ``aiospace watch --json`` prints, ``--post``
#: sends and ``--exec`` reads on its stdin (docs/guides.md shows it).
PAYLOAD_SCHEMA: Mapping[str, object] = MappingProxyType(
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "aiospace transition, version 1",
        "type": "object",
        "additionalProperties": False,
        "required": [
            "schema",
            "repo_id",
            "at",
            "stage",
            "previous_stage",
            "hardware",
            "requested_hardware",
            "changes",
            "error_message",
            "sha",
            "url",
        ],
        "properties": {
            "schema": {"const": PAYLOAD_VERSION},
            "repo_id": {"type": "string", "pattern": "^[^/]+/[^/]+$"},
            "at": {"type": "string", "format": "date-time"},
            "stage": _NULLABLE_STR,
            "previous_stage": _NULLABLE_STR,
            "hardware": _NULLABLE_STR,
            "requested_hardware": _NULLABLE_STR,
            "changes": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"enum": [c.value for c in Change]},
            },
            "error_message": _NULLABLE_STR,
            "sha": _NULLABLE_STR,
            "url": {"type": "string", "format": "uri"},
        },
    }
)

#: The public Hub's origin: the ``url`` of a transition made without one.
_PUBLIC_HUB = "https://huggingface.co"


def space_url(endpoint: str, repo_id: str) -> str:
    """The Space's page on the origin of the Hub at ``endpoint`` (``https://huggingface.co/spaces/alice/app``)."""
    try:
        origin = str(URL(endpoint).origin())
    except (ValueError, TypeError):
        origin = endpoint.rstrip("/")
    return f"{origin}/spaces/{repo_id}"


@attrs.frozen
class Transition:
    """One observed change of a Space (or its first observation, or its removal from a followed author).

    ``at`` is the wall-clock time (UTC, the client clock's) of the observation; ``sha`` the
    Space's head commit when the observation carried it; ``url`` the Space's page on the
    Hub's own origin; ``reason`` why a ``REMOVED`` Space left (the Hub's message).
    """

    repo_id: str
    previous: SpaceRuntime | None
    current: SpaceRuntime
    changes: frozenset[Change]
    #: When it was observed, in the client's clock (Hub seconds).
    observed_at: float
    at: datetime = attrs.field(factory=lambda: datetime.now(timezone.utc))
    sha: str | None = None
    url: str | None = None
    reason: str | None = None

    @property
    def is_initial(self) -> bool:
        """The first observation of the Space (no previous runtime)."""
        return self.previous is None

    @property
    def converged(self) -> bool:
        """The hardware just reached the requested flavor."""
        return Change.CONVERGED in self.changes

    @property
    def stalled(self) -> bool:
        """The Space has stayed in its transitional stage past the stall limit."""
        return Change.STALLED in self.changes

    @property
    def removed(self) -> bool:
        """A followed Space left the watch (deleted, or no longer readable): its last event."""
        return Change.REMOVED in self.changes

    def to_json(self) -> dict[str, object]:
        """The event payload, version 1 (:data:`PAYLOAD_SCHEMA`): what ``aiospace watch --json``
        prints, ``--post`` sends and ``--exec`` reads. A removed Space has no stage nor hardware."""
        prev = self.previous
        cur = None if self.removed else self.current
        message = self.reason if self.removed else self.current.error_message
        return {
            "schema": PAYLOAD_VERSION,
            "repo_id": self.repo_id,
            "at": self.at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
            "stage": None if cur is None else cur.stage.value,
            "previous_stage": None if prev is None else prev.stage.value,
            "hardware": None if cur is None or cur.hardware is None else cur.hardware.value,
            "requested_hardware": (
                None if cur is None or cur.requested_hardware is None else cur.requested_hardware.value
            ),
            "changes": sorted(c.value for c in self.changes),
            "error_message": message,
            "sha": self.sha,
            "url": self.url or space_url(_PUBLIC_HUB, self.repo_id),
        }

    def merge(self, later: Transition) -> Transition | None:
        """This transition and a later one of the same Space, as one; None if they cancel out.

        The changes are recomputed from the merged ends (``self.previous`` to
        ``later.current``): RUNNING -> RUNNING_BUILDING -> RUNNING is no change at all.
        A stall is kept while the merged end is still in the stalled stage; a removal always.
        """
        changes = detect_changes(self.previous, later.current)
        if later.stalled or (self.stalled and later.current.stage == self.current.stage):
            changes |= {Change.STALLED}
        if later.removed:
            changes |= {Change.REMOVED}
        if not changes:
            return None
        return attrs.evolve(later, previous=self.previous, changes=changes)


def detect_changes(previous: SpaceRuntime | None, current: SpaceRuntime) -> frozenset[Change]:
    """What changed from ``previous`` to ``current`` (empty: nothing worth reporting)."""
    if previous is None:
        return frozenset({Change.INITIAL})
    changes: set[Change] = set()
    if current.stage != previous.stage:
        changes.add(Change.STAGE)
    hardware = current.hardware
    if hardware != previous.hardware and (
        (hardware is not None and previous.hardware is not None) or not changes
    ):
        # A move between flavors. A Space that stops (its flavor goes to none) or starts again
        # changes stage: that is the change reported, not a hardware one.
        changes.add(Change.HARDWARE)
    if current.requested_hardware != previous.requested_hardware:
        changes.add(Change.REQUESTED_HARDWARE)
    if (
        current.hardware is not None
        and current.hardware == current.requested_hardware
        and previous.hardware != previous.requested_hardware
        and previous.requested_hardware is not None
    ):
        changes.add(Change.CONVERGED)
    return frozenset(changes)


@attrs.frozen
class Cadence:
    """How often to poll, in Hub seconds.

    ``fast`` while a Space is transitional or its hardware has not converged, and
    right after a write through the same client (for ``after_write`` seconds);
    otherwise the interval grows by ``backoff`` per quiet poll up to ``slow``.
    Every interval is spread by +/- ``jitter`` (a fraction). Failed polls back off
    from ``fast`` to ``error_max`` (longer only if the Hub's ``Retry-After`` says so,
    up to :data:`MAX_RETRY_AFTER`). After ``max_bad_answers`` answers the client can't
    read (:class:`~aiospace.errors.BadAnswerError`) for one Space with no readable one
    in between, the watch raises the last of them: a changed Hub schema never makes a
    watch (or ``wait_for_space(timeout=None)``) retry forever in silence.
    """

    fast: float = 1.0
    slow: float = 30.0
    backoff: float = 1.5
    jitter: float = 0.1
    after_write: float = 60.0
    error_max: float = 60.0
    max_bad_answers: int = 10

    #: The interval while a Space builds (``BUILDING``, ``RUNNING_BUILDING``), which takes
    #: minutes: None polls it at ``fast`` like any changing Space. A longer one saves
    #: requests for the start (always ``fast``), whose end is what a waiter waits for.
    building: float | None = None

    def __attrs_post_init__(self) -> None:
        numbers = [self.fast, self.slow, self.backoff, self.jitter, self.after_write, self.error_max]
        if self.building is not None:
            numbers.append(self.building)
        if not all(isinstance(n, (int, float)) and math.isfinite(n) for n in numbers):
            raise InvalidArgumentError("cadence", "every interval must be a finite number")
        if not 0 < self.fast <= self.slow:
            raise InvalidArgumentError("cadence", "needs 0 < fast <= slow")
        if self.backoff < 1 or not 0 <= self.jitter < 1:
            raise InvalidArgumentError("cadence", "needs backoff >= 1 and 0 <= jitter < 1")
        if self.building is not None and self.building < self.fast:
            raise InvalidArgumentError("cadence", "needs building >= fast")
        if self.after_write < 0 or self.error_max <= 0:
            raise InvalidArgumentError("cadence", "needs after_write >= 0 and error_max > 0")
        bad = self.max_bad_answers
        if isinstance(bad, bool) or not isinstance(bad, int) or bad < 1:
            raise InvalidArgumentError("cadence", "needs max_bad_answers to be an int >= 1")


_BUILDS = frozenset({SpaceStage.BUILDING, SpaceStage.RUNNING_BUILDING})


def _needs_attention(runtime: SpaceRuntime) -> bool:
    """Building or starting, or serving on hardware that isn't the requested one yet (hot path)."""
    stage = runtime.stage
    if stage in TRANSITIONAL_STAGES:
        return True
    requested = runtime.requested_hardware
    return stage in SERVING_STAGES and requested is not None and runtime.hardware != requested


def check_cadence(cadence: object) -> Cadence:
    """``cadence``, or the default :class:`Cadence` for None; anything else is refused."""
    if cadence is None:
        return Cadence()
    if not isinstance(cadence, Cadence):
        raise InvalidArgumentError("cadence", f"expected a Cadence, got {type(cadence).__name__}")
    return cadence


def seeded_rng(seed: object) -> random.Random:
    """The jitter's random source: seeded with an int, a str or bytes (None: from the OS)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, str, bytes))):
        raise InvalidArgumentError("seed", f"expected an int, got {type(seed).__name__}")
    return random.Random(seed)


@attrs.define
class SpaceTracker:
    """One watched Space: its last runtime, its counters and when to poll it next (pure)."""

    repo_id: str
    cadence: Cadence
    rng: random.Random
    last: SpaceRuntime | None = None
    next_due: float = 0.0
    interval: float = 0.0
    boost_until: float = -math.inf
    failures: int = 0
    last_error: BaseException | None = None
    polls: int = 0
    transitions: int = 0
    #: A poll of this Space is under way (a Watcher never polls one Space twice at once).
    in_flight: bool = False
    #: When a Watcher last sent a poll of it (Hub time; ``last_polled``: its last answer).
    attempted_at: float = -math.inf
    #: Scales the settled interval: a Watcher spending a budget share polls the Spaces it
    #: refreshes by the hundred (one author listing) more often than those it polls alone.
    settled_scale: float = 1.0
    #: Stall limits by transitional stage (see :func:`stall_limits`; empty: none).
    stall_after: Mapping[SpaceStage, float] = attrs.field(factory=dict)
    #: When the current stay in ``last.stage`` began (its first observation).
    stage_since: float = 0.0
    #: The current stay was reported ``STALLED`` already.
    stall_reported: bool = False
    #: When the last successful poll was made.
    last_polled: float = 0.0
    #: Unreadable answers since the last readable one.
    bad_answers: int = 0

    @property
    def gave_up(self) -> bool:
        """``cadence.max_bad_answers`` unreadable answers with no readable one between: stop."""
        return self.bad_answers >= self.cadence.max_bad_answers

    @property
    def urgent(self) -> bool:
        """Deserves priority when the budget is tight: never seen, changing, or just written to."""
        return self.last is None or _needs_attention(self.last) or self.interval <= self.cadence.fast

    def observe(self, runtime: SpaceRuntime, now: float, *, base: float | None = None) -> Transition | None:
        """Record a successful poll; return the transition it shows, if any.

        ``base``: when a resting Space's next poll counts from (default ``now``). A
        Watcher spending a budget share passes its virtual time, so that Spaces keep
        their relative rates when the budget can't poll them all on time (stride
        scheduling: each poll moves a Space's turn on by its interval).
        """
        self.polls += 1
        self.failures = 0
        self.bad_answers = 0
        self.last_error = None
        self.last_polled = now
        changes = detect_changes(self.last, runtime)
        if self.last is None or runtime.stage != self.last.stage:
            self.reset_stay(now)
        elif not self.stall_reported:
            limit = self.stall_after.get(runtime.stage)
            if limit is not None and now - self.stage_since >= limit:
                self.stall_reported = True
                changes |= {Change.STALLED}
        transition = None
        if changes:
            transition = Transition(self.repo_id, self.last, runtime, changes, now)
            self.transitions += 1
        self.last = runtime
        self._plan(now, changed=bool(changes), base=base)
        return transition

    def _plan(self, now: float, *, changed: bool, base: float | None = None) -> None:
        c = self.cadence
        last = self.last
        if changed or now < self.boost_until or (last is not None and _needs_attention(last)):
            self.interval = c.fast
            building = last is not None and last.stage in _BUILDS
            if c.building is not None and building and now >= self.boost_until:
                self.interval = c.building
        else:
            self.interval = min(c.slow, max(c.fast, self.interval * c.backoff))
            start = now if base is None else base
            self.next_due = start + self._spread(self.interval * self.settled_scale)
            return
        self.next_due = now + self._spread(self.interval)

    def _spread(self, interval: float) -> float:
        j = self.cadence.jitter
        return interval * (1 + self.rng.uniform(-j, j)) if j else interval

    def fail(self, error: BaseException, now: float, retry_after: float | None = None) -> None:
        """Record a failed poll (never a transition) and schedule the retry."""
        self.failures += 1
        self.last_error = error
        if isinstance(error, BadAnswerError):
            self.bad_answers += 1
        delay = backoff(self.failures - 1, self.cadence.fast, self.cadence.error_max, self.rng, least=0.5)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        self.next_due = now + delay

    @property
    def stalled_for(self) -> float:
        """How long the current stay has lasted, as of the last poll (Hub seconds)."""
        return 0.0 if self.last is None else max(0.0, self.last_polled - self.stage_since)

    def reset_stay(self, now: float) -> None:
        """Start the current stay over (its stage was entered anew: a rebuild from the same stage)."""
        self.stage_since = now
        self.stall_reported = False

    def wrote(self, now: float) -> None:
        """A write went through the same client (or the engine knows a change is coming, a push):
        poll again soon, and fast for a while."""
        self.boost_until = now + self.cadence.after_write
        self.interval = self.cadence.fast
        self.next_due = min(self.next_due, now + min(1.0, self.cadence.fast))


@attrs.define
class WatchStats:
    """Counters of a watch or watcher."""

    #: Requests sent (polls and listing pages, followed authors' included).
    requests: int = 0
    #: Of ``requests``: author listing pages (batches and follows).
    batch_requests: int = 0
    #: Of ``batch_requests``: the listings of followed authors.
    follow_requests: int = 0
    #: Failed requests answered 429.
    rate_limited: int = 0
    #: Failed requests: one per request, however many Spaces a failed listing was for.
    failures: int = 0
    transitions: int = 0
    coalesced: int = 0
    #: Followed Spaces that left with a ``removed`` event.
    removed: int = 0
    last_error: BaseException | None = None

    def count_failure(self, error: BaseException) -> None:
        """A failed request (a poll, or a listing however many Spaces it was for): counted and kept
        as ``last_error`` (never a transition)."""
        self.failures += 1
        self.last_error = error
        if isinstance(error, RateLimitedError):
            self.rate_limited += 1

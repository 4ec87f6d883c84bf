"""The emulator's state records: what a Space is made of, and the hardware it may run on.

Plain emulator-side records, no I/O and no wire format: a :class:`Space` (stage,
hardware, settings, secrets, variables, logs, the counters that void stale timers),
its :class:`Behaviour` (durations and failures), its :class:`LogBuffer` logs, the
:data:`HARDWARE` catalogue, and :class:`HubError`, the error answer any operation on
them may raise. Stages, flavors and tiers are the enum members of
:mod:`aiospace.models` (shared values, not shared encoding); the answers are written
from these records by :mod:`aiospace.emulator.encode`.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from ..models import SpaceHardware, SpaceStage, SpaceStorage, VolumeType
from .gitstore import GitStore

__all__ = [
    "BEHAVIOUR_FIELDS",
    "BUILDING",
    "CAPACITY_MESSAGE",
    "CONTAINER",
    "DEFAULT_FREE_SLEEP",
    "ERRORS",
    "HARDWARE",
    "INITIAL_STAGES",
    "LOG_CAPACITY",
    "MAX_LIKES",
    "MAX_SLEEP_TIME",
    "MIN_LOG_INTERVAL",
    "SERVING",
    "STORAGE_ORDER",
    "VOLUME_TYPES",
    "Accelerator",
    "Behaviour",
    "Flavor",
    "HubError",
    "LogBuffer",
    "LogEntry",
    "Periodic",
    "Space",
    "StoredSecret",
    "StoredVariable",
    "StoredVolume",
    "is_free",
    "not_found",
]

#: The sleep time of free hardware (48 h), not configurable.
DEFAULT_FREE_SLEEP = 172800
#: Lines kept per log (older ones are dropped).
LOG_CAPACITY = 5000
#: Stages in which a container serves the app.
SERVING = frozenset({SpaceStage.RUNNING, SpaceStage.RUNNING_BUILDING, SpaceStage.RUNNING_APP_STARTING})
#: Stages in which a container runs (and writes run logs).
CONTAINER = SERVING | {SpaceStage.APP_STARTING}
#: Stages in which a build is in progress.
BUILDING = frozenset({SpaceStage.BUILDING, SpaceStage.RUNNING_BUILDING})
#: Error stages: the runtime says why in ``errorMessage``.
ERRORS = frozenset(
    {SpaceStage.BUILD_ERROR, SpaceStage.RUNTIME_ERROR, SpaceStage.CONFIG_ERROR, SpaceStage.NO_APP_FILE}
)
#: The ``errorMessage`` of a start that found no machine of the requested flavor (hub-api.md, assumed).
CAPACITY_MESSAGE = "Scheduling failure: not enough hardware capacity"
#: Storage tiers, smallest first (a downgrade is refused).
STORAGE_ORDER = {"small": 1, "medium": 2, "large": 3}
#: The longest sleep time the emulator takes (about 31 years, in seconds).
MAX_SLEEP_TIME = 10**9
#: The most likes a seeded Space may have (JSON's largest exact integer).
MAX_LIKES = 2**53
#: The most Spaces an emulator holds, and secrets (or variables) a Space holds: past
#: them a create or an add is a 400, so no loop of calls grows the world without bound.
MAX_SPACES = 100_000
MAX_KEYS = 1_000
#: The shortest ``log_interval`` (simulated seconds): shorter would flood the logs.
MIN_LOG_INTERVAL = 0.1
#: The stages a Space may be created in (the others only happen on the way somewhere).
INITIAL_STAGES = frozenset(
    {
        SpaceStage.RUNNING,
        SpaceStage.BUILDING,
        SpaceStage.RUNNING_BUILDING,
        SpaceStage.PAUSED,
        SpaceStage.SLEEPING,
        SpaceStage.STOPPED,
        SpaceStage.BUILD_ERROR,
        SpaceStage.RUNTIME_ERROR,
        SpaceStage.CONFIG_ERROR,
        SpaceStage.NO_APP_FILE,
    }
)


class HubError(Exception):
    """An error answer: HTTP status, message and optional ``X-Error-Code``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        #: More keys of the JSON body (the 409 of a duplicate carries the ``url``).
        self.extra = dict(extra or {})


def not_found(repo_id: str) -> HubError:
    """The Hub's 404 for a missing or hidden Space."""
    return HubError(404, f"Repository not found: spaces/{repo_id}", "RepoNotFound")


# ---------------------------------------------------------------------- hardware catalogue


@attrs.frozen
class Accelerator:
    """The GPU of a flavor."""

    model: str
    quantity: str
    vram: str
    type: str = "gpu"
    manufacturer: str = "Nvidia"


@attrs.frozen
class Flavor:
    """One hardware flavor of the catalogue, priced per minute."""

    name: str
    pretty_name: str
    cpu: str
    ram: str
    accelerator: Accelerator | None
    #: The price of one minute, in millionths of a US dollar.
    unit_cost_micro_usd: int
    unit_label: str = "minute"

    @property
    def free(self) -> bool:
        """Free hardware: it sleeps after 48 h, and its sleep time can't be changed."""
        return self.unit_cost_micro_usd == 0


def _catalogue() -> dict[str, Flavor]:
    # name: (pretty name, cpu, ram, accelerator (model, quantity, vram) or None, $ per hour)
    rows: list[tuple[str, str, str, str, tuple[str, str, str] | None, float]] = [
        ("cpu-basic", "CPU basic", "2 vCPU", "16 GB", None, 0.0),
        ("cpu-upgrade", "CPU upgrade", "8 vCPU", "32 GB", None, 0.03),
        ("zero-a10g", "ZeroGPU", "8 vCPU", "32 GB", ("A10G", "1", "24 GB"), 0.0),
        ("t4-small", "Nvidia T4 - small", "4 vCPU", "15 GB", ("T4", "1", "16 GB"), 0.40),
        ("t4-medium", "Nvidia T4 - medium", "8 vCPU", "30 GB", ("T4", "1", "16 GB"), 0.60),
        ("l4x1", "1x Nvidia L4", "8 vCPU", "30 GB", ("L4", "1", "24 GB"), 0.80),
        ("l4x4", "4x Nvidia L4", "48 vCPU", "186 GB", ("L4", "4", "96 GB"), 3.80),
        ("l40sx1", "1x Nvidia L40S", "8 vCPU", "62 GB", ("L40S", "1", "48 GB"), 1.80),
        ("l40sx4", "4x Nvidia L40S", "48 vCPU", "382 GB", ("L40S", "4", "192 GB"), 8.30),
        ("l40sx8", "8x Nvidia L40S", "192 vCPU", "1534 GB", ("L40S", "8", "384 GB"), 23.50),
        ("a10g-small", "Nvidia A10G - small", "4 vCPU", "15 GB", ("A10G", "1", "24 GB"), 1.00),
        ("a10g-large", "Nvidia A10G - large", "12 vCPU", "46 GB", ("A10G", "1", "24 GB"), 1.50),
        ("a10g-largex2", "2x Nvidia A10G - large", "24 vCPU", "92 GB", ("A10G", "2", "48 GB"), 3.00),
        ("a10g-largex4", "4x Nvidia A10G - large", "48 vCPU", "184 GB", ("A10G", "4", "96 GB"), 5.00),
        ("a100-large", "Nvidia A100 - large", "12 vCPU", "142 GB", ("A100", "1", "80 GB"), 2.50),
        ("a100x4", "4x Nvidia A100", "48 vCPU", "568 GB", ("A100", "4", "320 GB"), 10.00),
        ("a100x8", "8x Nvidia A100", "96 vCPU", "1136 GB", ("A100", "8", "640 GB"), 20.00),
        # The official client 2.x's newest flavors (prices are the emulator's stand-ins).
        ("rtx-pro-6000", "1x Nvidia RTX PRO 6000", "12 vCPU", "124 GB", ("RTX PRO 6000", "1", "96 GB"), 3.00),
        (
            "rtx-pro-6000x2",
            "2x Nvidia RTX PRO 6000",
            "24 vCPU",
            "248 GB",
            ("RTX PRO 6000", "2", "192 GB"),
            6.00,
        ),
        (
            "rtx-pro-6000x4",
            "4x Nvidia RTX PRO 6000",
            "48 vCPU",
            "496 GB",
            ("RTX PRO 6000", "4", "384 GB"),
            12.00,
        ),
        (
            "rtx-pro-6000x8",
            "8x Nvidia RTX PRO 6000",
            "96 vCPU",
            "992 GB",
            ("RTX PRO 6000", "8", "768 GB"),
            24.00,
        ),
    ]
    return {
        name: Flavor(
            name=name,
            pretty_name=pretty,
            cpu=cpu,
            ram=ram,
            accelerator=None if acc is None else Accelerator(model=acc[0], quantity=acc[1], vram=acc[2]),
            unit_cost_micro_usd=round(hourly / 60 * 1_000_000),
        )
        for name, pretty, cpu, ram, acc, hourly in rows
    }


#: The hardware catalogue, by flavor name.
HARDWARE: Mapping[str, Flavor] = _catalogue()


def is_free(flavor: str | None) -> bool:
    """True for a flavor of the catalogue that costs nothing (``cpu-basic``, ``zero-a10g``)."""
    found = None if flavor is None else HARDWARE.get(str(flavor))
    return found is not None and found.free


# ---------------------------------------------------------------------- a Space


@attrs.define
class Behaviour:
    """How a Space behaves: durations (simulated seconds) and failures.

    ``push_delay``: seconds between a commit and the start of its build (the head
    ``sha`` moves at once; meanwhile the runtime still shows the old container).
    ``capacity_failures``: how many of the next starts on paid hardware find no
    machine (``RUNTIME_ERROR``, ``errorMessage`` :data:`CAPACITY_MESSAGE`).
    ``app_ready_after``: seconds after reaching ``RUNNING`` before the app answers (503
    until then); ``serving`` False: ``RUNNING``, but the app answers 503 for ever
    (:mod:`~aiospace.emulator.apps`).
    """

    build_seconds: float = 30.0
    start_seconds: float = 5.0
    hardware_seconds: float = 10.0
    factory_seconds: float = 30.0
    fail_build: bool = False
    crash_after: float | None = None
    stuck: bool = False
    log_interval: float = 5.0
    push_delay: float = 3.0
    capacity_failures: int = 0
    app_ready_after: float = 0.0
    serving: bool = True

    def update(self, values: Mapping[str, Any]) -> None:
        """Change some fields, all or none (unknown names or wrong values raise ``ValueError``)."""
        checked: dict[str, Any] = {}
        for key, value in values.items():
            if key not in BEHAVIOUR_FIELDS:
                raise ValueError(f"unknown behaviour field {str(key)[:100]!r}")
            if key in ("fail_build", "stuck", "serving"):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be a bool")
            elif key == "capacity_failures":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError("capacity_failures must be an int >= 0")
            elif key == "crash_after" and value is None:
                pass
            else:
                value = _seconds(key, value)
                if key == "log_interval" and value < MIN_LOG_INTERVAL:
                    raise ValueError(f"log_interval must be >= {MIN_LOG_INTERVAL}")
            checked[key] = value
        for key, value in checked.items():
            setattr(self, key, value)


def _seconds(key: str, value: Any) -> float:
    """A duration: a finite number >= 0, as a float (a huge int is refused, not overflowed later)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a finite number >= 0")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not 0 <= seconds < math.inf:
        raise ValueError(f"{key} must be a finite number >= 0")
    return seconds


BEHAVIOUR_FIELDS = frozenset(a.name for a in attrs.fields(Behaviour))


@attrs.frozen
class LogEntry:
    """One log line at a simulated time."""

    time: float
    text: str


@attrs.define
class Periodic:
    """Lines a log writes every ``behaviour.log_interval`` simulated seconds (a heartbeat, a
    build's progress), made only when the log is read, followed or written to.

    Nothing is scheduled for them: a world of 10,000 idle Spaces costs no work until
    someone looks at a log. The lines are the ones a timer would have written, stamped at
    their own times: ``next``, ``next + interval``... up to ``now()`` (and before ``until``).
    """

    #: The time of the next line.
    next: float
    behaviour: Behaviour
    #: The line written at a time.
    text: Callable[[float], str]
    #: The latest simulated time applied (the lifecycle's ``now``).
    now: Callable[[], float]
    #: No line at or after this time (the end of a build); None: for ever.
    until: float | None = None


class LogBuffer:
    """A capped log with absolute line numbers; ``closed`` once nothing more will come.

    Its :class:`Periodic` lines (if any) are made when it is read or written to, each at
    its own time, before any line written later; closing it ends them.
    """

    def __init__(self) -> None:
        self._lines: deque[LogEntry] = deque(maxlen=LOG_CAPACITY)
        self._start = 0
        self._closed = False
        self._periodic: Periodic | None = None

    @property
    def closed(self) -> bool:
        """Nothing more will come (a follower stops)."""
        return self._closed

    @closed.setter
    def closed(self, value: bool) -> None:
        if value:
            self.stop_periodic()
        self._closed = value

    def start_periodic(self, periodic: Periodic) -> None:
        """Write ``periodic``'s lines from now on (the ones of an earlier one are made first)."""
        self.stop_periodic()
        self._periodic = periodic

    def stop_periodic(self) -> None:
        """Make the periodic lines due until now, then write no more of them."""
        self.catch_up()
        self._periodic = None

    def catch_up(self, upto: float | None = None) -> None:
        """Make the periodic lines due at ``upto`` (default: now); at most a capacity of them."""
        p = self._periodic
        if p is None:
            return
        limit = p.now() if upto is None else upto
        if p.next > limit:
            return
        interval = max(p.behaviour.log_interval, MIN_LOG_INTERVAL)
        count = math.floor((limit - p.next) / interval) + 1
        if p.until is not None:
            count = min(count, max(0, math.ceil((p.until - p.next) / interval)))
        if count <= 0:
            return
        first = p.next
        skip = max(0, count - LOG_CAPACITY)
        if skip:  # only the newest lines would be kept: the older ones are numbered, not made
            self._start += len(self._lines) + skip
            self._lines.clear()
        for k in range(skip, count):
            t = first + k * interval
            self._push(LogEntry(t, p.text(t)))
        p.next = first + count * interval

    @property
    def end(self) -> int:
        """The absolute number of the next line."""
        self.catch_up()
        return self._start + len(self._lines)

    def append(self, time: float, text: str) -> None:
        """Add a line at ``time`` (dropping the oldest past the capacity)."""
        self.catch_up(time)
        self._push(LogEntry(time, text))

    def _push(self, entry: LogEntry) -> None:
        if len(self._lines) == self._lines.maxlen:
            self._start += 1
        self._lines.append(entry)

    def since(self, index: int) -> tuple[list[LogEntry], int]:
        """The lines from absolute number ``index`` on, and the next number."""
        self.catch_up()
        skip = max(0, index - self._start)
        return list(itertools.islice(self._lines, skip, None)), self.end

    def numbered_since(self, index: int) -> tuple[list[tuple[int, LogEntry]], int]:
        """The lines from absolute number ``index`` on (each with its number), and the next number.

        Lines that rolled out of the log are skipped: the first one given is then the
        oldest kept, numbered as it always was.
        """
        self.catch_up()
        first = max(index, self._start)
        lines, end = self.since(first)
        return list(enumerate(lines, start=first)), end

    def __iter__(self) -> Iterator[LogEntry]:
        self.catch_up()
        return iter(list(self._lines))

    def __len__(self) -> int:
        self.catch_up()
        return len(self._lines)


@attrs.define
class StoredSecret:
    """A secret with its value (kept, never answered nor shown in a repr) and when it was last set."""

    value: str = attrs.field(repr=False)
    description: str | None
    #: Simulated time of the last change.
    updated: float


@attrs.define
class StoredVariable:
    """A variable: value, description, and when it was last set."""

    value: str
    description: str | None
    #: Simulated time of the last change.
    updated: float


#: What a volume may mount (the shared enum's values).
VOLUME_TYPES = frozenset(t.value for t in VolumeType)


@attrs.frozen
class StoredVolume:
    """A volume mounted in a Space: a bucket or a repository at an absolute path.

    ``read_only`` is forced for repositories (as on the Hub); a bucket is writable
    unless asked otherwise.
    """

    type: str
    source: str
    mount_path: str
    revision: str | None = None
    read_only: bool = False
    path: str | None = None


@attrs.define(eq=False)
class Space:
    """A Space's whole state in the emulator."""

    id: str
    sdk: str
    private: bool
    created: float
    behaviour: Behaviour
    stage: SpaceStage = SpaceStage.RUNNING
    current: SpaceHardware | None = None
    requested: SpaceHardware | None = None
    sleep_time: int | None = None
    storage: SpaceStorage | None = None
    dev_mode: bool = False
    secrets: dict[str, StoredSecret] = attrs.field(factory=dict)
    variables: dict[str, StoredVariable] = attrs.field(factory=dict)
    last_modified: float = 0.0
    last_visit: float = 0.0
    last_hardware: SpaceHardware | None = None
    sha: str = ""
    likes: int = 0
    build_log: LogBuffer = attrs.field(factory=LogBuffer)
    run_log: LogBuffer = attrs.field(factory=LogBuffer)
    #: Bumped whenever pending build/start/crash transitions are void.
    gen: int = 0
    #: Bumped whenever the container stops (voids its heartbeats).
    container: int = 0
    #: Bumped whenever the sleep timer is re-armed.
    sleep_gen: int = 0
    commits: int = 0
    build_started: float = 0.0
    #: When the current build ends (None: stuck, or no build).
    build_end: float | None = None
    #: Why the Space is in an error stage (the runtime's ``errorMessage``).
    error_message: str | None = None
    #: The commit number whose build waits for its ``push_delay`` (None: no push pending).
    pending_push: int | None = None
    #: The container now starting will find no machine (a ``capacity_failures`` start).
    unschedulable: bool = False
    #: The files of the head commit, path -> content (see :mod:`~aiospace.emulator.repo`).
    files: dict[str, bytes] = attrs.field(factory=dict)
    #: The files of recent commits, by commit id (the head's too once it has been pushed).
    trees: dict[str, dict[str, bytes]] = attrs.field(factory=dict)
    #: Every commit's git objects (the whole history: API commits and git pushes alike).
    git: GitStore = attrs.field(factory=GitStore, repr=False)
    #: The failure the files being built carry (``"build-error"``, ``"runtime-error"``; None: none).
    app_fault: str | None = None
    #: A protected Space: its app (and runtime) are public, its files private.
    protected: bool = False
    #: The mounted volumes (what replaces persistent storage).
    volumes: list[StoredVolume] = attrs.field(factory=list)
    #: When the container now serving reached ``RUNNING`` (its app answers ``app_ready_after`` later).
    running_since: float = 0.0

    @property
    def author(self) -> str:
        """The namespace (user or organization) owning the Space."""
        return self.id.split("/", 1)[0]

    @property
    def is_static(self) -> bool:
        """A static Space: always running, no hardware."""
        return self.sdk == "static"

    @property
    def has_container(self) -> bool:
        """A container runs (starting or serving)."""
        return self.stage in CONTAINER

    @property
    def is_serving(self) -> bool:
        """A container serves the app (possibly while a new one builds or starts)."""
        return self.stage in SERVING

    @property
    def is_building(self) -> bool:
        """A build is in progress."""
        return self.stage in BUILDING

    @property
    def gc_timeout(self) -> int | None:
        """The sleep time as the runtime reports it (``gcTimeout``; None: never sleeps)."""
        if self.is_static:
            return None
        if self.sleep_time is not None:
            return self.sleep_time
        if is_free(self.requested):
            return DEFAULT_FREE_SLEEP
        return None

    @property
    def visibility(self) -> str:
        """``public``, ``private`` or ``protected``."""
        return "private" if self.private else "protected" if self.protected else "public"

    @property
    def domain(self) -> str:
        """The Space's app domain (``user-name.hf.space``)."""
        return self.id.replace("/", "-").replace("_", "-").replace(".", "-").lower() + ".hf.space"

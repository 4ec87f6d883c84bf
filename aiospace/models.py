"""The Hub's Space data, as small frozen ``attrs`` classes.

Nothing here does I/O. The mapping from the wire lives in one ``cattrs`` converter
(:mod:`aiospace._hub.convert`). The emulator shares only the enum values; it writes its
answers with its own code, so that the recorded Hub answers can judge both sides.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "ERROR_STAGES",
    "SERVING_STAGES",
    "TRANSITIONAL_STAGES",
    "CreatedSpace",
    "DuplicatedSpace",
    "RateLimit",
    "SpaceAccelerator",
    "SpaceDomain",
    "SpaceHardware",
    "SpaceHardwareInfo",
    "SpaceHotReloading",
    "SpaceInfo",
    "SpaceReplicas",
    "SpaceRuntime",
    "SpaceSecret",
    "SpaceStage",
    "SpaceStorage",
    "SpaceVariable",
    "Volume",
    "VolumeType",
    "ZeroGpuQuota",
]


#: Unknown enum values remembered per enum (a pseudo-member each), and their longest length.
_MAX_UNKNOWN = 256
_MAX_UNKNOWN_LENGTH = 100


class _OpenStrEnum(str, enum.Enum):
    """A ``str`` enum that equals its wire string and accepts values it does not know.

    The Hub adds stages and flavors over time; parsing one we do not know yet yields a
    pseudo-member (cached, so identity holds) instead of raising.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str) or not value:
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper().replace("-", "_").replace(".", "_")
        member._value_ = value
        # Cache so that a second parse returns the same object; but only so many, and
        # short ones: a Hub that sends a new value on every answer can't grow memory.
        known = cls._value2member_map_
        if len(value) <= _MAX_UNKNOWN_LENGTH and len(known) - len(cls.__members__) < _MAX_UNKNOWN:
            return known.setdefault(value, member)
        return member

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def is_known(self) -> bool:
        """True if this value was known to this version of aiospace."""
        # Compare identity: an unknown value may be spelled like a member's name ("CPU_BASIC").
        return type(self).__members__.get(self._name_) is self


class SpaceStage(_OpenStrEnum):
    """The stage of a Space, as the Hub reports it in ``runtime.stage``."""

    NO_APP_FILE = "NO_APP_FILE"
    CONFIG_ERROR = "CONFIG_ERROR"
    BUILDING = "BUILDING"
    BUILD_ERROR = "BUILD_ERROR"
    APP_STARTING = "APP_STARTING"
    RUNNING = "RUNNING"
    RUNNING_BUILDING = "RUNNING_BUILDING"
    RUNNING_APP_STARTING = "RUNNING_APP_STARTING"
    RUNTIME_ERROR = "RUNTIME_ERROR"
    DELETING = "DELETING"
    STOPPED = "STOPPED"
    PAUSED = "PAUSED"
    SLEEPING = "SLEEPING"

    @property
    def is_transitional(self) -> bool:
        """The Space is on its way somewhere: building or starting."""
        return self in TRANSITIONAL_STAGES

    @property
    def is_error(self) -> bool:
        """The Space failed and will not get better on its own."""
        return self in ERROR_STAGES

    @property
    def is_serving(self) -> bool:
        """A container answers requests (``RUNNING`` and ``RUNNING_*``)."""
        return self.value.startswith("RUNNING")


#: The stages of a build or start under way (:attr:`SpaceStage.is_transitional`).
TRANSITIONAL_STAGES = frozenset(
    {
        SpaceStage.BUILDING,
        SpaceStage.APP_STARTING,
        SpaceStage.RUNNING_BUILDING,
        SpaceStage.RUNNING_APP_STARTING,
    }
)
#: The error stages (:attr:`SpaceStage.is_error`).
ERROR_STAGES = frozenset(
    {
        SpaceStage.BUILD_ERROR,
        SpaceStage.RUNTIME_ERROR,
        SpaceStage.CONFIG_ERROR,
        SpaceStage.NO_APP_FILE,
    }
)
#: The known stages in which a container answers (:attr:`SpaceStage.is_serving`).
SERVING_STAGES = frozenset(stage for stage in SpaceStage if stage.is_serving)


class SpaceHardware(_OpenStrEnum):
    """A hardware flavor (``cpu-basic``, ``t4-medium``...)."""

    CPU_BASIC = "cpu-basic"
    CPU_UPGRADE = "cpu-upgrade"
    ZERO_A10G = "zero-a10g"
    T4_SMALL = "t4-small"
    T4_MEDIUM = "t4-medium"
    L4X1 = "l4x1"
    L4X4 = "l4x4"
    L40SX1 = "l40sx1"
    L40SX4 = "l40sx4"
    L40SX8 = "l40sx8"
    A10G_SMALL = "a10g-small"
    A10G_LARGE = "a10g-large"
    A10G_LARGEX2 = "a10g-largex2"
    A10G_LARGEX4 = "a10g-largex4"
    A100_LARGE = "a100-large"
    A100X4 = "a100x4"
    A100X8 = "a100x8"
    RTX_PRO_6000 = "rtx-pro-6000"
    RTX_PRO_6000X2 = "rtx-pro-6000x2"
    RTX_PRO_6000X4 = "rtx-pro-6000x4"
    RTX_PRO_6000X8 = "rtx-pro-6000x8"

    @property
    def is_free(self) -> bool:
        """Free hardware: its sleep time can't be changed (48 h)."""
        return self in (SpaceHardware.CPU_BASIC, SpaceHardware.ZERO_A10G)


class SpaceStorage(_OpenStrEnum):
    """A persistent storage tier: the older mechanism that volumes (:class:`Volume`) replace.

    The Hub still answers the storage calls, so aiospace keeps them; new deployments
    mount a bucket, model, dataset or Space as a volume instead.
    """

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class VolumeType(_OpenStrEnum):
    """What a volume mounts: a storage bucket, or a model, dataset or Space repository."""

    BUCKET = "bucket"
    MODEL = "model"
    DATASET = "dataset"
    SPACE = "space"


def _volume_type(value: Any) -> Any:
    # Any str becomes a VolumeType (an unknown one a pseudo-member); the argument checks
    # refuse unknown types before a request, parsing an answer keeps them.
    found = VolumeType._value2member_map_.get(value) if isinstance(value, str) else None
    if found is not None or not isinstance(value, str) or not value:
        return found if found is not None else value
    return VolumeType(value)


@attrs.frozen
class Volume:
    """A volume mounted in a Space's container (what replaces persistent storage).

    ``type`` is ``"bucket"``, ``"model"``, ``"dataset"`` or ``"space"``; ``source`` the
    bucket or repository id (``"ns/name"``); ``mount_path`` where it appears in the
    container (starting with ``/``). ``revision`` (repositories only), ``read_only``
    (the Hub forces it for repositories) and ``path`` (a folder inside the source)
    are optional: None leaves them to the Hub.
    """

    type: VolumeType = attrs.field(converter=_volume_type)
    source: str
    mount_path: str
    revision: str | None = None
    read_only: bool | None = None
    path: str | None = None


@attrs.frozen
class SpaceHotReloading:
    """The state of a hot reload of the Space's app (read-only: the Hub reports it).

    ``status`` is ``"created"`` or ``"canceled"`` (others may come);
    ``replica_statuses`` pairs each replica's id with its reload status.
    """

    status: str | None = None
    replica_statuses: tuple[tuple[str, str | None], ...] = ()


@attrs.frozen
class SpaceReplicas:
    """How many replicas were requested and how many run."""

    requested: int | None = None
    current: int | None = None


@attrs.frozen
class SpaceDomain:
    """A domain serving the Space's app, and its state (recorded: ``"READY"``)."""

    domain: str
    stage: str | None = None


@attrs.frozen
class SpaceRuntime:
    """A Space's runtime: stage, hardware (current and requested), sleep time, storage.

    ``error_message`` says why the Space is in an error stage, when the Hub says it
    (``"Scheduling failure: not enough hardware capacity"``...). ``raw`` keeps the
    whole answer, keys we don't model included, as a read-only mapping; read from the
    Hub, it keeps the answer's bytes and parses them on first use (a watched Space keeps
    its last runtime: the bytes take a sixth of the memory). ``dict(runtime.raw)`` gives
    a plain dict (for ``json.dumps``). It takes no part in equality: two runtimes are
    equal when what they say about the Space is.
    """

    stage: SpaceStage
    hardware: SpaceHardware | None = None
    requested_hardware: SpaceHardware | None = None
    sleep_time: int | None = None
    storage: SpaceStorage | None = None
    dev_mode: bool | None = None
    replicas: SpaceReplicas | None = None
    error_message: str | None = None
    domains: tuple[SpaceDomain, ...] = ()
    sdk: str | None = None
    sdk_version: str | None = None
    #: The mounted volumes (None: the answer had none).
    volumes: tuple[Volume, ...] | None = None
    #: A hot reload in progress or just done (None: none reported).
    hot_reloading: SpaceHotReloading | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def is_transitional(self) -> bool:
        """Building or starting (see :attr:`SpaceStage.is_transitional`)."""
        return self.stage.is_transitional

    @property
    def is_error(self) -> bool:
        """In an error stage (see :attr:`SpaceStage.is_error`)."""
        return self.stage.is_error

    @property
    def is_converged(self) -> bool:
        """The hardware the Space runs on is the one requested (``hardware == requested_hardware``).

        A Space with nothing requested (a static Space) counts as converged.
        """
        return self.requested_hardware is None or self.hardware == self.requested_hardware

    @property
    def is_settled(self) -> bool:
        """Neither transitional nor waiting for a hardware change: nothing will happen on its own."""
        return not self.is_transitional and (self.is_converged or not self.stage.is_serving)


@attrs.frozen
class SpaceVariable:
    """A Space variable: readable by anyone who can read the Space's settings."""

    key: str
    value: str
    description: str | None = None
    updated_at: datetime | None = None


@attrs.frozen
class SpaceSecret:
    """A Space secret. Its value is write-only: the Hub never returns it."""

    key: str
    description: str | None = None
    updated_at: datetime | None = None


@attrs.frozen
class SpaceAccelerator:
    """The accelerator of a hardware flavor (GPU model, count, memory)."""

    type: str | None = None
    model: str | None = None
    quantity: str | None = None
    vram: str | None = None
    manufacturer: str | None = None


@attrs.frozen
class SpaceHardwareInfo:
    """One entry of the hardware catalogue, with its unit cost."""

    name: SpaceHardware
    pretty_name: str | None = None
    cpu: str | None = None
    ram: str | None = None
    accelerator: SpaceAccelerator | None = None
    unit_cost_micro_usd: int | None = None
    unit_cost_usd: float | None = None
    unit_label: str | None = None

    @property
    def cost_per_hour_usd(self) -> float | None:
        """The price of one hour on this flavor, from its unit cost and unit label."""
        if self.unit_cost_usd is None:
            return None
        per = {"second": 3600.0, "minute": 60.0, "hour": 1.0, "day": 1 / 24}
        factor = per.get((self.unit_label or "hour").lower())
        return None if factor is None else self.unit_cost_usd * factor


@attrs.frozen
class SpaceInfo:
    """The part of a Space's info that matters for its runtime.

    ``sha`` is the head commit (what a push moves at once, before the Space rebuilds),
    ``subdomain`` the app's host name on ``hf.space``, ``host`` the app's origin as the Hub
    names it (``https://alice-demo.hf.space``), ``card_data`` the metadata of the Space's
    ``README.md`` card (``sdk``, ``app_port``, ``startup_duration_timeout``...; None if not sent).
    """

    id: str
    author: str | None = None
    sdk: str | None = None
    private: bool | None = None
    last_modified: datetime | None = None
    runtime: SpaceRuntime | None = None
    sha: str | None = None
    subdomain: str | None = None
    host: str | None = None
    card_data: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen
class DuplicatedSpace:
    """The answer to a duplication: where the new Space lives.

    ``files_copy_pending``: the Hub copied the git history but still copies large
    (LFS/Xet) files in the background; reading them from the new Space may fail until then.
    ``existed`` is True when ``exist_ok`` found the target already there (nothing was copied).
    """

    repo_id: str
    url: str
    files_copy_pending: bool = False
    existed: bool = False


@attrs.frozen
class CreatedSpace:
    """The answer to creating a Space: its id and its URL on the Hub."""

    repo_id: str
    url: str


@attrs.frozen
class ZeroGpuQuota:
    """The caller's ZeroGPU quota, in GPU-seconds.

    ``base`` is the quota of a period and ``remaining`` what is left of it;
    ``resets_at`` is when it refills (None until it is first used);
    ``overquota_used`` the paid GPU-seconds used past the base quota (None when not reported).
    """

    base: float
    remaining: float
    resets_at: datetime | None = None
    overquota_used: float | None = None


@attrs.frozen
class RateLimit:
    """The Hub's latest rate-limit headers: what is left of the current window, and the policy."""

    remaining: int | None = None
    reset: float | None = None
    quota: int | None = None
    window: float | None = None

    @property
    def used_fraction(self) -> float:
        """Share of the window's quota already used (0 when unknown)."""
        if not self.quota or self.remaining is None:
            return 0.0
        return max(0.0, min(1.0, 1 - self.remaining / self.quota))

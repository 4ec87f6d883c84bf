"""aiospace: manage Hugging Face Spaces from async code.

An aiohttp client for every Space runtime call (:class:`SpaceClient`), a watch
engine that yields transitions as async iterators, and a local Hub emulator.
"""

from .__about__ import __version__
from ._clock import Clock, ScaledClock, SystemClock
from ._wire import LogLine
from .budget import Exchange, RateBudget
from .client import SpaceClient
from .errors import (
    AiospaceError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HubHTTPError,
    InvalidArgumentError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    RevisionSupersededError,
    ServerError,
    SpaceFailedError,
    SpaceNotFoundError,
    SpaceNotStartingError,
    SpaceStalledError,
    TransportError,
    WaitError,
    WaitTimeoutError,
)
from .models import (
    CreatedSpace,
    DuplicatedSpace,
    RateLimit,
    SpaceAccelerator,
    SpaceDomain,
    SpaceHardware,
    SpaceHardwareInfo,
    SpaceHotReloading,
    SpaceInfo,
    SpaceReplicas,
    SpaceRuntime,
    SpaceSecret,
    SpaceStage,
    SpaceStorage,
    SpaceVariable,
    Volume,
    VolumeType,
    ZeroGpuQuota,
)
from .session import ClientStats, HubSession, RetryPolicy
from .transitions import DEFAULT_STALL_AFTER, Cadence, Change, Transition, WatchStats
from .wait import wait_for_space
from .watch import Poll, SpaceWatch, Watcher

__all__ = [
    "DEFAULT_STALL_AFTER",
    "AiospaceError",
    "AuthenticationError",
    "BadRequestError",
    "Cadence",
    "Change",
    "ClientStats",
    "Clock",
    "ConflictError",
    "CreatedSpace",
    "DuplicatedSpace",
    "Exchange",
    "HubHTTPError",
    "HubSession",
    "InvalidArgumentError",
    "LogLine",
    "PermissionDeniedError",
    "Poll",
    "RateBudget",
    "RateLimit",
    "RateLimitedError",
    "RequestTimeoutError",
    "RetryPolicy",
    "RevisionSupersededError",
    "ScaledClock",
    "ServerError",
    "SpaceAccelerator",
    "SpaceClient",
    "SpaceDomain",
    "SpaceFailedError",
    "SpaceHardware",
    "SpaceHardwareInfo",
    "SpaceHotReloading",
    "SpaceInfo",
    "SpaceNotFoundError",
    "SpaceNotStartingError",
    "SpaceReplicas",
    "SpaceRuntime",
    "SpaceSecret",
    "SpaceStage",
    "SpaceStalledError",
    "SpaceStorage",
    "SpaceVariable",
    "SpaceWatch",
    "SystemClock",
    "Transition",
    "TransportError",
    "Volume",
    "VolumeType",
    "WaitError",
    "WaitTimeoutError",
    "WatchStats",
    "Watcher",
    "ZeroGpuQuota",
    "__version__",
    "wait_for_space",
]

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
    ServerError,
    SpaceFailedError,
    SpaceNotFoundError,
    TransportError,
    WaitTimeoutError,
)
from .models import (
    CreatedSpace,
    DuplicatedSpace,
    RateLimit,
    SpaceAccelerator,
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
from .transitions import Cadence, Change, Transition, WatchStats
from .wait import wait_for_space
from .watch import SpaceWatch, Watcher

__all__ = [
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
    "RateBudget",
    "RateLimit",
    "RateLimitedError",
    "RequestTimeoutError",
    "RetryPolicy",
    "ScaledClock",
    "ServerError",
    "SpaceAccelerator",
    "SpaceClient",
    "SpaceFailedError",
    "SpaceHardware",
    "SpaceHardwareInfo",
    "SpaceHotReloading",
    "SpaceInfo",
    "SpaceNotFoundError",
    "SpaceReplicas",
    "SpaceRuntime",
    "SpaceSecret",
    "SpaceStage",
    "SpaceStorage",
    "SpaceVariable",
    "SpaceWatch",
    "SystemClock",
    "Transition",
    "TransportError",
    "Volume",
    "VolumeType",
    "WaitTimeoutError",
    "WatchStats",
    "Watcher",
    "ZeroGpuQuota",
    "__version__",
    "wait_for_space",
]

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
    DeliveryError,
    HubHTTPError,
    InvalidArgumentError,
    LeaseReleaseError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    SpaceFailedError,
    SpaceNotFoundError,
    TransportError,
    WaitTimeoutError,
)
from .lease import ReleasePlan, app_url, lease_space
from .models import (
    DuplicatedSpace,
    RateLimit,
    SpaceAccelerator,
    SpaceHardware,
    SpaceHardwareInfo,
    SpaceInfo,
    SpaceReplicas,
    SpaceRuntime,
    SpaceSecret,
    SpaceStage,
    SpaceStorage,
    SpaceVariable,
)
from .notify import CommandRunner, Dispatcher, DispatchStats, TransitionFilter, WebhookPoster, dispatch
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
    "CommandRunner",
    "ConflictError",
    "DeliveryError",
    "DispatchStats",
    "Dispatcher",
    "DuplicatedSpace",
    "Exchange",
    "HubHTTPError",
    "HubSession",
    "InvalidArgumentError",
    "LeaseReleaseError",
    "LogLine",
    "PermissionDeniedError",
    "RateBudget",
    "RateLimit",
    "RateLimitedError",
    "ReleasePlan",
    "RequestTimeoutError",
    "RetryPolicy",
    "ScaledClock",
    "ServerError",
    "SpaceAccelerator",
    "SpaceClient",
    "SpaceFailedError",
    "SpaceHardware",
    "SpaceHardwareInfo",
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
    "TransitionFilter",
    "TransportError",
    "WaitTimeoutError",
    "WatchStats",
    "Watcher",
    "WebhookPoster",
    "__version__",
    "app_url",
    "dispatch",
    "lease_space",
    "wait_for_space",
]

"""aiospace: manage Hugging Face Spaces from async code.

An aiohttp client for every Space runtime call (:class:`SpaceClient`), a watch
engine that yields transitions as async iterators, and a local Hub emulator.
"""

from .__about__ import __version__
from ._clock import Clock, ScaledClock, SystemClock
from ._wire import LogLine
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

__all__ = [
    "AiospaceError",
    "AuthenticationError",
    "BadRequestError",
    "Clock",
    "ConflictError",
    "DuplicatedSpace",
    "HubHTTPError",
    "InvalidArgumentError",
    "LogLine",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitedError",
    "RequestTimeoutError",
    "ScaledClock",
    "ServerError",
    "SpaceAccelerator",
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
    "SystemClock",
    "TransportError",
    "WaitTimeoutError",
    "__version__",
]

"""aiospace: manage Hugging Face Spaces from async code.

:class:`SpaceClient` is the way in: every Space call of the Hub, and the watch engine's doors
(:meth:`~SpaceClient.watch`, :meth:`~SpaceClient.watcher`, :meth:`~SpaceClient.wait_for_space`,
:meth:`~SpaceClient.lease`). Here are the names a caller builds or catches; every model is in
:mod:`aiospace.models`, every error in :mod:`aiospace.errors`, the engine's types in
:mod:`aiospace.engine`'s modules, and the local Hub in :mod:`aiospace.emulator`.
"""

from .__about__ import __version__
from ._clock import ScaledClock
from .client import RetryPolicy, SpaceClient
from .engine.notify import CommandRunner, Dispatcher, TransitionFilter, WebhookPoster
from .engine.options import OnTrouble
from .engine.transitions import Cadence, Change, Transition
from .errors import (
    AiospaceError,
    AuthenticationError,
    BadAnswerError,
    BadRequestError,
    ConflictError,
    DeliveryError,
    HubHTTPError,
    InvalidArgumentError,
    LeaseReleaseError,
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
from .models import SpaceHardware, SpaceInfo, SpaceRuntime, SpaceStage, SpaceStorage, Volume

__all__ = [
    "AiospaceError",
    "AuthenticationError",
    "BadAnswerError",
    "BadRequestError",
    "Cadence",
    "Change",
    "CommandRunner",
    "ConflictError",
    "DeliveryError",
    "Dispatcher",
    "HubHTTPError",
    "InvalidArgumentError",
    "LeaseReleaseError",
    "OnTrouble",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "RetryPolicy",
    "RevisionSupersededError",
    "ScaledClock",
    "ServerError",
    "SpaceClient",
    "SpaceFailedError",
    "SpaceHardware",
    "SpaceInfo",
    "SpaceNotFoundError",
    "SpaceNotStartingError",
    "SpaceRuntime",
    "SpaceStage",
    "SpaceStalledError",
    "SpaceStorage",
    "Transition",
    "TransitionFilter",
    "TransportError",
    "Volume",
    "WaitError",
    "WaitTimeoutError",
    "WebhookPoster",
    "__version__",
]

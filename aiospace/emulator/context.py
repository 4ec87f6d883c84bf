"""What every route handler shares: the app's state, request state, bodies and answers.

* :class:`HubApp` (reached as ``request.app[HUB]``): the world, the clock, the
  admin token, the request-id counter, and the ticker that advances the world in
  the background;
* :class:`RequestState`: what the middleware learns about a request (its id,
  rate-limit headers, the fault to apply) for the handler and the answer;
* reading request bodies (:func:`read_json`, :func:`json_object`, :func:`checked`:
  malformed or wrong input is a JSON 400, over :data:`MAX_BODY` a 413) and writing
  answers (:func:`json_answer`, :func:`error_response`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from typing import Any

import attrs
from aiohttp import web

from .._clock import ScaledClock
from .._hub import validate as v
from ..errors import InvalidArgumentError
from .encode import error_json
from .faults import Fault
from .state import HubError, LogBuffer
from .world import World

__all__ = [
    "DEFAULT_READ_TIMEOUT",
    "HUB",
    "MAX_BODY",
    "Handler",
    "HubApp",
    "RequestState",
    "bad_request",
    "body_timeout",
    "checked",
    "close_connection",
    "error_response",
    "header_safe",
    "json_answer",
    "json_object",
    "log",
    "read_json",
    "repo_id_of",
    "request_state",
    "user_of",
]

log = logging.getLogger("aiospace.emulator")

#: The largest request body accepted (a bigger one is a 413).
MAX_BODY = 1024 * 1024
#: Real seconds a connection may stay idle (before its first request, between two, or
#: in the middle of a request line and headers) or a request's body may send nothing.
DEFAULT_READ_TIMEOUT = 60.0
_TICK = 0.02  # real seconds between two background advances

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HubApp:
    """The state shared by the handlers: world, clock, admin token, shutdown flag."""

    def __init__(
        self,
        world: World,
        *,
        admin_token: str | None = None,
        keepalive: float = 10.0,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if isinstance(read_timeout, bool) or not isinstance(read_timeout, (int, float)):
            raise ValueError("read_timeout must be a number of seconds")
        if not 0 < read_timeout < math.inf:
            raise ValueError("read_timeout must be a finite number of seconds > 0")
        self.world = world
        self.clock: ScaledClock = world.clock
        self.admin_token = admin_token or f"emu_admin_{secrets.token_hex(16)}"
        self.keepalive = keepalive
        #: Real seconds a connection may stay idle or a request's body may make no progress.
        self.read_timeout = float(read_timeout)
        self._closing = False
        self._ids = itertools.count(1)
        self._ticker: asyncio.Task[None] | None = None
        # Followed logs: (id of the buffer, the line awaited) -> the buffer, and the future
        # every follower waiting for that line shares. The ticker wakes them when it comes.
        self._log_waiters: dict[tuple[int, int], tuple[LogBuffer, asyncio.Future[None]]] = {}

    @property
    def closing(self) -> bool:
        """The emulator is stopping: open log streams end (setting it wakes their followers)."""
        return self._closing

    @closing.setter
    def closing(self, value: bool) -> None:
        self._closing = value
        if value:
            self._wake_followers()

    def log_change(self, buf: LogBuffer, index: int) -> asyncio.Future[None]:
        """A future done once ``buf`` holds line number ``index``, is closed, or the emulator stops.

        Followers of a log wait on it (shared by all that wait for the same line) instead
        of each polling: a thousand idle log streams cost nothing until something happens.
        """
        key = (id(buf), index)
        entry = self._log_waiters.get(key)
        if entry is None or entry[1].done():
            entry = (buf, asyncio.get_running_loop().create_future())
            self._log_waiters[key] = entry
        if buf.end > index or buf.closed or self._closing:
            self._wake_followers()
        return entry[1]

    def _wake_followers(self) -> None:
        """Resolve the futures of the followed logs that changed (all of them when stopping)."""
        for key, (buf, future) in list(self._log_waiters.items()):
            if buf.end > key[1] or buf.closed or self._closing or future.done():
                del self._log_waiters[key]
                if not future.done():
                    future.set_result(None)

    def request_id(self) -> str:
        """A fresh ``X-Request-Id`` (deterministic: a counter)."""
        return f"Root=1-emulator-{next(self._ids):08d}"

    @property
    def keepalive_real(self) -> float:
        """Real seconds between two keep-alives of an idle log stream."""
        return max(0.02, self.keepalive / self.clock.speed)

    def start_ticker(self) -> None:
        """Start advancing the world in the background (at the app's startup)."""
        self.closing = False
        self._ticker = asyncio.create_task(self._tick())

    async def stop_ticker(self) -> None:
        """Stop the ticker (at the app's shutdown); open log streams end too."""
        self.closing = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None

    async def _tick(self) -> None:
        while not self.closing:
            try:
                self.world.advance()
                self._wake_followers()
            except Exception:  # pragma: no cover - a bug must not stop time
                log.exception("emulator: advancing the world failed")
            await asyncio.sleep(_TICK)


HUB = web.AppKey("hub", HubApp)


@attrs.define
class RequestState:
    """What the middleware learns about a request and hands to its handler and answer."""

    request_id: str = ""
    api: bool = True
    ratelimit: dict[str, str] = attrs.field(factory=dict)
    fault: Fault | None = None
    #: Close the connection after the answer (the request's body could not be read).
    close: bool = False


# aiohttp >= 3.13 wants typed request keys; older versions take a str.
_STATE: Any = (
    web.RequestKey("aiospace_emulator", RequestState)  # type: ignore[attr-defined,unused-ignore]
    if hasattr(web, "RequestKey")
    else "aiospace_emulator"
)


def request_state(request: web.Request) -> RequestState:
    """The request's :class:`RequestState` (made on first use)."""
    state: RequestState | None = request.get(_STATE)
    if state is None:
        state = RequestState()
        request[_STATE] = state
    return state


def header_safe(text: str, limit: int = 500) -> str:
    """``text`` fit for a header value: printable ASCII only (anything else is ``?``), one line.

    A request's path or query may hold control characters or non-ASCII text, and error
    messages quote them: written raw into a header they would make aiohttp refuse the
    answer and drop the connection.
    """
    flat = " ".join(text.split())
    return "".join(c if " " <= c <= "~" else "?" for c in flat)[:limit]


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    """The Hub's error answer: ``{"error": msg}`` plus ``X-Error-*`` headers."""
    out = {"X-Error-Message": header_safe(message)}
    if code:
        out["X-Error-Code"] = code
    out.update(headers or {})
    return web.json_response(error_json(message, extra), status=status, headers=out)


def json_answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer."""
    return web.json_response(data, status=status, headers=headers)


def bad_request(message: str) -> HubError:
    """The 400 of a request the emulator can't read (``X-Error-Code: BadRequest``)."""
    return HubError(400, message, "BadRequest")


def _is_json_type(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type (parameters such as ``charset`` aside)."""
    main = content_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or (main.startswith("application/") and main.endswith("+json"))


async def read_json(request: web.Request, *, required: bool = True, json_type: bool = False) -> Any:
    """The request's JSON body (400 if malformed or missing, 413 if over 1 MiB).

    ``json_type``: a body must also be declared ``Content-Type: application/json`` (else a
    400): the Hub reads no JSON from a body sent as text, form or octet-stream.
    """
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise HubError(413, f"Request body too large (limit {MAX_BODY} bytes)")
    try:
        raw = await asyncio.wait_for(request.read(), request.app[HUB].read_timeout)
    except TimeoutError as err:
        raise body_timeout(request) from err
    except web.HTTPRequestEntityTooLarge as err:
        raise HubError(413, f"Request body too large (limit {MAX_BODY} bytes)") from err
    except web.RequestPayloadError as err:
        # A body aiohttp can't decode (a Content-Encoding it isn't, say). Nothing more is
        # read from it (aiohttp would try again after the answer, and log a traceback), and
        # the connection closes after the 400: where the next request starts is unknown.
        request.content.feed_eof()
        request_state(request).close = True
        reason = str(err).strip().splitlines()[-1].strip() if str(err).strip() else "unreadable"
        raise bad_request(f"Unreadable request body: {reason}") from err
    if not raw.strip():
        if required:
            raise bad_request("A JSON body is required")
        return None
    if json_type and not _is_json_type(request.headers.get("Content-Type", "")):
        sent = header_safe(request.headers.get("Content-Type", ""), 100) or "none"
        raise bad_request(f"Content-Type must be application/json for a JSON body (got {sent})")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise bad_request(f"Malformed JSON body: {err}") from err
    except RecursionError as err:  # e.g. 500 KiB of "[": nested too deep to decode
        raise bad_request("Malformed JSON body: nested too deeply") from err


def body_timeout(request: web.Request) -> HubError:
    """The 408 of a body that stopped coming; the connection closes after it."""
    request.content.feed_eof()
    request_state(request).close = True
    seconds = request.app[HUB].read_timeout
    return HubError(408, f"Request timeout: the body sent nothing for {seconds:g} s", "RequestTimeout")


def json_object(
    data: Any, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()
) -> dict[str, Any]:
    """``data`` if it is an object with only ``allowed`` keys and every ``required`` one (else 400)."""
    if not isinstance(data, dict):
        raise bad_request("The JSON body must be an object")
    unknown = set(data) - allowed
    if unknown:
        raise bad_request(f"Unknown key(s) in body: {', '.join(sorted(unknown))[:200]}")
    missing = required - set(data)
    if missing:
        raise bad_request(f"Missing key(s) in body: {', '.join(sorted(missing))}")
    return data


def checked(check: Callable[..., Any], value: Any, argument: str) -> Any:
    """``check(value, argument)`` (an :mod:`aiospace._hub.validate` check), its refusal a 400."""
    try:
        return check(value, argument)
    except InvalidArgumentError as err:
        raise bad_request(str(err)) from err


def repo_id_of(request: web.Request) -> str:
    """The ``{namespace}/{name}`` of the request's path, checked (a 400 if it isn't one)."""
    repo_id = f"{request.match_info['namespace']}/{request.match_info['name']}"
    checked(v.check_repo_id, repo_id, "repo_id")
    return repo_id


def user_of(request: web.Request) -> str | None:
    """The user the request's token names (None: anonymous)."""
    return request.app[HUB].world.authenticate(request.headers.get("Authorization"))


def close_connection(request: web.Request) -> None:
    """Drop the connection under a request (an emulated network failure)."""
    transport = request.transport
    if transport is not None:
        transport.close()

"""The emulator's HTTP side: an ``aiohttp.web`` application speaking the Hub's wire.

This module is the application itself: the middleware every request goes through
and :func:`make_app`, which mounts the API routes (:mod:`~aiospace.emulator.api_routes`:
every call of :data:`aiospace._hub.routes.ROUTES` on its path), the routes of the
official client's pushes and file reads (:mod:`~aiospace.emulator.push_routes`) and
the admin routes (:mod:`~aiospace.emulator.admin_routes`, under ``/_emulator/``). Answers have
the Hub's shapes, statuses and headers: ``X-Request-Id`` always, ``X-Error-Code`` /
``X-Error-Message`` and ``{"error": msg}`` on errors, ``RateLimit`` /
``RateLimit-Policy`` on every API answer, ``Date`` in simulated time, and a
``Link: <url>; rel="next"`` header on paginated lists.

Bad input never hurts the server: malformed JSON, wrong types, unknown keys,
bodies over 1 MiB (413), unknown routes (404) and wrong methods (405) all get a
JSON 4xx answer; so do requests aiohttp can't even parse (raw non-ASCII in the
path, a line too long: :class:`HubRunner`), and header values quoting the request
are made printable ASCII first (a control character would drop the connection).
The rate limit counts per user token however ``Authorization`` is spelled, and a
token naming nobody per address.

The middleware gives every request an ``X-Request-Id`` and turns every failure into
a JSON error answer. On API routes it also applies what the world's request-side
machinery decides: injected faults (:mod:`~aiospace.emulator.faults`: delay, error,
or a broken answer), the rate limit (:mod:`~aiospace.emulator.ratelimit`: the
``RateLimit`` headers, or a 429) and the request counters; admin routes need the
admin token and are neither limited nor counted.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from email.utils import format_datetime as http_date
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from .._hub.routes import ROUTES
from .admin_routes import ADMIN_PREFIX, add_admin_routes
from .api_routes import add_api_routes
from .apps import app_middleware
from .context import (
    HUB,
    MAX_BODY,
    Handler,
    HubApp,
    close_connection,
    error_response,
    header_safe,
    log,
    request_state,
)
from .push_routes import add_push_routes
from .state import HubError

__all__ = ["ADMIN_PREFIX", "GIT_MISSING", "MAX_BODY", "HubApp", "HubRunner", "git_available", "make_app"]

#: Why git over HTTP is off: dulwich, an optional dependency, isn't installed.
GIT_MISSING = "git over HTTP needs dulwich, which is not installed: pip install 'aiospace[emulator]'"
_GIT_PATH = "/spaces/{namespace}/{name}/{service:info/refs|git-upload-pack|git-receive-pack}"


def git_available() -> bool:
    """dulwich (the ``emulator`` extra) is installed: the emulator serves git over HTTP."""
    try:
        from .git_routes import add_git_routes  # noqa: F401
    except ImportError:
        return False
    return True


async def _no_git(request: web.Request) -> web.StreamResponse:
    """What git hears where dulwich is missing (git prints a text answer as ``remote: ...``)."""
    return web.Response(status=501, text=GIT_MISSING + "\n")


def _add_git_routes(app: web.Application) -> None:
    """git over smart HTTP (:mod:`~aiospace.emulator.git_routes`), or a 501 saying what is missing."""
    try:
        from .git_routes import add_git_routes
    except ImportError:
        app.router.add_route("*", _GIT_PATH, _no_git, name="git_missing")
        return
    add_git_routes(app)


# What aiohttp writes in a header value: printable ASCII and tabs.
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


def _space_of(request: web.Request) -> str | None:
    info = request.match_info
    if "namespace" in info and "name" in info:
        return f"{info['namespace']}/{info['name']}"
    return None


def _route_name(request: web.Request) -> str:
    name = request.match_info.route.name
    return name or "unknown"


@web.middleware
async def hub_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request ids, JSON errors, and (for the API) faults, rate limits and stats."""
    hub = request.app[HUB]
    state = request_state(request)
    state.request_id = hub.request_id()
    admin = request.path == ADMIN_PREFIX or request.path.startswith(ADMIN_PREFIX + "/")
    state.api = not admin
    try:
        if admin:
            return await _admin(request, handler)
        return await _api(request, handler)
    except HubError as err:
        base = f"{request.scheme}://{request.host}"
        extra = {k: str(val).replace("{base}", base) for k, val in err.extra.items()}
        response = error_response(err.status, err.message, err.code, extra=extra)
        if state.close:
            response.force_close()
        return response
    except web.HTTPException as err:
        if err.status == 413:
            return error_response(413, f"Request body too large (limit {MAX_BODY} bytes)")
        if err.status == 405:
            return error_response(405, f"Method {request.method} not allowed on {request.path}")
        if err.status == 404:
            return error_response(404, f"Not found: {request.path[:200]}")
        if err.status < 400:
            raise
        return error_response(err.status, err.reason or "Error")
    except asyncio.CancelledError:
        raise
    except ConnectionError:
        # The client went away (it timed out during an emulated latency, say): nobody is
        # left to answer, and it is not an error of the emulator (aiohttp would log one
        # and count a 500). 499 is nginx's "client closed request".
        log.debug("emulator: %s %s: the client went away", request.method, request.path)
        return web.Response(status=499, text="client closed request")
    except Exception:
        log.exception("emulator: unexpected error on %s %s", request.method, request.path)
        return error_response(500, "Internal error of the emulator")


async def _admin(request: web.Request, handler: Handler) -> web.StreamResponse:
    hub = request.app[HUB]
    given = request.headers.get("Authorization", "")
    if not secrets.compare_digest(given.encode(), f"Bearer {hub.admin_token}".encode()):
        raise HubError(401, "Admin routes need the emulator's admin token")
    return await handler(request)


async def _api(request: web.Request, handler: Handler) -> web.StreamResponse:
    hub = request.app[HUB]
    world = hub.world
    route = _route_name(request)
    space = _space_of(request)
    plan = world.faults.plan(route, space) if route in ROUTES else None
    if plan is not None and plan.delay:
        await hub.clock.sleep(plan.delay)
    now = world.advance()
    # Counted per token however the header is written (``bearer``, extra spaces...); a
    # token naming nobody is an anonymous caller, counted per address.
    token = world.known_token(request.headers.get("Authorization"))
    key = f"token:{token}" if token is not None else f"ip:{request.remote}"
    decision = world.limiter.hit(key, now)
    request_state(request).ratelimit = decision.headers
    # By Space only for the world's Spaces: made-up ids in paths must not grow the stats.
    world.stats.count(route, space if space in world.spaces else None)
    if not decision.allowed:
        world.stats.rate_limited[route] += 1
        return error_response(429, "You have exceeded our rate limit. Please retry later.")
    outcome = plan.outcome if plan is not None else None
    for kind in plan.kinds if plan is not None else ():
        world.stats.faults[kind] += 1
    if outcome is not None and outcome.kind == "error":
        headers = {}
        if outcome.retry_after is not None:
            headers["Retry-After"] = str(int(-(-outcome.retry_after // 1)))
        return error_response(outcome.status, f"Emulated server error ({outcome.status})", None, headers)
    request_state(request).fault = outcome
    response = await handler(request)
    if outcome is None or outcome.kind not in ("truncate", "malformed", "reset"):
        return response
    if not isinstance(response, web.Response) or response.body is None:
        return response
    body = bytes(response.body)  # type: ignore[arg-type]
    if outcome.kind == "truncate":
        return web.Response(body=body[: len(body) // 2], content_type="application/json")
    if outcome.kind == "malformed":
        return web.Response(
            body=b"<html><body>502 Bad Gateway</body></html>{", content_type="application/json"
        )
    broken = web.StreamResponse(status=response.status)
    broken.content_type = "application/json"
    broken.content_length = len(body)
    await broken.prepare(request)
    await broken.write(body[: len(body) // 2])
    close_connection(request)
    return broken


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    hub = request.app[HUB]
    state = request_state(request)
    response.headers.setdefault("X-Request-Id", state.request_id or hub.request_id())
    if state.api:
        response.headers["Date"] = http_date(hub.world.wall(hub.clock.now()), usegmt=True)
        for key, value in state.ratelimit.items():
            response.headers.setdefault(key, value)
        status = response.status
        hub.world.stats.by_status[status] += 1
    # A header value quoting the request (a path with a control character, say) would
    # make aiohttp refuse to write the answer and drop the connection.
    for key, value in list(response.headers.items()):
        if not _HEADER_VALUE.fullmatch(value):
            response.headers[key] = header_safe(value, limit=8000)


async def _on_startup(app: web.Application) -> None:
    app[HUB].start_ticker()


async def _on_shutdown(app: web.Application) -> None:
    await app[HUB].stop_ticker()


class _HubProtocol(RequestHandler):
    """aiohttp's connection handler, answering what it can't even parse the emulator's way.

    A request line or headers aiohttp refuses (raw non-ASCII or a space in the path,
    a line too long...) never reaches the application: aiohttp answers it itself, in
    text/plain, logging a traceback. Here it gets the Hub's JSON error, like any other.
    """

    hub: HubApp | None = None

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """Log as aiohttp does, but a body that fails to decode (after the answer) is no error of ours.

        aiohttp reads what a handler left of a request's body after answering; a body
        that isn't its ``Content-Encoding`` then raises there, and aiohttp would log a
        traceback (and close the connection, which is right).
        """
        if isinstance(kw.get("exc_info"), web.RequestPayloadError):
            self.logger.debug("emulator: an unreadable request body: %s", kw["exc_info"])
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The JSON error answer of a request aiohttp could not parse (or that broke it)."""
        if status >= 500:
            log.error("emulator: error handling a request from %s", request.remote, exc_info=exc)
            text = "Internal error of the emulator"
        else:
            log.debug("emulator: unreadable request from %s: %s", request.remote, exc)
            first = (message or HTTPStatus(status).phrase).strip().splitlines()[0].rstrip(":")
            text = f"Bad request: {first}"
        if request.writer.output_size > 0:  # an answer was under way: the connection is lost
            raise ConnectionError("an answer was already sent, no room for an error")
        headers = {} if self.hub is None else {"X-Request-Id": self.hub.request_id()}
        response = error_response(status, text, None, headers)
        response.force_close()
        return response


class _HubServer(web.Server):
    """aiohttp's protocol factory, making :class:`_HubProtocol` connection handlers."""

    hub: HubApp | None = None

    def __call__(self) -> RequestHandler:
        protocol = _HubProtocol(self, loop=self._loop, **self._kwargs)
        protocol.hub = self.hub
        return protocol


class HubRunner(web.AppRunner):
    """The runner of an emulator's app: the app's own error answers even for unparsable requests."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _HubServer  # the same server, making _HubProtocol handlers
        assert isinstance(server, _HubServer)
        server.hub = self.app[HUB]
        return server


def make_app(hub: HubApp) -> web.Application:
    """The aiohttp application for ``hub`` (routes, middleware, ticker)."""
    app = web.Application(middlewares=[app_middleware, hub_middleware], client_max_size=MAX_BODY)
    app[HUB] = hub
    add_api_routes(app)
    add_push_routes(app)
    _add_git_routes(app)
    add_admin_routes(app)
    app.on_response_prepare.append(_on_prepare)
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    return app

"""The emulator's HTTP side: an ``aiohttp.web`` application speaking the Hub's wire.

This module is the application itself: the middleware every request goes through
and :func:`make_app`, which mounts the API routes (:mod:`~aiospace.emulator.api_routes`:
every call of :data:`aiospace._routes.ROUTES` on its path) and the admin routes
(:mod:`~aiospace.emulator.admin_routes`, under ``/_emulator/``). Answers have
the Hub's shapes, statuses and headers: ``X-Request-Id`` always, ``X-Error-Code`` /
``X-Error-Message`` and ``{"error": msg}`` on errors, ``RateLimit`` /
``RateLimit-Policy`` on every API answer, ``Date`` in simulated time, and a
``Link: <url>; rel="next"`` header on paginated lists.

Bad input never hurts the server: malformed JSON, wrong types, unknown keys,
bodies over 1 MiB (413), unknown routes (404) and wrong methods (405) all get a
JSON 4xx answer.

The middleware gives every request an ``X-Request-Id`` and turns every failure into
a JSON error answer. On API routes it also applies what the world's request-side
machinery decides: injected faults (:mod:`~aiospace.emulator.faults`: delay, error,
or a broken answer), the rate limit (:mod:`~aiospace.emulator.ratelimit`: the
``RateLimit`` headers, or a 429) and the request counters; admin routes need the
admin token and are neither limited nor counted.
"""

from __future__ import annotations

import asyncio
import secrets
from email.utils import format_datetime as http_date

from aiohttp import web

from .._routes import ROUTES
from .admin_routes import ADMIN_PREFIX, add_admin_routes
from .api_routes import add_api_routes
from .context import (
    HUB,
    MAX_BODY,
    Handler,
    HubApp,
    close_connection,
    error_response,
    log,
    request_state,
)
from .push_routes import add_push_routes
from .state import HubError

__all__ = ["ADMIN_PREFIX", "MAX_BODY", "HubApp", "make_app"]


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
        return error_response(err.status, err.message, err.code, extra=extra)
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
    auth = request.headers.get("Authorization")
    key = f"token:{auth}" if auth else f"ip:{request.remote}"
    decision = world.limiter.hit(key, now)
    request_state(request).ratelimit = decision.headers
    world.stats.count(route, space)
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


async def _on_startup(app: web.Application) -> None:
    app[HUB].start_ticker()


async def _on_shutdown(app: web.Application) -> None:
    await app[HUB].stop_ticker()


def make_app(hub: HubApp) -> web.Application:
    """The aiohttp application for ``hub`` (routes, middleware, ticker)."""
    app = web.Application(middlewares=[hub_middleware], client_max_size=MAX_BODY)
    app[HUB] = hub
    add_api_routes(app)
    add_push_routes(app)
    add_admin_routes(app)
    app.on_response_prepare.append(_on_prepare)
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    return app

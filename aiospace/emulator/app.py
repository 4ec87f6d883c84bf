"""The emulator's HTTP side: an ``aiohttp.web`` application speaking the Hub's wire.

Every call of :data:`aiospace._routes.ROUTES` is mounted on its path. Answers have
the Hub's shapes, statuses and headers: ``X-Request-Id`` always, ``X-Error-Code`` /
``X-Error-Message`` and ``{"error": msg}`` on errors, ``RateLimit`` /
``RateLimit-Policy`` on every API answer, ``Date`` in simulated time, and a
``Link: <url>; rel="next"`` header on paginated lists.

Bad input never hurts the server: malformed JSON, wrong types, unknown keys,
bodies over 1 MiB (413), unknown routes (404) and wrong methods (405) all get a
JSON 4xx answer.

Admin routes
------------
Under ``/_emulator/``, guarded by ``Authorization: Bearer <admin token>``, never
rate limited nor counted in the stats (see also ``docs/emulator.md``):

``GET /_emulator/``
    Speed, simulated now, quota and window, user names, Space ids.
``GET /_emulator/events?space=ns/name&after=N``
    The ground-truth event log: every stage or hardware change with its simulated
    time (``time``, ``at``), ``stage``, ``hardware``, ``requested``, ``reason`` and
    the full ``runtime`` snapshot.
``GET /_emulator/stats`` / ``DELETE /_emulator/stats``
    Request counters (by route name, by Space, by status; 429s; faults fired) / reset.
``GET /_emulator/users`` / ``POST /_emulator/users`` ``{"name", "token"?}``
    List users (with their tokens) / add one (answers ``{"name", "token"}``).
``POST /_emulator/orgs`` ``{"name", "members": [...]}``
    Add an organization; members may write to its Spaces.
``GET /_emulator/spaces`` / ``POST /_emulator/spaces`` ``{seed Space entry}``
    List Spaces (admin view) / create one (see :mod:`aiospace.emulator.seed`).
``GET|DELETE /_emulator/spaces/{ns}/{name}``
    One Space's admin view (runtime, behaviour, secret keys, log sizes) / delete it.
``POST /_emulator/spaces/{ns}/{name}/behaviour`` ``{"build_seconds": 60, ...}``
    Change durations and failures (``build_seconds``, ``start_seconds``,
    ``hardware_seconds``, ``factory_seconds``, ``fail_build``, ``crash_after``,
    ``stuck``, ``log_interval``).
``POST /_emulator/spaces/{ns}/{name}/commit`` | ``/crash`` | ``/visit``
    A new commit (rebuild), a crash now (``RUNTIME_ERROR``), a visit (resets the
    sleep timer, wakes a sleeping Space).
``POST /_emulator/spaces/{ns}/{name}/log`` ``{"line": "...", "build": false}``
    Write a line to the run (or build) log.
``GET /_emulator/faults`` / ``POST /_emulator/faults`` ``{fault spec}``
    List / add a fault (see :mod:`aiospace.emulator.faults`); answers the fault with its ``id``.
``DELETE /_emulator/faults`` / ``DELETE /_emulator/faults/{id}``
    Remove every fault / one.
``POST /_emulator/ratelimit`` ``{"quota": N, "window": S}``
    Change the rate limit (counters restart).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from email.utils import format_datetime as http_date
from typing import Any

import attrs
from aiohttp import web

from .. import _validate as v
from .._clock import ScaledClock
from .._routes import ROUTES
from ..errors import InvalidArgumentError
from .encode import KEEP_ALIVE, error_json, hardware_json, link_next, log_event, runtime_json
from .faults import Fault
from .seed import add_space_from_spec
from .world import HARDWARE, HubError, LogBuffer, Space, World

__all__ = ["ADMIN_PREFIX", "MAX_BODY", "HubApp", "make_app"]

log = logging.getLogger("aiospace.emulator")

ADMIN_PREFIX = "/_emulator"
#: The largest request body accepted (a bigger one is a 413).
MAX_BODY = 1024 * 1024
#: Page size of ``GET /api/spaces`` without ``limit`` (and the largest page).
DEFAULT_PAGE = 20
MAX_PAGE = 1000
_POLL = 0.01  # real seconds between two looks at a followed log
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
    ) -> None:
        self.world = world
        self.clock: ScaledClock = world.clock
        self.admin_token = admin_token or f"emu_admin_{secrets.token_hex(16)}"
        self.keepalive = keepalive
        self.closing = False
        self._ids = itertools.count(1)
        self._ticker: asyncio.Task[None] | None = None

    def request_id(self) -> str:
        """A fresh ``X-Request-Id`` (deterministic: a counter)."""
        return f"Root=1-emulator-{next(self._ids):08d}"

    @property
    def keepalive_real(self) -> float:
        """Real seconds between two keep-alives of an idle log stream."""
        return max(0.02, self.keepalive / self.clock.speed)

    async def _tick(self) -> None:
        while not self.closing:
            try:
                self.world.advance()
            except Exception:  # pragma: no cover - a bug must not stop time
                log.exception("emulator: advancing the world failed")
            await asyncio.sleep(_TICK)


HUB = web.AppKey("hub", HubApp)


@attrs.define
class _RequestState:
    request_id: str = ""
    api: bool = True
    ratelimit: dict[str, str] = attrs.field(factory=dict)
    fault: Fault | None = None


# aiohttp >= 3.13 wants typed request keys; older versions take a str.
_STATE: Any = (
    web.RequestKey("aiospace_emulator", _RequestState)  # type: ignore[attr-defined,unused-ignore]
    if hasattr(web, "RequestKey")
    else "aiospace_emulator"
)


def _state(request: web.Request) -> _RequestState:
    state: _RequestState | None = request.get(_STATE)
    if state is None:
        state = _RequestState()
        request[_STATE] = state
    return state


# ---------------------------------------------------------------------- helpers


def _header_safe(text: str) -> str:
    return " ".join(text.split()).encode("ascii", "replace").decode("ascii")[:500]


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    """The Hub's error answer: ``{"error": msg}`` plus ``X-Error-*`` headers."""
    out = {"X-Error-Message": _header_safe(message)}
    if code:
        out["X-Error-Code"] = code
    out.update(headers or {})
    return web.json_response(error_json(message, extra), status=status, headers=out)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def _bad(message: str) -> HubError:
    return HubError(400, message, "BadRequest")


async def read_json(request: web.Request, *, required: bool = True) -> Any:
    """The request's JSON body (400 if malformed or missing, 413 if over 1 MiB)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise HubError(413, f"Request body too large (limit {MAX_BODY} bytes)")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as err:
        raise HubError(413, f"Request body too large (limit {MAX_BODY} bytes)") from err
    if not raw.strip():
        if required:
            raise _bad("A JSON body is required")
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise _bad(f"Malformed JSON body: {err}") from err
    except RecursionError as err:  # e.g. 500 KiB of "[": nested too deep to decode
        raise _bad("Malformed JSON body: nested too deeply") from err


def _object(data: Any, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    if not isinstance(data, dict):
        raise _bad("The JSON body must be an object")
    unknown = set(data) - allowed
    if unknown:
        raise _bad(f"Unknown key(s) in body: {', '.join(sorted(unknown))[:200]}")
    missing = required - set(data)
    if missing:
        raise _bad(f"Missing key(s) in body: {', '.join(sorted(missing))}")
    return data


def _check(check: Callable[..., Any], value: Any, argument: str) -> Any:
    try:
        return check(value, argument)
    except InvalidArgumentError as err:
        raise _bad(str(err)) from err


def _repo_id(request: web.Request) -> str:
    repo_id = f"{request.match_info['namespace']}/{request.match_info['name']}"
    _check(v.check_repo_id, repo_id, "repo_id")
    return repo_id


def _user(request: web.Request) -> str | None:
    return request.app[HUB].world.authenticate(request.headers.get("Authorization"))


def _key_value_items(items: Any, argument: str) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise _bad(f"{argument} must be a list")
    out = []
    for item in items:
        data = _object(item, {"key", "value", "description"}, {"key", "value"})
        out.append(
            {
                "key": _check(v.check_key, data["key"], f"{argument}.key"),
                "value": _check(v.check_value, data["value"], f"{argument}.value"),
                "description": _check(
                    v.check_description, data.get("description"), f"{argument}.description"
                ),
            }
        )
    return out


# ---------------------------------------------------------------------- API handlers


async def get_space_runtime(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    return _json(world.runtime(_user(request), _repo_id(request)))


async def request_space_hardware(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    body = _object(await read_json(request), {"flavor", "sleepTimeSeconds"}, {"flavor"})
    flavor = _check(v.check_flavor, body["flavor"], "flavor")
    sleep = body.get("sleepTimeSeconds")
    if sleep is not None:
        sleep = _check(v.check_sleep_time, sleep, "sleepTimeSeconds")
    return _json(world.request_hardware(user, repo_id, str(flavor), sleep))


async def set_space_sleep_time(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    body = _object(await read_json(request), {"seconds"}, {"seconds"})
    seconds = _check(v.check_sleep_time, body["seconds"], "seconds")
    return _json(world.set_sleep_time(user, repo_id, seconds))


async def pause_space(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    await read_json(request, required=False)
    return _json(world.pause(user, repo_id))


async def restart_space(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    await read_json(request, required=False)
    factory = request.query.get("factory", "false").lower()
    if factory not in ("true", "false", "1", "0"):
        raise _bad("factory must be 'true' or 'false'")
    return _json(world.restart(user, repo_id, factory in ("true", "1")))


async def set_space_dev_mode(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    body = _object(await read_json(request), {"enabled"}, {"enabled"})
    if not isinstance(body["enabled"], bool):
        raise _bad("enabled must be a boolean")
    return _json(world.set_dev_mode(user, repo_id, body["enabled"]))


async def get_space_secrets(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    return _json(world.get_secrets(_user(request), _repo_id(request)))


async def _key_value_body(request: web.Request) -> tuple[str, str, str | None]:
    body = _object(await read_json(request), {"key", "value", "description"}, {"key", "value"})
    return (
        _check(v.check_key, body["key"], "key"),
        _check(v.check_value, body["value"], "value"),
        _check(v.check_description, body.get("description"), "description"),
    )


async def _key_body(request: web.Request) -> str:
    body = _object(await read_json(request), {"key"}, {"key"})
    return str(_check(v.check_key, body["key"], "key"))


async def add_space_secret(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    key, value, description = await _key_value_body(request)
    return _json(world.add_secret(user, repo_id, key, value, description))


async def delete_space_secret(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    return _json(world.delete_secret(user, repo_id, await _key_body(request)))


async def get_space_variables(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    return _json(world.get_variables(_user(request), _repo_id(request)))


async def add_space_variable(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    key, value, description = await _key_value_body(request)
    return _json(world.add_variable(user, repo_id, key, value, description))


async def delete_space_variable(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    return _json(world.delete_variable(user, repo_id, await _key_body(request)))


async def request_space_storage(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    body = _object(await read_json(request), {"tier"}, {"tier"})
    tier = _check(v.check_tier, body["tier"], "tier")
    return _json(world.request_storage(user, repo_id, str(tier)))


async def delete_space_storage(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, repo_id = _user(request), _repo_id(request)
    await read_json(request, required=False)
    return _json(world.delete_storage(user, repo_id))


_DUPLICATE_KEYS = {
    "repository",
    "visibility",
    "private",
    "hardware",
    "storageTier",
    "sleepTimeSeconds",
    "secrets",
    "variables",
    "volumes",
    "resourceGroupId",
}


async def duplicate_space(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user, from_id = _user(request), _repo_id(request)
    body = _object(await read_json(request), _DUPLICATE_KEYS, {"repository"})
    to_id = _check(v.check_repo_id, body["repository"], "repository")
    private: bool | None = None
    if body.get("visibility") is not None:
        if body["visibility"] not in ("public", "private", "protected"):
            raise _bad("visibility must be 'public', 'private' or 'protected'")
        private = body["visibility"] == "private"
    elif body.get("private") is not None:
        if not isinstance(body["private"], bool):
            raise _bad("private must be a boolean")
        private = body["private"]
    hardware = body.get("hardware")
    if hardware is not None:
        hardware = str(_check(v.check_flavor, hardware, "hardware"))
    storage = body.get("storageTier")
    if storage is not None:
        storage = str(_check(v.check_tier, storage, "storageTier"))
    sleep = body.get("sleepTimeSeconds")
    if sleep is not None:
        sleep = _check(v.check_sleep_time, sleep, "sleepTimeSeconds")
    space = world.duplicate(
        user,
        from_id,
        to_id,
        private=private,
        hardware=hardware,
        storage=storage,
        sleep_time=sleep,
        secrets=_key_value_items(body.get("secrets", []), "secrets"),
        variables=_key_value_items(body.get("variables", []), "variables"),
    )
    base = f"{request.scheme}://{request.host}"
    return _json({"url": f"{base}/spaces/{space.id}"})


async def list_spaces_hardware(request: web.Request) -> web.StreamResponse:
    _user(request)
    return _json(hardware_json(HARDWARE.values()))


def _expand(request: web.Request) -> list[str]:
    values = request.query.getall("expand", []) + request.query.getall("expand[]", [])
    return [item for value in values for item in value.split(",") if item]


async def space_info(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    return _json(world.space_info(_user(request), _repo_id(request), _expand(request)))


async def list_spaces(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    user = _user(request)
    query = request.query
    author = query.get("author")
    if author is not None and not v._PART.fullmatch(author):
        raise _bad(f"Invalid author: {author[:100]!r}")
    limit = query.get("limit")
    size = DEFAULT_PAGE
    if limit is not None:
        if not limit.isdigit() or int(limit) < 1:
            raise _bad("limit must be a positive integer")
        size = min(int(limit), MAX_PAGE)
    offset = 0
    cursor = query.get("cursor")
    if cursor is not None:
        try:
            offset = int(base64.urlsafe_b64decode(cursor.encode()).decode())
        except (ValueError, UnicodeDecodeError) as err:
            raise _bad("Invalid cursor") from err
        if offset < 0:
            raise _bad("Invalid cursor")
    items = world.list_spaces(user, author=author, search=query.get("search"), expand=_expand(request))
    page = items[offset : offset + size]
    headers = {}
    if offset + size < len(items):
        nxt = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        url = request.url.with_query([(k, val) for k, val in query.items() if k != "cursor"])
        url = url.update_query({"cursor": nxt})
        base = f"{request.scheme}://{request.host}"
        headers["Link"] = link_next(f"{base}{url.path_qs}")
    return _json(page, headers=headers)


async def whoami(request: web.Request) -> web.StreamResponse:
    return _json(request.app[HUB].world.whoami(_user(request)))


async def fetch_build_logs(request: web.Request) -> web.StreamResponse:
    return await _stream_logs(request, build=True)


async def fetch_run_logs(request: web.Request) -> web.StreamResponse:
    return await _stream_logs(request, build=False)


def _event(world: World, text: str, t: float) -> bytes:
    return log_event(text, world.wall(t))


async def _stream_logs(request: web.Request, *, build: bool) -> web.StreamResponse:
    """SSE: replay the log, one keep-alive, then follow it while it is open."""
    hub = request.app[HUB]
    world = hub.world
    _space, buf = world.logs(_user(request), _repo_id(request), build)
    fault = _state(request).fault
    cut_after = fault.after_events if fault is not None and fault.kind == "sse_cut" else None
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):  # the client went away
        await _follow(request, response, buf, cut_after)
    return response


async def _follow(
    request: web.Request, response: web.StreamResponse, buf: LogBuffer, cut_after: int | None
) -> None:
    hub = request.app[HUB]
    world = hub.world

    async def cut() -> None:
        await response.write(b'data: {"data": "cut in the mid')
        _close(request)

    lines, index = buf.since(0)
    for sent, entry in enumerate(lines):
        if cut_after is not None and sent >= cut_after:
            return await cut()
        await response.write(_event(world, entry.text, entry.time))
    if cut_after is not None:
        return await cut()
    await response.write(KEEP_ALIVE)
    loop = asyncio.get_running_loop()
    last_write = loop.time()
    while not buf.closed and not hub.closing:
        await asyncio.sleep(_POLL)
        world.advance()
        lines, index = buf.since(index)
        for entry in lines:
            await response.write(_event(world, entry.text, entry.time))
            last_write = loop.time()
        if loop.time() - last_write >= hub.keepalive_real:
            await response.write(KEEP_ALIVE)
            last_write = loop.time()
    lines, index = buf.since(index)
    for entry in lines:
        await response.write(_event(world, entry.text, entry.time))
    await response.write_eof()


def _close(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


_API_HANDLERS: dict[str, Handler] = {
    "get_space_runtime": get_space_runtime,
    "request_space_hardware": request_space_hardware,
    "set_space_sleep_time": set_space_sleep_time,
    "pause_space": pause_space,
    "restart_space": restart_space,
    "set_space_dev_mode": set_space_dev_mode,
    "get_space_secrets": get_space_secrets,
    "add_space_secret": add_space_secret,
    "delete_space_secret": delete_space_secret,
    "get_space_variables": get_space_variables,
    "add_space_variable": add_space_variable,
    "delete_space_variable": delete_space_variable,
    "request_space_storage": request_space_storage,
    "delete_space_storage": delete_space_storage,
    "duplicate_space": duplicate_space,
    "list_spaces_hardware": list_spaces_hardware,
    "space_info": space_info,
    "list_spaces": list_spaces,
    "fetch_build_logs": fetch_build_logs,
    "fetch_run_logs": fetch_run_logs,
    "whoami": whoami,
}
assert set(_API_HANDLERS) == set(ROUTES), "every route of ROUTES needs a handler"


# ---------------------------------------------------------------------- admin handlers


def _admin_space(world: World, space: Space) -> dict[str, Any]:
    return {
        "id": space.id,
        "sdk": space.sdk,
        "private": space.private,
        "runtime": runtime_json(space),
        "behaviour": {
            "build_seconds": space.behaviour.build_seconds,
            "start_seconds": space.behaviour.start_seconds,
            "hardware_seconds": space.behaviour.hardware_seconds,
            "factory_seconds": space.behaviour.factory_seconds,
            "fail_build": space.behaviour.fail_build,
            "crash_after": space.behaviour.crash_after,
            "stuck": space.behaviour.stuck,
            "log_interval": space.behaviour.log_interval,
        },
        "secrets": sorted(space.secrets),
        "variables": sorted(space.variables),
        "last_visit": space.last_visit,
        "build_log_lines": len(space.build_log),
        "run_log_lines": len(space.run_log),
    }


def _admin_repo(request: web.Request) -> str:
    return f"{request.match_info['namespace']}/{request.match_info['name']}"


def _value_error(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (ValueError, TypeError) as err:
        raise _bad(str(err)) from err


async def admin_info(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    world = hub.world
    world.advance()
    return _json(
        {
            "speed": hub.clock.speed,
            "now": world.now(),
            "wall": world.wall().isoformat(),
            "quota": world.limiter.quota,
            "window": world.limiter.window,
            "users": sorted(set(world.users.values())),
            "spaces": list(world.spaces),
        }
    )


async def admin_events(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    world.advance()
    after = request.query.get("after", "-1")
    try:
        after_n = int(after)
    except ValueError as err:
        raise _bad("after must be an integer") from err
    events = world.events_for(request.query.get("space"), after_n)
    return _json([e.to_json() for e in events])


async def admin_stats(request: web.Request) -> web.StreamResponse:
    return _json(request.app[HUB].world.stats_json())


async def admin_reset_stats(request: web.Request) -> web.StreamResponse:
    request.app[HUB].world.reset_stats()
    return _json({})


async def admin_users(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    return _json([{"name": name, "token": token} for token, name in world.users.items()])


async def admin_add_user(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    body = _object(await read_json(request), {"name", "token"}, {"name"})
    name, token = body["name"], body.get("token")
    if not isinstance(name, str) or not v._PART.fullmatch(name):
        raise _bad("name must be a valid user name")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise _bad("token must be a non-empty string")
    token = _value_error(lambda: world.add_user(name, token))
    return _json({"name": name, "token": token}, status=201)


async def admin_add_org(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    body = _object(await read_json(request), {"name", "members"}, {"name"})
    members = body.get("members", [])
    if not isinstance(body["name"], str) or not isinstance(members, list):
        raise _bad("name must be a string and members a list of user names")
    world.add_org(body["name"], (str(m) for m in members))
    return _json({"name": body["name"], "members": sorted(world.orgs[body["name"]])}, status=201)


async def admin_spaces(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    world.advance()
    return _json([_admin_space(world, s) for s in world.spaces.values()])


async def admin_add_space(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    body = await read_json(request)
    space = _value_error(lambda: add_space_from_spec(world, body))
    return _json(_admin_space(world, space), status=201)


async def admin_space(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    return _json(_admin_space(world, world.space(_admin_repo(request))))


async def admin_delete_space(request: web.Request) -> web.StreamResponse:
    request.app[HUB].world.remove_space(_admin_repo(request))
    return _json({})


async def admin_action(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    repo_id = _admin_repo(request)
    action = request.match_info["action"]
    if action == "behaviour":
        body = await read_json(request)
        if not isinstance(body, dict):
            raise _bad("The JSON body must be an object")
        space = _value_error(lambda: world.configure(repo_id, **body))
    elif action == "commit":
        space = world.commit(repo_id)
    elif action == "crash":
        space = world.crash(repo_id)
    elif action == "visit":
        space = world.visit(repo_id)
    elif action == "log":
        body = _object(await read_json(request), {"line", "build"}, {"line"})
        if not isinstance(body["line"], str) or not isinstance(body.get("build", False), bool):
            raise _bad("line must be a string and build a boolean")
        world.append_log(repo_id, body["line"], build=body.get("build", False))
        space = world.space(repo_id)
    else:
        raise HubError(404, f"Unknown admin action: {action[:50]}")
    return _json(_admin_space(world, space))


async def admin_faults(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    return _json([f.to_json() for f in world.faults.faults])


async def admin_add_fault(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    body = await read_json(request)
    fault = _value_error(lambda: world.faults.add_spec(body))
    return _json(fault.to_json(), status=201)


async def admin_clear_faults(request: web.Request) -> web.StreamResponse:
    request.app[HUB].world.clear_faults()
    return _json({})


async def admin_delete_fault(request: web.Request) -> web.StreamResponse:
    raw = request.match_info["id"]
    if not raw.isdigit() or not request.app[HUB].world.faults.remove(int(raw)):
        raise HubError(404, f"No fault with id {raw[:20]}")
    return _json({})


async def admin_ratelimit(request: web.Request) -> web.StreamResponse:
    world = request.app[HUB].world
    body = _object(await read_json(request), {"quota", "window"})
    _value_error(lambda: world.limiter.configure(body.get("quota"), body.get("window")))
    return _json({"quota": world.limiter.quota, "window": world.limiter.window})


# ---------------------------------------------------------------------- middleware


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
    state = _state(request)
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
    _state(request).ratelimit = decision.headers
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
    _state(request).fault = outcome
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
    _close(request)
    return broken


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    hub = request.app[HUB]
    state = _state(request)
    response.headers.setdefault("X-Request-Id", state.request_id or hub.request_id())
    if state.api:
        response.headers["Date"] = http_date(hub.world.wall(hub.clock.now()), usegmt=True)
        for key, value in state.ratelimit.items():
            response.headers.setdefault(key, value)
        status = response.status
        hub.world.stats.by_status[status] += 1


async def _on_startup(app: web.Application) -> None:
    hub = app[HUB]
    hub.closing = False
    hub._ticker = asyncio.create_task(hub._tick())


async def _on_shutdown(app: web.Application) -> None:
    hub = app[HUB]
    hub.closing = True
    if hub._ticker is not None:
        hub._ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hub._ticker
        hub._ticker = None


def make_app(hub: HubApp) -> web.Application:
    """The aiohttp application for ``hub`` (routes, middleware, ticker)."""
    app = web.Application(middlewares=[hub_middleware], client_max_size=MAX_BODY)
    app[HUB] = hub
    for name, route in ROUTES.items():
        app.router.add_route(route.method, route.server_path, _API_HANDLERS[name], name=name)
    admin = ADMIN_PREFIX
    spaces = admin + "/spaces/{namespace}/{name}"
    app.router.add_get(admin, admin_info)
    app.router.add_get(admin + "/", admin_info)
    app.router.add_get(admin + "/events", admin_events)
    app.router.add_get(admin + "/stats", admin_stats)
    app.router.add_delete(admin + "/stats", admin_reset_stats)
    app.router.add_get(admin + "/users", admin_users)
    app.router.add_post(admin + "/users", admin_add_user)
    app.router.add_post(admin + "/orgs", admin_add_org)
    app.router.add_get(admin + "/spaces", admin_spaces)
    app.router.add_post(admin + "/spaces", admin_add_space)
    app.router.add_get(spaces, admin_space)
    app.router.add_delete(spaces, admin_delete_space)
    app.router.add_post(spaces + "/{action}", admin_action)
    app.router.add_get(admin + "/faults", admin_faults)
    app.router.add_post(admin + "/faults", admin_add_fault)
    app.router.add_delete(admin + "/faults", admin_clear_faults)
    app.router.add_delete(admin + "/faults/{id}", admin_delete_fault)
    app.router.add_post(admin + "/ratelimit", admin_ratelimit)
    app.on_response_prepare.append(_on_prepare)
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    return app

"""The Hub API's routes: one handler per call of :data:`aiospace._hub.routes.ROUTES`.

Each handler authenticates the caller, reads and validates the path, query and
JSON body (a wrong one is a 400 before anything happens), applies the call to the
world (:mod:`~aiospace.emulator.operations`) and answers its JSON. Two more
things are the HTTP side's own: pagination of ``GET /api/spaces`` (``limit``, an
opaque ``cursor``, the next page's URL in a ``Link`` header) and the log streams,
Server-Sent Events that replay the log, send one keep-alive, then follow it while
it is open. Each log event carries ``id: <n>``, the line's absolute number in its
log, and a ``Last-Event-ID: n`` header resumes with line ``n + 1`` (:func:`resume_from`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Set as AbstractSet
from typing import Any

from aiohttp import web

from .._hub import validate as v
from .._hub.routes import ROUTES
from .context import (
    HUB,
    Handler,
    bad_request,
    checked,
    close_connection,
    json_answer,
    json_object,
    read_json,
    repo_id_of,
    request_state,
    user_of,
)
from .encode import KEEP_ALIVE, hardware_json, link_next, log_event
from .push_routes import created_files
from .state import HARDWARE, MAX_SLEEP_TIME, VOLUME_TYPES, HubError, LogBuffer, LogEntry, StoredVolume
from .world import World

__all__ = ["API_HANDLERS", "DEFAULT_PAGE", "MAX_PAGE", "add_api_routes", "resume_from"]

#: Page size of ``GET /api/spaces`` without ``limit`` (and the largest page).
DEFAULT_PAGE = 20
MAX_PAGE = 1000


# ---------------------------------------------------------------------- request parts


def _no_query(request: web.Request, allowed: frozenset[str] = frozenset()) -> None:
    """A write takes its arguments in its body: an unknown query parameter is a 400, not ignored."""
    unknown = set(request.query) - allowed
    if unknown:
        raise bad_request(f"Unknown query parameter(s): {', '.join(sorted(unknown))[:200]}")


async def _body(
    request: web.Request, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()
) -> dict[str, Any]:
    """A write's JSON object body (declared ``application/json``), with no query (else 400)."""
    _no_query(request)
    return json_object(await read_json(request, json_type=True), allowed, required)


async def _no_body(request: web.Request, hint: str = "", allowed: frozenset[str] = frozenset()) -> None:
    """A write that takes no body: one with anything in it is a 400 (``{}`` passes), not ignored."""
    _no_query(request, allowed)
    body = await read_json(request, required=False, json_type=True)
    if body is not None and body != {}:
        raise bad_request(f"{request.method} {request.path[:200]} takes no JSON body{hint}")


def _sleep_time(value: Any, argument: str) -> int:
    """A sleep time: -1 (never) or an int of seconds up to :data:`MAX_SLEEP_TIME` (else a 400)."""
    seconds: int = checked(v.check_sleep_time, value, argument)
    if seconds > MAX_SLEEP_TIME:
        raise bad_request(f"{argument}: a sleep time must be at most {MAX_SLEEP_TIME} seconds")
    return seconds


def _key_value_items(items: Any, argument: str) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise bad_request(f"{argument} must be a list")
    out = []
    for item in items:
        data = json_object(item, {"key", "value", "description"}, {"key", "value"})
        out.append(
            {
                "key": checked(v.check_key, data["key"], f"{argument}.key"),
                "value": checked(v.check_value, data["value"], f"{argument}.value"),
                "description": checked(
                    v.check_description, data.get("description"), f"{argument}.description"
                ),
            }
        )
    return out


_VOLUME_KEYS = frozenset({"type", "source", "mountPath", "revision", "readOnly", "path"})


def _optional_text(data: dict[str, Any], key: str, argument: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > 1024:
        raise bad_request(f"{argument}.{key} must be a non-empty string of at most 1024 characters")
    return value


def _volume_items(items: Any, argument: str = "volumes") -> list[StoredVolume]:
    """``[{"type", "source", "mountPath", "revision"?, "readOnly"?, "path"?}]``, each checked (else 400)."""
    if not isinstance(items, list):
        raise bad_request(f"{argument} must be a list")
    out: list[StoredVolume] = []
    mounts: set[str] = set()
    for item in items:
        data = json_object(item, _VOLUME_KEYS, {"type", "source", "mountPath"})
        kind, source, mount = data["type"], data["source"], data["mountPath"]
        if not isinstance(kind, str) or kind not in VOLUME_TYPES:
            raise bad_request(f"{argument}.type must be one of: {', '.join(sorted(VOLUME_TYPES))}")
        if (
            not isinstance(source, str)
            or source.count("/") > 1
            or not all(v._PART.fullmatch(part) for part in source.split("/"))
        ):
            raise bad_request(f"{argument}.source must be a bucket or repository id")
        if not isinstance(mount, str) or not mount.startswith("/") or "\x00" in mount or len(mount) > 1024:
            raise bad_request(f"{argument}.mountPath must be an absolute path (starting with '/')")
        revision = _optional_text(data, "revision", argument)
        if revision is not None and kind == "bucket":
            raise bad_request(f"{argument}.revision: a bucket has no revision")
        read_only = data.get("readOnly")
        if read_only is not None and not isinstance(read_only, bool):
            raise bad_request(f"{argument}.readOnly must be a boolean")
        key = mount.rstrip("/") or "/"
        if key in mounts:
            raise bad_request(f"{argument}: two volumes are mounted at {mount[:100]}")
        mounts.add(key)
        out.append(
            StoredVolume(
                type=kind,
                source=source,
                mount_path=mount,
                revision=revision,
                read_only=bool(read_only),
                path=_optional_text(data, "path", argument),
            )
        )
    return out


def _listed(body: dict[str, Any], key: str) -> Any:
    """``body[key]``, an absent or null one as an empty list."""
    value = body.get(key)
    return [] if value is None else value


def _visibility(body: dict[str, Any]) -> str | None:
    """``visibility`` (or the older ``private`` boolean) of a create or duplicate body."""
    visibility = body.get("visibility")
    if visibility is not None and visibility not in v.VISIBILITIES:
        raise bad_request("visibility must be 'public', 'private' or 'protected'")
    private = body.get("private")
    if private is not None and not isinstance(private, bool):
        raise bad_request("private must be a boolean")
    if visibility is not None:
        if private is not None and private != (visibility == "private"):
            raise bad_request(f"private={str(private).lower()} contradicts visibility={visibility!r}")
        return str(visibility)
    if private is None:
        return None
    return "private" if private else "public"


# ---------------------------------------------------------------------- handlers


async def get_space_runtime(request: web.Request) -> web.StreamResponse:
    """``GET /api/spaces/{repo_id}/runtime``."""
    world = request.app[HUB].world
    return json_answer(world.runtime(user_of(request), repo_id_of(request)))


async def request_space_hardware(request: web.Request) -> web.StreamResponse:
    """``POST .../hardware`` ``{"flavor", "sleepTimeSeconds"?}``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    body = await _body(request, {"flavor", "sleepTimeSeconds"}, {"flavor"})
    flavor = checked(v.check_flavor, body["flavor"], "flavor")
    sleep = body.get("sleepTimeSeconds")
    if sleep is not None:
        sleep = _sleep_time(sleep, "sleepTimeSeconds")
    return json_answer(world.request_hardware(user, repo_id, str(flavor), sleep))


async def set_space_sleep_time(request: web.Request) -> web.StreamResponse:
    """``POST .../sleeptime`` ``{"seconds"}``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    body = await _body(request, {"seconds"}, {"seconds"})
    seconds = _sleep_time(body["seconds"], "seconds")
    return json_answer(world.set_sleep_time(user, repo_id, seconds))


async def pause_space(request: web.Request) -> web.StreamResponse:
    """``POST .../pause``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    await _no_body(request)
    return json_answer(world.pause(user, repo_id))


async def restart_space(request: web.Request) -> web.StreamResponse:
    """``POST .../restart`` (``?factory=true``: without cache)."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    await _no_body(request, " (a factory reboot is ?factory=true)", frozenset({"factory"}))
    factory = request.query.get("factory", "false").lower()
    if factory not in ("true", "false", "1", "0"):
        raise bad_request("factory must be 'true' or 'false'")
    return json_answer(world.restart(user, repo_id, factory in ("true", "1")))


async def set_space_dev_mode(request: web.Request) -> web.StreamResponse:
    """``POST .../dev-mode`` ``{"enabled"}``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    body = await _body(request, {"enabled"}, {"enabled"})
    if not isinstance(body["enabled"], bool):
        raise bad_request("enabled must be a boolean")
    return json_answer(world.set_dev_mode(user, repo_id, body["enabled"]))


async def get_space_secrets(request: web.Request) -> web.StreamResponse:
    """``GET .../secrets``."""
    world = request.app[HUB].world
    return json_answer(world.get_secrets(user_of(request), repo_id_of(request)))


async def _key_value_body(request: web.Request) -> tuple[str, str, str | None]:
    body = await _body(request, {"key", "value", "description"}, {"key", "value"})
    return (
        checked(v.check_key, body["key"], "key"),
        checked(v.check_value, body["value"], "value"),
        checked(v.check_description, body.get("description"), "description"),
    )


async def _key_body(request: web.Request) -> str:
    body = await _body(request, {"key"}, {"key"})
    return str(checked(v.check_key, body["key"], "key"))


async def add_space_secret(request: web.Request) -> web.StreamResponse:
    """``POST .../secrets`` ``{"key", "value", "description"?}``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    key, value, description = await _key_value_body(request)
    return json_answer(world.add_secret(user, repo_id, key, value, description))


async def delete_space_secret(request: web.Request) -> web.StreamResponse:
    """``DELETE .../secrets`` ``{"key"}``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    return json_answer(world.delete_secret(user, repo_id, await _key_body(request)))


async def get_space_variables(request: web.Request) -> web.StreamResponse:
    """``GET .../variables``."""
    world = request.app[HUB].world
    return json_answer(world.get_variables(user_of(request), repo_id_of(request)))


async def add_space_variable(request: web.Request) -> web.StreamResponse:
    """``POST .../variables`` ``{"key", "value", "description"?}``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    key, value, description = await _key_value_body(request)
    return json_answer(world.add_variable(user, repo_id, key, value, description))


async def delete_space_variable(request: web.Request) -> web.StreamResponse:
    """``DELETE .../variables`` ``{"key"}``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    return json_answer(world.delete_variable(user, repo_id, await _key_body(request)))


async def request_space_storage(request: web.Request) -> web.StreamResponse:
    """``POST .../storage`` ``{"tier"}``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    body = await _body(request, {"tier"}, {"tier"})
    tier = checked(v.check_tier, body["tier"], "tier")
    return json_answer(world.request_storage(user, repo_id, str(tier)))


async def delete_space_storage(request: web.Request) -> web.StreamResponse:
    """``DELETE .../storage``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    await _no_body(request)
    return json_answer(world.delete_storage(user, repo_id))


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
    """``POST .../duplicate`` ``{"repository", ...}``: answers the new Space's ``url``."""
    world = request.app[HUB].world
    user, from_id = user_of(request), repo_id_of(request)
    body = await _body(request, _DUPLICATE_KEYS, {"repository"})
    to_id = checked(v.check_repo_id, body["repository"], "repository")
    visibility = _visibility(body)
    volumes = None if body.get("volumes") is None else _volume_items(body["volumes"])
    hardware = body.get("hardware")
    if hardware is not None:
        hardware = str(checked(v.check_flavor, hardware, "hardware"))
    storage = body.get("storageTier")
    if storage is not None:
        storage = str(checked(v.check_tier, storage, "storageTier"))
    sleep = body.get("sleepTimeSeconds")
    if sleep is not None:
        sleep = _sleep_time(sleep, "sleepTimeSeconds")
    space = world.duplicate(
        user,
        from_id,
        to_id,
        visibility=visibility,
        volumes=volumes,
        hardware=hardware,
        storage=storage,
        sleep_time=sleep,
        secrets=_key_value_items(body.get("secrets", []), "secrets"),
        variables=_key_value_items(body.get("variables", []), "variables"),
    )
    base = f"{request.scheme}://{request.host}"
    # The emulator copies files at once: none is ever pending.
    return json_answer({"url": f"{base}/spaces/{space.id}", "filesCopyPending": False})


async def set_space_volumes(request: web.Request) -> web.StreamResponse:
    """``PUT .../volumes`` ``{"volumes": [...]}``: answers the runtime."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    body = await _body(request, {"volumes"}, {"volumes"})
    return json_answer(world.set_volumes(user, repo_id, _volume_items(body["volumes"])))


async def delete_space_volumes(request: web.Request) -> web.StreamResponse:
    """``DELETE .../volumes``: answers the runtime."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    await _no_body(request)
    return json_answer(world.delete_volumes(user, repo_id))


_CREATE_KEYS = frozenset(
    {
        "name",
        "organization",
        "visibility",
        "private",
        "type",
        "sdk",
        "hardware",
        "sleepTimeSeconds",
        "secrets",
        "variables",
        "volumes",
        "template",
        "resourceGroupId",
        "region",
        "license",
        "files",
    }
)


def _target(body: dict[str, Any], user: str | None, action: str) -> str:
    """The ``organization/name`` a create or delete body names (the caller's namespace by default)."""
    name, organization = body["name"], body.get("organization")
    if not isinstance(name, str) or (organization is not None and not isinstance(organization, str)):
        raise bad_request("name and organization must be strings")
    if organization is None:
        if user is None:
            raise HubError(401, f"You must be authenticated to {action}")
        organization = user
    return str(checked(v.check_repo_id, f"{organization}/{name}", "name"))


async def create_space(request: web.Request) -> web.StreamResponse:
    """``POST /api/repos/create``: a new Space; answers its ``url`` (409 with it if it exists)."""
    world = request.app[HUB].world
    user = user_of(request)
    body = await _body(request, _CREATE_KEYS, {"name"})
    if body.get("type") != "space":
        raise bad_request("The emulator hosts Spaces only: type must be 'space'")
    repo_id = _target(body, user, "create a Space")
    if body.get("sdk") is None:
        raise bad_request(f"sdk is required for a Space (one of: {', '.join(v.SDKS)})")
    sdk = checked(v.check_sdk, body["sdk"], "sdk")
    visibility = _visibility(body)
    hardware = body.get("hardware")
    if hardware is not None:
        hardware = str(checked(v.check_flavor, hardware, "hardware"))
    sleep = body.get("sleepTimeSeconds")
    if sleep is not None:
        sleep = _sleep_time(sleep, "sleepTimeSeconds")
    for key in ("template", "resourceGroupId", "region", "license"):  # accepted, not emulated
        if body.get(key) is not None and not isinstance(body[key], str):
            raise bad_request(f"{key} must be a string")
    space = world.create_space(
        user,
        repo_id,
        sdk=sdk,
        visibility=visibility,
        hardware=hardware,
        sleep_time=sleep,
        secrets=_key_value_items(_listed(body, "secrets"), "secrets"),
        variables=_key_value_items(_listed(body, "variables"), "variables"),
        volumes=_volume_items(_listed(body, "volumes")),
        files=created_files(_listed(body, "files")),
    )
    base = f"{request.scheme}://{request.host}"
    return json_answer({"url": f"{base}/spaces/{space.id}", "name": space.id})


async def delete_space(request: web.Request) -> web.StreamResponse:
    """``DELETE /api/repos/delete`` ``{"name", "organization", "type": "space"}``."""
    world = request.app[HUB].world
    user = user_of(request)
    body = await _body(request, {"name", "organization", "type"}, {"name"})
    kind = body.get("type")
    if kind not in (None, "model", "dataset", "space"):
        raise bad_request("type must be 'model', 'dataset' or 'space'")
    repo_id = _target(body, user, "delete a Space")
    if kind != "space":  # the emulator holds no model or dataset
        raise HubError(404, f"Repository not found: {kind or 'model'}s/{repo_id}", "RepoNotFound")
    return json_answer(world.delete_space(user, repo_id))


async def get_zero_gpu_quota(request: web.Request) -> web.StreamResponse:
    """``GET /api/spaces/zero-gpu/quota``: the caller's ZeroGPU quota."""
    return json_answer(request.app[HUB].world.zero_gpu_quota(user_of(request)))


async def list_spaces_hardware(request: web.Request) -> web.StreamResponse:
    """``GET /api/spaces/hardware``: the catalogue."""
    user_of(request)
    return json_answer(hardware_json(HARDWARE.values()))


def _expand(request: web.Request) -> list[str]:
    values = request.query.getall("expand", []) + request.query.getall("expand[]", [])
    return [item for value in values for item in value.split(",") if item]


async def space_info(request: web.Request) -> web.StreamResponse:
    """``GET /api/spaces/{repo_id}`` (``expand=`` repeatable)."""
    world = request.app[HUB].world
    return json_answer(world.space_info(user_of(request), repo_id_of(request), _expand(request)))


async def list_spaces(request: web.Request) -> web.StreamResponse:
    """``GET /api/spaces``: one page, the next one's URL in a ``Link`` header."""
    world = request.app[HUB].world
    user = user_of(request)
    query = request.query
    author = query.get("author")
    if author is not None and not v._PART.fullmatch(author):
        raise bad_request(f"Invalid author: {author[:100]!r}")
    limit = query.get("limit")
    size = DEFAULT_PAGE
    if limit is not None:
        # ASCII digits only ("²" is a digit to str.isdigit, not to int), and no int() of
        # thousands of digits: any limit past MAX_PAGE is MAX_PAGE.
        if not (limit.isascii() and limit.isdigit()) or not limit.strip("0"):
            raise bad_request("limit must be a positive integer")
        digits = limit.lstrip("0")
        size = MAX_PAGE if len(digits) > len(str(MAX_PAGE)) else min(int(digits), MAX_PAGE)
    offset = 0
    cursor = query.get("cursor")
    if cursor is not None:
        try:
            offset = int(base64.urlsafe_b64decode(cursor.encode()).decode())
        except (ValueError, UnicodeDecodeError) as err:
            raise bad_request("Invalid cursor") from err
        if offset < 0:
            raise bad_request("Invalid cursor")
    items = world.list_spaces(user, author=author, search=query.get("search"), expand=_expand(request))
    page = items[offset : offset + size]
    headers = {}
    if offset + size < len(items):
        nxt = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        url = request.url.with_query([(k, val) for k, val in query.items() if k != "cursor"])
        url = url.update_query({"cursor": nxt})
        base = f"{request.scheme}://{request.host}"
        headers["Link"] = link_next(f"{base}{url.path_qs}")
    return json_answer(page, headers=headers)


async def whoami(request: web.Request) -> web.StreamResponse:
    """``GET /api/whoami-v2``."""
    return json_answer(request.app[HUB].world.whoami(user_of(request)))


async def fetch_build_logs(request: web.Request) -> web.StreamResponse:
    """``GET .../logs/build``: Server-Sent Events."""
    return await _stream_logs(request, build=True)


async def fetch_run_logs(request: web.Request) -> web.StreamResponse:
    """``GET .../logs/run``: Server-Sent Events."""
    return await _stream_logs(request, build=False)


def _event(world: World, entry: LogEntry, number: int) -> bytes:
    return log_event(entry.text, world.wall(entry.time), number)


def resume_from(header: str | None, buf: LogBuffer) -> int:
    """The absolute number of the first line to send, given a ``Last-Event-ID`` header.

    ``n`` (the id of the last line the client has) resumes with line ``n + 1``, or with
    the oldest line still kept if that one rolled out of the log; no header, a value
    that is not a non-negative integer, or the id of a line not written yet (a future
    id: the log was replaced since, by a new build) replays from the oldest line kept.
    """
    if header is None:
        return 0
    text = header.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        return 0
    last = int(text)
    if last >= buf.end:
        return 0
    return last + 1


async def _stream_logs(request: web.Request, *, build: bool) -> web.StreamResponse:
    """SSE: replay the log, one keep-alive, then follow it while it is open."""
    hub = request.app[HUB]
    world = hub.world
    _space, buf = world.logs(user_of(request), repo_id_of(request), build)
    start = resume_from(request.headers.get("Last-Event-ID"), buf)
    fault = request_state(request).fault
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
        await _follow(request, response, buf, start, cut_after)
    return response


async def _follow(
    request: web.Request,
    response: web.StreamResponse,
    buf: LogBuffer,
    start: int,
    cut_after: int | None,
) -> None:
    hub = request.app[HUB]
    world = hub.world

    async def cut() -> None:
        await response.write(b'data: {"data": "cut in the mid')
        close_connection(request)

    numbered, index = buf.numbered_since(start)
    for sent, (number, entry) in enumerate(numbered):
        if cut_after is not None and sent >= cut_after:
            return await cut()
        await response.write(_event(world, entry, number))
    if cut_after is not None:
        return await cut()
    await response.write(KEEP_ALIVE)
    loop = asyncio.get_running_loop()
    last_write = loop.time()
    while not buf.closed and not hub.closing:
        # Woken by the ticker when a line comes (or the log closes, or the emulator stops),
        # at the latest when a keep-alive is due: no polling.
        wait = hub.keepalive_real - (loop.time() - last_write)
        if wait > 0:
            await asyncio.wait({hub.log_change(buf, index)}, timeout=wait)
        numbered, index = buf.numbered_since(index)
        for number, entry in numbered:
            await response.write(_event(world, entry, number))
            last_write = loop.time()
        if loop.time() - last_write >= hub.keepalive_real:
            await response.write(KEEP_ALIVE)
            last_write = loop.time()
    numbered, index = buf.numbered_since(index)
    for number, entry in numbered:
        await response.write(_event(world, entry, number))
    await response.write_eof()


API_HANDLERS: dict[str, Handler] = {
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
    "set_space_volumes": set_space_volumes,
    "delete_space_volumes": delete_space_volumes,
    "create_space": create_space,
    "delete_space": delete_space,
    "get_zero_gpu_quota": get_zero_gpu_quota,
    "list_spaces_hardware": list_spaces_hardware,
    "space_info": space_info,
    "list_spaces": list_spaces,
    "fetch_build_logs": fetch_build_logs,
    "fetch_run_logs": fetch_run_logs,
    "whoami": whoami,
}
assert set(API_HANDLERS) == set(ROUTES), "every route of ROUTES needs a handler"


def add_api_routes(app: web.Application) -> None:
    """Mount every call of :data:`~aiospace._hub.routes.ROUTES` on its path, named after it."""
    for name, route in ROUTES.items():
        app.router.add_route(route.method, route.server_path, API_HANDLERS[name], name=name)

"""The emulator's admin routes: inspect and drive the emulated Hub from outside.

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
    ``stuck``, ``log_interval``, ``push_delay``, ``capacity_failures``).
``POST /_emulator/spaces/{ns}/{name}/commit`` | ``/crash`` | ``/visit``
    A new commit (the head ``sha`` moves now, the rebuild starts ``push_delay``
    later; the answer's ``sha`` is the new head), a crash now (``RUNTIME_ERROR``),
    a visit (resets the sleep timer, wakes a sleeping Space).
``POST /_emulator/spaces/{ns}/{name}/log`` ``{"line": "...", "build": false}``
    Write a line to the run (or build) log.
``GET /_emulator/faults`` / ``POST /_emulator/faults`` ``{fault spec}``
    List / add a fault (see :mod:`aiospace.emulator.faults`); answers the fault with its ``id``.
``DELETE /_emulator/faults`` / ``DELETE /_emulator/faults/{id}``
    Remove every fault / one.
``POST /_emulator/ratelimit`` ``{"quota": N, "window": S}``
    Change the rate limit (counters restart).
``GET /_emulator/zero-gpu/{user}`` / ``POST /_emulator/zero-gpu/{user}``
    A user's ZeroGPU quota (as the API answers it) / set some of ``{"base",
    "remaining", "resets_in", "overquota_used", "use"}`` (GPU-seconds; ``resets_in``
    in simulated seconds from now; ``use`` spends, starting the period).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from .._hub import validate as v
from .context import HUB, bad_request, json_answer, json_object, read_json
from .encode import runtime_json
from .seed import add_space_from_spec
from .state import HubError, Space
from .world import World

__all__ = ["ADMIN_PREFIX", "add_admin_routes"]

#: Where the admin routes live (the middleware guards everything under it).
ADMIN_PREFIX = "/_emulator"


def _admin_space(world: World, space: Space) -> dict[str, Any]:
    return {
        "id": space.id,
        "sdk": space.sdk,
        "private": space.private,
        "sha": space.sha,
        "visibility": space.visibility,
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
            "push_delay": space.behaviour.push_delay,
            "capacity_failures": space.behaviour.capacity_failures,
        },
        "secrets": sorted(space.secrets),
        "variables": sorted(space.variables),
        "files": sorted(space.files),
        "last_visit": space.last_visit,
        "build_log_lines": len(space.build_log),
        "run_log_lines": len(space.run_log),
    }


def _admin_repo(request: web.Request) -> str:
    return f"{request.match_info['namespace']}/{request.match_info['name']}"


def _small_int(text: str) -> int | None:
    """``text`` as an int if it is 1 to 18 ASCII digits (None otherwise: ``²``, ``-1``, 5,000 digits)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        return None
    return int(text)


def _value_error(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (ValueError, TypeError) as err:
        raise bad_request(str(err)) from err


async def admin_info(request: web.Request) -> web.StreamResponse:
    """``GET /_emulator/``: speed, simulated now, rate limit, users, Space ids."""
    hub = request.app[HUB]
    world = hub.world
    world.advance()
    return json_answer(
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
    """``GET /_emulator/events?space=&after=``: the event log."""
    world = request.app[HUB].world
    world.advance()
    after = request.query.get("after", "-1")
    after_n = -1 if after == "-1" else _small_int(after)
    if after_n is None:
        raise bad_request("after must be an integer >= -1")
    events = world.events_for(request.query.get("space"), after_n)
    return json_answer([e.to_json() for e in events])


async def admin_stats(request: web.Request) -> web.StreamResponse:
    """``GET /_emulator/stats``."""
    return json_answer(request.app[HUB].world.stats_json())


async def admin_reset_stats(request: web.Request) -> web.StreamResponse:
    """``DELETE /_emulator/stats``."""
    request.app[HUB].world.reset_stats()
    return json_answer({})


async def admin_users(request: web.Request) -> web.StreamResponse:
    """``GET /_emulator/users``: names and tokens."""
    world = request.app[HUB].world
    return json_answer([{"name": name, "token": token} for token, name in world.users.items()])


async def admin_add_user(request: web.Request) -> web.StreamResponse:
    """``POST /_emulator/users`` ``{"name", "token"?}``."""
    world = request.app[HUB].world
    body = json_object(await read_json(request), {"name", "token"}, {"name"})
    name, token = body["name"], body.get("token")
    if not isinstance(name, str) or not v._PART.fullmatch(name):
        raise bad_request("name must be a valid user name")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise bad_request("token must be a non-empty string")
    token = _value_error(lambda: world.add_user(name, token))
    return json_answer({"name": name, "token": token}, status=201)


async def admin_add_org(request: web.Request) -> web.StreamResponse:
    """``POST /_emulator/orgs`` ``{"name", "members"}``."""
    world = request.app[HUB].world
    body = json_object(await read_json(request), {"name", "members"}, {"name"})
    members = body.get("members", [])
    if not isinstance(body["name"], str) or not isinstance(members, list):
        raise bad_request("name must be a string and members a list of user names")
    _value_error(lambda: world.add_org(body["name"], members))
    return json_answer({"name": body["name"], "members": sorted(world.orgs[body["name"]])}, status=201)


async def admin_spaces(request: web.Request) -> web.StreamResponse:
    """``GET /_emulator/spaces``: every Space's admin view."""
    world = request.app[HUB].world
    world.advance()
    return json_answer([_admin_space(world, s) for s in world.spaces.values()])


async def admin_add_space(request: web.Request) -> web.StreamResponse:
    """``POST /_emulator/spaces`` with a seed Space entry."""
    world = request.app[HUB].world
    body = await read_json(request)
    space = _value_error(lambda: add_space_from_spec(world, body))
    return json_answer(_admin_space(world, space), status=201)


async def admin_space(request: web.Request) -> web.StreamResponse:
    """``GET /_emulator/spaces/{ns}/{name}``: one Space's admin view."""
    world = request.app[HUB].world
    return json_answer(_admin_space(world, world.space(_admin_repo(request))))


async def admin_delete_space(request: web.Request) -> web.StreamResponse:
    """``DELETE /_emulator/spaces/{ns}/{name}``."""
    request.app[HUB].world.remove_space(_admin_repo(request))
    return json_answer({})


async def admin_action(request: web.Request) -> web.StreamResponse:
    """``POST /_emulator/spaces/{ns}/{name}/{behaviour|commit|crash|visit|log}``."""
    world = request.app[HUB].world
    repo_id = _admin_repo(request)
    action = request.match_info["action"]
    if action == "behaviour":
        body = await read_json(request)
        if not isinstance(body, dict):
            raise bad_request("The JSON body must be an object")
        space = _value_error(lambda: world.configure(repo_id, **body))
    elif action == "commit":
        space = world.commit(repo_id)
    elif action == "crash":
        space = world.crash(repo_id)
    elif action == "visit":
        space = world.visit(repo_id)
    elif action == "log":
        body = json_object(await read_json(request), {"line", "build"}, {"line"})
        if not isinstance(body["line"], str) or not isinstance(body.get("build", False), bool):
            raise bad_request("line must be a string and build a boolean")
        world.append_log(repo_id, body["line"], build=body.get("build", False))
        space = world.space(repo_id)
    else:
        raise HubError(404, f"Unknown admin action: {action[:50]}")
    return json_answer(_admin_space(world, space))


async def admin_faults(request: web.Request) -> web.StreamResponse:
    """``GET /_emulator/faults``."""
    world = request.app[HUB].world
    return json_answer([f.to_json() for f in world.faults.faults])


async def admin_add_fault(request: web.Request) -> web.StreamResponse:
    """``POST /_emulator/faults`` with a fault spec."""
    world = request.app[HUB].world
    body = await read_json(request)
    fault = _value_error(lambda: world.faults.add_spec(body))
    return json_answer(fault.to_json(), status=201)


async def admin_clear_faults(request: web.Request) -> web.StreamResponse:
    """``DELETE /_emulator/faults``."""
    request.app[HUB].world.clear_faults()
    return json_answer({})


async def admin_delete_fault(request: web.Request) -> web.StreamResponse:
    """``DELETE /_emulator/faults/{id}``."""
    raw = request.match_info["id"]
    fault_id = _small_int(raw)
    if fault_id is None or not request.app[HUB].world.faults.remove(fault_id):
        raise HubError(404, f"No fault with id {raw[:20]}")
    return json_answer({})


async def admin_ratelimit(request: web.Request) -> web.StreamResponse:
    """``POST /_emulator/ratelimit`` ``{"quota", "window"}``."""
    world = request.app[HUB].world
    body = json_object(await read_json(request), {"quota", "window"})
    _value_error(lambda: world.limiter.configure(body.get("quota"), body.get("window")))
    return json_answer({"quota": world.limiter.quota, "window": world.limiter.window})


def _quota_user(request: web.Request) -> str:
    user = request.match_info["user"]
    if user not in request.app[HUB].world.users.values():
        raise HubError(404, f"No user {user[:100]!r}")
    return user


async def admin_zero_gpu(request: web.Request) -> web.StreamResponse:
    """``GET /_emulator/zero-gpu/{user}``: the user's ZeroGPU quota, as the API answers it."""
    world = request.app[HUB].world
    return json_answer(world.zero_gpu_quota(_quota_user(request)))


async def admin_set_zero_gpu(request: web.Request) -> web.StreamResponse:
    """``POST /_emulator/zero-gpu/{user}``: set some figures; answers the quota.

    Body: ``{"base"?, "remaining"?, "resets_in"?, "overquota_used"?, "use"?}``.
    """
    world = request.app[HUB].world
    user = _quota_user(request)
    body = json_object(await read_json(request), {"base", "remaining", "resets_in", "overquota_used", "use"})
    _value_error(lambda: world.set_zero_gpu_quota(user, **body))
    return json_answer(world.zero_gpu_quota(user))


def add_admin_routes(app: web.Application) -> None:
    """Mount the admin routes under :data:`ADMIN_PREFIX`."""
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
    app.router.add_get(admin + "/zero-gpu/{user}", admin_zero_gpu)
    app.router.add_post(admin + "/zero-gpu/{user}", admin_set_zero_gpu)

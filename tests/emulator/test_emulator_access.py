"""Who may call what on the emulator (``aiospace/emulator/access.py``), on every route: private
Spaces are 404 and never 403, writes are the owner's only (403; 401 when anonymous), and every
admin route needs the admin token (401), which is no user's token either."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from aiospace._hub.routes import ROUTES
from aiospace.emulator import Emulator

TOKEN = "hf_Tok3nThatMustNeverShow0123456789"


BOB_TOKEN = "hf_B0bTokenThatMustNeverShow98765"


SECRETS = {
    "seeded": "s33ded-SECRET-value-7f1c",
    "added": "added-SECRET-value-93ab",
    "duplicated": "dup-SECRET-value-c0ffee",
    "refused": "refused-SECRET-value-dead",
    "cli": "cli-SECRET-value-beef",
    "created": "created-SECRET-value-5eed",
}


SEED = {
    "users": {"alice": TOKEN, "bob": BOB_TOKEN},
    "spaces": [
        {
            "id": "alice/app",
            "hardware": "t4-small",
            "secrets": {"SEEDED": {"value": SECRETS["seeded"], "description": "seeded"}},
            "variables": {"MODEL": {"value": "gpt2", "description": "the model"}},
            "build_seconds": 4,
            "start_seconds": 2,
            "hardware_seconds": 2,
        },
        {"id": "alice/private", "private": True, "build_seconds": 4, "start_seconds": 2},
        {"id": "alice/site", "sdk": "static"},
        {"id": "bob/tool", "sdk": "docker"},
    ],
}


@pytest.fixture
async def hub() -> AsyncIterator[Emulator]:
    async with Emulator(speed=200, seed=SEED, rng_seed=3) as emulator:
        yield emulator


def _path(route_name: str, repo_id: str) -> str:
    return ROUTES[route_name].path(repo_id)


REPO_ROUTES = sorted(name for name, route in ROUTES.items() if "{repo_id}" in route.template)


READS_FOR_ANYONE = {"get_space_runtime", "space_info", "fetch_build_logs", "fetch_run_logs"}


BODIES: dict[str, Any] = {
    "request_space_hardware": {"flavor": "t4-small"},
    "set_space_sleep_time": {"seconds": 3600},
    "set_space_dev_mode": {"enabled": True},
    "add_space_secret": {"key": "K", "value": "V"},
    "delete_space_secret": {"key": "K"},
    "add_space_variable": {"key": "K", "value": "V"},
    "delete_space_variable": {"key": "K"},
    "request_space_storage": {"tier": "small"},
    "duplicate_space": {"repository": "bob/copy"},
    "set_space_volumes": {"volumes": [{"type": "model", "source": "bob/model", "mountPath": "/m"}]},
}


async def _call(
    http: aiohttp.ClientSession, hub: Emulator, route_name: str, repo_id: str, token: str | None
) -> tuple[int, str | None, Any]:
    route = ROUTES[route_name]
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    body = BODIES.get(route_name)
    async with http.request(
        route.method, hub.url + _path(route_name, repo_id), json=body, headers=headers
    ) as response:
        if response.content_type == "text/event-stream":
            return response.status, None, None  # a log stream: its status is enough
        answer = await response.json(content_type=None)
        return response.status, response.headers.get("X-Error-Code"), answer


@pytest.mark.hostile
async def test_private_spaces_are_404_on_every_route_never_403(hub: Emulator) -> None:
    before = [e.seq for e in hub.world.events_for("alice/private")]
    async with aiohttp.ClientSession() as http:
        for route_name in REPO_ROUTES:
            for token in (None, BOB_TOKEN):
                status, code, answer = await _call(http, hub, route_name, "alice/private", token)
                assert (status, code) == (404, "RepoNotFound"), (route_name, token is None, status, answer)
        async with http.get(
            hub.url + "/api/spaces", headers={"Authorization": f"Bearer {BOB_TOKEN}"}
        ) as resp:
            assert "alice/private" not in await resp.text()
        # The owner sees it.
        status, _, _ = await _call(http, hub, "get_space_runtime", "alice/private", TOKEN)
        assert status == 200
    assert [e.seq for e in hub.world.events_for("alice/private")] == before
    assert "bob/copy" not in hub.world.spaces


@pytest.mark.hostile
async def test_writes_are_owner_only_on_every_route(hub: Emulator) -> None:
    secret_keys = sorted(hub.world.space("alice/app").secrets)
    before = [e.seq for e in hub.world.events_for("alice/app")]
    async with aiohttp.ClientSession() as http:
        for route_name in REPO_ROUTES:
            anonymous, _, _ = await _call(http, hub, route_name, "alice/app", None)
            other, _, answer = await _call(http, hub, route_name, "alice/app", BOB_TOKEN)
            if route_name in READS_FOR_ANYONE:
                assert anonymous == other == 200, route_name
            elif route_name == "duplicate_space":
                # Anyone may duplicate a public Space into their own namespace -- not into another's.
                assert anonymous == 401 and other == 200, (route_name, anonymous, other)
                denied, _, _ = await _call(
                    http, hub, route_name, "alice/app", BOB_TOKEN
                )  # now it exists: 409, still not a write to alice's Space
                assert denied == 409
            else:
                assert (anonymous, other) == (401, 403), (route_name, anonymous, other, answer)
        # Duplicating into someone else's namespace is refused.
        async with http.post(
            hub.url + _path("duplicate_space", "alice/app"),
            json={"repository": "alice/stolen"},
            headers={"Authorization": f"Bearer {BOB_TOKEN}"},
        ) as resp:
            assert resp.status == 403
    assert [e.seq for e in hub.world.events_for("alice/app")] == before
    assert sorted(hub.world.space("alice/app").secrets) == secret_keys
    assert "alice/stolen" not in hub.world.spaces
    # A duplicate copies variables and visibility, never the source's secrets.
    assert hub.world.space("bob/copy").secrets == {}


ADMIN_ROUTES = [
    ("GET", "/_emulator"),
    ("GET", "/_emulator/"),
    ("GET", "/_emulator/events"),
    ("GET", "/_emulator/stats"),
    ("DELETE", "/_emulator/stats"),
    ("GET", "/_emulator/users"),
    ("POST", "/_emulator/users"),
    ("POST", "/_emulator/orgs"),
    ("GET", "/_emulator/spaces"),
    ("POST", "/_emulator/spaces"),
    ("GET", "/_emulator/spaces/alice/app"),
    ("DELETE", "/_emulator/spaces/alice/app"),
    ("POST", "/_emulator/spaces/alice/app/behaviour"),
    ("POST", "/_emulator/spaces/alice/app/commit"),
    ("POST", "/_emulator/spaces/alice/app/crash"),
    ("POST", "/_emulator/spaces/alice/app/visit"),
    ("POST", "/_emulator/spaces/alice/app/log"),
    ("GET", "/_emulator/faults"),
    ("POST", "/_emulator/faults"),
    ("DELETE", "/_emulator/faults"),
    ("DELETE", "/_emulator/faults/1"),
    ("POST", "/_emulator/ratelimit"),
    ("GET", "/_emulator/zero-gpu/alice"),
    ("POST", "/_emulator/zero-gpu/alice"),
]


@pytest.mark.hostile
async def test_every_admin_route_needs_the_admin_token(hub: Emulator) -> None:
    hub.world.add_fault("error", route="whoami", rate=0.0)  # something DELETE /faults could remove
    admin = hub.admin_token
    wrong_headers: list[dict[str, str]] = [
        {},
        {"Authorization": f"Bearer {TOKEN}"},
        {"Authorization": "Bearer " + admin[:-1]},
        {"Authorization": admin},
        {"Authorization": f"Basic {admin}"},
        {"Authorization": f"Bearer {admin}x"},
        {"Authorization": f"bearer  {admin} "},
    ]
    async with aiohttp.ClientSession() as http:
        for method, path in ADMIN_ROUTES:
            for headers in wrong_headers:
                async with http.request(method, hub.url + path, json={}, headers=headers) as resp:
                    body = await resp.text()
                    assert resp.status == 401, (method, path, headers, resp.status)
                    assert admin not in body and TOKEN not in body
        async with http.get(hub.url + "/_emulator/stats", headers=hub.admin_headers) as resp:
            assert resp.status == 200
        # The admin token is not a user token either.
        async with http.get(hub.url + "/api/spaces/alice/app/runtime", headers=hub.admin_headers) as resp:
            assert resp.status == 401
    assert "alice/app" in hub.world.spaces and len(hub.world.faults.faults) == 1
    assert hub.world.events_for("alice/app")[-1].reason == "created"

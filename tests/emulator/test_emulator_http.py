"""The emulator over real loopback HTTP (``aiospace/emulator/app.py`` and the routes behind it),
driven with a plain aiohttp client.

The cases marked ``hostile`` are a caller doing its worst, over raw loopback HTTP
(:mod:`raw_http`: bytes as sent, bytes as answered): bad input of every kind, requests aiohttp's
own parser refuses, connections that never finish a request, idle log followers by the
thousand, then hypothesis fuzzing the API and admin routes (random methods, paths with
percent-encoded junk, control characters and raw non-ASCII, queries, headers and bodies).
Every answer is whole, below 500, and on a 4xx a JSON object with an ``error`` string; the
emulator keeps serving and logs no error of its own.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import string
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import anyio
import attrs
import pytest
from helpers import client_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raw_http import (
    Answer,
    admin_headers,
    assert_json_error,
    blocking_exchange,
    emulator_in_a_thread,
    exchange,
    parse_answer,
    request_bytes,
    server_errors,
)

from aiospace import RequestTimeoutError, RetryPolicy
from aiospace._hub.sse import SSEEvent, SSEParser
from aiospace.emulator import Emulator
from aiospace.emulator.encode import KEEP_ALIVE
from aiospace.emulator.state import LogBuffer

SAMPLES = Path(__file__).parent.parent / "samples"
EmulatorFactory = Callable[..., Awaitable[Emulator]]


async def until(check: Callable[[], Awaitable[bool]], *, tries: int = 3000) -> None:
    """Poll ``check`` every 10 ms (real) until it holds; fail after ``tries`` looks."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


class Client:
    """A thin aiohttp wrapper: JSON in, (status, headers, body) out."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator) -> None:
        self.session = session
        self.emu = emu

    async def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = "alice",
        token: str | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif user is not None:
            headers.update(self.emu.headers_for(user))
        async with self.session.request(method, self.emu.url + path, headers=headers, **kwargs) as resp:
            raw = await resp.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            return resp.status, resp.headers, body

    async def admin(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
        return await self.call(method, "/_emulator" + path, token=self.emu.admin_token, **kwargs)

    async def stage(self, repo_id: str, user: str | None = "alice") -> str:
        status, _, body = await self.call("GET", f"/api/spaces/{repo_id}/runtime", user=user)
        assert status == 200, body
        return str(body["stage"])

    async def events(self, repo_id: str) -> list[dict[str, Any]]:
        status, _, body = await self.admin("GET", "/events", params={"space": repo_id})
        assert status == 200
        return list(body)


@pytest.fixture
async def client(aiospace_emulator: Emulator) -> Any:
    async with aiohttp.ClientSession() as session:
        yield Client(session, aiospace_emulator)


def _sample(name: str) -> dict[str, Any]:
    return dict(json.loads((SAMPLES / name).read_text())["response"]["json"])


# ------------------------------------------------------------------ shapes and headers


async def test_runtime_has_the_recorded_shape(client: Client) -> None:
    status, headers, body = await client.call("GET", "/api/spaces/alice/demo/runtime")
    assert status == 200
    assert set(body) == set(_sample("18-get-runtime.json"))
    assert set(body["hardware"]) == {"current", "requested"}
    status, _, static = await client.call("GET", "/api/spaces/alice/static-site/runtime", user=None)
    assert status == 200
    assert static == _sample("21-get-runtime.json")
    assert headers["Content-Type"].startswith("application/json")


async def test_every_api_answer_has_request_id_and_rate_limit_headers(client: Client) -> None:
    for path, user in (
        ("/api/spaces/alice/demo/runtime", "alice"),
        ("/api/spaces/alice/private-app/runtime", None),
        ("/api/nothing-here", None),
    ):
        _, headers, _ = await client.call("GET", path, user=user)
        assert headers["X-Request-Id"]
        assert headers["RateLimit"].startswith('"api";r=')
        assert headers["RateLimit-Policy"] == '"fixed window";"api";q=10000;w=300'
        assert "Date" in headers


async def test_variables_and_secrets_answers_match_samples(client: Client) -> None:
    path = "/api/spaces/alice/demo/variables"
    status, _, body = await client.call("GET", path)
    assert (status, body) == (200, _sample("09-get-variables.json"))
    status, _, body = await client.call(
        "POST", path, json={"key": "MODEL_PAPER", "value": "arXiv", "description": "found it there"}
    )
    assert status == 200
    recorded = _sample("12-post-variables.json")["MODEL_PAPER"]
    assert set(body["MODEL_PAPER"]) == set(recorded)
    assert body["MODEL_PAPER"]["value"] == "arXiv"
    status, _, body = await client.call(
        "POST", "/api/spaces/alice/demo/secrets", json={"key": "foo", "value": "123"}
    )
    assert (status, body) == (200, {})
    status, _, body = await client.call("GET", "/api/spaces/alice/demo/secrets")
    assert status == 200
    assert set(body) == {"foo"}
    assert "123" not in json.dumps(body)
    status, _, body = await client.call(
        "DELETE", "/api/spaces/alice/demo/secrets", json={"key": "missing_key"}
    )
    assert (status, body) == (200, {})


async def test_error_answers(client: Client) -> None:
    status, headers, body = await client.call("GET", "/api/spaces/alice/nope/runtime")
    assert status == 404
    assert headers["X-Error-Code"] == "RepoNotFound"
    assert body == {"error": headers["X-Error-Message"]}
    status, headers, _ = await client.call("GET", "/api/spaces/alice/private-app/runtime", user="bob")
    assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound")
    status, headers, _ = await client.call("GET", "/api/spaces/alice/demo/runtime", token="bad")
    assert status == 401
    assert headers["X-Error-Message"] == "Invalid credentials in Authorization header"
    status, _, _ = await client.call("POST", "/api/spaces/alice/demo/pause", user="bob")
    assert status == 403
    status, _, _ = await client.call("POST", "/api/spaces/alice/static-site/pause")
    assert status == 400
    status, _, _ = await client.call("POST", "/api/spaces/alice/demo/hardware", json={"flavor": "quantum-x1"})
    assert status == 400
    status, _, body = await client.call("GET", "/api/spaces/alice/demo/runtime", user=None)
    assert (status, body["stage"]) == (200, "RUNNING")


async def test_list_spaces_paginates_and_expands(client: Client) -> None:
    status, headers, page = await client.call(
        "GET", "/api/spaces", user=None, params=[("limit", "2"), ("expand", "runtime")]
    )
    assert status == 200
    seen = [item["id"] for item in page]
    assert all("runtime" in item for item in page)
    link = headers.get("Link")
    while link:
        url = link[link.index("<") + 1 : link.index(">")]
        assert link.endswith('rel="next"')
        async with client.session.get(url) as resp:
            page = await resp.json()
            link = resp.headers.get("Link")
        assert len(page) <= 2
        assert all("runtime" in item for item in page)
        seen += [item["id"] for item in page]
    assert seen == ["alice/demo", "alice/gpu-app", "alice/static-site", "bob/tool"]
    status, _, page = await client.call("GET", "/api/spaces", params={"author": "alice"})
    assert "alice/private-app" in [item["id"] for item in page]
    status, _, page = await client.call("GET", "/api/spaces", params={"search": "tool"})
    assert [item["id"] for item in page] == ["bob/tool"]


async def test_hardware_catalogue(client: Client) -> None:
    status, _, body = await client.call("GET", "/api/spaces/hardware", user=None)
    assert status == 200
    names = [item["name"] for item in body]
    assert names[0] == "cpu-basic"
    assert "a100x8" in names
    for item in body:
        assert {"name", "prettyName", "cpu", "ram", "accelerator", "unitCostMicroUSD"} <= set(item)
        if item["accelerator"] is not None:
            assert set(item["accelerator"]) == {"type", "model", "quantity", "vram", "manufacturer"}


# ------------------------------------------------------------------ lifecycle


@pytest.mark.aiospace_emulator(speed=1000)
async def test_restart_walks_the_stages_in_order(client: Client) -> None:
    status, _, body = await client.call("POST", "/api/spaces/alice/demo/restart")
    assert (status, body["stage"]) == (200, "RUNNING_BUILDING")

    async def running() -> bool:
        return await client.stage("alice/demo") == "RUNNING"

    await until(running)
    events = await client.events("alice/demo")
    assert [e["stage"] for e in events] == [
        "RUNNING",
        "RUNNING_BUILDING",
        "RUNNING_APP_STARTING",
        "RUNNING",
    ]
    times = [e["time"] for e in events]
    assert times == sorted(times)
    assert times[2] - times[1] == pytest.approx(30)  # build_seconds
    assert times[3] - times[2] == pytest.approx(5)  # start_seconds
    assert events[-1]["runtime"]["stage"] == "RUNNING"


@pytest.mark.aiospace_emulator(speed=1000)
async def test_hardware_upgrade_converges_over_http(client: Client) -> None:
    status, _, body = await client.call(
        "POST", "/api/spaces/alice/demo/hardware", json={"flavor": "t4-medium"}
    )
    assert status == 200
    assert body["hardware"] == {"current": "cpu-basic", "requested": "t4-medium"}

    async def converged() -> bool:
        _, _, runtime = await client.call("GET", "/api/spaces/alice/demo/runtime")
        return bool(runtime["hardware"]["current"] == "t4-medium")

    await until(converged)
    events = await client.events("alice/demo")
    assert events[-1]["hardware"] == events[-1]["requested"] == "t4-medium"
    assert all(e["hardware"] == "cpu-basic" for e in events[:-1])


@pytest.mark.aiospace_emulator(
    speed=1000,
    seed={
        "users": {"u": "tok"},
        "spaces": [{"id": "u/bad", "fail_build": True, "build_seconds": 20}],
    },
)
async def test_failing_build_ends_in_build_error_with_build_logs(client: Client) -> None:
    await client.call("POST", "/api/spaces/u/bad/restart", user="u")

    async def failed() -> bool:
        return await client.stage("u/bad", user="u") == "BUILD_ERROR"

    await until(failed)
    lines = await read_log(client, "u/bad", build=True, user="u")
    assert any("ERROR" in line for line in lines)


@pytest.mark.aiospace_emulator(
    speed=1000,
    seed={"users": {"u": "tok"}, "spaces": [{"id": "u/s", "hardware": "t4-small", "sleep_time": 30}]},
)
async def test_sleep_then_visit_wakes(client: Client) -> None:
    async def sleeping() -> bool:
        return await client.stage("u/s", user="u") == "SLEEPING"

    await until(sleeping)
    status, _, _ = await client.admin("POST", "/spaces/u/s/visit")
    assert status == 200

    async def running() -> bool:
        return await client.stage("u/s", user="u") == "RUNNING"

    await until(running)
    stages = [e["stage"] for e in await client.events("u/s")]
    assert stages == ["RUNNING", "SLEEPING", "APP_STARTING", "RUNNING"]


@pytest.mark.aiospace_emulator(speed=1000)
async def test_pause_then_restart(client: Client) -> None:
    status, _, body = await client.call("POST", "/api/spaces/alice/gpu-app/pause")
    assert (status, body["stage"]) == (200, "PAUSED")
    assert body["hardware"] == {"current": None, "requested": "t4-small"}
    await asyncio.sleep(0.05)  # 50 simulated seconds: still paused
    assert await client.stage("alice/gpu-app") == "PAUSED"
    status, _, body = await client.call("POST", "/api/spaces/alice/gpu-app/restart")
    assert body["stage"] == "BUILDING"

    async def running() -> bool:
        return await client.stage("alice/gpu-app") == "RUNNING"

    await until(running)
    stages = [e["stage"] for e in await client.events("alice/gpu-app")]
    assert stages == ["RUNNING", "PAUSED", "BUILDING", "APP_STARTING", "RUNNING"]


@pytest.mark.aiospace_emulator(speed=1000)
async def test_duplicate_builds_a_new_space(client: Client) -> None:
    status, _, body = await client.call(
        "POST",
        "/api/spaces/bob/tool/duplicate",
        json={"repository": "alice/tool", "visibility": "private", "hardware": "cpu-upgrade"},
    )
    assert status == 200
    assert body["url"].endswith("/spaces/alice/tool")
    assert await client.stage("alice/tool") in ("BUILDING", "APP_STARTING", "RUNNING")
    status, _, _ = await client.call("GET", "/api/spaces/alice/tool/runtime", user="bob")
    assert status == 404  # private, owned by alice
    status, _, body = await client.call(
        "POST", "/api/spaces/bob/tool/duplicate", json={"repository": "alice/tool"}
    )
    assert status == 409
    assert body["url"].endswith("/spaces/alice/tool")


# ------------------------------------------------------------------ logs


async def read_events(
    client: Client, repo_id: str, *, build: bool, user: str | None = "alice", follow: bool = False
) -> list[SSEEvent]:
    """Read a log stream: until the first keep-alive after the backlog, or (follow) to its end."""
    kind = "build" if build else "run"
    parser = SSEParser()
    events: list[SSEEvent] = []
    async with client.session.get(
        f"{client.emu.url}/api/spaces/{repo_id}/logs/{kind}", headers=client.emu.headers_for(user)
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        async for chunk in resp.content.iter_any():
            for event in parser.feed(chunk):
                events.append(event)
                if not follow and event.data == "":
                    return events
    return events


async def read_log(client: Client, repo_id: str, *, build: bool, user: str | None = "alice") -> list[str]:
    events = await read_events(client, repo_id, build=build, user=user)
    return [json.loads(e.data)["data"] for e in events if e.data]


async def test_log_backlog_then_keep_alive(client: Client) -> None:
    events = await read_events(client, "alice/demo", build=False)
    assert events[-1].data == ""  # the keep-alive right after the backlog
    lines = [json.loads(e.data) for e in events[:-1]]
    assert lines
    assert lines[0]["data"].startswith("===== Application Startup")
    assert all(set(line) == {"data", "timestamp"} for line in lines)


@pytest.mark.aiospace_emulator(speed=1000)
async def test_followed_run_log_ends_when_the_space_pauses(client: Client) -> None:
    async def pause_soon() -> None:
        await asyncio.sleep(0.05)
        await client.call("POST", "/api/spaces/alice/demo/pause")

    task = asyncio.create_task(pause_soon())
    events = await read_events(client, "alice/demo", build=False, follow=True)
    await task
    lines = [json.loads(e.data)["data"] for e in events if e.data]
    assert any("heartbeat" in line for line in lines)  # the app kept logging while followed
    assert any(e.data == "" for e in events)


@pytest.mark.aiospace_emulator(speed=1000)
async def test_followed_build_log_ends_with_the_build(client: Client) -> None:
    await client.call("POST", "/api/spaces/alice/demo/restart")
    events = await read_events(client, "alice/demo", build=True, follow=True)
    lines = [json.loads(e.data)["data"] for e in events if e.data]
    assert lines[0].startswith("===== Build Queued")
    assert lines[-1] == "--> Pushing image"
    assert await client.stage("alice/demo") in ("RUNNING_APP_STARTING", "RUNNING")


# ------------------------------------------------------------------ rate limits


@pytest.mark.aiospace_emulator(speed=1, quota=3, window=300)
async def test_429_past_the_quota_with_retry_after(client: Client) -> None:
    for remaining in (2, 1, 0):
        status, headers, _ = await client.call("GET", "/api/spaces/alice/demo/runtime")
        assert status == 200
        assert headers["RateLimit"].startswith(f'"api";r={remaining};')
    status, headers, body = await client.call("GET", "/api/spaces/alice/demo/runtime")
    assert status == 429
    assert "error" in body
    retry_after = int(headers["Retry-After"])
    reset = int(headers["RateLimit"].rsplit("t=", 1)[1])
    assert retry_after == reset
    sim_reset = 300 - client.emu.clock.now() % 300
    assert retry_after in (math.ceil(sim_reset), math.ceil(sim_reset) + 1)
    # Another token has its own budget; admin routes are never limited.
    status, _, _ = await client.call("GET", "/api/spaces/alice/demo/runtime", user="bob")
    assert status == 200
    for _ in range(5):
        status, _, stats = await client.admin("GET", "/stats")
        assert status == 200
    assert stats["rate_limited"]["total"] == 1
    assert stats["rate_limited"]["get_space_runtime"] == 1


async def test_rate_limit_window_resets(aiospace_emulator_factory: EmulatorFactory) -> None:
    emu = await aiospace_emulator_factory(speed=1000, quota=1, window=30)
    async with aiohttp.ClientSession() as session:
        url = emu.url + "/api/spaces/alice/demo/runtime"
        statuses: list[int] = []
        for _ in range(200):
            async with session.get(url) as resp:
                statuses.append(resp.status)
            if statuses.count(200) >= 2:
                break
            await asyncio.sleep(0.005)
    assert statuses[0] == 200
    assert 429 in statuses
    assert statuses.count(200) == 2  # a new window admitted the next one


# ------------------------------------------------------------------ faults


async def test_each_fault_kind_is_observable(client: Client) -> None:
    path = "/api/spaces/alice/demo/runtime"
    for spec in (
        {"kind": "error", "status": 503, "retry_after": 7},
        {"kind": "error", "status": 500},
        {"kind": "error", "status": 502},
    ):
        status, _, _ = await client.admin(
            "POST", "/faults", json={**spec, "route": "get_space_runtime", "times": 1}
        )
        assert status == 201
        status, headers, body = await client.call("GET", path)
        assert status == spec["status"]
        assert "error" in body
        if "retry_after" in spec:
            assert headers["Retry-After"] == "7"
    await client.admin("POST", "/faults", json={"kind": "truncate", "times": 1})
    status, _, body = await client.call("GET", path)
    assert status == 200
    assert isinstance(body, bytes)  # not JSON: cut in half
    await client.admin("POST", "/faults", json={"kind": "malformed", "times": 1})
    status, _, body = await client.call("GET", path)
    assert status == 200
    assert isinstance(body, bytes)
    await client.admin("POST", "/faults", json={"kind": "reset", "times": 1})
    with pytest.raises(aiohttp.ClientPayloadError):
        await client.call("GET", path)
    await client.admin("POST", "/faults", json={"kind": "sse_cut", "times": 1})
    with pytest.raises(aiohttp.ClientPayloadError):
        await read_events(client, "alice/demo", build=False)
    await client.admin(
        "POST", "/faults", json={"kind": "latency", "latency": 5, "times": 1, "route": "space_info"}
    )
    before = client.emu.clock.now()
    status, _, _ = await client.call("GET", "/api/spaces/alice/demo")
    assert status == 200
    assert client.emu.clock.now() - before >= 5  # simulated seconds
    status, _, body = await client.call("GET", path)
    assert status == 200
    assert body["stage"] == "RUNNING"  # every fault was used up
    _, _, stats = await client.admin("GET", "/stats")
    assert stats["faults"] == {
        "error": 3,
        "truncate": 1,
        "malformed": 1,
        "reset": 1,
        "sse_cut": 1,
        "latency": 1,
    }


async def test_faults_can_target_a_space_and_be_cleared(client: Client) -> None:
    status, _, fault = await client.admin(
        "POST", "/faults", json={"kind": "error", "status": 500, "space": "bob/tool"}
    )
    assert status == 201
    status, _, _ = await client.call("GET", "/api/spaces/bob/tool/runtime")
    assert status == 500
    status, _, _ = await client.call("GET", "/api/spaces/alice/demo/runtime")
    assert status == 200
    status, _, faults = await client.admin("GET", "/faults")
    assert [f["id"] for f in faults] == [fault["id"]]
    status, _, _ = await client.admin("DELETE", f"/faults/{fault['id']}")
    assert status == 200
    status, _, _ = await client.call("GET", "/api/spaces/bob/tool/runtime")
    assert status == 200
    await client.admin("POST", "/faults", json={"kind": "error"})
    status, _, _ = await client.admin("DELETE", "/faults")
    assert status == 200
    status, _, _ = await client.call("GET", "/api/spaces/bob/tool/runtime")
    assert status == 200
    status, _, body = await client.admin("POST", "/faults", json={"kind": "error", "route": "x"})
    assert status == 400
    assert "error" in body


async def test_faults_at_start(aiospace_emulator_factory: EmulatorFactory) -> None:
    emu = await aiospace_emulator_factory(
        faults=[{"kind": "error", "status": 502, "route": "list_spaces", "times": 2}]
    )
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(3):
            async with session.get(emu.url + "/api/spaces") as resp:
                statuses.append(resp.status)
    assert statuses == [502, 502, 200]


# ------------------------------------------------------------------ bad input


async def test_bad_input_gets_json_4xx_and_the_server_keeps_serving(client: Client) -> None:
    base = "/api/spaces/alice/demo"
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", base + "/hardware", {"data": b"{not json"}, 400),
        ("POST", base + "/hardware", {"json": {"flavor": 3}}, 400),
        ("POST", base + "/hardware", {"json": ["t4-small"]}, 400),
        ("POST", base + "/hardware", {"json": {"flavor": "t4-small", "extra": 1}}, 400),
        ("POST", base + "/hardware", {}, 400),
        ("POST", base + "/sleeptime", {"json": {"seconds": "soon"}}, 400),
        ("POST", base + "/sleeptime", {"json": {"seconds": -5}}, 400),
        ("POST", base + "/dev-mode", {"json": {"enabled": "yes"}}, 400),
        ("POST", base + "/secrets", {"json": {"key": "1BAD", "value": "v"}}, 400),
        ("POST", base + "/secrets", {"json": {"key": "K", "value": None}}, 400),
        ("POST", base + "/variables", {"json": {"key": "K"}}, 400),
        ("POST", base + "/storage", {"json": {"tier": "HUGE!"}}, 400),
        ("POST", base + "/restart", {"params": {"factory": "maybe"}}, 400),
        ("POST", base + "/duplicate", {"json": {"repository": "no-slash"}}, 400),
        ("POST", base + "/duplicate", {"json": {"repository": "alice/x", "secrets": "s"}}, 400),
        ("POST", base + "/secrets", {"data": io.BytesIO(b"x" * (1024 * 1024 + 10))}, 413),
        ("GET", "/api/spaces", {"params": {"limit": "-1"}}, 400),
        ("GET", "/api/spaces", {"params": {"cursor": "%%%"}}, 400),
        ("GET", "/api/spaces/alice/demo", {"params": {"expand": "bogus"}}, 400),
        ("GET", "/api/spaces/a..b/demo/runtime", {}, 400),
        ("GET", "/api/unknown/route", {}, 404),
        ("PUT", base + "/runtime", {}, 405),
        ("DELETE", base + "/pause", {}, 405),
    ]
    for method, path, kwargs, expected in cases:
        status, headers, body = await client.call(method, path, **kwargs)
        assert status == expected, (method, path, body)
        assert isinstance(body, dict), (method, path, body)
        assert isinstance(body.get("error"), str)
        assert headers["X-Error-Message"]
    assert await client.stage("alice/demo") == "RUNNING"
    events = await client.events("alice/demo")
    assert [e["stage"] for e in events] == ["RUNNING"]  # no bad request changed anything


async def test_bodies_are_not_echoed_as_secrets(client: Client) -> None:
    await client.call("POST", "/api/spaces/alice/demo/secrets", json={"key": "API", "value": "TOPSECRET"})
    for path in ("/secrets", "/runtime", ""):
        _, _, body = await client.call("GET", "/api/spaces/alice/demo" + path)
        assert "TOPSECRET" not in json.dumps(body)
    _, _, body = await client.admin("GET", "/spaces/alice/demo")
    assert "TOPSECRET" not in json.dumps(body)
    assert body["secrets"] == ["API"]


# ------------------------------------------------------------------ admin routes


async def test_admin_routes_need_the_admin_token(client: Client) -> None:
    for token in (None, "hf_alice", "wrong"):
        status, _, body = await client.call("GET", "/_emulator/stats", user=None, token=token)
        assert status == 401
        assert "error" in body
    status, _, info = await client.admin("GET", "/")
    assert status == 200
    assert info["speed"] == client.emu.clock.speed
    assert "alice/demo" in info["spaces"]


@pytest.mark.aiospace_emulator(speed=1000)
async def test_admin_creates_and_drives_spaces(client: Client) -> None:
    status, _, user = await client.admin("POST", "/users", json={"name": "carol"})
    assert status == 201
    token = user["token"]
    status, _, space = await client.admin(
        "POST",
        "/spaces",
        json={"id": "carol/app", "stage": "BUILDING", "build_seconds": 10, "start_seconds": 2},
    )
    assert status == 201
    assert space["runtime"]["stage"] == "BUILDING"

    async def running() -> bool:
        _, _, body = await client.call("GET", "/api/spaces/carol/app/runtime", token=token)
        return bool(body["stage"] == "RUNNING")

    await until(running)
    status, _, _ = await client.admin("POST", "/spaces/carol/app/crash")
    assert status == 200
    _, _, body = await client.call("GET", "/api/spaces/carol/app/runtime", token=token)
    assert body["stage"] == "RUNTIME_ERROR"
    lines = await read_log(client, "carol/app", build=False, user="carol")
    assert "RuntimeError: emulated crash" in lines
    status, _, space = await client.admin(
        "POST", "/spaces/carol/app/behaviour", json={"build_seconds": 1, "fail_build": True}
    )
    assert status == 200
    assert space["behaviour"]["fail_build"] is True
    status, _, _ = await client.admin("POST", "/spaces/carol/app/commit")
    assert status == 200

    async def failed() -> bool:
        _, _, body = await client.call("GET", "/api/spaces/carol/app/runtime", token=token)
        return bool(body["stage"] == "BUILD_ERROR")

    await until(failed)
    await client.admin("POST", "/spaces/carol/app/log", json={"line": "hello from a test"})
    assert "hello from a test" in await read_log(client, "carol/app", build=False, user="carol")
    reasons = [e["reason"] for e in await client.events("carol/app")]
    assert reasons[0] == "created"
    assert "commit" in reasons
    status, _, _ = await client.admin("POST", "/spaces/carol/app/behaviour", json={"nope": 1})
    assert status == 400
    status, _, _ = await client.admin("POST", "/spaces/carol/app/teleport")
    assert status == 404
    status, _, _ = await client.admin("DELETE", "/spaces/carol/app")
    assert status == 200
    status, _, _ = await client.call("GET", "/api/spaces/carol/app/runtime", token=token)
    assert status == 404


async def test_admin_stats_count_by_route_and_space(client: Client) -> None:
    await client.admin("DELETE", "/stats")
    await client.call("GET", "/api/spaces/alice/demo/runtime")
    await client.call("GET", "/api/spaces/alice/demo/runtime")
    await client.call("GET", "/api/spaces/bob/tool")
    await client.call("GET", "/api/spaces/hardware")
    _, _, stats = await client.admin("GET", "/stats")
    assert stats["requests"] == 4
    assert stats["by_route"] == {"get_space_runtime": 2, "space_info": 1, "list_spaces_hardware": 1}
    assert stats["by_space"]["alice/demo"] == {"total": 2, "by_route": {"get_space_runtime": 2}}
    assert stats["by_status"] == {"200": 4}
    assert client.emu.world.stats_json()["requests"] == 4


async def test_admin_ratelimit_and_orgs(client: Client) -> None:
    status, _, body = await client.admin("POST", "/ratelimit", json={"quota": 2, "window": 60})
    assert (status, body) == (200, {"quota": 2, "window": 60.0})
    _, headers, _ = await client.call("GET", "/api/spaces/alice/demo/runtime")
    assert headers["RateLimit-Policy"] == '"fixed window";"api";q=2;w=60'
    status, _, _ = await client.admin("POST", "/orgs", json={"name": "acme", "members": ["bob"]})
    assert status == 201
    await client.admin("POST", "/spaces", json={"id": "acme/shared", "private": True})
    status, _, body = await client.call("POST", "/api/spaces/acme/shared/pause", user="bob")
    assert (status, body["stage"]) == (200, "PAUSED")


# ------------------------------------------------------------------ fixtures and Python API


@pytest.mark.aiospace_emulator(speed=123, seed={"users": {"zed": "hf_zed"}, "spaces": [{"id": "zed/x"}]})
async def test_marker_configures_the_fixture(aiospace_emulator: Emulator) -> None:
    assert aiospace_emulator.clock.speed == 123
    assert aiospace_emulator.token_for("zed") == "hf_zed"
    assert list(aiospace_emulator.world.spaces) == ["zed/x"]
    assert aiospace_emulator.url.startswith("http://127.0.0.1:")


async def test_factory_makes_independent_emulators(aiospace_emulator_factory: EmulatorFactory) -> None:
    one = await aiospace_emulator_factory(speed=10, admin_token="secret-admin")
    two = await aiospace_emulator_factory(seed={"users": {}, "spaces": []})
    assert one.url != two.url
    assert one.admin_token == "secret-admin"
    assert two.world.spaces == {}
    async with aiohttp.ClientSession() as session, session.get(two.url + "/api/spaces") as resp:
        assert await resp.json() == []


async def test_seed_from_a_file(tmp_path: Path, aiospace_emulator_factory: EmulatorFactory) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"users": {"f": "hf_f"}, "spaces": [{"id": "f/s", "sdk": "static"}]}))
    emu = await aiospace_emulator_factory(seed=str(seed))
    assert emu.world.runtime(None, "f/s")["stage"] == "RUNNING"
    with pytest.raises(ValueError):
        Emulator(seed={"spaces": [{"id": "f/s", "colour": "red"}]})


@pytest.mark.aiospace_emulator(speed=1000)
async def test_storage_request_and_delete(client: Client) -> None:
    path = "/api/spaces/alice/demo/storage"
    status, _, body = await client.call("POST", path, json={"tier": "medium"})
    assert (status, body["storage"]) == (200, "medium")
    assert body["stage"] == "RUNNING_BUILDING"  # a settings change rebuilds
    status, _, _ = await client.call("POST", path, json={"tier": "small"})
    assert status == 400  # no downgrade
    status, _, body = await client.call("DELETE", path)
    assert (status, body["storage"]) == (200, None)
    status, _, _ = await client.call("DELETE", path)
    assert status == 400  # nothing to delete
    status, _, _ = await client.call("POST", "/api/spaces/alice/static-site/storage", json={"tier": "small"})
    assert status == 400


# ------------------------------------------------------------------ bad input, beyond the table above


BASE = "/api/spaces/alice/demo"


MIB = 1024 * 1024


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


# (method, path, who, raw body or None, query, expected status)
CASES: list[tuple[str, str, str, Any, dict[str, str], int]] = [
    # JSON the decoder cannot take
    ("POST", BASE + "/hardware", "alice", b"[" * 200_000, {}, 400),
    ("POST", BASE + "/secrets", "alice", b'{"a":' * 100_000, {}, 400),
    ("POST", BASE + "/hardware", "alice", b"\xff\xfe\x00\x00", {}, 400),
    ("POST", BASE + "/hardware", "alice", b'{"flavor": "t4-small"} trailing', {}, 400),
    ("POST", BASE + "/pause", "alice", b"[1, 2", {}, 400),
    ("POST", BASE + "/restart", "alice", b"not json", {}, 400),
    ("POST", BASE + "/storage", "alice", b"null", {}, 400),
    # non-finite and wrong-typed numbers
    ("POST", BASE + "/hardware", "alice", b'{"flavor": NaN}', {}, 400),
    ("POST", BASE + "/hardware", "alice", b'{"flavor": "t4-small", "sleepTimeSeconds": Infinity}', {}, 400),
    ("POST", BASE + "/sleeptime", "alice", b'{"seconds": 1e400}', {}, 400),
    ("POST", BASE + "/sleeptime", "alice", b'{"seconds": true}', {}, 400),
    ("POST", BASE + "/sleeptime", "alice", b'{"seconds": 3.5}', {}, 400),
    # the routes the other table leaves out
    ("POST", BASE + "/variables", "alice", b'{"key": ["K"], "value": "v"}', {}, 400),
    ("POST", BASE + "/variables", "alice", b'{"key": "K", "value": {"nested": 1}}', {}, 400),
    ("DELETE", BASE + "/variables", "alice", b'"K"', {}, 400),
    ("DELETE", BASE + "/variables", "alice", b"", {}, 400),
    ("DELETE", BASE + "/secrets", "alice", b'{"key": 5}', {}, 400),
    ("POST", BASE + "/secrets", "alice", b'{"key": "K", "value": "v", "description": 5}', {}, 400),
    ("POST", BASE + "/dev-mode", "alice", b"{}", {}, 400),
    ("POST", BASE + "/duplicate", "alice", b'{"repository": 7}', {}, 400),
    ("POST", BASE + "/duplicate", "alice", b'{"repository": "alice/x", "hardware": 5}', {}, 400),
    ("POST", BASE + "/duplicate", "alice", b'{"repository": "alice/x", "secrets": [5]}', {}, 400),
    ("POST", BASE + "/duplicate", "alice", b'{"repository": "alice/x", "secrets": [{"key": "K"}]}', {}, 400),
    ("POST", BASE + "/duplicate", "alice", b'{"repository": "alice/x", "variables": {"K": "V"}}', {}, 400),
    ("POST", BASE + "/duplicate", "alice", b'{"repository": "alice/x", "visibility": 1}', {}, 400),
    ("POST", BASE + "/duplicate", "alice", b'{"repository": "alice/x", "storageTier": []}', {}, 400),
    # bad queries and headers
    ("GET", "/api/spaces", "alice", None, {"author": "\x00"}, 400),
    ("GET", "/api/spaces", "alice", None, {"cursor": "LTE="}, 400),
    ("GET", "/api/spaces", "alice", None, {"cursor": "A" * 5000}, 400),
    ("GET", "/api/spaces", "alice", None, {"limit": "1e3"}, 400),
    ("POST", BASE + "/restart", "alice", None, {"factory": "x" * 3000}, 400),
    ("GET", BASE + "/runtime", "bearer-huge", None, {}, 401),
    ("GET", BASE + "/runtime", "basic", None, {}, 401),
    ("GET", "/api/spaces/alice/" + "x" * 300 + "/runtime", "alice", None, {}, 400),
    ("GET", "/api/spaces/alice/demo/logs/nope", "alice", None, {}, 404),
    ("PATCH", "/api/spaces/alice/demo", "alice", None, {}, 405),
    # oversized bodies elsewhere, with and without a Content-Length
    ("POST", BASE + "/variables", "alice", b"x" * (MIB + 1), {}, 413),
    ("POST", BASE + "/duplicate", "alice", "chunked", {}, 413),
    ("POST", "/_emulator/faults", "admin", b"x" * (2 * MIB), {}, 413),
    # the admin routes' own bodies
    ("POST", "/_emulator/faults", "admin", b'{"kind": "latency", "latency": 1e400}', {}, 400),
    ("POST", "/_emulator/faults", "admin", b'{"kind": "latency", "latency": NaN}', {}, 400),
    ("POST", "/_emulator/faults", "admin", b'{"kind": "error", "route": ["x"]}', {}, 400),
    ("POST", "/_emulator/faults", "admin", b'{"kind": "error", "status": 200}', {}, 400),
    ("POST", "/_emulator/faults", "admin", b'{"kind": "error", "times": -1}', {}, 400),
    ("POST", "/_emulator/faults", "admin", b"[1]", {}, 400),
    ("DELETE", "/_emulator/faults/abc", "admin", None, {}, 404),
    ("POST", "/_emulator/spaces", "admin", b'{"id": 5}', {}, 400),
    ("POST", "/_emulator/spaces", "admin", b'{"id": "alice/n1", "secrets": "x"}', {}, 400),
    ("POST", "/_emulator/spaces", "admin", b'{"id": "alice/n2", "variables": [1]}', {}, 400),
    ("POST", "/_emulator/spaces", "admin", b'{"id": "alice/n3", "build_seconds": 1e400}', {}, 400),
    ("POST", "/_emulator/spaces", "admin", b'{"id": "alice/n4", "hardware": 5}', {}, 400),
    ("POST", "/_emulator/spaces", "admin", b'{"id": "alice/demo"}', {}, 409),
    ("POST", "/_emulator/spaces/alice/demo/behaviour", "admin", b'{"build_seconds": NaN}', {}, 400),
    ("POST", "/_emulator/spaces/alice/demo/behaviour", "admin", b'{"stuck": "yes"}', {}, 400),
    ("POST", "/_emulator/spaces/alice/demo/behaviour", "admin", b"[]", {}, 400),
    ("POST", "/_emulator/spaces/alice/demo/log", "admin", b'{"line": 5}', {}, 400),
    ("POST", "/_emulator/spaces/alice/demo/bogus", "admin", None, {}, 404),
    ("POST", "/_emulator/spaces/alice/nope/commit", "admin", None, {}, 404),
    ("POST", "/_emulator/users", "admin", b'{"name": "a b"}', {}, 400),
    ("POST", "/_emulator/users", "admin", b'{"name": "zed", "token": "hf_alice"}', {}, 400),
    ("POST", "/_emulator/orgs", "admin", b'{"name": "acme", "members": "alice"}', {}, 400),
    ("POST", "/_emulator/ratelimit", "admin", b'{"quota": "x"}', {}, 400),
    ("POST", "/_emulator/ratelimit", "admin", b'{"window": NaN}', {}, 400),
    ("GET", "/_emulator/events", "admin", None, {"after": "abc"}, 400),
    ("GET", "/_emulator/nope", "admin", None, {}, 404),
]


def _headers(hub: Emulator, who: str) -> dict[str, str]:
    return {
        # Declared JSON, so each body reaches the check it is about (not the Content-Type one).
        "alice": {**hub.headers_for("alice"), "Content-Type": "application/json"},
        "admin": hub.admin_headers,
        "bearer-huge": {"Authorization": "Bearer " + "x" * 6000},
        "basic": {"Authorization": "Basic YWxpY2U6cHc="},
    }[who]


@pytest.mark.hostile
@pytest.mark.aiospace_emulator(speed=50)
async def test_bad_input_table_gets_a_json_4xx_and_leaves_the_server_serving(
    aiospace_emulator: Emulator,
) -> None:
    hub = aiospace_emulator
    events_before = [e.seq for e in hub.world.events_for("alice/demo")]
    spaces_before = set(hub.world.spaces)
    failures = []
    async with aiohttp.ClientSession() as session:
        for method, path, who, raw, query, expected in CASES:
            data: Any = raw
            if raw == "chunked":
                data = _chunks(b"x" * (MIB + 1))  # no Content-Length: the limit applies while reading
            elif isinstance(raw, bytes) and len(raw) > 64 * 1024:
                data = io.BytesIO(raw)  # aiohttp warns about big raw bytes bodies
            with anyio.fail_after(10):  # a bad request must never hang the server
                async with session.request(
                    method, hub.url + path, data=data, params=query, headers=_headers(hub, who)
                ) as response:
                    body = await response.read()
            try:
                answer = json.loads(body)
            except ValueError:
                answer = None
            if (
                response.status != expected
                or not isinstance(answer, dict)
                or not isinstance(answer.get("error"), str)
                or not response.headers.get("X-Error-Message")
            ):
                failures.append((method, path, str(raw)[:60], response.status, body[:120]))
        assert failures == []
        # Nothing changed and the server still answers a runtime read.
        async with session.get(hub.url + BASE + "/runtime", headers=hub.headers_for("alice")) as response:
            assert response.status == 200
            assert (await response.json())["stage"] == "RUNNING"
    assert [e.seq for e in hub.world.events_for("alice/demo")] == events_before
    assert set(hub.world.spaces) == spaces_before
    assert hub.world.faults.faults == []
    assert hub.world.stats.by_status.get(500, 0) == 0


@pytest.mark.hostile
async def test_a_client_gone_mid_request_is_not_an_error_of_the_emulator(
    aiospace_emulator_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A write delayed past the client's timeout: the server finds nobody to read from or answer."""
    caplog.set_level(logging.DEBUG)
    hub = await aiospace_emulator_factory(speed=100)
    hub.world.add_fault("latency", route="add_space_variable", latency=20, times=1)
    hub.world.add_fault("latency", route="get_space_variables", latency=20, times=1)
    hub.world.add_fault("reset", route="get_space_variables", times=1)
    async with client_for(hub, "alice", timeout=0.05, retry=RetryPolicy(read_attempts=1)) as client:
        with pytest.raises(RequestTimeoutError):
            await client.add_space_variable("alice/demo", "K", "V")
        with pytest.raises(RequestTimeoutError):
            await client.get_space_variables("alice/demo")
        await anyio.sleep(0.4)  # the server wakes up after 0.2 s (real) and finds the client gone
        assert await client.get_space_variables("alice/demo") == {}  # the write was never read
    assert hub.world.faults.fired == {"latency": 2, "reset": 1}
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert hub.world.stats.by_status.get(500, 0) == 0
    assert "the client went away" in caplog.text


# ------------------------------------------------- requests aiohttp's own parser refuses, or reads only later


@pytest.mark.hostile
@pytest.mark.parametrize(
    "path", ["/nope%01", "/nope%7F", "/api/spaces/alice/demo/nope%00", "/_emulator/nope%1b"]
)
async def test_a_control_character_in_the_path_gets_a_json_404_not_a_dropped_connection(
    aiospace_emulator: Emulator, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The 404's ``X-Error-Message`` quoted the raw path: aiohttp refused the header and dropped us."""
    hub = aiospace_emulator
    headers = admin_headers(hub) if path.startswith("/_emulator") else {}
    answer = await exchange(hub.port, request_bytes("GET", path, headers=headers))
    assert "Not found" in assert_json_error(answer, 404)["error"]
    assert all(" " <= c <= "~" for c in answer.headers["x-error-message"])
    assert server_errors(caplog) == []


@pytest.mark.hostile
@pytest.mark.parametrize(
    "target",
    ["/é".encode(), "/api/spaces/é/x/runtime".encode(), b"/\xff\xfe", b"/a b", b"/" + b"x" * 9000],
    ids=["utf8", "utf8-in-route", "not-utf8", "space", "too-long"],
)
async def test_a_request_aiohttp_cannot_parse_gets_a_json_400(
    aiospace_emulator: Emulator, target: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Raw non-ASCII (or a space) in the request line never reached the app: aiohttp's text/plain 400."""
    hub = aiospace_emulator
    answer = await exchange(hub.port, request_bytes("GET", target))
    assert assert_json_error(answer, 400)["error"].startswith("Bad request")
    assert answer.headers["x-request-id"].startswith("Root=1-emulator-")
    assert server_errors(caplog) == []
    assert (await exchange(hub.port, request_bytes("GET", "/api/spaces/alice/demo/runtime"))).status == 200


@pytest.mark.hostile
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_that_is_not_its_content_encoding_is_a_400(
    aiospace_emulator: Emulator, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp fails to decode it while the handler reads it: that was a 500, then a logged traceback."""
    hub = aiospace_emulator
    headers = {**hub.headers_for("alice"), "Content-Encoding": encoding}
    raw = request_bytes("POST", "/api/spaces/alice/demo/variables", b"not compressed", headers)
    assert "Unreadable request body" in assert_json_error(await exchange(hub.port, raw), 400)["error"]
    # A handler that doesn't read the body: aiohttp reads it after the answer, and fails there.
    raw = request_bytes("POST", "/api/spaces/alice/demo/nope", b"not compressed", headers)
    assert_json_error(await exchange(hub.port, raw), 404)
    assert server_errors(caplog) == []
    assert hub.world.space("alice/demo").variables == {}


# ------------------------------------------------------------------ connections that never finish a request


async def _until_closed(port: int, raw: bytes) -> bytes:
    """Send ``raw`` and read until the emulator closes the connection (10 s at most: else it held it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.mark.hostile
@pytest.mark.aiospace_emulator(speed=50, read_timeout=0.2)
async def test_a_body_that_never_comes_is_a_408_and_the_connection_closes(
    aiospace_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A request announcing a body it never sends held its connection and handler forever."""
    caplog.set_level(logging.ERROR)
    hub = aiospace_emulator
    auth = f"Authorization: Bearer {hub.token_for('alice')}\r\n"
    heads = [
        b"POST /api/spaces/alice/demo/hardware HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n",
        b"POST /api/spaces/alice/demo/variables HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n",
        b"POST /api/spaces/alice/demo/commit/main HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n",
        b"POST /api/spaces/alice/demo/commit/main HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n",
        b"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n",
    ]
    for head in heads:
        who = f"Authorization: Bearer {hub.admin_token}\r\n" if b"_emulator" in head else auth
        raw = head + who.encode() + b"\r\n" + (b'5\r\n{"a":\r\n' if b"chunked" in head else b'{"k')
        answer = parse_answer(await _until_closed(hub.port, raw))
        assert "sent nothing" in assert_json_error(answer, 408)["error"], head
    assert hub.world.faults.faults == [] and hub.world.space("alice/demo").variables == {}
    async with client_for(hub, "alice") as client:
        assert (await client.get_space_runtime("alice/demo")).stage.value == "RUNNING"
    assert server_errors(caplog) == []


@pytest.mark.hostile
@pytest.mark.aiospace_emulator(speed=50, read_timeout=0.2)
async def test_idle_and_half_sent_connections_are_closed(aiospace_emulator: Emulator) -> None:
    """aiohttp keeps an idle connection, or one whose headers trickle in, for an hour."""
    hub = aiospace_emulator
    assert await _until_closed(hub.port, b"") == b""
    assert await _until_closed(hub.port, b"GET /api/spaces/alice/demo/runtime HTTP/1.1\r\nHost: x\r\n") == b""
    kept = b"GET /api/spaces/alice/demo/runtime HTTP/1.1\r\nHost: x\r\n\r\n"  # then idle, kept alive
    assert parse_answer(await _until_closed(hub.port, kept)).status == 200


@pytest.mark.careless
def test_a_read_timeout_must_be_a_finite_number_of_seconds() -> None:
    for bad in (0, -1, math.inf, math.nan, "5", True):
        with pytest.raises(ValueError, match="read_timeout"):
            Emulator(read_timeout=bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------ idle log followers


async def _follow(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a log stream and read up to its first keep-alive (the replay before it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_bytes("GET", path).replace(b"Connection: close", b"Connection: keep-alive"))
    await writer.drain()
    await asyncio.wait_for(reader.readuntil(KEEP_ALIVE), 10)
    return reader, writer


QUIET = {"users": {"alice": "hf_alice"}, "spaces": [{"id": "alice/quiet", "log_interval": 10**6}]}


@pytest.mark.hostile
@pytest.mark.aiospace_emulator(speed=50, keepalive=10**6, seed=QUIET)
async def test_idle_log_followers_do_no_work_until_a_line_comes(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each follower polled its log 100 times a second: 3,000 idle streams kept a request waiting 15 s."""
    hub = aiospace_emulator
    looks = 0
    numbered_since = LogBuffer.numbered_since

    def counted(self: LogBuffer, index: int) -> Any:
        nonlocal looks
        looks += 1
        return numbered_since(self, index)

    monkeypatch.setattr(LogBuffer, "numbered_since", counted)
    followers = [await _follow(hub.port, "/api/spaces/alice/quiet/logs/run") for _ in range(40)]
    try:
        looks = 0
        await asyncio.sleep(0.2)  # nothing is written: 20 polls each, before
        assert looks == 0
        hub.world.append_log("alice/quiet", "a line for everyone")
        for reader, _writer in followers:
            event = await asyncio.wait_for(reader.readuntil(b"\n\n"), 10)
            assert b"a line for everyone" in event
        assert looks <= 2 * len(followers)
    finally:
        for _reader, writer in followers:
            writer.close()
    async with client_for(hub, "alice") as client:  # and the emulator answers as before
        assert (await client.get_space_runtime("alice/quiet")).stage.value == "RUNNING"


# ------------------------------------------------------------------ fuzzing the API and admin routes


_WORDS = [
    "api", "spaces", "alice", "demo", "bob", "tool", "private-app", "static-site", "runtime", "hardware",
    "sleeptime", "pause", "restart", "dev-mode", "secrets", "variables", "storage", "duplicate", "logs",
    "build", "run", "whoami-v2", "_emulator", "events", "stats", "users", "orgs", "faults", "ratelimit",
    "behaviour", "commit", "crash", "visit", "log", "1", "0", "..", ".", "",
    "repos", "create", "delete", "volumes", "zero-gpu", "quota",
]  # fmt: skip


_KEYS = [
    "flavor", "sleepTimeSeconds", "seconds", "enabled", "key", "value", "description", "tier", "repository",
    "visibility", "private", "hardware", "storageTier", "secrets", "variables", "name", "members", "token",
    "quota", "window", "id", "sdk", "stage", "likes", "sleep_time", "line", "build", "kind", "route", "space",
    "rate", "times", "status", "latency", "build_seconds", "log_interval", "crash_after", "stuck",
    "type", "source", "mountPath", "revision", "readOnly", "path", "organization", "protected", "base",
    "remaining", "resets_in", "overquota_used", "use", "push_delay", "capacity_failures",
]  # fmt: skip


_QUERY_KEYS = ["limit", "cursor", "author", "search", "expand", "expand[]", "factory", "after", "space"]


_junk_text = st.text(st.characters(codec="utf-8"), max_size=12)


_segment = st.one_of(
    st.sampled_from(_WORDS),
    _junk_text.map(lambda s: quote(s, safe="")),  # percent-encoded anything: control chars, non-ASCII
    st.binary(max_size=6).map(lambda b: quote(b, safe="")),  # percent-encoded bytes, not even UTF-8
    st.binary(min_size=1, max_size=4)
    .filter(lambda b: b"\r" not in b and b"\n" not in b)
    .map(lambda b: b.decode("latin-1")),  # raw bytes in the request line
    st.sampled_from(["%C2%B2", "%00", "%01", "%7F", "%FF", "%E2%80%AE", "%", "%zz", "9" * 5000]),
)


_path = st.lists(_segment, min_size=1, max_size=7).map(lambda parts: "/" + "/".join(parts))


_query_value = st.one_of(
    _junk_text,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(
        ["²", "٣", "9" * 5000, "-1", "0", "1e3", "NaN", "true", "runtime", "likes", "LTE=", "MTA="]
    ),
)


_query = st.lists(
    st.tuples(st.one_of(st.sampled_from(_QUERY_KEYS), _junk_text), _query_value), max_size=4
).map(lambda pairs: "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs))


_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    _junk_text,
    st.sampled_from(
        [
            "t4-small",
            "cpu-basic",
            "small",
            "alice/fuzzed",
            "K",
            "RUNNING",
            "GARBAGE",
            "error",
            "space",
            "bucket",
        ]
    ),
)


_json_value = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(_KEYS), _junk_text), inner, max_size=4),
    ),
    max_leaves=8,
)


_body = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(_KEYS), _json_value, max_size=4).map(lambda d: json.dumps(d).encode()),
    _json_value.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
    st.sampled_from([b"[" * 50_000, b'{"a":' * 20_000, b"\xff\xfe", b"NaN", b"1e999"]),
)


_method = st.one_of(
    st.sampled_from(["GET", "GET", "POST", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]),
    st.text(string.ascii_uppercase, min_size=1, max_size=7),
)


_auth = st.sampled_from(
    [
        None,
        "Bearer hf_alice",
        "bearer hf_alice",
        "Bearer  hf_bob",
        "Bearer nope",
        "Basic YWxpY2U6cHc=",
        "Bearer",
        "",
    ]
)


@attrs.frozen
class Fuzzed:
    """One generated request."""

    method: str
    path: str
    query: str
    body: bytes | None
    auth: str | None
    last_event_id: str | None
    extra: dict[str, str]

    def raw(self, prefix: str = "", auth: str | None = None) -> bytes:
        """The request's bytes (``prefix`` before the path; ``auth`` overrides the generated one)."""
        target = (prefix + self.path + ("?" + self.query if self.query else "")).encode("latin-1")
        headers = {"Content-Type": "application/json", **self.extra}
        authorization = auth if auth is not None else self.auth
        if authorization is not None:
            headers["Authorization"] = authorization
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        return request_bytes(self.method, target, self.body, headers)


_requests = st.builds(
    Fuzzed,
    method=_method,
    path=_path,
    query=_query,
    body=_body,
    auth=_auth,
    last_event_id=st.one_of(st.none(), st.sampled_from(["0", "3", "-1", "x", "9" * 40, "²"])),
    extra=st.sampled_from(
        [
            {},
            {},
            {"Content-Encoding": "gzip"},
            {"Content-Encoding": "deflate"},
            {"Content-Encoding": "br"},
            {"Content-Encoding": "nope"},
            {"Transfer-Encoding": "chunked"},
            {"Expect": "100-continue"},
            {"Content-Type": "text/plain; charset=bogus"},
            {"X-Junk": "\x7f\x01"},
        ]
    ),
)


def check_answer(fuzzed: Fuzzed, answer: Answer) -> None:
    """The fuzzing invariants: below 500; a 4xx is a JSON ``{"error": str}``; JSON is strict JSON."""
    assert answer.status < 500, (fuzzed, answer.status, answer.body[:300])
    if fuzzed.method == "HEAD":
        return
    if 400 <= answer.status < 500:
        assert_json_error(answer)
    elif answer.headers.get("content-type", "").startswith("application/json"):
        answer.json()


_FUZZ = settings(
    derandomize=True,
    deadline=None,
    max_examples=400,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@pytest.mark.hostile
def test_fuzzing_the_api_routes_never_gets_a_500_nor_a_dropped_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    with emulator_in_a_thread(speed=50) as hub:
        prefixes = ["", "/api/spaces", "/api/spaces/alice/demo", "/api/spaces/bob/tool", "/api/repos"]

        @_FUZZ
        @given(fuzzed=_requests, prefix=st.sampled_from(prefixes))
        def check(fuzzed: Fuzzed, prefix: str) -> None:
            check_answer(fuzzed, blocking_exchange(hub.port, fuzzed.raw(prefix), fuzzed.method))

        check()
        stats = blocking_exchange(
            hub.port, request_bytes("GET", "/_emulator/stats", headers=admin_headers(hub))
        ).json()
        assert stats["requests"] > 100
        assert "500" not in stats["by_status"]
        assert len(stats["by_space"]) <= len(hub.world.spaces)  # made-up ids never grow the stats
        # Still serving.
        answer = blocking_exchange(hub.port, request_bytes("GET", "/api/spaces/bob/tool/runtime"))
        assert answer.status in (200, 429)
    assert server_errors(caplog) == []


@pytest.mark.hostile
def test_fuzzing_the_admin_routes_never_gets_a_500_nor_a_dropped_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    with emulator_in_a_thread(speed=50) as hub:
        admin = f"Bearer {hub.admin_token}"
        prefixes = [
            "/_emulator",
            "/_emulator/spaces/alice/demo",
            "/_emulator/spaces",
            "/_emulator/faults",
            "/_emulator/zero-gpu/alice",
        ]

        @_FUZZ
        @given(fuzzed=_requests, prefix=st.sampled_from(prefixes), as_admin=st.booleans())
        def check(fuzzed: Fuzzed, prefix: str, as_admin: bool) -> None:
            answer = blocking_exchange(
                hub.port, fuzzed.raw(prefix, admin if as_admin else None), fuzzed.method
            )
            check_answer(fuzzed, answer)
            if hub.world.faults.faults:
                # A fault that fired would break answers on purpose: not what is fuzzed here.
                clear = request_bytes("DELETE", "/_emulator/faults", headers=admin_headers(hub))
                assert blocking_exchange(hub.port, clear).status == 200

        check()
        info = blocking_exchange(hub.port, request_bytes("GET", "/_emulator/", headers=admin_headers(hub)))
        assert info.status == 200 and info.json()["speed"] == 50
    assert server_errors(caplog) == []

"""The emulator over real loopback HTTP, driven with a plain aiohttp client."""

from __future__ import annotations

import asyncio
import io
import json
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from aiospace._hub.sse import SSEEvent, SSEParser
from aiospace.emulator import Emulator

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

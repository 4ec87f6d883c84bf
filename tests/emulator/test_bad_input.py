"""Bad input the emulator must survive, beyond tests/emulator/test_emulator_http.py's table.

That table covers malformed JSON, wrong types and unknown keys of the main write
routes, one oversized body, an unknown route and wrong methods. This one adds what
it leaves out: JSON nested too deeply to decode, non-UTF-8 bodies, non-finite and
huge numbers, wrong types on the remaining routes (variables, secrets deletion,
duplicate's nested lists), bad queries, oversized bodies on other routes (with and
without a Content-Length), and the admin routes' own bodies. Each gets a JSON 4xx
(never a 500, never a hang), changes nothing, and the server answers a runtime read
afterwards.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from helpers import client_for

from aiospace import RequestTimeoutError, RetryPolicy
from aiospace.emulator import Emulator

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

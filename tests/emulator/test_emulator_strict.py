"""The emulator catches a client's wire mistakes instead of silently accepting them.

It shares the route table with the client, never its encoding: a wrong key, a value of
the wrong type, a body sent as text, a body on a route that takes none, an argument
sent in the query instead of the body (or the other way round) must each be a 400
naming the problem, and change nothing. Every request here is sent with plain aiohttp
(the client's encoder plays no part) to an emulator over loopback HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from aiospace.emulator import Emulator

EmulatorFactory = Callable[..., Awaitable[Emulator]]
BASE = "/api/spaces/alice/demo"
TIMEOUT = aiohttp.ClientTimeout(total=10)


async def _call(emu: Emulator, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession(headers=emu.headers_for("alice"), timeout=TIMEOUT) as session:
        async with session.request(method, emu.url + path, **kwargs) as answer:
            return answer.status, json.loads(await answer.read())


async def _runtime(emu: Emulator) -> dict[str, Any]:
    status, body = await _call(emu, "GET", BASE + "/runtime")
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def _refused(status: int, body: Any, *words: str) -> None:
    assert status == 400, body
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    for word in words:
        assert word in body["error"], body


# ---------------------------------------------------------------- gap 1: Content-Type

HARDWARE_BODY = json.dumps({"flavor": "t4-small"})


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        ({"data": HARDWARE_BODY, "headers": {"Content-Type": "text/plain"}}, "text/plain"),
        ({"data": HARDWARE_BODY.encode()}, "application/octet-stream"),
        ({"data": {"flavor": "t4-small"}}, "application/x-www-form-urlencoded"),
        ({"data": HARDWARE_BODY.encode(), "headers": {"Content-Type": ""}}, "none"),
    ],
    ids=["text-plain", "octet-stream", "form", "no-content-type"],
)
async def test_a_json_body_not_declared_json_is_refused(
    aiospace_emulator_factory: EmulatorFactory, kwargs: dict[str, Any], sent: str
) -> None:
    """The Hub reads no JSON from a body sent as text, bytes or a form: a client that forgets
    ``Content-Type: application/json`` must fail here, not only against the real Hub."""
    emu = await aiospace_emulator_factory(speed=1)
    before = await _runtime(emu)
    status, body = await _call(emu, "POST", BASE + "/hardware", **kwargs)
    _refused(status, body, "Content-Type must be application/json", sent)
    assert await _runtime(emu) == before


async def test_a_json_body_declared_json_with_a_charset_is_read(
    aiospace_emulator_factory: EmulatorFactory,
) -> None:
    emu = await aiospace_emulator_factory(speed=1)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    status, body = await _call(emu, "POST", BASE + "/hardware", data=HARDWARE_BODY, headers=headers)
    assert status == 200, body
    assert body["hardware"]["requested"] == "t4-small"


# ---------------------------------------------------------------- gap 2: a body where none is taken


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("POST", "/restart", {"factory": True}),
        ("POST", "/restart", {"factory_reboot": True}),
        ("POST", "/pause", {"paused": True}),
        ("DELETE", "/storage", {"tier": "small"}),
        ("DELETE", "/volumes", {"volumes": []}),
        ("POST", "/pause", [1]),
    ],
)
async def test_a_body_on_a_route_that_takes_none_is_refused(
    aiospace_emulator_factory: EmulatorFactory, method: str, route: str, body: Any
) -> None:
    """``{"factory": true}`` in a restart's body would be a plain restart, silently: refused."""
    emu = await aiospace_emulator_factory(speed=1)
    status, _ = await _call(emu, "POST", BASE + "/storage", json={"tier": "small"})
    assert status == 200
    before = await _runtime(emu)
    status, answer = await _call(emu, method, BASE + route, json=body)
    _refused(status, answer, "takes no JSON body")
    if route == "/restart":
        assert "?factory=true" in answer["error"]
    assert await _runtime(emu) == before


@pytest.mark.parametrize("kwargs", [{}, {"json": {}}], ids=["no-body", "empty-object"])
async def test_an_empty_body_where_none_is_taken_is_fine(
    aiospace_emulator_factory: EmulatorFactory, kwargs: dict[str, Any]
) -> None:
    emu = await aiospace_emulator_factory(speed=1)
    status, body = await _call(emu, "POST", BASE + "/pause", **kwargs)
    assert status == 200, body
    assert body["stage"] == "PAUSED"


# ---------------------------------------------------------------- gap 3: arguments in the query


@pytest.mark.parametrize(
    ("method", "route", "params", "body"),
    [
        ("POST", "/restart", {"factory_reboot": "true"}, None),
        ("POST", "/pause", {"factory": "true"}, None),
        ("POST", "/sleeptime", {"seconds": "3600"}, {"seconds": 3600}),
        ("DELETE", "/secrets", {"key": "API"}, {"key": "API"}),
        ("POST", "/hardware", {"sleepTimeSeconds": "3600"}, {"flavor": "t4-small"}),
    ],
)
async def test_an_unknown_query_parameter_on_a_write_is_refused(
    aiospace_emulator_factory: EmulatorFactory,
    method: str,
    route: str,
    params: dict[str, str],
    body: Any,
) -> None:
    """A write takes its arguments in its body (restart: only ``?factory``): another query
    parameter is a client mistake (``?factory_reboot=true`` would restart *with* the cache)."""
    emu = await aiospace_emulator_factory(speed=1)
    before = await _runtime(emu)
    status, answer = await _call(emu, method, BASE + route, params=params, json=body)
    _refused(status, answer, "Unknown query parameter", next(iter(params)))
    assert await _runtime(emu) == before


async def test_restart_reads_factory_from_the_query(aiospace_emulator_factory: EmulatorFactory) -> None:
    emu = await aiospace_emulator_factory(speed=1)
    status, body = await _call(emu, "POST", BASE + "/restart", params={"factory": "true"})
    assert status == 200, body
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        async with session.get(
            emu.url + "/_emulator/events", params={"space": "alice/demo"}, headers=emu.admin_headers
        ) as answer:
            events = await answer.json()
    assert "factory reboot" in [event["reason"] for event in events]


# ---------------------------------------------------------------- gap 4: contradicting visibility


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (BASE + "/duplicate", {"repository": "alice/copy", "private": True, "visibility": "public"}),
        (
            "/api/repos/create",
            {
                "name": "new",
                "organization": "alice",
                "type": "space",
                "sdk": "gradio",
                "private": False,
                "visibility": "private",
            },
        ),
    ],
    ids=["duplicate", "create"],
)
async def test_private_contradicting_visibility_is_refused(
    aiospace_emulator_factory: EmulatorFactory, path: str, body: dict[str, Any]
) -> None:
    emu = await aiospace_emulator_factory(speed=1)
    status, answer = await _call(emu, "POST", path, json=body)
    _refused(status, answer, "contradicts visibility")
    repo_id = body.get("repository") or "alice/new"
    status, _ = await _call(emu, "GET", f"/api/spaces/{repo_id}")
    assert status == 404  # nothing was made


# ---------------------------------------------------------------- mistakes refused already (kept so)


@pytest.mark.parametrize(
    ("method", "route", "body", "named"),
    [
        ("POST", "/hardware", {"flavor": "t4-small", "sleepTime": 3600}, "sleepTime"),
        ("POST", "/hardware", {"flavour": "t4-small"}, "flavour"),
        ("POST", "/hardware", {"flavor": "t4-small", "sleepTimeSeconds": "3600"}, "sleepTimeSeconds"),
        ("POST", "/sleeptime", {"sleepTimeSeconds": 3600}, "sleepTimeSeconds"),
        ("POST", "/sleeptime", {"seconds": "3600"}, "seconds"),
        ("POST", "/dev-mode", {"enabled": "true"}, "enabled"),
        ("POST", "/secrets", {"key": "K", "value": 5}, "value"),
        ("POST", "/secrets", {"name": "K", "value": "v"}, "name"),
        ("POST", "/variables", {"key": 5, "value": "K"}, "key"),
        ("DELETE", "/variables", {"key": "K", "value": "v"}, "value"),
        ("POST", "/storage", {"storage": "small"}, "storage"),
        ("POST", "/duplicate", {"repository": "alice/x", "storage": "small"}, "storage"),
        (
            "PUT",
            "/volumes",
            {"volumes": [{"type": "bucket", "source": "alice/b", "mount_path": "/d"}]},
            "mount_path",
        ),
        ("PUT", "/volumes", [{"type": "bucket", "source": "alice/b", "mountPath": "/d"}], "object"),
    ],
)
async def test_a_misspelt_or_mistyped_body_is_refused(
    aiospace_emulator_factory: EmulatorFactory, method: str, route: str, body: Any, named: str
) -> None:
    emu = await aiospace_emulator_factory(speed=1)
    before = await _runtime(emu)
    status, answer = await _call(emu, method, BASE + route, json=body)
    _refused(status, answer, named)
    assert await _runtime(emu) == before


@pytest.mark.parametrize(
    ("method", "route"),
    [("PUT", "/hardware"), ("POST", "/volumes"), ("PUT", "/secrets"), ("POST", "/runtime")],
)
async def test_a_wrong_method_is_a_405(
    aiospace_emulator_factory: EmulatorFactory, method: str, route: str
) -> None:
    emu = await aiospace_emulator_factory(speed=1)
    status, body = await _call(emu, method, BASE + route, json={})
    assert status == 405, body


# ---------------------------------------------------------------- answers: the recorded runtime's shape


def _check_runtime_shape(runtime: Any) -> None:
    """Keys and JSON types of ``tests/samples/18-get-runtime.json``, nullable where it may be."""
    assert isinstance(runtime, dict)
    assert set(runtime) <= {"stage", "hardware", "storage", "gcTimeout", "replicas", "devMode", "domains"} | {
        "errorMessage",
        "volumes",
    }, runtime
    assert isinstance(runtime["stage"], str)
    assert set(runtime["hardware"]) == {"current", "requested"}
    for value in runtime["hardware"].values():
        assert value is None or isinstance(value, str)
    assert runtime["storage"] is None or isinstance(runtime["storage"], str)
    if "gcTimeout" in runtime:
        assert type(runtime["gcTimeout"]) is int
    assert set(runtime["replicas"]) in ({"requested"}, {"requested", "current"})
    assert all(type(n) is int for n in runtime["replicas"].values())
    assert type(runtime["devMode"]) is bool
    assert all(
        set(d) == {"domain", "stage"} and all(isinstance(x, str) for x in d.values())
        for d in runtime["domains"]
    )


async def test_every_runtime_answer_has_the_recorded_shape(
    aiospace_emulator_factory: EmulatorFactory,
) -> None:
    emu = await aiospace_emulator_factory(speed=1)
    volume = {"type": "bucket", "source": "alice/bucket", "mountPath": "/data"}
    calls: list[tuple[str, str, Any]] = [
        ("GET", "/runtime", None),
        ("POST", "/hardware", {"flavor": "t4-small", "sleepTimeSeconds": 3600}),
        ("POST", "/sleeptime", {"seconds": -1}),
        ("POST", "/dev-mode", {"enabled": True}),
        ("POST", "/storage", {"tier": "small"}),
        ("DELETE", "/storage", None),
        ("PUT", "/volumes", {"volumes": [volume]}),
        ("DELETE", "/volumes", None),
        ("POST", "/pause", None),
        ("POST", "/restart", None),
    ]
    for method, route, body in calls:
        status, answer = await _call(emu, method, BASE + route, json=body)
        assert status == 200, (route, answer)
        _check_runtime_shape(answer)

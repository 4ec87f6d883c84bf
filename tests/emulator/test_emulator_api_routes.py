"""The Hub API's routes on the emulator (``aiospace/emulator/api_routes.py``): they catch a
client's wire mistakes instead of silently accepting them, and odd values never reach the world.

The emulator shares the route table with the client, never its encoding: a wrong key, a value of
the wrong type, a body sent as text, a body on a route that takes none, an argument
sent in the query instead of the body (or the other way round) must each be a 400
naming the problem, and change nothing. Every request here is sent with plain aiohttp
(the client's encoder plays no part) to an emulator over loopback HTTP; those mistakes are
marked ``careless``. The cases marked ``hostile`` send, over raw loopback HTTP
(:mod:`raw_http`), values a client should never send (a non-ASCII digit, a sleep time too big
for a float, a volume type that is not a string) or loops of creates that would grow the world
without bound: each is a JSON 400 that changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from raw_http import assert_json_error, exchange, request_bytes

from aiospace.emulator import Emulator, operations, state
from aiospace.emulator.state import HubError

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


@pytest.mark.careless
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


@pytest.mark.careless
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


@pytest.mark.careless
@pytest.mark.parametrize("kwargs", [{}, {"json": {}}], ids=["no-body", "empty-object"])
async def test_an_empty_body_where_none_is_taken_is_fine(
    aiospace_emulator_factory: EmulatorFactory, kwargs: dict[str, Any]
) -> None:
    emu = await aiospace_emulator_factory(speed=1)
    status, body = await _call(emu, "POST", BASE + "/pause", **kwargs)
    assert status == 200, body
    assert body["stage"] == "PAUSED"


# ---------------------------------------------------------------- gap 3: arguments in the query


@pytest.mark.careless
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


@pytest.mark.careless
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


@pytest.mark.careless
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


@pytest.mark.careless
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


# ---------------------------------------------------------------- values too big, too odd or too many


@pytest.mark.hostile
async def test_a_limit_that_is_a_non_ascii_digit_is_a_400(aiospace_emulator: Emulator) -> None:
    """``"²".isdigit()`` is true but ``int("²")`` fails: it was a 500."""
    hub = aiospace_emulator
    answer = await exchange(hub.port, request_bytes("GET", "/api/spaces?limit=%C2%B2"))
    assert "limit" in assert_json_error(answer, 400)["error"]
    assert hub.world.stats.by_status.get(500, 0) == 0


@pytest.mark.hostile
async def test_a_limit_of_5000_digits_is_the_largest_page(aiospace_emulator: Emulator) -> None:
    """Python refuses ``int()`` of more than 4,300 digits: it was a 500; any limit past the maximum is it."""
    hub = aiospace_emulator
    answer = await exchange(hub.port, request_bytes("GET", "/api/spaces?limit=" + "9" * 5000))
    assert answer.status == 200, answer.body[:300]
    assert len(answer.json()) == 4  # the demo world's public Spaces, all on one page
    for limit in ("0", "000", "-1", "1e3", "+5", " 5", "٣"):  # the last one an Arabic-Indic digit
        answer = await exchange(hub.port, request_bytes("GET", "/api/spaces?limit=" + quote(limit)))
        assert_json_error(answer, 400)
    answer = await exchange(hub.port, request_bytes("GET", "/api/spaces?limit=0002"))
    assert answer.status == 200 and len(answer.json()) == 2


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/spaces/alice/gpu-app/sleeptime", b'{"seconds": 1' + b"0" * 400 + b"}"),
        (
            "/api/spaces/alice/gpu-app/hardware",
            b'{"flavor": "t4-small", "sleepTimeSeconds": 1' + b"0" * 30 + b"}",
        ),
        (
            "/api/spaces/alice/demo/duplicate",
            b'{"repository": "alice/d2", "hardware": "t4-small", "sleepTimeSeconds": 1' + b"0" * 30 + b"}",
        ),
    ],
    ids=["sleeptime", "hardware", "duplicate"],
)
async def test_a_sleep_time_too_big_for_a_float_is_a_400(
    aiospace_emulator: Emulator, path: str, body: bytes
) -> None:
    """Such a sleep time was stored, then overflowed when the sleep timer was armed (a 500)."""
    hub = aiospace_emulator
    headers = {**hub.headers_for("alice"), "Content-Type": "application/json"}
    raw = request_bytes("POST", path, body, headers)
    assert "sleep" in assert_json_error(await exchange(hub.port, raw), 400)["error"].lower()
    assert hub.world.stats.by_status.get(500, 0) == 0


@pytest.mark.hostile
@pytest.mark.parametrize(
    "body",
    [
        b'{"volumes": [{"type": ["bucket"], "source": "alice/b", "mountPath": "/data"}]}',
        b'{"volumes": [{"type": {"a": 1}, "source": "alice/b", "mountPath": "/data"}]}',
    ],
)
async def test_a_volume_type_that_is_not_a_string_is_a_400(aiospace_emulator: Emulator, body: bytes) -> None:
    hub = aiospace_emulator
    raw = request_bytes("PUT", "/api/spaces/alice/demo/volumes", body, hub.headers_for("alice"))
    assert_json_error(await exchange(hub.port, raw), 400)


@pytest.mark.hostile
async def test_creating_a_space_with_a_sleep_time_too_big_for_a_float_is_a_400(
    aiospace_emulator: Emulator,
) -> None:
    hub = aiospace_emulator
    body = (
        b'{"name": "big", "type": "space", "sdk": "gradio", "hardware": "t4-small", "sleepTimeSeconds": 1'
        + b"0" * 30
        + b"}"
    )
    headers = {**hub.headers_for("alice"), "Content-Type": "application/json"}
    raw = request_bytes("POST", "/api/repos/create", body, headers)
    assert "sleep" in assert_json_error(await exchange(hub.port, raw), 400)["error"]
    assert "alice/big" not in hub.world.spaces


@pytest.mark.hostile
async def test_a_loop_of_creates_or_adds_stops_at_the_caps(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spaces, secrets and variables had no cap: a loop of calls grew the emulator's memory forever.

    The caps (10,000 Spaces, 1,000 secrets or variables a Space) are lowered here to keep it fast.
    """
    monkeypatch.setattr(operations, "MAX_SPACES", len(aiospace_emulator.world.spaces) + 3)
    monkeypatch.setattr(operations, "MAX_KEYS", 5)
    hub = aiospace_emulator
    async with aiohttp.ClientSession(hub.url, headers=hub.headers_for("alice")) as session:

        async def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            async with session.post(path, json=body) as response:
                return response.status, await response.json()

        statuses = [
            (await post("/api/repos/create", {"name": f"n{n}", "type": "space", "sdk": "gradio"}))[0]
            for n in range(5)
        ]
        assert statuses == [200, 200, 200, 400, 400]
        status, answer = await post("/api/spaces/alice/demo/duplicate", {"repository": "alice/copy"})
        assert status == 400 and "at most" in answer["error"]
        for kind in ("secrets", "variables"):
            statuses = [
                (await post(f"/api/spaces/alice/demo/{kind}", {"key": f"K{n}", "value": "v"}))[0]
                for n in range(7)
            ]
            assert statuses == [200] * 5 + [400] * 2
            assert (await post(f"/api/spaces/alice/demo/{kind}", {"key": "K0", "value": "w"}))[0] == 200
    space = hub.world.space("alice/demo")
    assert len(space.secrets) == len(space.variables) == 5
    assert "alice/n3" not in hub.world.spaces and "alice/copy" not in hub.world.spaces
    too_many = {f"K{n}": "v" for n in range(6)}
    with pytest.raises(HubError, match="at most 5 variables"):
        hub.world.add_space("alice/vars", variables=too_many)
    assert operations.MAX_SPACES - 3 == 5 and state.MAX_SPACES == 100_000 and state.MAX_KEYS == 1_000

"""The emulator's admin routes (``aiospace/emulator/admin_routes.py``) against odd or abusive bodies.

Over raw loopback HTTP (:mod:`raw_http`): each odd value (a non-ASCII digit, a number too big
for a float, infinity, a list where a name goes) is a JSON 400 (or 404) that changes nothing,
and the API keeps answering; faults are capped in number and in latency.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import attrs
import pytest
from raw_http import admin_headers, assert_json_error, exchange, request_bytes

from aiospace.emulator import Emulator, faults


@pytest.mark.hostile
async def test_deleting_a_fault_whose_id_is_a_non_ascii_digit_is_a_404(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    for fault_id in ("%C2%B2", "9" * 5000, "-1", "%D9%A3"):
        answer = await exchange(
            hub.port, request_bytes("DELETE", f"/_emulator/faults/{fault_id}", headers=admin_headers(hub))
        )
        assert_json_error(answer, 404)
    answer = await exchange(
        hub.port, request_bytes("GET", "/_emulator/events?after=%C2%B2", headers=admin_headers(hub))
    )
    assert_json_error(answer, 400)


@pytest.mark.hostile
@pytest.mark.parametrize(
    "body",
    [
        {"name": "alice"},  # a user's name
        {"name": "a b"},
        {"name": ""},
        {"name": "-x"},
        {"name": "x" * 200},
        {"name": "acme", "members": [5]},
        {"name": "acme", "members": ["not a name"]},
    ],
    ids=["user-name", "space", "empty", "leading-dash", "too-long", "member-not-str", "member-bad"],
)
async def test_adding_an_org_with_a_taken_or_bad_name_is_a_400(
    aiospace_emulator: Emulator, body: Any
) -> None:
    hub = aiospace_emulator
    raw = request_bytes("POST", "/_emulator/orgs", json.dumps(body).encode(), admin_headers(hub))
    assert_json_error(await exchange(hub.port, raw), 400)
    assert hub.world.orgs == {}
    ok = request_bytes(
        "POST", "/_emulator/orgs", b'{"name": "acme", "members": ["alice"]}', admin_headers(hub)
    )
    assert (await exchange(hub.port, ok)).status == 201
    assert hub.world.orgs == {"acme": {"alice"}}


@pytest.mark.hostile
@pytest.mark.parametrize(
    "body",
    [
        b'{"quota": Infinity}',
        b'{"quota": 1e400}',
        b'{"quota": 5.5}',
        b'{"quota": true}',
        b'{"quota": 0}',
        b'{"quota": 10000000000000000000000000}',
        b'{"window": Infinity}',
        b'{"window": -Infinity}',
        b'{"window": 1e400}',
        b'{"window": 1e-320}',
        b'{"window": 0}',
        b'{"window": "60"}',
    ],
)
async def test_an_infinite_or_out_of_bounds_rate_limit_is_a_400_and_the_api_keeps_answering(
    aiospace_emulator: Emulator, body: bytes
) -> None:
    """An infinite window used to be accepted, and every API request was then a 500."""
    hub = aiospace_emulator
    assert_json_error(
        await exchange(hub.port, request_bytes("POST", "/_emulator/ratelimit", body, admin_headers(hub))), 400
    )
    assert (hub.world.limiter.quota, hub.world.limiter.window) == (10_000, 300.0)
    answer = await exchange(hub.port, request_bytes("GET", "/api/spaces/alice/demo/runtime"))
    assert answer.status == 200
    assert answer.headers["ratelimit-policy"] == '"fixed window";"api";q=10000;w=300'


@pytest.mark.hostile
@pytest.mark.parametrize(
    "body",
    [
        b'{"build_seconds": 1' + b"0" * 400 + b"}",
        b'{"log_interval": 0.00001}',
        b'{"crash_after": NaN}',
        b'{"start_seconds": 7, "stuck": "yes"}',  # all or nothing: start_seconds is not changed either
    ],
)
async def test_behaviour_values_that_would_overflow_or_flood_are_refused(
    aiospace_emulator: Emulator, body: bytes
) -> None:
    """A 400-digit duration overflowed a float later (a 500); a tiny log interval hung the lifecycle."""
    hub = aiospace_emulator
    before = hub.world.space("alice/demo").behaviour
    snapshot = attrs.asdict(before)
    raw = request_bytes("POST", "/_emulator/spaces/alice/demo/behaviour", body, admin_headers(hub))
    assert_json_error(await exchange(hub.port, raw), 400)
    assert attrs.asdict(hub.world.space("alice/demo").behaviour) == snapshot


@pytest.mark.hostile
@pytest.mark.parametrize(
    "body", [b'{"kind": "latency", "latency": 1' + b"0" * 400 + b"}", b'{"kind": "error", "route": ["x"]}']
)
async def test_a_fault_spec_with_a_huge_int_or_a_list_route_is_a_400(
    aiospace_emulator: Emulator, body: bytes
) -> None:
    hub = aiospace_emulator
    assert_json_error(
        await exchange(hub.port, request_bytes("POST", "/_emulator/faults", body, admin_headers(hub))), 400
    )
    assert hub.world.faults.faults == []


@pytest.mark.hostile
@pytest.mark.parametrize(
    "body",
    [
        b'{"use": 1' + b"0" * 400 + b"}",
        b'{"base": 1e300}',
        b'{"resets_in": 1e300}',
        b'{"resets_in": 100000000000000}',
        b'{"overquota_used": Infinity}',
        b'{"remaining": -1}',
    ],
)
async def test_zero_gpu_figures_that_would_overflow_are_a_400(
    aiospace_emulator: Emulator, body: bytes
) -> None:
    """A huge int overflowed ``math.isfinite`` (a 500); a reset far away made every quota read a 500."""
    hub = aiospace_emulator
    raw = request_bytes("POST", "/_emulator/zero-gpu/alice", body, admin_headers(hub))
    assert_json_error(await exchange(hub.port, raw), 400)
    answer = await exchange(
        hub.port, request_bytes("GET", "/api/spaces/zero-gpu/quota", headers=hub.headers_for("alice"))
    )
    assert answer.status == 200
    assert answer.json()["base"] == 2400


@pytest.mark.hostile
@pytest.mark.aiospace_emulator(speed=50)
async def test_faults_are_capped_in_number_and_in_latency(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    admin = {"Authorization": f"Bearer {hub.admin_token}"}
    async with aiohttp.ClientSession(headers=admin) as session:

        async def add_fault(spec: dict[str, Any]) -> tuple[int, Any]:
            async with session.post(f"{hub.url}/_emulator/faults", json=spec) as answer:
                return answer.status, await answer.json()

        # A latency of ages would hold every request until the emulator stops.
        for field in ("latency", "jitter"):
            status, body = await add_fault({"kind": "latency", field: 1e9})
            assert status == 400 and "at most 3600" in body["error"]
        status, body = await add_fault({"kind": "latency", "latency": 3600, "rate": 0})
        assert status == 201 and body["latency"] == 3600
        for _ in range(faults.MAX_FAULTS - 1):
            assert (await add_fault({"kind": "error", "rate": 0}))[0] == 201
        status, body = await add_fault({"kind": "error", "rate": 0})
        assert status == 400 and "at most 100 faults" in body["error"]
    assert len(hub.world.faults.faults) == faults.MAX_FAULTS

"""The emulator's rate limiter (``aiospace/emulator/ratelimit.py``) against callers who try to
slip past it: the auth scheme written another way, made-up tokens, counters of past windows."""

from __future__ import annotations

import pytest
from raw_http import exchange, request_bytes

from aiospace.emulator import Emulator, World


@pytest.mark.hostile
@pytest.mark.parametrize(
    "spelling",
    [
        "Bearer hf_alice",
        "bearer hf_alice",
        "BEARER hf_alice",
        "Bearer  hf_alice",
        "Bearer\thf_alice",
        " Bearer hf_alice ",
    ],
)
@pytest.mark.aiospace_emulator(quota=3)
async def test_writing_the_auth_scheme_another_way_does_not_escape_the_rate_limit(
    aiospace_emulator: Emulator, spelling: str
) -> None:
    hub = aiospace_emulator
    path = "/api/spaces/alice/private-app/runtime"  # private: only alice's token reads it
    spellings = ["Bearer hf_alice", spelling, "bearer hf_alice", "Bearer  hf_alice"]
    statuses = []
    for auth in spellings:
        answer = await exchange(hub.port, request_bytes("GET", path, headers={"Authorization": auth}))
        statuses.append(answer.status)
    assert statuses == [200, 200, 200, 429]


@pytest.mark.hostile
@pytest.mark.aiospace_emulator(quota=2)
async def test_a_token_naming_nobody_is_counted_per_address(aiospace_emulator: Emulator) -> None:
    """Made-up tokens (each a 401) don't get a fresh quota each, nor a counter each."""
    hub = aiospace_emulator
    statuses = []
    for n in range(4):
        auth = {"Authorization": f"Bearer made-up-{n}"}
        statuses.append((await exchange(hub.port, request_bytes("GET", "/api/spaces", headers=auth))).status)
    assert statuses == [401, 401, 429, 429]
    assert len(hub.world.limiter) == 1


@pytest.mark.hostile
def test_rate_limit_counters_of_past_windows_are_pruned() -> None:
    """One counter per token and window was kept forever."""
    from aiospace._clock import ScaledClock

    world = World(ScaledClock(1), window=10)
    for n in range(1000):
        world.limiter.hit(f"token:t{n}", now=5.0)
    assert len(world.limiter) == 1000
    decision = world.limiter.hit("token:t0", now=15.0)  # the next window
    assert decision.allowed and decision.remaining == world.limiter.quota - 1
    assert len(world.limiter) == 1

"""The client's request budget (``aiospace/_http/budget.py``): what a rate-limit policy may ask of it."""

from __future__ import annotations

import anyio
import pytest
from hostile_hub import (
    BASE,
    QUICK,
    REPO,
    RUNNING,
    HostileHub,
    make_client,
)

from aiospace import SpaceStage
from aiospace._http.budget import MAX_POLICY_WINDOW


@pytest.mark.hostile
@pytest.mark.parametrize("window", ["1e300", "1e12"])
async def test_a_policy_window_of_ages_does_not_stop_a_watch(hostile: HostileHub, window: str) -> None:
    # "Two requests every 10^300 seconds": the budget would wait about that long between polls.
    headers = {"RateLimit-Policy": f'"fixed";q=2;w={window}', "RateLimit": '"api";r=1;t=1'}
    building = HostileHub.json({"stage": "BUILDING"}, headers=headers)
    hostile.play("GET", f"{BASE}/runtime", building, HostileHub.json(RUNNING, headers=headers), times=3)
    async with make_client(hostile) as client:
        with anyio.fail_after(10):
            runtime = await client.wait_for_space(REPO, cadence=QUICK)
        assert client.rate_limit is not None and client.rate_limit.window == float(window)  # as the Hub said
        assert client.budget.window <= MAX_POLICY_WINDOW
    assert runtime.stage == SpaceStage.RUNNING
    assert hostile.count(f"{BASE}/runtime") >= 4

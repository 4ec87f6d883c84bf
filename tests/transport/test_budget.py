"""The client's request budget (``aiospace/_http/budget.py``): never more than the quota in a
window, paused by a 429, following the Hub's headers; and (marked ``hostile``) a policy window
of ages."""

from __future__ import annotations

from datetime import datetime, timezone

import anyio
import pytest
from hostile_hub import BASE, QUICK, REPO, RUNNING, HostileHub, make_client

from aiospace import SpaceStage
from aiospace._http.budget import MAX_POLICY_WINDOW, RateBudget


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


class ManualClock:
    """A clock that only moves when told (sleep advances it)."""

    speed = 1.0

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return datetime.fromtimestamp(self.t, timezone.utc)

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


@pytest.mark.parametrize(("quota", "window"), [(10, 60.0), (100, 300.0), (1000, 300.0)])
async def test_budget_never_exceeds_a_fixed_window(quota: int, window: float) -> None:
    clock = ManualClock()
    budget = RateBudget(clock, quota=quota, window=window)
    sent: list[float] = []
    while clock.t < window * 4:
        await budget.acquire()
        sent.append(clock.t)
    for start in range(4):
        in_window = [s for s in sent if start * window <= s < (start + 1) * window]
        assert len(in_window) <= quota
    # ... and it does use most of it.
    assert len(sent) >= quota * 4 * 0.85


async def test_budget_pauses_on_429_and_follows_headers() -> None:
    clock = ManualClock()
    budget = RateBudget(clock, quota=1000, window=300)
    budget.observe(None, 42.0, 429)
    assert budget.delay() == pytest.approx(42.0)
    from aiospace.models import RateLimit

    budget.observe(RateLimit(remaining=500, reset=100, quota=50, window=60), None, 200)
    assert (budget.quota, budget.window) == (50, 60)
    budget.observe(RateLimit(remaining=0, reset=100, quota=50, window=60), None, 200)
    assert budget.delay() >= 99

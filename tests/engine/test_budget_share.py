"""A Watcher's budget share: never more than its fraction of the quota in any window, and spent."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import anyio
import attrs
import pytest

from aiospace import Cadence, InvalidArgumentError, SpaceClient, SpaceStage
from aiospace._http.budget import BudgetShare, RateBudget
from aiospace.emulator import Emulator


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


@pytest.mark.parametrize(
    ("quota", "window", "fraction"), [(10, 60.0, 0.5), (1000, 300.0, 0.5), (1000, 300.0, 0.2)]
)
async def test_a_share_never_exceeds_its_fraction_of_any_window(
    quota: int, window: float, fraction: float
) -> None:
    clock = ManualClock()
    parent = RateBudget(clock, quota=quota, window=window)
    share = BudgetShare(parent, fraction)
    sent: list[float] = []
    while clock.t < window * 4:
        await share.acquire()
        sent.append(clock.t)
    for start in range(4):
        in_window = sum(1 for s in sent if start * window <= s < (start + 1) * window)
        assert in_window <= quota * fraction + 1e-9
    assert len(sent) >= quota * fraction * 4 * 0.85, "and it does spend most of it"
    assert parent._tokens <= parent.burst - len(sent) + parent.rate * clock.t + 1e-6, "the parent paid too"


async def test_a_share_waits_for_the_parent() -> None:
    clock = ManualClock()
    parent = RateBudget(clock, quota=100, window=100)
    share = BudgetShare(parent, 1.0)
    parent.observe(None, 30.0, 429)  # the Hub said: come back in 30 s
    await share.acquire()
    assert clock.t == pytest.approx(30.0)


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5, float("nan"), True, "half"])
def test_a_bad_share_is_refused(fraction: Any) -> None:
    client = SpaceClient(token=False, endpoint="http://127.0.0.1:9")
    with pytest.raises(InvalidArgumentError, match="budget_share"):
        client.watcher(budget_share=fraction)


def settled_seed(count: int) -> dict[str, Any]:
    return {
        "users": {"fleet": "hf_fleet"},
        "spaces": [{"id": f"fleet/s{i:02d}", "sdk": "gradio", "hardware": "cpu-basic"} for i in range(count)],
    }


@attrs.frozen
class Spent:
    """What a watcher sent in a run: requests the Hub counted (and refused), Spaces seen, Hub seconds."""

    total: int
    limited: int
    seen: set[str]
    elapsed: float
    #: The watcher's share of the quota per window, and its burst.
    quota: float
    burst: float


async def _requests_in(share: float | None, *, windows: int = 3, spaces: int = 12, quota: int = 120) -> Spent:
    window = 60.0
    names = [f"fleet/s{i:02d}" for i in range(spaces)]
    async with Emulator(speed=200, seed=settled_seed(spaces), quota=quota, window=window) as fleet:
        async with SpaceClient(endpoint=fleet.url, token="hf_fleet", clock=fleet.clock) as client:
            seen: set[str] = set()
            cadence = Cadence(fast=1.0, slow=30.0, jitter=0.1)
            start = fleet.clock.now()
            async with client.watcher(cadence=cadence, batch=False, seed=3, budget_share=share) as watcher:
                watcher.add(*names)
                with anyio.move_on_after(windows * window / fleet.clock.speed):
                    async for transition in watcher:
                        seen.add(transition.repo_id)
                        assert transition.current.stage == SpaceStage.RUNNING
            # The Hub time that really passed: under CPU load the deadline fires late.
            elapsed = fleet.clock.now() - start
            return Spent(
                fleet.world.stats.total,
                sum(fleet.world.stats.rate_limited.values()),
                seen,
                elapsed,
                watcher.budget.quota,
                watcher.budget.burst,
            )


async def test_a_watcher_spends_its_share_and_no_more() -> None:
    # A small quota and a few Spaces: the share is ~90 requests per real second at speed 200,
    # which a loaded machine still sends (it was ~200), and polling by the cadence alone
    # would send about half the lower bound (it can't pass for spending the share).
    spent = await _requests_in(0.5, spaces=4, quota=60)
    assert spent.seen == {f"fleet/s{i:02d}" for i in range(4)}
    assert spent.limited == 0
    assert spent.quota == 0.5 * 60
    allowed = spent.quota * spent.elapsed / 60.0  # half of each window's 60 requests, in the time that passed
    assert spent.total <= allowed + spent.burst + 1, "never above the share (its burst included)"
    assert spent.total >= 0.8 * spent.quota * 3, "the share is spent, not left unused"


async def test_a_watcher_by_its_cadence_leaves_the_budget_alone() -> None:
    spent = await _requests_in(None, windows=4)
    assert len(spent.seen) == 12 and spent.limited == 0
    # Settled Spaces back off to one poll per 30 s: the cadence sets the pace, well under
    # the 80% of the quota such a watcher may use.
    assert spent.total < 0.5 * 0.8 * 120 * 4


def test_a_building_space_is_polled_at_the_building_interval() -> None:
    import random

    from aiospace import SpaceRuntime
    from aiospace.engine.transitions import SpaceTracker

    tracker = SpaceTracker("a/b", Cadence(fast=1.0, slow=30.0, jitter=0.0, building=10.0), random.Random(0))
    tracker.observe(SpaceRuntime(SpaceStage.BUILDING), 0.0)
    assert tracker.next_due == 10.0, "minutes of building: no need to look every second"
    tracker.observe(SpaceRuntime(SpaceStage.APP_STARTING), 10.0)
    assert tracker.next_due == 11.0, "starting: RUNNING is seconds away, look at the fast interval"
    tracker.wrote(11.0)  # a write through this client (a restart): fast for a while, building or not
    tracker.observe(SpaceRuntime(SpaceStage.BUILDING), 12.0)
    assert tracker.next_due == 13.0
    with pytest.raises(InvalidArgumentError, match="building >= fast"):
        Cadence(fast=2.0, building=1.0)

"""The watch engine's pure parts: change detection, tracking, pacing, coalescing."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiospace import SpaceClient, SpaceHardware, SpaceRuntime, SpaceStage
from aiospace._http.budget import RateBudget
from aiospace.engine.transitions import Cadence, Change, SpaceTracker, Transition, detect_changes
from aiospace.engine.watcher import Watcher


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


def rt(stage: str, hw: str | None = "cpu-basic", req: str | None = "cpu-basic") -> SpaceRuntime:
    return SpaceRuntime(
        stage=SpaceStage(stage),
        hardware=None if hw is None else SpaceHardware(hw),
        requested_hardware=None if req is None else SpaceHardware(req),
    )


def test_first_observation_is_initial() -> None:
    assert detect_changes(None, rt("RUNNING")) == {Change.INITIAL}


def test_same_state_is_no_change_even_if_raw_differs() -> None:
    a = SpaceRuntime(stage=SpaceStage.RUNNING, raw={"domains": [1]})
    b = SpaceRuntime(stage=SpaceStage.RUNNING, raw={"domains": [2]})
    assert detect_changes(a, b) == frozenset()


def test_stage_and_hardware_changes() -> None:
    before = rt("RUNNING", "cpu-basic", "t4-small")
    after = rt("RUNNING", "t4-small", "t4-small")
    assert detect_changes(before, after) == {Change.HARDWARE, Change.CONVERGED}
    # From no hardware at all (a first build, a paused Space) to the requested one: converged too.
    assert detect_changes(rt("BUILDING", None), rt("RUNNING")) == {
        Change.STAGE,
        Change.HARDWARE,
        Change.CONVERGED,
    }
    assert detect_changes(rt("RUNNING"), rt("RUNNING", "cpu-basic", "t4-small")) == {
        Change.REQUESTED_HARDWARE
    }


def test_converged_needs_a_prior_difference() -> None:
    assert Change.CONVERGED not in detect_changes(rt("BUILDING"), rt("RUNNING"))
    # A static Space (nothing requested) never "converges".
    assert Change.CONVERGED not in detect_changes(rt("BUILDING", None, None), rt("RUNNING", None, None))


def test_tracker_polls_fast_while_transitional_and_backs_off_when_settled() -> None:
    cadence = Cadence(fast=1.0, slow=20.0, backoff=2.0, jitter=0.0)
    tracker = SpaceTracker("a/b", cadence, random.Random(0))
    tracker.observe(rt("BUILDING", None), 0.0)
    assert tracker.next_due == 1.0
    tracker.observe(rt("RUNNING"), 1.0)  # a change: fast again
    assert tracker.interval == 1.0
    intervals = []
    now = 1.0
    for _ in range(8):
        now = tracker.next_due
        tracker.observe(rt("RUNNING"), now)
        intervals.append(tracker.interval)
    assert intervals == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0, 20.0, 20.0]
    tracker.wrote(now)
    assert tracker.next_due <= now + 1.0
    tracker.observe(rt("RUNNING"), now + 1)
    assert tracker.interval == 1.0  # still boosted after the write


def test_failed_poll_is_never_a_transition() -> None:
    tracker = SpaceTracker("a/b", Cadence(jitter=0.0), random.Random(0))
    tracker.observe(rt("RUNNING"), 0.0)
    tracker.fail(RuntimeError("boom"), 1.0, retry_after=30.0)
    assert tracker.next_due >= 31.0
    assert tracker.failures == 1
    assert tracker.observe(rt("RUNNING"), 31.0) is None
    assert tracker.failures == 0


STAGES = ["BUILDING", "APP_STARTING", "RUNNING", "RUNNING_BUILDING", "PAUSED", "BUILD_ERROR", "SLEEPING"]
FLAVORS = [None, "cpu-basic", "t4-small", "a10g-large"]
states = st.builds(rt, st.sampled_from(STAGES), st.sampled_from(FLAVORS), st.sampled_from(FLAVORS[1:]))


def key(r: SpaceRuntime) -> tuple[object, ...]:
    return (r.stage, r.hardware, r.requested_hardware)


@settings(max_examples=300, deadline=None)
@given(truth=st.lists(states, min_size=1, max_size=30), data=st.data())
def test_reported_states_are_a_subsequence_ending_in_the_latest_poll(
    truth: list[SpaceRuntime], data: st.DataObject
) -> None:
    """Whatever the poll schedule, transitions follow the true sequence and end at the last poll."""
    # A poll schedule: non-decreasing indices into the true sequence (a poll can repeat a state).
    picks = data.draw(st.lists(st.integers(0, len(truth) - 1), min_size=1, max_size=60))
    schedule = sorted(picks)
    tracker = SpaceTracker("a/b", Cadence(), random.Random(0))
    reported: list[Transition] = []
    for t, index in enumerate(schedule):
        transition = tracker.observe(truth[index], float(t))
        if transition is not None:
            reported.append(transition)
    assert reported, "the first poll is always reported"
    assert reported[0].is_initial
    assert key(reported[-1].current) == key(truth[schedule[-1]])
    # Subsequence of the truth (in order), and every change is real.
    position = 0
    keys = [key(s) for s in truth]
    for transition in reported:
        while position < len(keys) and keys[position] != key(transition.current):
            position += 1
        assert position < len(keys), "reported a state that is not next in the truth"
        if transition.previous is not None:
            assert transition.changes == detect_changes(transition.previous, transition.current)
            assert transition.changes, "reported a transition with no change"


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


def test_watcher_buffer_coalesces_but_keeps_the_latest() -> None:
    client = SpaceClient(token=False, endpoint="http://127.0.0.1:9")
    watcher = Watcher(client, buffer=2)
    stages = ["BUILDING", "APP_STARTING", "RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING"]
    previous = None
    for t, stage in enumerate(stages):
        current = rt(stage)
        watcher._deliver(Transition("a/b", previous, current, detect_changes(previous, current), float(t)))
        previous = current
    queue = watcher._pending["a/b"]
    assert len(queue) == 2
    assert queue[-1].current.stage == SpaceStage.RUNNING_APP_STARTING
    assert queue[0].previous is None and queue[0].is_initial
    assert watcher.stats.coalesced == 3

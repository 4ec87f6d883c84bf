"""What the watch engine reports and when it polls (``aiospace/engine/transitions.py``, no I/O):
change detection, tracking, pacing, merging."""

from __future__ import annotations

import math
import random
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiospace import (
    Cadence,
    Change,
    InvalidArgumentError,
    SpaceHardware,
    SpaceRuntime,
    SpaceStage,
    Transition,
)
from aiospace.engine.transitions import DEFAULT_STALL_AFTER, SpaceTracker, detect_changes, stall_limits


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
    # From no hardware at all (a first build, a paused Space) to the requested one: converged
    # too, and a stage change, not a hardware one (it ran on no flavor before).
    assert detect_changes(rt("BUILDING", None), rt("RUNNING")) == {Change.STAGE, Change.CONVERGED}
    # Stopping (a pause, a failed build) leaves the flavor for none: a stage change only.
    assert detect_changes(rt("RUNNING", "t4-small", "t4-small"), rt("PAUSED", None, "t4-small")) == {
        Change.STAGE
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


# --------------------------------------------------------------------------- merges


def _transition(previous: SpaceRuntime | None, current: SpaceRuntime, at: float) -> Transition:
    return Transition("user/x", previous, current, detect_changes(previous, current), at)


def test_a_merge_that_changes_nothing_is_dropped() -> None:
    running, rebuilding = rt("RUNNING"), rt("RUNNING_BUILDING")
    there = _transition(running, rebuilding, 1.0)
    back = _transition(rebuilding, running, 2.0)
    assert Change.STAGE in there.changes and Change.STAGE in back.changes
    assert there.merge(back) is None  # RUNNING -> RUNNING_BUILDING -> RUNNING: nothing happened


def test_a_merge_is_recomputed_from_its_ends() -> None:
    cpu = rt("RUNNING")
    asked = rt("RUNNING_BUILDING", "cpu-basic", "t4-small")
    moved = rt("RUNNING", "t4-small", "t4-small")
    merged = _transition(cpu, asked, 1.0).merge(_transition(asked, moved, 2.0))
    assert merged is not None
    assert (merged.previous, merged.current, merged.observed_at) == (cpu, moved, 2.0)
    # Both ends converged, both RUNNING: the hardware changed, nothing else.
    assert merged.changes == {Change.HARDWARE, Change.REQUESTED_HARDWARE}


# --------------------------------------------------------------------------- a cadence misused


@pytest.mark.careless
def test_max_bad_answers_is_checked() -> None:
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(InvalidArgumentError):
            Cadence(max_bad_answers=bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- stalls


S = SpaceStage


def stage_rt(stage: str, error_message: str | None = None) -> SpaceRuntime:
    return SpaceRuntime(SpaceStage(stage), error_message=error_message)


def tracker(limits: float | None = 30.0) -> SpaceTracker:
    return SpaceTracker("a/b", Cadence(), random.Random(1), stall_after=stall_limits(limits))


def test_default_limits_cover_every_transitional_stage() -> None:
    assert set(DEFAULT_STALL_AFTER) == {s for s in SpaceStage if s.is_transitional}
    assert DEFAULT_STALL_AFTER[S.BUILDING] == 1800 and DEFAULT_STALL_AFTER[S.APP_STARTING] == 1800


def test_stall_limits() -> None:
    assert stall_limits(None) == {}
    assert stall_limits(60) == dict.fromkeys(DEFAULT_STALL_AFTER, 60.0)
    custom = stall_limits({"building": 600, S.APP_STARTING: math.inf})
    assert custom[S.BUILDING] == 600 and custom[S.APP_STARTING] == math.inf
    assert custom[S.RUNNING_BUILDING] == DEFAULT_STALL_AFTER[S.RUNNING_BUILDING]


@pytest.mark.careless
@pytest.mark.parametrize(
    "bad", [0, -5, True, "20m", math.nan, {"RUNNING": 10}, {"NOPE": 10}, {"BUILDING": 0}]
)
def test_bad_stall_limits_are_refused(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="stall_after"):
        stall_limits(bad)  # type: ignore[arg-type]


def test_a_stall_is_reported_once_per_stay() -> None:
    t = tracker(30)
    assert t.observe(stage_rt("BUILDING"), 0) is not None  # initial
    assert t.observe(stage_rt("BUILDING"), 29) is None
    stall = t.observe(stage_rt("BUILDING"), 30)
    assert stall is not None and stall.changes == {Change.STALLED} and stall.stalled
    assert t.stalled_for == 30
    assert t.observe(stage_rt("BUILDING"), 3000) is None, "once per stay"
    # A new stay: the next stage, then back.
    assert t.observe(stage_rt("APP_STARTING"), 3001) is not None
    assert t.observe(stage_rt("APP_STARTING"), 3020) is None
    assert t.observe(stage_rt("APP_STARTING"), 3031) is not None


def test_a_stay_starts_over_when_told() -> None:
    t = tracker(30)
    t.observe(stage_rt("BUILDING"), 0)
    assert t.observe(stage_rt("BUILDING"), 40) is not None
    t.reset_stay(41)  # rebuilt from the same stage (a factory reboot)
    assert t.observe(stage_rt("BUILDING"), 60) is None
    assert t.observe(stage_rt("BUILDING"), 71) is not None


def test_settled_stages_never_stall_and_none_disables() -> None:
    t = tracker(30)
    t.observe(stage_rt("RUNNING"), 0)
    assert t.observe(stage_rt("RUNNING"), 10_000) is None
    off = tracker(None)
    off.observe(stage_rt("BUILDING"), 0)
    assert off.observe(stage_rt("BUILDING"), 10_000) is None


def test_merging_keeps_a_stall_while_the_stage_lasts() -> None:
    stall = Transition("a/b", stage_rt("BUILDING"), stage_rt("BUILDING"), frozenset({Change.STALLED}), 30)
    same = Transition("a/b", stage_rt("BUILDING"), stage_rt("BUILDING"), frozenset({Change.STALLED}), 40)
    moved = Transition("a/b", stage_rt("BUILDING"), stage_rt("APP_STARTING"), frozenset({Change.STAGE}), 50)
    merged = stall.merge(same)
    assert merged is not None and merged.changes == {Change.STALLED}
    merged = stall.merge(moved)
    assert merged is not None and merged.changes == {Change.STAGE}

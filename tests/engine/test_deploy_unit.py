"""The pure parts of deploy waits: stall limits and stall tracking, capacity failures, the errors."""

from __future__ import annotations

import math
import random

import pytest

from aiospace import (
    InvalidArgumentError,
    SpaceFailedError,
    SpaceRuntime,
    SpaceStage,
    SpaceStalledError,
    WaitError,
    WaitTimeoutError,
)
from aiospace.engine.transitions import (
    DEFAULT_STALL_AFTER,
    Cadence,
    Change,
    SpaceTracker,
    Transition,
    stall_limits,
)
from aiospace.engine.wait import is_capacity_failure

S = SpaceStage


def rt(stage: str, error_message: str | None = None) -> SpaceRuntime:
    return SpaceRuntime(SpaceStage(stage), error_message=error_message)


def tracker(limits: float | None = 30.0) -> SpaceTracker:
    return SpaceTracker("a/b", Cadence(), random.Random(1), stall_after=stall_limits(limits))


def test_default_limits_cover_every_transitional_stage() -> None:
    assert set(DEFAULT_STALL_AFTER) == {s for s in SpaceStage if s.is_transitional}
    assert DEFAULT_STALL_AFTER[S.BUILDING] == 1800 and DEFAULT_STALL_AFTER[S.APP_STARTING] == 900


def test_stall_limits() -> None:
    assert stall_limits(None) == {}
    assert stall_limits(60) == dict.fromkeys(DEFAULT_STALL_AFTER, 60.0)
    custom = stall_limits({"building": 600, S.APP_STARTING: math.inf})
    assert custom[S.BUILDING] == 600 and custom[S.APP_STARTING] == math.inf
    assert custom[S.RUNNING_BUILDING] == DEFAULT_STALL_AFTER[S.RUNNING_BUILDING]


@pytest.mark.parametrize(
    "bad", [0, -5, True, "20m", math.nan, {"RUNNING": 10}, {"NOPE": 10}, {"BUILDING": 0}]
)
def test_bad_stall_limits_are_refused(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="stall_after"):
        stall_limits(bad)  # type: ignore[arg-type]


def test_a_stall_is_reported_once_per_stay() -> None:
    t = tracker(30)
    assert t.observe(rt("BUILDING"), 0) is not None  # initial
    assert t.observe(rt("BUILDING"), 29) is None
    stall = t.observe(rt("BUILDING"), 30)
    assert stall is not None and stall.changes == {Change.STALLED} and stall.stalled
    assert t.stalled_for == 30
    assert t.observe(rt("BUILDING"), 3000) is None, "once per stay"
    # A new stay: the next stage, then back.
    assert t.observe(rt("APP_STARTING"), 3001) is not None
    assert t.observe(rt("APP_STARTING"), 3020) is None
    assert t.observe(rt("APP_STARTING"), 3031) is not None


def test_a_stay_starts_over_when_told() -> None:
    t = tracker(30)
    t.observe(rt("BUILDING"), 0)
    assert t.observe(rt("BUILDING"), 40) is not None
    t.reset_stay(41)  # rebuilt from the same stage (a factory reboot)
    assert t.observe(rt("BUILDING"), 60) is None
    assert t.observe(rt("BUILDING"), 71) is not None


def test_settled_stages_never_stall_and_none_disables() -> None:
    t = tracker(30)
    t.observe(rt("RUNNING"), 0)
    assert t.observe(rt("RUNNING"), 10_000) is None
    off = tracker(None)
    off.observe(rt("BUILDING"), 0)
    assert off.observe(rt("BUILDING"), 10_000) is None


def test_merging_keeps_a_stall_while_the_stage_lasts() -> None:
    stall = Transition("a/b", rt("BUILDING"), rt("BUILDING"), frozenset({Change.STALLED}), 30)
    same = Transition("a/b", rt("BUILDING"), rt("BUILDING"), frozenset({Change.STALLED}), 40)
    moved = Transition("a/b", rt("BUILDING"), rt("APP_STARTING"), frozenset({Change.STAGE}), 50)
    merged = stall.merge(same)
    assert merged is not None and merged.changes == {Change.STALLED}
    merged = stall.merge(moved)
    assert merged is not None and merged.changes == {Change.STAGE}


@pytest.mark.parametrize(
    ("runtime", "expected"),
    [
        (rt("RUNTIME_ERROR", "Scheduling failure: not enough hardware capacity"), True),
        (rt("RUNTIME_ERROR", "scheduling failure: no a10g-large available"), True),
        (rt("RUNTIME_ERROR", "Insufficient capacity in the region"), True),
        (rt("RUNTIME_ERROR", "Exit code: 1. Reason: RuntimeError"), False),
        (rt("RUNTIME_ERROR"), False),
        (rt("BUILD_ERROR", "Scheduling failure: not enough hardware capacity"), False),
    ],
)
def test_capacity_failures(runtime: SpaceRuntime, expected: bool) -> None:
    assert is_capacity_failure(runtime) is expected


def test_the_errors_say_what_happened() -> None:
    failed = SpaceFailedError(
        "a/b", rt("RUNTIME_ERROR", "Scheduling failure: not enough hardware capacity"), []
    )
    assert str(failed) == "Space a/b is RUNTIME_ERROR: Scheduling failure: not enough hardware capacity"
    stalled = SpaceStalledError("a/b", rt("BUILDING"), ["step 3"], stalled_for=1250.4, rebooted=True)
    assert isinstance(stalled, SpaceFailedError) and isinstance(stalled, WaitError)
    assert str(stalled) == "Space a/b stalled in BUILDING for 1250s (after a factory reboot)\n  | step 3"
    grace = WaitTimeoutError("a/b", 120, rt("RUNNING"), reason="no build began")
    assert str(grace) == "timed out after 120s waiting for Space a/b: no build began (last stage RUNNING)"
    assert isinstance(grace, TimeoutError) and isinstance(grace, WaitError)

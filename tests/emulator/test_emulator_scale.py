"""The emulator at fleet scale: periodic log lines are made when a log is read, not scheduled.

A hand-driven clock makes each case exact. Before, every heartbeat and build progress
line was a timer: seeding 2,000 Spaces at speed 100 never finished (each seeded Space's
``advance`` fired every other Space's due heartbeats), and an idle world of 1,000
Spaces spent 85% of a core writing lines nobody read. ``benchmarks/e1_emulator.py``
measures the start time, idle CPU and memory of 10,000 Spaces at ``--speed 100``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from aiospace.emulator.lifecycle import Lifecycle
from aiospace.emulator.seed import apply_seed
from aiospace.emulator.state import LOG_CAPACITY
from aiospace.emulator.world import World


class ManualClock:
    """A clock that moves only when told (duck-types ScaledClock for the world)."""

    speed = 1.0

    def __init__(self) -> None:
        self.t = 0.0
        self._origin = datetime(2025, 3, 7, 12, 0, tzinfo=timezone.utc)

    def now(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return self._origin + timedelta(seconds=self.t)

    def move(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _world(clock: ManualClock, count: int, **space: object) -> World:
    world = World(clock)  # type: ignore[arg-type]
    apply_seed(
        world,
        {
            "users": {"scale": "hf_scale"},
            "spaces": [{"id": f"scale/s{i:05d}", **space} for i in range(count)],
        },
    )
    return world


def test_a_big_world_schedules_no_log_line(clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    fired: list[str] = []
    original = Lifecycle._fire
    monkeypatch.setattr(
        Lifecycle, "_fire", lambda self, space, item: (fired.append(item.kind), original(self, space, item))
    )
    world = World(clock)  # type: ignore[arg-type]
    spaces = [{"id": f"scale/s{i:05d}"} for i in range(2_000)]
    for n, spec in enumerate(spaces):
        apply_seed(
            world, {"users": {"scale": "hf_scale"}, "spaces": [spec]} if n == 0 else {"spaces": [spec]}
        )
        clock.move(1)  # seeding takes time: 2,000 Hub seconds, 400 heartbeats of the first Space
    # At most one timer a Space (its sleep after 48 h idle on free hardware), none fired.
    assert len(world.lifecycle._schedule) <= len(spaces)
    clock.move(3_600)
    world.advance()
    assert fired == []
    # The lines are there all the same when a log is read: the first Space's every 5 s.
    _, log = world.logs("scale", "scale/s00000", build=False)
    beats = [e for e in log if "heartbeat" in e.text]
    assert len(beats) == (2_000 + 3_600) // 5
    assert [e.time for e in beats[:3]] == [5.0, 10.0, 15.0]


def test_lazy_heartbeats_are_the_lines_a_timer_writes(clock: ManualClock) -> None:
    def stamp(t: float) -> str:
        return f"{clock._origin + timedelta(seconds=t):%Y-%m-%d %H:%M:%S}"

    world = _world(clock, 1)
    _, log = world.logs("scale", "scale/s00000", build=False)
    seeded = len(log)
    clock.move(23)
    world.advance()
    world.append_log("scale/s00000", "mine at 23")
    entries = list(log)[seeded:]
    assert [(e.time, e.text) for e in entries] == [
        *(
            (
                t,
                f"INFO:     heartbeat: app alive at {stamp(t)}",
            )
            for t in (5.0, 10.0, 15.0, 20.0)
        ),
        (23.0, "mine at 23"),
    ]
    # A changed interval applies from the next line on (the one already due keeps its time).
    world.configure("scale/s00000", log_interval=100)
    clock.move(200)
    world.advance()
    assert [e.time for e in list(log)[seeded + 5 :]] == [25.0, 125.0]


def test_a_log_unread_for_days_keeps_its_capacity_and_its_numbers(clock: ManualClock) -> None:
    world = _world(clock, 1, log_interval=1)
    _, log = world.logs("scale", "scale/s00000", build=False)
    seeded = log.end
    clock.move(86_400)
    world.advance()
    numbered, end = log.numbered_since(0)
    assert end == seeded + 86_400  # every line is numbered, as if each had been written
    assert len(numbered) == LOG_CAPACITY
    assert numbered[0][0] == end - LOG_CAPACITY
    assert numbered[-1][1].time == 86_400.0


def test_heartbeats_end_with_the_container_and_progress_with_the_build(clock: ManualClock) -> None:
    world = _world(clock, 1, build_seconds=30, log_interval=5)
    world.restart("scale", "scale/s00000")  # RUNNING_BUILDING: both logs tick
    clock.move(12)
    world.crash("scale/s00000")  # the container and the build under way end at 12
    clock.move(1_000)
    world.advance()
    _, run = world.logs("scale", "scale/s00000", build=False)
    _, build = world.logs("scale", "scale/s00000", build=True)
    assert max(e.time for e in run) == 12.0
    assert [e.time for e in build if e.text.startswith("Building...")] == [5.0, 10.0]
    # A build that ends writes its progress until its end only.
    world.restart("scale", "scale/s00000")
    clock.move(1_000)
    world.advance()
    _, build = world.logs("scale", "scale/s00000", build=True)
    progress = [e.time - 1_012.0 for e in build if e.text.startswith("Building...")]
    assert progress == [5.0, 10.0, 15.0, 20.0, 25.0]
    assert build.closed

"""The emulator's deploy fidelity: a push's delay before its build, capacity failures, error messages.

World-level tests run on a hand-driven clock (exact); one test goes through HTTP.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from aiospace.emulator import Emulator
from aiospace.emulator.seed import DEMO_SEED, apply_seed
from aiospace.emulator.state import CAPACITY_MESSAGE
from aiospace.emulator.world import World


class ManualClock:
    """A clock that moves only when told (duck-types ScaledClock for the world)."""

    speed = 1.0

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return datetime(2025, 3, 7, 12, 0, tzinfo=timezone.utc) + timedelta(seconds=self.t)

    def move(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def world(clock: ManualClock) -> World:
    w = World(clock)  # type: ignore[arg-type]
    apply_seed(w, DEMO_SEED)
    return w


def runtime(world: World, repo_id: str) -> dict[str, Any]:
    return world.runtime("alice", repo_id)


def head(world: World, repo_id: str) -> str:
    sha = world.space_info("alice", repo_id, ["sha"])["sha"]
    assert isinstance(sha, str)
    return sha


def test_a_push_moves_the_head_at_once_and_builds_after_its_delay(world: World, clock: ManualClock) -> None:
    world.configure("alice/demo", push_delay=4)
    before = head(world, "alice/demo")
    space = world.commit("alice/demo")
    assert head(world, "alice/demo") == space.sha != before
    assert len(space.sha) == 40
    clock.move(3.9)
    # The stale window: the new head, the old container still RUNNING.
    assert runtime(world, "alice/demo")["stage"] == "RUNNING"
    clock.move(0.2)
    assert runtime(world, "alice/demo")["stage"] == "RUNNING_BUILDING"
    build = [e for e in world.events_for("alice/demo") if e.reason == "commit"]
    assert [e.time for e in build] == [4.0]
    assert f"Commit SHA: {space.sha[:7]}" in next(iter(space.build_log)).text


def test_push_delay_zero_builds_at_once(world: World) -> None:
    world.configure("alice/demo", push_delay=0)
    world.commit("alice/demo")
    assert runtime(world, "alice/demo")["stage"] == "RUNNING_BUILDING"


def test_a_second_push_rearms_the_delay(world: World, clock: ManualClock) -> None:
    world.configure("alice/demo", push_delay=5)
    world.commit("alice/demo")
    clock.move(3)
    second = world.commit("alice/demo").sha
    clock.move(3)  # the first push's delay is over, but a newer head is pending
    assert runtime(world, "alice/demo")["stage"] == "RUNNING"
    clock.move(2.5)
    assert runtime(world, "alice/demo")["stage"] == "RUNNING_BUILDING"
    assert second[:7] in next(iter(world.space("alice/demo").build_log)).text


def test_a_restart_during_the_delay_builds_the_head_once(world: World, clock: ManualClock) -> None:
    world.configure("alice/demo", push_delay=5, build_seconds=20)
    world.commit("alice/demo")
    clock.move(1)
    world.restart("alice", "alice/demo")
    clock.move(10)  # past the push's delay: no second build starts
    builds = [e.reason for e in world.events_for("alice/demo") if e.stage == "RUNNING_BUILDING"]
    assert builds == ["restart"]


def test_a_paused_space_builds_the_pushed_head_at_its_restart(world: World, clock: ManualClock) -> None:
    world.pause("alice", "alice/demo")
    sha = world.commit("alice/demo").sha
    clock.move(60)
    assert runtime(world, "alice/demo")["stage"] == "PAUSED"
    world.restart("alice", "alice/demo")
    assert runtime(world, "alice/demo")["stage"] == "BUILDING"
    assert sha[:7] in next(iter(world.space("alice/demo").build_log)).text


def test_a_static_space_serves_the_new_head_at_once(world: World) -> None:
    before = head(world, "alice/static-site")
    assert world.commit("alice/static-site").sha != before
    assert runtime(world, "alice/static-site")["stage"] == "RUNNING"


def test_capacity_failures_then_a_restart_runs(world: World, clock: ManualClock) -> None:
    world.configure("alice/gpu-app", capacity_failures=2, build_seconds=10, start_seconds=5)
    for left, starting in ((1, "RUNNING_APP_STARTING"), (0, "APP_STARTING")):
        world.restart("alice", "alice/gpu-app")
        clock.move(10)
        assert runtime(world, "alice/gpu-app")["stage"] == starting
        clock.move(5)
        answer = runtime(world, "alice/gpu-app")
        assert answer["stage"] == "RUNTIME_ERROR"
        assert answer["errorMessage"] == CAPACITY_MESSAGE
        assert answer["hardware"] == {"current": None, "requested": "t4-small"}
        assert world.space("alice/gpu-app").behaviour.capacity_failures == left
    assert any(CAPACITY_MESSAGE in e.text for e in world.space("alice/gpu-app").run_log)
    world.restart("alice", "alice/gpu-app")
    assert "errorMessage" not in runtime(world, "alice/gpu-app")
    clock.move(15)
    assert runtime(world, "alice/gpu-app")["stage"] == "RUNNING"
    reasons = [e.reason for e in world.events_for("alice/gpu-app")]
    assert reasons.count("scheduling failure") == 2


def test_free_hardware_always_schedules(world: World, clock: ManualClock) -> None:
    world.configure("alice/demo", capacity_failures=1, build_seconds=10, start_seconds=5)
    world.restart("alice", "alice/demo")
    clock.move(15)
    assert runtime(world, "alice/demo")["stage"] == "RUNNING"
    world.request_hardware("alice", "alice/demo", "a10g-large")  # paid: this start finds no machine
    clock.move(40)
    assert runtime(world, "alice/demo")["errorMessage"] == CAPACITY_MESSAGE


def test_error_stages_say_why(world: World, clock: ManualClock) -> None:
    assert "errorMessage" not in runtime(world, "alice/demo")
    world.configure("alice/demo", fail_build=True, build_seconds=5)
    world.restart("alice", "alice/demo")
    clock.move(5)
    assert runtime(world, "alice/demo")["errorMessage"] == "Build failed with exit code: 1"
    world.crash("bob/tool")
    assert "RuntimeError" in world.runtime("bob", "bob/tool")["errorMessage"]
    world.add_space("alice/broken", stage="CONFIG_ERROR")
    assert runtime(world, "alice/broken")["errorMessage"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("capacity_failures", -1), ("capacity_failures", 1.5), ("capacity_failures", True), ("push_delay", -1)],
)
def test_bad_behaviour_values_are_refused(world: World, key: str, value: Any) -> None:
    with pytest.raises(ValueError, match=key):
        world.configure("alice/demo", **{key: value})


def test_seed_keys(clock: ManualClock) -> None:
    w = World(clock)  # type: ignore[arg-type]
    apply_seed(
        w,
        {
            "users": {"alice": "hf_alice"},
            "spaces": [{"id": "alice/app", "hardware": "l4x1", "push_delay": 0, "capacity_failures": 1}],
        },
    )
    behaviour = w.space("alice/app").behaviour
    assert behaviour.push_delay == 0 and behaviour.capacity_failures == 1


@pytest.mark.aiospace_emulator(speed=50)
async def test_the_admin_commit_route_answers_the_new_head(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{hub.url}/_emulator/spaces/alice/demo/commit", headers=hub.admin_headers
        ) as answer:
            assert answer.status == 200
            committed = await answer.json()
        async with http.get(
            f"{hub.url}/api/spaces/alice/demo", params={"expand": "sha"}, headers=hub.headers_for("alice")
        ) as answer:
            info = await answer.json()
    assert committed["sha"] == info["sha"] == hub.world.space("alice/demo").sha
    assert committed["behaviour"]["push_delay"] == 3.0
    assert committed["runtime"]["stage"] == "RUNNING"  # the build starts after push_delay

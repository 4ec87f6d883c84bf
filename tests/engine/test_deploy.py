"""Deploys you can trust, on the emulator over loopback HTTP at a fast clock: waiting for a
commit (the stale-RUNNING race, superseded revisions, static Spaces, a late waiter), stalls
(reported once, the factory-reboot path), capacity failures (retries, a fallback flavor) and
stages that won't move on their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from helpers import client_for

from aiospace import (
    Cadence,
    Change,
    OnTrouble,
    RevisionSupersededError,
    SpaceClient,
    SpaceFailedError,
    SpaceNotStartingError,
    SpaceStage,
    SpaceStalledError,
    Transition,
    WaitTimeoutError,
)
from aiospace.emulator import Emulator
from aiospace.emulator.state import CAPACITY_MESSAGE

FAST = Cadence(fast=1.0, slow=10.0, jitter=0.1, after_write=30.0)


@pytest.fixture
async def hub() -> AsyncIterator[Emulator]:
    async with Emulator(speed=100) as emulator:
        yield emulator


@pytest.fixture
async def alice(hub: Emulator) -> AsyncIterator[SpaceClient]:
    async with client_for(hub, "alice", seed=1) as client:
        yield client


def commit_build_time(hub: Emulator, space: str) -> float:
    """When the (last) commit's build began, in Hub time: the emulator's ground truth."""
    times = [e.time for e in hub.world.events_for(space) if e.reason == "commit"]
    assert times, "the commit's build began"
    return times[-1]


def serves(hub: Emulator, space: str, sha: str) -> bool:
    """The Space runs, and its latest build was of ``sha``."""
    state = hub.world.space(space)
    first = next(iter(state.build_log)).text
    return state.stage == SpaceStage.RUNNING and f"Commit SHA: {sha[:7]}" in first


# ---------------------------------------------------------------------- revisions


async def test_the_stale_running_race(hub: Emulator, alice: SpaceClient) -> None:
    """Right after a push, a waiter without the revision returns the old container's RUNNING;
    with the revision it returns only once the new build ran."""
    hub.world.configure("alice/demo", push_delay=10, build_seconds=8, start_seconds=2)
    sha = hub.world.commit("alice/demo").sha
    stale = await alice.wait_for_space("alice/demo", timeout=5, cadence=FAST)
    assert stale.stage == SpaceStage.RUNNING
    assert not serves(hub, "alice/demo", sha), "the RUNNING returned was the old code"

    heard: list[Transition] = []
    runtime = await alice.wait_for_space(
        "alice/demo", revision=sha, timeout=300, cadence=FAST, on_transition=heard.append
    )
    assert runtime.stage == SpaceStage.RUNNING
    assert serves(hub, "alice/demo", sha)
    assert hub.clock.now() > commit_build_time(hub, "alice/demo")
    stages = [t.current.stage for t in heard]
    assert SpaceStage.RUNNING_BUILDING in stages and stages[-1] == SpaceStage.RUNNING


async def test_a_build_under_way_at_the_push_is_not_the_revision(hub: Emulator, alice: SpaceClient) -> None:
    """A restart's build, under way when the push lands, ends RUNNING on the old code before
    the push's build begins: its build log names the old commit, so the wait goes on."""
    hub.world.configure("alice/demo", push_delay=30, build_seconds=10, start_seconds=2)
    await alice.restart_space("alice/demo")
    sha = hub.world.commit("alice/demo").sha
    runtime = await alice.wait_for_space("alice/demo", revision=sha, timeout=300, cadence=FAST)
    assert runtime.stage == SpaceStage.RUNNING
    assert serves(hub, "alice/demo", sha)
    assert hub.clock.now() > commit_build_time(hub, "alice/demo")


async def test_a_revision_is_validated_before_any_request(hub: Emulator, alice: SpaceClient) -> None:
    before = alice.stats.requests
    for bad in ("abc1234", "g" * 40, "a" * 39, 12):
        with pytest.raises(ValueError, match="revision"):
            await alice.wait_for_space("alice/demo", revision=bad)  # type: ignore[arg-type]
    assert alice.stats.requests == before


async def test_an_upper_case_sha_is_the_same_revision(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", push_delay=0, build_seconds=4, start_seconds=1)
    sha = hub.world.commit("alice/demo").sha
    await alice.wait_for_space("alice/demo", revision=sha.upper(), timeout=300, cadence=FAST)
    assert serves(hub, "alice/demo", sha)


async def test_a_late_waiter_returns_at_once_when_the_revision_runs(
    hub: Emulator, alice: SpaceClient
) -> None:
    hub.world.configure("alice/demo", push_delay=1, build_seconds=4, start_seconds=1)
    sha = hub.world.commit("alice/demo").sha
    await alice.wait_for_space("alice/demo", revision=sha, timeout=300, cadence=FAST)
    builds = len(hub.world.events_for("alice/demo"))
    runtime = await alice.wait_for_space("alice/demo", revision=sha, timeout=300, cadence=FAST)
    assert runtime.stage == SpaceStage.RUNNING
    assert len(hub.world.events_for("alice/demo")) == builds, "nothing happened to the Space meanwhile"


async def test_superseded(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", push_delay=5, build_seconds=20)
    first = hub.world.commit("alice/demo").sha
    seen = anyio.Event()

    async def push_again() -> None:
        await seen.wait()  # the waiter has seen the head at the first push
        await hub.clock.sleep(8)
        hub.world.commit("alice/demo")

    async with anyio.create_task_group() as tg:
        tg.start_soon(push_again)
        with pytest.raises(RevisionSupersededError) as superseded:
            await alice.wait_for_space(
                "alice/demo", revision=first, timeout=300, cadence=FAST, on_transition=lambda _: seen.set()
            )
    error = superseded.value
    second = hub.world.space("alice/demo").sha
    assert error.revision == first and error.head == second and error.seen
    assert first in str(error) and second in str(error)


async def test_a_revision_the_head_never_reaches(hub: Emulator, alice: SpaceClient) -> None:
    stranger = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(RevisionSupersededError) as never:
        await alice.wait_for_space(
            "alice/demo", revision=stranger, trouble=OnTrouble(build_grace=20), timeout=300, cadence=FAST
        )
    assert not never.value.seen and never.value.head == hub.world.space("alice/demo").sha
    assert "never reached" in str(never.value)


async def test_no_build_within_the_grace(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", push_delay=1000)
    sha = hub.world.commit("alice/demo").sha
    with pytest.raises(WaitTimeoutError) as late:
        await alice.wait_for_space(
            "alice/demo", revision=sha, trouble=OnTrouble(build_grace=30), timeout=300, cadence=FAST
        )
    assert late.value.timeout == 30 and late.value.reason is not None
    assert "no build" in str(late.value) and "30s" in str(late.value)
    assert late.value.runtime is not None and late.value.runtime.stage == SpaceStage.RUNNING


async def test_a_static_space_serves_the_head_at_once(hub: Emulator, alice: SpaceClient) -> None:
    sha = hub.world.commit("alice/static-site").sha
    runtime = await alice.wait_for_space("alice/static-site", revision=sha, timeout=10, cadence=FAST)
    assert runtime.stage == SpaceStage.RUNNING
    assert [e.reason for e in hub.world.events_for("alice/static-site")] == ["created"]


async def test_a_failed_build_of_the_revision_fails_the_wait(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", push_delay=3, build_seconds=5, fail_build=True)
    sha = hub.world.commit("alice/demo").sha
    with pytest.raises(SpaceFailedError) as failed:
        await alice.wait_for_space("alice/demo", revision=sha, timeout=300, cadence=FAST)
    assert failed.value.runtime.stage == SpaceStage.BUILD_ERROR
    assert "Build failed" in str(failed.value)
    assert any("emulated build failure" in line for line in failed.value.log_lines)


async def test_an_old_failure_is_not_the_revisions(hub: Emulator, alice: SpaceClient) -> None:
    """A Space in BUILD_ERROR from an earlier commit: the push rebuilds it and the wait succeeds."""
    hub.world.configure("alice/demo", build_seconds=3, fail_build=True)
    await alice.restart_space("alice/demo")
    with pytest.raises(SpaceFailedError):
        await alice.wait_for_space("alice/demo", timeout=300, cadence=FAST)
    hub.world.configure("alice/demo", fail_build=False, push_delay=5)
    sha = hub.world.commit("alice/demo").sha
    runtime = await alice.wait_for_space("alice/demo", revision=sha, timeout=300, cadence=FAST)
    assert runtime.stage == SpaceStage.RUNNING and serves(hub, "alice/demo", sha)


# ---------------------------------------------------------------------- stages that won't move


async def test_a_paused_space_ends_the_wait_at_once(hub: Emulator, alice: SpaceClient) -> None:
    await alice.pause_space("alice/demo")
    with pytest.raises(SpaceNotStartingError) as paused:
        await alice.wait_for_space("alice/demo", timeout=600, cadence=FAST)
    assert paused.value.runtime.stage == SpaceStage.PAUSED
    assert "PAUSED" in str(paused.value) and "restart" in paused.value.hint
    assert hub.clock.now() < 60, "it did not sit until the timeout"
    # Waiting for the stage it is in is fine.
    assert (await alice.wait_for_space("alice/demo", stage="PAUSED", timeout=60)).stage == SpaceStage.PAUSED


async def test_a_sleeping_space_says_a_visit_wakes_it(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.add_space("alice/napper", stage="SLEEPING")
    with pytest.raises(SpaceNotStartingError) as sleeping:
        await alice.wait_for_space("alice/napper", timeout=600, cadence=FAST)
    assert "SLEEPING" in str(sleeping.value) and "visit" in sleeping.value.hint


async def test_a_push_to_a_paused_space_will_not_move_it(hub: Emulator, alice: SpaceClient) -> None:
    await alice.pause_space("alice/demo")
    sha = hub.world.commit("alice/demo").sha
    with pytest.raises(SpaceNotStartingError):
        await alice.wait_for_space("alice/demo", revision=sha, timeout=600, cadence=FAST)


async def test_a_push_wakes_a_sleeping_space(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.add_space("alice/napper", stage="SLEEPING", behaviour={"build_seconds": 5, "start_seconds": 1})
    sha = hub.world.commit("alice/napper").sha
    runtime = await alice.wait_for_space("alice/napper", revision=sha, timeout=300, cadence=FAST)
    assert runtime.stage == SpaceStage.RUNNING and serves(hub, "alice/napper", sha)


# ---------------------------------------------------------------------- stalls


async def test_a_watch_reports_a_stall_once_per_stay(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", stuck=True)
    await alice.restart_space("alice/demo")
    stalls: list[Transition] = []
    with anyio.move_on_after(120 / hub.clock.speed):
        async for transition in alice.watch("alice/demo", cadence=FAST, stall_after=20):
            if transition.stalled:
                stalls.append(transition)
    assert len(stalls) == 1, "once per stay, however long the stay"
    stall = stalls[0]
    assert stall.changes == {Change.STALLED}
    assert stall.current.stage == SpaceStage.RUNNING_BUILDING == stall.previous.stage  # type: ignore[union-attr]
    assert stall.to_json()["changes"] == ["stalled"]


async def test_a_stall_raises_with_the_build_log(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", stuck=True, log_interval=5)
    await alice.restart_space("alice/demo")
    heard: list[Transition] = []
    with pytest.raises(SpaceStalledError) as stalled:
        await alice.wait_for_space(
            "alice/demo",
            trouble=OnTrouble(stall_after=60),
            timeout=600,
            cadence=FAST,
            on_transition=heard.append,
            log_lines=3,
        )
    error = stalled.value
    assert isinstance(error, SpaceFailedError)
    assert error.runtime.stage == SpaceStage.RUNNING_BUILDING
    assert error.stalled_for >= 60 and not error.rebooted
    assert error.log_lines and all("Building..." in line for line in error.log_lines)
    assert "stalled in RUNNING_BUILDING" in str(error)
    assert [t for t in heard if t.stalled] == [heard[-1]]


async def test_factory_reboot_then_a_second_stall_raises(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", stuck=True)
    await alice.restart_space("alice/demo")
    heard: list[Transition] = []
    with pytest.raises(SpaceStalledError) as stalled:
        await alice.wait_for_space(
            "alice/demo",
            trouble=OnTrouble(on_stall="factory_reboot", stall_after={"RUNNING_BUILDING": 40}),
            timeout=600,
            cadence=FAST,
            on_transition=heard.append,
        )
    assert stalled.value.rebooted and "after a factory reboot" in str(stalled.value)
    actions = [c for t in heard for c in t.changes if c in (Change.STALLED, Change.FACTORY_REBOOT)]
    assert actions == [Change.STALLED, Change.FACTORY_REBOOT, Change.STALLED]
    assert [e.reason for e in hub.world.events_for("alice/demo")].count("factory reboot") == 1


async def test_factory_reboot_clears_a_stall(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", stuck=True, build_seconds=10, factory_seconds=10, start_seconds=2)
    await alice.restart_space("alice/demo")

    def unstick(transition: Transition) -> None:
        if transition.stalled:  # heard before the waiter acts: the reboot's build will end
            hub.world.configure("alice/demo", stuck=False)

    heard: list[Transition] = []
    runtime = await alice.wait_for_space(
        "alice/demo",
        trouble=OnTrouble(on_stall="factory_reboot", stall_after=40),
        timeout=600,
        cadence=FAST,
        on_transition=lambda t: (unstick(t), heard.append(t)),
    )
    assert runtime.stage == SpaceStage.RUNNING
    reboots = [t for t in heard if Change.FACTORY_REBOOT in t.changes]
    assert len(reboots) == 1 and reboots[0].current.stage == SpaceStage.RUNNING_BUILDING


# ---------------------------------------------------------------------- capacity failures


async def test_capacity_failures_are_retried(
    hub: Emulator, alice: SpaceClient, caplog: pytest.LogCaptureFixture
) -> None:
    hub.world.configure("alice/gpu-app", capacity_failures=2, build_seconds=5, start_seconds=2)
    await alice.restart_space("alice/gpu-app")
    heard: list[Transition] = []
    with caplog.at_level("WARNING", logger="aiospace.watch"):
        runtime = await alice.wait_for_space(
            "alice/gpu-app",
            trouble=OnTrouble(retry_capacity=2),
            timeout=900,
            cadence=FAST,
            on_transition=heard.append,
        )
    assert runtime.stage == SpaceStage.RUNNING and runtime.hardware == "t4-small"
    retries = [t for t in heard if Change.CAPACITY_RETRY in t.changes]
    assert len(retries) == 2
    assert all(t.previous is not None and t.previous.error_message == CAPACITY_MESSAGE for t in retries)
    logged = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(logged) == 2 and "retry 1 of 2" in logged[0] and CAPACITY_MESSAGE in logged[0]


async def test_capacity_retries_run_out(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/gpu-app", capacity_failures=3, build_seconds=5, start_seconds=2)
    await alice.restart_space("alice/gpu-app")
    with pytest.raises(SpaceFailedError) as failed:
        await alice.wait_for_space(
            "alice/gpu-app", trouble=OnTrouble(retry_capacity=1), timeout=900, cadence=FAST
        )
    assert failed.value.runtime.error_message == CAPACITY_MESSAGE
    assert "Scheduling failure" in str(failed.value)
    assert hub.world.space("alice/gpu-app").behaviour.capacity_failures == 1


async def test_without_retries_a_capacity_failure_is_final(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/gpu-app", capacity_failures=1, build_seconds=5, start_seconds=2)
    await alice.restart_space("alice/gpu-app")
    with pytest.raises(SpaceFailedError):
        await alice.wait_for_space("alice/gpu-app", timeout=900, cadence=FAST)
    assert "restart" not in [e.reason for e in hub.world.events_for("alice/gpu-app")][2:]


async def test_capacity_retries_move_to_a_fallback_flavor(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure(
        "alice/gpu-app", capacity_failures=1, build_seconds=5, start_seconds=2, hardware_seconds=3
    )
    await alice.restart_space("alice/gpu-app")
    heard: list[Transition] = []
    runtime = await alice.wait_for_space(
        "alice/gpu-app",
        hardware="t4-small",
        trouble=OnTrouble(retry_capacity=2, fallback_hardware=["a10g-large", "l4x1"]),
        timeout=900,
        cadence=FAST,
        on_transition=heard.append,
    )
    assert runtime.stage == SpaceStage.RUNNING
    assert runtime.hardware == runtime.requested_hardware == "a10g-large"
    retry = next(t for t in heard if Change.CAPACITY_RETRY in t.changes)
    assert retry.current.requested_hardware == "a10g-large"


async def test_capacity_arguments_are_checked_first(alice: SpaceClient) -> None:
    before = alice.stats.requests
    with pytest.raises(ValueError, match="retry_capacity"):
        await alice.wait_for_space("alice/gpu-app", trouble=OnTrouble(retry_capacity=-1))
    with pytest.raises(ValueError, match="fallback_hardware"):
        await alice.wait_for_space("alice/gpu-app", trouble=OnTrouble(fallback_hardware=["a10g-large"]))
    with pytest.raises(ValueError, match="fallback_hardware"):
        await alice.wait_for_space(
            "alice/gpu-app", trouble=OnTrouble(retry_capacity=1, fallback_hardware="a10g-large")
        )
    with pytest.raises(ValueError, match="on_stall"):
        await alice.wait_for_space("alice/gpu-app", trouble=OnTrouble(on_stall="shrug"))
    with pytest.raises(ValueError, match="stall_after"):
        await alice.wait_for_space("alice/gpu-app", trouble=OnTrouble(stall_after={"RUNNING": 10}))
    with pytest.raises(ValueError, match="build_grace"):
        await alice.wait_for_space("alice/gpu-app", trouble=OnTrouble(build_grace=-1))
    assert alice.stats.requests == before

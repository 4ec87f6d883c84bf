"""Waits you can trust (``aiospace/engine/wait.py``), on the emulator over loopback HTTP at a fast
clock: waiting for a commit (the stale-RUNNING race, superseded revisions, static Spaces, a late
waiter), stalls (reported once, the factory-reboot path), capacity failures (retries, a fallback
flavor) and stages that won't move on their own.

The cases marked ``hostile`` play a hostile or merely realistic Hub on
:class:`hostile_hub.HostileHub`: remedies it refuses, a head commit it leaves out or spells
oddly, the old container still RUNNING after a push, a capacity failure that lingers, a Space
that prints the token. Those marked ``careless`` are a wait's odd arguments, refused before
any request.
"""

from __future__ import annotations

import asyncio
import json
import math
import pickle
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from aiohttp import web
from helpers import client_for
from hostile_hub import BASE, QUICK, REPO, RUNNING, TOKEN, HostileHub, Play, assert_clean, runtime_path

from aiospace import (
    BadAnswerError,
    Cadence,
    Change,
    HubHTTPError,
    InvalidArgumentError,
    OnTrouble,
    PermissionDeniedError,
    RevisionSupersededError,
    ScaledClock,
    ServerError,
    SpaceClient,
    SpaceFailedError,
    SpaceNotStartingError,
    SpaceRuntime,
    SpaceStage,
    SpaceStalledError,
    Transition,
    TransportError,
    WaitError,
    WaitTimeoutError,
)
from aiospace.emulator import Emulator
from aiospace.emulator.state import CAPACITY_MESSAGE
from aiospace.engine.wait import is_capacity_failure

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
    # The first poll must come before the rebuild starts: 30 Hub seconds (0.3 s here), not 10.
    hub.world.configure("alice/demo", push_delay=30, build_seconds=8, start_seconds=2)
    sha = hub.world.commit("alice/demo").sha
    stale = await alice.wait_for_space("alice/demo", timeout=25, cadence=FAST)
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
    runtime = await alice.wait_for_space("alice/static-site", revision=sha, timeout=300, cadence=FAST)
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
    assert (await alice.wait_for_space("alice/demo", stage="PAUSED", timeout=600)).stage == SpaceStage.PAUSED


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


# ---------------------------------------------------------------------- a wait's arguments


@pytest.mark.careless
async def test_a_target_stage_in_any_case_is_reached(
    hostile: HostileHub, default_client: SpaceClient
) -> None:
    hostile.play("GET", runtime_path("user/app"), HostileHub.json(RUNNING))
    with anyio.fail_after(10):
        runtime = await default_client.wait_for_space("user/app", stage="running", timeout=600, cadence=QUICK)
    assert runtime.stage == SpaceStage.RUNNING


@pytest.mark.careless
@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"stage": "GARBAGE"}, "stage"),
        ({"stage": ""}, "stage"),
        ({"stage": 5}, "stage"),
        ({"timeout": math.nan}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "10"}, "timeout"),
        ({"log_timeout": math.nan}, "log_timeout"),
        # Careless callers: each was a foreign error (or obeyed) after the first poll.
        ({"cadence": "fast"}, "cadence"),
        ({"until": "RUNNING"}, "until"),
        ({"on_transition": print, "until": 5}, "until"),
        ({"on_transition": "log"}, "on_transition"),
        ({"log_lines": -1}, "log_lines"),
    ],
)
async def test_a_wait_that_could_never_end_is_refused_before_any_request(
    hostile: HostileHub, default_client: SpaceClient, kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        await default_client.wait_for_space("user/app", **kwargs)
    assert info.value.argument == argument
    assert hostile.requests == []


# ---------------------------------------------------------------------- a hostile or merely realistic Hub


@pytest.mark.hostile
async def test_wait_for_space_without_timeout_ends_on_a_changed_schema(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json({"state": "RUNNING"}))  # "stage" renamed
    with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
        await hostile_client.wait_for_space(REPO, timeout=None, cadence=QUICK)
    assert info.value.reason == "shape"
    assert hostile.count(f"{BASE}/runtime") == Cadence().max_bad_answers == 10


@pytest.mark.hostile
async def test_a_wait_that_times_out_on_a_failing_hub_says_the_last_failure(
    hostile: HostileHub, default_client: SpaceClient
) -> None:
    # A stuck Space and a Hub out of reach must read apart at the deadline.
    hostile.play("GET", runtime_path("user/app"), HostileHub.json({"stage": "BUILDING"}))
    hostile.play("GET", runtime_path("user/stuck"), HostileHub.json({"stage": "BUILDING"}))
    hostile.play("GET", runtime_path("user/app"), HostileHub.json({"error": "busy"}, 503))
    with anyio.fail_after(10), pytest.raises(WaitTimeoutError) as info:
        await default_client.wait_for_space("user/app", timeout=30, cadence=QUICK)
    error = info.value
    assert isinstance(error.last_error, ServerError) and error.last_error.status == 503
    assert error.runtime is not None and error.runtime.stage == SpaceStage.BUILDING
    assert str(error).endswith(f"(last stage BUILDING); the last poll failed: {error.last_error}")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    with anyio.fail_after(10), pytest.raises(WaitTimeoutError) as stuck:
        await default_client.wait_for_space("user/stuck", timeout=30, cadence=QUICK)
    assert stuck.value.last_error is None and "failed" not in str(stuck.value)


@pytest.mark.hostile
async def test_the_failure_wins_over_the_deadline_while_the_log_tail_is_read(hostile: HostileHub) -> None:
    hostile.play("GET", runtime_path("user/app"), HostileHub.json({"stage": "BUILD_ERROR"}))

    async def slow_log(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(0.25)  # past the wait's deadline (0.1 s), well within log_timeout (0.6 s)
        await response.write(b'data: {"data": "pip install failed"}\n\ndata: \n\n')
        return response

    hostile.play("GET", "/api/spaces/user/app/logs/build", slow_log)
    # A Hub second is 20 ms: the deadline is 5 Hub seconds, the log read may take 30 (the default).
    async with SpaceClient(endpoint=hostile.url, token=TOKEN, clock=ScaledClock(50)) as client:
        with anyio.fail_after(10), pytest.raises(SpaceFailedError) as info:
            await client.wait_for_space("user/app", timeout=5, cadence=QUICK)
    assert info.value.runtime.stage == SpaceStage.BUILD_ERROR
    assert info.value.log_lines == ["pip install failed"]


@pytest.mark.hostile
async def test_a_failed_wait_never_shows_the_token_a_space_printed() -> None:
    # Many Spaces hold their owner's token as a secret, and some print their environment.
    space = {"id": "alice/app", "build_seconds": 2, "start_seconds": 1}
    seed = {"users": {"alice": TOKEN}, "spaces": [space]}
    async with Emulator(speed=200, seed=seed) as hub:
        async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=hub.clock) as client:
            await client.wait_for_space("alice/app", timeout=600)
            hub.world.append_log("alice/app", f"HF_TOKEN={TOKEN} (the environment)")
            hub.world.crash("alice/app")
            with pytest.raises(SpaceFailedError) as failed:
                await client.wait_for_space("alice/app", timeout=600, log_lines=200)
            lines = [line async for line in client.fetch_space_logs("alice/app")]
    assert any(TOKEN in line for line in lines)  # the Space did print it (logs are the caller's data)
    assert "HF_TOKEN=<redacted> (the environment)" in str(failed.value)
    assert str(failed.value).endswith("RuntimeError: emulated crash")
    assert_clean(failed.value)


OLD = "1" * 40


NEW = "abcdef0123456789abcdef0123456789abcdef01"


def runtime(stage: str, hardware: str | None = "t4-small", **extra: Any) -> dict[str, Any]:
    return {"stage": stage, "hardware": {"current": hardware, "requested": hardware}, **extra}


def info(sha: object, stage: str = "RUNNING", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": REPO, "sdk": "gradio", "runtime": runtime(stage, **extra)}
    if sha is not None:
        data["sha"] = sha
    return data


def build_log(*lines: str) -> bytes:
    return b"".join(b"data: " + json.dumps({"data": line}).encode() + b"\n\n" for line in lines)


# ---------------------------------------------------------------------- remedies the Hub refuses


@pytest.mark.hostile
@pytest.mark.parametrize("status", [403, 409, 503])
async def test_a_refused_factory_reboot_still_ends_in_the_stall(
    hostile: HostileHub, hostile_client: SpaceClient, status: int
) -> None:
    """A read-only token (403), a conflict or a Hub that fails the reboot: the caller hears the
    stall (with the build log), not the reboot's refusal, which is kept as its cause."""
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(runtime("BUILDING")))
    hostile.play("POST", f"{BASE}/restart", HostileHub.json({"error": "refused"}, status))
    hostile.play("GET", f"{BASE}/logs/build", HostileHub.sse(build_log("step 3 of 9")))
    with anyio.fail_after(10), pytest.raises(SpaceStalledError) as stalled:
        await hostile_client.wait_for_space(
            REPO, trouble=OnTrouble(on_stall="factory_reboot", stall_after=30), timeout=600, cadence=QUICK
        )
    error = stalled.value
    assert error.repo_id == REPO and error.runtime.stage == SpaceStage.BUILDING and not error.rebooted
    assert error.log_lines == ["step 3 of 9"]
    assert isinstance(error.__cause__, (HubHTTPError, TransportError))
    assert hostile.count(f"{BASE}/restart") >= 1


@pytest.mark.hostile
async def test_a_refused_capacity_retry_ends_in_the_capacity_failure(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    failure = runtime("RUNTIME_ERROR", errorMessage="Scheduling failure: not enough hardware capacity")
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(failure))
    hostile.play("POST", f"{BASE}/restart", HostileHub.json({"error": "read-only token"}, 403))
    hostile.play("POST", f"{BASE}/hardware", HostileHub.json({"error": "read-only token"}, 403))
    for fallback in ([], ["a10g-large"]):
        with anyio.fail_after(10), pytest.raises(SpaceFailedError) as failed:
            await hostile_client.wait_for_space(
                REPO,
                trouble=OnTrouble(retry_capacity=2, fallback_hardware=fallback),
                timeout=6000,
                cadence=QUICK,
            )
        assert type(failed.value) is SpaceFailedError
        assert "Scheduling failure" in str(failed.value)
        assert isinstance(failed.value.__cause__, PermissionDeniedError)
    assert hostile.count(f"{BASE}/restart") == 1 and hostile.count(f"{BASE}/hardware") == 1


# ---------------------------------------------------------------------- the head commit in the Space's info


@pytest.mark.hostile
async def test_an_info_without_a_head_sha_never_spins_a_wait_without_timeout(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    """``sha`` renamed or dropped from the Space's info: the wait ends (BadAnswerError) after
    ``max_bad_answers`` such answers, as for any answer it can't read, instead of polling for ever."""
    hostile.play("GET", BASE, HostileHub.json(info(None)))
    with anyio.fail_after(10), pytest.raises(BadAnswerError) as bad:
        await hostile_client.wait_for_space(REPO, revision=NEW, timeout=None, cadence=QUICK)
    assert bad.value.reason == "shape" and "sha" in str(bad.value) and REPO in str(bad.value)
    assert hostile.count(BASE) == QUICK.max_bad_answers


@pytest.mark.hostile
@pytest.mark.parametrize("odd", ["", "main", 42, None, "g" * 40])
async def test_an_unreadable_head_for_a_moment_is_not_a_superseded_revision(
    hostile: HostileHub, hostile_client: SpaceClient, odd: object
) -> None:
    """The head seen at the revision, then one answer with an odd ``sha`` (empty, a branch
    name, a number, null, not hex): not "superseded by ''", the wait goes on."""
    confirms = HostileHub.sse(build_log(f"===== Build Queued at x / Commit SHA: {NEW[:7]} ====="))
    hostile.play(
        "GET",
        BASE,
        HostileHub.json(info(NEW, "RUNNING_BUILDING")),
        HostileHub.json({**info(NEW, "RUNNING_BUILDING"), "sha": odd}),
        HostileHub.json(info(NEW, "RUNNING")),
    )
    hostile.play("GET", f"{BASE}/logs/build", confirms)
    with anyio.fail_after(10):
        done = await hostile_client.wait_for_space(REPO, revision=NEW, timeout=600, cadence=QUICK)
    assert done.stage == SpaceStage.RUNNING


@pytest.mark.hostile
async def test_an_upper_case_head_from_the_hub_is_the_revision(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    hostile.play(
        "GET",
        BASE,
        HostileHub.json(info(NEW.upper(), "RUNNING_BUILDING")),
        HostileHub.json(info(NEW.upper(), "RUNNING")),
    )
    hostile.play(
        "GET",
        f"{BASE}/logs/build",
        HostileHub.sse(build_log(f"===== Build Queued at x / Commit SHA: {NEW[:7].upper()} =====")),
    )
    with anyio.fail_after(10):
        done = await hostile_client.wait_for_space(REPO, revision=NEW, timeout=600, cadence=QUICK)
    assert done.stage == SpaceStage.RUNNING


# ---------------------------------------------------------------------- the stale RUNNING


def queued(sha: str, at: str = "2026-05-01 12:00:00") -> Play:
    return HostileHub.sse(build_log(f"===== Build Queued at {at} / Commit SHA: {sha[:7]} =====", "--> FROM"))


def started(*at: str) -> Play:
    """A run log: one container start per time (a rolling update appends the new one's)."""
    lines = [line for t in at for line in (f"===== Application Startup at {t} =====", "Running on URL")]
    return HostileHub.sse(build_log(*lines))


@pytest.mark.hostile
async def test_a_queued_build_of_the_revision_is_not_the_old_container_running(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    """The build log already names the revision ("Build Queued"), but the runtime still shows
    the old container RUNNING for a few polls before RUNNING_BUILDING: the run log's header says
    that container started before the build was queued, so the wait goes on for the new one."""
    hostile.play("GET", BASE, HostileHub.json(info(NEW, "RUNNING")), times=4)
    hostile.play("GET", BASE, HostileHub.json(info(NEW, "RUNNING_BUILDING")), times=2)
    hostile.play("GET", BASE, HostileHub.json(info(NEW, "RUNNING", marker="new")))
    hostile.play("GET", f"{BASE}/logs/build", queued(NEW))
    hostile.play("GET", f"{BASE}/logs/run", started("2026-05-01 09:00:00"), times=4)
    hostile.play("GET", f"{BASE}/logs/run", started("2026-05-01 09:00:00", "2026-05-01 12:03:00"))
    with anyio.fail_after(10):
        done = await hostile_client.wait_for_space(REPO, revision=NEW, timeout=600, cadence=QUICK)
    assert hostile.count(BASE) == 7, "it returned the RUNNING read after the build, not the old one"
    assert done.stage == SpaceStage.RUNNING


@pytest.mark.hostile
async def test_a_late_waiter_still_returns_at_once(hostile: HostileHub, hostile_client: SpaceClient) -> None:
    """The revision was built and runs (its container started after the build was queued); a run
    log without its header, or unreadable, keeps the log's word."""
    for run_log in (started("2026-05-01 12:03:00"), HostileHub.sse(build_log("no header")), None):
        hostile.requests.clear()
        hostile.play("GET", BASE, HostileHub.json(info(NEW, "RUNNING")))
        hostile.play("GET", f"{BASE}/logs/build", queued(NEW))
        if run_log is not None:
            hostile.play("GET", f"{BASE}/logs/run", run_log)
        else:
            hostile.play("GET", f"{BASE}/logs/run", HostileHub.json({"error": "gone"}, 404))
        with anyio.fail_after(10):
            done = await hostile_client.wait_for_space(REPO, revision=NEW, timeout=600, cadence=QUICK)
        assert done.stage == SpaceStage.RUNNING and hostile.count(BASE) == 2


# ---------------------------------------------------------------------- capacity retries


@pytest.mark.hostile
async def test_the_failure_a_capacity_retry_cures_is_not_counted_twice(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    """The restart is taken, but the next polls still show the scheduling failure for a moment
    (as a push shows its build a little later): that is not a second failure burning a retry."""
    failure = runtime("RUNTIME_ERROR", errorMessage="Scheduling failure: not enough hardware capacity")
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(failure), times=3)
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(runtime("BUILDING")), times=2)
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(runtime("RUNNING")))
    hostile.play("POST", f"{BASE}/restart", HostileHub.json(failure))
    with anyio.fail_after(10):
        done = await hostile_client.wait_for_space(
            REPO, trouble=OnTrouble(retry_capacity=1), timeout=6000, cadence=QUICK
        )
    assert done.stage == SpaceStage.RUNNING
    assert hostile.count(f"{BASE}/restart") == 1


@pytest.mark.hostile
async def test_a_capacity_failure_that_outlasts_the_grace_is_counted_again(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    failure = runtime("RUNTIME_ERROR", errorMessage="Scheduling failure: not enough hardware capacity")
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(failure))
    hostile.play("POST", f"{BASE}/restart", HostileHub.json(failure))
    with anyio.fail_after(10), pytest.raises(SpaceFailedError):
        await hostile_client.wait_for_space(
            REPO, trouble=OnTrouble(retry_capacity=2, build_grace=20), timeout=6000, cadence=QUICK
        )
    assert hostile.count(f"{BASE}/restart") == 2


# -------------------------------------------------------------- capacity failures and the errors, without I/O


def rt(stage: str, error_message: str | None = None) -> SpaceRuntime:
    return SpaceRuntime(SpaceStage(stage), error_message=error_message)


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

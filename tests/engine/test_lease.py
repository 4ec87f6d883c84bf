"""GPU leases against the emulator: acquire, then release on every way out, confirmed by the Hub."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import anyio
import pytest
from helpers import client_for

from aiospace import (
    Cadence,
    InvalidArgumentError,
    LeaseReleaseError,
    PermissionDeniedError,
    ServerError,
    SpaceClient,
    SpaceFailedError,
    SpaceHardware,
    SpaceRuntime,
    SpaceStage,
    WaitTimeoutError,
)
from aiospace.emulator import Emulator
from aiospace.engine.lease import ReleasePlan, app_url, plan_release
from aiospace.models import SpaceDomain

FAST = Cadence(fast=1.0, slow=5.0, jitter=0.0, after_write=30.0)


class JobFailed(Exception):
    """What a job inside a lease raises."""


@pytest.fixture
async def hub() -> AsyncIterator[Emulator]:
    async with Emulator(speed=200) as emulator:
        for space in ("alice/demo", "alice/gpu-app"):
            emulator.world.configure(space, build_seconds=10, start_seconds=2, hardware_seconds=5)
        yield emulator


@pytest.fixture
async def alice(hub: Emulator) -> AsyncIterator[SpaceClient]:
    async with client_for(hub, "alice", seed=1) as client:
        yield client


def state(hub: Emulator, repo_id: str) -> tuple[str, str | None, str | None, int | None]:
    """The emulator's truth: stage, current and requested flavor, sleep time."""
    hub.world.advance()
    space = hub.world.space(repo_id)
    return (
        space.stage.value,
        None if space.current is None else space.current.value,
        None if space.requested is None else space.requested.value,
        space.sleep_time,
    )


def requested_flavors(hub: Emulator, repo_id: str) -> list[str | None]:
    """Every flavor requested of the Space, in order (the ground-truth event log)."""
    return [e.requested for e in hub.world.events_for(repo_id) if e.reason == "hardware requested"]


async def test_a_normal_exit_restores_the_previous_flavor(hub: Emulator, alice: SpaceClient) -> None:
    with anyio.fail_after(10):
        async with alice.lease("alice/demo", "t4-small", cadence=FAST) as runtime:
            assert runtime.stage == SpaceStage.RUNNING
            assert runtime.hardware == runtime.requested_hardware == SpaceHardware.T4_SMALL
            assert state(hub, "alice/demo")[:3] == ("RUNNING", "t4-small", "t4-small")
    assert state(hub, "alice/demo")[2] == "cpu-basic"
    assert requested_flavors(hub, "alice/demo") == ["t4-small", "cpu-basic"]
    with anyio.fail_after(10):
        back = await alice.wait_for_space("alice/demo", hardware="cpu-basic", cadence=FAST)
    assert back.hardware == SpaceHardware.CPU_BASIC


async def test_an_exception_in_the_body_releases_and_propagates_unchanged(
    hub: Emulator, alice: SpaceClient
) -> None:
    with anyio.fail_after(10), pytest.raises(JobFailed, match="out of memory"):
        async with alice.lease("alice/demo", "a10g-small", cadence=FAST):
            raise JobFailed("out of memory")
    assert state(hub, "alice/demo")[2] == "cpu-basic"
    assert requested_flavors(hub, "alice/demo") == ["a10g-small", "cpu-basic"]


async def test_cancelling_the_task_that_holds_the_lease_releases_it(
    hub: Emulator, alice: SpaceClient
) -> None:
    acquired = anyio.Event()
    finished = []

    async def job() -> None:
        async with alice.lease("alice/demo", "t4-small", cadence=FAST):
            acquired.set()
            await anyio.sleep_forever()
        finished.append(True)  # never reached: the cancellation goes on after the release

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(job)
            await acquired.wait()
            assert state(hub, "alice/demo")[2] == "t4-small"
            tg.cancel_scope.cancel()
    assert not finished
    assert state(hub, "alice/demo")[2] == "cpu-basic"
    assert requested_flavors(hub, "alice/demo") == ["t4-small", "cpu-basic"]


async def test_cancelling_while_acquiring_releases_too(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", stuck=True)  # the build never ends
    with anyio.move_on_after(0.3) as scope:
        async with alice.lease("alice/demo", "t4-small", cadence=FAST):
            pytest.fail("the lease can't be acquired")
    assert scope.cancelled_caught
    assert requested_flavors(hub, "alice/demo") == ["t4-small", "cpu-basic"]


async def test_a_release_refused_by_the_hub_is_retried_until_taken(
    hub: Emulator, alice: SpaceClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "aiospace.lease")
    with anyio.fail_after(10):
        async with alice.lease("alice/demo", "t4-small", cadence=FAST):
            fault = hub.world.add_fault(
                "error", route="request_space_hardware", space="alice/demo", status=500, times=2
            )
            reads = hub.world.add_fault(
                "error", route="get_space_runtime", space="alice/demo", status=502, times=1, rate=1.0
            )
    assert fault.fired == 2
    assert reads.fired >= 1
    assert state(hub, "alice/demo")[2] == "cpu-basic"
    failures = [r for r in caplog.records if "release of alice/demo" in r.getMessage()]
    assert failures and all(r.levelno == logging.WARNING for r in failures)


async def test_a_release_that_keeps_failing_raises_lease_release_error(
    hub: Emulator, alice: SpaceClient, caplog: pytest.LogCaptureFixture
) -> None:
    with anyio.fail_after(10), pytest.raises(LeaseReleaseError) as caught:
        async with alice.lease("alice/demo", "a100-large", cadence=FAST, release_attempts=3):
            hub.world.add_fault("error", route="request_space_hardware", space="alice/demo", status=503)
            raise JobFailed("the job broke")
    error = caught.value
    assert error.repo_id == "alice/demo" and error.hardware == "a100-large" and error.attempts == 3
    assert "restore cpu-basic" in str(error) and "may still run on a100-large" in str(error)
    assert isinstance(error.__cause__, ServerError) and error.__cause__.status == 503
    assert isinstance(error.__context__, JobFailed)  # what ended the lease is kept
    assert state(hub, "alice/demo")[2] == "a100-large"  # the Hub never took it: and we said so
    assert any(r.levelno == logging.ERROR and "could not release" in r.getMessage() for r in caplog.records)


async def test_a_permanent_refusal_is_not_retried(hub: Emulator, alice: SpaceClient) -> None:
    with anyio.fail_after(10), pytest.raises(LeaseReleaseError) as caught:
        async with alice.lease("alice/demo", "t4-small", cadence=FAST):
            hub.world.add_fault("error", route="request_space_hardware", space="alice/demo", status=403)
    assert caught.value.attempts == 1
    assert caught.value.__context__ is None  # the body ended normally


async def test_a_release_past_its_deadline_raises(hub: Emulator, alice: SpaceClient) -> None:
    with anyio.fail_after(10), pytest.raises(LeaseReleaseError, match="not confirmed within 5s"):
        async with alice.lease("alice/demo", "t4-small", cadence=FAST, release_timeout=5):
            hub.world.add_fault("latency", route="request_space_hardware", space="alice/demo", latency=60)


async def test_a_crash_during_the_lease_still_releases(hub: Emulator, alice: SpaceClient) -> None:
    with anyio.fail_after(10):
        async with alice.lease("alice/demo", "t4-small", cadence=FAST):
            hub.world.crash("alice/demo")
            failed = await alice.get_space_runtime("alice/demo")
            assert failed.stage == SpaceStage.RUNTIME_ERROR
    stage, _, requested, _ = state(hub, "alice/demo")
    assert requested == "cpu-basic" and stage == "BUILDING"  # rebuilding on the restored flavor


async def test_a_space_that_fails_while_acquiring_is_released_and_the_failure_raised(
    hub: Emulator, alice: SpaceClient
) -> None:
    hub.world.configure("alice/demo", fail_build=True)
    with anyio.fail_after(10), pytest.raises(SpaceFailedError) as caught:
        async with alice.lease("alice/demo", "t4-small", cadence=FAST):
            pytest.fail("the build fails")
    assert caught.value.runtime.stage == SpaceStage.BUILD_ERROR
    assert requested_flavors(hub, "alice/demo") == ["t4-small", "cpu-basic"]


async def test_a_timeout_while_acquiring_releases_and_raises(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", stuck=True)
    with anyio.fail_after(10), pytest.raises(WaitTimeoutError):
        async with alice.lease("alice/demo", "t4-small", cadence=FAST, timeout=20):
            pytest.fail("the build never ends")
    assert requested_flavors(hub, "alice/demo") == ["t4-small", "cpu-basic"]


async def test_release_pause_pauses(hub: Emulator, alice: SpaceClient) -> None:
    with anyio.fail_after(10):
        async with alice.lease("alice/demo", "t4-small", release="pause", cadence=FAST):
            pass
    assert state(hub, "alice/demo")[:3] == ("PAUSED", None, "t4-small")


async def test_release_to_a_flavor_requests_it(hub: Emulator, alice: SpaceClient) -> None:
    with anyio.fail_after(10):
        async with alice.lease("alice/demo", "t4-small", release="cpu-upgrade", cadence=FAST):
            pass
    assert requested_flavors(hub, "alice/demo") == ["t4-small", "cpu-upgrade"]


async def test_restore_brings_back_the_sleep_time_of_paid_hardware(hub: Emulator, alice: SpaceClient) -> None:
    await alice.set_space_sleep_time("alice/gpu-app", 3600)
    with anyio.fail_after(10):
        async with alice.lease("alice/gpu-app", "a10g-small", sleep_time=600, cadence=FAST):
            assert state(hub, "alice/gpu-app")[2:] == ("a10g-small", 600)
    assert state(hub, "alice/gpu-app")[2:] == ("t4-small", 3600)


async def test_a_paused_space_is_started_for_the_lease_and_paused_again(
    hub: Emulator, alice: SpaceClient
) -> None:
    await alice.pause_space("alice/gpu-app")
    with anyio.fail_after(10):
        async with alice.lease("alice/gpu-app", "a10g-small", cadence=FAST) as runtime:
            assert runtime.stage == SpaceStage.RUNNING and runtime.hardware == SpaceHardware.A10G_SMALL
    assert state(hub, "alice/gpu-app")[:3] == ("PAUSED", None, "t4-small")


async def test_a_second_lease_of_the_space_waits_for_the_first(hub: Emulator, alice: SpaceClient) -> None:
    log: list[str] = []
    first_in = anyio.Event()
    go_on = anyio.Event()

    async def first() -> None:
        async with alice.lease("alice/demo", "t4-small", cadence=FAST):
            log.append("first in")
            first_in.set()
            await go_on.wait()
            log.append("first out")

    async def second() -> None:
        await first_in.wait()
        log.append("second asks")
        async with alice.lease("alice/demo", "a10g-small", cadence=FAST) as runtime:
            log.append(f"second in on {runtime.hardware}")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            tg.start_soon(second)
            await first_in.wait()
            await anyio.sleep(0.2)  # 40 Hub seconds: long enough for the second to acquire, if it could
            assert log == ["first in", "second asks"]
            go_on.set()
    assert log == ["first in", "second asks", "first out", "second in on a10g-small"]
    # The second read the Space after the first's release: it restored cpu-basic too.
    assert requested_flavors(hub, "alice/demo") == ["t4-small", "cpu-basic", "a10g-small", "cpu-basic"]


async def test_a_queued_lease_times_out_within_its_timeout(hub: Emulator, alice: SpaceClient) -> None:
    errors: list[WaitTimeoutError] = []

    async def second() -> None:
        try:
            async with alice.lease("alice/demo", "a10g-small", timeout=10):
                pytest.fail("the Space is leased")
        except WaitTimeoutError as error:
            errors.append(error)

    with anyio.fail_after(10):
        async with alice.lease("alice/demo", "t4-small", cadence=FAST):
            async with anyio.create_task_group() as tg:
                tg.start_soon(second)
    assert len(errors) == 1 and errors[0].timeout == 10 and errors[0].runtime is None
    assert "another lease of the Space from this client held it" in str(errors[0])
    assert requested_flavors(hub, "alice/demo") == ["t4-small", "cpu-basic"]


async def test_the_same_task_leasing_twice_is_refused(hub: Emulator, alice: SpaceClient) -> None:
    with anyio.fail_after(10):
        async with alice.lease("alice/demo", "t4-small", cadence=FAST):
            with pytest.raises(InvalidArgumentError, match="already holds a lease of alice/demo"):
                async with alice.lease("alice/demo", "a10g-small"):
                    pass
            async with alice.lease("alice/gpu-app", "a10g-small", cadence=FAST) as other:
                assert other.hardware == SpaceHardware.A10G_SMALL  # another Space is fine
    assert state(hub, "alice/demo")[2] == "cpu-basic"
    assert state(hub, "alice/gpu-app")[2] == "t4-small"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"hardware": "not a flavor!"}, "hardware"),
        ({"release": "Not A Flavor"}, "release"),
        ({"release": 3}, "release"),
        ({"sleep_time": -5}, "sleep_time"),
        ({"timeout": -1}, "timeout"),
        ({"release_timeout": 0}, "release_timeout"),
        ({"release_attempts": 0}, "release_attempts"),
        ({"repo_id": "no-slash"}, "repo_id"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    hub: Emulator, alice: SpaceClient, kwargs: dict[str, object], argument: str
) -> None:
    call: dict[str, object] = {"repo_id": "alice/demo", "hardware": "t4-small", **kwargs}
    with pytest.raises(InvalidArgumentError) as caught:
        async with alice.lease(**call):  # type: ignore[arg-type]
            pytest.fail("refused")
    assert caught.value.argument == argument
    assert alice.stats.requests == 0


async def test_a_release_flavor_the_hub_does_not_offer_is_refused_before_any_write(
    hub: Emulator, alice: SpaceClient
) -> None:
    with pytest.raises(InvalidArgumentError, match="'sometimes' is not a flavor the Hub offers"):
        async with alice.lease("alice/demo", "t4-small", release="sometimes"):
            pytest.fail("refused")
    assert alice.stats.by_route == {"list_spaces_hardware": 1}


async def test_restoring_a_static_space_is_refused_before_any_write(
    hub: Emulator, alice: SpaceClient
) -> None:
    with pytest.raises(InvalidArgumentError, match="no requested flavor to restore"):
        async with alice.lease("alice/static-site", "t4-small"):
            pytest.fail("refused")
    assert alice.stats.by_route["request_space_hardware"] == 0


async def test_a_refused_request_needs_no_release(hub: Emulator) -> None:
    async with client_for(hub, "bob") as bob:
        with anyio.fail_after(10), pytest.raises(PermissionDeniedError):
            async with bob.lease("alice/demo", "t4-small"):
                pytest.fail("bob may not change alice's Space")
        assert bob.stats.by_route["request_space_hardware"] == 1  # no release was sent
    assert requested_flavors(hub, "alice/demo") == []


def test_plan_release() -> None:
    running = SpaceRuntime(
        SpaceStage.RUNNING, SpaceHardware.T4_SMALL, SpaceHardware.T4_SMALL, sleep_time=None
    )
    plan = plan_release("a/b", "restore", running, "a100-large", sleep_time=600)
    assert plan == ReleasePlan("a/b", SpaceHardware.T4_SMALL, -1, pause=False, mode="restore")
    assert plan.describe() == "restore t4-small, never sleep"
    assert plan_release("a/b", "restore", running, "a100-large").sleep_time is None  # untouched
    free = SpaceRuntime(SpaceStage.PAUSED, None, SpaceHardware.CPU_BASIC, sleep_time=172800)
    plan = plan_release("a/b", "restore", free, "a100-large", sleep_time=600)
    assert plan == ReleasePlan("a/b", SpaceHardware.CPU_BASIC, None, pause=True, mode="restore")
    assert plan.describe() == "restore cpu-basic, paused"
    assert plan_release("a/b", "pause", running, "t4-small").describe() == "pause"
    assert plan_release("a/b", "cpu-upgrade", running, "t4-small").describe() == "request cpu-upgrade"

    paused_plan = ReleasePlan("a/b", SpaceHardware.CPU_BASIC, 3600, pause=True)
    assert paused_plan.taken(SpaceRuntime(SpaceStage.PAUSED, None, SpaceHardware.CPU_BASIC, sleep_time=3600))
    assert not paused_plan.taken(
        SpaceRuntime(SpaceStage.RUNNING, None, SpaceHardware.CPU_BASIC, sleep_time=3600)
    )
    assert not paused_plan.taken(
        SpaceRuntime(SpaceStage.PAUSED, None, SpaceHardware.T4_SMALL, sleep_time=3600)
    )
    assert not paused_plan.taken(
        SpaceRuntime(SpaceStage.PAUSED, None, SpaceHardware.CPU_BASIC, sleep_time=60)
    )


def test_app_url() -> None:
    domains = (SpaceDomain("x-y-old.hf.space", "PENDING"), SpaceDomain("x-y.hf.space", "READY"))
    assert app_url("a/b", SpaceRuntime(SpaceStage.RUNNING, domains=domains)) == "https://x-y.hf.space"
    assert app_url("Alice/My_App.v2") == "https://alice-my-app-v2.hf.space"
    assert app_url("a/b", SpaceRuntime(SpaceStage.RUNNING)) == "https://a-b.hf.space"


async def test_asyncio_cancelling_twice_does_not_cut_the_release_short(
    hub: Emulator, alice: SpaceClient
) -> None:
    acquired = asyncio.Event()

    async def job() -> None:
        async with alice.lease("alice/demo", "t4-small", cadence=FAST):
            # The release will take 40 Hub seconds (0.2 s): time for a second cancel to land in it.
            hub.world.add_fault("latency", route="request_space_hardware", space="alice/demo", latency=40)
            acquired.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(job())
    with anyio.fail_after(10):
        await acquired.wait()
        task.cancel()
        await asyncio.sleep(0.05)
        task.cancel()  # a second Ctrl-C, asyncio.run() cancelling what is left...
        with pytest.raises(asyncio.CancelledError):
            await task
    assert requested_flavors(hub, "alice/demo") == ["t4-small", "cpu-basic"]

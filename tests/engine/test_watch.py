"""The watch engine (``aiospace/engine/watch.py``: one Space's watch, and the waits and watchers
built on it) against the emulator, over loopback HTTP, at high clock speed.

The cases marked ``hostile`` play answers no client can read on :class:`hostile_hub.HostileHub`;
those marked ``careless`` give a watch odd arguments.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import attrs
import pytest
from helpers import client_for
from hostile_hub import BAD_ANSWERS, BASE, QUICK, REPO, RUNNING, HostileHub, runtime_path

from aiospace import (
    BadAnswerError,
    Cadence,
    Change,
    InvalidArgumentError,
    RateLimitedError,
    ServerError,
    SpaceClient,
    SpaceFailedError,
    SpaceNotFoundError,
    SpaceRuntime,
    SpaceStage,
    Transition,
    WaitTimeoutError,
)
from aiospace.emulator import Emulator
from aiospace.engine.watch import SpaceWatch

FAST = Cadence(fast=1.0, slow=10.0, jitter=0.1, after_write=30.0)


def truth_keys(hub: Emulator, space: str) -> list[tuple[Any, ...]]:
    """The emulator's ground truth for a Space: (stage, hardware, requested) in order."""
    keys: list[tuple[Any, ...]] = []
    for event in hub.world.events_for(space):
        key = (event.stage, event.hardware, event.requested)
        if not keys or keys[-1] != key:
            keys.append(key)
    return keys


def observed_key(runtime: SpaceRuntime) -> tuple[Any, ...]:
    return (
        runtime.stage.value,
        None if runtime.hardware is None else runtime.hardware.value,
        None if runtime.requested_hardware is None else runtime.requested_hardware.value,
    )


def assert_subsequence(observed: Sequence[tuple[Any, ...]], truth: Sequence[tuple[Any, ...]]) -> None:
    position = 0
    for key in observed:
        while position < len(truth) and truth[position] != key:
            position += 1
        assert position < len(truth), f"{key} was observed but is not next in the truth {truth}"


@pytest.fixture
async def hub() -> AsyncIterator[Emulator]:
    async with Emulator(speed=100) as emulator:
        yield emulator


@pytest.fixture
async def alice(hub: Emulator) -> AsyncIterator[SpaceClient]:
    async with client_for(hub, "alice", seed=1) as client:
        yield client


async def test_restart_is_observed_as_the_documented_stages(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", build_seconds=20, start_seconds=8)
    seen: list[Transition] = []
    with anyio.fail_after(10):
        async for transition in alice.watch("alice/demo", cadence=FAST, seed=2):
            seen.append(transition)
            if transition.is_initial:
                await alice.restart_space("alice/demo")
            elif transition.current.stage == SpaceStage.RUNNING:
                break
    stages = [t.current.stage.value for t in seen]
    assert stages == ["RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING", "RUNNING"]
    assert all(Change.STAGE in t.changes for t in seen[1:])
    assert_subsequence([observed_key(t.current) for t in seen], truth_keys(hub, "alice/demo"))


async def test_hardware_convergence_is_signalled_once(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", build_seconds=10, start_seconds=5, hardware_seconds=10)
    seen: list[Transition] = []
    with anyio.fail_after(10):
        async for transition in alice.watch("alice/demo", cadence=FAST, seed=3):
            seen.append(transition)
            if transition.is_initial:
                runtime = await alice.request_space_hardware("alice/demo", "t4-small")
                assert runtime.requested_hardware == "t4-small"
            elif transition.converged:
                break
    converged = [t for t in seen if t.converged]
    assert len(converged) == 1
    assert converged[0].current.hardware == "t4-small" and converged[0].current.is_converged
    assert any(Change.REQUESTED_HARDWARE in t.changes for t in seen)
    assert_subsequence([observed_key(t.current) for t in seen], truth_keys(hub, "alice/demo"))


async def test_wait_for_space_returns_the_running_runtime(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", build_seconds=15, start_seconds=5)
    await alice.restart_space("alice/demo")
    heard: list[Transition] = []
    runtime = await alice.wait_for_space("alice/demo", timeout=600, cadence=FAST, on_transition=heard.append)
    assert runtime.stage == SpaceStage.RUNNING
    assert hub.world.space("alice/demo").stage == SpaceStage.RUNNING
    assert heard[0].is_initial and heard[0].current.stage == SpaceStage.RUNNING_BUILDING
    assert heard[-1].current == runtime


async def test_wait_for_hardware(hub: Emulator, alice: SpaceClient) -> None:
    await alice.request_space_hardware("alice/demo", "a10g-small")
    runtime = await alice.wait_for_space("alice/demo", hardware="a10g-small", timeout=600, cadence=FAST)
    assert runtime.hardware == runtime.requested_hardware == "a10g-small"
    assert runtime.stage == SpaceStage.RUNNING


async def test_build_error_raises_with_log_lines(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", fail_build=True, build_seconds=10)
    await alice.restart_space("alice/demo")
    with pytest.raises(SpaceFailedError) as failure:
        await alice.wait_for_space("alice/demo", timeout=600, cadence=FAST)
    assert failure.value.runtime.stage == SpaceStage.BUILD_ERROR
    assert failure.value.log_lines, "the failure carries the tail of the build log"
    build_log = [entry.text for entry in hub.world.space("alice/demo").build_log]
    assert failure.value.log_lines[-1] == build_log[-1]
    assert "BUILD_ERROR" in str(failure.value)


async def test_runtime_error_raises_with_run_log(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", crash_after=5, build_seconds=5, start_seconds=2)
    await alice.restart_space("alice/demo")
    with pytest.raises(SpaceFailedError) as failure:
        # Running is not enough: wait for a stage it never reaches, so the crash is seen.
        await alice.wait_for_space("alice/demo", stage="PAUSED", timeout=600, cadence=FAST)
    assert failure.value.runtime.stage == SpaceStage.RUNTIME_ERROR
    assert failure.value.log_lines


async def test_timeout_carries_the_last_runtime(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", stuck=True)
    await alice.restart_space("alice/demo")
    with pytest.raises(WaitTimeoutError) as timeout:
        await alice.wait_for_space("alice/demo", timeout=60, cadence=FAST)
    assert isinstance(timeout.value, TimeoutError)
    assert timeout.value.runtime is not None
    assert timeout.value.runtime.stage == SpaceStage.RUNNING_BUILDING


async def test_missing_space_ends_the_watch_with_the_typed_error(alice: SpaceClient) -> None:
    with pytest.raises(SpaceNotFoundError) as missing:
        async for _ in alice.watch("alice/no-such-space"):
            pass
    assert missing.value.repo_id == "alice/no-such-space"


async def test_transient_failures_are_retried_and_never_a_transition(
    hub: Emulator, alice: SpaceClient
) -> None:
    hub.world.add_fault("error", route="get_space_runtime", status=503, times=2)
    hub.world.add_fault("malformed", route="get_space_runtime", times=1)
    watch = alice.watch("alice/demo", cadence=FAST, seed=4)
    async with watch:
        first = await watch.__anext__()
        hub.world.add_fault("error", route="get_space_runtime", status=502, times=3)
        await alice.pause_space("alice/demo")
        second = await watch.__anext__()
    assert first.is_initial and first.current.stage == SpaceStage.RUNNING
    assert second.previous == first.current and second.current.stage == SpaceStage.PAUSED
    assert watch.stats.failures == 6
    assert watch.stats.transitions == 2
    assert isinstance(watch.stats.last_error, ServerError) and watch.stats.last_error.status == 502


async def test_a_429_is_honoured(hub: Emulator) -> None:
    hub.world.limiter.configure(quota=5, window=60)
    token = hub.token_for("alice")
    async with SpaceClient(endpoint=hub.url, token=token, clock=hub.clock) as client:
        for _ in range(5):
            await client.get_space_runtime("alice/demo")  # spend the whole window
        started = hub.clock.now()
        watch = client.watch("alice/demo", cadence=FAST)
        async with watch:
            with anyio.fail_after(10):
                first = await watch.__anext__()
        assert first.is_initial
        assert watch.stats.rate_limited == 1
        limited = watch.stats.last_error
        assert isinstance(limited, RateLimitedError) and limited.retry_after is not None
        # It came back only once Retry-After had passed (Hub time), and was refused once.
        assert first.observed_at - started >= limited.retry_after - 1
    assert sum(hub.world.stats.rate_limited.values()) == 1


def fleet_seed(count: int, author: str = "fleet") -> dict[str, Any]:
    return {
        "users": {author: f"hf_{author}"},
        "spaces": [
            {"id": f"{author}/s{i:03d}", "sdk": "gradio", "hardware": "cpu-basic"} for i in range(count)
        ],
    }


async def test_a_hundred_spaces_within_a_small_quota() -> None:
    async with Emulator(speed=200, seed=fleet_seed(100), quota=150, window=60) as fleet:
        async with SpaceClient(endpoint=fleet.url, token="hf_fleet", clock=fleet.clock) as client:
            spaces = [f"fleet/s{i:03d}" for i in range(100)]
            first_seen: set[str] = set()
            async with client.watcher(cadence=FAST, batch=False, quota=150, window=60, seed=5) as watcher:
                watcher.add(*spaces)
                start = fleet.clock.now()
                # Until each was seen (however long a loaded machine takes), then to 200 Hub seconds.
                with anyio.fail_after(30):
                    async for transition in watcher:
                        first_seen.add(transition.repo_id)
                        if first_seen == set(spaces):
                            break
                with anyio.move_on_after(max(0.0, 200 - (fleet.clock.now() - start)) / fleet.clock.speed):
                    async for _ in watcher:
                        pass
                limited_after_first_window = watcher.stats.rate_limited
            assert first_seen == set(spaces), "every Space's state was observed"
            assert limited_after_first_window == 0
            assert sum(fleet.world.stats.rate_limited.values()) == 0
            assert fleet.world.stats.total >= 100


async def test_batch_polling_uses_fewer_requests() -> None:
    counts = {}
    for batch in (False, True):
        async with Emulator(speed=200, seed=fleet_seed(30)) as fleet:
            async with SpaceClient(endpoint=fleet.url, token="hf_fleet", clock=fleet.clock) as client:
                seen: set[str] = set()
                async with client.watcher(cadence=FAST, batch=batch, seed=6) as watcher:
                    watcher.add(*(f"fleet/s{i:03d}" for i in range(30)))
                    with anyio.move_on_after(60 / fleet.clock.speed):
                        async for transition in watcher:
                            seen.add(transition.repo_id)
                assert len(seen) == 30
                counts[batch] = fleet.world.stats.total
                if batch:
                    assert watcher.stats.batch_requests > 0
                    assert fleet.world.stats.by_route["list_spaces"] > 0
    assert counts[True] * 3 < counts[False], counts


async def test_watcher_add_and_remove_while_running(hub: Emulator, alice: SpaceClient) -> None:
    async with alice.watcher(cadence=FAST, batch=False, seed=7) as watcher:
        watcher.add("alice/demo")
        first = await watcher.__anext__()
        assert first.repo_id == "alice/demo"
        watcher.add("bob/tool")
        second = await watcher.__anext__()
        assert second.repo_id == "bob/tool" and second.is_initial
        watcher.remove("alice/demo")
        assert watcher.spaces == ["bob/tool"]


async def test_watcher_sees_a_write_through_the_same_client(hub: Emulator, alice: SpaceClient) -> None:
    slow = Cadence(fast=1.0, slow=600.0, jitter=0.0, after_write=30.0, backoff=10.0)
    async with alice.watcher(cadence=slow, batch=False) as watcher:
        watcher.add("alice/demo")
        await watcher.__anext__()
        with anyio.move_on_after(30 / hub.clock.speed):  # let it back off
            await watcher.__anext__()
        await alice.pause_space("alice/demo")
        paused_at = hub.clock.now()
        with anyio.fail_after(5):
            transition = await watcher.__anext__()
        assert transition.current.stage == SpaceStage.PAUSED
        # Seen within the fast interval after the write, not after the slow one.
        assert transition.observed_at - paused_at < 10


async def test_slow_consumer_never_loses_the_latest(hub: Emulator, alice: SpaceClient) -> None:
    hub.world.configure("alice/demo", build_seconds=4, start_seconds=4)
    async with alice.watcher(cadence=FAST, batch=False, buffer=1) as watcher:
        watcher.add("alice/demo")
        await watcher.__anext__()
        await alice.restart_space("alice/demo")
        await anyio.sleep(30 / hub.clock.speed)  # a slow consumer: the whole restart happens meanwhile
        # RUNNING -> RUNNING_BUILDING -> ... -> RUNNING merged: nothing changed end to end, nothing to say.
        assert watcher.stats.coalesced >= 1
        assert watcher.stats.transitions == 1, "only the initial transition is left to deliver"
        latest = watcher.latest("alice/demo")
        assert latest is not None and latest.stage == SpaceStage.RUNNING
        await alice.request_space_hardware("alice/demo", "t4-small")
        await anyio.sleep(60 / hub.clock.speed)  # the whole move to the GPU happens meanwhile
        transition = await watcher.__anext__()
    assert transition.previous is not None and transition.previous.stage == SpaceStage.RUNNING
    assert transition.current.stage == SpaceStage.RUNNING
    assert transition.current.hardware == "t4-small"
    # Recomputed from its ends: both ends are converged, so no CONVERGED signal (nor STAGE).
    assert transition.changes == {Change.HARDWARE, Change.REQUESTED_HARDWARE}
    assert transition.current.is_converged


#: The server side's tasks in the same loop: the emulator's request handlers, and the
#: event loop accepting a connection (still under way on a loaded machine).
_SERVER_SIDE = ("RequestHandler", "BaseSelectorEventLoop._accept_connection")


def client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks of the client side (the emulator's own are not counted)."""
    return {t for t in asyncio.all_tasks() if not t.get_coro().__qualname__.startswith(_SERVER_SIDE)}


async def test_break_and_cancel_leave_no_task(hub: Emulator, alice: SpaceClient) -> None:
    baseline = len(client_tasks())
    async for _ in alice.watch("alice/demo"):
        break
    assert len(client_tasks()) == baseline, [t.get_coro().__qualname__ for t in client_tasks()]

    async with alice.watcher(cadence=FAST) as watcher:
        watcher.add("alice/demo", "bob/tool")
        await watcher.__anext__()
        assert len(client_tasks()) > baseline
    assert len(client_tasks()) == baseline, [t.get_coro().__qualname__ for t in client_tasks()]

    async def consume() -> None:
        async with alice.watcher(cadence=FAST) as w:
            w.add("alice/demo")
            async for _ in w:
                pass

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(client_tasks()) == baseline, [t.get_coro().__qualname__ for t in client_tasks()]


async def test_observed_transitions_follow_the_truth_under_random_events(hub: Emulator) -> None:
    import random

    rng = random.Random(11)
    token = hub.token_for("alice")
    spaces = ["alice/demo", "alice/gpu-app"]
    for space in spaces:
        hub.world.configure(space, build_seconds=6, start_seconds=3, hardware_seconds=4)
    observed: dict[str, list[tuple[Any, ...]]] = {s: [] for s in spaces}
    async with (
        SpaceClient(endpoint=hub.url, token=token, clock=hub.clock) as client,
        client.watcher(cadence=Cadence(fast=0.5, slow=4.0), batch=False, seed=8) as watcher,
    ):
        watcher.add(*spaces)

        async def chaos() -> None:
            for _ in range(12):
                await hub.clock.sleep(rng.uniform(1, 12))
                space = rng.choice(spaces)
                action = rng.choice(["restart", "hardware", "pause", "commit"])
                if action == "restart":
                    await client.restart_space(space)
                elif action == "hardware":
                    await client.request_space_hardware(space, rng.choice(["cpu-basic", "t4-small", "l4x1"]))
                elif action == "pause":
                    await client.pause_space(space)
                else:
                    hub.world.commit(space)
            await hub.clock.sleep(40)

        async with anyio.create_task_group() as tg:

            async def run_chaos() -> None:
                await chaos()
                tg.cancel_scope.cancel()

            tg.start_soon(run_chaos)
            async for transition in watcher:
                observed[transition.repo_id].append(observed_key(transition.current))
    for space in spaces:
        assert observed[space], space
        assert_subsequence(observed[space], truth_keys(hub, space))
        assert observed[space][-1] == truth_keys(hub, space)[-1], "the final state was observed"


# -------------------------------------------------------------------------- a hostile Hub: unreadable answers


@pytest.mark.hostile
async def test_a_watch_retries_unreadable_answers_until_the_hub_heals(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    naive_503 = HostileHub.json({"error": "busy"}, 503, {"Retry-After": "Mon, 01 Jan 2024 00:00:00 -0000"})
    hostile.play("GET", f"{BASE}/runtime", *BAD_ANSWERS, naive_503, HostileHub.json(RUNNING))
    with anyio.fail_after(10):
        async with hostile_client.watch(REPO, cadence=QUICK) as watch:
            first = await watch.__anext__()
    assert first.is_initial and first.current.stage == SpaceStage.RUNNING
    assert watch.stats.failures == 5
    assert isinstance(watch.stats.last_error, ServerError)
    assert watch.tracker.bad_answers == 0
    assert hostile.count(f"{BASE}/runtime") == 6


@pytest.mark.hostile
async def test_a_watch_gives_up_after_max_bad_answers(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    # A 503 between unreadable answers does not reset the count: only a readable answer does.
    busy = HostileHub.json({"error": "busy"}, 503)
    hostile.play("GET", f"{BASE}/runtime", BAD_ANSWERS[2], busy, BAD_ANSWERS[0], busy, BAD_ANSWERS[3])
    cadence = attrs.evolve(QUICK, max_bad_answers=3)
    with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
        async for _ in hostile_client.watch(REPO, cadence=cadence):
            pass
    assert info.value.reason == "not-json"
    assert hostile.count(f"{BASE}/runtime") == 5


# ------------------------------------------------------------ nothing left behind, careless arguments refused


async def test_break_out_of_a_watch_leaves_no_listener(
    hostile: HostileHub, default_client: SpaceClient
) -> None:
    hostile.play("GET", runtime_path("user/app"), HostileHub.json(RUNNING))
    _ = default_client.budget  # its listener is the one that stays
    baseline = len(default_client._transport._listeners)
    watches: list[weakref.ref[SpaceWatch]] = []
    for _ in range(30):
        watch = default_client.watch("user/app", cadence=QUICK)
        watches.append(weakref.ref(watch))
        async for _ in watch:  # the README's pattern: no async with
            break
        del watch
    # A full collection only for a watch a cycle keeps (a failed poll's traceback). Forced every
    # time, it also finalized whatever garbage earlier tests of a full run left, and a warning
    # from it (an unclosed socket: an error in this suite) was charged to this test.
    if any(ref() is not None for ref in watches):
        gc.collect()
    await default_client.get_space_runtime("user/app")  # one more answer: dead listeners unsubscribe
    assert len(default_client._transport._listeners) == baseline


@pytest.mark.careless
@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"cadence": "fast"}, "cadence"), ({"seed": [1]}, "seed"), ({"seed": True}, "seed")],
)
async def test_a_watch_refuses_a_careless_argument_before_any_request(
    hostile: HostileHub, default_client: SpaceClient, kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        default_client.watch("user/app", **kwargs)
    assert info.value.argument == argument
    assert hostile.requests == []

"""The watch engine contains what goes wrong around it, on a scripted Hub (tests/hostile.py).

A caller's own exception and a watched Space's error reach the caller as themselves
(never in an ExceptionGroup); a Space removed and added again while its poll is under
way is polled again; ``break`` out of a watch leaves no listener behind; merged
transitions are recomputed from their ends; a wait's target must be a stage that
exists and its timeout a number; a Space's failure wins over the deadline when its
log tail is read; one author's refused listing turns batching off for that author
only; a listener that raises is logged and ignored.
"""

from __future__ import annotations

import asyncio
import gc
import math
import pickle
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from aiohttp import web
from hostile_hub import QUICK, RUNNING, HostileHub, runtime_path

from aiospace import (
    Change,
    InvalidArgumentError,
    ScaledClock,
    ServerError,
    SpaceClient,
    SpaceFailedError,
    SpaceHardware,
    SpaceNotFoundError,
    SpaceRuntime,
    SpaceStage,
    Transition,
    WaitTimeoutError,
)

TOKEN = "hf_ContainedTokenNeverShown000"


@pytest.fixture
async def client(hostile: HostileHub) -> AsyncIterator[SpaceClient]:
    async with SpaceClient(endpoint=hostile.url, token=TOKEN, clock=ScaledClock(1000), seed=1) as made:
        yield made


# --------------------------------------------------------------------------- errors as themselves


async def test_the_callers_own_exception_leaves_a_watcher_as_itself(client: SpaceClient) -> None:
    with pytest.raises(KeyError) as info:
        async with client.watcher(cadence=QUICK):
            raise KeyError("the caller's own")
    assert type(info.value) is KeyError


async def test_a_missing_space_leaves_a_watcher_as_itself(hostile: HostileHub, client: SpaceClient) -> None:
    caught: SpaceNotFoundError | None = None
    with anyio.fail_after(10):
        try:
            async with client.watcher(cadence=QUICK) as watcher:
                watcher.add("user/nope")  # the hostile Hub answers 404 for anything unscripted
                async for _ in watcher:
                    pass
        except SpaceNotFoundError as error:  # the README's pattern
            caught = error
    assert caught is not None and caught.repo_id == "user/nope"


# --------------------------------------------------------------------------- membership while polling


async def test_removed_and_added_again_while_its_poll_is_under_way(
    hostile: HostileHub, client: SpaceClient
) -> None:
    polled = asyncio.Event()
    answer = asyncio.Event()

    async def slow(_: web.Request) -> web.StreamResponse:
        polled.set()
        await answer.wait()
        return web.json_response(RUNNING)

    hostile.play("GET", runtime_path("user/x"), slow, HostileHub.json(RUNNING))
    with anyio.fail_after(10):
        async with client.watcher(cadence=QUICK, batch=False) as watcher:
            watcher.add("user/x")
            await polled.wait()
            watcher.remove("user/x")
            watcher.add("user/x")  # a new tracker while the old one's poll is in flight
            answer.set()
            transition = await watcher.__anext__()  # from the new tracker's own poll
    assert transition.is_initial and transition.repo_id == "user/x"
    assert hostile.count(runtime_path("user/x")) >= 2


# --------------------------------------------------------------------------- nothing left behind


async def test_break_out_of_a_watch_leaves_no_listener(hostile: HostileHub, client: SpaceClient) -> None:
    hostile.play("GET", runtime_path("user/app"), HostileHub.json(RUNNING))
    _ = client.budget  # its listener is the one that stays
    baseline = len(client._transport._listeners)
    for _ in range(30):
        async for _ in client.watch("user/app", cadence=QUICK):  # the README's pattern: no async with
            break
    gc.collect()
    await client.get_space_runtime("user/app")  # one more answer: dead listeners unsubscribe
    assert len(client._transport._listeners) == baseline


# --------------------------------------------------------------------------- merges


def _runtime(stage: str, hardware: str = "cpu-basic", requested: str = "cpu-basic") -> SpaceRuntime:
    return SpaceRuntime(SpaceStage(stage), SpaceHardware(hardware), SpaceHardware(requested))


def _transition(previous: SpaceRuntime | None, current: SpaceRuntime, at: float) -> Transition:
    from aiospace.engine.transitions import detect_changes

    return Transition("user/x", previous, current, detect_changes(previous, current), at)


def test_a_merge_that_changes_nothing_is_dropped() -> None:
    running, rebuilding = _runtime("RUNNING"), _runtime("RUNNING_BUILDING")
    there = _transition(running, rebuilding, 1.0)
    back = _transition(rebuilding, running, 2.0)
    assert Change.STAGE in there.changes and Change.STAGE in back.changes
    assert there.merge(back) is None  # RUNNING -> RUNNING_BUILDING -> RUNNING: nothing happened


def test_a_merge_is_recomputed_from_its_ends() -> None:
    cpu = _runtime("RUNNING")
    asked = _runtime("RUNNING_BUILDING", "cpu-basic", "t4-small")
    moved = _runtime("RUNNING", "t4-small", "t4-small")
    merged = _transition(cpu, asked, 1.0).merge(_transition(asked, moved, 2.0))
    assert merged is not None
    assert (merged.previous, merged.current, merged.observed_at) == (cpu, moved, 2.0)
    # Both ends converged, both RUNNING: the hardware changed, nothing else.
    assert merged.changes == {Change.HARDWARE, Change.REQUESTED_HARDWARE}


# --------------------------------------------------------------------------- wait_for_space's arguments


async def test_a_target_stage_in_any_case_is_reached(hostile: HostileHub, client: SpaceClient) -> None:
    hostile.play("GET", runtime_path("user/app"), HostileHub.json(RUNNING))
    with anyio.fail_after(10):
        runtime = await client.wait_for_space("user/app", stage="running", timeout=600, cadence=QUICK)
    assert runtime.stage == SpaceStage.RUNNING


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
    hostile: HostileHub, client: SpaceClient, kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        await client.wait_for_space("user/app", **kwargs)
    assert info.value.argument == argument
    assert hostile.requests == []


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"cadence": "fast"}, "cadence"), ({"seed": [1]}, "seed"), ({"seed": True}, "seed")],
)
async def test_a_watch_refuses_a_careless_argument_before_any_request(
    hostile: HostileHub, client: SpaceClient, kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        client.watch("user/app", **kwargs)
    assert info.value.argument == argument
    assert hostile.requests == []


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"cadence": 2.0}, "cadence"), ({"batch": "no"}, "batch"), ({"seed": 1.5}, "seed")],
)
async def test_a_watcher_refuses_a_careless_argument_before_any_request(
    hostile: HostileHub, client: SpaceClient, kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        client.watcher(**kwargs)
    assert info.value.argument == argument
    assert hostile.requests == []


async def test_a_wait_that_times_out_on_a_failing_hub_says_the_last_failure(
    hostile: HostileHub, client: SpaceClient
) -> None:
    # A stuck Space and a Hub out of reach must read apart at the deadline.
    hostile.play("GET", runtime_path("user/app"), HostileHub.json({"stage": "BUILDING"}))
    hostile.play("GET", runtime_path("user/stuck"), HostileHub.json({"stage": "BUILDING"}))
    hostile.play("GET", runtime_path("user/app"), HostileHub.json({"error": "busy"}, 503))
    with anyio.fail_after(10), pytest.raises(WaitTimeoutError) as info:
        await client.wait_for_space("user/app", timeout=30, cadence=QUICK)
    error = info.value
    assert isinstance(error.last_error, ServerError) and error.last_error.status == 503
    assert error.runtime is not None and error.runtime.stage == SpaceStage.BUILDING
    assert str(error).endswith(f"(last stage BUILDING); the last poll failed: {error.last_error}")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    with anyio.fail_after(10), pytest.raises(WaitTimeoutError) as stuck:
        await client.wait_for_space("user/stuck", timeout=30, cadence=QUICK)
    assert stuck.value.last_error is None and "failed" not in str(stuck.value)


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


# --------------------------------------------------------------------------- containment


async def test_a_refused_listing_turns_batching_off_for_its_author_only(
    hostile: HostileHub, client: SpaceClient
) -> None:
    alice = [f"alice/s{i}" for i in range(3)]
    bob = [f"bob/s{i}" for i in range(3)]

    async def listing(request: web.Request) -> web.StreamResponse:
        if request.query.get("author") == "alice":
            return web.json_response({"error": "no"}, status=403)
        return web.json_response([{"id": name, "runtime": RUNNING} for name in bob])

    hostile.play("GET", "/api/spaces", listing)
    for name in [*alice, *bob]:
        hostile.play("GET", runtime_path(name), HostileHub.json(RUNNING))
    seen: set[str] = set()
    with anyio.fail_after(10):
        async with client.watcher(cadence=QUICK) as watcher:
            watcher.add(*alice, *bob)
            async for transition in watcher:
                seen.add(transition.repo_id)
                if seen == {*alice, *bob}:
                    break
            await anyio.sleep(0.05)  # 50 Hub seconds: many more rounds of polls

    def listings(author: str) -> int:
        return sum(1 for r in hostile.requests if r.path == "/api/spaces" and ("author", author) in r.query)

    assert listings("alice") == 1  # refused once, never asked again
    assert all(hostile.count(runtime_path(name)) >= 2 for name in alice)
    assert listings("bob") >= 2  # bob's Spaces are still refreshed by listing

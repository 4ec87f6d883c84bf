"""``Watcher`` (``aiospace/engine/watcher.py``): many Spaces' lives as one async iterator.

Errors reach the caller as themselves; Spaces come and go while their polls are under way;
an author's Spaces are read in one listing while it can be read, one by one when it can't;
nothing is kept of Spaces no longer watched. The cases marked ``hostile`` are played by
:class:`hostile_hub.HostileHub` (a listing that fails, loops or can't be read; answers no
client can read); those marked ``careless`` misuse a watcher (iterated outside ``async with``,
entered twice, shared by two consumers, given odd arguments, its client closed under it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
import attrs
import pytest
from aiohttp import web
from helpers import client_for
from hostile_hub import (
    BAD_ANSWERS,
    QUICK,
    RUNNING,
    HostileHub,
    assert_nothing_open,
    endless_pages,
    eventually,
    make_client,
    runtime_path,
    watch_until_each_is_seen,
)

from aiospace import (
    BadAnswerError,
    Cadence,
    InvalidArgumentError,
    SpaceClient,
    SpaceHardware,
    SpaceNotFoundError,
    SpaceRuntime,
    SpaceStage,
    Transition,
)
from aiospace._http.pages import MAX_LISTING_PAGES
from aiospace.emulator import Emulator
from aiospace.engine.transitions import detect_changes
from aiospace.engine.watcher import Watcher

#: error_max at its default (60): a listing that keeps failing backs off to once a minute.
PATIENT = Cadence(fast=1.0, slow=2.0, after_write=0.0)


# ---------------------------------------------------------------------- errors reach the caller as themselves


async def test_the_callers_own_exception_leaves_a_watcher_as_itself(default_client: SpaceClient) -> None:
    with pytest.raises(KeyError) as info:
        async with default_client.watcher(cadence=QUICK):
            raise KeyError("the caller's own")
    assert type(info.value) is KeyError


async def test_a_missing_space_leaves_a_watcher_as_itself(
    hostile: HostileHub, default_client: SpaceClient
) -> None:
    caught: SpaceNotFoundError | None = None
    with anyio.fail_after(10):
        try:
            async with default_client.watcher(cadence=QUICK) as watcher:
                watcher.add("user/nope")  # the hostile Hub answers 404 for anything unscripted
                async for _ in watcher:
                    pass
        except SpaceNotFoundError as error:  # the README's pattern
            caught = error
    assert caught is not None and caught.repo_id == "user/nope"


@pytest.mark.hostile
@pytest.mark.parametrize("mode", ["raise", "drop"])
async def test_a_watcher_retries_then_gives_up_on_one_space_only(
    hostile: HostileHub, hostile_client: SpaceClient, mode: str
) -> None:
    hostile.play("GET", "/api/spaces/user/bad/runtime", *BAD_ANSWERS)
    hostile.play("GET", "/api/spaces/user/flaky/runtime", *BAD_ANSWERS[:3], HostileHub.json(RUNNING))
    hostile.play("GET", "/api/spaces/user/good/runtime", HostileHub.json(RUNNING))
    cadence = attrs.evolve(QUICK, max_bad_answers=4)
    seen: list[str] = []
    with anyio.fail_after(10):
        async with hostile_client.watcher(cadence=cadence, batch=False, on_permanent_error=mode) as watcher:  # type: ignore[arg-type]
            watcher.add("user/bad", "user/flaky", "user/good")
            if mode == "raise":
                with pytest.raises(BadAnswerError):
                    async for transition in watcher:
                        seen.append(transition.repo_id)
            else:
                async for transition in watcher:
                    seen.append(transition.repo_id)
                    if {"user/flaky", "user/good"} <= set(seen):
                        break
                await eventually(lambda: "user/bad" in watcher.errors)  # no transition tells it
    if mode == "drop":
        assert sorted(seen) == ["user/flaky", "user/good"]
        assert isinstance(watcher.errors["user/bad"], BadAnswerError)
        assert watcher.spaces == ["user/flaky", "user/good"]
    assert hostile.count("/api/spaces/user/bad/runtime") == 4
    assert_nothing_open(hostile_client)


# --------------------------------------------------------------------------- membership while polling


async def test_removed_and_added_again_while_its_poll_is_under_way(
    hostile: HostileHub, default_client: SpaceClient
) -> None:
    polled = asyncio.Event()
    answer = asyncio.Event()

    async def slow(_: web.Request) -> web.StreamResponse:
        polled.set()
        await answer.wait()
        return web.json_response(RUNNING)

    hostile.play("GET", runtime_path("user/x"), slow, HostileHub.json(RUNNING))
    with anyio.fail_after(10):
        async with default_client.watcher(cadence=QUICK, batch=False) as watcher:
            watcher.add("user/x")
            await polled.wait()
            watcher.remove("user/x")
            watcher.add("user/x")  # a new tracker while the old one's poll is in flight
            answer.set()
            transition = await watcher.__anext__()  # from the new tracker's own poll
    assert transition.is_initial and transition.repo_id == "user/x"
    assert hostile.count(runtime_path("user/x")) >= 2


# --------------------------------------------------------------------------- author listings


def _listing_item(repo_id: Any) -> dict[str, Any]:
    return {"id": repo_id, "runtime": RUNNING}


@pytest.mark.hostile
async def test_a_batched_watcher_skips_listing_items_it_cannot_read(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    names = ["user/a", "user/b", "user/c"]
    listing = [_listing_item(["x"]), _listing_item({"id": 1}), *map(_listing_item, names[:2])]
    listing.append({"id": "user/c", "runtime": {"stage": 7}})  # unreadable: user/c is polled alone
    hostile.play("GET", "/api/spaces", HostileHub.json(listing))
    hostile.play("GET", "/api/spaces/user/c/runtime", HostileHub.json(RUNNING))
    await watch_until_each_is_seen(hostile_client, names)
    assert hostile.count("/api/spaces") >= 1
    assert hostile.count("/api/spaces/user/c/runtime") >= 1


@pytest.mark.hostile
async def test_an_unreadable_listing_turns_batching_off_for_its_author(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    names = ["user/a", "user/b", "user/c"]
    hostile.play("GET", "/api/spaces", HostileHub.json({"spaces": names}))  # a dict, not a page
    for name in names:
        hostile.play("GET", f"/api/spaces/{name}/runtime", HostileHub.json(RUNNING))
    await watch_until_each_is_seen(
        hostile_client, names, then=0.05
    )  # tens of Hub s more: polls, none batched
    assert hostile.count("/api/spaces") == 1
    assert all(hostile.count(f"/api/spaces/{name}/runtime") >= 2 for name in names)


@pytest.mark.hostile
async def test_a_watcher_on_an_endless_author_listing_polls_its_spaces_alone(hostile: HostileHub) -> None:
    names = ["user/a", "user/b", "user/c"]
    endless_pages(hostile, [{"id": "user/other", "runtime": RUNNING}])
    for name in names:
        hostile.play("GET", f"/api/spaces/{name}/runtime", HostileHub.json(RUNNING))
    async with make_client(hostile) as client:
        await watch_until_each_is_seen(client, names)
    assert hostile.count("/api/spaces") == MAX_LISTING_PAGES  # once: then batching is off


@pytest.mark.hostile
async def test_a_refused_listing_turns_batching_off_for_its_author_only(
    hostile: HostileHub, default_client: SpaceClient
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

    def listings(author: str) -> int:
        return sum(1 for r in hostile.requests if r.path == "/api/spaces" and ("author", author) in r.query)

    with anyio.fail_after(10):
        async with default_client.watcher(cadence=QUICK) as watcher:
            watcher.add(*alice, *bob)
            async for transition in watcher:
                seen.add(transition.repo_id)
                if seen == {*alice, *bob}:
                    break
            # More rounds of polls (at least 50 Hub seconds; until they happened, on a loaded machine).
            since = default_client.clock.now()
            while (  # noqa: ASYNC110 (waiting for the watcher's requests)
                default_client.clock.now() - since < 50
                or listings("bob") < 2
                or not all(hostile.count(runtime_path(name)) >= 2 for name in alice)
            ):
                await anyio.sleep(0.01)

    assert listings("alice") == 1  # refused once, never asked again
    assert all(hostile.count(runtime_path(name)) >= 2 for name in alice)
    assert listings("bob") >= 2  # bob's Spaces are still refreshed by listing


def listings(hostile: HostileHub, author: str) -> int:
    return sum(1 for r in hostile.requests if r.path == "/api/spaces" and ("author", author) in r.query)


@pytest.mark.hostile
async def test_a_failing_listing_does_not_starve_spaces_that_read_fine_alone(
    hostile: HostileHub, default_client: SpaceClient
) -> None:
    names = [f"alice/s{i}" for i in range(100)]

    async def listing(_: web.Request) -> web.StreamResponse:
        # The listing route is down (its search backend, say) while every Space reads fine.
        # It heals after 50 attempts, so that the unfixed watcher ends too.
        if listings(hostile, "alice") <= 50:
            return web.json_response({"error": "listing backend down"}, status=503)
        return web.json_response([{"id": name, "runtime": RUNNING} for name in names])

    hostile.play("GET", "/api/spaces", listing)
    for name in names:
        hostile.play("GET", runtime_path(name), HostileHub.json(RUNNING))
    await watch_until_each_is_seen(default_client, names, cadence=PATIENT, timeout=30)
    # Seen by their own polls while the listing backs off: it was tried a few times, not 50.
    assert listings(hostile, "alice") <= 10
    assert sum(hostile.count(runtime_path(name)) for name in names) >= 90


@pytest.mark.hostile
async def test_a_429_on_a_listing_pauses_it_but_keeps_it(
    hostile: HostileHub, default_client: SpaceClient
) -> None:
    names = [f"alice/s{i}" for i in range(20)]
    limited = HostileHub.json({"error": "slow down"}, 429, {"Retry-After": "1"})
    hostile.play(
        "GET", "/api/spaces", limited, HostileHub.json([{"id": name, "runtime": RUNNING} for name in names])
    )
    await watch_until_each_is_seen(default_client, names, cadence=PATIENT)
    # The 429 says nothing of the listing itself: after the pause it refreshes them all at once.
    assert listings(hostile, "alice") >= 2
    assert sum(hostile.count(runtime_path(name)) for name in names) == 0


# --------------------------------------------------------------------------- backoff under a budget share


@pytest.mark.hostile
async def test_a_watcher_spending_a_share_waits_out_a_failing_spaces_retry_after(
    hostile: HostileHub, default_client: SpaceClient
) -> None:
    busy = HostileHub.json({"error": "busy"}, 503, {"Retry-After": "100"})
    hostile.play("GET", runtime_path("user/busy"), HostileHub.json(RUNNING), busy)
    hostile.play("GET", runtime_path("user/fine"), HostileHub.json(RUNNING))
    with anyio.fail_after(10):
        async with default_client.watcher(cadence=PATIENT, budget_share=0.5) as watcher:
            watcher.add("user/busy", "user/fine")
            await watcher.__anext__()
            await watcher.__anext__()
            polled = default_client.clock.now()
            # 150 Hub seconds, and 10 polls of the one that answers (a loaded machine sends fewer).
            fine = runtime_path("user/fine")
            while default_client.clock.now() - polled < 150 or hostile.count(fine) < 10:  # noqa: ASYNC110
                await anyio.sleep(0.01)
            failures = watcher.tracker("user/busy").failures
            waited = default_client.clock.now() - polled
    # The share is spent on the Space that answers (every fast / 2 at most)...
    assert hostile.count(runtime_path("user/fine")) >= 10
    # ...never on the one that asked for 100 s between polls: at most one retry per 100 s.
    assert 1 <= failures <= waited / 100 + 1


# --------------------------------------------------------------------------- nothing kept


@pytest.mark.hostile
async def test_authors_no_longer_watched_leave_nothing_behind(
    hostile: HostileHub, default_client: SpaceClient
) -> None:
    async def listing(request: web.Request) -> web.StreamResponse:
        author = request.query["author"]
        return web.json_response([{"id": f"{author}/s{i}", "runtime": RUNNING} for i in range(3)])

    async def runtime(_: web.Request) -> web.StreamResponse:
        return web.json_response(RUNNING)

    hostile.play("GET", "/api/spaces", listing)
    for author in range(100):
        for i in range(3):
            hostile.play("GET", runtime_path(f"a{author}/s{i}"), runtime)
    with anyio.fail_after(30):
        async with default_client.watcher(cadence=PATIENT) as watcher:
            for author in range(100):  # nobody iterates: transitions wait undelivered
                names = [f"a{author}/s{i}" for i in range(3)]
                watcher.add(*names)
                await anyio.sleep(0.003)  # 3 Hub seconds: listed, polled, "not worth it" noted
                watcher.remove(*names)
            await anyio.sleep(0.05)  # listings still under way end
            assert watcher.spaces == []
            # The authors' listings were used (any of them: a loaded machine may let the first
            # author's 3 ms go by before its listing leaves).
            assert sum(listings(hostile, f"a{author}") for author in range(100)) >= 1
            kept = {
                # One record per author holds everything learnt of its listing.
                "authors": len(watcher._schedule.authors),
                "trackers": len(watcher._schedule.trackers),
                "pending": len(watcher._pending),
            }
            assert kept == dict.fromkeys(kept, 0)
            assert len(watcher._ready) <= 64  # removed Spaces' turns are dropped


def rt(stage: str, hw: str | None = "cpu-basic", req: str | None = "cpu-basic") -> SpaceRuntime:
    return SpaceRuntime(
        stage=SpaceStage(stage),
        hardware=None if hw is None else SpaceHardware(hw),
        requested_hardware=None if req is None else SpaceHardware(req),
    )


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


# --------------------------------------------------------------------------- a watcher misused


@pytest.mark.careless
@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"cadence": 2.0}, "cadence"), ({"batch": "no"}, "batch"), ({"seed": 1.5}, "seed")],
)
async def test_a_watcher_refuses_a_careless_argument_before_any_request(
    hostile: HostileHub, default_client: SpaceClient, kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        default_client.watcher(**kwargs)
    assert info.value.argument == argument
    assert hostile.requests == []


@pytest.mark.careless
async def test_a_watcher_whose_client_closes_under_it_ends_without_a_bug_report(
    aiospace_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(aiospace_emulator, "alice")
    await client.__aenter__()
    with pytest.raises(InvalidArgumentError, match="closed"):
        async with client.watcher() as watcher:
            watcher.add("alice/demo")
            async for _ in watcher:
                await client.aclose()
    # The caller's mistake, reported to the caller: no "a watcher worker failed" traceback.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def _workers() -> set[asyncio.Task[object]]:
    """The tasks of a Watcher's pollers still alive in this loop."""
    return {t for t in asyncio.all_tasks() if "_worker" in repr(t.get_coro())}


@pytest.mark.careless
async def test_a_watcher_iterated_outside_async_with_says_so(aiospace_emulator: Emulator) -> None:
    async with client_for(aiospace_emulator, "alice") as client:
        watcher = client.watcher()
        watcher.add("alice/demo")
        # Was a silent, empty loop: nothing is polled outside `async with`.
        with pytest.raises(InvalidArgumentError, match="async with") as info:
            async for _ in watcher:
                pass
        assert info.value.argument == "watcher"


@pytest.mark.careless
async def test_a_watcher_entered_twice_is_refused_and_leaves_no_poller(aiospace_emulator: Emulator) -> None:
    async with client_for(aiospace_emulator, "alice") as client:
        watcher = client.watcher(concurrency=2)
        async with watcher:
            # Was: a second task group replaced the first, whose pollers ran on forever, and
            # the outer exit failed with an AssertionError.
            with pytest.raises(InvalidArgumentError, match="running already"):
                async with watcher:
                    pass
            watcher.add("alice/demo")
            first = await watcher.__anext__()
            assert first.repo_id == "alice/demo"
        assert not _workers()
        async with watcher:  # entered again after its exit: fine
            pass
        assert not _workers()


@pytest.mark.careless
async def test_two_consumers_of_one_watcher_both_wake_and_end(aiospace_emulator: Emulator) -> None:
    async with client_for(aiospace_emulator, "alice") as client:
        seen: list[list[str]] = [[], []]

        async def consume(watcher: Watcher, into: list[str]) -> None:
            async for transition in watcher:
                into.append(transition.repo_id)

        async with client.watcher() as watcher:
            tasks = [asyncio.create_task(consume(watcher, into)) for into in seen]
            await asyncio.sleep(0)  # both wait now
            watcher.add("alice/demo", "alice/gpu-app")
            for _ in range(200):
                await asyncio.sleep(0.005)
                if len(seen[0]) + len(seen[1]) >= 2:
                    break
        # Was: the first consumer waited on an event the second had replaced, forever.
        _, pending = await asyncio.wait(tasks, timeout=5)
        assert not pending
        assert sorted(seen[0] + seen[1]) == ["alice/demo", "alice/gpu-app"]

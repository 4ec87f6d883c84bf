"""The watch engine against a Hub that answers inconsistently, on a scripted Hub (tests/hostile.py).

Each test here failed before its fix: a broken author listing no longer starves the
author's Spaces (they are polled one by one while the listing backs off); a watcher
spending a budget share waits out a failing Space's backoff and ``Retry-After``; a watcher
that sees Spaces of many authors come and go keeps no bookkeeping for the authors it
no longer watches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from aiohttp import web
from hostile_hub import RUNNING, HostileHub, runtime_path, watch_until_each_is_seen

from aiospace import Cadence, ScaledClock, SpaceClient

TOKEN = "hf_RedTeamWatchTokenNeverShown00"
#: error_max at its default (60): a listing that keeps failing backs off to once a minute.
QUICK = Cadence(fast=1.0, slow=2.0, after_write=0.0)


@pytest.fixture
async def client(hostile: HostileHub) -> AsyncIterator[SpaceClient]:
    async with SpaceClient(endpoint=hostile.url, token=TOKEN, clock=ScaledClock(1000), seed=1) as made:
        yield made


def listings(hostile: HostileHub, author: str) -> int:
    return sum(1 for r in hostile.requests if r.path == "/api/spaces" and ("author", author) in r.query)


# --------------------------------------------------------------------------- a broken listing


async def test_a_failing_listing_does_not_starve_spaces_that_read_fine_alone(
    hostile: HostileHub, client: SpaceClient
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
    await watch_until_each_is_seen(client, names, cadence=QUICK, timeout=30)
    # Seen by their own polls while the listing backs off: it was tried a few times, not 50.
    assert listings(hostile, "alice") <= 10
    assert sum(hostile.count(runtime_path(name)) for name in names) >= 90


async def test_a_429_on_a_listing_pauses_it_but_keeps_it(hostile: HostileHub, client: SpaceClient) -> None:
    names = [f"alice/s{i}" for i in range(20)]
    limited = HostileHub.json({"error": "slow down"}, 429, {"Retry-After": "1"})
    hostile.play(
        "GET", "/api/spaces", limited, HostileHub.json([{"id": name, "runtime": RUNNING} for name in names])
    )
    await watch_until_each_is_seen(client, names, cadence=QUICK)
    # The 429 says nothing of the listing itself: after the pause it refreshes them all at once.
    assert listings(hostile, "alice") >= 2
    assert sum(hostile.count(runtime_path(name)) for name in names) == 0


# --------------------------------------------------------------------------- backoff under a share


async def test_a_watcher_spending_a_share_waits_out_a_failing_spaces_retry_after(
    hostile: HostileHub, client: SpaceClient
) -> None:
    busy = HostileHub.json({"error": "busy"}, 503, {"Retry-After": "100"})
    hostile.play("GET", runtime_path("user/busy"), HostileHub.json(RUNNING), busy)
    hostile.play("GET", runtime_path("user/fine"), HostileHub.json(RUNNING))
    with anyio.fail_after(10):
        async with client.watcher(cadence=QUICK, budget_share=0.5) as watcher:
            watcher.add("user/busy", "user/fine")
            await watcher.__anext__()
            await watcher.__anext__()
            polled = client.clock.now()
            await anyio.sleep(0.15)  # 150 Hub seconds
            failures = watcher.tracker("user/busy").failures
            waited = client.clock.now() - polled
    # The share is spent on the Space that answers (every fast / 2 at most)...
    assert hostile.count(runtime_path("user/fine")) >= 10
    # ...never on the one that asked for 100 s between polls: at most one retry per 100 s.
    assert 1 <= failures <= waited / 100 + 1


# --------------------------------------------------------------------------- nothing kept


async def test_authors_no_longer_watched_leave_nothing_behind(
    hostile: HostileHub, client: SpaceClient
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
        async with client.watcher(cadence=QUICK) as watcher:
            for author in range(100):  # nobody iterates: transitions wait undelivered
                names = [f"a{author}/s{i}" for i in range(3)]
                watcher.add(*names)
                await anyio.sleep(0.003)  # 3 Hub seconds: listed, polled, "not worth it" noted
                watcher.remove(*names)
            await anyio.sleep(0.05)  # listings still under way end
            assert watcher.spaces == []
            assert listings(hostile, "a0") >= 1  # the authors' listings were used
            kept = {
                # One record per author holds everything learnt of its listing.
                "authors": len(watcher._schedule.authors),
                "trackers": len(watcher._schedule.trackers),
                "pending": len(watcher._pending),
            }
            assert kept == dict.fromkeys(kept, 0)
            assert len(watcher._ready) <= 64  # removed Spaces' turns are dropped

"""A hostile Hub or proxy at the HTTP level: where a redirect or a next page points, what a
write's body may follow, how long a listing or a log answer's head may go on, what a
rate-limit policy may ask of the budget, and how an event stream may start.

Each case is played by :class:`hostile.HostileHub` (or a raw loopback server for what
aiohttp's server can't send) and checked for one typed error, bounded requests, nothing
left open and no token or secret value shown. See also ``test_hostile.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from hostile import HostileHub
from test_hostile import (
    BASE,
    QUICK,
    REPO,
    RUNNING,
    SECRET,
    TOKEN,
    _collect,
    assert_clean,
    assert_nothing_open,
    log_event,
    make_client,
    watch_until_each_is_seen,
)

from aiospace import BadAnswerError, RequestTimeoutError, ScaledClock, SpaceClient, SpaceStage
from aiospace._http.budget import MAX_POLICY_WINDOW
from aiospace._http.pages import MAX_LISTING_PAGES

OTHER = "/elsewhere"
#: Where no client may be sent (``{here}`` is the hostile Hub's own ``host:port``).
UNFOLLOWABLE = {
    "file": "file:///etc/passwd",
    "data": "data:application/json,{}",
    "javascript": "javascript:alert(1)",
    "mailto": "mailto:someone@example.com",
    "ftp": "ftp://127.0.0.1/x",
    "empty-label": "http://a..b/x",
    "label-too-long": "http://" + "a" * 64 + ".example/x",
    "userinfo-same-host": "http://user:pw@{here}" + OTHER,
}


def _at(template: str, hostile: HostileHub) -> str:
    return template.replace("{here}", hostile.url.split("//", 1)[1])


# ---------------------------------------------------------------- where a redirect or a page points


@pytest.mark.parametrize("location", list(UNFOLLOWABLE.values()), ids=list(UNFOLLOWABLE))
async def test_a_redirect_the_client_may_not_follow_is_one_typed_error(
    hostile: HostileHub, location: str
) -> None:
    hostile.play("GET", f"{BASE}/runtime", HostileHub.redirect(_at(location, hostile)))
    hostile.play("GET", OTHER, HostileHub.json(RUNNING))
    async with make_client(hostile) as client:
        with pytest.raises(BadAnswerError) as info:
            await client.get_space_runtime(REPO)
        assert_nothing_open(client)
        assert client.stats.retries == 0
    assert info.value.reason == "redirect" and "http(s) URL" in str(info.value)
    assert_clean(info.value)
    assert [r.path for r in hostile.requests] == [f"{BASE}/runtime"]


@pytest.mark.parametrize("location", list(UNFOLLOWABLE.values()), ids=list(UNFOLLOWABLE))
async def test_a_next_page_the_client_may_not_follow_is_a_paging_loop(
    hostile: HostileHub, location: str
) -> None:
    link = {"Link": f'<{_at(location, hostile)}>; rel="next"'}
    hostile.play("GET", "/api/spaces", HostileHub.json([{"id": "user/a"}], headers=link))
    hostile.play("GET", OTHER, HostileHub.json([]))
    async with make_client(hostile) as client:
        with pytest.raises(BadAnswerError) as info:
            await _collect(client.list_spaces())
        assert_nothing_open(client)
        assert client.stats.retries == 0
    assert info.value.reason == "paging-loop" and "http(s) URL" in str(info.value)
    assert_clean(info.value)
    assert [r.path for r in hostile.requests] == ["/api/spaces"]


# --------------------------------------------------------------------------- what a write's body may follow


def _writes_with_a_secret() -> dict[str, tuple[str, Any]]:
    return {
        "add_space_secret": (f"{BASE}/secrets", lambda c: c.add_space_secret(REPO, "KEY", SECRET)),
        "duplicate_space": (
            f"{BASE}/duplicate",
            lambda c: c.duplicate_space(REPO, "me/copy", secrets=[{"key": "K", "value": SECRET}]),
        ),
        "create_space": (
            "/api/repos/create",
            lambda c: c.create_space(REPO, sdk="docker", secrets=[{"key": "K", "value": SECRET}]),
        ),
    }


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("call", list(_writes_with_a_secret()))
async def test_a_secret_value_never_follows_a_redirect_to_another_host(
    hostile: HostileHub, status: int, call: str
) -> None:
    path, write = _writes_with_a_secret()[call]
    async with HostileHub() as elsewhere:  # another origin: same address, another port
        elsewhere.play("POST", path, HostileHub.json({"url": "https://elsewhere/x"}))
        hostile.play("POST", path, HostileHub.redirect(f"{elsewhere.url}{path}", status))
        async with make_client(hostile) as client:
            with pytest.raises(BadAnswerError) as info:
                await write(client)
            assert_nothing_open(client)
        assert elsewhere.requests == []
    assert info.value.reason == "redirect" and "another host" in str(info.value)
    assert_clean(info.value)
    assert hostile.count(path) == 1


async def test_a_secret_value_follows_a_redirect_on_the_same_host(hostile: HostileHub) -> None:
    hostile.play("POST", f"{BASE}/secrets", HostileHub.redirect(OTHER, 307))
    hostile.play("POST", OTHER, HostileHub.raw_body(b""))
    async with make_client(hostile) as client:
        await client.add_space_secret(REPO, "KEY", SECRET)
    moved = hostile.requests[-1]
    assert moved.path == OTHER and SECRET.encode() in moved.body
    assert moved.headers["Authorization"].startswith("Bearer ")


async def test_a_303_after_a_secret_write_goes_elsewhere_without_the_body(hostile: HostileHub) -> None:
    async with HostileHub() as elsewhere:
        elsewhere.play("GET", OTHER, HostileHub.raw_body(b""))
        hostile.play("POST", f"{BASE}/secrets", HostileHub.redirect(f"{elsewhere.url}{OTHER}", 303))
        async with make_client(hostile) as client:
            await client.add_space_secret(REPO, "KEY", SECRET)
        [seen] = elsewhere.requests
    assert (seen.method, seen.body, seen.headers.get("Authorization")) == ("GET", b"", None)


# --------------------------------------------------------------------------- how long a listing may go on


def endless_pages(hostile: HostileHub, items: list[dict[str, Any]]) -> None:
    """``/api/spaces`` answers ``items`` and a next page never seen before, for ever."""
    numbers = itertools.count()

    async def play(_: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        link = f'<{hostile.url}/api/spaces?cursor={next(numbers)}>; rel="next"'
        return await HostileHub.json(items, headers={"Link": link})(_)

    hostile.play("GET", "/api/spaces", play)


@pytest.mark.parametrize("limit", [None, 5])
async def test_endless_empty_pages_end_a_listing(hostile: HostileHub, limit: int | None) -> None:
    endless_pages(hostile, [])
    async with make_client(hostile) as client:
        with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
            await _collect(client.list_spaces(limit=limit))
        assert_nothing_open(client)
    assert info.value.reason == "paging-loop" and "empty page" in str(info.value)
    assert hostile.count("/api/spaces") == 1


async def test_endless_pages_of_other_spaces_end_an_author_listing(hostile: HostileHub) -> None:
    endless_pages(hostile, [{"id": "user/other", "runtime": RUNNING}])
    async with make_client(hostile) as client:
        with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
            await client.author_runtimes("user", spaces=[REPO])
        assert_nothing_open(client)
    assert info.value.reason == "paging-loop" and f"more than {MAX_LISTING_PAGES} pages" in str(info.value)
    assert hostile.count("/api/spaces") == MAX_LISTING_PAGES


async def test_a_watcher_on_an_endless_author_listing_polls_its_spaces_alone(hostile: HostileHub) -> None:
    names = ["user/a", "user/b", "user/c"]
    endless_pages(hostile, [{"id": "user/other", "runtime": RUNNING}])
    for name in names:
        hostile.play("GET", f"/api/spaces/{name}/runtime", HostileHub.json(RUNNING))
    async with make_client(hostile) as client:
        await watch_until_each_is_seen(client, names)
    assert hostile.count("/api/spaces") == MAX_LISTING_PAGES  # once: then batching is off


# ---------------------------------------------------------------- how long a log answer's head may take


@contextlib.asynccontextmanager
async def raw_hub(answer: bytes, *, then: bytes = b"", every: float = 0.01) -> AsyncIterator[str]:
    """A loopback server that reads a request's head, writes ``answer``, then ``then``
    again and again (every ``every`` seconds) until the client leaves; yields its URL."""
    handlers: list[asyncio.Task[Any]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            while then and not reader.at_eof():
                writer.write(then)
                await writer.drain()
                await asyncio.sleep(every)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def test_a_log_answer_whose_head_never_ends_is_bounded_without_follow() -> None:
    # A header line a byte at a time, for ever: each byte resets the idle timeout.
    async with raw_hub(b"HTTP/1.1 200 OK\r\nX-Drip: ", then=b"a") as url:
        client = SpaceClient(endpoint=url, token=TOKEN, logs_read_timeout=0.2, clock=ScaledClock(1000))
        async with client:
            with anyio.fail_after(10), pytest.raises(RequestTimeoutError) as info:
                await _collect(client.fetch_space_logs(REPO))
            assert_nothing_open(client)
    assert "longer than 0.2s" in str(info.value)
    assert_clean(info.value)


async def test_a_followed_log_whose_head_never_comes_reconnects_then_times_out(hostile: HostileHub) -> None:
    async def stall(_: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        await hostile.release.wait()
        raise asyncio.CancelledError

    hostile.play("GET", f"{BASE}/logs/run", stall)
    async with make_client(hostile, timeout=0.2) as client:
        with anyio.fail_after(10), pytest.raises(RequestTimeoutError) as info:
            await _collect(client.fetch_space_logs(REPO, follow=True, max_reconnects=1))
        assert_nothing_open(client)
    assert_clean(info.value)
    assert hostile.count(f"{BASE}/logs/run") == 2  # reconnected once, as allowed


# --------------------------------------------------------------------------- what a rate-limit policy may ask


@pytest.mark.parametrize("window", ["1e300", "1e12"])
async def test_a_policy_window_of_ages_does_not_stop_a_watch(hostile: HostileHub, window: str) -> None:
    # "Two requests every 10^300 seconds": the budget would wait about that long between polls.
    headers = {"RateLimit-Policy": f'"fixed";q=2;w={window}', "RateLimit": '"api";r=1;t=1'}
    building = HostileHub.json({"stage": "BUILDING"}, headers=headers)
    hostile.play("GET", f"{BASE}/runtime", building, HostileHub.json(RUNNING, headers=headers), times=3)
    async with make_client(hostile) as client:
        with anyio.fail_after(10):
            runtime = await client.wait_for_space(REPO, cadence=QUICK)
        assert client.rate_limit is not None and client.rate_limit.window == float(window)  # as the Hub said
        assert client.budget.window <= MAX_POLICY_WINDOW
    assert runtime.stage == SpaceStage.RUNNING
    assert hostile.count(f"{BASE}/runtime") >= 4


# --------------------------------------------------------------------------- how an event stream may start


@pytest.mark.parametrize("split", [False, True])
async def test_a_byte_order_mark_starting_a_log_stream_costs_no_line(
    hostile: HostileHub, split: bool
) -> None:
    first = b"\xef\xbb\xbf" + log_event("first")
    parts = [first[:2], first[2:]] if split else [first]
    hostile.play("GET", f"{BASE}/logs/run", HostileHub.sse(*parts, log_event("second")))
    async with make_client(hostile) as client:
        lines = await _collect(client.fetch_space_logs(REPO))
    assert lines == ["first", "second"]

"""``Transport`` (``aiospace/_http/transport.py``): one aiohttp session a client opens and closes,
bounded reads, redirects, retries, and the listeners that hear each answer.

Cases marked ``hostile`` are played by :class:`hostile_hub.HostileHub` (a scripted server, not
the emulator) or injected with ``aioresponses``, and checked for one typed error, bounded bytes
and requests, nothing left open, and no token or secret value in any object reachable from the
error; cases marked ``careless`` are a caller's misuse of a client, each refused with a typed
error.
"""

from __future__ import annotations

import asyncio
import logging
import tracemalloc
import zlib
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from helpers import client_for
from hostile_hub import (
    BASE,
    OTHER,
    REPO,
    RUNNING,
    SECRET,
    TOKEN,
    UNFOLLOWABLE,
    HostileHub,
    MiB,
    assert_clean,
    assert_nothing_open,
    at_hub,
    eventually,
    make_client,
    runtime_path,
)
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from aiospace import (
    BadAnswerError,
    InvalidArgumentError,
    RequestTimeoutError,
    RetryPolicy,
    ScaledClock,
    ServerError,
    SpaceClient,
    SpaceStage,
    TransportError,
)
from aiospace.emulator import Emulator

# --------------------------------------------------------- the session: opened by async with, closed for good


@pytest.mark.careless
async def test_a_closed_client_refuses_calls_and_opens_no_session(aiospace_emulator: Emulator) -> None:
    client = client_for(aiospace_emulator, "alice")
    async with client:
        await client.get_space_runtime("alice/demo")
    # Was: a new aiohttp session opened silently, that nobody would close (a leak).
    with pytest.raises(InvalidArgumentError, match="closed") as info:
        await client.get_space_runtime("alice/demo")
    assert info.value.argument == "client"
    assert client._transport._session is None
    await client.aclose()  # still idempotent
    async with client:  # entering again opens it again
        assert (await client.get_space_runtime("alice/demo")).stage is not None
    assert client._transport._session is None


@pytest.mark.careless
async def test_a_nested_async_with_keeps_the_client_open_until_the_outermost_exit(
    aiospace_emulator: Emulator,
) -> None:
    client = client_for(aiospace_emulator, "alice")
    async with client:
        async with client:  # e.g. a helper that takes the client and enters it again
            await client.get_space_runtime("alice/demo")
        session = client._transport._session
        assert session is not None and not session.closed  # was closed by the inner exit
        await client.get_space_runtime("alice/demo")
    assert session.closed and client._transport._session is None


@pytest.mark.careless
async def test_a_closed_session_passed_in_is_a_typed_error(aiospace_emulator: Emulator) -> None:
    session = aiohttp.ClientSession()
    await session.close()
    client = SpaceClient(token=TOKEN, endpoint=aiospace_emulator.url, session=session)
    # Was aiohttp's RuntimeError("Session is closed").
    with pytest.raises(InvalidArgumentError, match="session") as info:
        await client.get_space_runtime("alice/demo")
    assert info.value.argument == "session"


@pytest.mark.careless
def test_a_client_used_from_a_second_event_loop_is_a_typed_error() -> None:
    first = asyncio.new_event_loop()
    hub = Emulator(speed=100)
    first.run_until_complete(hub.__aenter__())
    try:
        client = client_for(hub, "alice")
        first.run_until_complete(client.get_space_runtime("alice/demo"))  # opened on the first loop
        second = asyncio.new_event_loop()
        try:
            # Was RuntimeError ("Event loop is closed", or a future attached to another loop).
            with pytest.raises(InvalidArgumentError, match="another event loop"):
                second.run_until_complete(client.get_space_runtime("alice/demo"))
        finally:
            second.close()
        first.run_until_complete(client.aclose())
    finally:
        first.run_until_complete(hub.__aexit__(None, None, None))
        first.close()


@pytest.mark.careless
@pytest.mark.aiospace_emulator(speed=100)
async def test_closing_the_client_ends_a_watch_a_wait_and_a_log_follow_in_flight(
    aiospace_emulator: Emulator,
) -> None:
    client = client_for(aiospace_emulator, "alice")

    async def follow() -> list[str]:
        return [line async for line in client.fetch_space_logs("alice/demo", follow=True)]

    async def watch() -> list[object]:
        return [t async for t in client.watch("alice/demo")]

    async with client:
        tasks = [
            asyncio.create_task(follow()),
            asyncio.create_task(watch()),
            asyncio.create_task(client.wait_for_space("alice/demo", stage="PAUSED")),
        ]
        for _ in range(50):  # until the log stream is open and the watch has polled
            await asyncio.sleep(0.01)
            if client._transport._streams and client.stats.by_route["get_space_runtime"] >= 2:
                break
        assert client._transport._streams
    # Was: the watch and the wait polled on through a new session; the log follow hung on.
    done, pending = await asyncio.wait(tasks, timeout=10)
    assert not pending
    for task in done:
        assert isinstance(task.exception(), InvalidArgumentError)
    assert not client._transport._streams and client._transport._session is None


# --------------------------------------------------------------------------- bounded reads


@pytest.mark.hostile
async def test_a_huge_announced_body_is_not_read(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/runtime", hostile.big(100 * MiB))
    async with make_client(hostile, max_answer_bytes=MiB) as client:
        with pytest.raises(BadAnswerError) as info:
            await client.get_space_runtime(REPO)
        assert_nothing_open(client)
    assert info.value.reason == "too-large" and "104857600 bytes announced" in str(info.value)
    await eventually(lambda: hostile.abandoned == 1)
    assert hostile.sent < 32 * MiB  # socket buffers at most, not 100 MB
    assert hostile.count(f"{BASE}/runtime") == 1  # a size does not change on a retry


@pytest.mark.hostile
async def test_an_endless_chunked_body_stops_at_the_limit(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/runtime", hostile.big(None))
    async with make_client(hostile, max_answer_bytes=MiB) as client:
        with pytest.raises(BadAnswerError) as info:
            await client.get_space_runtime(REPO)
        assert_nothing_open(client)
    assert info.value.reason == "too-large" and info.value.status == 200
    await eventually(lambda: hostile.abandoned == 1)
    assert MiB < hostile.sent < 32 * MiB


def gzip_bomb(json_prefix: bytes, zeros: int) -> bytes:
    """Gzip of ``json_prefix`` followed by ``zeros`` zero digits: about a thousandth of the size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(json_prefix)]
    parts += [packer.compress(b"0" * MiB) for _ in range(zeros // MiB)]
    return b"".join([*parts, packer.compress(b'"}'), packer.flush()])


@pytest.mark.hostile
@pytest.mark.parametrize("status", [200, 503])
async def test_a_compression_bomb_is_cut_at_the_limit_decompressed(hostile: HostileHub, status: int) -> None:
    # 128 MiB of JSON in about 130 KB of gzip: the Content-Length is far under the limit,
    # what it unpacks to is far over it.
    bomb = gzip_bomb(b'{"stage": "RUNNING", "error": "', 128 * MiB)
    assert len(bomb) < MiB
    headers = {"Content-Encoding": "gzip"}
    hostile.play("GET", f"{BASE}/runtime", HostileHub.raw_body(bomb, status=status, headers=headers))
    async with make_client(hostile, max_answer_bytes=2 * MiB) as client:
        tracemalloc.start()
        try:
            with pytest.raises((BadAnswerError, ServerError)) as info:
                await client.get_space_runtime(REPO)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert_nothing_open(client)
    if status == 200:
        assert isinstance(info.value, BadAnswerError) and info.value.reason == "too-large"
        assert "compressed bytes announced" in str(info.value)
    else:
        assert isinstance(info.value, ServerError) and len(info.value.message) <= 503
    assert peak < 24 * MiB  # the whole answer would be 128 MiB (and more as a str)


@pytest.mark.hostile
async def test_a_huge_error_body_is_cut_and_stays_a_typed_error(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/runtime", hostile.big(None, status=503))
    async with make_client(hostile) as client:
        with pytest.raises(ServerError) as info:
            await client.get_space_runtime(REPO)
        assert_nothing_open(client)
    assert info.value.status == 503
    assert len(info.value.message) <= 503  # cut to MAX_MESSAGE
    assert hostile.count(f"{BASE}/runtime") == 2  # a 503 on a read is retried
    await eventually(lambda: hostile.abandoned == 2)
    assert hostile.sent < 32 * MiB


# --------------------------------------------------------------------------- redirects


@pytest.mark.hostile
@pytest.mark.parametrize("hops", [1, 2])
async def test_a_redirect_loop_ends_at_once_and_is_not_retried(hostile: HostileHub, hops: int) -> None:
    paths = [f"{BASE}/runtime", *(f"/hop{i}" for i in range(1, hops))]
    for here, there in zip(paths, paths[1:] + paths[:1], strict=True):
        hostile.play("GET", here, HostileHub.redirect(there))
    async with make_client(hostile, retry=RetryPolicy(read_attempts=5, base_delay=0.01)) as client:
        with pytest.raises(BadAnswerError) as info:
            await client.get_space_runtime(REPO)
        assert client.stats.retries == 0
    assert info.value.reason == "redirect" and "seen twice" in str(info.value)
    assert len(hostile.requests) == hops


@pytest.mark.hostile
@pytest.mark.parametrize("location", list(UNFOLLOWABLE.values()), ids=list(UNFOLLOWABLE))
async def test_a_redirect_the_client_may_not_follow_is_one_typed_error(
    hostile: HostileHub, location: str
) -> None:
    hostile.play("GET", f"{BASE}/runtime", HostileHub.redirect(at_hub(location, hostile)))
    hostile.play("GET", OTHER, HostileHub.json(RUNNING))
    async with make_client(hostile) as client:
        with pytest.raises(BadAnswerError) as info:
            await client.get_space_runtime(REPO)
        assert_nothing_open(client)
        assert client.stats.retries == 0
    assert info.value.reason == "redirect" and "http(s) URL" in str(info.value)
    assert_clean(info.value)
    assert [r.path for r in hostile.requests] == [f"{BASE}/runtime"]


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


@pytest.mark.hostile
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


@pytest.mark.hostile
async def test_a_secret_value_follows_a_redirect_on_the_same_host(hostile: HostileHub) -> None:
    hostile.play("POST", f"{BASE}/secrets", HostileHub.redirect(OTHER, 307))
    hostile.play("POST", OTHER, HostileHub.raw_body(b""))
    async with make_client(hostile) as client:
        await client.add_space_secret(REPO, "KEY", SECRET)
    moved = hostile.requests[-1]
    assert moved.path == OTHER and SECRET.encode() in moved.body
    assert moved.headers["Authorization"].startswith("Bearer ")


@pytest.mark.hostile
async def test_a_303_after_a_secret_write_goes_elsewhere_without_the_body(hostile: HostileHub) -> None:
    async with HostileHub() as elsewhere:
        elsewhere.play("GET", OTHER, HostileHub.raw_body(b""))
        hostile.play("POST", f"{BASE}/secrets", HostileHub.redirect(f"{elsewhere.url}{OTHER}", 303))
        async with make_client(hostile) as client:
            await client.add_space_secret(REPO, "KEY", SECRET)
        [seen] = elsewhere.requests
    assert (seen.method, seen.body, seen.headers.get("Authorization")) == ("GET", b"", None)


# -------------------------------------------------------- transport failures: retried as promised, kept clean


@pytest.mark.hostile
@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 XYZ {auth}\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n{auth}\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nX-Echo: " + b"{auth}" * 2000 + b"\r\n\r\n",
        b"{auth} is what you sent\r\n\r\n",
    ],
    ids=["status-line", "header-line", "header-too-long", "not-http"],
)
async def test_malformed_http_echoing_the_token_is_a_clean_transport_error(
    hostile: HostileHub, hostile_client: SpaceClient, answer: bytes
) -> None:
    hostile.play("GET", f"{BASE}/runtime", HostileHub.malformed_http(answer))
    with pytest.raises(TransportError) as info:
        await hostile_client.get_space_runtime(REPO)
    assert_clean(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None


@pytest.mark.hostile
async def test_transport_errors_keep_nothing_of_aiohttp(hostile: HostileHub) -> None:
    async def cut_body(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b'{"stage": ')
        assert request.transport is not None
        request.transport.abort()
        raise asyncio.CancelledError

    async def stall(_: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        await hostile.release.wait()
        raise asyncio.CancelledError

    hostile.play("GET", f"{BASE}/runtime", cut_body)
    hostile.play("GET", f"{BASE}/variables", stall)
    async with make_client(hostile, timeout=0.2) as client:
        for call in (client.get_space_runtime(REPO), client.get_space_variables(REPO)):
            with pytest.raises(TransportError) as info:
                await call
            assert_clean(info.value)
            assert info.value.__context__ is None
    async with SpaceClient(
        endpoint="http://127.0.0.1:9", token=TOKEN, retry=RetryPolicy(read_attempts=1)
    ) as refused:
        with pytest.raises(TransportError) as info:
            await refused.get_space_runtime(REPO)
    assert info.value.sent is False
    assert_clean(info.value)


def _request_info() -> aiohttp.RequestInfo:
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": f"Bearer {TOKEN}"}))
    url = URL(f"https://hub.example{BASE}/runtime")
    return aiohttp.RequestInfo(url, "GET", headers, url)


INJECTED: list[tuple[str, BaseException, int, int]] = [
    # (id, exception, requests for a read, requests for a write)
    (
        "connection-refused",
        aiohttp.ClientConnectorError(
            aiohttp.client_reqrep.ConnectionKey("hub.example", 443, True, None, None, None, None),
            OSError(111, "Connection refused"),
        ),
        3,
        2,  # never sent: a write is replayed too
    ),
    ("payload-cut", aiohttp.ClientPayloadError("Response payload is not completed"), 3, 1),
    ("server-disconnected", aiohttp.ServerDisconnectedError(), 3, 1),
    ("timeout", asyncio.TimeoutError(), 3, 1),
    (
        "response-error-with-auth",
        aiohttp.ClientResponseError(_request_info(), (), status=400, message=f"Bearer {TOKEN}"),
        3,
        1,
    ),
]


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("exception", "reads", "writes"), [c[1:] for c in INJECTED], ids=[c[0] for c in INJECTED]
)
async def test_injected_transport_failures_are_retried_as_promised(
    exception: BaseException, reads: int, writes: int
) -> None:
    policy = RetryPolicy(read_attempts=3, write_attempts=2, base_delay=0.001)
    async with SpaceClient(
        endpoint="https://hub.example", token=TOKEN, retry=policy, clock=ScaledClock(1000)
    ) as client:
        with aioresponses() as mocked:
            mocked.get(f"https://hub.example{BASE}/runtime", exception=exception, repeat=True)
            mocked.post(f"https://hub.example{BASE}/restart", exception=exception, repeat=True)
            with pytest.raises(TransportError) as read:
                await client.get_space_runtime(REPO)
            with pytest.raises(TransportError) as write:
                await client.restart_space(REPO)
        assert client.stats.by_route["get_space_runtime"] == reads
        assert client.stats.by_route["restart_space"] == writes
    assert isinstance(read.value, RequestTimeoutError) == isinstance(exception, asyncio.TimeoutError)
    for error in (read.value, write.value):
        assert_clean(error)
        assert error.__context__ is None


@pytest.mark.hostile
async def test_injected_failures_then_the_real_answer(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(RUNNING))
    policy = RetryPolicy(read_attempts=3, base_delay=0.001)
    async with make_client(hostile, retry=policy) as client:
        with aioresponses(passthrough_unmatched=True) as mocked:  # the third goes to the hostile Hub
            url = f"{hostile.url}{BASE}/runtime"
            mocked.get(url, exception=aiohttp.ClientPayloadError("cut"))
            mocked.get(url, exception=asyncio.TimeoutError())
            runtime = await client.get_space_runtime(REPO)
        assert runtime.stage == SpaceStage.RUNNING
        assert client.stats.retries == 2
    assert hostile.count(f"{BASE}/runtime") == 1


# --------------------------------------------------------------------------- listeners


@pytest.mark.careless
async def test_a_listener_that_raises_is_logged_and_ignored(
    hostile: HostileHub, default_client: SpaceClient, caplog: pytest.LogCaptureFixture
) -> None:
    hostile.play("GET", runtime_path("user/app"), HostileHub.json(RUNNING))
    heard: list[str] = []

    def broken(_: object) -> None:
        raise ZeroDivisionError("a listener's bug")

    default_client.subscribe(broken)
    default_client.subscribe(lambda exchange: heard.append(exchange.call))
    with caplog.at_level(logging.ERROR, logger="aiospace"):
        runtime = await default_client.get_space_runtime("user/app")
    assert runtime.stage == SpaceStage.RUNNING
    assert heard == ["get_space_runtime"]  # the next listener still heard it
    assert any("listener" in record.getMessage() for record in caplog.records)


async def test_a_writes_only_listener_hears_writes_and_reads_build_no_exchange_for_it(
    hostile: HostileHub, default_client: SpaceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A watcher only looks for writes: its polls build no Exchange (the poll path), while an
    # ordinary listener subscribed beside it still hears every read.
    from aiospace._http import transport as transport_module
    from aiospace._http.budget import Exchange, WritesOnly

    built: list[str] = []

    def counted(*args: Any) -> Exchange:
        built.append(args[0])
        return Exchange(*args)

    monkeypatch.setattr(transport_module, "Exchange", counted)
    hostile.play("GET", runtime_path("user/app"), HostileHub.json(RUNNING), times=3)
    hostile.play("POST", f"{BASE}/pause", HostileHub.json({**RUNNING, "stage": "PAUSED"}))
    writes: list[str] = []
    unsubscribe = default_client.subscribe(WritesOnly(lambda exchange: writes.append(exchange.call)))
    await default_client.get_space_runtime("user/app")
    assert built == [] and writes == []
    reads: list[str] = []
    stop_reads = default_client.subscribe(lambda exchange: reads.append(exchange.call))
    await default_client.get_space_runtime("user/app")
    assert reads == ["get_space_runtime"] and writes == []  # built once, for the ordinary listener
    stop_reads()
    stop_reads()  # twice: harmless, and counted once
    await default_client.get_space_runtime("user/app")
    assert built == ["get_space_runtime"]
    await default_client.pause_space("user/app")
    assert writes == ["pause_space"] and reads == ["get_space_runtime"]
    unsubscribe()
    assert default_client._transport._hear_reads == 0 and default_client._transport._listeners == []


async def test_the_budget_learns_each_answer_without_an_exchange(
    hostile: HostileHub, default_client: SpaceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiospace._http import transport as transport_module

    def no_exchange(*args: Any) -> Any:
        raise AssertionError("an Exchange was built with nobody listening")

    monkeypatch.setattr(transport_module, "Exchange", no_exchange)
    budget = default_client.budget
    headers = {"RateLimit": '"api";r=10;t=30', "RateLimit-Policy": '"fixed window";"api";q=2500;w=300'}
    hostile.play("GET", runtime_path("user/app"), HostileHub.json(RUNNING, headers=headers))
    await default_client.get_space_runtime("user/app")
    assert (budget.quota, budget.window) == (2500, 300.0)  # the Hub's policy, learnt
    assert budget.delay() > 0  # 10 left, less half the reserve: paced

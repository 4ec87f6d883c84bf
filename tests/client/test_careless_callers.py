"""The Python API as a careless caller uses it: odd tokens, a client closed or reused, a
Watcher misused, hostile notification targets. Each case is refused with a typed error
(never a foreign one), leaks nothing, and never shows a secret."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from helpers import client_for

from aiospace.emulator import Emulator
from aiospace.engine.notify import CommandRunner, WebhookPoster
from aiospace.engine.transitions import Change, Transition
from aiospace.engine.watcher import Watcher
from aiospace.errors import DeliveryError, InvalidArgumentError
from aiospace.models import SpaceRuntime, SpaceStage

TOKEN = "hf_CarelessCallerTokenNeverShown42"


# ---------------------------------------------------------------------- tokens


# ---------------------------------------------------------------------- the client's life


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


# ---------------------------------------------------------------------- a Watcher misused


def _workers() -> set[asyncio.Task[object]]:
    """The tasks of a Watcher's pollers still alive in this loop."""
    return {t for t in asyncio.all_tasks() if "_worker" in repr(t.get_coro())}


async def test_a_watcher_iterated_outside_async_with_says_so(aiospace_emulator: Emulator) -> None:
    async with client_for(aiospace_emulator, "alice") as client:
        watcher = client.watcher()
        watcher.add("alice/demo")
        # Was a silent, empty loop: nothing is polled outside `async with`.
        with pytest.raises(InvalidArgumentError, match="async with") as info:
            async for _ in watcher:
                pass
        assert info.value.argument == "watcher"


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


# ---------------------------------------------------------------------- hostile notification targets


def _transition() -> Transition:
    return Transition(
        "alice/demo",
        SpaceRuntime(SpaceStage.BUILDING),
        SpaceRuntime(SpaceStage.RUNNING),
        frozenset({Change.STAGE}),
        0.0,
    )


@contextlib.asynccontextmanager
async def _server(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/hook"))
    finally:
        await server.close()


async def test_a_webhook_answer_is_not_read_however_long_it_is() -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(100_000):  # 6.4 GB, unless the poster hangs up
            await response.write(b"x" * 65536)
        return response

    async with _server(endless) as url, WebhookPoster(url, timeout=2, attempts=1) as post:
        # Was: the whole answer was read (memory without bound), until the timeout.
        await post(_transition())
    assert post.posted == 1


async def test_a_webhook_redirect_is_not_followed_with_the_body_and_headers() -> None:
    elsewhere: list[web.Request] = []

    async def other_host(request: web.Request) -> web.StreamResponse:
        elsewhere.append(request)
        return web.Response(text="ok")

    async with _server(other_host) as target:
        target = target.replace("127.0.0.1", "localhost")  # another origin

        async def redirecting(request: web.Request) -> web.StreamResponse:
            raise web.HTTPTemporaryRedirect(target)

        async with _server(redirecting) as url:
            headers = {"X-Hook-Signature": "sig-never-forwarded"}
            async with WebhookPoster(url, headers=headers, attempts=1) as post:
                # Was: the transition and the signature header were POSTed to the other host.
                with pytest.raises(DeliveryError, match="redirect") as info:
                    await post(_transition())
    assert not elsewhere
    assert info.value.status == 307


async def test_a_webhook_poster_outside_async_with_is_a_typed_error() -> None:
    post = WebhookPoster("http://127.0.0.1:9/hook")
    with pytest.raises(InvalidArgumentError, match="async with"):  # was a RuntimeError
        await post(_transition())


async def test_a_command_that_does_not_exist_is_a_delivery_error() -> None:
    # Was a FileNotFoundError naming the path; the argument list is never shown.
    run = CommandRunner(["/nonexistent/notify-me", "--token=hf_secret_argument"])
    with pytest.raises(DeliveryError, match="could not start") as info:
        await run(_transition())
    assert "hf_secret_argument" not in str(info.value) and "/nonexistent" not in str(info.value)


async def test_a_chatty_command_costs_a_bounded_memory() -> None:
    script = (
        "import sys; sys.stdout.write('o' * 8_000_000); "
        "sys.stderr.write('e' * 8_000_000 + '\\nlast'); sys.exit(3)"
    )
    run = CommandRunner([sys.executable, "-c", script], timeout=30)
    tracemalloc.start()
    try:
        with pytest.raises(DeliveryError, match="exited with 3: last"):
            await run(_transition())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000  # was > 16 MB: both outputs kept whole

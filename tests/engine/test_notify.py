"""Notifications (``aiospace/engine/notify.py``): dispatching transitions to callbacks, a webhook
poster and a command runner.

The cases marked ``hostile`` are targets that do their worst (an answer without end, a redirect
to another host, a command that floods its pipes); those marked ``careless`` misuse a poster or
a runner.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import signal
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from helpers import client_for

from aiospace import (
    Cadence,
    Change,
    CommandRunner,
    DeliveryError,
    Dispatcher,
    InvalidArgumentError,
    SpaceRuntime,
    SpaceStage,
    Transition,
    TransitionFilter,
    WebhookPoster,
)
from aiospace.emulator import Emulator
from aiospace.engine import notify
from aiospace.engine.notify import safe_url

if TYPE_CHECKING:
    from conftest import Receiver
import contextlib
import tracemalloc
from collections.abc import Awaitable, Callable

FAST = Cadence(fast=1.0, slow=5.0, jitter=0.0, after_write=30.0)


def transition(repo_id: str, stage: str, n: int = 0, previous: str | None = "RUNNING") -> Transition:
    before = None if previous is None else SpaceRuntime(SpaceStage(previous))
    changes = frozenset({Change.INITIAL}) if before is None else frozenset({Change.STAGE})
    return Transition(repo_id, before, SpaceRuntime(SpaceStage(stage)), changes, float(n))


async def source(
    items: Iterable[Transition], pulled: list[Transition] | None = None
) -> AsyncIterator[Transition]:
    for item in items:
        if pulled is not None:
            pulled.append(item)
        yield item
        await anyio.lowlevel.checkpoint()


# ---------------------------------------------------------------------- dispatch


async def test_dispatch_hands_every_transition_of_a_watcher_to_the_callback_in_order_per_space() -> None:
    async with Emulator(speed=200) as hub, client_for(hub, "alice", seed=1) as alice:
        for space in ("alice/demo", "alice/gpu-app"):
            hub.world.configure(space, build_seconds=10, start_seconds=2)
        seen: list[Transition] = []
        heard: dict[str, list[str]] = defaultdict(list)

        async def tell(t: Transition) -> None:
            await anyio.sleep(0.01)  # slower than the watch: the deliveries overlap
            heard[t.repo_id].append(t.current.stage.value)

        async def watched() -> AsyncIterator[Transition]:
            async with alice.watcher(cadence=FAST, seed=2) as w:
                w.add("alice/demo", "alice/gpu-app")
                restarted = 0
                async for t in w:
                    seen.append(t)
                    yield t
                    if t.is_initial:
                        await alice.restart_space(t.repo_id)
                    elif t.current.stage == SpaceStage.RUNNING:
                        restarted += 1
                        if restarted == 2:
                            return

        with anyio.fail_after(10):
            stats = await Dispatcher(tell, concurrency=2).run(watched())
    assert stats.delivered == len(seen) and stats.failed == 0
    for space in ("alice/demo", "alice/gpu-app"):
        assert heard[space] == [t.current.stage.value for t in seen if t.repo_id == space]
        assert heard[space][-1] == "RUNNING" and len(heard[space]) >= 3


async def test_a_failing_or_slow_callback_is_logged_and_counted_and_never_stops_dispatching(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "aiospace.notify")
    delivered: list[str] = []

    async def flaky(t: Transition) -> None:
        if t.repo_id == "a/boom":
            raise RuntimeError("the chat service is down")
        if t.repo_id == "a/slow":
            await anyio.sleep_forever()
        delivered.append(t.repo_id)

    items = [
        transition("a/boom", "BUILDING"),
        transition("a/slow", "BUILDING"),
        transition("a/ok", "BUILDING"),
    ]
    dispatcher = Dispatcher(flaky, timeout=0.05)
    with anyio.fail_after(10):
        stats = await dispatcher.run(source(items))
    assert delivered == ["a/ok"]
    assert (stats.delivered, stats.failed, stats.timed_out) == (1, 2, 1)
    messages = [r.getMessage() for r in caplog.records]
    assert any("a/boom" in m and "RuntimeError: the chat service is down" in m for m in messages)
    assert any("a/slow" in m and "cancelled after 0.05s" in m for m in messages)


async def test_deliveries_under_way_when_the_dispatcher_is_cancelled_are_counted_cut_short() -> None:
    # Before: Ctrl-C or SIGTERM during two --exec runs summed up as "0 delivered, 0 failed".
    started: list[str] = []
    both = anyio.Event()

    async def hang(t: Transition) -> None:
        started.append(t.repo_id)
        if len(started) == 2:
            both.set()
        await anyio.sleep_forever()

    items = [transition("a/one", "BUILDING"), transition("a/two", "BUILDING")]
    dispatcher = Dispatcher(hang, timeout=None)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(dispatcher.run, source(items))
            await both.wait()
            tg.cancel_scope.cancel()
    stats = dispatcher.stats
    assert (stats.delivered, stats.failed, stats.timed_out, stats.cut_short) == (0, 0, 0, 2)


async def test_concurrency_is_bounded_and_one_space_is_delivered_one_at_a_time() -> None:
    running: set[str] = set()
    peak = 0
    order: dict[str, list[float]] = defaultdict(list)

    async def slow(t: Transition) -> None:
        nonlocal peak
        assert t.repo_id not in running, "two deliveries of one Space at once"
        running.add(t.repo_id)
        peak = max(peak, len(running))
        await anyio.sleep(0.005)
        order[t.repo_id].append(t.observed_at)
        running.discard(t.repo_id)

    items = [transition(f"a/s{i % 6}", "BUILDING", n=i) for i in range(30)]
    with anyio.fail_after(10):
        stats = await Dispatcher(slow, concurrency=3).run(source(items))
    assert stats.delivered == 30 and peak == 3
    assert all(times == sorted(times) and len(times) == 5 for times in order.values())


async def test_a_blocked_callback_stops_the_reading_at_max_pending() -> None:
    pulled: list[Transition] = []
    release = anyio.Event()

    async def blocked(_: Transition) -> None:
        await release.wait()

    items = [transition("a/one", "BUILDING", n=i) for i in range(10)]
    dispatcher = Dispatcher(blocked, concurrency=1, max_pending=2, timeout=None)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(dispatcher.run, source(items, pulled))
            for _ in range(50):
                await anyio.lowlevel.checkpoint()
            assert len(pulled) == 3  # two accepted, the third waits for room
            release.set()
    assert len(pulled) == 10 and dispatcher.stats.delivered == 10


async def test_the_dispatchers_filter_skips_transitions() -> None:
    got: list[str] = []

    async def record(t: Transition) -> None:
        got.append(t.current.stage.value)

    items = [transition("a/b", s) for s in ("BUILDING", "BUILD_ERROR", "RUNNING", "RUNTIME_ERROR")]
    accept = TransitionFilter.parse(stages=["build_error,runtime_error"])
    stats = await Dispatcher(record, accept=accept).run(source(items))
    assert got == ["BUILD_ERROR", "RUNTIME_ERROR"] and stats.skipped == 2


def test_transition_filter() -> None:
    initial = transition("a/b", "RUNNING", previous=None)
    built = transition("a/b", "RUNNING", previous="RUNNING_APP_STARTING")
    upgraded = Transition(
        "a/b",
        SpaceRuntime(SpaceStage.RUNNING),
        SpaceRuntime(SpaceStage.RUNNING_BUILDING),
        frozenset({Change.STAGE, Change.REQUESTED_HARDWARE}),
        1.0,
    )
    stalled = Transition(
        "a/b",
        SpaceRuntime(SpaceStage.BUILDING),
        SpaceRuntime(SpaceStage.BUILDING),
        frozenset({"stalled"}),  # type: ignore[arg-type]  # a Change this version may not define
        2.0,
    )
    everything = TransitionFilter()
    assert all(everything(t) for t in (initial, built, upgraded, stalled))
    running = TransitionFilter.parse(stages=["RUNNING"])
    assert running(initial) and running(built) and not running(upgraded)
    stage_changes = TransitionFilter.parse(changes=["stage"])
    assert not stage_changes(initial) and stage_changes(built) and stage_changes(upgraded)
    # Each name matches its own change only: a request is `requested_hardware`, not `hardware`.
    requested = TransitionFilter.parse(changes=["requested_hardware"])
    assert requested(upgraded) and not requested(built)
    assert not TransitionFilter.parse(changes=["hardware"])(upgraded)
    assert TransitionFilter.parse(changes=["initial"])(initial) and not stage_changes(initial)
    assert TransitionFilter.parse(changes=["stalled"])(stalled)
    assert not TransitionFilter.parse(changes=["converged"])(upgraded)
    both = TransitionFilter.parse(stages=["running"], changes=["stage,requested_hardware"])
    assert both(built) and not both(initial) and not both(upgraded)
    with pytest.raises(InvalidArgumentError, match="'RUNING' is not a known stage"):
        TransitionFilter.parse(stages=["RUNING"])
    with pytest.raises(
        InvalidArgumentError, match="'stages' is not one of initial, stage, hardware, requested_hardware"
    ):
        TransitionFilter.parse(changes=["stages"])
    # A careless caller: one str is one list of names; anything else is refused as ours (before:
    # an AttributeError for a name that isn't a str).
    assert TransitionFilter.parse(stages="BUILD_ERROR,running") == TransitionFilter.parse(
        stages=["BUILD_ERROR", "RUNNING"]
    )
    for odd in ({"changes": [5]}, {"stages": [None]}, {"changes": 5}):
        with pytest.raises(InvalidArgumentError, match="expected names"):
            TransitionFilter.parse(**odd)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"timeout": 0}, "timeout"),
        ({"max_pending": True}, "max_pending"),
    ],
)
def test_dispatcher_arguments_are_checked(kwargs: dict[str, object], argument: str) -> None:
    async def callback(_: Transition) -> None:
        pass

    with pytest.raises(InvalidArgumentError) as caught:
        Dispatcher(callback, **kwargs)  # type: ignore[arg-type]
    assert caught.value.argument == argument


# ---------------------------------------------------------------------- the webhook poster


async def test_the_poster_retries_5xx_and_delivers_each_transition_once_in_order(receiver: Receiver) -> None:
    receiver.fail_first(503)
    receiver.fail_next(2, 500)
    items = [transition("a/b", s, n=i) for i, s in enumerate(["BUILDING", "APP_STARTING", "RUNNING"])]
    async with WebhookPoster(receiver.url, base_delay=0.001, max_delay=0.01, seed=1) as post:
        with anyio.fail_after(10):
            stats = await Dispatcher(post).run(source(items))
    assert stats.delivered == 3 and stats.failed == 0
    assert receiver.accepted == [t.to_json() for t in items]
    assert post.posted == 3 and post.retries == len(receiver.attempts) - 3 >= 3
    # The retries of one delivery share its id: a receiver can drop repeats.
    ids = [delivery for delivery, status in receiver.attempts if status == 200]
    assert len(set(ids)) == 3
    for headers in receiver.headers:
        assert headers["Content-Type"] == "application/json"
        assert "Authorization" not in headers and headers["User-Agent"].startswith("aiospace/")


async def test_the_poster_never_logs_the_query_string_nor_credentials(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.fail_next(10, 502)
    url = receiver.url.replace("http://", "http://user:pa55word@") + "?token=S3CRET#frag"
    async with WebhookPoster(url, attempts=3, base_delay=0.001, max_delay=0.01) as post:
        assert post.target == safe_url(receiver.url) == receiver.url.rsplit("/", 1)[0] + "/..."
        assert "S3CRET" not in repr(post)
        with pytest.raises(DeliveryError) as caught:
            await post(transition("a/b", "RUNNING"))
        assert caught.value.status == 502 and "answered 502 (3 attempts)" in str(caught.value)
        stats = await Dispatcher(post).run(source([transition("a/b", "RUNNING")]))
    assert stats.failed == 1 and receiver.queries[0] == "token=S3CRET"  # it was sent, never shown
    # (the receiver's own access log, aiohttp.access, is the receiver's business)
    logged = [r.getMessage() for r in caplog.records if r.name != "aiohttp.access"]
    assert any("answered 502" in line for line in logged)
    shown = [str(caught.value), caught.value.target, *logged]
    assert not [line for line in shown if "S3CRET" in line or "pa55word" in line or "frag" in line]


async def test_the_poster_gives_up_at_once_on_a_4xx(receiver: Receiver) -> None:
    receiver.fail_next(1, 404)
    async with WebhookPoster(receiver.url, base_delay=0.001) as post:
        with pytest.raises(DeliveryError, match="answered 404"):
            await post(transition("a/b", "RUNNING"))
    assert len(receiver.attempts) == 1


async def test_the_poster_retries_transport_failures() -> None:
    with anyio.fail_after(10):
        async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
            port = listener.extra(anyio.abc.SocketAttribute.local_port)
        url = f"http://127.0.0.1:{port}/hook?key=S3CRET"  # closed: connections are refused
        async with WebhookPoster(url, attempts=3, base_delay=0.001, max_delay=0.01) as post:
            with pytest.raises(DeliveryError) as caught:
                await post(transition("a/b", "RUNNING"))
    assert "could not connect" in str(caught.value) and "(3 attempts)" in str(caught.value)
    assert "S3CRET" not in str(caught.value) and post.retries == 2


def test_the_poster_refuses_a_url_that_is_not_http() -> None:
    with pytest.raises(InvalidArgumentError, match=r"'ftp://host/\.\.\.' is not an http"):
        WebhookPoster("ftp://u:p@host/x?k=v")
    assert safe_url("https://u:p@h:8/a/b?c=d#e") == "https://h:8/..."
    # A Slack or Discord webhook's path is its secret: never shown.
    assert safe_url("https://hooks.slack.com/services/T0/B0/XyZsecret") == "https://hooks.slack.com/..."
    assert safe_url("https://h") == "https://h" and safe_url("https://h/") == "https://h"


async def test_the_poster_waits_for_a_retry_after_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ``Retry-After`` given as an HTTP date is waited for (up to ``max_delay``), not ignored."""
    answers = [503, 200]
    later = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(hours=1), usegmt=True)

    async def hook(_: web.Request) -> web.Response:
        status = answers.pop(0)
        return web.Response(status=status, headers={"Retry-After": later} if status == 503 else {})

    app = web.Application()
    app.router.add_post("/hook", hook)
    slept: list[float] = []
    real_sleep = anyio.sleep

    async def record(delay: float) -> None:
        slept.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(anyio, "sleep", record)
    async with TestServer(app, host="127.0.0.1") as server:
        async with WebhookPoster(str(server.make_url("/hook")), base_delay=0.001, max_delay=2.0) as post:
            await post(transition("alice/demo", "RUNNING"))
    assert slept == [2.0] and post.posted == 1 and post.retries == 1


# ---------------------------------------------------------------------- the command runner


async def test_the_command_gets_the_transition_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    script = (
        "import json, os, sys; t = json.load(sys.stdin); "
        f"open({str(out)!r}, 'a').write(json.dumps([t, os.environ['AIOSPACE_SPACE'], "
        "os.environ['AIOSPACE_STAGE'], os.environ['AIOSPACE_PREVIOUS_STAGE'], "
        "os.environ['AIOSPACE_CHANGES']]) + '\\n')"
    )
    items = [transition("a/b", "BUILDING", n=1), transition("a/b", "RUNNING", n=2, previous="BUILDING")]
    runner = CommandRunner([sys.executable, "-c", script])
    with anyio.fail_after(20):
        stats = await Dispatcher(runner).run(source(items))
    assert stats.delivered == 2
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line[0] for line in lines] == [t.to_json() for t in items]
    assert lines[1][1:] == ["a/b", "RUNNING", "BUILDING", "stage"]


async def test_a_failing_command_is_an_error_with_its_last_line_and_never_its_arguments() -> None:
    runner = CommandRunner(f"{sys.executable} -c 'import sys; sys.exit(\"bad news\")' --secret=S3CRET")
    with anyio.fail_after(20), pytest.raises(DeliveryError) as caught:
        await runner(transition("a/b", "RUNNING"))
    assert caught.value.status == 1 and "exited with 1: bad news" in str(caught.value)
    assert "S3CRET" not in str(caught.value) and "S3CRET" not in repr(runner)


async def test_a_command_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    runner = CommandRunner(f"sleep 30 & echo $! > {pid_file}; wait", timeout=0.5)
    with anyio.fail_after(20), pytest.raises(DeliveryError, match=r"killed after 0\.5s"):
        await runner(transition("a/b", "RUNNING"))
    child = int(pid_file.read_text())
    with anyio.fail_after(5):
        while _alive(child):  # noqa: ASYNC110 (polling another process)
            await anyio.sleep(0.01)


def _alive(pid: int) -> bool:
    """The process runs (a zombie waiting for its reaper is dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def test_a_command_that_ignores_its_stdin_is_fine() -> None:
    with anyio.fail_after(20):
        await CommandRunner("true")(transition("a/b", "RUNNING"))


def test_an_empty_command_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        CommandRunner("  ")


# ------------------------------------------------ hostile notification targets, a poster or a command misused


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


@pytest.mark.hostile
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


@pytest.mark.hostile
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


@pytest.mark.careless
async def test_a_webhook_poster_outside_async_with_is_a_typed_error() -> None:
    post = WebhookPoster("http://127.0.0.1:9/hook")
    with pytest.raises(InvalidArgumentError, match="async with"):  # was a RuntimeError
        await post(_transition())


@pytest.mark.careless
async def test_a_command_that_does_not_exist_is_a_delivery_error() -> None:
    # Was a FileNotFoundError naming the path; the argument list is never shown.
    run = CommandRunner(["/nonexistent/notify-me", "--token=hf_secret_argument"])
    with pytest.raises(DeliveryError, match="could not start") as info:
        await run(_transition())
    assert "hf_secret_argument" not in str(info.value) and "/nonexistent" not in str(info.value)


@pytest.mark.hostile
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


async def test_a_cancelled_command_gets_sigterm_then_sigkill_after_a_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "KILL_GRACE", 0.3)
    pids = tmp_path / "pids"
    # The shell and its child ignore SIGTERM (an ignored signal is inherited): SIGKILL ends them.
    runner = CommandRunner(
        f"trap '' TERM; echo $$ >> {pids}; sleep 30 & echo $! >> {pids}; wait", timeout=None
    )
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner, transition("a/b", "RUNNING"))
            while len(pids.read_text().split() if pids.exists() else []) < 2:  # noqa: ASYNC110
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    started = [int(p) for p in pids.read_text().split()]
    with anyio.fail_after(5):
        while any(_alive(pid) for pid in started):  # noqa: ASYNC110 (polling other processes)
            await anyio.sleep(0.01)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
async def test_a_cancellation_while_the_command_is_being_opened_still_ends_its_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a cancellation that landed while open_process had spawned the command but not yet
    # returned it (a busy event loop) lost the process: its shell and children ran on (seen under
    # load as a SIGTERM'd `watch --exec` leaving `sleep` behind).
    monkeypatch.setattr(notify, "KILL_GRACE", 0.3)
    pids = tmp_path / "pids"
    real_open = anyio.open_process

    async def slow_open(*args: object, **kwargs: object) -> object:
        process = await real_open(*args, **kwargs)  # type: ignore[arg-type]
        await anyio.sleep(1)  # a starved loop: the command runs, the runner doesn't hold it yet
        return process

    monkeypatch.setattr(anyio, "open_process", slow_open)
    runner = CommandRunner(f"echo $$ >> {pids}; sleep 30 & echo $! >> {pids}; wait", timeout=None)
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner, transition("a/b", "RUNNING"))
            while len(pids.read_text().split() if pids.exists() else []) < 2:  # noqa: ASYNC110
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()  # inside slow_open's sleep
    started = [int(p) for p in pids.read_text().split()]
    try:
        with anyio.fail_after(5):
            while any(_alive(pid) for pid in started):  # noqa: ASYNC110 (polling other processes)
                await anyio.sleep(0.01)
    finally:
        for pid in started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

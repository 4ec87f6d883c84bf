"""A Space's build or run log read as server-sent events (``aiospace/_http/logs.py``): bounded,
a followed log resumed where it left off, and the lines stamped ``since`` a time (through
``fetch_space_logs`` and ``aiospace logs --since``, against the emulator).

The cases marked ``hostile`` are played by :class:`hostile_hub.HostileHub` (or a raw loopback
server, for what aiohttp's server can't send): streams without a newline or an end, heads that
never end, cut connections while the backlog rolls over, a 429 in the middle of a follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import aiohttp
import anyio
import pytest
from helpers import client_for
from hostile_hub import (
    BASE,
    REPO,
    TOKEN,
    HostileHub,
    MiB,
    assert_clean,
    assert_nothing_open,
    eventually,
    log_event,
    make_client,
)

from aiospace import (
    BadAnswerError,
    InvalidArgumentError,
    RateLimitedError,
    RequestTimeoutError,
    ScaledClock,
    SpaceClient,
)
from aiospace.cli import app as cli
from aiospace.emulator import Emulator
from aiospace.emulator.state import LOG_CAPACITY

# --------------------------------------------------------------------------- bounds


@pytest.mark.hostile
@pytest.mark.parametrize("follow", [False, True])
async def test_an_event_stream_without_newlines_ends_at_the_line_limit(
    hostile: HostileHub, follow: bool
) -> None:
    hostile.play("GET", f"{BASE}/logs/run", hostile.endless_sse(b"data: " + b"x" * 4096))
    async with make_client(hostile, max_log_line_bytes=64 * 1024) as client:
        with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
            await _collect(client.fetch_space_logs(REPO, follow=follow))
        assert_nothing_open(client)
    assert info.value.reason == "line-too-long"
    assert hostile.count(f"{BASE}/logs/run") == 1  # not reconnected: the same line would come back
    await eventually(lambda: hostile.abandoned == 1)
    assert hostile.sent < 32 * MiB


@pytest.mark.hostile
async def test_an_event_that_never_ends_ends_at_the_line_limit(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/logs/run", hostile.endless_sse(b"data: more\n"))  # no blank line, ever
    async with make_client(hostile, max_log_line_bytes=64 * 1024) as client:
        with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
            await _collect(client.fetch_space_logs(REPO))
    assert info.value.reason == "line-too-long"


@pytest.mark.hostile
async def test_a_log_read_without_follow_has_a_deadline(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/logs/run", hostile.endless_sse(log_event("again")))  # never a keep-alive
    lines: list[str] = []
    async with make_client(hostile, logs_read_timeout=0.2) as client:
        with anyio.fail_after(10), pytest.raises(RequestTimeoutError) as info:
            async for line in client.fetch_space_logs(REPO):
                lines.append(line)
        assert_nothing_open(client)
    assert lines and set(lines) == {"again"}
    assert "longer than 0.2s" in str(info.value)


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


@pytest.mark.hostile
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


@pytest.mark.hostile
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


@pytest.mark.hostile
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


# --------------------------------------------------------------------------- followed logs resume


class IdLog:
    """A log stream with SSE ids as the emulator sends them: ``id: n`` = the absolute line
    number, resumed after ``Last-Event-ID``. The first ``cuts`` connections are cut after
    ``per_connection`` events; between connections the log grows by ``grow`` lines and
    keeps only the last ``capacity`` (it rolls over)."""

    def __init__(self, *, capacity: int, grow: int, cuts: int, per_connection: int) -> None:
        self.lines = [f"line {n}" for n in range(capacity)]
        self.capacity, self.grow, self.cuts, self.per_connection = capacity, grow, cuts, per_connection
        self.last_event_ids: list[str | None] = []

    @property
    def oldest(self) -> int:
        return max(0, len(self.lines) - self.capacity)

    async def __call__(self, request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        last = request.headers.get("Last-Event-ID")
        self.last_event_ids.append(last)
        start = self.oldest if last is None else max(self.oldest, int(last) + 1)
        parts = [log_event(self.lines[n], event_id=n) for n in range(start, len(self.lines))]
        cut = len(self.last_event_ids) <= self.cuts
        if cut:
            parts = [*parts[: self.per_connection], b'data: {"data": "cut in the mid']
        # The log moves on while the client is away.
        self.lines += [f"line {n}" for n in range(len(self.lines), len(self.lines) + self.grow)]
        return await HostileHub.sse(*parts, cut=cut)(request)


@pytest.mark.hostile
async def test_followed_logs_resume_by_event_id(hostile: HostileHub, hostile_client: SpaceClient) -> None:
    # The backlog rolls over between connections: counting lines would lose 2 and 3.
    log = IdLog(capacity=5, grow=2, cuts=3, per_connection=2)
    hostile.play("GET", f"{BASE}/logs/run", log)
    with anyio.fail_after(10):
        lines = await _collect(hostile_client.fetch_space_logs(REPO, follow=True))
    # Each line exactly once, in order, none lost.
    assert lines == [f"line {n}" for n in range(len(log.lines) - log.grow)]
    assert log.last_event_ids == [None, "1", "3", "5"]


@pytest.mark.hostile
async def test_followed_logs_take_a_replaced_log_whole(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    # A new build replaced the log while the client was away: its ids start over, and the
    # Hub (as the emulator) sends it from its first line. Nothing of it is skipped.
    old = HostileHub.sse(*(log_event(f"old {n}", event_id=n) for n in (10, 11, 12)), b"data: {", cut=True)
    new = HostileHub.sse(*(log_event(f"new {n}", event_id=n) for n in (0, 1)))
    hostile.play("GET", f"{BASE}/logs/run", old, new)
    with anyio.fail_after(10):
        lines = await _collect(hostile_client.fetch_space_logs(REPO, follow=True))
    assert lines == ["old 10", "old 11", "old 12", "new 0", "new 1"]
    assert hostile.requests[1].headers["Last-Event-ID"] == "12"


@pytest.mark.hostile
async def test_followed_logs_on_the_emulator_lose_nothing_when_its_backlog_rolls_over() -> None:
    """End to end with the emulator's ids: before each cut the log moves on by 50 lines, so
    its oldest lines roll out; resuming by count would skip lines, replaying would repeat them."""
    async with Emulator(speed=100) as hub:
        for n in range(LOG_CAPACITY):  # the seeded lines roll out: "line 0" is the oldest kept
            hub.world.append_log("alice/demo", f"line {n}")
        cuts = hub.world.add_fault("sse_cut", route="fetch_run_logs", after_events=100, times=2)
        written = LOG_CAPACITY
        got: list[str] = []
        async with client_for(hub, "alice") as alice:
            with anyio.fail_after(30):
                async with contextlib.aclosing(alice.fetch_space_logs("alice/demo", follow=True)) as lines:
                    async for line in lines:
                        if not line.startswith("line "):
                            continue  # the app's own lines (a heartbeat...)
                        got.append(line)
                        if line in ("line 50", "line 150"):  # the log moves on before the cut
                            for n in range(written, written + 50):
                                hub.world.append_log("alice/demo", f"line {n}")
                            written += 50
                        if line == f"line {written - 1}" and written == LOG_CAPACITY + 100:
                            break
        assert cuts.fired == 2
        assert got == [f"line {n}" for n in range(written)], "each line once, in order, none lost"


@pytest.mark.hostile
async def test_followed_logs_resume_by_timestamp_watermark_after_a_roll_over(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    def at(second: int, text: str) -> bytes:
        return log_event(text, stamp=f"2025-01-01T00:00:{second:02d}.000Z")

    first = HostileHub.sse(at(0, "a"), at(1, "b"), at(1, "b"), at(2, "c"), b'data: {"data": "cu', cut=True)
    # Meanwhile the backlog dropped "a" and a "b": counting lines would skip "d" and "e".
    second = HostileHub.sse(at(1, "b"), at(2, "c"), at(2, "c"), at(3, "d"), at(4, "e"))
    hostile.play("GET", f"{BASE}/logs/run", first, second)
    with anyio.fail_after(10):
        lines = await _collect(hostile_client.fetch_space_logs(REPO, follow=True))
    assert lines == ["a", "b", "b", "c", "c", "d", "e"]
    assert "Last-Event-ID" not in hostile.requests[1].headers


@pytest.mark.hostile
@pytest.mark.parametrize("aclose", [True, False], ids=["aclosing", "dropped"])
async def test_leaving_a_followed_log_closes_its_connection(
    hostile: HostileHub, hostile_client: SpaceClient, aclose: bool
) -> None:
    hostile.play(
        "GET", f"{BASE}/logs/run", HostileHub.sse(log_event("one"), log_event("two"), hold=hostile.release)
    )
    if aclose:
        async with contextlib.aclosing(hostile_client.fetch_space_logs(REPO, follow=True)) as lines:
            async for _ in lines:
                break
    else:
        async for _ in hostile_client.fetch_space_logs(REPO, follow=True):
            break
        gc.collect()
    assert (
        hostile_client._transport._session is not None
        and hostile_client._transport._session.connector is not None
    )
    connector = hostile_client._transport._session.connector
    await eventually(lambda: not connector._acquired and not any(connector._conns.values()))


@pytest.mark.hostile
async def test_a_rate_limited_followed_log_waits_and_resumes(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    # Was: the 429 ended the follow at once (RateLimitedError), whatever the Retry-After said.
    busy = HostileHub.json({"error": "slow down"}, 429, {"Retry-After": "20"})
    hostile.play("GET", f"{BASE}/logs/run", busy, HostileHub.sse(log_event("up", event_id=0)))
    started = hostile_client.clock.now()
    with anyio.fail_after(10):
        lines = await _collect(hostile_client.fetch_space_logs(REPO, follow=True))
    assert lines == ["up"] and hostile.count(f"{BASE}/logs/run") == 2
    assert hostile_client.clock.now() - started >= 20  # the Retry-After was waited out (Hub seconds)


@pytest.mark.hostile
async def test_a_followed_log_does_not_wait_a_retry_after_of_ages(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    hostile.play(
        "GET", f"{BASE}/logs/run", HostileHub.json({"error": "later"}, 429, {"Retry-After": "86400"})
    )
    with anyio.fail_after(10), pytest.raises(RateLimitedError) as info:
        await _collect(hostile_client.fetch_space_logs(REPO, follow=True))
    assert info.value.retry_after == 86400 and hostile.count(f"{BASE}/logs/run") == 1


async def _collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


# ---------------------------------------------------------------------- since: the lines stamped since a time


#: The emulator of the ``since`` cases: its log lines carry the Hub-time stamp they were written
#: at, and its own log (``world.space(...).run_log``) is the truth.
SINCE_HUB = pytest.mark.aiospace_emulator(speed=400)


class NoOffset(tzinfo):
    """A time zone that knows no offset: the datetime is naive all the same (comparing it fails)."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


async def collect(client: SpaceClient, **kwargs: Any) -> list[str]:
    return [line async for line in client.fetch_space_logs("alice/demo", **kwargs)]


def stamp_of(hub: Emulator, hub_seconds: float) -> datetime:
    """The wall time of Hub time ``hub_seconds`` (as the emulator stamps its lines)."""
    return hub.clock.wall() - timedelta(seconds=hub.clock.now() - hub_seconds)


@SINCE_HUB
async def test_since_skips_the_lines_stamped_earlier(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    await hub.clock.sleep(60)  # a dozen run log lines, 5 Hub seconds apart
    entries = list(hub.world.space("alice/demo").run_log)
    assert len(entries) >= 8
    middle = (entries[3].time + entries[4].time) / 2  # between two lines: no rounding at stake
    async with client_for(hub, "alice") as client:
        every = await collect(client)
        since_middle = await collect(client, since=stamp_of(hub, middle))
        since_long_ago = await collect(client, since=timedelta(days=1))
        since_now = await collect(client, since=hub.clock.wall() + timedelta(hours=1))
    later = [e.text for e in hub.world.space("alice/demo").run_log if e.time > middle]
    assert since_middle == later[: len(since_middle)]  # lines written meanwhile may follow
    assert since_middle[:4] == [e.text for e in entries[4:8]]
    assert since_long_ago[: len(every)] == every
    assert since_now == []


@pytest.mark.careless
@pytest.mark.parametrize(
    ("since", "problem"),
    [
        (timedelta(seconds=-1), "must be >= 0"),
        (datetime(2026, 1, 1), "must be aware"),
        (datetime(2026, 1, 1, tzinfo=NoOffset()), "must be aware"),  # a tzinfo that gives no offset
        ("10m", "expected a datetime or a timedelta, got str"),
        (600, "expected a datetime or a timedelta, got int"),
    ],
)
@SINCE_HUB
async def test_a_since_that_means_nothing_is_refused(
    aiospace_emulator: Emulator, since: Any, problem: str
) -> None:
    async with client_for(aiospace_emulator, "alice") as client:
        with pytest.raises(InvalidArgumentError) as info:
            await collect(client, since=since)
        assert client.stats.requests == 0
    assert info.value.argument == "since" and problem in str(info.value)


@SINCE_HUB
async def test_an_aware_datetime_in_any_zone_is_the_same_instant(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    await hub.clock.sleep(30)
    # Then a quiet log (the line already planned comes, then none): both reads see the same lines.
    hub.world.configure("alice/demo", log_interval=86_400)
    await hub.clock.sleep(10)
    cutoff = hub.clock.wall() - timedelta(seconds=22)
    elsewhere = cutoff.astimezone(timezone(timedelta(hours=-5)))
    async with client_for(hub, "alice") as client:
        here, there = await collect(client, since=cutoff), await collect(client, since=elsewhere)
    # the same first line; the later read may have heard more of the app's heartbeats
    shared = min(len(here), len(there))
    assert shared > 0 and here[:shared] == there[:shared]


@pytest.mark.aiospace_emulator(speed=50)
async def test_cli_logs_since(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/demo", log_interval=1)
    await hub.clock.sleep(20)
    # Then a quiet log (the line already planned comes, then none for a long while).
    hub.world.configure("alice/demo", log_interval=86_400)
    await hub.clock.sleep(2)
    truth = list(hub.world.space("alice/demo").run_log)
    argv = ["--endpoint", hub.url, "--token", "hf_alice", "logs", "alice/demo"]
    assert await cli.amain([*argv, "--since", "1d"], clock=hub.clock) == 0
    assert capsys.readouterr().out.splitlines() == [e.text for e in truth]
    before = hub.clock.now()
    assert await cli.amain([*argv, "--since", "10s"], clock=hub.clock) == 0
    after = hub.clock.now()
    recent = capsys.readouterr().out.splitlines()
    # The command's cutoff is 10 Hub seconds before some moment of its run: the tail of
    # the log from there (lines 1 Hub second apart).
    assert recent == [e.text for e in truth][len(truth) - len(recent) :]
    assert all(e.time >= before - 10 for e in truth[len(truth) - len(recent) :])
    assert all(e.text in recent for e in truth if e.time >= after - 10)
    assert await cli.amain([*argv, "--since", "1h", "-n", "2"], clock=hub.clock) == 0
    assert capsys.readouterr().out.splitlines() == [e.text for e in truth[-2:]]
    # Nothing stamped since: said, and still exit 0 (an empty answer is not an error).
    assert await cli.amain([*argv, "--since", "0s"], clock=hub.clock) == 0
    out, err = capsys.readouterr()
    assert out == "" and "alice/demo: nothing to show, no line of its run log in the last 0.0s" in err


# ---------------------------------------------------------------------- since: the Hub's now, from its Date


class RealClock(ScaledClock):
    """This machine's clock (a client's default)."""

    def __init__(self) -> None:
        super().__init__(1.0)


class SkewedClock(RealClock):
    """A client machine whose clock is an hour behind."""

    def wall(self) -> datetime:
        return super().wall() - timedelta(hours=1)


def _since_tail(hub: Emulator, shown: list[str], back: float, before: float, after: float) -> None:
    """``shown`` is the tail of the run log from a cutoff ``back`` Hub seconds before a moment
    between ``before`` and ``after`` (the Hub's ``Date`` has whole seconds: one more is allowed)."""
    truth = list(hub.world.space("alice/demo").run_log)
    assert shown, "no line shown"
    assert shown == [e.text for e in truth][len(truth) - len(shown) :]
    first = len(truth) - len(shown)
    assert truth[first].time >= before - back - 1
    assert first == 0 or truth[first - 1].time < after - back


@pytest.mark.aiospace_emulator(speed=10)
async def test_cli_logs_since_counts_back_from_the_hubs_now(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # The CLI's clock is this machine's (no --hub-speed), the emulator's runs 10x faster:
    # before, `--since 3s` counted back from this machine's now and printed the whole log.
    hub = aiospace_emulator
    hub.world.configure("alice/demo", log_interval=0.5)
    await hub.clock.sleep(8)
    argv = ["--endpoint", hub.url, "--token", "hf_alice", "logs", "alice/demo", "--since", "3s"]
    before = hub.clock.now()
    assert await cli.amain(argv) == 0
    after = hub.clock.now()
    _since_tail(hub, capsys.readouterr().out.splitlines(), 3, before, after)


@pytest.mark.aiospace_emulator(speed=10)
@pytest.mark.parametrize("clock", [RealClock, SkewedClock], ids=["fast-hub", "skewed-client"])
async def test_a_since_timedelta_counts_back_from_the_hubs_date(
    aiospace_emulator: Emulator, clock: type[RealClock]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/demo", log_interval=0.5)
    await hub.clock.sleep(8)
    async with SpaceClient(endpoint=hub.url, token="hf_alice", clock=clock()) as client:
        before = hub.clock.now()
        shown = await collect(client, since=timedelta(seconds=3))
        after = hub.clock.now()
    _since_tail(hub, shown, 3, before, after)

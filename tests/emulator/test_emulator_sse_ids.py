"""The emulator's log events carry ids, and a stream resumes from ``Last-Event-ID``.

Contract (``docs/emulator.md``, shared with the client): each log event is
``id: <n>`` then ``data: {...}``, ``n`` the absolute number of that line in the
Space's build or run log (0 for the first line ever written), so ids are monotonic
and stay right after the backlog rolls over (``LOG_CAPACITY``). A request with
``Last-Event-ID: n`` resumes with line ``n + 1``, or with the oldest line still kept
if ``n + 1`` rolled out; a value that is not a non-negative integer, or a future id,
is treated as no id (the whole backlog). Keep-alives carry no id. Checked on the raw
bytes of the stream.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from aiospace.emulator import Emulator
from aiospace.emulator.state import LOG_CAPACITY

SPACE = "alice/quiet"  # paused: its run log is closed, so a stream of it ends after the backlog
EXTRA = 10  # lines written past the capacity: ids 0..EXTRA-1 rolled out


def parse_events(raw: bytes) -> list[tuple[int | None, str | None]]:
    """``(id, line)`` of every whole event of ``raw`` (a keep-alive: ``(None, None)``)."""
    text = raw.decode()
    assert "\r" not in text
    *complete, _rest = text.split("\n\n")
    events: list[tuple[int | None, str | None]] = []
    for event in complete:
        fields = [line.partition(": ") for line in event.split("\n")]
        names = [name for name, _, _ in fields]
        if names == ["data"] and fields[0][2] == "":
            events.append((None, None))
            continue
        assert names == ["id", "data"], event  # the id first, then the documented data line
        event_id = fields[0][2]
        assert event_id.isdigit(), event
        payload = json.loads(fields[1][2])
        assert set(payload) == {"data", "timestamp"}, payload
        events.append((int(event_id), payload["data"]))
    return events


def log_ids(events: list[tuple[int | None, str | None]]) -> list[int]:
    """The ids of the log events (keep-alives left out)."""
    return [event_id for event_id, _ in events if event_id is not None]


async def read_stream(
    hub: Emulator, kind: str, space: str = SPACE, last_event_id: str | None = None
) -> bytes:
    """The whole raw body of a log stream that ends (a closed log)."""
    headers = hub.headers_for("alice")
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{hub.url}/api/spaces/{space}/logs/{kind}", headers=headers) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/event-stream")
            return await asyncio.wait_for(answer.read(), 10)


@pytest.fixture
async def rolled_over(aiospace_emulator: Emulator) -> Emulator:
    """The demo world plus a paused Space whose run log holds LOG_CAPACITY + EXTRA lines written."""
    hub = aiospace_emulator
    hub.world.add_space(SPACE, stage="PAUSED")
    for n in range(LOG_CAPACITY + EXTRA):
        hub.world.append_log(SPACE, f"line {n}")
    return hub


async def test_each_log_event_carries_the_line_number_as_its_id(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    raw = await read_stream(hub, "build", "alice/demo")  # a finished build: the stream ends
    events = parse_events(raw)
    lines = [entry.text for entry in hub.world.space("alice/demo").build_log]
    assert [(i, text) for i, text in events if i is not None] == list(enumerate(lines))
    assert events[len(lines)] == (None, None)  # then the keep-alive, with no id
    assert raw.startswith(b'id: 0\ndata: {"data": ')


async def test_ids_stay_the_absolute_line_numbers_after_the_backlog_rolls_over(rolled_over: Emulator) -> None:
    events = parse_events(await read_stream(rolled_over, "run"))
    ids = log_ids(events)
    assert ids == list(range(EXTRA, LOG_CAPACITY + EXTRA))  # the oldest kept first, numbered as it always was
    assert [text for _, text in events if text is not None][:2] == [f"line {EXTRA}", f"line {EXTRA + 1}"]


@pytest.mark.parametrize(
    ("last_event_id", "first"),
    [
        (str(LOG_CAPACITY), LOG_CAPACITY + 1),  # resumes right after it
        ("  42 ", 43),  # whitespace around is fine
        ("3", EXTRA),  # line 4 rolled out: the oldest kept
        (str(EXTRA - 1), EXTRA),  # exactly the oldest kept
        ("abc", EXTRA),  # not an integer: no id
        ("-1", EXTRA),
        ("²", EXTRA),
        ("1e3", EXTRA),
        ("", EXTRA),
        ("9" * 40, EXTRA),
        (str(LOG_CAPACITY + EXTRA), EXTRA),  # a future id (the log was replaced since): no id
    ],
)
async def test_last_event_id_resumes_after_that_line(
    rolled_over: Emulator, last_event_id: str, first: int
) -> None:
    ids = log_ids(parse_events(await read_stream(rolled_over, "run", last_event_id=last_event_id)))
    assert ids == list(range(first, LOG_CAPACITY + EXTRA))


async def test_resuming_from_the_last_line_sends_no_line(rolled_over: Emulator) -> None:
    events = parse_events(await read_stream(rolled_over, "run", last_event_id=str(LOG_CAPACITY + EXTRA - 1)))
    assert events == [(None, None)]  # just the keep-alive


@pytest.mark.aiospace_emulator(speed=1)  # no heartbeat line within the test: only ours
async def test_a_followed_stream_numbers_new_lines_and_resumes_without_a_gap(
    aiospace_emulator: Emulator,
) -> None:
    """A live run log: lines written while following get the next ids; a reconnection with
    the last id seen gets exactly the lines written while away, even past the capacity."""
    hub = aiospace_emulator
    url = f"{hub.url}/api/spaces/alice/demo/logs/run"
    seen: list[tuple[int | None, str | None]] = []
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=hub.headers_for("alice")) as answer:
            raw = b""
            hub.world.append_log("alice/demo", "live 1")
            hub.world.append_log("alice/demo", "live 2")
            while sum(1 for _, text in parse_events(raw) if text and text.startswith("live")) < 2:
                raw += await asyncio.wait_for(answer.content.readany(), 10)
            seen = parse_events(raw)
        ids = log_ids(seen)
        assert ids == list(range(len(ids)))
        last = ids[-1]
        assert [text for i, text in seen if i is not None][-2:] == ["live 1", "live 2"]
        # Away: more lines than the log keeps are written; the ones still kept come back, in order.
        for n in range(LOG_CAPACITY + 5):
            hub.world.append_log("alice/demo", f"away {n}")
        headers = {**hub.headers_for("alice"), "Last-Event-ID": str(last)}
        async with session.get(url, headers=headers) as answer:
            raw = b""
            while not parse_events(raw) or parse_events(raw)[-1] != (None, None):
                raw += await asyncio.wait_for(answer.content.readany(), 10)
    events = parse_events(raw)
    assert log_ids(events) == list(range(last + 6, last + 1 + LOG_CAPACITY + 5))
    assert events[0][1] == "away 5"  # away 0..4 rolled out while we were away


async def test_the_sse_cut_fault_still_cuts_mid_event(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    hub.world.add_fault("sse_cut", route="fetch_build_logs", after_events=2, times=1)
    headers: dict[str, Any] = hub.headers_for("alice")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{hub.url}/api/spaces/alice/demo/logs/build", headers=headers) as answer:
            raw = b""
            with pytest.raises(aiohttp.ClientPayloadError):
                while chunk := await asyncio.wait_for(answer.content.readany(), 10):
                    raw += chunk
    assert log_ids(parse_events(raw)) == [0, 1]

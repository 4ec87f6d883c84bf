"""Server-sent events (``aiospace/_hub/sse.py``): the incremental, bounded parser, split anywhere,
and the Hub's log lines."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiospace._hub.sse import LogLine, SSEEvent, SSEParser, parse_log_event
from aiospace.emulator import encode

# Fixed examples (reproducible runs) and no per-example deadline (a loaded CI machine is slow).
HYPOTHESIS = settings(derandomize=True, deadline=None, max_examples=200)


def test_sse_basic_events_and_keep_alives() -> None:
    parser = SSEParser()
    events = parser.feed(
        b'data: {"data": "one"}\n\ndata:\n\n: comment\n\nevent: x\nid: 7\ndata: a\ndata: b\n\n'
    )
    assert events == [
        SSEEvent('{"data": "one"}'),
        SSEEvent(""),
        SSEEvent("a\nb", event="x", id="7"),
    ]
    assert not parser.pending


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_sse_line_endings(newline: bytes) -> None:
    stream = newline.join([b"data: one", b"", b"data: two", b"", b""])
    assert [e.data for e in SSEParser().feed(stream)] == ["one", "two"]


def test_sse_split_between_cr_and_lf() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: one\r") == []
    # the '\n' completes the '\r\n' of the previous line: it is not an empty line of its own
    assert parser.feed(b"\n") == []
    assert parser.feed(b"\r") == [SSEEvent("one")]  # a '\r' ends its line at once
    assert parser.feed(b"\n") == []
    assert not parser.pending
    assert parser.feed(b"data: two\r\n\r\n") == [SSEEvent("two")]
    # CR-only line endings: the event is complete as soon as its last '\r' arrives
    assert parser.feed(b"data: three\r\r") == [SSEEvent("three")]
    assert not parser.pending
    assert parser.feed(b"\ndata: four\n\n") == [SSEEvent("four")]


def test_sse_split_in_a_multibyte_character() -> None:
    raw = "data: héllo ✓\n\n".encode()
    parser = SSEParser()
    out = []
    for i in range(len(raw)):
        out += parser.feed(raw[i : i + 1])
    assert out == [SSEEvent("héllo ✓")]


def test_sse_cut_mid_event_reports_nothing() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: whole\n\ndata: half") == [SSEEvent("whole")]
    assert parser.pending
    parser2 = SSEParser()
    assert parser2.feed(b"data: line complete but event not\n") == []
    assert parser2.pending


SSE_STREAM = (
    b'data: {"data": "step 1\\n", "timestamp": "2025-01-01T00:00:00.000Z"}\r\n\r\n'
    b"data: \n\n"
    b": ping\r\r"
    b"event: log\rdata: multi\rdata: line\r\r"
    b'data: {"data": "\xc3\xa9t\xc3\xa9"}\n\n'
    b"id: 3\ndata:no-space\n\n"
    b"data: crlf 1\r\ndata: crlf 2\r\n\r\n"
)


def _events(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    out: list[SSEEvent] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    assert not parser.pending
    return out


EXPECTED = _events([SSE_STREAM])


def test_sse_reference_stream() -> None:
    assert [e.data for e in EXPECTED] == [
        '{"data": "step 1\\n", "timestamp": "2025-01-01T00:00:00.000Z"}',
        "",
        "multi\nline",
        '{"data": "été"}',
        "no-space",
        "crlf 1\ncrlf 2",
    ]
    assert EXPECTED[2].event == "log"
    assert EXPECTED[4].id == "3"


@HYPOTHESIS
@given(st.lists(st.integers(min_value=0, max_value=len(SSE_STREAM)), max_size=20))
def test_sse_any_split_yields_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [SSE_STREAM[a:b] for a, b in zip([0, *points], [*points, len(SSE_STREAM)], strict=True)]
    assert _events(chunks) == EXPECTED


@HYPOTHESIS
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\r\n", codec="utf-8"), max_size=20), max_size=6
    ),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.data(),
)
def test_sse_generated_streams_any_split(lines: list[str], newline: bytes, data: st.DataObject) -> None:
    stream = b"".join(b"data: " + line.encode() + newline + newline for line in lines)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    points = sorted(set(cuts))
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    # Only the one space after "data:" is eaten; an empty line is a keep-alive (empty data).
    expected = lines
    assert [e.data for e in _events(chunks)] == expected
    assert [e.data for e in SSEParser().feed(b"data:  x\n\n")] == [" x"]


def test_parse_log_event() -> None:
    line = parse_log_event(SSEEvent('{"data": "hello\\n", "timestamp": "2025-01-01T00:00:01.500Z"}'))
    assert line == LogLine("hello\n", datetime(2025, 1, 1, 0, 0, 1, 500000, tzinfo=timezone.utc))
    assert parse_log_event(SSEEvent("")) is None
    assert parse_log_event(SSEEvent("  ")) is None
    assert parse_log_event(SSEEvent("not json")) == LogLine("not json")
    assert parse_log_event(SSEEvent("[1, 2]")) == LogLine("[1, 2]")
    assert parse_log_event(SSEEvent('{"data": "x", "timestamp": "nope"}')) == LogLine("x")


def test_log_event_round_trip() -> None:
    line = LogLine("built ✓", datetime(2025, 1, 1, 12, 0, 0, 250000, tzinfo=timezone.utc))
    assert line.timestamp is not None
    events = SSEParser().feed(encode.log_event(line.text, line.timestamp) + encode.KEEP_ALIVE)
    assert [parse_log_event(e) for e in events] == [line, None]

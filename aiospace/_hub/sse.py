"""Server-sent events: an incremental, bounded parser and the Hub's log lines."""

from __future__ import annotations

from datetime import datetime

import attrs

from .answers import decode_json
from .convert import parse_datetime


@attrs.frozen
class SSEEvent:
    """One Server-Sent Event. ``data == ""`` is a keep-alive.

    ``id`` is the stream's last event id (it carries over to the events that set none).
    """

    data: str
    event: str | None = None
    id: str | None = None


class SSELineTooLong(ValueError):
    """A line, or an event's data, went past the parser's limit."""


#: The default limit of one SSE line (and of one event's data), in bytes.
MAX_SSE_LINE = 1024 * 1024


class SSEParser:
    """An incremental ``text/event-stream`` parser: feed bytes, get whole events.

    A stream cut mid-event leaves the partial event unreported. A line, or an event's
    data, longer than ``max_line`` bytes raises :class:`SSELineTooLong`: a stream that
    never sends a newline can't grow memory. Every byte is scanned a bounded number
    of times (no rescanning of a growing buffer).
    """

    def __init__(self, max_line: int = MAX_SSE_LINE) -> None:
        self.max_line = max_line
        #: The start of a line not ended yet, in pieces (joined once its end comes).
        self._partial: list[bytes] = []
        self._partial_size = 0
        self._data: list[str] = []
        self._data_size = 0
        self._event: str | None = None
        self._id: str | None = None
        self._has_field = False
        #: The last line ended with a '\r' at the end of a chunk: a '\n' next belongs to it.
        self._skip_lf = False
        #: No line read yet: a byte order mark starting the stream is dropped (as the spec says).
        self._first_line = True

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return every event they complete."""
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return []
        if b"\n" not in chunk and b"\r" not in chunk:
            self._partial.append(chunk)
            self._partial_size += len(chunk)
            if self._partial_size > self.max_line:
                raise SSELineTooLong(f"an SSE line longer than {self.max_line} bytes")
            return []
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial, self._partial_size = [], 0
        lines = chunk.splitlines(keepends=True)  # bytes split on \r, \n and \r\n only
        last = lines[-1]
        if not last.endswith((b"\n", b"\r")):
            lines.pop()
            self._partial, self._partial_size = [last], len(last)
        else:
            # A '\r' ending the chunk ends its line now (no waiting for more bytes).
            self._skip_lf = last.endswith(b"\r")
        events: list[SSEEvent] = []
        for raw in lines:
            line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
            if len(line) > self.max_line:
                raise SSELineTooLong(f"an SSE line longer than {self.max_line} bytes")
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        if self._partial_size > self.max_line:
            raise SSELineTooLong(f"an SSE line longer than {self.max_line} bytes")
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if self._first_line:
            self._first_line = False
            if line.startswith("\ufeff"):
                line = line[1:]
        if line == "":
            if not self._has_field:
                return None
            event = SSEEvent("\n".join(self._data), self._event, self._id)
            self._data, self._data_size, self._event, self._has_field = [], 0, None, False
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data_size += len(value) + 1
            if self._data_size > self.max_line:
                raise SSELineTooLong(f"an SSE event's data longer than {self.max_line} bytes")
            self._data.append(value)
            self._has_field = True
        elif field == "event":
            self._event = value
            self._has_field = True
        elif field == "id" and "\0" not in value:  # the spec ignores an id holding NUL
            self._id = value
        return None

    @property
    def pending(self) -> bool:
        """True when a partial event or line is buffered (the stream ended mid-event)."""
        return bool(self._partial) or self._has_field


@attrs.frozen
class LogLine:
    """One line of a Space's build or run log."""

    text: str
    timestamp: datetime | None = None


def parse_log_event(event: SSEEvent) -> LogLine | None:
    """A log line from ``data: {"data": "<line>", "timestamp": "<iso>"}``; None for a keep-alive.

    Anything else is a line of its own text (never an error).
    """
    if not event.data.strip():
        return None
    try:
        payload = decode_json(event.data)
    except (ValueError, RecursionError):
        return LogLine(event.data)
    if not isinstance(payload, dict):
        return LogLine(event.data)
    text = payload.get("data", "")
    if not isinstance(text, str):
        return LogLine(event.data)
    try:
        stamp = parse_datetime(payload.get("timestamp"))
    except (TypeError, ValueError):
        stamp = None
    return LogLine(text, stamp)

"""A Space's build or run log, read as server-sent events: bounded, resumed where it left off."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import re
from collections import Counter
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta

import aiohttp
import anyio

from .._clock import Clock
from .._hub import requests
from .._hub.answers import bad_answer, error_for
from .._hub.requests import Request
from .._hub.sse import LogLine, SSELineTooLong, SSEParser, parse_log_event
from .._hub.validate import check_count, check_flag
from ..errors import (
    AiospaceError,
    BadAnswerError,
    InvalidArgumentError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from .transport import Transport

__all__ = ["HubSince", "read_logs"]


class HubSince(timedelta):
    """A ``since`` back from the Hub's now that keeps the cutoff its first read took, so that a
    second read with it (``aiospace logs -n N -f``) skips the same lines."""

    #: The cutoff, once a read has taken it from its answer's ``Date``.
    cutoff: datetime | None = None


#: How far the Hub's ``Date`` (whole seconds) may trail its now: within it, the client's own
#: clock agrees with the Hub's, and is the more precise of the two.
_DATE_RESOLUTION = timedelta(seconds=1)

#: A Last-Event-ID the client sends back: visible ASCII, not too long.
_SAFE_EVENT_ID = re.compile(r"[\x21-\x7e]{1,256}")


async def read_logs(
    transport: Transport,
    repo_id: str,
    *,
    build: bool,
    follow: bool,
    max_reconnects: int,
    since: datetime | timedelta | None,
    idle_timeout: float,
    read_timeout: float,
    max_line: int,
) -> AsyncGenerator[str, None]:
    """The lines of the Space's run log (build log with ``build``), for
    :meth:`aiospace.SpaceClient.fetch_space_logs`. The arguments are checked when the iteration starts.

    Without ``follow``, yields what is logged so far and stops (within ``read_timeout`` seconds, else
    :class:`~aiospace.errors.RequestTimeoutError`). With ``follow``, keeps reading while the Space
    runs, reconnecting (up to ``max_reconnects`` times in a row) when the stream is cut; it ends when
    the Hub closes it. A reconnection resumes where the last line left off: after its event id
    (``Last-Event-ID``) when the Hub sends ids, else after its (timestamp, text), else by counting
    lines. A line longer than ``max_line`` bytes is a :class:`~aiospace.errors.BadAnswerError`.
    Leaving the loop early closes the connection (with ``aclose()``, or when the generator is collected).
    ``since`` (an aware datetime, or a timedelta back from the Hub's now) skips the lines stamped
    earlier; a line without a timestamp is always yielded. The Hub's now is the ``Date`` of the
    log's own answer (the client's clock may be off, or an emulator's run faster), or the
    client's clock where the two agree to the ``Date``'s second, or when there is none.
    """
    request = requests.fetch_space_logs(repo_id, build)
    check_flag(follow, "follow")
    check_count(max_reconnects, "max_reconnects")
    cutoff = _log_cutoff(since)
    read = _LogRead(transport, request, follow, cutoff, idle_timeout, read_timeout, max_line)
    while True:
        error: AiospaceError
        response: aiohttp.ClientResponse | None = None
        try:
            response = await read.connect()
            while (chunk := await read.chunk(response)) is not None:
                texts, done = read.feed(chunk)
                for text in texts:
                    yield text
                if done:
                    return
            if not (follow and read.parser.pending):
                return
            error = TransportError(
                "log stream cut mid-event", repo_id=repo_id, method=request.method, path=request.path
            )
        except SSELineTooLong:
            error = read.line_too_long(response)
        # Before the next clause: a RequestTimeoutError is a TimeoutError too.
        except (TransportError, ServerError, RateLimitedError) as exc:
            error = exc
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = transport.transport_error(request, exc)
        finally:
            if response is not None:
                transport.close_stream(response)
        read.failures += 1
        # Raised out of the except clauses: no aiohttp exception rides along as __context__.
        if not follow or read.failures > max_reconnects or isinstance(error, BadAnswerError):
            raise error
        # A 429 or 503 is waited out as a read's would be; the stream then resumes where it left off.
        delay = transport.retry_delay(error, read.failures - 1)
        if delay is None:
            raise error
        await transport.clock.sleep(delay)


class _LogRead:
    """One log read: its connections, the lines delivered so far, its limits."""

    __slots__ = (
        "cursor",
        "cutoff",
        "deadline",
        "failures",
        "follow",
        "loop",
        "max_line",
        "parser",
        "read_timeout",
        "replay",
        "request",
        "stream_timeout",
        "transport",
    )

    def __init__(
        self,
        transport: Transport,
        request: Request,
        follow: bool,
        cutoff: datetime | timedelta | None,
        idle_timeout: float,
        read_timeout: float,
        max_line: int,
    ) -> None:
        self.transport = transport
        self.request = request
        self.follow = follow
        #: A timedelta until the first answer's ``Date`` says when the Hub's now is.
        self.cutoff = cutoff
        self.read_timeout = read_timeout
        self.max_line = max_line
        self.loop = asyncio.get_running_loop()
        self.deadline = None if follow else self.loop.time() + read_timeout
        # The body of a followed log may go on for ever; a non-followed read ends at a silence.
        self.stream_timeout = aiohttp.ClientTimeout(
            total=None, connect=transport.timeout, sock_read=None if follow else idle_timeout
        )
        self.cursor = _LogCursor()
        self.failures = 0  # failed connections since the last line delivered
        self.parser = SSEParser(max_line)
        self.replay = self.cursor.replay()

    async def connect(self) -> aiohttp.ClientResponse:
        """A new connection whose body is the event stream, resumed after the last line delivered.

        Its head must come within the request timeout and the read's deadline (the stream's own
        timeouts spare the body, which may go on for ever). An error answer raises its typed error.
        """
        transport, request = self.transport, self.request
        head_timeout = transport.timeout
        left = math.inf if self.deadline is None else max(0.0, self.deadline - self.loop.time())
        if left < head_timeout:
            head_timeout = left
        response = None
        with anyio.move_on_after(head_timeout):
            response = await transport.open_stream(request, self.stream_timeout, self.cursor.resume_headers())
        if response is None:
            if head_timeout == left:
                raise self._too_long()
            raise transport.transport_error(request, asyncio.TimeoutError())
        if response.status >= 400:
            try:
                body = await transport.read_body(request, response)
            finally:
                transport.close_stream(response)
            raise error_for(request, response.status, response.headers, body, transport.redact)
        if isinstance(self.cutoff, timedelta):
            self.cutoff = _hub_cutoff(self.cutoff, response.headers.get("Date"), transport.clock)
        self.parser = SSEParser(self.max_line)
        self.replay = self.cursor.replay()
        return response

    async def chunk(self, response: aiohttp.ClientResponse) -> bytes | None:
        """The next bytes of the stream; None at its end, or after a silence when not following."""
        try:
            chunk = await response.content.readany()
        except asyncio.TimeoutError:
            if self.follow:
                raise
            return None  # not following: silence means the backlog is over
        if not chunk:
            return None
        if self.deadline is not None and self.loop.time() > self.deadline:
            raise self._too_long()
        return chunk

    def feed(self, chunk: bytes) -> tuple[list[str], bool]:
        """The texts of the new lines in ``chunk`` to yield, and whether the read is over (a
        keep-alive when not following: the backlog is over)."""
        texts: list[str] = []
        cutoff = self.cutoff
        assert not isinstance(cutoff, timedelta)  # taken at connect, before any chunk
        for event in self.parser.feed(chunk):
            line = parse_log_event(event)
            if line is None:
                if not self.follow:
                    return texts, True
                continue
            if self.replay.seen(line):
                continue
            self.cursor.delivered(event.id, line)  # skipped by since: delivered all the same
            self.failures = 0
            if cutoff is None or line.timestamp is None or line.timestamp >= cutoff:
                texts.append(line.text)
        return texts, False

    def line_too_long(self, response: aiohttp.ClientResponse | None) -> BadAnswerError:
        """The error for a line over ``max_line`` bytes."""
        return bad_answer(
            self.request,
            f"a log line over the limit of {self.max_line} bytes",
            "line-too-long",
            None if response is None else response.status,
            None if response is None else response.headers,
            self.transport.redact,
        )

    def _too_long(self) -> RequestTimeoutError:
        request = self.request
        return RequestTimeoutError(
            f"the log read took longer than {self.read_timeout:g}s",
            repo_id=request.repo_id,
            method=request.method,
            path=request.path,
        )


def _log_cutoff(since: object) -> datetime | timedelta | None:
    """The earliest timestamp a read with ``since`` yields (None: every line; a timedelta: that
    far back from the Hub's now, known at the first answer)."""
    if since is None:
        return None
    if isinstance(since, timedelta):
        if since < timedelta(0):
            raise InvalidArgumentError("since", "a timedelta must be >= 0 (how far back)")
        if isinstance(since, HubSince) and since.cutoff is not None:
            return since.cutoff
        return since
    if isinstance(since, datetime):
        if since.utcoffset() is None:  # no tzinfo, or one that gives no offset: naive all the same
            raise InvalidArgumentError("since", "a datetime must be aware (give its tzinfo, e.g. UTC)")
        return since
    raise InvalidArgumentError("since", f"expected a datetime or a timedelta, got {type(since).__name__}")


def _hub_cutoff(since: timedelta, date: str | None, clock: Clock) -> datetime:
    """``since`` back from the Hub's now: the answer's ``Date``, or the client's clock where the
    two agree (``Date`` has whole seconds) or there is no readable ``Date``."""
    now = clock.wall()
    hub_now = None
    if date is not None:
        with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
            hub_now = email.utils.parsedate_to_datetime(date[:100])
    agree = hub_now is None or hub_now.utcoffset() is None or hub_now <= now < hub_now + _DATE_RESOLUTION
    if not agree:
        now = hub_now  # type: ignore[assignment]
    cutoff = now - since
    if isinstance(since, HubSince):
        since.cutoff = cutoff
    return cutoff


class _Replay:
    """Which lines of a reconnected stream were delivered already (see :class:`_LogCursor`)."""

    __slots__ = ("_by_count", "_cursor", "_index", "_skipping", "_stamp_texts")

    def __init__(self, cursor: _LogCursor) -> None:
        self._cursor = cursor
        self._index = 0
        self._skipping = True
        self._stamp_texts = Counter(cursor.stamp_texts)
        self._by_count = cursor.last_id is None and cursor.stamp is None

    def seen(self, line: LogLine) -> bool:
        """True if ``line`` (the next one of this connection) was delivered before."""
        cursor = self._cursor
        self._index += 1
        if cursor.last_id is not None:
            # The Hub resumed after Last-Event-ID: everything it sends is new (even lines
            # with lower ids: the log was replaced, by a new build, since).
            return False
        if self._by_count:
            return self._index <= cursor.count
        if not self._skipping:
            return False
        stamp = line.timestamp
        if stamp is not None and cursor.stamp is not None:
            if _before(stamp, cursor.stamp):
                return True
            if stamp == cursor.stamp and self._stamp_texts[line.text] > 0:
                self._stamp_texts[line.text] -= 1
                return True
        self._skipping = False  # past the watermark: everything from here on is new
        return False


def _before(a: datetime, b: datetime) -> bool:
    try:
        return a < b
    except TypeError:  # one naive, one aware: can't tell
        return False


class _LogCursor:
    """Where a log read is: the last event id, the (timestamp, text) watermark, the count."""

    __slots__ = ("count", "last_id", "stamp", "stamp_texts")

    def __init__(self) -> None:
        self.count = 0
        self.last_id: str | None = None
        self.stamp: datetime | None = None
        #: The texts delivered at ``stamp`` (several lines may share a timestamp).
        self.stamp_texts: Counter[str] = Counter()

    def resume_headers(self) -> dict[str, str] | None:
        """``Last-Event-ID`` once the Hub sent an id."""
        return None if self.last_id is None else {"Last-Event-ID": self.last_id}

    def replay(self) -> _Replay:
        """The skip rule for a new connection."""
        return _Replay(self)

    def delivered(self, event_id: str | None, line: LogLine) -> None:
        """``line`` was yielded to the caller."""
        self.count += 1
        if event_id is not None and _SAFE_EVENT_ID.fullmatch(event_id):
            self.last_id = event_id
        if line.timestamp is not None:
            if line.timestamp != self.stamp:
                self.stamp = line.timestamp
                self.stamp_texts.clear()
            self.stamp_texts[line.text] += 1

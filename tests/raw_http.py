"""Raw HTTP/1.1 on loopback, for the tests that attack the emulator: bytes as sent, bytes as answered.

aiohttp's client would refuse, fix or hide most of what those tests send (a control character
in the path, a body that is not its ``Content-Encoding``, a request line that is not ASCII),
and would parse an answer leniently: here a request is the bytes given, and an answer is read
whole off the socket (:class:`Dropped` if the server cut it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from aiospace.emulator import Emulator


@attrs.frozen
class Answer:
    """One HTTP answer as read off the socket."""

    status: int
    headers: dict[str, str]  # lowercased names
    body: bytes

    def json(self) -> Any:
        """The body as strict JSON (``NaN`` / ``Infinity`` are not JSON)."""
        return json.loads(self.body, parse_constant=_not_json)


class Dropped(AssertionError):
    """The connection ended before a whole answer."""


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def request_bytes(
    method: str,
    target: bytes | str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A raw HTTP/1.1 request (``target`` sent as is, whatever it holds)."""
    raw_target = target.encode() if isinstance(target, str) else target
    lines = [b"%s %s HTTP/1.1" % (method.encode(), raw_target), b"Host: 127.0.0.1", b"Connection: close"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}".encode("latin-1"))
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def parse_answer(data: bytes, method: str = "GET") -> Answer:
    """Parse a whole answer (the server closed the connection after it); ``Dropped`` if cut."""
    head, found, rest = data.partition(b"\r\n\r\n")
    if not found:
        raise Dropped(f"no whole status line and headers: {data[:200]!r}")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if method == "HEAD" or status in (204, 304):
        return Answer(status, headers, b"")
    if "content-length" in headers:
        size = int(headers["content-length"])
        if len(rest) < size:
            raise Dropped(f"{len(rest)} of {size} body bytes: {rest[:200]!r}")
        return Answer(status, headers, rest[:size])
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return Answer(status, headers, _dechunk(rest))
    return Answer(status, headers, rest)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, found, data = data.partition(b"\r\n")
        if not found:
            raise Dropped("a chunked body cut mid-chunk")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        if len(data) < size + 2:
            raise Dropped("a chunked body cut mid-chunk")
        out += data[:size]
        data = data[size + 2 :]


async def exchange(port: int, raw: bytes, method: str = "GET") -> Answer:
    """Send ``raw`` on a fresh connection and read the whole answer (the server closes it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return parse_answer(data, method)


def blocking_exchange(port: int, raw: bytes, method: str = "GET") -> Answer:
    """:func:`exchange` from a thread that is not the emulator's (an SSE stream: its headers only)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            head, found, body = data.partition(b"\r\n\r\n")
            if found and b"content-type: text/event-stream" in head.lower():
                return parse_answer(head + b"\r\n\r\n", "HEAD")
            if found and _whole(head, body, method):
                # The whole answer came: don't wait for the close (a request that announced a
                # chunked body it never sent keeps the connection lingering ~10 s after it).
                return parse_answer(data, method)
    return parse_answer(data, method)


def _whole(head: bytes, body: bytes, method: str) -> bool:
    """The answer (status line and headers ``head``, then ``body``) is complete."""
    lines = head.decode("latin-1").lower().split("\r\n")
    status = lines[0].split(" ", 2)[1] if len(lines[0].split(" ", 2)) > 1 else ""
    if method == "HEAD" or status in ("204", "304"):
        return True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip() == "content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False


def assert_json_error(answer: Answer, status: int | None = None) -> dict[str, Any]:
    """A 4xx whose body is a JSON object with an ``error`` string (and that status, if given)."""
    if status is not None:
        assert answer.status == status, (answer.status, answer.body[:300])
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
    body = answer.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    return body


@contextlib.contextmanager
def emulator_in_a_thread(**options: Any) -> Iterator[Emulator]:
    """An emulator serving from its own thread and loop, for a synchronous (hypothesis) test."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with Emulator(**options) as hub:
            box["hub"], box["stop"], box["loop"] = hub, asyncio.Event(), asyncio.get_running_loop()
            ready.set()
            await box["stop"].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the emulator did not start"
    try:
        yield box["hub"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


def admin_headers(hub: Emulator) -> dict[str, str]:
    """The emulator's admin ``Authorization`` header, as a plain dict."""
    return dict(hub.admin_headers)


def server_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The records at ERROR or above: what the server logged as its own failure."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]

"""A hostile Hub: a scripted aiohttp server on 127.0.0.1 that answers as badly as it can.

Independent of the emulator (which tries to be the Hub): this server plays, on demand,
each way an answer can go wrong -- odd types and numbers, JSON nested 100,000 deep,
bodies of 100 MB or without end, event streams without a newline, redirect and paging
loops, naive ``Retry-After`` dates, malformed HTTP, and error messages that echo the
request's ``Authorization`` header and body back. It counts what it received and what
it managed to send, so a test can tell that the client stopped reading in time.

Use it as an async context manager, queue plays per route with :meth:`HostileHub.play`
(the last one queued repeats), then point a client at :attr:`HostileHub.url` (the
``hostile``, ``hostile_client`` and ``default_client`` fixtures of conftest.py do).

Beside it, what the tests marked ``hostile`` check with: :func:`assert_clean` (no token or
secret value in any object reachable from an error, no aiohttp error kept),
:func:`assert_nothing_open` (no connection left checked out), :func:`eventually`, and the
token, secret and Space every case uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

import aiohttp
import anyio
import attrs
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict, CIMultiDictProxy

from aiospace import Cadence, RetryPolicy, ScaledClock, SpaceClient

Play = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Chunk size of the big bodies the server writes.
CHUNK = 64 * 1024


@attrs.frozen
class Seen:
    """One request the hostile Hub received."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: CIMultiDictProxy[str]
    body: bytes


#: A settled Space's runtime, as the Hub answers it.
RUNNING = {"stage": "RUNNING", "hardware": {"current": "cpu-basic", "requested": "cpu-basic"}}
#: A cadence for hostile-Hub tests (on a 1,000x clock: a Hub second is a millisecond).
QUICK = Cadence(fast=1.0, slow=2.0, error_max=2.0, after_write=0.0)


def runtime_path(repo_id: str) -> str:
    """The path of a Space's runtime."""
    return f"/api/spaces/{repo_id}/runtime"


async def watch_until_each_is_seen(
    client: SpaceClient,
    names: list[str],
    *,
    cadence: Cadence = QUICK,
    then: float = 0.0,
    timeout: float = 10.0,
) -> None:
    """A ``Watcher`` over ``names`` until each was reported once, then ``then`` more real seconds."""
    seen: set[str] = set()
    with anyio.fail_after(timeout):
        async with client.watcher(cadence=cadence) as watcher:
            watcher.add(*names)
            async for transition in watcher:
                seen.add(transition.repo_id)
                if seen == set(names):
                    break
            await anyio.sleep(then)


def deep_json(depth: int) -> bytes:
    """A JSON array nested ``depth`` deep (``[[[...]]]``)."""
    return b"[" * depth + b"]" * depth


class HostileHub:
    """The scripted server; see the module docstring."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        #: Body bytes the plays that count (:meth:`big`, :meth:`endless_sse`) got onto the socket.
        self.sent = 0
        #: Plays whose client went away before the end of the body.
        self.abandoned = 0
        #: Set at teardown: frees plays that wait on it.
        self.release = asyncio.Event()
        self._plays: dict[tuple[str, str], list[Play]] = {}
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.server = TestServer(app, host="127.0.0.1")

    async def __aenter__(self) -> HostileHub:
        await self.server.start_server()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release.set()
        await self.server.close()

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``)."""
        return str(self.server.make_url("")).rstrip("/")

    def count(self, path: str) -> int:
        """How many requests came for ``path``."""
        return sum(1 for r in self.requests if r.path == path)

    def play(self, method: str, path: str, *plays: Play, times: int = 1) -> None:
        """Queue ``plays`` (each ``times`` times) for ``method path``; the last one repeats."""
        queue = self._plays.setdefault((method.upper(), path), [])
        for play in plays:
            queue.extend([play] * times)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Seen(
                request.method,
                request.path,
                tuple(request.query.items()),
                CIMultiDictProxy(CIMultiDict(request.headers)),
                body,
            )
        )
        queue = self._plays.get((request.method, request.path))
        if not queue:
            return web.json_response({"error": "Repository not found"}, status=404)
        play = queue.pop(0) if len(queue) > 1 else queue[0]
        return await play(request)

    # ------------------------------------------------------------------ plays

    @staticmethod
    def json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Play:
        """A JSON answer (``allow_nan``: ``NaN`` and ``Infinity`` go out as Python writes them)."""
        return HostileHub.raw_body(json.dumps(data).encode(), status, headers)

    @staticmethod
    def raw_body(
        body: bytes,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Play:
        """Exactly these bytes as the body."""

        async def play(_: web.Request) -> web.StreamResponse:
            return web.Response(status=status, body=body, headers=headers, content_type=content_type)

        return play

    def big(self, size: int | None, *, status: int = 200, announce: bool = True) -> Play:
        """A body of ``size`` bytes of JSON-looking filler (None: without end, chunked).

        With ``announce`` the size goes out as Content-Length, else the body is chunked.
        Counts in :attr:`sent` what went onto the socket before the client went away.
        """

        async def play(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
            if size is not None and announce:
                response.content_length = size
            else:
                response.enable_chunked_encoding()
            await response.prepare(request)
            filler = b'{"x": "' + b"a" * (CHUNK - 16) + b'"}, '
            left = size

            def pieces() -> Iterator[bytes]:
                nonlocal left
                while left is None or left > 0:
                    piece = filler if left is None else filler[:left]
                    if left is not None:
                        left -= len(piece)
                    yield piece

            await self._pour(response, pieces())
            return response

        return play

    @staticmethod
    def sse(*parts: bytes, hold: asyncio.Event | None = None, cut: bool = False) -> Play:
        """An event stream: ``parts`` one by one, then cut, hold open until ``hold``, or close."""

        async def play(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            try:
                for part in parts:
                    await response.write(part)
                if cut:
                    assert request.transport is not None
                    request.transport.abort()
                    raise asyncio.CancelledError
                if hold is not None:
                    await hold.wait()
                await response.write_eof()
            except (ConnectionError, RuntimeError):
                pass
            return response

        return play

    def endless_sse(self, piece: bytes) -> Play:
        """An event stream that writes ``piece`` again and again until the client leaves."""

        async def play(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await self._pour(response, itertools.repeat(piece))
            return response

        return play

    async def _pour(self, response: web.StreamResponse, pieces: Iterable[bytes]) -> None:
        """Write ``pieces`` (then end the body) until they run out, the client leaves or the
        server closes; count in :attr:`sent` what went out and in :attr:`abandoned` a client
        that went away first."""
        try:
            for piece in pieces:
                if self.release.is_set():
                    return
                await response.write(piece)
                self.sent += len(piece)
                await asyncio.sleep(0)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            self.abandoned += 1
        except asyncio.CancelledError:  # aiohttp cancels a handler whose client left
            self.abandoned += 1
            raise

    @staticmethod
    def redirect(location: str, status: int = 302) -> Play:
        """A redirect to ``location``."""
        return HostileHub.raw_body(b"", status, {"Location": location})

    @staticmethod
    def echo(status: int = 400) -> Play:
        """An error that echoes the request back: its Authorization header and body, in the
        message header, the request id, the error code and the JSON body (as a non-string error)."""

        async def play(request: web.Request) -> web.StreamResponse:
            auth = request.headers.get("Authorization", "")
            body = (await request.read()).decode("utf-8", "replace")
            headers = {
                "X-Error-Message": f"refused {auth} with {body}",
                "X-Request-Id": f"req {auth}",
                "X-Error-Code": auth,
            }
            try:
                echoed: Any = json.loads(body)
            except ValueError:
                echoed = body
            return web.json_response(
                {"error": {"auth": auth, "request": echoed, "text": body}}, status=status, headers=headers
            )

        return play

    @staticmethod
    def echo_text(status: int = 500) -> Play:
        """An error whose plain-text body is the request's headers and body, as a proxy might send."""

        async def play(request: web.Request) -> web.StreamResponse:
            lines = [f"{k}: {v}" for k, v in request.headers.items()]
            text = "\n".join([*lines, "", (await request.read()).decode("utf-8", "replace")])
            return web.Response(status=status, text=text)

        return play

    @staticmethod
    def malformed_http(template: bytes) -> Play:
        """Raw bytes instead of an HTTP answer; ``{auth}`` in ``template`` becomes the
        request's Authorization header (a status line that echoes the token)."""

        async def play(request: web.Request) -> web.StreamResponse:
            auth = request.headers.get("Authorization", "").encode()
            assert request.transport is not None
            request.transport.write(template.replace(b"{auth}", auth))
            with contextlib.suppress(Exception):
                request.transport.close()
            raise asyncio.CancelledError

        return play


# --------------------------------------------------------------------------- what the checks look at

#: The token of every client on the hostile Hub, and a secret value: neither may ever show.
TOKEN = "hf_H0stileTokenThatMustNeverShow42"
SECRET = "s3cret-VALUE-that-must-never-show"
NEEDLES = (TOKEN, SECRET)
#: The Space every case asks about, and the path of its calls.
REPO = "user/app"
BASE = f"/api/spaces/{REPO}"
MiB = 1024 * 1024
#: A path on the hostile Hub itself, where a redirect or a next page may point.
OTHER = "/elsewhere"
#: Where no client may be sent (``{here}`` is the hostile Hub's own ``host:port``: see :func:`at_hub`).
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


def at_hub(template: str, hostile: HostileHub) -> str:
    """``template`` with ``{here}`` replaced by the hostile Hub's ``host:port``."""
    return template.replace("{here}", hostile.url.split("//", 1)[1])


def endless_pages(hostile: HostileHub, items: list[dict[str, Any]]) -> None:
    """``/api/spaces`` answers ``items`` and a next page never seen before, for ever."""
    numbers = itertools.count()

    async def play(_: web.Request) -> web.StreamResponse:
        link = f'<{hostile.url}/api/spaces?cursor={next(numbers)}>; rel="next"'
        return await HostileHub.json(items, headers={"Link": link})(_)

    hostile.play("GET", "/api/spaces", play)


def make_client(hostile: HostileHub, **kwargs: Any) -> SpaceClient:
    """A client on a clock 1,000 times faster than real time (a Hub second is a millisecond)."""
    kwargs.setdefault("retry", RetryPolicy(read_attempts=2, write_attempts=2, base_delay=0.01))
    return SpaceClient(endpoint=hostile.url, token=TOKEN, clock=ScaledClock(1000), seed=1, **kwargs)


def reachable(root: object) -> Iterator[object]:
    """Every object reachable from ``root`` through attributes, containers, args and the
    ``__context__`` / ``__cause__`` chain (not through tracebacks: frames are out of scope)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, (str, bytes, bytearray, int, float, bool, type)):
            continue
        if isinstance(obj, BaseException):
            stack += [obj.__context__, obj.__cause__, *obj.args]
            stack += getattr(obj, "exceptions", ())
        if isinstance(obj, Mapping):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack += list(obj)
        if attrs.has(type(obj)):
            stack += [getattr(obj, f.name, None) for f in attrs.fields(type(obj))]
        if hasattr(obj, "__dict__") and not isinstance(obj, type):
            stack += list(vars(obj).values())
        for slot in getattr(type(obj), "__slots__", ()):
            stack.append(getattr(obj, slot, None))


def assert_clean(error: BaseException, needles: tuple[str, ...] = NEEDLES) -> None:
    """No needle in the error's text, nor in any object reachable from it; no aiohttp error kept."""
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    for obj in reachable(error):
        assert not isinstance(obj, aiohttp.ClientError), f"{type(error).__name__} keeps {obj!r}"
        if isinstance(obj, (bytes, bytearray)):
            texts.append(bytes(obj).decode("utf-8", "replace"))
        elif isinstance(obj, str):
            texts.append(obj)
        else:
            texts.append(repr(obj))
    for text in texts:
        for needle in needles:
            assert needle not in text, f"{needle[:8]}... shows in {text[:200]!r}"


def assert_nothing_open(client: SpaceClient) -> None:
    """No connection checked out of the client's pool, and no stream left in it."""
    session = client._transport._session
    if session is None:
        return
    connector = session.connector
    assert connector is not None
    assert not connector._acquired, "a connection is still checked out"


def log_event(text: str, *, stamp: str = "2025-01-01T00:00:00.000Z", event_id: int | None = None) -> bytes:
    """One log line as the Hub's event stream sends it (``id:`` first if ``event_id`` is given)."""
    head = b"" if event_id is None else f"id: {event_id}\n".encode()
    return head + b"data: " + json.dumps({"data": text, "timestamp": stamp}).encode() + b"\n\n"


async def eventually(check: Any, seconds: float = 5.0) -> None:
    """Wait (a few real seconds at most) until ``check()`` holds: the server side settles on its own."""
    with anyio.fail_after(seconds):
        while not check():  # noqa: ASYNC110 (nothing to wait on: the server's handlers end by themselves)
            await asyncio.sleep(0.01)


#: Runtime answers no client can read (non-finite, too deep, the wrong shape, not JSON).
BAD_ANSWERS = [
    HostileHub.raw_body(b'{"stage": "RUNNING", "gcTimeout": 1e999}'),
    HostileHub.raw_body(b'{"stage": "RUNNING", "domains": ' + deep_json(100_000) + b"}"),
    HostileHub.raw_body(b'{"stage": ["RUNNING"]}'),
    HostileHub.raw_body(b"<html>"),
]

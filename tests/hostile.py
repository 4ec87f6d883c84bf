"""A hostile Hub: a scripted aiohttp server on 127.0.0.1 that answers as badly as it can.

Independent of the emulator (which tries to be the Hub): this server plays, on demand,
each way an answer can go wrong -- odd types and numbers, JSON nested 100,000 deep,
bodies of 100 MB or without end, event streams without a newline, redirect and paging
loops, naive ``Retry-After`` dates, malformed HTTP, and error messages that echo the
request's ``Authorization`` header and body back. It counts what it received and what
it managed to send, so a test can tell that the client stopped reading in time.

Use it as an async context manager, queue plays per route with :meth:`HostileHub.play`
(the last one queued repeats), then point a client at :attr:`HostileHub.url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

import anyio
import attrs
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict, CIMultiDictProxy

from aiospace import Cadence, SpaceClient

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

"""Shared fixtures: the recorded Hub samples, a small recording HTTP server on loopback, the hostile
Hub (tests/hostile_hub.py) and clients on it, and a webhook receiver."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hostile_hub import TOKEN, HostileHub, assert_nothing_open, make_client
from multidict import CIMultiDict, CIMultiDictProxy

from aiospace import ScaledClock, SpaceClient

SAMPLES_DIR = Path(__file__).parent / "samples"

# The emulator's fixtures (aiospace_emulator, aiospace_emulator_factory) come from its
# pytest11 entry point once aiospace is installed; from a bare source checkout, load them here.
if not any(ep.value == "aiospace.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11")):
    pytest_plugins = ["aiospace.pytest_plugin"]


def load_samples() -> list[tuple[str, dict[str, Any]]]:
    """Every recorded exchange in ``tests/samples``, as ``(file name, content)``."""
    return [(p.name, json.loads(p.read_text())) for p in sorted(SAMPLES_DIR.glob("*.json"))]


@attrs.frozen
class Recorded:
    """One request the recording server received."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: bytes
    headers: CIMultiDictProxy[str]
    host: str


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RecordingHub:
    """A loopback aiohttp server that records every request and answers canned responses.

    ``answer(method, path, ...)`` queues answers for a route; the last queued answer is
    repeated once the others are used. Unrouted requests get 404 ``RepoNotFound``.
    ``handler`` may be any aiohttp handler (for streams, dropped connections...).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[Recorded] = []
        self.release = asyncio.Event()  # set at teardown: frees handlers that wait on it
        self._answers: dict[tuple[str, str], list[Handler]] = {}
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.server = TestServer(app, host=host)

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``)."""
        return str(self.server.make_url("")).rstrip("/")

    def url_as(self, host: str) -> str:
        """The base URL with another host name for the same socket (e.g. ``localhost``)."""
        return f"http://{host}:{self.server.port}"

    def answer(
        self,
        method: str,
        path: str,
        status: int = 200,
        json_body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        handler: Handler | None = None,
        times: int = 1,
    ) -> None:
        """Queue an answer (``times`` copies) for ``method path``."""
        if handler is None:
            payload = body if body is not None else json.dumps(json_body).encode()

            async def handler(_: web.Request) -> web.StreamResponse:
                return web.Response(
                    status=status, body=payload, headers=headers, content_type="application/json"
                )

        self._answers.setdefault((method.upper(), path), []).extend([handler] * times)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.path,
                query=tuple(request.query.items()),
                body=body,
                headers=CIMultiDictProxy(CIMultiDict(request.headers)),
                host=request.host,
            )
        )
        queue = self._answers.get((request.method, request.path))
        if not queue:
            return web.json_response(
                {"error": "Repository not found"}, status=404, headers={"X-Error-Code": "RepoNotFound"}
            )
        handler = queue.pop(0) if len(queue) > 1 else queue[0]
        return await handler(request)


@pytest.fixture(autouse=True)
def _clean_hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real token, endpoint or token file of the developer's machine takes part in a test."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


@pytest.fixture
async def hostile() -> AsyncIterator[HostileHub]:
    """The scripted hostile Hub of tests/hostile_hub.py, on 127.0.0.1."""
    async with HostileHub() as server:
        yield server


@pytest.fixture
async def hostile_client(hostile: HostileHub) -> AsyncIterator[SpaceClient]:
    """A client on the hostile Hub (:func:`hostile_hub.make_client`: two attempts, a quick backoff,
    Hub time 1,000x), checked at the end for a connection left checked out."""
    async with make_client(hostile) as made:
        yield made
        assert_nothing_open(made)


@pytest.fixture
async def default_client(hostile: HostileHub) -> AsyncIterator[SpaceClient]:
    """A client on the hostile Hub with the default retry policy (Hub time 1,000x)."""
    async with SpaceClient(endpoint=hostile.url, token=TOKEN, clock=ScaledClock(1000), seed=1) as made:
        yield made


@pytest.fixture
async def hub() -> AsyncIterator[RecordingHub]:
    """A recording server on 127.0.0.1 (port chosen by the OS)."""
    server = RecordingHub()
    await server.server.start_server()
    try:
        yield server
    finally:
        server.release.set()
        await server.server.close()


@pytest.fixture
async def other_hub() -> AsyncIterator[RecordingHub]:
    """A second recording server, for cross-origin redirects."""
    server = RecordingHub()
    await server.server.start_server()
    try:
        yield server
    finally:
        server.release.set()
        await server.server.close()


class Receiver:
    """A webhook receiver on loopback: records what is POSTed, and fails on demand.

    ``fail_first(status)`` answers ``status`` to the first attempt of every delivery
    (told apart by ``X-Aiospace-Delivery``); ``fail_next(n, status)`` to the next ``n``
    requests. ``accepted`` holds the JSON bodies answered 200, in arrival order.
    """

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []  # the raw bodies answered 200 (what a signature covers)
        self.attempts: list[tuple[str, int]] = []  # (delivery id, status answered)
        self.headers: list[CIMultiDictProxy[str]] = []
        self.queries: list[str] = []
        self.first_status: int | None = None
        self.next_failures: list[int] = []
        self._seen: set[str] = set()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        """The hook's URL (``http://127.0.0.1:PORT/hook``)."""
        return str(self.server.make_url("/hook"))

    def fail_first(self, status: int = 503) -> None:
        """Answer ``status`` to the first attempt of each delivery."""
        self.first_status = status

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer ``status`` to the next ``count`` requests."""
        self.next_failures.extend([status] * count)

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        delivery = request.headers.get("X-Aiospace-Delivery", "")
        self.headers.append(CIMultiDictProxy(CIMultiDict(request.headers)))
        self.queries.append(request.query_string)
        status = 200
        if self.next_failures:
            status = self.next_failures.pop(0)
        elif self.first_status is not None and delivery not in self._seen:
            status = self.first_status
        self._seen.add(delivery)
        self.attempts.append((delivery, status))
        if status == 200:
            self.accepted.append(json.loads(body))
            self.bodies.append(body)
        return web.json_response({"status": status}, status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (port chosen by the OS)."""
    server = Receiver()
    await server.server.start_server()
    try:
        yield server
    finally:
        await server.server.close()

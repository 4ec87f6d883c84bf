"""Nothing a hostile Hub sends kills a call or a watch, leaks, hangs or shows a secret.

Every case is played by :class:`hostile.HostileHub` (a scripted server, not the emulator)
or injected with ``aioresponses``, and checked for: one typed error (or, inside a watch,
retries and then success once the Hub heals), bounded bytes and requests, nothing left
open, and no token or secret value in any object reachable from the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import traceback
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import aiohttp
import anyio
import attrs
import pytest
from aioresponses import aioresponses
from helpers import client_for
from hostile import QUICK, RUNNING, HostileHub, deep_json, watch_until_each_is_seen
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from aiospace import (
    BadAnswerError,
    BadRequestError,
    Cadence,
    InvalidArgumentError,
    RateLimitedError,
    RequestTimeoutError,
    RetryPolicy,
    ScaledClock,
    ServerError,
    SpaceClient,
    SpaceStage,
    TransportError,
)
from aiospace.emulator import Emulator
from aiospace.emulator.state import LOG_CAPACITY
from aiospace.models import RateLimit

TOKEN = "hf_H0stileTokenThatMustNeverShow42"
SECRET = "s3cret-VALUE-that-must-never-show"
PASSWORD = "pa55word-never-shown"
CANARY = "CANARY-from-the-answer-body"
NEEDLES = (TOKEN, SECRET)
REPO = "user/app"
BASE = f"/api/spaces/{REPO}"
MiB = 1024 * 1024


def make_client(hostile: HostileHub, **kwargs: Any) -> SpaceClient:
    """A client on a clock 1,000 times faster than real time (a Hub second is a millisecond)."""
    kwargs.setdefault("retry", RetryPolicy(read_attempts=2, write_attempts=2, base_delay=0.01))
    return SpaceClient(endpoint=hostile.url, token=TOKEN, clock=ScaledClock(1000), seed=1, **kwargs)


@pytest.fixture
async def client(hostile: HostileHub) -> AsyncIterator[SpaceClient]:
    async with make_client(hostile) as made:
        yield made
        assert_nothing_open(made)


# --------------------------------------------------------------------------- what the checks look at


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
    head = b"" if event_id is None else f"id: {event_id}\n".encode()
    return head + b"data: " + json.dumps({"data": text, "timestamp": stamp}).encode() + b"\n\n"


async def eventually(check: Any, seconds: float = 5.0) -> None:
    """Wait (a few real seconds at most) until ``check()`` holds: the server side settles on its own."""
    with anyio.fail_after(seconds):
        while not check():  # noqa: ASYNC110 (nothing to wait on: the server's handlers end by themselves)
            await asyncio.sleep(0.01)


# --------------------------------------------------------------------------- A: one typed error

# (id, method, path, call, body, reason)
UNREADABLE: list[tuple[str, str, str, Any, bytes, str]] = [
    (
        "runtime-1e999",
        "GET",
        f"{BASE}/runtime",
        "runtime",
        b'{"stage": "RUNNING", "gcTimeout": 1e999}',
        "non-finite",
    ),
    (
        "runtime-nan",
        "GET",
        f"{BASE}/runtime",
        "runtime",
        b'{"stage": "RUNNING", "gcTimeout": NaN}',
        "non-finite",
    ),
    (
        "runtime-infinity",
        "GET",
        f"{BASE}/runtime",
        "runtime",
        b'{"stage": "RUNNING", "x": -Infinity}',
        "non-finite",
    ),
    (
        "runtime-100000-deep",
        "GET",
        f"{BASE}/runtime",
        "runtime",
        b'{"stage": "RUNNING", "domains": ' + deep_json(100_000) + b"}",
        "too-deep",
    ),
    ("runtime-not-json", "GET", f"{BASE}/runtime", "runtime", f"<html>{CANARY}</html>".encode(), "not-json"),
    ("runtime-not-utf8", "GET", f"{BASE}/runtime", "runtime", b'{"stage": "\xff\xfe"}', "not-json"),
    ("runtime-stage-number", "GET", f"{BASE}/runtime", "runtime", b'{"stage": 5}', "shape"),
    ("runtime-no-stage", "GET", f"{BASE}/runtime", "runtime", b'{"hardware": {}}', "shape"),
    ("runtime-array", "GET", f"{BASE}/runtime", "runtime", f'["{CANARY}"]'.encode(), "shape"),
    (
        "runtime-gc-timeout-string",
        "GET",
        f"{BASE}/runtime",
        "runtime",
        f'{{"stage": "RUNNING", "gcTimeout": "{CANARY}"}}'.encode(),
        "shape",
    ),
    (
        "runtime-hardware-list",
        "GET",
        f"{BASE}/runtime",
        "runtime",
        f'{{"stage": "RUNNING", "hardware": ["{CANARY}"]}}'.encode(),
        "shape",
    ),
    (
        "runtime-replicas-string",
        "GET",
        f"{BASE}/runtime",
        "runtime",
        f'{{"stage": "RUNNING", "replicas": {{"requested": "{CANARY}"}}}}'.encode(),
        "shape",
    ),
    ("variables-string", "GET", f"{BASE}/variables", "variables", f'{{"K": "{CANARY}"}}'.encode(), "shape"),
    (
        "variables-bad-date",
        "GET",
        f"{BASE}/variables",
        "variables",
        f'{{"K": {{"value": "v", "updatedAt": "garbage-{CANARY}"}}}}'.encode(),
        "shape",
    ),
    ("variables-value-number", "GET", f"{BASE}/variables", "variables", b'{"K": {"value": 5}}', "shape"),
    ("secrets-number", "GET", f"{BASE}/secrets", "secrets", b'{"K": 5}', "shape"),
    ("secrets-list", "GET", f"{BASE}/secrets", "secrets", f'["{CANARY}"]'.encode(), "shape"),
    ("space-info-id-list", "GET", BASE, "space_info", f'{{"id": ["{CANARY}"]}}'.encode(), "shape"),
    ("listing-id-list", "GET", "/api/spaces", "list_spaces", f'[{{"id": ["{CANARY}"]}}]'.encode(), "shape"),
    ("listing-object", "GET", "/api/spaces", "list_spaces", f'{{"error": "{CANARY}"}}'.encode(), "shape"),
    ("hardware-name-number", "GET", "/api/spaces/hardware", "hardware", b'[{"name": 5}]', "shape"),
    (
        "hardware-cost-string",
        "GET",
        "/api/spaces/hardware",
        "hardware",
        b'[{"name": "cpu-basic", "unitCostUSD": "NaN"}]',
        "shape",
    ),
    (
        "hardware-cost-1e999",
        "GET",
        "/api/spaces/hardware",
        "hardware",
        b'[{"name": "cpu-basic", "unitCostUSD": 1e999}]',
        "non-finite",
    ),
    ("whoami-list", "GET", "/api/whoami-v2", "whoami", f'["{CANARY}"]'.encode(), "shape"),
    ("whoami-no-name", "GET", "/api/whoami-v2", "whoami", f'{{"type": "{CANARY}"}}'.encode(), "shape"),
    ("duplicate-url-number", "POST", f"{BASE}/duplicate", "duplicate", b'{"url": 5}', "shape"),
    ("variable-write-deep", "POST", f"{BASE}/variables", "add_variable", deep_json(100_000), "too-deep"),
]


async def _call(client: SpaceClient, name: str) -> Any:
    calls = {
        "runtime": lambda: client.get_space_runtime(REPO),
        "variables": lambda: client.get_space_variables(REPO),
        "secrets": lambda: client.get_space_secrets(REPO),
        "space_info": lambda: client.space_info(REPO),
        "list_spaces": lambda: _collect(client.list_spaces()),
        "hardware": lambda: client.list_spaces_hardware(),
        "whoami": lambda: client.whoami(),
        "duplicate": lambda: client.duplicate_space(REPO, "me/copy"),
        "add_variable": lambda: client.add_space_variable(REPO, "K", "v"),
    }
    return await calls[name]()


async def _collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


@pytest.mark.parametrize(
    ("method", "path", "call", "body", "reason"), [c[1:] for c in UNREADABLE], ids=[c[0] for c in UNREADABLE]
)
async def test_an_unreadable_answer_is_one_typed_error(
    hostile: HostileHub, client: SpaceClient, method: str, path: str, call: str, body: bytes, reason: str
) -> None:
    hostile.play(method, path, HostileHub.raw_body(body, headers={"X-Request-Id": "req-7"}))
    with pytest.raises(BadAnswerError) as info:
        await _call(client, call)
    error = info.value
    assert type(error) is BadAnswerError and isinstance(error, TransportError)
    assert error.reason == reason
    assert (error.status, error.request_id, error.method, error.path) == (200, "req-7", method, path)
    if path.startswith(BASE):
        assert error.repo_id == REPO
    assert_clean(error, (*NEEDLES, CANARY))  # the body is never quoted
    # Garbled bytes may read fine next time (a read is retried); anything else would not.
    expected = 2 if reason == "not-json" and method == "GET" else 1
    assert hostile.count(path) == expected


async def test_a_naive_retry_after_date_is_read_as_utc(hostile: HostileHub, client: SpaceClient) -> None:
    naive = {"Retry-After": "Mon, 01 Jan 2024 00:00:00 -0000"}  # -0000: "no zone" in RFC 2822
    hostile.play(
        "GET", f"{BASE}/runtime", HostileHub.json({"error": "busy"}, 503, naive), HostileHub.json(RUNNING)
    )
    runtime = await client.get_space_runtime(REPO)  # a past date: retried at once
    assert runtime.stage == SpaceStage.RUNNING
    assert client.stats.retries == 1
    far = {"Retry-After": "Fri, 31 Dec 9999 23:59:59 -0000"}
    hostile.play("GET", f"{BASE}/variables", HostileHub.json({"error": "busy"}, 503, far))
    with pytest.raises(ServerError) as info:  # too far to wait for: raised, never a TypeError
        await client.get_space_variables(REPO)
    assert info.value.retry_after is not None and info.value.retry_after > 1e9
    assert hostile.count(f"{BASE}/variables") == 1


async def test_non_finite_rate_limit_headers_are_ignored(hostile: HostileHub, client: SpaceClient) -> None:
    headers = {"RateLimit": '"api";r=inf;t=nan', "RateLimit-Policy": '"fixed window";"api";q=1e999;w=-inf'}
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(RUNNING, headers=headers))
    async with client.watch(REPO, cadence=QUICK) as watch:  # the budget reads every answer's headers
        first = await watch.__anext__()
    assert first.current.stage == SpaceStage.RUNNING
    assert client.rate_limit == RateLimit()


# --------------------------------------------------------------------------- A: inside a watch

BAD_ANSWERS = [
    HostileHub.raw_body(b'{"stage": "RUNNING", "gcTimeout": 1e999}'),
    HostileHub.raw_body(b'{"stage": "RUNNING", "domains": ' + deep_json(100_000) + b"}"),
    HostileHub.raw_body(b'{"stage": ["RUNNING"]}'),
    HostileHub.raw_body(b"<html>"),
]


async def test_a_watch_retries_unreadable_answers_until_the_hub_heals(
    hostile: HostileHub, client: SpaceClient
) -> None:
    naive_503 = HostileHub.json({"error": "busy"}, 503, {"Retry-After": "Mon, 01 Jan 2024 00:00:00 -0000"})
    hostile.play("GET", f"{BASE}/runtime", *BAD_ANSWERS, naive_503, HostileHub.json(RUNNING))
    with anyio.fail_after(10):
        async with client.watch(REPO, cadence=QUICK) as watch:
            first = await watch.__anext__()
    assert first.is_initial and first.current.stage == SpaceStage.RUNNING
    assert watch.stats.failures == 5
    assert isinstance(watch.stats.last_error, ServerError)
    assert watch.tracker.bad_answers == 0
    assert hostile.count(f"{BASE}/runtime") == 6


async def test_a_watch_gives_up_after_max_bad_answers(hostile: HostileHub, client: SpaceClient) -> None:
    # A 503 between unreadable answers does not reset the count: only a readable answer does.
    busy = HostileHub.json({"error": "busy"}, 503)
    hostile.play("GET", f"{BASE}/runtime", BAD_ANSWERS[2], busy, BAD_ANSWERS[0], busy, BAD_ANSWERS[3])
    cadence = attrs.evolve(QUICK, max_bad_answers=3)
    with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
        async for _ in client.watch(REPO, cadence=cadence):
            pass
    assert info.value.reason == "not-json"
    assert hostile.count(f"{BASE}/runtime") == 5


async def test_wait_for_space_without_timeout_ends_on_a_changed_schema(
    hostile: HostileHub, client: SpaceClient
) -> None:
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json({"state": "RUNNING"}))  # "stage" renamed
    with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
        await client.wait_for_space(REPO, timeout=None, cadence=QUICK)
    assert info.value.reason == "shape"
    assert hostile.count(f"{BASE}/runtime") == Cadence().max_bad_answers == 10


def test_max_bad_answers_is_checked() -> None:
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(InvalidArgumentError):
            Cadence(max_bad_answers=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["raise", "drop"])
async def test_a_watcher_retries_then_gives_up_on_one_space_only(
    hostile: HostileHub, client: SpaceClient, mode: str
) -> None:
    hostile.play("GET", "/api/spaces/user/bad/runtime", *BAD_ANSWERS)
    hostile.play("GET", "/api/spaces/user/flaky/runtime", *BAD_ANSWERS[:3], HostileHub.json(RUNNING))
    hostile.play("GET", "/api/spaces/user/good/runtime", HostileHub.json(RUNNING))
    cadence = attrs.evolve(QUICK, max_bad_answers=4)
    seen: list[str] = []
    with anyio.fail_after(10):
        async with client.watcher(cadence=cadence, batch=False, on_permanent_error=mode) as watcher:  # type: ignore[arg-type]
            watcher.add("user/bad", "user/flaky", "user/good")
            if mode == "raise":
                with pytest.raises(BadAnswerError):
                    async for transition in watcher:
                        seen.append(transition.repo_id)
            else:
                async for transition in watcher:
                    seen.append(transition.repo_id)
                    if {"user/flaky", "user/good"} <= set(seen):
                        break
                await eventually(lambda: "user/bad" in watcher.errors)  # no transition tells it
    if mode == "drop":
        assert sorted(seen) == ["user/flaky", "user/good"]
        assert isinstance(watcher.errors["user/bad"], BadAnswerError)
        assert watcher.spaces == ["user/flaky", "user/good"]
    assert hostile.count("/api/spaces/user/bad/runtime") == 4
    assert_nothing_open(client)


def _listing_item(repo_id: Any) -> dict[str, Any]:
    return {"id": repo_id, "runtime": RUNNING}


async def test_a_batched_watcher_skips_listing_items_it_cannot_read(
    hostile: HostileHub, client: SpaceClient
) -> None:
    names = ["user/a", "user/b", "user/c"]
    listing = [_listing_item(["x"]), _listing_item({"id": 1}), *map(_listing_item, names[:2])]
    listing.append({"id": "user/c", "runtime": {"stage": 7}})  # unreadable: user/c is polled alone
    hostile.play("GET", "/api/spaces", HostileHub.json(listing))
    hostile.play("GET", "/api/spaces/user/c/runtime", HostileHub.json(RUNNING))
    await watch_until_each_is_seen(client, names)
    assert hostile.count("/api/spaces") >= 1
    assert hostile.count("/api/spaces/user/c/runtime") >= 1


async def test_an_unreadable_listing_turns_batching_off_for_its_author(
    hostile: HostileHub, client: SpaceClient
) -> None:
    names = ["user/a", "user/b", "user/c"]
    hostile.play("GET", "/api/spaces", HostileHub.json({"spaces": names}))  # a dict, not a page
    for name in names:
        hostile.play("GET", f"/api/spaces/{name}/runtime", HostileHub.json(RUNNING))
    await watch_until_each_is_seen(client, names, then=0.05)  # tens of Hub s more: polls, none batched
    assert hostile.count("/api/spaces") == 1
    assert all(hostile.count(f"/api/spaces/{name}/runtime") >= 2 for name in names)


# --------------------------------------------------------------------------- B: bounds


async def test_a_huge_announced_body_is_not_read(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/runtime", hostile.big(100 * MiB))
    async with make_client(hostile, max_answer_bytes=MiB) as client:
        with pytest.raises(BadAnswerError) as info:
            await client.get_space_runtime(REPO)
        assert_nothing_open(client)
    assert info.value.reason == "too-large" and "104857600 bytes announced" in str(info.value)
    await eventually(lambda: hostile.abandoned == 1)
    assert hostile.sent < 32 * MiB  # socket buffers at most, not 100 MB
    assert hostile.count(f"{BASE}/runtime") == 1  # a size does not change on a retry


async def test_an_endless_chunked_body_stops_at_the_limit(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/runtime", hostile.big(None))
    async with make_client(hostile, max_answer_bytes=MiB) as client:
        with pytest.raises(BadAnswerError) as info:
            await client.get_space_runtime(REPO)
        assert_nothing_open(client)
    assert info.value.reason == "too-large" and info.value.status == 200
    await eventually(lambda: hostile.abandoned == 1)
    assert MiB < hostile.sent < 32 * MiB


def gzip_bomb(json_prefix: bytes, zeros: int) -> bytes:
    """Gzip of ``json_prefix`` followed by ``zeros`` zero digits: about a thousandth of the size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(json_prefix)]
    parts += [packer.compress(b"0" * MiB) for _ in range(zeros // MiB)]
    return b"".join([*parts, packer.compress(b'"}'), packer.flush()])


@pytest.mark.parametrize("status", [200, 503])
async def test_a_compression_bomb_is_cut_at_the_limit_decompressed(hostile: HostileHub, status: int) -> None:
    # 128 MiB of JSON in about 130 KB of gzip: the Content-Length is far under the limit,
    # what it unpacks to is far over it.
    bomb = gzip_bomb(b'{"stage": "RUNNING", "error": "', 128 * MiB)
    assert len(bomb) < MiB
    headers = {"Content-Encoding": "gzip"}
    hostile.play("GET", f"{BASE}/runtime", HostileHub.raw_body(bomb, status=status, headers=headers))
    async with make_client(hostile, max_answer_bytes=2 * MiB) as client:
        tracemalloc.start()
        try:
            with pytest.raises((BadAnswerError, ServerError)) as info:
                await client.get_space_runtime(REPO)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert_nothing_open(client)
    if status == 200:
        assert isinstance(info.value, BadAnswerError) and info.value.reason == "too-large"
        assert "compressed bytes announced" in str(info.value)
    else:
        assert isinstance(info.value, ServerError) and len(info.value.message) <= 503
    assert peak < 24 * MiB  # the whole answer would be 128 MiB (and more as a str)


async def test_a_huge_error_body_is_cut_and_stays_a_typed_error(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/runtime", hostile.big(None, status=503))
    async with make_client(hostile) as client:
        with pytest.raises(ServerError) as info:
            await client.get_space_runtime(REPO)
        assert_nothing_open(client)
    assert info.value.status == 503
    assert len(info.value.message) <= 503  # cut to MAX_MESSAGE
    assert hostile.count(f"{BASE}/runtime") == 2  # a 503 on a read is retried
    await eventually(lambda: hostile.abandoned == 2)
    assert hostile.sent < 32 * MiB


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


async def test_an_event_that_never_ends_ends_at_the_line_limit(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/logs/run", hostile.endless_sse(b"data: more\n"))  # no blank line, ever
    async with make_client(hostile, max_log_line_bytes=64 * 1024) as client:
        with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
            await _collect(client.fetch_space_logs(REPO))
    assert info.value.reason == "line-too-long"


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


@pytest.mark.parametrize("hops", [1, 2])
async def test_a_redirect_loop_ends_at_once_and_is_not_retried(hostile: HostileHub, hops: int) -> None:
    paths = [f"{BASE}/runtime", *(f"/hop{i}" for i in range(1, hops))]
    for here, there in zip(paths, paths[1:] + paths[:1], strict=True):
        hostile.play("GET", here, HostileHub.redirect(there))
    async with make_client(hostile, retry=RetryPolicy(read_attempts=5, base_delay=0.01)) as client:
        with pytest.raises(BadAnswerError) as info:
            await client.get_space_runtime(REPO)
        assert client.stats.retries == 0
    assert info.value.reason == "redirect" and "seen twice" in str(info.value)
    assert len(hostile.requests) == hops


@pytest.mark.parametrize("pages", [1, 2])
async def test_a_paging_loop_ends_at_once(hostile: HostileHub, client: SpaceClient, pages: int) -> None:
    urls = [f"{hostile.url}/api/spaces", *(f"{hostile.url}/api/spaces/page{i}" for i in range(1, pages))]
    for here, there in zip(urls, urls[1:] + urls[:1], strict=True):
        item = [{"id": f"user/s{len(hostile._plays)}"}]
        hostile.play("GET", URL(here).path, HostileHub.json(item, headers={"Link": f'<{there}>; rel="next"'}))
    with pytest.raises(BadAnswerError) as info:
        await _collect(client.list_spaces())
    assert info.value.reason == "paging-loop"
    assert len(hostile.requests) == pages
    with pytest.raises(BadAnswerError):  # its first page has a query: the loop starts one page later
        await client.author_runtimes("user")
    assert len(hostile.requests) == 2 * pages + 1


# --------------------------------------------------------------------------- C: followed logs resume


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


async def test_followed_logs_resume_by_event_id(hostile: HostileHub, client: SpaceClient) -> None:
    # The backlog rolls over between connections: counting lines would lose 2 and 3.
    log = IdLog(capacity=5, grow=2, cuts=3, per_connection=2)
    hostile.play("GET", f"{BASE}/logs/run", log)
    with anyio.fail_after(10):
        lines = await _collect(client.fetch_space_logs(REPO, follow=True))
    # Each line exactly once, in order, none lost.
    assert lines == [f"line {n}" for n in range(len(log.lines) - log.grow)]
    assert log.last_event_ids == [None, "1", "3", "5"]


async def test_followed_logs_take_a_replaced_log_whole(hostile: HostileHub, client: SpaceClient) -> None:
    # A new build replaced the log while the client was away: its ids start over, and the
    # Hub (as the emulator) sends it from its first line. Nothing of it is skipped.
    old = HostileHub.sse(*(log_event(f"old {n}", event_id=n) for n in (10, 11, 12)), b"data: {", cut=True)
    new = HostileHub.sse(*(log_event(f"new {n}", event_id=n) for n in (0, 1)))
    hostile.play("GET", f"{BASE}/logs/run", old, new)
    with anyio.fail_after(10):
        lines = await _collect(client.fetch_space_logs(REPO, follow=True))
    assert lines == ["old 10", "old 11", "old 12", "new 0", "new 1"]
    assert hostile.requests[1].headers["Last-Event-ID"] == "12"


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


async def test_followed_logs_resume_by_timestamp_watermark_after_a_roll_over(
    hostile: HostileHub, client: SpaceClient
) -> None:
    def at(second: int, text: str) -> bytes:
        return log_event(text, stamp=f"2025-01-01T00:00:{second:02d}.000Z")

    first = HostileHub.sse(at(0, "a"), at(1, "b"), at(1, "b"), at(2, "c"), b'data: {"data": "cu', cut=True)
    # Meanwhile the backlog dropped "a" and a "b": counting lines would skip "d" and "e".
    second = HostileHub.sse(at(1, "b"), at(2, "c"), at(2, "c"), at(3, "d"), at(4, "e"))
    hostile.play("GET", f"{BASE}/logs/run", first, second)
    with anyio.fail_after(10):
        lines = await _collect(client.fetch_space_logs(REPO, follow=True))
    assert lines == ["a", "b", "b", "c", "c", "d", "e"]
    assert "Last-Event-ID" not in hostile.requests[1].headers


@pytest.mark.parametrize("aclose", [True, False], ids=["aclosing", "dropped"])
async def test_leaving_a_followed_log_closes_its_connection(
    hostile: HostileHub, client: SpaceClient, aclose: bool
) -> None:
    hostile.play(
        "GET", f"{BASE}/logs/run", HostileHub.sse(log_event("one"), log_event("two"), hold=hostile.release)
    )
    if aclose:
        async with contextlib.aclosing(client.fetch_space_logs(REPO, follow=True)) as lines:
            async for _ in lines:
                break
    else:
        async for _ in client.fetch_space_logs(REPO, follow=True):
            break
        gc.collect()
    assert client._transport._session is not None and client._transport._session.connector is not None
    connector = client._transport._session.connector
    await eventually(lambda: not connector._acquired and not any(connector._conns.values()))


# --------------------------------------------------------------------------- D: secrets


async def test_an_echoed_request_never_shows_the_token_or_a_secret(
    hostile: HostileHub, client: SpaceClient
) -> None:
    hostile.play("POST", f"{BASE}/secrets", HostileHub.echo(400))
    with pytest.raises(BadRequestError) as refused:
        await client.add_space_secret(REPO, "KEY", SECRET)
    assert "<redacted>" in refused.value.message
    assert_clean(refused.value)

    hostile.play("POST", f"{BASE}/duplicate", HostileHub.echo_text(500))
    with pytest.raises(ServerError) as failed:
        await client.duplicate_space(REPO, "me/copy", secrets=[{"key": "K", "value": SECRET}])
    assert_clean(failed.value)

    echo_id = {"X-Request-Id": f"Bearer {TOKEN}", "X-Error-Code": TOKEN}
    hostile.play("GET", f"{BASE}/runtime", HostileHub.raw_body(b"not json", headers=echo_id))
    with pytest.raises(BadAnswerError) as unreadable:
        await client.get_space_runtime(REPO)
    assert unreadable.value.request_id == "Bearer <redacted>"
    assert_clean(unreadable.value)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 XYZ {auth}\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n{auth}\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nX-Echo: " + b"{auth}" * 2000 + b"\r\n\r\n",
        b"{auth} is what you sent\r\n\r\n",
    ],
    ids=["status-line", "header-line", "header-too-long", "not-http"],
)
async def test_malformed_http_echoing_the_token_is_a_clean_transport_error(
    hostile: HostileHub, client: SpaceClient, answer: bytes
) -> None:
    hostile.play("GET", f"{BASE}/runtime", HostileHub.malformed_http(answer))
    with pytest.raises(TransportError) as info:
        await client.get_space_runtime(REPO)
    assert_clean(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None


async def test_transport_errors_keep_nothing_of_aiohttp(hostile: HostileHub) -> None:
    async def cut_body(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b'{"stage": ')
        assert request.transport is not None
        request.transport.abort()
        raise asyncio.CancelledError

    async def stall(_: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        await hostile.release.wait()
        raise asyncio.CancelledError

    hostile.play("GET", f"{BASE}/runtime", cut_body)
    hostile.play("GET", f"{BASE}/variables", stall)
    async with make_client(hostile, timeout=0.2) as client:
        for call in (client.get_space_runtime(REPO), client.get_space_variables(REPO)):
            with pytest.raises(TransportError) as info:
                await call
            assert_clean(info.value)
            assert info.value.__context__ is None
    async with SpaceClient(
        endpoint="http://127.0.0.1:9", token=TOKEN, retry=RetryPolicy(read_attempts=1)
    ) as refused:
        with pytest.raises(TransportError) as info:
            await refused.get_space_runtime(REPO)
    assert info.value.sent is False
    assert_clean(info.value)


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://user:{PASSWORD}@127.0.0.1:1",
        f"https://{PASSWORD}@hub.example",
        f"https://hub.example/?token={PASSWORD}",
        f"https://hub.example/#{PASSWORD}",
        f"https://hub.example?{PASSWORD}",
        f"ftp://user:{PASSWORD}@hub.example",
        f"http://[::1{PASSWORD}",
    ],
)
def test_an_endpoint_with_userinfo_query_or_fragment_is_refused(
    monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        SpaceClient(endpoint=endpoint, token=TOKEN)
    assert info.value.argument == "endpoint"
    assert_clean(info.value, (PASSWORD, TOKEN))
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    with pytest.raises(InvalidArgumentError) as from_env:
        SpaceClient(token=TOKEN)
    assert_clean(from_env.value, (PASSWORD, TOKEN))


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("max_answer_bytes", 0),
        ("max_answer_bytes", 1.5),
        ("max_log_line_bytes", -1),
        ("logs_read_timeout", math.nan),
        ("logs_read_timeout", math.inf),
        ("logs_idle_timeout", 0),
        ("timeout", math.inf),
        ("max_redirects", -1),
    ],
)
def test_a_limit_that_bounds_nothing_is_refused(argument: str, value: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        SpaceClient(**{argument: value})
    assert info.value.argument == argument


# --------------------------------------------------------------------------- E: transport faults injected


def _request_info() -> aiohttp.RequestInfo:
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": f"Bearer {TOKEN}"}))
    url = URL(f"https://hub.example{BASE}/runtime")
    return aiohttp.RequestInfo(url, "GET", headers, url)


INJECTED: list[tuple[str, BaseException, int, int]] = [
    # (id, exception, requests for a read, requests for a write)
    (
        "connection-refused",
        aiohttp.ClientConnectorError(
            aiohttp.client_reqrep.ConnectionKey("hub.example", 443, True, None, None, None, None),
            OSError(111, "Connection refused"),
        ),
        3,
        2,  # never sent: a write is replayed too
    ),
    ("payload-cut", aiohttp.ClientPayloadError("Response payload is not completed"), 3, 1),
    ("server-disconnected", aiohttp.ServerDisconnectedError(), 3, 1),
    ("timeout", asyncio.TimeoutError(), 3, 1),
    (
        "response-error-with-auth",
        aiohttp.ClientResponseError(_request_info(), (), status=400, message=f"Bearer {TOKEN}"),
        3,
        1,
    ),
]


@pytest.mark.parametrize(
    ("exception", "reads", "writes"), [c[1:] for c in INJECTED], ids=[c[0] for c in INJECTED]
)
async def test_injected_transport_failures_are_retried_as_promised(
    exception: BaseException, reads: int, writes: int
) -> None:
    policy = RetryPolicy(read_attempts=3, write_attempts=2, base_delay=0.001)
    async with SpaceClient(
        endpoint="https://hub.example", token=TOKEN, retry=policy, clock=ScaledClock(1000)
    ) as client:
        with aioresponses() as mocked:
            mocked.get(f"https://hub.example{BASE}/runtime", exception=exception, repeat=True)
            mocked.post(f"https://hub.example{BASE}/restart", exception=exception, repeat=True)
            with pytest.raises(TransportError) as read:
                await client.get_space_runtime(REPO)
            with pytest.raises(TransportError) as write:
                await client.restart_space(REPO)
        assert client.stats.by_route["get_space_runtime"] == reads
        assert client.stats.by_route["restart_space"] == writes
    assert isinstance(read.value, RequestTimeoutError) == isinstance(exception, asyncio.TimeoutError)
    for error in (read.value, write.value):
        assert_clean(error)
        assert error.__context__ is None


async def test_injected_failures_then_the_real_answer(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(RUNNING))
    policy = RetryPolicy(read_attempts=3, base_delay=0.001)
    async with make_client(hostile, retry=policy) as client:
        with aioresponses(passthrough_unmatched=True) as mocked:  # the third goes to the hostile Hub
            url = f"{hostile.url}{BASE}/runtime"
            mocked.get(url, exception=aiohttp.ClientPayloadError("cut"))
            mocked.get(url, exception=asyncio.TimeoutError())
            runtime = await client.get_space_runtime(REPO)
        assert runtime.stage == SpaceStage.RUNNING
        assert client.stats.retries == 2
    assert hostile.count(f"{BASE}/runtime") == 1


# --------------------------------------------------------------------------- text that isn't text


async def test_lone_surrogates_in_an_answer_become_replacement_characters(
    hostile: HostileHub, client: SpaceClient
) -> None:
    # JSON can spell a lone surrogate (\ud800); no UTF-8 text can hold one, so printing or
    # logging it would raise UnicodeEncodeError far from the call. A pair stays its character.
    body = b'{"stage": "RUNNING", "errorMessage": "bad \\udc80 \\ud83d\\ude00", "sdk": "\\ud800"}'
    hostile.play("GET", f"{BASE}/runtime", HostileHub.raw_body(body))
    runtime = await client.get_space_runtime(REPO)
    assert runtime.error_message == "bad \ufffd \U0001f600"
    assert runtime.sdk == "\ufffd"
    repr(runtime).encode("utf-8")  # printable: no lone surrogate anywhere
    hostile.play("GET", f"{BASE}/variables", HostileHub.raw_body(b'{"K\\udfff": {"value": "v\\ud800"}}'))
    variables = await client.get_space_variables(REPO)
    assert {key: var.value for key, var in variables.items()} == {"K\ufffd": "v\ufffd"}


async def test_lone_surrogates_in_a_log_line_and_an_error_message_are_replaced(
    hostile: HostileHub, client: SpaceClient
) -> None:
    hostile.play("GET", f"{BASE}/logs/run", HostileHub.sse(b'data: {"data": "half \\ud800 a line"}\n\n'))
    assert [line async for line in client.fetch_space_logs(REPO)] == ["half \ufffd a line"]
    # Bytes that aren't UTF-8 in a header (aiohttp keeps them as lone surrogates) and an
    # escaped one in the body's message.
    answer = (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        b"X-Request-Id: req-\xff\r\nContent-Length: 25\r\n\r\n"
        b'{"error": "bad \\ud800 x"}'
    )
    hostile.play("GET", f"{BASE}/runtime", HostileHub.malformed_http(answer))
    with pytest.raises(BadRequestError) as info:
        await client.get_space_runtime(REPO)
    str(info.value).encode("utf-8")
    assert "bad \ufffd x" in str(info.value) and "req-\ufffd" in str(info.value)


async def test_a_rate_limited_followed_log_waits_and_resumes(
    hostile: HostileHub, client: SpaceClient
) -> None:
    # Was: the 429 ended the follow at once (RateLimitedError), whatever the Retry-After said.
    busy = HostileHub.json({"error": "slow down"}, 429, {"Retry-After": "20"})
    hostile.play("GET", f"{BASE}/logs/run", busy, HostileHub.sse(log_event("up", event_id=0)))
    started = client.clock.now()
    with anyio.fail_after(10):
        lines = await _collect(client.fetch_space_logs(REPO, follow=True))
    assert lines == ["up"] and hostile.count(f"{BASE}/logs/run") == 2
    assert client.clock.now() - started >= 20  # the Retry-After was waited out (Hub seconds)


async def test_a_followed_log_does_not_wait_a_retry_after_of_ages(
    hostile: HostileHub, client: SpaceClient
) -> None:
    hostile.play(
        "GET", f"{BASE}/logs/run", HostileHub.json({"error": "later"}, 429, {"Retry-After": "86400"})
    )
    with anyio.fail_after(10), pytest.raises(RateLimitedError) as info:
        await _collect(client.fetch_space_logs(REPO, follow=True))
    assert info.value.retry_after == 86400 and hostile.count(f"{BASE}/logs/run") == 1

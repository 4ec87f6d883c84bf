"""Nothing a hostile Hub sends kills a call or a watch, leaks, hangs or shows a secret.

Every case is played by :class:`hostile.HostileHub` (a scripted server, not the emulator)
or injected with ``aioresponses``, and checked for: one typed error (or, inside a watch,
retries and then success once the Hub heals), bounded bytes and requests, nothing left
open, and no token or secret value in any object reachable from the error.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import aiohttp
import anyio
import attrs
import pytest
from hostile_hub import QUICK, RUNNING, HostileHub, deep_json, watch_until_each_is_seen

from aiospace import (
    BadAnswerError,
    Cadence,
    InvalidArgumentError,
    RetryPolicy,
    ScaledClock,
    ServerError,
    SpaceClient,
    SpaceStage,
)

TOKEN = "hf_H0stileTokenThatMustNeverShow42"
SECRET = "s3cret-VALUE-that-must-never-show"
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


async def _collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


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


# --------------------------------------------------------------------------- C: followed logs resume


# --------------------------------------------------------------------------- D: secrets


# --------------------------------------------------------------------------- E: transport faults injected


# --------------------------------------------------------------------------- text that isn't text

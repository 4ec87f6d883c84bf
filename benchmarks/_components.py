"""B1's read taken apart: each step of a runtime read, timed on its own, for this checkout or a
baseline (run inside :mod:`benchmarks._probe`, whichever ``aiospace`` it imported).

Each step is called ``iterations`` times on one real answer of the canned server (its status,
headers and bytes, read once with aiohttp): µs per call (best of a few rounds, ``perf_counter``)
and, under callgrind, the instructions of each loop between the probe's marks (less an empty
loop's). The steps are those of the read path as each version wrote it: its own functions
where it has one (the JSON decode, the model, ``raw``, the request), and a copy of its inline
lines where it has none (the rate-limit and decompression checks, the listener test). What
is left of a whole read (aiohttp's request and response, the event loop, the layers between)
is the read's own cost less these; :mod:`benchmarks.b1_poll_cost` works it out.

Like the probe, this file imports only the standard library, aiohttp and ``aiospace``: the
private names it needs are looked up per layout (``aiospace._http`` today, ``aiospace.session``
and ``aiospace._wire`` before the package's reorganisation).
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Callable
from typing import Any

#: The steps, in the order of a read, and whether a successful read without listeners runs
#: them (the others are shown for what they cost when they do run).
STEPS: tuple[tuple[str, bool], ...] = (
    ("request build (repo id check, `Request`)", True),
    ("headers and auth (aiohttp's merge of them included)", True),
    ("rate budget (rate-limit headers noted)", True),
    ("decompression and size checks", True),
    ("JSON decoding", True),
    ("answer-to-model (`SpaceRuntime`, its parts, `raw`)", True),
    ("of which `raw` (`LazyJSON`)", False),
    ("listeners: the test when none is subscribed", True),
    ("listeners: `Exchange` and one listener (a watcher's)", False),
    ("redaction (error path only: the redactor of a request)", False),
    ("logging (error and retry paths only)", False),
)


async def _answer(url: str, repo: str, token: str) -> tuple[Any, bytes, int]:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        target = f"{url}/api/spaces/{repo}/runtime"
        async with session.get(target, headers={"Authorization": f"Bearer {token}"}) as response:
            return response.headers, await response.read(), response.status


def _steps_now(client: Any, session: Any, repo: str, headers: Any, body: bytes) -> list[Callable[[], Any]]:
    import logging

    from aiospace._hub import requests as rq
    from aiospace._hub.answers import decode_answer
    from aiospace._hub.convert import LazyJSON, structure
    from aiospace.models import SpaceRuntime

    transport = client._transport
    redact = client._redactor
    request = rq.get_space_runtime(repo)
    data = decode_answer(request, 200, headers, body, redact)
    limit = transport.max_answer_bytes
    length = len(body)
    log = logging.getLogger("aiospace")

    def rate() -> None:
        carries_rate = "RateLimit" in headers or "RateLimit-Policy" in headers
        if carries_rate:
            transport._rate_headers, transport._rate_limit = headers, None

    def checks() -> bool:
        return 200 < 400 and length is not None and length <= limit and "Content-Encoding" not in headers

    def no_listener() -> None:
        if transport._listeners:
            transport._notify(request, 200, None, None)

    listening = type(client)(endpoint=str(transport.endpoint), token=False)
    listening.subscribe(lambda exchange: None)

    return [
        lambda: rq.get_space_runtime(repo),
        lambda: session._prepare_headers(transport._headers[True, False]),
        rate,
        checks,
        lambda: decode_answer(request, 200, headers, body, redact),
        lambda: structure(data, SpaceRuntime, request, 200, headers, redact, body=body),
        lambda: LazyJSON(body),
        no_listener,
        lambda: listening._transport._notify(request, 200, None, None),
        lambda: redact.for_request(request),
        lambda: log.debug("retrying %s %s in %.2fs after: %s", "GET", request.path, 1.0, "x"),
    ]


def _steps_before(client: Any, session: Any, repo: str, headers: Any, body: bytes) -> list[Callable[[], Any]]:
    import logging

    from aiospace import _wire as wire
    from aiospace.models import SpaceRuntime

    redact = client._HubSession__redact
    request = wire.get_space_runtime(repo)
    data = wire.decode_answer(request, 200, headers, body, redact)
    limit = client.max_answer_bytes
    length = len(body)
    log = logging.getLogger("aiospace")

    def rate() -> None:
        carries_rate = "RateLimit" in headers or "RateLimit-Policy" in headers
        if carries_rate:
            client._rate_headers, client._rate_limit = headers, None

    def checks() -> bool:
        failed = 200 >= 400
        limit_ = min(limit, 64 * 1024) if failed else limit
        encoding = headers.get("Content-Encoding")
        compressed = encoding is not None and encoding.lower() != "identity"
        return length is not None and length <= limit_ and not compressed

    def no_listener() -> None:
        if client._listeners:
            client._notify(request, 200, None, None)

    listening = type(client)(endpoint=str(client.endpoint), token=False)
    listening.subscribe(lambda exchange: None)

    return [
        lambda: wire.get_space_runtime(repo),
        lambda: session._prepare_headers(client._headers(None, False)),
        rate,
        checks,
        lambda: wire.decode_answer(request, 200, headers, body, redact),
        lambda: wire.structure(data, SpaceRuntime, request, 200, headers, redact, body=body),
        lambda: wire.LazyJSON(body),
        no_listener,
        lambda: listening._notify(request, 200, None, None),
        lambda: client._redactions(request),
        lambda: log.debug("retrying %s %s in %.2fs after: %s", "GET", request.path, 1.0, "x"),
    ]


def measure(url: str, repo: str, token: str, iterations: int, marks: Any) -> dict[str, Any]:
    """µs per call of every step (:data:`STEPS`), and, under callgrind, one marked region per
    step after one for an empty loop (``marks``: the probe's ``(mark_start, mark_end)``)."""
    import aiohttp

    import aiospace

    headers, body, status = asyncio.run(_answer(url, repo, token))
    assert status == 200, status
    client = aiospace.SpaceClient(endpoint=url, token=token)

    async def make_session() -> Any:
        return aiohttp.ClientSession()

    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(make_session())
    try:
        now = importlib.util.find_spec("aiospace._http") is not None
        steps = (_steps_now if now else _steps_before)(client, session, repo, headers, body)
        assert len(steps) == len(STEPS)
        start, end = marks
        loops = range(iterations)

        def empty() -> None:
            pass

        # Under callgrind: the empty loop first, then each step, each between the marks.
        for step in (empty, *steps):
            step()  # warm (first-call caches, lazy imports)
            start()
            for _ in loops:
                step()
            end()
        us: list[float] = []
        base = _best(empty, loops)
        for step in steps:
            us.append(max(0.0, _best(step, loops) - base) / iterations * 1e6)
    finally:
        loop.run_until_complete(session.close())
        loop.close()
    return {"steps": [name for name, _ in STEPS], "us": us, "iterations": iterations}


def _best(step: Callable[[], Any], loops: range, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in loops:
            step()
        best = min(best, time.perf_counter() - t)
    return best

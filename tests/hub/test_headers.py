"""The Hub's headers (``aiospace/_hub/headers.py``): ``RateLimit`` and ``RateLimit-Policy``,
``Retry-After`` (seconds or an HTTP date), ``Link``.

The cases marked ``hostile`` read them from a hostile Hub through a client: a ``Retry-After``
date without a zone or of ages, rate limits that are not finite numbers.
"""

from __future__ import annotations

import pytest
from hostile_hub import BASE, QUICK, REPO, RUNNING, HostileHub
from multidict import CIMultiDict

from aiospace import ServerError, SpaceClient, SpaceStage
from aiospace._hub.headers import parse_link_next, parse_rate_limit, parse_retry_after
from aiospace.emulator import encode
from aiospace.models import RateLimit


def test_parse_rate_limit() -> None:
    headers = CIMultiDict(
        {"RateLimit": '"api";r=489;t=189', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}
    )
    assert parse_rate_limit(headers) == RateLimit(remaining=489, reset=189.0, quota=500, window=300.0)
    lower = CIMultiDict({"ratelimit": '"api";r=0;t=12'})
    assert parse_rate_limit(lower) == RateLimit(remaining=0, reset=12.0)
    assert parse_rate_limit(CIMultiDict()) is None
    assert parse_rate_limit({"RateLimit-Policy": '"fixed window";"api";q=1000;w=300'}) == RateLimit(
        quota=1000, window=300.0
    )


def test_rate_limit_headers_round_trip() -> None:
    # What the emulator writes, the client reads.
    headers = encode.rate_limit_headers(remaining=12, reset=29.2, quota=1000, window=300)
    assert parse_rate_limit(headers) == RateLimit(remaining=12, reset=30.0, quota=1000, window=300.0)
    assert parse_rate_limit(encode.rate_limit_headers(-5, 0, 10, 300)) == RateLimit(0, 0.0, 10, 300.0)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2", 2.0), (" 0.5 ", 0.5), ("0", 0.0), ("-3", 0.0), ("soon", None), ("", None)],
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after({"Retry-After": value}) == seconds


def test_parse_retry_after_http_dates() -> None:
    assert parse_retry_after({}) is None
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    future = parse_retry_after({"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"})
    assert future is not None and future > 10**9


@pytest.mark.parametrize(
    ("header", "url"),
    [
        (
            '<https://huggingface.co/api/spaces?cursor=abc&limit=2>; rel="next"',
            "https://huggingface.co/api/spaces?cursor=abc&limit=2",
        ),
        ("</api/spaces?p=2>; rel=next", "/api/spaces?p=2"),
        ('</first>; rel="prev", </second>; rel="next"', "/second"),
        ('</x>; title="a"; rel="last next"', "/x"),
        ('</only-prev>; rel="prev"', None),
        ("", None),
        (None, None),
        ("garbage", None),
    ],
)
def test_parse_link_next(header: str | None, url: str | None) -> None:
    assert parse_link_next(header) == url


def test_link_round_trip() -> None:
    url = "http://127.0.0.1:1234/api/spaces?cursor=xyz"
    assert parse_link_next(encode.link_next(url)) == url


# --------------------------------------------------------------------------- a hostile Hub


@pytest.mark.hostile
async def test_a_naive_retry_after_date_is_read_as_utc(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    naive = {"Retry-After": "Mon, 01 Jan 2024 00:00:00 -0000"}  # -0000: "no zone" in RFC 2822
    hostile.play(
        "GET", f"{BASE}/runtime", HostileHub.json({"error": "busy"}, 503, naive), HostileHub.json(RUNNING)
    )
    runtime = await hostile_client.get_space_runtime(REPO)  # a past date: retried at once
    assert runtime.stage == SpaceStage.RUNNING
    assert hostile_client.stats.retries == 1
    far = {"Retry-After": "Fri, 31 Dec 9999 23:59:59 -0000"}
    hostile.play("GET", f"{BASE}/variables", HostileHub.json({"error": "busy"}, 503, far))
    with pytest.raises(ServerError) as info:  # too far to wait for: raised, never a TypeError
        await hostile_client.get_space_variables(REPO)
    assert info.value.retry_after is not None and info.value.retry_after > 1e9
    assert hostile.count(f"{BASE}/variables") == 1


@pytest.mark.hostile
async def test_non_finite_rate_limit_headers_are_ignored(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    headers = {"RateLimit": '"api";r=inf;t=nan', "RateLimit-Policy": '"fixed window";"api";q=1e999;w=-inf'}
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(RUNNING, headers=headers))
    async with hostile_client.watch(REPO, cadence=QUICK) as watch:  # the budget reads every answer's headers
        first = await watch.__anext__()
    assert first.current.stage == SpaceStage.RUNNING
    assert hostile_client.rate_limit == RateLimit()

"""The Hub's headers (``aiospace/_hub/headers.py``) as a client reads them from a hostile Hub:
``Retry-After`` dates without a zone or of ages, rate limits that are not finite numbers."""

from __future__ import annotations

import pytest
from hostile_hub import (
    BASE,
    QUICK,
    REPO,
    RUNNING,
    HostileHub,
)

from aiospace import (
    ServerError,
    SpaceClient,
    SpaceStage,
)
from aiospace.models import RateLimit


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

"""Listings that come in pages (``aiospace/_http/pages.py``): the one paging path, bounded.

The cases marked ``hostile`` are played by :class:`hostile_hub.HostileHub`: a next page that
points back, elsewhere or nowhere, and pages without end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from hostile_hub import (
    OTHER,
    REPO,
    RUNNING,
    UNFOLLOWABLE,
    HostileHub,
    assert_clean,
    assert_nothing_open,
    at_hub,
    endless_pages,
    make_client,
)
from yarl import URL

from aiospace import BadAnswerError, SpaceClient
from aiospace._http.pages import MAX_LISTING_PAGES


@pytest.mark.hostile
@pytest.mark.parametrize("pages", [1, 2])
async def test_a_paging_loop_ends_at_once(
    hostile: HostileHub, hostile_client: SpaceClient, pages: int
) -> None:
    urls = [f"{hostile.url}/api/spaces", *(f"{hostile.url}/api/spaces/page{i}" for i in range(1, pages))]
    for here, there in zip(urls, urls[1:] + urls[:1], strict=True):
        item = [{"id": f"user/s{len(hostile._plays)}"}]
        hostile.play("GET", URL(here).path, HostileHub.json(item, headers={"Link": f'<{there}>; rel="next"'}))
    with pytest.raises(BadAnswerError) as info:
        await _collect(hostile_client.list_spaces())
    assert info.value.reason == "paging-loop"
    assert len(hostile.requests) == pages
    with pytest.raises(BadAnswerError):  # its first page has a query: the loop starts one page later
        await hostile_client.author_runtimes("user")
    assert len(hostile.requests) == 2 * pages + 1


@pytest.mark.hostile
@pytest.mark.parametrize("location", list(UNFOLLOWABLE.values()), ids=list(UNFOLLOWABLE))
async def test_a_next_page_the_client_may_not_follow_is_a_paging_loop(
    hostile: HostileHub, location: str
) -> None:
    link = {"Link": f'<{at_hub(location, hostile)}>; rel="next"'}
    hostile.play("GET", "/api/spaces", HostileHub.json([{"id": "user/a"}], headers=link))
    hostile.play("GET", OTHER, HostileHub.json([]))
    async with make_client(hostile) as client:
        with pytest.raises(BadAnswerError) as info:
            await _collect(client.list_spaces())
        assert_nothing_open(client)
        assert client.stats.retries == 0
    assert info.value.reason == "paging-loop" and "http(s) URL" in str(info.value)
    assert_clean(info.value)
    assert [r.path for r in hostile.requests] == ["/api/spaces"]


@pytest.mark.hostile
@pytest.mark.parametrize("limit", [None, 5])
async def test_endless_empty_pages_end_a_listing(hostile: HostileHub, limit: int | None) -> None:
    endless_pages(hostile, [])
    async with make_client(hostile) as client:
        with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
            await _collect(client.list_spaces(limit=limit))
        assert_nothing_open(client)
    assert info.value.reason == "paging-loop" and "empty page" in str(info.value)
    assert hostile.count("/api/spaces") == 1


@pytest.mark.hostile
async def test_endless_pages_of_other_spaces_end_an_author_listing(hostile: HostileHub) -> None:
    endless_pages(hostile, [{"id": "user/other", "runtime": RUNNING}])
    async with make_client(hostile) as client:
        with anyio.fail_after(10), pytest.raises(BadAnswerError) as info:
            await client.author_runtimes("user", spaces=[REPO])
        assert_nothing_open(client)
    assert info.value.reason == "paging-loop" and f"more than {MAX_LISTING_PAGES} pages" in str(info.value)
    assert hostile.count("/api/spaces") == MAX_LISTING_PAGES


async def _collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]

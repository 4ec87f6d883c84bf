"""Listings that come in pages (``Link: rel="next"``): the one paging path, bounded."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

import attrs
from yarl import URL

from .._hub import requests
from .._hub.answers import bad_answer
from .._hub.convert import Page, structure
from .._hub.headers import parse_link_next
from .._hub.requests import Request
from ..errors import TransportError
from ..models import SpaceInfo, SpaceRuntime
from .transport import Transport

__all__ = ["LISTING_PAGE", "MAX_LISTING_PAGES", "author_runtimes", "pages", "spaces"]

log = logging.getLogger("aiospace")

#: Page size asked of an author listing (the Hub's largest; it pages further with ``Link``).
LISTING_PAGE = 1000
#: Pages :func:`author_runtimes` reads at most (100,000 Spaces at the Hub's page size).
MAX_LISTING_PAGES = 100


async def pages(
    transport: Transport,
    request: Request,
    *,
    retry: bool = True,
    before_page: Callable[[], Awaitable[None]] | None = None,
    max_pages: int | None = None,
) -> AsyncGenerator[tuple[list[Any], Mapping[str, str], int], None]:
    """Each page's JSON list (with its headers and status), following ``Link: rel="next"``.

    A relative link is resolved against the page that carried it, and goes through the
    transport's hop check (:meth:`Transport.hop`). ``before_page`` is awaited before each page
    after the first. Paging ends with a :class:`~aiospace.errors.BadAnswerError`
    (``reason="paging-loop"``) at a hop the check refuses (a page already read...), at an empty
    page that links to another (endless distinct empty pages would never yield, so no ``limit``
    would end them), and past ``max_pages`` pages.
    """
    page = transport.endpoint.join(URL(request.path, encoded=True)).with_query(request.params)
    visited = {page}
    while True:
        data, headers, status, _ = await transport.call(request, retry=retry)
        items = structure(data, Page, request, status, headers, transport.redact)
        yield items, headers, status
        link = parse_link_next(headers.get("Link"))
        if not link:
            return
        hop = transport.hop(page, link, visited, "a next page", encoded=True)
        if isinstance(hop, str):
            problem = hop
        elif not items:
            problem = "an empty page that links to a next page"
        elif max_pages is not None and len(visited) > max_pages:
            problem = f"more than {max_pages} pages"
        else:
            page = hop
            if before_page is not None:
                await before_page()
            request = attrs.evolve(request, path=str(page), params=())
            continue
        raise bad_answer(request, problem, "paging-loop", status, headers, transport.redact)


async def spaces(
    transport: Transport,
    *,
    author: str | None = None,
    search: str | None = None,
    limit: int | None = None,
    expand: Iterable[str] | None = None,
) -> AsyncGenerator[SpaceInfo, None]:
    """Every Space of a ``list_spaces`` listing, page after page; stops after ``limit``.

    The arguments are checked when the iteration starts.
    """
    request = requests.list_spaces(author=author, search=search, limit=limit, expand=expand)
    seen = 0
    async for page, headers, status in pages(transport, request):
        for item in page:
            yield structure(item, SpaceInfo, request, status, headers, transport.redact)
            seen += 1
            if limit is not None and seen >= limit:
                return


async def author_runtimes(
    transport: Transport,
    author: str,
    spaces: Collection[str] | None = None,
    *,
    retry: bool = True,
    before_page: Callable[[], Awaitable[None]] | None = None,
    shas: dict[str, str] | None = None,
) -> dict[str, SpaceRuntime]:
    """The runtime of every Space of ``author`` (one ``expand=runtime`` listing), by repo id.

    With ``spaces``, only those are kept and paging stops once all are found. An item that
    can't be read is left out. At most :data:`MAX_LISTING_PAGES` pages are read. With
    ``shas``, the listing asks for each Space's head commit too and fills it in.
    """
    expand = ["runtime"] if shas is None else ["runtime", "sha"]
    request = requests.list_spaces(author=author, expand=expand, limit=LISTING_PAGE)
    wanted = None if spaces is None else set(spaces)
    found: dict[str, SpaceRuntime] = {}
    listing = pages(transport, request, retry=retry, before_page=before_page, max_pages=MAX_LISTING_PAGES)
    async for page, _, _ in listing:
        for item in page:
            repo_id = item.get("id") if isinstance(item, dict) else None
            runtime = item.get("runtime") if isinstance(item, dict) else None
            if not isinstance(repo_id, str) or not isinstance(runtime, dict):
                continue
            if wanted is not None and repo_id not in wanted:
                continue
            try:
                found[repo_id] = structure(runtime, SpaceRuntime, request)
            except TransportError as exc:
                log.debug("unreadable runtime of %s in %s's listing: %s", repo_id, author, exc)
                continue
            sha = item.get("sha")
            if shas is not None and isinstance(sha, str) and len(sha) <= 64:
                shas[repo_id] = sha
        if wanted is not None and len(found) == len(wanted):
            break
    return found

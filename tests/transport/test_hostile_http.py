"""A hostile Hub or proxy at the HTTP level: where a redirect or a next page points, what a
write's body may follow, how long a listing or a log answer's head may go on, what a
rate-limit policy may ask of the budget, and how an event stream may start.

Each case is played by :class:`hostile.HostileHub` (or a raw loopback server for what
aiohttp's server can't send) and checked for one typed error, bounded requests, nothing
left open and no token or secret value shown. See also ``test_hostile.py``.
"""

from __future__ import annotations

from hostile_hub import HostileHub, endless_pages
from test_hostile import (
    RUNNING,
    make_client,
    watch_until_each_is_seen,
)

from aiospace._http.pages import MAX_LISTING_PAGES

OTHER = "/elsewhere"
#: Where no client may be sent (``{here}`` is the hostile Hub's own ``host:port``).
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


def _at(template: str, hostile: HostileHub) -> str:
    return template.replace("{here}", hostile.url.split("//", 1)[1])


# ---------------------------------------------------------------- where a redirect or a page points


# --------------------------------------------------------------------------- what a write's body may follow


# --------------------------------------------------------------------------- how long a listing may go on


async def test_a_watcher_on_an_endless_author_listing_polls_its_spaces_alone(hostile: HostileHub) -> None:
    names = ["user/a", "user/b", "user/c"]
    endless_pages(hostile, [{"id": "user/other", "runtime": RUNNING}])
    for name in names:
        hostile.play("GET", f"/api/spaces/{name}/runtime", HostileHub.json(RUNNING))
    async with make_client(hostile) as client:
        await watch_until_each_is_seen(client, names)
    assert hostile.count("/api/spaces") == MAX_LISTING_PAGES  # once: then batching is off


# ---------------------------------------------------------------- how long a log answer's head may take


# --------------------------------------------------------------------------- what a rate-limit policy may ask


# --------------------------------------------------------------------------- how an event stream may start

"""The Spaces' apps: every Space's app answers on the emulator's own origin, by ``Host``.

On the Hub, a Space's app lives at the origin its info names (``"host":
"https://alice-demo.hf.space"``, ``"subdomain": "alice-demo"``). The emulator answers
those same values, and serves every app on its own origin: a request whose ``Host``
header is the Space's app host (``alice-demo.hf.space``, any port) is a request to that
app (aiospace's client sends its app requests so when its endpoint is on loopback;
:mod:`aiospace._http.apps`). The app's answer:

* ``200`` with a small HTML page (a static Space: its ``index.html``) once a container
  serves (``RUNNING``, and the old container during ``RUNNING_BUILDING`` /
  ``RUNNING_APP_STARTING``) and ``app_ready_after`` Hub seconds have passed since it
  reached ``RUNNING``;
* ``503`` (the Hub's proxy, while the app starts) before that, in every other stage,
  for ever with ``serving: false``, and when the commit it runs has the marker
  ``aiospace-emulator: not-serving`` in its app file;
* ``404`` for an app host no Space has, or a private Space asked without a token of a
  user who can read it.

A request is a visit (:meth:`~aiospace.emulator.world.World.visit`): it resets the sleep
timer and wakes a sleeping Space, as a visit to a real Space does. App requests are
neither rate limited nor counted as API requests (they are not the Hub's API).
"""

from __future__ import annotations

from aiohttp import web

from ..models import SpaceStage
from .context import HUB, Handler, request_state
from .repo import AppVerdict
from .state import HubError, Space

__all__ = ["APP_DOMAIN", "app_middleware", "app_status", "space_for_host"]

#: The Hub's app domain: a Space's app host is ``{subdomain}.hf.space``.
APP_DOMAIN = "hf.space"
_PAGE = "<!doctype html>\n<html><body><h1>{title}</h1><p>served by the aiospace emulator</p></body></html>\n"
_STARTING = (
    "<!doctype html>\n<html><body><h1>503</h1><p>The Space's app is not answering.</p></body></html>\n"
)


def space_for_host(spaces: dict[str, Space], host: str) -> Space | None:
    """The Space whose app host is ``host`` (a ``Host`` header: any case, any port); None if none."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower().rstrip(".")
    if not name.endswith("." + APP_DOMAIN):
        return None
    for space in spaces.values():  # a Space's domain is derived from its id
        if space.domain == name:
            return space
    return None


def app_status(space: Space, now: float) -> int:
    """The status the Space's app answers with at Hub time ``now`` (200 or 503)."""
    if space.is_static:
        return 200 if space.stage == SpaceStage.RUNNING else 503
    if not space.is_serving or not space.behaviour.serving:
        return 503
    if space.app_fault == AppVerdict.NOT_SERVING.value:
        return 503
    if now - space.running_since < space.behaviour.app_ready_after:
        return 503
    return 200


@web.middleware
async def app_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve a Space's app when the request's ``Host`` is an app host; anything else goes on."""
    host = request.headers.get("Host", "")
    if not host.lower().rsplit(":", 1)[0].rstrip(".").endswith("." + APP_DOMAIN):
        return await handler(request)
    request_state(request).api = False
    world = request.app[HUB].world
    now = world.advance()
    space = space_for_host(world.spaces, host)
    try:
        user = world.authenticate(request.headers.get("Authorization"))
    except HubError:
        user = None
    if space is None or not world.can_read(space, user):
        return web.Response(status=404, text="404: Space not found\n")
    if request.method not in ("GET", "HEAD"):
        return web.Response(status=405, text="405: method not allowed\n")
    world.visit(space.id)
    status = app_status(space, now)
    if status != 200:
        return web.Response(status=status, text=_STARTING, content_type="text/html")
    if space.is_static:
        body = space.files.get("index.html", b"")
        return web.Response(status=200, body=body, content_type="text/html")
    title = space.id.split("/", 1)[1]
    return web.Response(status=200, text=_PAGE.format(title=title), content_type="text/html")

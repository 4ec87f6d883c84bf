"""A Space's app: where it lives (from the Hub's answer), and one request to it.

The Hub names a Space's app in its info: ``"host"`` (the app's origin,
``https://alice-demo.hf.space``) and ``"subdomain"`` (``alice-demo``); without ``host``,
the origin is ``https://{subdomain}.hf.space``. The Hub's own app domain is ``hf.space``.

* **Where the request goes.** To the app's origin; but when the client's endpoint is on
  this machine (an emulator, a local Hub) and the app is on the Hub's app domain, to the
  endpoint's own origin with the app's host name in the ``Host`` header: an emulator
  serves every Space's app on its own origin, by ``Host`` (docs/emulator.md).
* **The token** goes only to an app on the Hub's app domain, and only when the Space is
  private (a public app needs none: no token travels where it isn't needed).
* A caller's own ``session=`` with an ``Authorization`` header of its own is not used for
  an app on another origin than the endpoint's (that header would go along): no answer.
* **The answer**: only its status is read (redirects are not followed: a 3xx is an answer);
  the body is left unread and the connection released.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
import attrs
from yarl import URL

from ..errors import InvalidArgumentError
from ..models import SpaceInfo
from .endpoint import _is_loopback
from .transport import Transport

__all__ = ["APP_DOMAIN", "AppTarget", "app_target", "get_app", "request_app"]

#: The Hub's app domain: a Space's app is ``https://{subdomain}.hf.space``.
APP_DOMAIN = "hf.space"
_SUBDOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)
#: Real seconds one app request may take at most (the client's own timeout if shorter).
APP_REQUEST_TIMEOUT = 30.0


@attrs.frozen
class AppTarget:
    """Where a request to a Space's app goes: ``url`` (what the Hub named), the ``connect``
    URL the request is sent to, the ``Host`` header (None: ``url``'s), and whether the
    token goes with it."""

    url: str
    connect: URL
    host: str | None
    token: bool


def _on_app_domain(host: str | None) -> bool:
    return host is not None and host.lower().rstrip(".").endswith("." + APP_DOMAIN)


def app_target(endpoint: URL, info: SpaceInfo) -> AppTarget | None:
    """Where the app of the Space ``info`` describes answers (None: the Hub named no usable origin).

    ``host`` must be an http(s) URL with a host and no user, password, query or fragment;
    else (or without it) ``subdomain`` must be a host label.
    """
    url: URL | None = None
    if info.host is not None:
        try:
            url = URL(info.host)
        except (TypeError, ValueError):
            url = None
        if url is not None and (
            url.scheme not in ("http", "https")
            or not url.raw_host
            or url.user is not None
            or url.password is not None
            or url.query_string
            or url.fragment
        ):
            url = None
    if url is None and info.subdomain is not None and _SUBDOMAIN.fullmatch(info.subdomain):
        url = URL.build(scheme="https", host=f"{info.subdomain.lower()}.{APP_DOMAIN}")
    if url is None:
        return None
    url = url.origin()
    hub_app = _on_app_domain(url.raw_host)
    token = hub_app and info.private is True
    if hub_app and _is_loopback(endpoint.raw_host):
        return AppTarget(str(url), endpoint.origin(), url.raw_host, token)
    return AppTarget(str(url), url, None, token)


async def request_app(transport: Transport, target: AppTarget) -> int | None:
    """One ``GET`` of the app's root: its status, or None when no answer came (refused, timed out)."""
    if transport._session_credentials and target.connect.origin() != transport.endpoint.origin():
        # A caller's session sends its own Authorization header to every host: not to an app's.
        return None
    headers = dict(transport.headers(token=target.token))
    if target.host is not None:
        headers["Host"] = target.host
    timeout = aiohttp.ClientTimeout(total=min(transport.timeout or APP_REQUEST_TIMEOUT, APP_REQUEST_TIMEOUT))
    try:
        async with transport.session().get(
            target.connect, headers=headers, allow_redirects=False, timeout=timeout
        ) as response:
            return response.status
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return None


async def get_app(transport: Transport, info: SpaceInfo) -> tuple[int | None, str | None]:
    """One request to the app ``info`` names: its status (None: no answer) and URL (None: none named).

    Raises :class:`~aiospace.errors.InvalidArgumentError` when ``info`` is not a :class:`SpaceInfo`.
    """
    if not isinstance(info, SpaceInfo):
        raise InvalidArgumentError(
            "info", f"expected a SpaceInfo (from get_space_info), got {type(info).__name__}"
        )
    target = app_target(transport.endpoint, info)
    if target is None:
        return None, None
    return await request_app(transport, target), target.url

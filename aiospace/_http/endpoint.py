"""Where the client sends and as whom: the Hub's base URL, the token, and the credentials of a
caller's own aiohttp session. Every check here runs before any request."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

import aiohttp
import attrs
from yarl import URL

from .._hub.redact import Redactor
from ..errors import InvalidArgumentError

__all__ = ["DEFAULT_ENDPOINT", "Endpoint", "check_endpoint", "credentials_of", "resolve_token"]

DEFAULT_ENDPOINT = "https://huggingface.co"

#: What a token may hold: visible ASCII (a header can't carry a newline; the Hub's tokens are ASCII).
_TOKEN = re.compile(r"[\x21-\x7e]*")


def resolve_token(token: str | bool | None = None) -> str | None:
    """The token a client made with ``token=token`` sends: the argument; for None, ``HF_TOKEN``,
    then ``$HF_HOME/token``; for False, none. (The CLI masks it in everything it prints.)

    Raises :class:`~aiospace.errors.InvalidArgumentError` (never quoting the token) for a
    token no header can carry, a token file that is not UTF-8, or an argument of another type.
    """
    if token is False:
        return None
    if isinstance(token, str):
        return _check_token(token.strip(), "the token") or None
    if token not in (None, True):
        raise InvalidArgumentError("token", "expected a str, None or False")
    env = os.environ.get("HF_TOKEN", "").strip()
    if env:
        return _check_token(env, "HF_TOKEN")
    home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    path = Path(home) / "token"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    except UnicodeDecodeError:
        text = None  # raised below, out of the except clause: the decoder's error quotes bytes
    if text is None:
        raise InvalidArgumentError("token", f"the token file {path} is not UTF-8 text")
    return _check_token(text.strip(), f"the token file {path}") or None


def _check_token(token: str, source: str) -> str:
    """``token`` if a header can carry it; else an InvalidArgumentError that never quotes it."""
    if not _TOKEN.fullmatch(token):
        raise InvalidArgumentError(
            "token", f"{source} holds a space, a control character or a non-ASCII character"
        )
    return token


def check_endpoint(raw: object) -> URL:
    """The Hub's base URL (``raw``, else ``HF_ENDPOINT``, else :data:`DEFAULT_ENDPOINT`).

    Raises :class:`~aiospace.errors.InvalidArgumentError` (never quoting the URL: it may hold
    a password) unless it is an http(s) URL with a host and without a user name, password,
    query or fragment.
    """
    raw = raw or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    problem = None
    url = None
    if not isinstance(raw, str):
        problem = f"expected a str, got {type(raw).__name__}"
    else:
        try:
            url = URL(raw.strip().rstrip("/"))
        except (TypeError, ValueError):
            problem = "is not a URL"
    if url is not None:
        if url.scheme not in ("http", "https") or not url.host:
            problem = "must be an http(s) URL with a host"
        elif url.user is not None or url.password is not None:
            problem = "must not hold a user name or password (pass the token with token=)"
        elif "?" in str(raw) or "#" in str(raw):
            problem = "must not hold a query or a fragment"
    if problem is not None or url is None:
        # Raised here, out of any except clause: no parser error (quoting the URL) rides along.
        raise InvalidArgumentError("endpoint", problem or "is not a URL")
    return url


def _check_token_route(url: URL, token: str | None, allow_insecure_http: bool) -> None:
    if token and url.scheme == "http" and not _is_loopback(url.host) and not allow_insecure_http:
        raise InvalidArgumentError(
            "endpoint",
            f"refusing to send a token over plain http to {url.host} "
            "(use https, or pass allow_insecure_http=True)",
        )


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def credentials_of(session: aiohttp.ClientSession | None) -> tuple[str, ...]:
    """The credentials in ``session``'s default ``Authorization`` and ``Proxy-Authorization``
    headers: the part after the scheme (``Bearer``, ``Basic``...), or the whole value if it has none."""
    if session is None:
        return ()
    found: list[str] = []
    for name in ("Authorization", "Proxy-Authorization"):
        for value in session.headers.getall(name, ()):
            found.append(value.strip().partition(" ")[2].strip() or value.strip())
    return tuple(dict.fromkeys(f for f in found if f))


@attrs.frozen(repr=False)
class Endpoint:
    """Where requests go and as whom: the Hub's URL, the token, and the :class:`Redactor` of every
    value no error may show (the token, the credentials of the caller's own session)."""

    url: URL
    token: str | None
    redact: Redactor
    #: The caller's session sends its own ``Authorization`` header to every host it is given.
    session_credentials: bool

    @classmethod
    def resolve(
        cls,
        endpoint: str | None,
        token: str | bool | None,
        session: aiohttp.ClientSession | None,
        allow_insecure_http: bool,
    ) -> Endpoint:
        """The endpoint (:func:`check_endpoint`) and token (:func:`resolve_token`) a client made
        with these options uses. Raises :class:`~aiospace.errors.InvalidArgumentError` as those
        do, and for a token bound for plain http to a host other than this machine, unless
        ``allow_insecure_http``."""
        url = check_endpoint(endpoint)
        secret = resolve_token(token)
        _check_token_route(url, secret, allow_insecure_http)
        credentials = credentials_of(session)
        return cls(url, secret, Redactor((secret, *credentials)), bool(credentials))

    def __repr__(self) -> str:
        return f"Endpoint({str(self.url)!r}, token=<{'set' if self.token else 'none'}>)"  # never the token

"""``HubSession``: every Space call of the Hub, on one aiohttp session.

The session is thin: :mod:`aiospace._wire` builds each request and reads each
answer; this module moves the bytes, holds the token, retries what may safely be
retried, follows pages, reads log streams, remembers the Hub's latest rate-limit
headers and owns the request budget (:mod:`aiospace._http.budget`). It knows nothing of
the watch engine: :class:`aiospace.SpaceClient` adds that on top.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import random
import re
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import anyio
import attrs
from yarl import URL

from ..__about__ import __version__
from .._clock import Clock, SystemClock
from .._hub import requests
from .._hub.answers import MAX_MESSAGE, bad_answer, decode_answer, error_for
from .._hub.convert import DuplicatedURL, Page, WhoAmI, structure
from .._hub.headers import parse_link_next, parse_rate_limit, parse_retry_after
from .._hub.redact import mask, scrub, secrets_of
from .._hub.retry import MAX_RETRY_AFTER, backoff, retry_delay
from .._hub.sse import MAX_SSE_LINE, LogLine, SSELineTooLong, SSEParser, parse_log_event
from .._hub.validate import check_count, check_flag, check_repo_id, check_seconds
from ..errors import (
    AiospaceError,
    BadAnswerError,
    ConflictError,
    HubHTTPError,
    InvalidArgumentError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    SpaceNotFoundError,
    TransportError,
)
from ..models import (
    CreatedSpace,
    DuplicatedSpace,
    RateLimit,
    SpaceHardware,
    SpaceHardwareInfo,
    SpaceInfo,
    SpaceRuntime,
    SpaceSecret,
    SpaceStorage,
    SpaceVariable,
    Volume,
    ZeroGpuQuota,
)
from .budget import Exchange, Listener, RateBudget

__all__ = [
    "CONFLICT_ATTEMPTS",
    "DEFAULT_ENDPOINT",
    "LISTING_PAGE",
    "MAX_ANSWER_BYTES",
    "MAX_LISTING_PAGES",
    "ClientStats",
    "HubSession",
    "RetryPolicy",
    "resolve_token",
]

log = logging.getLogger("aiospace")

DEFAULT_ENDPOINT = "https://huggingface.co"
#: Page size asked of an author listing (the Hub's largest; it pages further with ``Link``).
LISTING_PAGE = 1000
#: Pages :meth:`HubSession.author_runtimes` reads at most (100,000 Spaces at the Hub's page size).
MAX_LISTING_PAGES = 100
#: Attempts of a create that the Hub refuses with "another conflicting operation is in progress".
CONFLICT_ATTEMPTS = 10
_CONFLICTING_OPERATION = "another conflicting operation is in progress"
_S = TypeVar("_S", bound="HubSession")
_T = TypeVar("_T")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: The largest answer the client reads (``max_answer_bytes``): past it, a BadAnswerError.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
#: How much of an error answer's body is read (its message is cut far shorter anyway).
_ERROR_BODY_BYTES = 64 * 1024
#: A Last-Event-ID the client sends back: visible ASCII, not too long.
_SAFE_EVENT_ID = re.compile(r"[\x21-\x7e]{1,256}")
_NO_CONTENT_TYPE = ("Content-Type",)


@attrs.frozen
class RetryPolicy:
    """When and how long to retry. Delays are in Hub seconds (see :class:`~aiospace.Clock`).

    Reads retry on 5xx, 429 and transport failures; writes only where the Hub
    cannot have acted: 429, 503 with ``Retry-After``, or a connection that never
    opened. Backoff is exponential with full jitter; ``Retry-After`` wins when given.
    """

    read_attempts: int = 5
    write_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    #: A Retry-After longer than this is not waited for: the error is raised.
    max_retry_after: float = MAX_RETRY_AFTER
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential delay before retry number ``attempt`` (0-based)."""
        return backoff(attempt, self.base_delay, self.max_delay, rng)


@attrs.define
class ClientStats:
    """Counters of what the client did (readable at any time)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors: int = 0
    by_route: Counter[str] = attrs.field(factory=Counter)


def resolve_token(token: str | bool | None = None) -> str | None:
    """The token a session made with ``token=token`` sends: the argument; for None, ``HF_TOKEN``,
    then ``$HF_HOME/token``; for False, none. (The CLI masks it in everything it prints.)
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


#: What a token may hold: visible ASCII (a header can't carry a newline; the Hub's tokens are ASCII).
_TOKEN = re.compile(r"[\x21-\x7e]*")


def _check_token(token: str, source: str) -> str:
    """``token`` if a header can carry it; else an InvalidArgumentError that never quotes it."""
    if not _TOKEN.fullmatch(token):
        raise InvalidArgumentError(
            "token", f"{source} holds a space, a control character or a non-ASCII character"
        )
    return token


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _credentials_of(session: aiohttp.ClientSession | None) -> tuple[str, ...]:
    """The credentials in ``session``'s default ``Authorization`` headers: the part after
    the scheme (``Bearer``, ``Basic``...), or the whole value if it has none."""
    if session is None:
        return ()
    found: list[str] = []
    for name in ("Authorization", "Proxy-Authorization"):
        for value in session.headers.getall(name, ()):
            found.append(value.strip().partition(" ")[2].strip() or value.strip())
    return tuple(dict.fromkeys(f for f in found if f))


def _next_url(base: URL, location: str, *, encoded: bool = False) -> URL | None:
    """``location`` (a redirect's, a next page's) resolved against ``base``, if the client
    may go there: an http(s) URL whose host can be looked up, without a user name or
    password (aiohttp refuses those next to an ``Authorization`` header). None otherwise.
    """
    try:
        url = base.join(URL(location, encoded=encoded))
        host = url.raw_host
        if (
            url.scheme not in ("http", "https")
            or not host
            or url.user is not None
            or url.password is not None
        ):
            return None
        host.encode("idna")  # an empty or over-long label, or a character no host can hold
    except (TypeError, ValueError):  # UnicodeError is a ValueError
        return None
    return url


def _check_endpoint(raw: object) -> URL:
    """The Hub's base URL: http(s), a host, and nothing a base URL can't hold.

    A user name or password (``http://user:pass@host``), a query or a fragment is
    refused, and the message never quotes the URL (it may hold a password).
    """
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


class HubSession:
    """An async session with the Hub for Space calls (use :class:`aiospace.SpaceClient`).

    Use it as an async context manager::

        async with SpaceClient() as hub:
            runtime = await hub.get_space_runtime("user/space")

    Raises :class:`~aiospace.errors.InvalidArgumentError` for a bad endpoint, token or timeout.

    What every call raises (each method names what it adds):

    * :class:`~aiospace.errors.InvalidArgumentError` for a bad argument (a repo id,
      flavor, tier, sleep time, key...), before any request is sent;
    * a :class:`~aiospace.errors.HubHTTPError` subclass when the Hub refuses
      (:class:`~aiospace.errors.SpaceNotFoundError` 404, ``AuthenticationError`` 401,
      ``PermissionDeniedError`` 403, ``BadRequestError`` 400, ``ConflictError`` 409,
      ``RateLimitedError`` 429, ``ServerError`` 5xx), after the retries the
      :class:`RetryPolicy` allows;
    * :class:`~aiospace.errors.TransportError` when no readable answer came
      (:class:`~aiospace.errors.RequestTimeoutError` for a timeout,
      :class:`~aiospace.errors.BadAnswerError` for an answer the client can't read:
      not JSON, nested too deeply, a non-finite number, over ``max_answer_bytes``,
      an unknown shape, a redirect or paging loop).

    Args:
        token: a token; ``None`` looks up ``HF_TOKEN`` then ``$HF_HOME/token``;
            ``False`` sends none.
        endpoint: the Hub's base URL; ``None`` uses ``HF_ENDPOINT`` or the public Hub.
        session: an aiohttp session to use (not closed by the client).
        timeout: total seconds (real time) for one request.
        retry: the :class:`RetryPolicy`.
        clock: the clock for backoff and Retry-After (a faster one for the emulator).
        allow_insecure_http: send the token over plain http to a non-loopback host.
        logs_idle_timeout: seconds of silence that end a non-followed log read.
        logs_read_timeout: seconds (real time) a non-followed log read may take in all
            (then :class:`~aiospace.errors.RequestTimeoutError`).
        max_answer_bytes: the largest answer read (8 MiB); a bigger one is a
            :class:`~aiospace.errors.BadAnswerError`, read no further.
        max_log_line_bytes: the longest log line (and SSE line) read (1 MiB); a longer
            one ends the read with a :class:`~aiospace.errors.BadAnswerError`.
        seed: seeds the jitter, for reproducible runs.
    """

    def __init__(
        self,
        *,
        token: str | bool | None = None,
        endpoint: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        allow_insecure_http: bool = False,
        user_agent: str | None = None,
        max_redirects: int = 5,
        connection_limit: int = 100,
        logs_idle_timeout: float = 5.0,
        logs_read_timeout: float = 60.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        max_log_line_bytes: int = MAX_SSE_LINE,
        seed: int | None = None,
    ) -> None:
        for name, seconds in (
            ("timeout", timeout),
            ("logs_idle_timeout", logs_idle_timeout),
            ("logs_read_timeout", logs_read_timeout),
        ):
            check_seconds(seconds, name, positive=True, finite=True)
        for name, size in (
            ("max_answer_bytes", max_answer_bytes),
            ("max_log_line_bytes", max_log_line_bytes),
        ):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise InvalidArgumentError(name, f"{size!r} must be an int >= 1")
        if isinstance(max_redirects, bool) or not isinstance(max_redirects, int) or max_redirects < 0:
            raise InvalidArgumentError("max_redirects", f"{max_redirects!r} must be an int >= 0")
        url = _check_endpoint(endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
        self._endpoint = url
        self._origin = url.origin()
        self._base = str(url)
        self.__token = resolve_token(token)
        #: What no error may show: the token, as is (see scrub).
        self.__redact: tuple[str, ...] = (self.__token,) if self.__token else ()
        if self.__token and url.scheme == "http" and not _is_loopback(url.host) and not allow_insecure_http:
            raise InvalidArgumentError(
                "endpoint",
                f"refusing to send a token over plain http to {url.host} "
                "(use https, or pass allow_insecure_http=True)",
            )
        self._session = session
        #: The credentials the caller's own session sends on every request (its default
        #: ``Authorization`` headers): masked as the token is, and never taken to another host.
        self.__session_credentials = _credentials_of(session)
        self.__redact += self.__session_credentials
        self._owns_session = session is None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._entered = 0
        #: Log streams being read (closed by aclose(), even on a session passed in).
        self._streams: set[aiohttp.ClientResponse] = set()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self._user_agent = user_agent or f"aiospace/{__version__}; aiohttp/{aiohttp.__version__}"
        # Built once: the poll loop sends these on every request.
        self._plain_headers = {"User-Agent": self._user_agent}
        if self.__token:
            self._plain_headers["Authorization"] = f"Bearer {self.__token}"
        self._json_headers = {**self._plain_headers, "Content-Type": "application/json"}
        self._max_redirects = max_redirects
        self._connection_limit = connection_limit
        self.logs_idle_timeout = logs_idle_timeout
        self.logs_read_timeout = logs_read_timeout
        self.max_answer_bytes = max_answer_bytes
        self.max_log_line_bytes = max_log_line_bytes
        self._rng = random.Random(seed)
        self._listeners: list[Listener] = []
        # The latest answer that carried rate-limit headers; parsed only when asked.
        self._rate_headers: Mapping[str, str] | None = None
        self._rate_limit: RateLimit | None = None
        self._budget: RateBudget | None = None
        self.stats = ClientStats()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self: _S) -> _S:
        # Entering (again) opens the client, even after aclose(); nested entries share
        # one session, closed when the outermost one exits.
        self._closed = False
        self._ensure_session()
        self._entered += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entered = max(0, self._entered - 1)
        if not self._entered:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the session if the client made it; a call after this raises
        :class:`~aiospace.errors.InvalidArgumentError` (``async with`` opens it again).
        Idempotent.
        """
        self._closed = True
        self._entered = 0
        for response in tuple(self._streams):
            response.close()  # a followed log read ends (with an error) rather than hang on
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        """The session to send on; made on first use (outside ``async with`` too).

        A closed client, a closed session passed in, or a client used from another
        event loop than the one it opened in raises InvalidArgumentError, never
        aiohttp's RuntimeError, and never opens a session nobody will close.
        """
        if self._closed:
            raise InvalidArgumentError(
                "client", "this client is closed (use it inside `async with`, or make a new one)"
            )
        session = self._session
        loop = asyncio.get_running_loop()
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._connection_limit)
            session = self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
            self._session_loop = loop
        elif session.closed:
            raise InvalidArgumentError("session", "the aiohttp session passed in is closed")
        elif self._owns_session and self._session_loop is not loop:
            raise InvalidArgumentError(
                "client",
                "this client's session belongs to another event loop (make one client per asyncio.run())",
            )
        return session

    def __repr__(self) -> str:
        token = "set" if self.__token else "none"
        return f"{type(self).__name__}(endpoint={str(self._endpoint)!r}, token=<{token}>)"

    @property
    def budget(self) -> RateBudget:
        """The one request budget that every watch and watcher of this client shares.

        Made on first use (1,000 requests per 300 s until the Hub's headers say
        otherwise); it hears every answer this client gets.
        """
        if self._budget is None:
            self._budget = RateBudget(self.clock)
            self.subscribe(self._budget.hear)
        return self._budget

    @property
    def rate_limit(self) -> RateLimit | None:
        """The Hub's latest rate-limit headers (None until an answer carried them)."""
        if self._rate_limit is None and self._rate_headers is not None:
            self._rate_limit = parse_rate_limit(self._rate_headers)
        return self._rate_limit

    @property
    def endpoint(self) -> str:
        """The Hub's base URL."""
        return str(self._endpoint)

    @property
    def has_token(self) -> bool:
        """True if requests carry a token (the token itself is never exposed)."""
        return self.__token is not None

    def backoff(self, attempt: int) -> float:
        """The delay before retry ``attempt + 1`` under this client's :class:`RetryPolicy` (Hub seconds)."""
        return self.retry.backoff(attempt, self._rng)

    def redact(self, text: str) -> str:
        """``text`` with the token (and the credentials of a ``session=`` passed in) masked
        as errors mask them (``<redacted>``): for text a Space wrote, shown in an error."""
        return mask(text, self.__redact)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with an :class:`~aiospace._http.budget.Exchange` after every answer
        (or failure); returns the unsubscribe function (safe to call twice).

        The watch engine uses it to follow the rate budget and to poll sooner after a
        write. A listener that raises is logged and ignored: it never fails the request.
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # ------------------------------------------------------------------ transport

    def _headers(self, url: URL | None, has_body: bool) -> dict[str, str]:
        """Headers for a request to ``url`` (None: a path on the endpoint itself)."""
        if url is None or url.origin() == self._origin:
            return self._json_headers if has_body else self._plain_headers
        headers = {"User-Agent": self._user_agent}  # another host: never the token
        if has_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _transport_error(
        self, request: requests.Request, exc: BaseException, *, sent: bool = True
    ) -> TransportError:
        kwargs: dict[str, Any] = {
            "repo_id": request.repo_id,
            "method": request.method,
            "path": request.path,
        }
        if isinstance(exc, asyncio.TimeoutError):
            return RequestTimeoutError("no answer within the timeout", **kwargs)
        # aiohttp's message may quote what the server sent (a bad status line echoing the
        # token): masked. The aiohttp exception itself is never kept (it holds the headers).
        message = scrub(f"{type(exc).__name__}: {exc}", self._redactions(request), MAX_MESSAGE)
        return TransportError(message, sent=sent, **kwargs)

    def _redactions(self, request: requests.Request) -> tuple[str, ...]:
        """What no error about ``request`` may show: the token and the request's secret values."""
        return (*self.__redact, *secrets_of(request))

    async def _send(
        self,
        request: requests.Request,
        timeout: aiohttp.ClientTimeout | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        """Send ``request``; the caller releases the response.

        Redirects are followed by hand, so the token never leaves the endpoint's host. A
        redirect to a URL already visited, or more than ``max_redirects`` of them, is a
        :class:`BadAnswerError` (``reason="redirect"``), never retried.
        """
        session = self._ensure_session()
        path = request.path
        absolute = path.startswith(("http://", "https://"))
        url: URL | None = URL(path, encoded=True) if absolute else None
        target: URL | str = url if url is not None else self._base + path
        method = request.method
        body = request.body()
        params = request.params
        visited: set[URL] | None = None  # made on the first redirect only
        self.stats.requests += 1
        self.stats.by_route[request.route.name] += 1
        problem = f"more than {self._max_redirects} redirects"
        for _ in range(self._max_redirects + 1):
            headers = self._headers(url, body is not None)
            if extra_headers:
                headers = {**headers, **extra_headers}
            error: TransportError | None = None
            try:
                response = await session.request(
                    method,
                    target,
                    params=params or None,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=timeout or self._timeout,
                    # aiohttp would label a bodiless POST "application/octet-stream".
                    skip_auto_headers=_NO_CONTENT_TYPE if body is None else None,
                )
            except aiohttp.ClientConnectorError as exc:
                # The connection never opened: the Hub cannot have acted.
                error = self._transport_error(request, exc, sent=False)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                error = self._transport_error(request, exc)
            if error is not None:
                # Raised out of the except clause: aiohttp's exception (whose request_info
                # holds the Authorization header) is not even the error's __context__.
                raise error
            if response.status not in _REDIRECTS or "Location" not in response.headers:
                return response
            location = response.headers["Location"]
            if visited is None:
                visited = {response.url}
            next_url = _next_url(response.url, location)
            response.release()
            if next_url is None:
                problem = "a redirect to a Location that is not an http(s) URL the client may follow"
                break
            if next_url in visited:
                problem = "a redirect loop (a Location seen twice)"
                break
            if response.status == 303:
                method, body = "GET", None
            if self.__session_credentials and next_url.origin() != self._origin:
                # aiohttp adds a session's default headers to every request: no way to drop them.
                problem = "a redirect to another host, where the session's own Authorization header would go"
                break
            if body is not None and request.sensitive and next_url.origin() != self._origin:
                # The token stays home on a redirect elsewhere; so do the secret values of a body.
                problem = "a redirect of a request holding secret values to another host"
                break
            visited.add(next_url)
            url = target = next_url
            params = ()
        raise bad_answer(request, problem, "redirect", response.status, response.headers, self.__redact)

    async def _read_body(self, request: requests.Request, response: aiohttp.ClientResponse) -> bytes:
        """The answer's body, read up to ``max_answer_bytes`` (an error's, up to 64 KiB).

        Past the limit a success is a :class:`BadAnswerError` (``reason="too-large"``) and
        an error answer is cut (its message is short anyway); either way the rest is not
        read (the connection is closed). The Content-Length is checked before reading.
        """
        failed = response.status >= 400
        limit = min(self.max_answer_bytes, _ERROR_BODY_BYTES) if failed else self.max_answer_bytes
        length = response.content_length
        # A compressed answer's Content-Length counts the compressed bytes: 1 MB of gzip can
        # be 1 GB of JSON. Only an uncompressed one is read whole on its announced length.
        encoding = response.headers.get("Content-Encoding")  # the poll path: mostly absent
        compressed = encoding is not None and encoding.lower() != "identity"
        if length is not None and length <= limit and not compressed:
            return await response.read()  # the poll path: aiohttp reads no more than announced
        chunks: list[bytes] = []
        size = 0
        if length is None or failed or compressed:
            while size <= limit:
                chunk = await response.content.readany()
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                size += len(chunk)
        response.close()
        if failed:
            return b"".join(chunks)[:limit]
        kind = "compressed bytes" if compressed else "bytes"
        announced = "" if length is None else f" ({length} {kind} announced)"
        raise bad_answer(
            request,
            f"over the limit of {limit} bytes{announced}",
            "too-large",
            response.status,
            response.headers,
            self.__redact,
        )

    async def _exchange_once(self, request: requests.Request) -> tuple[int, Mapping[str, str], bytes]:
        response = await self._send(request)
        error: TransportError | None = None
        try:
            body = await self._read_body(request, response)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = self._transport_error(request, exc)
        finally:
            response.release()
        if error is not None:
            raise error
        return response.status, response.headers, body

    def _notify(
        self,
        request: requests.Request,
        status: int | None,
        rate_limit: RateLimit | None,
        retry_after: float | None,
    ) -> None:
        exchange = Exchange(
            request.route.name, request.method, request.path, request.repo_id, status, rate_limit, retry_after
        )
        for listener in tuple(self._listeners):
            try:
                listener(exchange)
            except Exception:
                log.exception("a subscribe() listener raised; ignored")

    def _may_retry(self, request: requests.Request, error: BaseException, attempt: int) -> bool:
        policy = self.retry
        if attempt + 1 >= (policy.read_attempts if request.is_read else policy.write_attempts):
            return False
        if isinstance(error, HubHTTPError):
            if error.status not in policy.retry_statuses:
                return False
            if request.is_read:
                return True
            # A write is replayed only where the Hub cannot have acted on it.
            return isinstance(error, RateLimitedError) or (
                isinstance(error, ServerError) and error.status == 503 and error.retry_after is not None
            )
        if isinstance(error, BadAnswerError):
            # Garbled bytes may read fine next time; a loop, a size or a shape will not.
            return request.is_read and error.reason == "not-json"
        if isinstance(error, TransportError):
            return request.is_read or not error.sent
        return False

    async def _request(
        self, request: requests.Request, *, retry: bool = True, read: bool = True
    ) -> tuple[Any, Mapping[str, str], int, bytes]:
        """Send (with retries unless ``retry`` is False); return the decoded JSON, the headers,
        the status and the body's bytes.

        ``read=False`` checks the status only (None for the JSON): for the calls whose
        answer the official client never reads, so that no shape of it can fail them.
        """
        check_flag(retry, "retry")
        attempt = 0
        while True:
            status: int | None = None
            retry_after: float | None = None
            try:
                status, headers, body = await self._exchange_once(request)
                carries_rate = "RateLimit" in headers or "RateLimit-Policy" in headers
                if carries_rate:
                    self._rate_headers, self._rate_limit = headers, None
                if status == 429:
                    self.stats.rate_limited += 1
                if status >= 400:
                    retry_after = parse_retry_after(headers)
                if self._listeners:
                    rate_limit = self.rate_limit if carries_rate else None
                    self._notify(request, status, rate_limit, retry_after)
                if not read:
                    if status >= 400:
                        raise error_for(request, status, headers, body, self.__redact)
                    return None, headers, status, body
                data = decode_answer(request, status, headers, body, self.__redact)
                return data, headers, status, body
            except (HubHTTPError, TransportError) as error:
                if status is None and self._listeners:
                    self._notify(request, None, None, None)
                self.stats.errors += 1
                if not retry or not self._may_retry(request, error, attempt):
                    raise
                delay = self._retry_delay(error, attempt)
                if delay is None:
                    raise
                log.debug("retrying %s %s in %.2fs after: %s", request.method, request.path, delay, error)
                attempt += 1
                self.stats.retries += 1
                await self.clock.sleep(delay)

    def _retry_delay(self, error: BaseException, attempt: int) -> float | None:
        """Hub seconds to wait before retry ``attempt + 1``: the Hub's ``Retry-After``, else
        the policy's backoff; None when the Hub asks for longer than ``max_retry_after``."""
        return retry_delay(
            getattr(error, "retry_after", None), lambda: self.backoff(attempt), self.retry.max_retry_after
        )

    async def _read(self, request: requests.Request, cls: type[_T], *, retry: bool = True) -> _T:
        """Send ``request`` and structure its answer as ``cls`` (a BadAnswerError if it can't)."""
        data, headers, status, body = await self._request(request, retry=retry)
        return structure(data, cls, request, status, headers, self.__redact, body=body)

    async def _call_unread(self, request: requests.Request) -> None:
        await self._request(request, read=False)

    async def _runtime(self, request: requests.Request, *, retry: bool = True) -> SpaceRuntime:
        return await self._read(request, SpaceRuntime, retry=retry)

    # ------------------------------------------------------------------ runtime calls

    async def get_space_runtime(self, repo_id: str, *, retry: bool = True) -> SpaceRuntime:
        """The Space's runtime: stage, hardware (current and requested), sleep time, storage.

        ``retry=False`` makes one attempt (the watch engine schedules its own retries).
        Raises :class:`~aiospace.errors.HubHTTPError` subclasses for the Hub's refusals
        and :class:`~aiospace.errors.TransportError` when no readable answer came.
        """
        return await self._runtime(requests.get_space_runtime(repo_id), retry=retry)

    async def request_space_hardware(
        self, repo_id: str, hardware: SpaceHardware | str, *, sleep_time: int | None = None
    ) -> SpaceRuntime:
        """Ask for a hardware flavor (and optionally a sleep time); the Space rebuilds on it."""
        return await self._runtime(requests.request_space_hardware(repo_id, hardware, sleep_time))

    async def set_space_sleep_time(self, repo_id: str, sleep_time: int) -> SpaceRuntime:
        """Seconds without visits before the Space sleeps (-1: never). Not on free hardware."""
        return await self._runtime(requests.set_space_sleep_time(repo_id, sleep_time))

    async def pause_space(self, repo_id: str) -> SpaceRuntime:
        """Pause the Space (stage ``PAUSED``, not billed); only a restart leaves it."""
        return await self._runtime(requests.pause_space(repo_id))

    async def restart_space(self, repo_id: str, *, factory_reboot: bool = False) -> SpaceRuntime:
        """Restart the Space; ``factory_reboot`` rebuilds it without cache."""
        return await self._runtime(requests.restart_space(repo_id, factory_reboot))

    async def enable_space_dev_mode(self, repo_id: str) -> SpaceRuntime:
        """Turn dev mode on (needs a PRO or Team plan on the real Hub)."""
        return await self._runtime(requests.set_space_dev_mode(repo_id, True))

    async def disable_space_dev_mode(self, repo_id: str) -> SpaceRuntime:
        """Turn dev mode off."""
        return await self._runtime(requests.set_space_dev_mode(repo_id, False))

    async def add_space_secret(
        self, repo_id: str, key: str, value: str, *, description: str | None = None
    ) -> None:
        """Add or update a secret. Its value is write-only and never logged."""
        await self._request(requests.add_space_secret(repo_id, key, value, description))

    async def delete_space_secret(self, repo_id: str, key: str) -> None:
        """Delete a secret (a missing key is not an error)."""
        await self._request(requests.delete_space_secret(repo_id, key))

    async def get_space_secrets(self, repo_id: str) -> dict[str, SpaceSecret]:
        """The Space's secrets by key: descriptions and update times, never values."""
        return await self._read(requests.get_space_secrets(repo_id), dict[str, SpaceSecret])

    async def get_space_variables(self, repo_id: str) -> dict[str, SpaceVariable]:
        """The Space's variables by key."""
        return await self._read(requests.get_space_variables(repo_id), dict[str, SpaceVariable])

    async def add_space_variable(
        self, repo_id: str, key: str, value: str, *, description: str | None = None
    ) -> dict[str, SpaceVariable]:
        """Add or update a variable; returns all the Space's variables."""
        request = requests.add_space_variable(repo_id, key, value, description)
        return await self._read(request, dict[str, SpaceVariable])

    async def delete_space_variable(self, repo_id: str, key: str) -> dict[str, SpaceVariable]:
        """Delete a variable (a missing key is not an error); returns the remaining ones."""
        return await self._read(requests.delete_space_variable(repo_id, key), dict[str, SpaceVariable])

    async def request_space_storage(self, repo_id: str, storage: SpaceStorage | str) -> SpaceRuntime:
        """Attach persistent storage of a tier (``small``, ``medium``, ``large``)."""
        return await self._runtime(requests.request_space_storage(repo_id, storage))

    async def delete_space_storage(self, repo_id: str) -> SpaceRuntime:
        """Remove the Space's persistent storage (a 400 if it has none)."""
        return await self._runtime(requests.delete_space_storage(repo_id))

    async def duplicate_space(
        self,
        from_id: str,
        to_id: str | None = None,
        *,
        private: bool | None = None,
        visibility: str | None = None,
        hardware: SpaceHardware | str | None = None,
        storage: SpaceStorage | str | None = None,
        sleep_time: int | None = None,
        secrets: Iterable[Mapping[str, str]] | None = None,
        variables: Iterable[Mapping[str, str]] | None = None,
        volumes: Iterable[Volume] | None = None,
        exist_ok: bool = False,
    ) -> DuplicatedSpace:
        """Copy a Space to ``to_id`` (default: the caller's namespace, same name).

        ``visibility`` is ``"public"``, ``"private"`` or ``"protected"`` (or give
        ``private``, not both; default: the source's). ``volumes`` are mounted in the copy.
        With ``exist_ok``, an existing target is not an error: the answer then says
        ``existed=True`` (nothing was copied). The result's
        ``files_copy_pending`` says the Hub still copies large files in the background.
        """
        check_repo_id(from_id, "from_id")
        check_flag(exist_ok, "exist_ok")
        # Read one-shot iterables once: the request may be built twice.
        secret_list = None if secrets is None else list(secrets)
        variable_list = None if variables is None else list(variables)
        volume_list = None if volumes is None else list(volumes)

        def build(target: str) -> requests.Request:
            return requests.duplicate_space(
                from_id,
                target,
                private=private,
                visibility=visibility,
                hardware=hardware,
                storage=storage,
                sleep_time=sleep_time,
                secrets=secret_list,
                variables=variable_list,
                volumes=volume_list,
            )

        if to_id is None:
            build(from_id)  # validate every argument before whoami goes out
            to_id = f"{await self.whoami()}/{from_id.split('/')[1]}"
        request = build(to_id)
        try:
            answer = await self._read(request, DuplicatedURL)
        except ConflictError:
            if not exist_ok:
                raise
            return DuplicatedSpace(repo_id=to_id, url=self._space_url(to_id), existed=True)
        return DuplicatedSpace(repo_id=to_id, url=answer.url, files_copy_pending=answer.files_copy_pending)

    def _space_url(self, repo_id: str) -> str:
        return f"{self.endpoint}/spaces/{repo_id}"

    async def set_space_volumes(self, repo_id: str, volumes: Iterable[Volume]) -> None:
        """Mount ``volumes`` in the Space, replacing those it had; the Space rebuilds.

        Each :class:`~aiospace.Volume` mounts a bucket, model, dataset or Space at an
        absolute path. Volumes replace persistent storage. A static Space can't have
        any (400).
        """
        await self._call_unread(requests.set_space_volumes(repo_id, volumes))

    async def delete_space_volumes(self, repo_id: str) -> None:
        """Unmount every volume of the Space (a 400 if it has none); the Space rebuilds."""
        await self._call_unread(requests.delete_space_volumes(repo_id))

    async def create_space(
        self,
        repo_id: str,
        *,
        sdk: str,
        private: bool | None = None,
        visibility: str | None = None,
        hardware: SpaceHardware | str | None = None,
        sleep_time: int | None = None,
        secrets: Iterable[Mapping[str, str]] | None = None,
        variables: Iterable[Mapping[str, str]] | None = None,
        volumes: Iterable[Volume] | None = None,
        exist_ok: bool = False,
    ) -> CreatedSpace:
        """Create a Space (``HfApi.create_repo(repo_type="space")``); returns its id and URL.

        ``sdk`` is ``gradio``, ``streamlit``, ``docker`` or ``static`` (static Spaces
        run no hardware). ``visibility`` is ``"public"``, ``"private"`` or
        ``"protected"`` (a public app served from private files), or give ``private``,
        not both; None is the Hub's default. ``secrets`` and ``variables`` are
        ``{"key", "value", "description"?}`` mappings.

        A 409 "another conflicting operation is in progress" (the Hub creates one repo
        at a time per user) is retried with backoff. With ``exist_ok``, a Space that
        already exists is not an error, as in the official client: a 409, or a 401,
        402 or 403 (no right to create there) when the Space can be read.
        """
        request = requests.create_space(
            repo_id,
            sdk=sdk,
            private=private,
            visibility=visibility,
            hardware=hardware,
            sleep_time=sleep_time,
            secrets=secrets,
            variables=variables,
            volumes=volumes,
        )
        check_flag(exist_ok, "exist_ok")
        attempt = 0
        while True:
            try:
                answer = await self._read(request, DuplicatedURL)
            except ConflictError as error:
                if _CONFLICTING_OPERATION in error.message.lower():
                    # Not "it exists": the Hub is busy with another create of this user's.
                    if attempt + 1 >= CONFLICT_ATTEMPTS:
                        raise
                    await self.clock.sleep(self.backoff(attempt))
                    attempt += 1
                    self.stats.retries += 1
                    continue
                if not exist_ok:
                    raise
                return CreatedSpace(repo_id=repo_id, url=self._space_url(repo_id))
            except HubHTTPError as error:
                if not (exist_ok and error.status in (401, 402, 403)):
                    raise
                try:
                    await self.space_info(repo_id)
                except HubHTTPError:
                    raise error from None
                return CreatedSpace(repo_id=repo_id, url=self._space_url(repo_id))
            return CreatedSpace(repo_id=repo_id, url=answer.url)

    async def delete_space(self, repo_id: str, *, missing_ok: bool = False) -> None:
        """Delete the Space, for good (``HfApi.delete_repo(repo_type="space")``).

        A missing Space is a :class:`~aiospace.errors.SpaceNotFoundError`, unless
        ``missing_ok``. Watches of the Space end with that error on their next poll.
        """
        request = requests.delete_space(repo_id)
        check_flag(missing_ok, "missing_ok")
        try:
            await self._call_unread(request)
        except SpaceNotFoundError:
            if not missing_ok:
                raise

    async def get_zero_gpu_quota(self) -> ZeroGpuQuota:
        """The caller's ZeroGPU quota: base and remaining GPU-seconds, when it resets.

        Needs a token (an :class:`~aiospace.errors.AuthenticationError` without one).
        """
        return await self._read(requests.get_zero_gpu_quota(), ZeroGpuQuota)

    async def whoami(self) -> str:
        """The name of the user the token belongs to."""
        return (await self._read(requests.whoami(), WhoAmI)).name

    async def list_spaces_hardware(self) -> list[SpaceHardwareInfo]:
        """The hardware catalogue: every flavor with its CPU, RAM, accelerator and unit cost."""
        return await self._read(requests.list_spaces_hardware(), list[SpaceHardwareInfo])

    async def space_info(
        self, repo_id: str, *, expand: Iterable[str] | None = None, retry: bool = True
    ) -> SpaceInfo:
        """The Space's info (id, author, sdk, private, head ``sha``, runtime...).

        ``expand`` names the properties to answer (all by default); ``retry=False``
        makes one attempt (the watch engine schedules its own retries).
        """
        return await self._read(requests.space_info(repo_id, expand), SpaceInfo, retry=retry)

    async def list_spaces(
        self,
        *,
        author: str | None = None,
        search: str | None = None,
        limit: int | None = None,
        expand: Iterable[str] | None = None,
    ) -> AsyncGenerator[SpaceInfo, None]:
        """Iterate over Spaces, following the ``Link: rel="next"`` pages; stops after ``limit``.

        Raises :class:`~aiospace.errors.BadAnswerError` for an answer that is not a list
        of Spaces, a page that links back to a page already read, or an empty page that
        links to another.
        """
        request = requests.list_spaces(author=author, search=search, limit=limit, expand=expand)
        seen = 0
        async for page, headers, status in self._pages(request):
            for item in page:
                yield structure(item, SpaceInfo, request, status, headers, self.__redact)
                seen += 1
                if limit is not None and seen >= limit:
                    return

    async def author_runtimes(
        self,
        author: str,
        *,
        spaces: Collection[str] | None = None,
        retry: bool = True,
        before_page: Callable[[], Awaitable[None]] | None = None,
    ) -> dict[str, SpaceRuntime]:
        """The runtime of every Space of ``author`` that the token can see, by repo id.

        One listing (``expand=runtime``, up to :data:`LISTING_PAGE` Spaces a page) refreshes
        them all. With ``spaces``, only those are kept and paging stops once all are found.
        ``before_page`` is awaited before each page after the first (the watch engine spends
        its rate budget there). An item the client can't read is left out (its Space can
        be read on its own). Raises as :meth:`list_spaces`, and past
        :data:`MAX_LISTING_PAGES` pages (a listing without end would never return).
        """
        request = requests.list_spaces(author=author, expand=["runtime"], limit=LISTING_PAGE)
        wanted = None if spaces is None else set(spaces)
        found: dict[str, SpaceRuntime] = {}
        pages = self._pages(request, retry=retry, before_page=before_page, max_pages=MAX_LISTING_PAGES)
        async for page, _, _ in pages:
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
            if wanted is not None and len(found) == len(wanted):
                break
        return found

    async def _pages(
        self,
        request: requests.Request,
        *,
        retry: bool = True,
        before_page: Callable[[], Awaitable[None]] | None = None,
        max_pages: int | None = None,
    ) -> AsyncGenerator[tuple[list[Any], Mapping[str, str], int], None]:
        """The one paging path: each page's JSON list (and its headers and status), following
        ``Link: rel="next"``.

        A relative link is resolved against the page that carried it. Paging ends with a
        :class:`BadAnswerError` (``reason="paging-loop"``) at a link back to a page already
        read, at an empty page that links to another (endless distinct empty pages would
        never yield, so no ``limit`` would end them), and past ``max_pages`` pages.
        """
        page = self._endpoint.join(URL(request.path, encoded=True)).with_query(request.params)
        visited = {page}
        while True:
            data, headers, status, _ = await self._request(request, retry=retry)
            items = structure(data, Page, request, status, headers, self.__redact)
            yield items, headers, status
            next_url = parse_link_next(headers.get("Link"))
            if not next_url:
                return
            next_page = _next_url(page, next_url, encoded=True)
            problem = None
            if next_page is None:
                problem = "a next page that is not an http(s) URL the client may follow"
            elif next_page in visited:
                problem = "a next page already read"
            elif self.__session_credentials and next_page.origin() != self._origin:
                problem = "a next page on another host, where the session's own Authorization header would go"
            elif not items:
                problem = "an empty page that links to a next page"
            elif max_pages is not None and len(visited) >= max_pages:
                problem = f"more than {max_pages} pages"
            if problem is not None or next_page is None:
                raise bad_answer(request, problem or "", "paging-loop", status, headers, self.__redact)
            page = next_page
            visited.add(page)
            if before_page is not None:
                await before_page()
            request = attrs.evolve(request, path=str(page), params=())

    # ------------------------------------------------------------------ logs

    async def fetch_space_logs(
        self,
        repo_id: str,
        *,
        build: bool = False,
        follow: bool = False,
        max_reconnects: int = 5,
        since: datetime | timedelta | None = None,
    ) -> AsyncGenerator[str, None]:
        """Iterate over the lines of the Space's run log (or build log with ``build``).

        Without ``follow``, yields what is logged so far and stops (within
        ``logs_read_timeout`` seconds, else :class:`~aiospace.errors.RequestTimeoutError`).
        With ``follow``, keeps reading while the Space runs, reconnecting when the stream
        is cut; it ends when the Hub closes it. A reconnection resumes where the last
        line left off: after its event id (``Last-Event-ID``) when the Hub sends ids,
        else after its (timestamp, text), else by counting lines. A line longer than
        ``max_log_line_bytes`` is a :class:`~aiospace.errors.BadAnswerError`. Leaving
        the loop early closes the connection (with ``aclose()``, or when the generator
        is collected).

        ``since`` (an aware datetime, or a timedelta back from the Hub's now) skips the
        lines stamped earlier; a line without a timestamp is always yielded.
        """
        request = requests.fetch_space_logs(repo_id, build)
        check_flag(follow, "follow")
        check_count(max_reconnects, "max_reconnects")
        cutoff = _log_cutoff(since, self.clock)
        cursor = _LogCursor()
        failures = 0
        loop = asyncio.get_running_loop()
        deadline = None if follow else loop.time() + self.logs_read_timeout
        stream_timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self._timeout.total,
            sock_read=None if follow else self.logs_idle_timeout,
        )
        while True:
            error: AiospaceError | None = None
            response: aiohttp.ClientResponse | None = None
            try:
                # The stream's timeouts spare the body (it may go on for ever); the answer's
                # head must come within the request timeout (and the read's deadline) all the same.
                head_timeout = self._timeout.total
                left = math.inf if deadline is None else max(0.0, deadline - loop.time())
                if head_timeout is None or left < head_timeout:
                    head_timeout = left
                with anyio.move_on_after(head_timeout):
                    response = await self._send(request, stream_timeout, cursor.resume_headers())
                if response is None:
                    if head_timeout == left:
                        raise self._log_read_too_long(request)
                    raise self._transport_error(request, asyncio.TimeoutError())
                self._streams.add(response)  # aclose() cuts it: a follow never outlives the client
                if response.status >= 400:
                    body = await self._read_body(request, response)
                    raise error_for(request, response.status, response.headers, body, self.__redact)
                parser = SSEParser(self.max_log_line_bytes)
                replay = cursor.replay()
                while True:
                    try:
                        chunk = await response.content.readany()
                    except asyncio.TimeoutError:
                        if follow:
                            raise
                        return  # not following: silence means the backlog is over
                    if not chunk:
                        break
                    if deadline is not None and loop.time() > deadline:
                        error = self._log_read_too_long(request)
                        break
                    for event in parser.feed(chunk):
                        line = parse_log_event(event)
                        if line is None:
                            if not follow:
                                return  # a keep-alive after the backlog: nothing more for now
                            continue
                        if replay.seen(line):
                            continue
                        cursor.delivered(event.id, line)  # skipped by since: delivered all the same
                        failures = 0
                        if cutoff is None or line.timestamp is None or line.timestamp >= cutoff:
                            yield line.text
                if error is None:
                    if not (follow and parser.pending):
                        return
                    error = TransportError(
                        "log stream cut mid-event", repo_id=repo_id, method=request.method, path=request.path
                    )
            except SSELineTooLong:
                error = bad_answer(
                    request,
                    f"a log line over the limit of {self.max_log_line_bytes} bytes",
                    "line-too-long",
                    None if response is None else response.status,
                    None if response is None else response.headers,
                    self.__redact,
                )
            except (
                TransportError,
                ServerError,
                RateLimitedError,
            ) as exc:  # first: a RequestTimeoutError is a TimeoutError
                error = exc
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                error = self._transport_error(request, exc)
            finally:
                if response is not None:
                    self._streams.discard(response)
                    response.close()  # a stream is never pooled: nothing stays open after a break
            failures += 1
            # Raised out of the except clauses: no aiohttp exception rides along as __context__.
            if not follow or failures > max_reconnects or isinstance(error, BadAnswerError):
                raise error
            # A 429 or 503 of a followed log is waited out as a read's would be, then the
            # stream resumes where it left off.
            delay = self._retry_delay(error, failures - 1)
            if delay is None:
                raise error
            await self.clock.sleep(delay)

    def _log_read_too_long(self, request: requests.Request) -> RequestTimeoutError:
        return RequestTimeoutError(
            f"the log read took longer than {self.logs_read_timeout:g}s",
            repo_id=request.repo_id,
            method=request.method,
            path=request.path,
        )


def _log_cutoff(since: object, clock: Clock) -> datetime | None:
    """The earliest timestamp :meth:`HubSession.fetch_space_logs` yields (None: every line)."""
    if since is None:
        return None
    if isinstance(since, timedelta):
        if since < timedelta(0):
            raise InvalidArgumentError("since", "a timedelta must be >= 0 (how far back)")
        return clock.wall() - since
    if isinstance(since, datetime):
        if since.utcoffset() is None:  # no tzinfo, or one that gives no offset: naive all the same
            raise InvalidArgumentError("since", "a datetime must be aware (give its tzinfo, e.g. UTC)")
        return since
    raise InvalidArgumentError("since", f"expected a datetime or a timedelta, got {type(since).__name__}")


class _Replay:
    """Which lines of a reconnected stream were delivered already (see :class:`_LogCursor`)."""

    __slots__ = ("_by_count", "_cursor", "_index", "_skipping", "_stamp_texts")

    def __init__(self, cursor: _LogCursor) -> None:
        self._cursor = cursor
        self._index = 0
        self._skipping = True
        self._stamp_texts = Counter(cursor.stamp_texts)
        self._by_count = cursor.last_id is None and cursor.stamp is None

    def seen(self, line: LogLine) -> bool:
        """True if ``line`` (the next one of this connection) was delivered before."""
        cursor = self._cursor
        self._index += 1
        if cursor.last_id is not None:
            # The Hub resumed after Last-Event-ID: everything it sends is new (even lines
            # with lower ids: the log was replaced, by a new build, since).
            return False
        if self._by_count:
            return self._index <= cursor.count
        if not self._skipping:
            return False
        stamp = line.timestamp
        if stamp is not None and cursor.stamp is not None:
            if _before(stamp, cursor.stamp):
                return True
            if stamp == cursor.stamp and self._stamp_texts[line.text] > 0:
                self._stamp_texts[line.text] -= 1
                return True
        self._skipping = False  # past the watermark: everything from here on is new
        return False


def _before(a: datetime, b: datetime) -> bool:
    try:
        return a < b
    except TypeError:  # one naive, one aware: can't tell
        return False


class _LogCursor:
    """Where a followed log read is: the last event id, the (timestamp, text) watermark, the count."""

    __slots__ = ("count", "last_id", "stamp", "stamp_texts")

    def __init__(self) -> None:
        self.count = 0
        self.last_id: str | None = None
        self.stamp: datetime | None = None
        #: The texts delivered at ``stamp`` (several lines may share a timestamp).
        self.stamp_texts: Counter[str] = Counter()

    def resume_headers(self) -> dict[str, str] | None:
        """``Last-Event-ID`` once the Hub sent an id."""
        return None if self.last_id is None else {"Last-Event-ID": self.last_id}

    def replay(self) -> _Replay:
        """The skip rule for a new connection."""
        return _Replay(self)

    def delivered(self, event_id: str | None, line: LogLine) -> None:
        """``line`` was yielded to the caller."""
        self.count += 1
        if event_id is not None and _SAFE_EVENT_ID.fullmatch(event_id):
            self.last_id = event_id
        if line.timestamp is not None:
            if line.timestamp != self.stamp:
                self.stamp = line.timestamp
                self.stamp_texts.clear()
            self.stamp_texts[line.text] += 1

"""``Transport``: one aiohttp session to the Hub, and everything between a request and its answer.

It sends a :class:`~aiospace._hub.requests.Request` and gives back the answer's decoded JSON,
headers, status and bytes. It owns the aiohttp session (its own, or the caller's ``session=``),
the headers (the token goes to the endpoint's origin only), the one check of every hop
(redirects and next pages), bounded reads, retries (:class:`RetryPolicy`), the listeners of
each exchange and the rate budget. It knows nothing of models: the client structures answers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .._clock import Clock
from .._hub.answers import MAX_MESSAGE, bad_answer, decode_answer, error_for
from .._hub.headers import parse_rate_limit, parse_retry_after
from .._hub.requests import Request
from .._hub.retry import MAX_RETRY_AFTER, backoff, retry_delay
from .._hub.validate import check_flag
from ..errors import (
    BadAnswerError,
    HubHTTPError,
    InvalidArgumentError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    SpaceNotFoundError,
    TransportError,
)
from ..models import RateLimit
from .budget import Exchange, Listener, RateBudget, WritesOnly
from .endpoint import Endpoint

__all__ = ["MAX_ANSWER_BYTES", "ClientStats", "RetryPolicy", "Transport"]

log = logging.getLogger("aiospace")

#: The largest answer the client reads (``max_answer_bytes``): past it, a BadAnswerError.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
#: How much of an error answer's body is read (its message is cut far shorter anyway).
_ERROR_BODY_BYTES = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NO_CONTENT_TYPE = ("Content-Type",)
#: The methods aiohttp labels ``application/octet-stream`` when they carry no body.
_LABELLED = frozenset({"POST", "PUT", "PATCH"})


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


def _may_retry(policy: RetryPolicy, request: Request, error: BaseException, attempt: int) -> bool:
    """Whether ``request``, failed with ``error`` on attempt ``attempt`` (0-based), may go again."""
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


#: asyncio reads a socket into a fresh 256 KiB buffer, then shrinks it to what came. glibc serves
#: a block that size with mmap (its threshold starts at 128 KiB), so every answer would cost an
#: mmap, an mremap and a munmap (three system calls and a page fault per read, seen with strace);
#: glibc raises the threshold past a block once one that size is freed, which a process may
#: never happen to do.
_ALLOCATOR_SETTLED = False


def _settle_allocator() -> None:
    """Free one 512 KiB block, once per process: glibc then serves asyncio's read buffers from
    its heap (no system call per read). Elsewhere, a short-lived allocation and nothing more."""
    global _ALLOCATOR_SETTLED
    if not _ALLOCATOR_SETTLED:
        _ALLOCATOR_SETTLED = True
        block = bytearray(512 * 1024)
        del block


def _frozen_headers(headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
    # Built once: aiohttp merges a multidict into its own without converting it first.
    return CIMultiDictProxy(CIMultiDict(headers))


class Transport:
    """Sends requests to the Hub at ``endpoint`` on one aiohttp session.

    The session is the caller's ``session`` (never closed here), else one made on first use
    and closed by :meth:`aclose`. Every argument is trusted: :class:`aiospace.SpaceClient`
    checks them. The endpoint's redactor masks the token and credentials in every error; a
    request's own secret values are masked in the errors about it.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        session: aiohttp.ClientSession | None,
        *,
        timeout: float,
        retry: RetryPolicy,
        clock: Clock,
        user_agent: str,
        max_redirects: int,
        connection_limit: int,
        max_answer_bytes: int,
        seed: int | None,
    ) -> None:
        _settle_allocator()
        self.endpoint = endpoint.url
        self._origin = endpoint.url.origin()
        self._base = str(endpoint.url)
        self._session = session
        self._owns_session = session is None
        #: The caller's session sends its own Authorization header to every host it is given.
        self._session_credentials = endpoint.session_credentials
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._entered = 0
        #: Log streams being read (closed by aclose(), even on a session passed in).
        self._streams: set[aiohttp.ClientResponse] = set()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.redact = endpoint.redact
        self.retry = retry
        self.clock = clock
        token = endpoint.token
        #: Requests go without any credentials: a 404 says so (a private Space reads as missing).
        self._anonymous = not token and not endpoint.session_credentials
        home = {"User-Agent": user_agent, **({"Authorization": f"Bearer {token}"} if token else {})}
        json_type = {"Content-Type": "application/json"}
        # Built once: the poll loop sends these on every request. Another host never gets the token.
        self._headers = {
            (True, False): _frozen_headers(home),
            (True, True): _frozen_headers({**home, **json_type}),
            (False, False): _frozen_headers({"User-Agent": user_agent}),
            (False, True): _frozen_headers({"User-Agent": user_agent, **json_type}),
        }
        self._max_redirects = max_redirects
        self._connection_limit = connection_limit
        self.max_answer_bytes = max_answer_bytes
        self._rng = random.Random(seed)
        self._listeners: list[Listener] = []
        #: How many of them hear reads too (not :class:`WritesOnly`).
        self._hear_reads = 0
        # The latest answer that carried rate-limit headers; parsed only when asked.
        self._rate_headers: Mapping[str, str] | None = None
        self._rate_limit: RateLimit | None = None
        self._budget: RateBudget | None = None
        self.stats = ClientStats()

    # ------------------------------------------------------------------ lifecycle

    def enter(self) -> None:
        """Open for use (again, even after :meth:`aclose`); entries nest, see :meth:`leave`."""
        self._closed = False
        self.session()
        self._entered += 1

    async def leave(self) -> None:
        """End one :meth:`enter`; the outermost one closes (:meth:`aclose`)."""
        self._entered = max(0, self._entered - 1)
        if not self._entered:
            await self.aclose()

    async def aclose(self) -> None:
        """Close: cut every log stream, close the session if made here. Idempotent."""
        self._closed = True
        self._entered = 0
        for response in tuple(self._streams):
            response.close()  # a followed log read ends (with an error) rather than hang on
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def session(self) -> aiohttp.ClientSession:
        """The session to send on; made on first use (outside ``async with`` too).

        A closed transport, a closed session passed in, or use from another event loop than
        the one the session was made in raises :class:`~aiospace.errors.InvalidArgumentError`
        (never aiohttp's RuntimeError), and never opens a session nobody will close.
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

    def headers(self, *, token: bool) -> Mapping[str, str]:
        """The headers of a bodiless request: with the token (if any) or without it."""
        return self._headers[token, False]

    @property
    def timeout(self) -> float:
        """The seconds (real time) one request may take in all."""
        return self._timeout.total or 0.0

    # ------------------------------------------------------------------ listeners, budget, retries

    @property
    def budget(self) -> RateBudget:
        """The one request budget of this transport, made on first use; it hears every answer."""
        if self._budget is None:
            self._budget = RateBudget(self.clock)  # told of each answer by call(), no Exchange needed
        return self._budget

    @property
    def rate_limit(self) -> RateLimit | None:
        """The Hub's latest rate-limit headers (None until an answer carried them)."""
        if self._rate_limit is None and self._rate_headers is not None:
            self._rate_limit = parse_rate_limit(self._rate_headers)
        return self._rate_limit

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with an :class:`Exchange` after every answer (or failure); returns the
        unsubscribe function (safe to call twice). A listener that raises is logged and ignored."""
        self._listeners.append(listener)
        self._hear_reads += not isinstance(listener, WritesOnly)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
                self._hear_reads -= not isinstance(listener, WritesOnly)

        return unsubscribe

    def _notify(
        self, request: Request, status: int | None, rate_limit: RateLimit | None, retry_after: float | None
    ) -> None:
        route = request.route
        exchange = Exchange(
            route.name, route.method, request.path, request.repo_id, status, rate_limit, retry_after
        )
        quiet = request.route.method == "GET"  # a read: the WritesOnly listeners skip it
        for listener in tuple(self._listeners):
            if quiet and type(listener) is WritesOnly:
                continue
            try:
                listener(exchange)
            except Exception:
                log.exception("a subscribe() listener raised; ignored")

    @staticmethod
    def _tell_budget(
        budget: RateBudget, status: int, rate_limit: RateLimit | None, retry_after: float | None
    ) -> None:
        """The budget learns from an answer's rate-limit headers and from a 429 (as a listener
        would: a failure of its own is logged and ignored, never the request's)."""
        try:
            budget.observe(rate_limit, retry_after, status)
        except Exception:
            log.exception("the rate budget failed to learn from an answer; ignored")

    def backoff(self, attempt: int) -> float:
        """The delay before retry ``attempt + 1`` under the :class:`RetryPolicy` (Hub seconds)."""
        return self.retry.backoff(attempt, self._rng)

    def retry_delay(self, error: BaseException, attempt: int) -> float | None:
        """Hub seconds to wait before retry ``attempt + 1``: the Hub's ``Retry-After``, else the
        policy's backoff; None when the Hub asks for longer than ``max_retry_after``."""
        return retry_delay(
            getattr(error, "retry_after", None), lambda: self.backoff(attempt), self.retry.max_retry_after
        )

    # ------------------------------------------------------------------ sending

    def transport_error(self, request: Request, exc: BaseException, *, sent: bool = True) -> TransportError:
        """The :class:`~aiospace.errors.TransportError` for ``exc`` (aiohttp's, or a timeout):
        a :class:`~aiospace.errors.RequestTimeoutError` for a timeout. It keeps nothing of ``exc``
        but its masked message (aiohttp's exception holds the request's headers)."""
        kwargs: dict[str, Any] = {"repo_id": request.repo_id, "method": request.method, "path": request.path}
        if isinstance(exc, asyncio.TimeoutError):
            return RequestTimeoutError("no answer within the timeout", **kwargs)
        # aiohttp's message may quote what the server sent (a bad status line echoing the token).
        message = self.redact.for_request(request).scrub(f"{type(exc).__name__}: {exc}", MAX_MESSAGE)
        return TransportError(message, sent=sent, **kwargs)

    def hop(
        self,
        base: URL,
        location: str,
        visited: set[URL],
        what: str,
        *,
        encoded: bool = False,
        secret: bool = False,
    ) -> URL | str:
        """The one check of every hop (a redirect's ``Location``, a next page's link): the URL to go
        to, added to ``visited``; or, as a str, what is wrong with it (``what`` names the hop).

        The client goes only to an http(s) URL whose host can be looked up, without a user name
        or password (aiohttp refuses those next to an ``Authorization`` header), not visited
        before; and not to another host when the caller's session sends its own credentials
        there, nor with a ``secret`` (a body holding secret values).
        """
        url: URL | None
        try:
            url = base.join(URL(location, encoded=encoded))
            host = url.raw_host
            if (
                url.scheme not in ("http", "https")
                or not host
                or url.user is not None
                or url.password is not None
            ):
                url = None
            else:
                host.encode("idna")  # an empty or over-long label, or a character no host can hold
        except (TypeError, ValueError):  # UnicodeError is a ValueError
            url = None
        if url is None:
            return f"{what} that is not an http(s) URL the client may follow"
        if url in visited:
            return f"{what} seen twice (a loop)"
        if url.origin() != self._origin:
            if self._session_credentials:
                # aiohttp adds a session's default headers to every request: no way to drop them.
                return f"{what} to another host, where the session's own Authorization header would go"
            if secret:
                return f"{what} to another host, for a request holding secret values"
        visited.add(url)
        return url

    async def send(
        self,
        request: Request,
        timeout: aiohttp.ClientTimeout | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        """Send ``request`` once, following redirects by hand (each through :meth:`hop`); the
        caller releases the response.

        Raises :class:`~aiospace.errors.TransportError` when no answer came, and a
        :class:`~aiospace.errors.BadAnswerError` (``reason="redirect"``) past ``max_redirects``
        redirects or at a hop :meth:`hop` refuses.
        """
        session = self.session()
        path = request.path
        url: URL | None = URL(path, encoded=True) if path.startswith(("http://", "https://")) else None
        target: URL | str = url if url is not None else self._base + path
        method = request.route.method
        body = None if request.json is None else request.body()
        params = request.params or None
        self.stats.requests += 1
        self.stats.by_route[request.route.name] += 1
        visited: set[URL] | None = None  # made on the first redirect only
        problem: str | None = None  # what is wrong, worked out when it is
        for _ in range(self._max_redirects + 1):
            headers = self._headers[url is None or url.origin() == self._origin, body is not None]
            if extra_headers:
                merged = CIMultiDict(headers)
                merged.update(extra_headers)
                headers = CIMultiDictProxy(merged)
            error: TransportError | None = None
            try:
                response = await session.request(
                    method,
                    target,
                    params=params,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=timeout or self._timeout,
                    # aiohttp would label a bodiless POST "application/octet-stream".
                    skip_auto_headers=_NO_CONTENT_TYPE if body is None and method in _LABELLED else None,
                )
            except aiohttp.ClientConnectorError as exc:
                # The connection never opened: the Hub cannot have acted.
                error = self.transport_error(request, exc, sent=False)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                error = self.transport_error(request, exc)
            if error is not None:
                # Raised out of the except clause: aiohttp's exception (whose request_info
                # holds the Authorization header) is not even the error's __context__.
                raise error
            if response.status not in _REDIRECTS or "Location" not in response.headers:
                return response
            if visited is None:
                visited = {response.url}
            response.release()
            if response.status == 303:
                method, body = "GET", None
            secret = body is not None and request.sensitive
            hop = self.hop(response.url, response.headers["Location"], visited, "a redirect", secret=secret)
            if isinstance(hop, str):
                problem = hop
                break
            url = target = hop
            params = None
        problem = problem or f"more than {self._max_redirects} redirects"
        raise bad_answer(request, problem, "redirect", response.status, response.headers, self.redact)

    async def read_body(self, request: Request, response: aiohttp.ClientResponse) -> bytes:
        """The answer's body, read up to ``max_answer_bytes`` (an error's, up to 64 KiB), counted
        as it is unpacked (a compressed answer's Content-Length counts the compressed bytes).

        Past the limit a success is a :class:`~aiospace.errors.BadAnswerError`
        (``reason="too-large"``) and an error answer is cut; either way the rest is not read
        (the connection is closed).
        """
        failed = response.status >= 400
        limit = min(self.max_answer_bytes, _ERROR_BODY_BYTES) if failed else self.max_answer_bytes
        length = response.content_length
        encoding = response.headers.get("Content-Encoding")
        compressed = encoding is not None and encoding.lower() != "identity"
        if length is not None and length <= limit and not compressed:
            return await response.read()  # aiohttp reads no more than announced
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
        problem = f"over the limit of {limit} bytes{announced}"
        raise bad_answer(request, problem, "too-large", response.status, response.headers, self.redact)

    async def call(
        self, request: Request, *, retry: bool = True, read: bool = True
    ) -> tuple[Any, Mapping[str, str], int, bytes]:
        """Send ``request`` (with the retries the :class:`RetryPolicy` allows, unless ``retry`` is
        False); return the answer's decoded JSON, headers, status and bytes.

        ``read=False`` checks the status only (None for the JSON): for the calls whose answer
        the official client never reads, so that no shape of it can fail them. Raises the
        typed :class:`~aiospace.errors.HubHTTPError` of an error answer and
        :class:`~aiospace.errors.TransportError` when no readable answer came.
        """
        if retry is not True and retry is not False:
            check_flag(retry, "retry")
        attempt = 0
        while True:
            status: int | None = None  # None until a whole answer came
            try:
                response = await self.send(request)
                failure: TransportError | None = None
                try:
                    length = response.content_length
                    # The poll path, inline: an uncompressed success of announced, allowed length.
                    if (
                        response.status < 400
                        and length is not None
                        and length <= self.max_answer_bytes
                        and "Content-Encoding" not in response.headers
                    ):
                        body = await response.read()
                    else:
                        body = await self.read_body(request, response)
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    failure = self.transport_error(request, exc)
                finally:
                    response.release()
                if failure is not None:
                    raise failure  # out of the except clause: nothing of aiohttp's error rides along
                status = code = response.status
                headers = response.headers
                carries_rate = "RateLimit" in headers or "RateLimit-Policy" in headers
                if carries_rate:
                    self._rate_headers, self._rate_limit = headers, None
                retry_after = None
                if code >= 400:
                    retry_after = parse_retry_after(headers)
                    if code == 429:
                        self.stats.rate_limited += 1
                budget = self._budget
                if budget is not None and (carries_rate or code == 429):
                    self._tell_budget(budget, code, self.rate_limit if carries_rate else None, retry_after)
                if self._listeners and (self._hear_reads or request.route.method != "GET"):
                    self._notify(request, code, self.rate_limit if carries_rate else None, retry_after)
                if read:
                    return decode_answer(request, code, headers, body, self.redact), headers, code, body
                if code >= 400:
                    raise error_for(request, code, headers, body, self.redact)
                return None, headers, code, body
            except (HubHTTPError, TransportError) as error:
                if status is None and self._listeners:
                    self._notify(request, None, None, None)
                if self._anonymous and isinstance(error, SpaceNotFoundError):
                    error.sent_without_token()
                self.stats.errors += 1
                if not retry or not _may_retry(self.retry, request, error, attempt):
                    raise
                delay = self.retry_delay(error, attempt)
                if delay is None:
                    raise
                log.debug("retrying %s %s in %.2fs after: %s", request.method, request.path, delay, error)
                attempt += 1
                self.stats.retries += 1
                await self.clock.sleep(delay)

    # ------------------------------------------------------------------ log streams

    async def open_stream(
        self, request: Request, timeout: aiohttp.ClientTimeout, extra_headers: Mapping[str, str] | None
    ) -> aiohttp.ClientResponse:
        """:meth:`send` for a stream: the response is held until :meth:`close_stream`, and cut by
        :meth:`aclose`."""
        response = await self.send(request, timeout, extra_headers)
        self._streams.add(response)
        return response

    def close_stream(self, response: aiohttp.ClientResponse) -> None:
        """Close a stream of :meth:`open_stream` (a stream is never pooled: nothing stays open)."""
        self._streams.discard(response)
        response.close()

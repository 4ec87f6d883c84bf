"""``SpaceClient``: every Space call of the Hub, and the watch engine's doors, on one object.

Each Hub call builds its request (:mod:`aiospace._hub.requests`), sends it through the
:class:`~aiospace._http.transport.Transport` and structures the answer
(:mod:`aiospace._hub.convert`). :meth:`SpaceClient.watch`, :meth:`~SpaceClient.watcher`,
:meth:`~SpaceClient.wait_for_space` and :meth:`~SpaceClient.lease` run the engine
(:mod:`aiospace.engine`) on this client::

    async with SpaceClient() as hub:
        await hub.restart_space("user/space")
        runtime = await hub.wait_for_space("user/space", timeout=600)
        async with hub.lease("user/space", "a10g-small") as runtime:
            ...  # runs on a10g-small; the previous flavor is requested again on any exit

What every call raises (each method names what it adds):

* :class:`~aiospace.errors.InvalidArgumentError` for a bad argument (a repo id, flavor, tier,
  sleep time, key...), before any request, and for a call on a closed client;
* a :class:`~aiospace.errors.HubHTTPError` subclass when the Hub refuses (404 ``SpaceNotFoundError``,
  401 ``AuthenticationError``, 403 ``PermissionDeniedError``, 400 ``BadRequestError``, 409
  ``ConflictError``, 429 ``RateLimitedError``, 5xx ``ServerError``), after the retries the
  :class:`RetryPolicy` allows;
* :class:`~aiospace.errors.TransportError` when no readable answer came (``RequestTimeoutError`` for
  a timeout, ``BadAnswerError`` for an answer the client can't read: not JSON, nested too deeply, a
  non-finite number, over ``max_answer_bytes``, an unknown shape, a redirect or paging loop).

No error shows the token, the credentials of a ``session`` passed in, or a secret value of the request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import TypeVar

import aiohttp

from .__about__ import __version__
from ._clock import Clock, SystemClock
from ._http import apps, logs, pages, repos
from ._http.budget import Exchange, Listener, RateBudget
from ._http.endpoint import DEFAULT_ENDPOINT, Endpoint
from ._http.transport import MAX_ANSWER_BYTES, ClientStats, RetryPolicy, Transport
from ._hub import requests
from ._hub.convert import WhoAmI, structure
from ._hub.sse import MAX_SSE_LINE
from ._hub.validate import check_flag, check_repo_id, check_seconds
from .engine import lease as _lease
from .engine import many as _many
from .engine import wait as _wait
from .engine.options import OnTrouble, WaitFor
from .engine.ready import DEFAULT_READY_TIMEOUT
from .engine.transitions import DEFAULT_STALL_AFTER, Cadence, StallAfter, Transition
from .engine.watch import SpaceWatch
from .engine.watcher import PermanentErrorMode, Watcher
from .errors import InvalidArgumentError
from .models import (
    CreatedSpace,
    DuplicatedSpace,
    RateLimit,
    SpaceHardware,
    SpaceHardwareInfo,
    SpaceInfo,
    SpaceRuntime,
    SpaceSecret,
    SpaceStage,
    SpaceStorage,
    SpaceVariable,
    Volume,
    ZeroGpuQuota,
)

__all__ = ["DEFAULT_ENDPOINT", "ClientStats", "Exchange", "RateBudget", "RetryPolicy", "SpaceClient"]

_C = TypeVar("_C", bound="SpaceClient")
_T = TypeVar("_T")


def _check_options(
    timeout: float, idle_timeout: float, read_timeout: float, answer_bytes: int, line_bytes: int
) -> None:
    check_seconds(timeout, "timeout", positive=True, finite=True)
    check_seconds(idle_timeout, "logs_idle_timeout", positive=True, finite=True)
    check_seconds(read_timeout, "logs_read_timeout", positive=True, finite=True)
    _check_size(answer_bytes, "max_answer_bytes")
    _check_size(line_bytes, "max_log_line_bytes")


def _check_size(size: object, name: str, *, least: int = 1) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < least:
        raise InvalidArgumentError(name, f"{size!r} must be an int >= {least}")


class SpaceClient:
    """An async client of the Hub for Space calls (named after ``huggingface_hub.HfApi``), watches,
    waits and leases. Use it in ``async with`` (a call outside opens it too; then :meth:`aclose` it)::

        async with SpaceClient() as hub:
            runtime = await hub.get_space_runtime("user/space")

    Every call raises as the module says; each method names what it adds.

    Args:
        token: a token; ``None`` looks up ``HF_TOKEN`` then ``$HF_HOME/token``; ``False`` sends none.
        endpoint: the Hub's base URL; ``None`` uses ``HF_ENDPOINT`` or the public Hub.
        session: an aiohttp session to use (not closed by the client).
        timeout: total seconds (real time) for one request.
        retry: the :class:`RetryPolicy`.
        clock: the clock for backoff and Retry-After (a faster one for the emulator).
        allow_insecure_http: send the token over plain http to a non-loopback host.
        user_agent: the ``User-Agent`` header (default: aiospace's and aiohttp's versions).
        max_redirects: redirects followed at most per request.
        connection_limit: connections open at once (of a session the client makes).
        logs_idle_timeout: seconds of silence that end a non-followed log read.
        logs_read_timeout: seconds (real time) a non-followed log read may take in all.
        max_answer_bytes: the largest answer read (8 MiB); past it, a ``BadAnswerError``.
        max_log_line_bytes: the longest log (and SSE) line read (1 MiB); past it, a ``BadAnswerError``.
        seed: seeds the jitter, for reproducible runs.

    Raises :class:`~aiospace.errors.InvalidArgumentError` for a bad option, endpoint or token.
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
        _check_options(timeout, logs_idle_timeout, logs_read_timeout, max_answer_bytes, max_log_line_bytes)
        _check_size(max_redirects, "max_redirects", least=0)
        where = Endpoint.resolve(endpoint, token, session, allow_insecure_http)
        self._redactor = where.redact  # the one redactor: the transport masks its errors with it too
        self._has_token = where.token is not None
        self.logs_idle_timeout = logs_idle_timeout
        self.logs_read_timeout = logs_read_timeout
        self.max_log_line_bytes = max_log_line_bytes
        self._transport = Transport(
            where,
            session,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            clock=clock or SystemClock(),
            user_agent=user_agent or f"aiospace/{__version__}; aiohttp/{aiohttp.__version__}",
            max_redirects=max_redirects,
            connection_limit=connection_limit,
            max_answer_bytes=max_answer_bytes,
            seed=seed,
        )
        self._leases = _lease.Leases()  # this client's leases, queued by Space

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self: _C) -> _C:
        # Entering (again) opens the client, even after aclose(); nested entries share one session.
        self._transport.enter()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._transport.leave()

    async def aclose(self) -> None:
        """Close the session if the client made it, and cut every log stream; a call after this raises
        :class:`~aiospace.errors.InvalidArgumentError` (``async with`` opens it again). Idempotent."""
        await self._transport.aclose()

    def __repr__(self) -> str:
        token = "set" if self._has_token else "none"
        return f"{type(self).__name__}(endpoint={self.endpoint!r}, token=<{token}>)"

    # ------------------------------------------------------------------ state

    @property
    def clock(self) -> Clock:
        """The clock of every delay (backoff, Retry-After, the engine's): Hub seconds."""
        return self._transport.clock

    @property
    def budget(self) -> RateBudget:
        """The one request budget that every watch and watcher of this client shares, made on first use
        (1,000 requests per 300 s until the Hub's headers say otherwise); it hears every answer."""
        return self._transport.budget

    @property
    def rate_limit(self) -> RateLimit | None:
        """The Hub's latest rate-limit headers (None until an answer carried them)."""
        return self._transport.rate_limit

    @property
    def endpoint(self) -> str:
        """The Hub's base URL."""
        return str(self._transport.endpoint)

    @property
    def has_token(self) -> bool:
        """True if requests carry a token (the token itself is never exposed)."""
        return self._has_token

    @property
    def stats(self) -> ClientStats:
        """Counters of what the client did (requests, retries, errors, by call)."""
        return self._transport.stats

    @property
    def retry(self) -> RetryPolicy:
        """The :class:`RetryPolicy` of every call."""
        return self._transport.retry

    def backoff(self, attempt: int) -> float:
        """The delay before retry ``attempt + 1`` under this client's :class:`RetryPolicy` (Hub seconds)."""
        return self._transport.backoff(attempt)

    def redact(self, text: str) -> str:
        """``text`` with the token (and a ``session=``'s credentials) masked as errors mask them."""
        return self._redactor.mask(text)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with an :class:`Exchange` after every answer (or failure); returns the
        unsubscribe function (safe to call twice). A listener that raises is logged and ignored."""
        return self._transport.subscribe(listener)

    # ------------------------------------------------------------------ runtime calls

    async def _read(self, request: requests.Request, cls: type[_T], *, retry: bool = True) -> _T:
        """Send ``request`` and structure its answer as ``cls`` (a BadAnswerError if it can't)."""
        data, headers, status, body = await self._transport.call(request, retry=retry)
        return structure(data, cls, request, status, headers, self._redactor, body=body)

    async def get_space_runtime(self, repo_id: str, *, retry: bool = True) -> SpaceRuntime:
        """The Space's runtime: stage, hardware (current and requested), sleep time, storage.
        ``retry=False`` makes one attempt (the watch engine schedules its own retries)."""
        request = requests.get_space_runtime(repo_id)
        # The poll path: no layer between the client and the transport.
        data, headers, status, body = await self._transport.call(request, retry=retry)
        return structure(data, SpaceRuntime, request, status, headers, self._redactor, body=body)

    async def request_space_hardware(
        self, repo_id: str, hardware: SpaceHardware | str, *, sleep_time: int | None = None
    ) -> SpaceRuntime:
        """Ask for a hardware flavor (and optionally a sleep time); the Space rebuilds on it."""
        return await self._read(requests.request_space_hardware(repo_id, hardware, sleep_time), SpaceRuntime)

    async def set_space_sleep_time(self, repo_id: str, sleep_time: int) -> SpaceRuntime:
        """Seconds without visits before the Space sleeps (-1: never). Not on free hardware."""
        return await self._read(requests.set_space_sleep_time(repo_id, sleep_time), SpaceRuntime)

    async def pause_space(self, repo_id: str) -> SpaceRuntime:
        """Pause the Space (stage ``PAUSED``, not billed); only a restart leaves it."""
        return await self._read(requests.pause_space(repo_id), SpaceRuntime)

    async def restart_space(self, repo_id: str, *, factory_reboot: bool = False) -> SpaceRuntime:
        """Restart the Space; ``factory_reboot`` rebuilds it without cache."""
        return await self._read(requests.restart_space(repo_id, factory_reboot), SpaceRuntime)

    async def enable_space_dev_mode(self, repo_id: str) -> SpaceRuntime:
        """Turn dev mode on (needs a PRO or Team plan on the real Hub)."""
        return await self._read(requests.set_space_dev_mode(repo_id, True), SpaceRuntime)

    async def disable_space_dev_mode(self, repo_id: str) -> SpaceRuntime:
        """Turn dev mode off."""
        return await self._read(requests.set_space_dev_mode(repo_id, False), SpaceRuntime)

    async def add_space_secret(
        self, repo_id: str, key: str, value: str, *, description: str | None = None
    ) -> None:
        """Add or update a secret. Its value is write-only, never logged nor shown in an error."""
        await self._transport.call(requests.add_space_secret(repo_id, key, value, description))

    async def delete_space_secret(self, repo_id: str, key: str) -> None:
        """Delete a secret (a missing key is not an error)."""
        await self._transport.call(requests.delete_space_secret(repo_id, key))

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
        return await self._read(requests.request_space_storage(repo_id, storage), SpaceRuntime)

    async def delete_space_storage(self, repo_id: str) -> SpaceRuntime:
        """Remove the Space's persistent storage (a 400 if it has none)."""
        return await self._read(requests.delete_space_storage(repo_id), SpaceRuntime)

    async def set_space_volumes(self, repo_id: str, volumes: Iterable[Volume]) -> None:
        """Mount ``volumes`` in the Space, replacing those it had; the Space rebuilds. A ``Volume`` mounts
        a bucket, model, dataset or Space at an absolute path (not on a static Space: 400)."""
        await self._transport.call(requests.set_space_volumes(repo_id, volumes), read=False)

    async def delete_space_volumes(self, repo_id: str) -> None:
        """Unmount every volume of the Space (a 400 if it has none); the Space rebuilds."""
        await self._transport.call(requests.delete_space_volumes(repo_id), read=False)

    # ------------------------------------------------------------------ repos

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
        """Copy a Space to ``to_id`` (default: the caller's namespace, same name), with the source's
        visibility unless ``visibility``/``private`` says otherwise. With ``exist_ok``, an existing target
        is no error (``existed=True``); ``files_copy_pending``: the Hub still copies large files."""
        check_repo_id(from_id, "from_id")
        check_flag(exist_ok, "exist_ok")
        request = requests.duplicate_space(
            from_id,
            from_id if to_id is None else to_id,  # for None: every argument checked before whoami
            private=private,
            visibility=visibility,
            hardware=hardware,
            storage=storage,
            sleep_time=sleep_time,
            secrets=secrets,
            variables=variables,
            volumes=volumes,
        )
        return await repos.duplicate(self._transport, request, to_id, exist_ok=exist_ok)

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
        ``sdk``: gradio, streamlit, docker or static. ``visibility``: public, private or protected (or
        ``private``, not both). ``secrets``, ``variables``: ``{"key", "value", "description"?}`` mappings.
        The Hub's 409 "another conflicting operation" is retried; with ``exist_ok``, an existing Space
        (a 409, or a 401, 402 or 403 when it can be read) is no error."""
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
        return await repos.create(self._transport, request, exist_ok=exist_ok)

    async def delete_space(self, repo_id: str, *, missing_ok: bool = False) -> None:
        """Delete the Space, for good (``HfApi.delete_repo(repo_type="space")``). A missing Space is a
        ``SpaceNotFoundError``, unless ``missing_ok``. Watches of the Space end with it on their next poll."""
        await repos.delete(self._transport, requests.delete_space(repo_id), missing_ok=missing_ok)

    # ------------------------------------------------------------------ account, catalogue, listings

    async def get_zero_gpu_quota(self) -> ZeroGpuQuota:
        """The caller's ZeroGPU quota: base and remaining GPU-seconds, when it resets (needs a token)."""
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
        """The Space's info (id, author, sdk, private, head ``sha``, runtime...). ``expand`` names the
        properties to answer (all by default); ``retry=False`` makes one attempt (as for a runtime)."""
        return await self._read(requests.space_info(repo_id, expand), SpaceInfo, retry=retry)

    def list_spaces(
        self,
        *,
        author: str | None = None,
        search: str | None = None,
        limit: int | None = None,
        expand: Iterable[str] | None = None,
    ) -> AsyncGenerator[SpaceInfo, None]:
        """Iterate over Spaces, following the ``Link: rel="next"`` pages; stops after ``limit``. The
        arguments are checked when the iteration starts. Raises :class:`~aiospace.errors.BadAnswerError`
        for an answer that is not a list of Spaces, a page that links back to a page already read, or an
        empty page that links to another."""
        return pages.spaces(self._transport, author=author, search=search, limit=limit, expand=expand)

    async def author_runtimes(
        self,
        author: str,
        *,
        spaces: Collection[str] | None = None,
        retry: bool = True,
        before_page: Callable[[], Awaitable[None]] | None = None,
        shas: dict[str, str] | None = None,
    ) -> dict[str, SpaceRuntime]:
        """The runtime of every Space of ``author`` that the token can see, by repo id.

        One listing (``expand=runtime``, 1,000 Spaces a page) refreshes them all. With ``spaces``, only
        those are kept and paging stops once all are found. ``before_page`` is awaited before each page
        after the first (the watch engine spends its rate budget there). An item the client can't read is
        left out. ``shas`` gets each head commit. Raises as :meth:`list_spaces`, and past 100 pages."""
        return await pages.author_runtimes(
            self._transport, author, spaces, retry=retry, before_page=before_page, shas=shas
        )

    def fetch_space_logs(
        self,
        repo_id: str,
        *,
        build: bool = False,
        follow: bool = False,
        max_reconnects: int = 5,
        since: datetime | timedelta | None = None,
    ) -> AsyncGenerator[str, None]:
        """Iterate over the lines of the Space's run log (build log with ``build``); the arguments are checked
        when the iteration starts. Without ``follow``, what is logged so far, within ``logs_read_timeout``.
        With ``follow``, on while the Space runs: a cut stream is resumed (up to ``max_reconnects`` times in a
        row) after the last line, by event id, else by (timestamp, text). ``since`` (an aware datetime, or a
        timedelta back from the Hub's now) skips lines stamped earlier. More in
        :func:`aiospace._http.logs.read_logs`."""
        return logs.read_logs(
            self._transport,
            repo_id,
            build=build,
            follow=follow,
            max_reconnects=max_reconnects,
            since=since,
            idle_timeout=self.logs_idle_timeout,
            read_timeout=self.logs_read_timeout,
            max_line=self.max_log_line_bytes,
        )

    # ------------------------------------------------------------------ the engine's doors

    def watch(
        self,
        repo_id: str,
        *,
        cadence: Cadence | None = None,
        seed: int | None = None,
        stall_after: StallAfter | None = DEFAULT_STALL_AFTER,
    ) -> SpaceWatch:
        """An async iterator of the Space's :class:`~aiospace.Transition` events, polled inline with no
        background task: the initial state, then one per change (:class:`~aiospace.engine.watch.SpaceWatch`).
        A 4xx other than 429 ends it with the typed error; a bad argument is an ``InvalidArgumentError``."""
        return SpaceWatch(self, repo_id, cadence=cadence, seed=seed, stall_after=stall_after)

    def watcher(
        self,
        *,
        cadence: Cadence | None = None,
        concurrency: int = 8,
        quota: int | None = None,
        window: float | None = None,
        batch: bool = True,
        batch_min: int = 3,
        buffer: int = 8,
        on_permanent_error: PermanentErrorMode = "raise",
        seed: int | None = None,
        budget_share: float | None = None,
        stall_after: StallAfter | None = DEFAULT_STALL_AFTER,
    ) -> Watcher:
        """A watcher of many Spaces on this client's rate budget (``async with``, then ``add``); the arguments
        are :class:`~aiospace.engine.watcher.Watcher`'s (a bad one raises ``InvalidArgumentError``)."""
        return Watcher(
            self,
            cadence=cadence,
            concurrency=concurrency,
            quota=quota,
            window=window,
            batch=batch,
            batch_min=batch_min,
            buffer=buffer,
            on_permanent_error=on_permanent_error,
            seed=seed,
            budget_share=budget_share,
            stall_after=stall_after,
        )

    async def wait_for_space(
        self,
        repo_id: str,
        *,
        timeout: float | None = None,
        stage: SpaceStage | str = SpaceStage.RUNNING,
        hardware: SpaceHardware | str | None = None,
        revision: str | None = None,
        until: Callable[[SpaceRuntime], bool] | None = None,
        trouble: OnTrouble | None = None,
        cadence: Cadence | None = None,
        log_lines: int = 20,
        log_timeout: float = 30.0,
        on_transition: Callable[[Transition], None] | None = None,
        ready: bool = False,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
    ) -> SpaceRuntime:
        """Wait until the Space is in ``stage``, on ``hardware``, serving ``revision`` (or ``until`` holds)
        and, with ``ready``, its app answers (within ``ready_timeout``); return its runtime. ``trouble`` says
        what it may do about stalls and capacity failures; timeouts are in Hub seconds. Raises
        ``SpaceFailedError`` (``AppNotReadyError``, ``SpaceStalledError``), ``SpaceNotStartingError``,
        ``RevisionSupersededError`` or ``WaitTimeoutError``: :func:`aiospace.engine.wait.wait_for_space`."""
        return await _wait.wait_for_space(
            self,
            repo_id,
            WaitFor(stage=stage, hardware=hardware, revision=revision, until=until, ready=ready),
            OnTrouble() if trouble is None else trouble,
            timeout=timeout,
            cadence=cadence,
            log_lines=log_lines,
            log_timeout=log_timeout,
            on_transition=on_transition,
            ready_timeout=ready_timeout,
        )

    #: Wait for many Spaces at once, each's outcome, none cancelled by another's failure (engine/many.py).
    wait_for_spaces = _many.wait_for_spaces

    async def app_status(self, info: SpaceInfo) -> tuple[int | None, str | None]:
        """The status (None: no answer) and URL (None: unnamed) of the app ``info`` names (_http/apps.py)."""
        return await apps.get_app(self._transport, info)

    def lease(
        self,
        repo_id: str,
        hardware: SpaceHardware | str,
        *,
        sleep_time: int | None = None,
        release: _lease.ReleaseMode | str = "restore",
        timeout: float | None = None,
        release_timeout: float = _lease.DEFAULT_RELEASE_TIMEOUT,
        release_attempts: int = _lease.DEFAULT_RELEASE_ATTEMPTS,
        cadence: Cadence | None = None,
        trouble: OnTrouble | None = None,
    ) -> AbstractAsyncContextManager[SpaceRuntime]:
        """Run the Space on ``hardware`` inside ``async with``; on any exit, ``release`` (``"restore"``,
        ``"pause"`` or a flavor) runs shielded and is confirmed by reading the runtime back. Raises as
        :meth:`wait_for_space` while acquiring, and ``LeaseReleaseError`` when the release can't be
        confirmed: :func:`aiospace.engine.lease.lease_space` has the details."""
        return _lease.lease_space(
            self,
            repo_id,
            hardware,
            sleep_time=sleep_time,
            release=release,
            timeout=timeout,
            release_timeout=release_timeout,
            release_attempts=release_attempts,
            cadence=cadence,
            trouble=trouble,
            leases=self._leases,
        )

"""Notifications: hand each transition to your code, a webhook or a command.

:class:`Dispatcher` reads transitions from any async iterable (a
:meth:`~aiospace.SpaceClient.watcher`, a :meth:`~aiospace.SpaceClient.watch`) and awaits an
async callback for each one::

    async def tell(t: Transition) -> None:
        await chat.send(f"{t.repo_id} is {t.current.stage}")

    async with hub.watcher() as w:
        w.add("me/a", "me/b")
        stats = await Dispatcher(tell, concurrency=8, timeout=30).run(w)

* The transitions of one Space are delivered one at a time, in order; up to
  ``concurrency`` Spaces are delivered at once.
* A callback that raises or runs past ``timeout`` is logged (logger
  ``aiospace.engine.notify``) and counted in :class:`DispatchStats`; it never stops the
  dispatch nor the watch.
* A slow callback never stalls polling: once ``max_pending`` transitions wait for
  delivery, the dispatcher stops reading, and a :class:`~aiospace.engine.watcher.Watcher`
  coalesces what comes meanwhile (the latest state is never dropped).

Two ready-made callbacks: :class:`WebhookPoster` POSTs the transition's JSON
(:meth:`~aiospace.engine.transitions.Transition.to_json`, or a Slack or Discord message
of it) to a URL, signed with HMAC-SHA256 when given a secret, retrying 5xx, 429 and
transport failures with backoff (never with the Hub token; never logging the URL's
query string, fragment or credentials, nor the secret); :class:`CommandRunner` runs a
command with the JSON on its stdin, killed past its timeout. :class:`TransitionFilter`
picks transitions by stage and by kind of change.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import math
import os
import random
import shlex
import signal
import subprocess
import uuid
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Literal

import aiohttp
import anyio
import attrs
from anyio.abc import ByteReceiveStream, Process
from yarl import URL

from ..__about__ import __version__
from .._hub.headers import parse_retry_after
from .._hub.retry import backoff
from .._hub.validate import check_seconds
from ..errors import DeliveryError, InvalidArgumentError
from ..models import SpaceStage
from .transitions import Change, Transition

__all__ = [
    "CHANGE_FILTERS",
    "POST_FORMATS",
    "SIGNATURE_HEADER",
    "CommandRunner",
    "DispatchStats",
    "Dispatcher",
    "PostFormat",
    "TransitionFilter",
    "WebhookPoster",
    "chat_line",
    "safe_url",
    "sign",
]

log = logging.getLogger("aiospace.notify")

#: An async callback that takes one transition.
Callback = Callable[[Transition], Awaitable[object]]

#: The kinds of change :class:`TransitionFilter` knows (``--on-change``): every
#: :class:`~aiospace.engine.transitions.Change`, by the name a payload's ``changes`` shows.
CHANGE_FILTERS = tuple(change.value for change in Change)

#: What :class:`WebhookPoster` sends: the payload, or a chat message of it.
PostFormat = Literal["json", "slack", "discord"]
POST_FORMATS: tuple[PostFormat, ...] = ("json", "slack", "discord")

#: The header of a signed delivery: ``sha256=`` and the hex HMAC-SHA256 of the raw body.
SIGNATURE_HEADER = "X-Aiospace-Signature-256"


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(name, f"{value!r} must be an int >= 1")
    return value


# ---------------------------------------------------------------------- dispatching


@attrs.define
class DispatchStats:
    """What a :class:`Dispatcher` did (readable at any time)."""

    #: Transitions the callback took without raising.
    delivered: int = 0
    #: Transitions whose callback raised or timed out (each logged).
    failed: int = 0
    #: Of ``failed``: those that ran past the timeout.
    timed_out: int = 0
    #: Transitions left out by the dispatcher's filter.
    skipped: int = 0
    #: Deliveries under way when the dispatcher was cancelled (Ctrl-C, SIGTERM): neither
    #: delivered nor failed; an ``--exec`` command among them was ended.
    cut_short: int = 0
    #: The latest failure (None while every delivery succeeded).
    last_error: BaseException | None = None


class Dispatcher:
    """Await ``callback`` for every transition of a source, with bounded concurrency.

    Args:
        callback: an async function of one :class:`~aiospace.engine.transitions.Transition`.
        concurrency: Spaces whose transitions are being delivered at once (each
            Space's transitions go one at a time, in order).
        timeout: real seconds one callback may take before it is cancelled and counted
            as failed (None: no limit).
        max_pending: transitions accepted but not yet delivered before the dispatcher
            stops reading its source.
        accept: a filter (e.g. a :class:`TransitionFilter`); the others are skipped.

    Raises :class:`~aiospace.errors.InvalidArgumentError` for a bad argument.
    """

    def __init__(
        self,
        callback: Callback,
        *,
        concurrency: int = 8,
        timeout: float | None = 30.0,
        max_pending: int = 1000,
        accept: Callable[[Transition], bool] | None = None,
    ) -> None:
        self.callback = callback
        self.concurrency = _check_int("concurrency", concurrency)
        self.timeout = check_seconds(timeout, "timeout", positive=True, optional=True)
        self.max_pending = _check_int("max_pending", max_pending)
        self.accept = accept
        self.stats = DispatchStats()
        self._queues: dict[str, deque[Transition]] = {}

    async def run(self, transitions: AsyncIterable[Transition]) -> DispatchStats:
        """Deliver every transition of ``transitions`` until it ends; return the counters.

        The deliveries under way when the source ends are awaited. Cancelling ``run``
        cancels them too.
        """
        slots = anyio.Semaphore(self.concurrency)
        pending = anyio.Semaphore(self.max_pending)
        async with anyio.create_task_group() as deliveries:
            async for transition in transitions:
                if self.accept is not None and not self.accept(transition):
                    self.stats.skipped += 1
                    continue
                await pending.acquire()
                queue = self._queues.get(transition.repo_id)
                if queue is not None:
                    queue.append(transition)  # its Space's delivery takes it after the earlier ones
                    continue
                await slots.acquire()
                self._queues[transition.repo_id] = deque([transition])
                deliveries.start_soon(self._drain, transition.repo_id, slots, pending)
        return self.stats

    async def _drain(self, repo_id: str, slots: anyio.Semaphore, pending: anyio.Semaphore) -> None:
        queue = self._queues[repo_id]
        try:
            while queue:
                await self.deliver(queue[0])
                queue.popleft()
                pending.release()
        finally:
            self._queues.pop(repo_id, None)
            slots.release()

    async def deliver(self, transition: Transition) -> bool:
        """Await the callback for one transition; a failure is logged and counted, never raised.

        Returns True if it was delivered.
        """
        with anyio.move_on_after(math.inf if self.timeout is None else self.timeout) as scope:
            try:
                await self.callback(transition)
            except anyio.get_cancelled_exc_class():
                if not scope.cancel_called:  # cancelled from outside, not by the timeout
                    self.stats.cut_short += 1
                raise
            except Exception as error:
                self.stats.failed += 1
                self.stats.last_error = error
                log.warning(
                    "notification of %s (%s) failed: %s",
                    transition.repo_id,
                    transition.current.stage,
                    error if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}",
                )
                return False
        if scope.cancelled_caught:
            self.stats.failed += 1
            self.stats.timed_out += 1
            self.stats.last_error = TimeoutError(f"the notification took longer than {self.timeout:g}s")
            log.warning(
                "notification of %s (%s) cancelled after %gs",
                transition.repo_id,
                transition.current.stage,
                self.timeout,
            )
            return False
        self.stats.delivered += 1
        return True


# ---------------------------------------------------------------------- filtering


def _names(items: Iterable[str], argument: str) -> list[str]:
    """``items`` as a list of str (one str: a list of it); anything else is an InvalidArgumentError."""
    try:
        listed = [items] if isinstance(items, str) else list(items)
    except TypeError:
        raise InvalidArgumentError(argument, f"expected names, got {type(items).__name__}") from None
    for item in listed:
        if not isinstance(item, str):
            raise InvalidArgumentError(argument, f"expected names (str), got {type(item).__name__}")
    return listed


@attrs.frozen
class TransitionFilter:
    """Picks transitions: ``stages`` (the stage reached) and ``changes`` (kinds of change), both if given.

    ``changes`` takes the names of :data:`CHANGE_FILTERS` (each matches its own
    :class:`~aiospace.engine.transitions.Change` only); an empty set accepts all. A
    removed Space has no stage: it matches ``removed``, never a stage.
    """

    stages: frozenset[str] = frozenset()
    changes: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, stages: Iterable[str] = (), changes: Iterable[str] = ()) -> TransitionFilter:
        """A filter from stage names (any case, comma-separated lists allowed) and change names.

        Raises :class:`~aiospace.errors.InvalidArgumentError` for an unknown stage or change.
        """
        wanted_stages: set[str] = set()
        for item in _names(stages, "stage"):
            for name in filter(None, (part.strip() for part in item.split(","))):
                stage = SpaceStage.__members__.get(name.upper())
                if stage is None:
                    known = ", ".join(SpaceStage.__members__)
                    raise InvalidArgumentError("stage", f"{name!r} is not a known stage ({known})")
                wanted_stages.add(stage.value)
        wanted_changes: set[str] = set()
        for item in _names(changes, "change"):
            for name in filter(None, (part.strip().lower() for part in item.split(","))):
                if name not in CHANGE_FILTERS:
                    raise InvalidArgumentError(
                        "change", f"{name!r} is not one of {', '.join(CHANGE_FILTERS)}"
                    )
                wanted_changes.add(name)
        return cls(frozenset(wanted_stages), frozenset(wanted_changes))

    def __call__(self, transition: Transition) -> bool:
        """True if the transition passes the filter."""
        if self.stages and (transition.removed or transition.current.stage.value not in self.stages):
            return False
        if self.changes:
            return any(str(change) in self.changes for change in transition.changes)
        return True


# ---------------------------------------------------------------------- a webhook


def chat_line(transition: Transition, *, escape: Callable[[str], str] | None = None) -> str:
    """One readable line of a transition for a chat: the Space, the stage change, the error, the link.

    ``alice/app APP_STARTING -> RUNTIME_ERROR: CUDA out of memory https://.../spaces/alice/app``

    ``escape`` is applied to the error message, the one part that is the Space's own text.
    """
    data = transition.to_json()
    stage, before = data["stage"], data["previous_stage"]
    if transition.removed:
        what = f"{before or 'watched'} -> removed"
    elif before is None:
        what = f"is {stage}"
    elif before == stage:
        what = f"{stage} ({', '.join(sorted(str(c) for c in transition.changes))})"
    else:
        what = f"{before} -> {stage}"
    if data["hardware"] is not None:
        what += f" on {data['hardware']}"
    message = data["error_message"]
    said = " ".join(str(message).split())[:300] if message else ""
    said = f": {escape(said) if escape is not None else said}" if said else ""
    return f"{transition.repo_id} {what}{said} {data['url']}"


def _slack_escape(text: str) -> str:
    """Text Slack shows as it is: its control characters ``&``, ``<``, ``>`` escaped, as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _body(transition: Transition, post_format: PostFormat) -> bytes:
    """The body posted. The error message is the Space's own text (an exception an app
    raised): in a chat it must not ping anyone, so Slack gets its control characters
    escaped (``<!channel>`` shows as text) and Discord is told to parse no mention."""
    if post_format == "slack":
        return json.dumps({"text": chat_line(transition, escape=_slack_escape)}).encode()
    if post_format == "discord":
        body = {"content": chat_line(transition)[:2000], "allowed_mentions": {"parse": []}}
        return json.dumps(body).encode()
    return json.dumps(transition.to_json()).encode()


def _secret_key(secret: str | bytes) -> bytes:
    """``secret`` as the HMAC key: its UTF-8 bytes; text that has none (a lone surrogate, as a
    non-UTF-8 environment variable decodes to) is refused without being shown."""
    if isinstance(secret, bytes):
        return secret
    try:
        return secret.encode()
    except UnicodeEncodeError:
        raise InvalidArgumentError("secret", "is not valid UTF-8 text (its value is not shown)") from None


def sign(secret: str | bytes, body: bytes) -> str:
    """The :data:`SIGNATURE_HEADER` value of ``body``: ``sha256=`` and its hex HMAC-SHA256 with ``secret``.

    Raises :class:`~aiospace.errors.InvalidArgumentError` for a ``secret`` that is not UTF-8 text.
    """
    key = _secret_key(secret)
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def safe_url(url: str | URL) -> str:
    """``url`` as it may be logged: its scheme, host and port only.

    No credentials, query string or fragment, and no path either: a Slack or Discord
    webhook's path *is* its secret (``/services/T.../B.../<secret>``), so a path shows
    as ``/...``.
    """
    parsed = url if isinstance(url, URL) else URL(url)
    try:
        origin = str(parsed.origin())
    except ValueError:
        return "<an unreadable URL>"
    return origin + ("/..." if parsed.raw_path not in ("", "/") else "")


class WebhookPoster:
    """A callback that POSTs each transition's JSON to ``url`` (use ``async with``).

    The body is :meth:`~aiospace.engine.transitions.Transition.to_json` (``post_format``
    ``"json"``), or for a chat's incoming webhook ``{"text": line}`` (``"slack"``) or
    ``{"content": line}`` (``"discord"``), ``line`` being :func:`chat_line`. The request
    carries ``Content-Type: application/json``, a ``User-Agent`` and ``X-Aiospace-Delivery``,
    a random id that stays the same across the retries of one transition (a receiver can
    drop repeats with it); with a ``secret``, :data:`SIGNATURE_HEADER` too (``sha256=``
    and the hex HMAC-SHA256 of the raw body: :func:`sign`; the secret is never shown). It
    has its own HTTP session: the Hub token is never sent.

    A 2xx is a delivery. A 5xx, a 429 or a transport failure (including no answer
    within ``timeout`` real seconds) is retried up to ``attempts`` times in all, after a
    full-jitter exponential backoff from ``base_delay`` to ``max_delay`` seconds (a
    ``Retry-After`` up to ``max_delay`` is honoured); any other status fails at once.
    A failure raises :class:`~aiospace.errors.DeliveryError` naming the URL without its
    query string, fragment or credentials; no log line shows them either.

    Raises :class:`~aiospace.errors.InvalidArgumentError` for a URL that is not http(s).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        attempts: int = 5,
        base_delay: float = 0.25,
        max_delay: float = 5.0,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        seed: int | None = None,
        post_format: PostFormat = "json",
        secret: str | None = None,
    ) -> None:
        if post_format not in POST_FORMATS:
            raise InvalidArgumentError(
                "post_format", f"{post_format!r} is not one of {', '.join(POST_FORMATS)}"
            )
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise InvalidArgumentError("secret", "must be a non-empty str")
        self.post_format: PostFormat = post_format
        self._secret = None if secret is None else _secret_key(secret)
        try:
            parsed = URL(url)
        except (ValueError, TypeError):
            raise InvalidArgumentError("url", "not a URL") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise InvalidArgumentError("url", f"{safe_url(parsed)!r} is not an http(s) URL")
        self._url = parsed
        #: The URL as logged: no credentials, query string or fragment.
        self.target = safe_url(parsed)
        self.timeout = aiohttp.ClientTimeout(
            total=check_seconds(timeout, "timeout", positive=True, optional=True)
        )
        self.attempts = _check_int("attempts", attempts)
        if not (0 <= base_delay <= max_delay):
            raise InvalidArgumentError("base_delay", "needs 0 <= base_delay <= max_delay")
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._headers = {
            "User-Agent": f"aiospace/{__version__} (notify)",
            "Content-Type": "application/json",
            **(headers or {}),
        }
        self._session = session
        self._owns_session = session is None
        self._rng = random.Random(seed)
        #: Deliveries made, and retries they took.
        self.posted = 0
        self.retries = 0

    def __repr__(self) -> str:
        signed = ", signed" if self._secret is not None else ""
        return f"WebhookPoster({self.target!r}, {self.post_format}{signed})"

    async def __aenter__(self) -> WebhookPoster:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session if the poster made it."""
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = backoff(attempt, self.base_delay, self.max_delay, self._rng)
        return delay if retry_after is None else max(delay, min(self.max_delay, retry_after))

    async def __call__(self, transition: Transition) -> None:
        """POST ``transition``'s JSON; :class:`~aiospace.errors.DeliveryError` once retries are spent."""
        if self._session is None:
            raise InvalidArgumentError("WebhookPoster", "use it as `async with WebhookPoster(url) as post:`")
        body = _body(transition, self.post_format)
        headers = {**self._headers, "X-Aiospace-Delivery": uuid.uuid4().hex}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        problem = ""
        status: int | None = None
        for attempt in range(self.attempts):
            retry_after: float | None = None
            try:
                # Redirects are not followed: the body and the caller's headers (a signature,
                # a key) would go to wherever the receiver points. Its answer is not read: a
                # huge (or endless) one costs nothing.
                async with self._session.post(
                    self._url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
                ) as response:
                    status = response.status
                    retry_after = parse_retry_after(response.headers)
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                status = None
                problem = _transport_problem(error)
            else:
                if status < 300:
                    self.posted += 1
                    log.debug(
                        "posted %s (%s) to %s: %d",
                        transition.repo_id,
                        transition.current.stage,
                        self.target,
                        status,
                    )
                    return
                problem = f"answered {status}"
                if 300 <= status < 400:
                    problem += " (a redirect: not followed)"
                if status < 500 and status != 429:
                    raise DeliveryError(self.target, problem, status=status)
            if attempt + 1 < self.attempts:
                self.retries += 1
                delay = self._delay(attempt, retry_after)
                log.info("POST to %s: %s; retrying in %.2fs", self.target, problem, delay)
                await anyio.sleep(delay)
        raise DeliveryError(self.target, f"{problem} ({self.attempts} attempts)", status=status)


def _transport_problem(error: BaseException) -> str:
    """A transport failure in words that can't carry the URL (aiohttp's messages may quote it)."""
    if isinstance(error, TimeoutError):
        return "no answer within the timeout"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"could not connect ({error.os_error.strerror or type(error.os_error).__name__})"
    return f"transport error ({type(error).__name__})"


# ---------------------------------------------------------------------- a command


class CommandRunner:
    """A callback that runs ``command`` with the transition's JSON (one line) on its stdin.

    A string runs through the shell (``sh -c``); a sequence runs as it is. The
    environment adds ``AIOSPACE_SPACE``, ``AIOSPACE_STAGE``, ``AIOSPACE_PREVIOUS_STAGE``
    (empty for the first observation) and ``AIOSPACE_CHANGES`` (comma-separated). Its
    output is captured: logged at DEBUG, and the last line of its stderr goes into the
    error when it fails. A non-zero exit raises :class:`~aiospace.errors.DeliveryError`;
    past ``timeout`` real seconds (or when cancelled) the command and its children (its
    process group) get SIGTERM, then SIGKILL :data:`KILL_GRACE` seconds later. Logs and
    errors name the command by its program only (its arguments may hold secrets).
    """

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        timeout: float | None = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(command, str):
            words = shlex.split(command) if command.strip() else []
        else:
            words = list(command)
        if not words:
            raise InvalidArgumentError("command", "empty")
        self.command: str | list[str] = command if isinstance(command, str) else words
        self.timeout = check_seconds(timeout, "timeout", positive=True, optional=True)
        self.env = env
        #: The command as logged: its program, never its arguments.
        self.target = f"command {os.path.basename(words[0])!r}"
        self.runs = 0

    def __repr__(self) -> str:
        return f"CommandRunner({self.target})"

    async def __call__(self, transition: Transition) -> None:
        """Run the command for ``transition``; raise :class:`~aiospace.errors.DeliveryError` if it fails."""
        data = (json.dumps(transition.to_json()) + "\n").encode()
        previous = transition.previous
        env = {
            **(os.environ if self.env is None else self.env),
            "AIOSPACE_SPACE": transition.repo_id,
            "AIOSPACE_STAGE": transition.current.stage.value,
            "AIOSPACE_PREVIOUS_STAGE": "" if previous is None else previous.stage.value,
            "AIOSPACE_CHANGES": ",".join(sorted(str(c) for c in transition.changes)),
        }
        outputs: list[bytes] = [b"", b""]
        self.runs += 1
        problem: str | None = None
        try:
            # Shielded: a cancellation (Ctrl-C, SIGTERM) while the process is being opened would
            # lose it once spawned (asyncio then SIGKILLs the shell alone, and its children run on);
            # it lands at the next checkpoint instead, where the group is ended.
            with anyio.CancelScope(shield=True):
                opened = await anyio.open_process(
                    self.command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                    start_new_session=True,  # its own process group: a timeout kills its children too
                )
        except OSError as error:  # no such program, not executable...
            problem = error.strerror or type(error).__name__
        if problem is not None:  # raised here: the OSError (naming the command's path) stays out
            raise DeliveryError(self.target, f"could not start: {problem}")
        async with opened as process:
            try:
                with anyio.fail_after(math.inf if self.timeout is None else self.timeout):
                    async with anyio.create_task_group() as readers:
                        for index, stream in enumerate((process.stdout, process.stderr)):
                            if stream is not None:
                                readers.start_soon(_read_all, stream, outputs, index)
                        if process.stdin is not None:
                            # A command that doesn't read its stdin may have closed it.
                            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                                await process.stdin.send(data)
                            await process.stdin.aclose()
                        code = await process.wait()
            except TimeoutError:
                await _end_group(process.pid, process)
                raise DeliveryError(self.target, f"killed after {self.timeout:g}s") from None
            except BaseException:  # cancelled (Ctrl-C, SIGTERM...): the command ends with us
                await _end_group(process.pid, process)
                raise
        out, err = (o.decode(errors="replace") for o in outputs)
        if out or err:
            log.debug("%s for %s said: %s", self.target, transition.repo_id, (out + err).strip()[-2000:])
        if code != 0:
            lines = err.strip().splitlines()
            tail = f": {lines[-1][-300:]}" if lines else ""
            raise DeliveryError(self.target, f"exited with {code}{tail}", status=code)


#: The tail of a command's stdout and stderr that is kept (a chatty command costs no more).
_OUTPUT_KEPT = 64 * 1024


async def _read_all(stream: ByteReceiveStream, outputs: list[bytes], index: int) -> None:
    kept = b""
    async for chunk in stream:
        kept = (kept + chunk)[-_OUTPUT_KEPT:]
    outputs[index] = kept


#: Real seconds a command's process group has between SIGTERM and SIGKILL.
KILL_GRACE = 2.0


async def _end_group(pid: int, process: Process) -> None:
    """End the command's process group: SIGTERM, then SIGKILL after :data:`KILL_GRACE` (or as
    soon as the command itself has exited: its children get no longer than it).

    Shielded: a cancelled run still ends its command before it returns.
    """
    _signal_group(pid, signal.SIGTERM)
    with anyio.move_on_after(KILL_GRACE, shield=True):
        await process.wait()
    _signal_group(pid, signal.SIGKILL)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)

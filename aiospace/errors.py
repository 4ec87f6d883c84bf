"""One exception hierarchy, rooted in :class:`AiospaceError`.

Every error answered by the Hub is a :class:`HubHTTPError` carrying the status, the
Hub's ``X-Error-Code``, its message, its request id and the Space it was about.
Failures to talk to the Hub at all are :class:`TransportError`; an answer the client
can't read is a :class:`BadAnswerError` (a :class:`TransportError`). None ever holds
a token or a secret value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import SpaceRuntime

__all__ = [
    "NO_TOKEN_HINT",
    "AiospaceError",
    "AppNotReadyError",
    "AuthenticationError",
    "BadAnswerError",
    "BadRequestError",
    "ConflictError",
    "DeliveryError",
    "HubHTTPError",
    "InvalidArgumentError",
    "LeaseReleaseError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "RevisionSupersededError",
    "ServerError",
    "SpaceFailedError",
    "SpaceNotFoundError",
    "SpaceNotStartingError",
    "SpaceStalledError",
    "TransportError",
    "WaitError",
    "WaitTimeoutError",
]


def _rebuild(cls: type[AiospaceError], args: tuple[Any, ...], state: dict[str, Any]) -> AiospaceError:
    """Unpickle an :class:`AiospaceError` without calling its ``__init__`` (whose signature varies)."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class AiospaceError(Exception):
    """Base of every exception aiospace raises on purpose.

    Every one survives a ``pickle`` round trip (task queues, process pools, logging
    handlers across processes) with its attributes.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class InvalidArgumentError(AiospaceError, ValueError):
    """An argument was refused before any request was sent (names the argument)."""

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        self.problem = problem
        super().__init__(f"invalid {argument}: {problem}")


class HubHTTPError(AiospaceError):
    """The Hub answered with an error status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: str | None = None,
        request_id: str | None = None,
        repo_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.error_code = error_code
        self.request_id = request_id
        self.repo_id = repo_id
        self.method = method
        self.path = path
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" for Space {self.repo_id}" if self.repo_id else ""
        call = f" ({self.method} {self.path})" if self.method and self.path else ""
        code = f" [{self.error_code}]" if self.error_code else ""
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.status}{code}{where}{call}: {self.message}{rid}"


class BadRequestError(HubHTTPError):
    """400: the Space can't take this request (e.g. pausing a static Space)."""


class AuthenticationError(HubHTTPError):
    """401: the token is missing, malformed or revoked."""


class PermissionDeniedError(HubHTTPError):
    """403: the token may read the Space but not change it."""


#: What a 404 to a request sent without a token adds to its message.
NO_TOKEN_HINT = "no token was given: a private Space reads as not found without one"


class SpaceNotFoundError(HubHTTPError):
    """404: the Space does not exist, or is private and hidden from this token.

    ``no_token`` is True when the request carried no token: the message then says so
    (:data:`NO_TOKEN_HINT`), as a private Space reads as not found without one.
    """

    no_token: bool = False

    def _describe(self) -> str:
        described = super()._describe()
        return f"{described} ({NO_TOKEN_HINT})" if self.no_token else described

    def sent_without_token(self) -> SpaceNotFoundError:
        """Mark the error as answered to a request without a token (its message says so); returns it."""
        self.no_token = True
        self.args = (self._describe(),)
        return self


class ConflictError(HubHTTPError):
    """409: e.g. duplicating onto a repo that exists."""


class RateLimitedError(HubHTTPError):
    """429: the rate budget is spent; ``retry_after`` says for how long (seconds)."""

    def __init__(self, *args: object, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


class ServerError(HubHTTPError):
    """5xx: the Hub failed; ``retry_after`` is set when it said when to come back."""

    def __init__(self, *args: object, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


class TransportError(AiospaceError):
    """The Hub could not be reached, or its answer was cut or unreadable."""

    def __init__(
        self,
        message: str,
        *,
        repo_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        sent: bool = True,
    ) -> None:
        self.message = message
        self.repo_id = repo_id
        self.method = method
        self.path = path
        #: False when the request provably never reached the Hub (connection refused).
        self.sent = sent
        where = f" for Space {repo_id}" if repo_id else ""
        call = f" ({method} {path})" if method and path else ""
        super().__init__(f"transport error{where}{call}: {message}")


class BadAnswerError(TransportError):
    """The Hub answered, but the client can't read the answer.

    Not JSON, nested too deeply, a non-finite number, bigger than the client's limit,
    a shape the client doesn't know, a redirect or paging loop, a log line past the
    limit. ``reason`` says which (``"not-json"``, ``"too-deep"``, ``"non-finite"``,
    ``"too-large"``, ``"shape"``, ``"redirect-loop"``, ``"paging-loop"``,
    ``"line-too-long"``); ``status`` and ``request_id`` are the answer's. The body is
    never quoted: it may hold a secret. A watch retries it as a transient failure,
    until ``Cadence.max_bad_answers`` of them in a row.
    """

    def __init__(
        self,
        problem: str,
        *,
        reason: str,
        status: int | None = None,
        request_id: str | None = None,
        repo_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.problem = problem
        self.reason = reason
        self.status = status
        self.request_id = request_id
        extra = f" [status {status}]" if status is not None else ""
        extra += f" (request id {request_id})" if request_id else ""
        super().__init__(f"unreadable answer: {problem}{extra}", repo_id=repo_id, method=method, path=path)


class RequestTimeoutError(TransportError, TimeoutError):
    """The Hub did not answer within the configured timeout."""


def _tail(log_lines: list[str]) -> str:
    return "".join(f"\n  | {line.rstrip()}" for line in log_lines)


class WaitError(AiospaceError):
    """A wait for a Space ended without the Space reaching what was asked (see its subclasses)."""


class SpaceFailedError(WaitError):
    """A waited-for Space landed in an error stage; carries its runtime and the tail of its logs.

    The message says why when the Hub did (the runtime's ``error_message``).
    """

    def __init__(self, repo_id: str, runtime: SpaceRuntime, log_lines: list[str]) -> None:
        self.repo_id = repo_id
        self.runtime = runtime
        self.log_lines = log_lines
        why = f": {runtime.error_message}" if runtime.error_message else ""
        super().__init__(f"Space {repo_id} is {runtime.stage}{why}{_tail(log_lines)}")


class SpaceStalledError(SpaceFailedError):
    """A waited-for Space stayed in one transitional stage (``BUILDING``...) past its stall limit.

    ``stalled_for`` is how long it had been there (Hub seconds); ``rebooted`` says a
    factory reboot was already tried. ``log_lines`` is the tail of the build log (of
    the run log for a start that stalls).
    """

    def __init__(
        self,
        repo_id: str,
        runtime: SpaceRuntime,
        log_lines: list[str],
        *,
        stalled_for: float,
        rebooted: bool = False,
    ) -> None:
        self.repo_id = repo_id
        self.runtime = runtime
        self.log_lines = log_lines
        self.stalled_for = stalled_for
        self.rebooted = rebooted
        after = " (after a factory reboot)" if rebooted else ""
        stay = f"stalled in {runtime.stage} for {stalled_for:.0f}s{after}"
        WaitError.__init__(self, f"Space {repo_id} {stay}{_tail(log_lines)}")


class AppNotReadyError(SpaceFailedError):
    """A waited-for Space reached its stage (``RUNNING``) but its app never answered in time.

    A wait with ``ready=True`` asks the app itself (at the URL the Hub names) until it
    answers with a status below 500; this is raised when ``ready_timeout`` Hub seconds went
    by first. ``last_status`` is the last status the app answered (None: no answer at all,
    or the Hub named no app URL), ``waited`` the Hub seconds spent asking, ``url`` the app's
    URL (None if the Hub named none). ``log_lines`` is the tail of the run log.
    """

    def __init__(
        self,
        repo_id: str,
        runtime: SpaceRuntime,
        log_lines: list[str],
        *,
        last_status: int | None,
        waited: float,
        url: str | None = None,
    ) -> None:
        self.repo_id = repo_id
        self.runtime = runtime
        self.log_lines = log_lines
        self.last_status = last_status
        self.waited = waited
        self.url = url
        last = "no answer" if last_status is None else f"status {last_status}"
        where = f" at {url}" if url else " (the Hub names no app URL)"
        WaitError.__init__(
            self,
            f"Space {repo_id} is {runtime.stage} but its app never answered{where} "
            f"within {waited:.0f}s (last: {last}){_tail(log_lines)}",
        )


class RevisionSupersededError(WaitError):
    """The Space's head moved past the revision waited for: that commit will never be served alone.

    ``revision`` is the commit waited for, ``head`` the one the Space's head is now;
    ``log_lines`` the tail of the log of what the Space does now.
    """

    def __init__(
        self,
        repo_id: str,
        revision: str,
        head: str,
        *,
        runtime: SpaceRuntime | None = None,
        log_lines: list[str] | None = None,
        seen: bool = True,
    ) -> None:
        self.repo_id = repo_id
        self.revision = revision
        self.head = head
        self.runtime = runtime
        self.log_lines = log_lines or []
        #: False when the head was never seen at ``revision`` (a newer push, or a commit not on the Space).
        self.seen = seen
        how = "moved past" if seen else "never reached"
        super().__init__(
            f"Space {repo_id}: the head {how} revision {revision} (the head is {head}){_tail(self.log_lines)}"
        )


class SpaceNotStartingError(WaitError):
    """The Space is in a stage it won't leave on its own (``PAUSED``, ``STOPPED``, ``SLEEPING``).

    ``hint`` says what would move it (a restart, a visit to its app).
    """

    def __init__(self, repo_id: str, runtime: SpaceRuntime, hint: str) -> None:
        self.repo_id = repo_id
        self.runtime = runtime
        self.hint = hint
        super().__init__(f"Space {repo_id} is {runtime.stage} and won't leave it on its own: {hint}")


class WaitTimeoutError(WaitError, TimeoutError):
    """A wait ran out of time; ``runtime`` is the last one observed (or None).

    ``reason`` says what was not seen in time when it is more than the Space's stage
    (``build_grace``: no build of the revision began). ``last_error`` is the failure of
    the last poll when no poll succeeded after it (the Hub was out of reach, or
    answered 5xx or 429): a Space stuck and a Hub that can't be reached read apart.
    """

    def __init__(
        self,
        repo_id: str,
        timeout: float,
        runtime: SpaceRuntime | None,
        *,
        reason: str | None = None,
        last_error: AiospaceError | None = None,
    ) -> None:
        self.repo_id = repo_id
        self.timeout = timeout
        self.runtime = runtime
        self.reason = reason
        self.last_error = last_error
        last = f" (last stage {runtime.stage})" if runtime is not None else ""
        what = f": {reason}" if reason else ""
        failed = f"; the last poll failed: {last_error}" if last_error is not None else ""
        super().__init__(f"timed out after {timeout:g}s waiting for Space {repo_id}{what}{last}{failed}")


class LeaseReleaseError(AiospaceError):
    """A lease could not release its Space: it may still run (and bill) on the leased flavor.

    Raised after the release was retried with backoff until its attempts or its own
    deadline ran out. ``__cause__`` is the last failure of the release; ``__context__``
    is what ended the lease, if anything (the body's exception, a cancellation, a failed
    wait). ``runtime`` is the last runtime read back from the Hub (or None).
    """

    def __init__(
        self,
        repo_id: str,
        release: str,
        hardware: str,
        attempts: int,
        reason: str,
        runtime: SpaceRuntime | None = None,
    ) -> None:
        self.repo_id = repo_id
        #: What the release was to do ("restore cpu-basic", "pause", "request cpu-upgrade").
        self.release = release
        #: The leased flavor, which the Space may still run on.
        self.hardware = hardware
        self.attempts = attempts
        self.reason = reason
        self.runtime = runtime
        super().__init__(
            f"could not release Space {repo_id} ({release}) after {attempts} attempt(s): {reason}; "
            f"it may still run on {hardware}"
        )


class DeliveryError(AiospaceError):
    """A notification could not be delivered (a webhook refused it, or a command failed).

    ``target`` names where it went, without secrets: a URL loses its query string,
    fragment and credentials.
    """

    def __init__(self, target: str, message: str, *, status: int | None = None) -> None:
        self.target = target
        self.message = message
        self.status = status
        super().__init__(f"{target}: {message}")

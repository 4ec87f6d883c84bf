"""What a wait shows: its progress while it runs, then its verdict (text or ``--json``).

:class:`WaitProgress` redraws a status line on a terminal (else prints one line per
change) and reports the outcome; :class:`HubHealth` says on stderr when the Hub stops
answering during a long command, and when it answers again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from ..._clock import Clock
from ..._http.budget import Exchange
from ...engine.transitions import Change, Transition
from ...errors import (
    AiospaceError,
    AppNotReadyError,
    InvalidArgumentError,
    RevisionSupersededError,
    SpaceFailedError,
    SpaceNotStartingError,
    SpaceStalledError,
    WaitTimeoutError,
)
from ...models import SpaceRuntime
from ..util import UsageError, describe_error
from .answers import format_duration, print_json, runtime_json, runtime_line
from .streams import print_error, print_note

__all__ = ["HubHealth", "WaitProgress"]


class HubHealth:
    """A :meth:`SpaceClient.subscribe` listener that says on stderr when the Hub stops
    answering during a long command (``after`` failed requests in a row: no answer, a
    5xx or a 429), and once when it answers again. A watch retries quietly otherwise,
    and a person would see nothing move. ``before`` runs first (to clear a status line).
    """

    def __init__(
        self, command: str, endpoint: str, *, after: int = 3, before: Callable[[], None] | None = None
    ) -> None:
        self.command = command
        self.endpoint = endpoint
        self.after = after
        self.before = before
        self.failures = 0
        self.down = False

    def __call__(self, exchange: Exchange) -> None:
        status = exchange.status
        if status is None or status >= 500 or status == 429:
            self.failures += 1
            if self.failures == self.after and not self.down:
                self.down = True
                what = "no answer" if status is None else f"status {status}"
                in_a_row = f"{what}, {self.failures} times in a row"
                self._say(f"the Hub at {self.endpoint} is failing ({in_a_row}); retrying")
        else:  # an answer, even a refusal: the Hub is reachable again
            if self.down:
                self._say(f"the Hub at {self.endpoint} answers again")
            self.failures, self.down = 0, False

    def _say(self, message: str) -> None:
        if self.before is not None:
            self.before()
        print_note(self.command, message)


class WaitProgress:
    """Reports a wait: a status line redrawn on a terminal (else one line per change), then the verdict."""

    def __init__(
        self, command: str, space: str, clock: Clock, *, tty: bool, enabled: bool, as_json: bool
    ) -> None:
        self.command = command
        self.space = space
        self.clock = clock
        self.tty = tty
        self.enabled = enabled
        self.as_json = as_json
        self.start = clock.now()
        self.runtime: SpaceRuntime | None = None
        #: The commit the wait is for (named in the verdict of a success).
        self.revision: str | None = None
        #: The wait also waits for the app to answer (``--ready``): said while the Space serves.
        self.ready = False

    def elapsed(self) -> float:
        """Hub seconds since the wait began."""
        return self.clock.now() - self.start

    def _status(self) -> str:
        rt = self.runtime
        what = "waiting for the first answer" if rt is None else runtime_line(self.space, rt)
        if self.ready and rt is not None and rt.stage.is_serving:
            what += ", waiting for its app to answer"
        return f"{what}  [{format_duration(self.elapsed())}]"

    def update(self, runtime: SpaceRuntime) -> None:
        """Record the newest runtime; redraw the status line, or print it if the stage or hardware changed."""
        changed = self.runtime is None or (runtime.stage, runtime.hardware, runtime.requested_hardware) != (
            self.runtime.stage,
            self.runtime.hardware,
            self.runtime.requested_hardware,
        )
        self.runtime = runtime
        if not self.enabled:
            return
        if self.tty:
            self.draw()
        elif changed:
            print(f"  {self._status()}", file=sys.stderr, flush=True)

    def draw(self) -> None:
        """Redraw the status line over itself (a terminal only)."""
        print(f"\r\x1b[K  {self._status()}", end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        """Erase the status line, if one is drawn."""
        if self.enabled and self.tty:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)

    def action(self, transition: Transition) -> None:
        """A line for what the wait did about the Space (a factory reboot, a capacity retry)."""
        if not self.enabled:
            return
        before, after = transition.previous, transition.current
        if Change.FACTORY_REBOOT in transition.changes:
            stage = "" if before is None else f" in {before.stage}"
            what = f"stalled{stage}: rebuilding it without cache (factory reboot)"
        elif Change.CAPACITY_RETRY in transition.changes:
            why = "no hardware capacity" if before is None else (before.error_message or str(before.stage))
            what = f"{why}: restarted on {after.requested_hardware or 'the same hardware'}"
        else:
            return
        if self.tty:
            self.clear()
        print(f"  {self.space}: {what}", file=sys.stderr, flush=True)

    async def tick(self) -> None:
        """Redraw twice a second, so the elapsed time moves between answers (until cancelled)."""
        while True:
            await anyio.sleep(0.5)
            self.draw()

    def verdict(self, result: str, runtime: SpaceRuntime | None, **extra: Any) -> dict[str, Any]:
        """The wait's ``--json`` document: the result, the last runtime seen, the elapsed time."""
        data: dict[str, Any] = {"space": self.space, "result": result}
        data.update(
            {"stage": None, "hardware": None, "requested_hardware": None}
            if runtime is None
            else {k: v for k, v in runtime_json(self.space, runtime).items() if k != "space"}
        )
        data["elapsed"] = round(self.elapsed(), 1)
        data.update(extra)
        return data

    def report(self, outcome: SpaceRuntime | AiospaceError) -> None:
        """The verdict: the Space runs, failed (with its last log lines) or timed out.

        Any other error is the caller's to report (as an error line); with ``--json`` it
        still gets an ``error`` verdict on stdout, unless the command line was at fault.
        """
        space = self.space
        if isinstance(outcome, AppNotReadyError):
            if self.as_json:
                extra = {
                    "last_status": outcome.last_status,
                    "url": outcome.url,
                    "waited": round(outcome.waited, 1),
                }
                print_json(self.verdict("not_ready", outcome.runtime, logs=outcome.log_lines, **extra))
                return
            last = "no answer" if outcome.last_status is None else f"status {outcome.last_status}"
            where = f" at {outcome.url}" if outcome.url else " (the Hub names no app URL)"
            print_error(
                self.command,
                f"{space} is {outcome.runtime.stage} but its app never answered{where} "
                f"within {format_duration(outcome.waited)} (last: {last})",
            )
            _print_log_tail(outcome.log_lines)
        elif isinstance(outcome, SpaceStalledError):
            if self.as_json:
                extra = {"stalled_for": round(outcome.stalled_for, 1), "rebooted": outcome.rebooted}
                print_json(self.verdict("stalled", outcome.runtime, logs=outcome.log_lines, **extra))
                return
            after = " even after a factory reboot" if outcome.rebooted else ""
            stay = f"{outcome.runtime.stage} for {format_duration(outcome.stalled_for)}{after}"
            print_error(self.command, f"{space} stalled: {stay}")
            _print_log_tail(outcome.log_lines)
        elif isinstance(outcome, SpaceFailedError):
            if self.as_json:
                print_json(self.verdict("failed", outcome.runtime, logs=outcome.log_lines))
                return
            why = f": {outcome.runtime.error_message}" if outcome.runtime.error_message else ""
            print_error(
                self.command,
                f"{space} failed: {outcome.runtime.stage} after {format_duration(self.elapsed())}{why}",
            )
            _print_log_tail(outcome.log_lines)
        elif isinstance(outcome, RevisionSupersededError):
            if self.as_json:
                print_json(
                    self.verdict(
                        "superseded",
                        outcome.runtime,
                        revision=outcome.revision,
                        head=outcome.head,
                        logs=outcome.log_lines,
                    )
                )
                return
            how = "moved past" if outcome.seen else "never reached"
            print_error(
                self.command,
                f"{space}: revision {outcome.revision} superseded: the head {how} it (now {outcome.head})",
            )
            _print_log_tail(outcome.log_lines)
        elif isinstance(outcome, SpaceNotStartingError):
            if self.as_json:
                print_json(self.verdict("not_starting", outcome.runtime, hint=outcome.hint))
                return
            stage = outcome.runtime.stage
            print_error(self.command, f"{space} is {stage} and won't leave it on its own: {outcome.hint}")
        elif isinstance(outcome, WaitTimeoutError):
            if self.as_json:
                reason: dict[str, Any] = {} if outcome.reason is None else {"reason": outcome.reason}
                if outcome.last_error is not None:
                    reason["last_error"] = describe_error(outcome.last_error)
                print_json(self.verdict("timeout", outcome.runtime, **reason))
                return
            last = f" (still {outcome.runtime.stage})" if outcome.runtime else ""
            why = f": {outcome.reason}" if outcome.reason else ""
            failed = "" if outcome.last_error is None else f"; the last poll failed: {outcome.last_error}"
            print_error(
                self.command,
                f"timed out after {format_duration(outcome.timeout)} waiting for {space}{why}{last}{failed}",
            )
        elif isinstance(outcome, AiospaceError):
            if self.as_json and not isinstance(outcome, (UsageError, InvalidArgumentError)):
                print_json(self.verdict("error", self.runtime, error=describe_error(outcome)))
        elif self.as_json:
            extra = {} if self.revision is None else {"revision": self.revision}
            print_json(self.verdict("running", outcome, **extra))
        else:
            serving = "" if self.revision is None else f", serving {self.revision}"
            print(
                f"{runtime_line(space, outcome)}{serving} (after {format_duration(self.elapsed())})",
                flush=True,
            )


def _print_log_tail(log_lines: Sequence[str]) -> None:
    if log_lines:
        print(f"last {len(log_lines)} log lines:", file=sys.stderr)
        for line in log_lines:
            print(f"  | {line.rstrip()}", file=sys.stderr)
    sys.stderr.flush()

"""What the ``aiospace`` command line draws, for a person or for a pipeline.

Owns every output shape: durations for people, the ``--json`` documents (one compact
document a line), plain text tables (runtime, secrets, variables, hardware), the
error line on stderr, the progress and verdict of a wait (:class:`WaitProgress`) and
the transitions of a watch (:class:`WatchOutput`: JSON lines, rows, or the
:class:`LiveTable` redrawn in place on a terminal). Nothing here talks to the Hub:
:mod:`aiospace.cli.commands` calls the Hub and hands the answers here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO, cast

import anyio

from .._clock import Clock
from .._http.budget import Exchange
from ..engine.transitions import Change, Transition
from ..errors import (
    AiospaceError,
    InvalidArgumentError,
    RevisionSupersededError,
    SpaceFailedError,
    SpaceNotStartingError,
    SpaceStalledError,
    WaitTimeoutError,
)
from ..models import SpaceHardwareInfo, SpaceRuntime, SpaceSecret, SpaceVariable, Volume, ZeroGpuQuota
from .util import Redactor, UsageError, describe_error

__all__ = [
    "WATCH_HEADER",
    "HubHealth",
    "LiveTable",
    "WaitProgress",
    "WatchOutput",
    "format_duration",
    "format_sleep_time",
    "hardware_json",
    "hub_time_note",
    "log_lines",
    "print_error",
    "print_hardware_list",
    "print_json",
    "print_note",
    "print_notify_summary",
    "print_runtime",
    "print_secrets",
    "print_variables",
    "print_volumes",
    "print_zero_gpu_quota",
    "quota_json",
    "redacted_output",
    "runtime_json",
    "runtime_line",
    "secret_json",
    "show_runtime",
    "table",
    "variable_json",
    "volume_json",
    "watch_row",
]


# ---------------------------------------------------------------------- shapes


def format_duration(seconds: float) -> str:
    """``42.0s``, ``3m05s``, ``1h02m``: short and readable."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def format_sleep_time(seconds: int | None) -> str:
    """A sleep time as ``sleep-time`` takes it: ``1h30m``, ``never`` (-1), or ``default`` (none set)."""
    if seconds is None:
        return "default"
    return "never" if seconds < 0 else format_duration(seconds)


def hub_time_note(speed: float) -> str:
    """The one line that says times on screen are Hub time (``--hub-speed``)."""
    return f"times shown are Hub time: the Hub's clock runs {speed:g}x real time (--hub-speed {speed:g})"


def _value(x: object) -> object:
    """An enum's value (a flavor, a tier...), else ``x`` itself."""
    return None if x is None else getattr(x, "value", x)


def runtime_json(repo_id: str, runtime: SpaceRuntime) -> dict[str, Any]:
    """What ``--json`` prints for a runtime (stable keys)."""
    replicas = runtime.replicas
    return {
        "space": repo_id,
        "stage": runtime.stage.value,
        "hardware": _value(runtime.hardware),
        "requested_hardware": _value(runtime.requested_hardware),
        "converged": runtime.is_converged,
        "sleep_time": runtime.sleep_time,
        "storage": _value(runtime.storage),
        "dev_mode": runtime.dev_mode,
        "replicas": None
        if replicas is None
        else {"requested": replicas.requested, "current": replicas.current},
    }


def runtime_line(repo_id: str, runtime: SpaceRuntime) -> str:
    """``alice/demo: RUNNING on cpu-basic`` or ``... on cpu-basic (requested t4-small)``."""
    hardware = runtime.hardware.value if runtime.hardware is not None else "no hardware"
    text = f"{repo_id}: {runtime.stage} on {hardware}"
    if runtime.requested_hardware is not None and runtime.requested_hardware != runtime.hardware:
        text += f" (requested {runtime.requested_hardware})"
    return text


def hardware_json(info: SpaceHardwareInfo) -> dict[str, Any]:
    """One catalogue entry for ``hardware-list --json``."""
    acc = info.accelerator
    return {
        "name": info.name.value,
        "pretty_name": info.pretty_name,
        "cpu": info.cpu,
        "ram": info.ram,
        "accelerator": None
        if acc is None
        else {
            "model": acc.model,
            "quantity": acc.quantity,
            "vram": acc.vram,
            "manufacturer": acc.manufacturer,
        },
        "cost_per_hour_usd": None if info.cost_per_hour_usd is None else round(info.cost_per_hour_usd, 4),
    }


def secret_json(secret: SpaceSecret) -> dict[str, Any]:
    """One secret for ``secrets ls --json`` (there is no value to show: the Hub never returns it)."""
    updated = secret.updated_at.isoformat() if secret.updated_at else None
    return {"key": secret.key, "description": secret.description, "updated_at": updated}


def variable_json(variable: SpaceVariable) -> dict[str, Any]:
    """One variable for ``variables ls --json``."""
    updated = variable.updated_at.isoformat() if variable.updated_at else None
    return {
        "key": variable.key,
        "value": variable.value,
        "description": variable.description,
        "updated_at": updated,
    }


def volume_json(volume: Volume) -> dict[str, Any]:
    """One volume for ``volumes ls --json``."""
    return {
        "type": _value(volume.type),
        "source": volume.source,
        "mount_path": volume.mount_path,
        "revision": volume.revision,
        "read_only": volume.read_only,
        "path": volume.path,
    }


def quota_json(quota: ZeroGpuQuota) -> dict[str, Any]:
    """The ZeroGPU quota for ``zero-gpu-quota --json`` (GPU-seconds; ``resets_at`` ISO 8601 or null)."""
    return {
        "base": quota.base,
        "remaining": quota.remaining,
        "resets_at": None if quota.resets_at is None else quota.resets_at.isoformat(),
        "overquota_used": quota.overquota_used,
    }


def table(rows: Iterable[Sequence[object]], header: Sequence[str]) -> str:
    """A plain left-aligned text table."""
    cells = [[str(c) for c in header], *([("" if c is None else str(c)) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def print_json(data: object, file: TextIO | None = None) -> None:
    """One compact JSON document on a line (flushed: jq and bots read it at once)."""
    print(json.dumps(data, separators=(",", ":"), sort_keys=False), file=file or sys.stdout, flush=True)


class _RedactedStream:
    """A text stream that masks the redactor's strings (tokens, secret values) in all it writes."""

    def __init__(self, stream: TextIO, redactor: Redactor) -> None:
        self._stream = stream
        self._redactor = redactor

    def write(self, text: str) -> int:
        """Write ``text``, masked; returns its length as given (as a stream does)."""
        self._stream.write(self._redactor.redact(text) if self._redactor.secrets else text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        """Write each line, masked."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def redacted_output(redactor: Redactor) -> Iterator[None]:
    """While inside, everything written to ``sys.stdout`` and ``sys.stderr`` goes through
    ``redactor``: the error line, JSON documents, tables, progress and log lines alike.

    The redactor may learn more strings while inside (a secret value read from a file).
    """
    out, err = sys.stdout, sys.stderr
    # Started with stdout or stderr closed (``2>&-``), Python sets it to None: write to
    # nowhere then (was an AttributeError at the first line, and exit code 1).
    sink: TextIO | None = None
    if out is None or err is None:
        sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    sys.stdout = cast(TextIO, _RedactedStream(cast(TextIO, out or sink), redactor))
    sys.stderr = cast(TextIO, _RedactedStream(cast(TextIO, err or sink), redactor))
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        if sink is not None:
            sink.close()


def print_error(command: str, message: str) -> None:
    """``aiospace COMMAND: message`` on stderr."""
    print(f"aiospace {command}: {message}", file=sys.stderr, flush=True)


def print_note(command: str, message: str) -> None:
    """``aiospace COMMAND: message`` on stderr: something to know, not an error."""
    print(f"aiospace {command}: {message}", file=sys.stderr, flush=True)


class _CommandLines(logging.Handler):
    """Log records as ``aiospace COMMAND: message`` lines on (the current) stderr."""

    def __init__(self, command: str, redactor: logging.Filter | None) -> None:
        super().__init__()
        self.command = command
        if redactor is not None:
            self.addFilter(redactor)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print_error(self.command, record.getMessage())
        except Exception:  # pragma: no cover - logging never raises
            self.handleError(record)


@contextlib.contextmanager
def log_lines(
    logger: str, level: int, command: str, *, redactor: logging.Filter | None = None, enabled: bool = True
) -> Iterator[None]:
    """While inside, records of ``logger`` at ``level`` and above are ``aiospace COMMAND:`` lines on stderr.

    Not when ``enabled`` is false (``-v`` already shows every record, once).
    """
    if not enabled:
        yield
        return
    target = logging.getLogger(logger)
    handler = _CommandLines(command, redactor)
    handler.setLevel(level)
    previous = target.level
    target.addHandler(handler)
    if target.getEffectiveLevel() > level:
        target.setLevel(level)
    try:
        yield
    finally:
        target.removeHandler(handler)
        target.setLevel(previous)


# ---------------------------------------------------------------------- what commands show


def show_runtime(space: str, runtime: SpaceRuntime, note: str = "", *, as_json: bool) -> None:
    """A runtime after a change: its JSON document, or its line followed by ``-- note``."""
    if as_json:
        print_json(runtime_json(space, runtime))
    else:
        print(runtime_line(space, runtime) + (f" -- {note}" if note else ""), flush=True)


def print_runtime(space: str, runtime: SpaceRuntime, *, as_json: bool) -> None:
    """A runtime in full: its JSON document, or one ``key  value`` line per field."""
    if as_json:
        print_json(runtime_json(space, runtime))
        return
    data = runtime_json(space, runtime)
    data["sleep_time"] = format_sleep_time(runtime.sleep_time)
    replicas = data.pop("replicas")
    if replicas:
        data["replicas"] = f"{replicas['current'] if replicas['current'] is not None else '-'}/"
        data["replicas"] += f"{replicas['requested'] if replicas['requested'] is not None else '-'}"
    width = max(len(k) for k in data)
    for key, value in data.items():
        print(f"{key.replace('_', ' '):<{width}}  {'-' if value is None else value}")


def print_secrets(space: str, secrets: Mapping[str, SpaceSecret], *, as_json: bool) -> None:
    """A Space's secrets (keys, descriptions, update times: the Hub never returns values)."""
    if as_json:
        print_json([secret_json(s) for s in secrets.values()])
    elif not secrets:
        print(f"{space} has no secrets")
    else:
        rows = [(s.key, s.description or "", s.updated_at or "") for s in secrets.values()]
        print(table(rows, ("KEY", "DESCRIPTION", "UPDATED")))


def print_variables(space: str, variables: Mapping[str, SpaceVariable], *, as_json: bool) -> None:
    """A Space's variables: a JSON list, or a table."""
    if as_json:
        print_json([variable_json(v) for v in variables.values()])
    elif not variables:
        print(f"{space} has no variables")
    else:
        rows = [(v.key, v.value, v.description or "") for v in variables.values()]
        print(table(rows, ("KEY", "VALUE", "DESCRIPTION")))


def print_volumes(space: str, volumes: Sequence[Volume] | None, *, as_json: bool) -> None:
    """A Space's volumes: a JSON list, or a table."""
    if as_json:
        print_json([volume_json(v) for v in volumes or ()])
    elif not volumes:
        print(f"{space} has no volumes")
    else:
        rows = [
            (
                v.type,
                v.source,
                v.mount_path,
                {True: "ro", False: "rw", None: "-"}[v.read_only],
                v.revision or "",
                v.path or "",
            )
            for v in volumes
        ]
        print(table(rows, ("TYPE", "SOURCE", "MOUNT", "ACCESS", "REVISION", "PATH")))


def print_zero_gpu_quota(quota: ZeroGpuQuota, *, as_json: bool) -> None:
    """The caller's ZeroGPU quota: its JSON document, or one ``key  value`` line per figure."""
    if as_json:
        print_json(quota_json(quota))
        return
    left = format_duration(quota.remaining)
    lines = {
        "remaining": f"{quota.remaining:g} of {quota.base:g} GPU-seconds ({left})",
        "resets at": "-" if quota.resets_at is None else quota.resets_at.isoformat(timespec="seconds"),
        "overquota used": "-" if quota.overquota_used is None else f"{quota.overquota_used:g} GPU-seconds",
    }
    width = max(len(k) for k in lines)
    for key, value in lines.items():
        print(f"{key:<{width}}  {value}")


def print_hardware_list(catalogue: Iterable[SpaceHardwareInfo], *, as_json: bool) -> None:
    """The hardware catalogue: a JSON list, or a table with the price of an hour on each flavor."""
    if as_json:
        print_json([hardware_json(info) for info in catalogue])
        return
    rows = []
    for info in catalogue:
        acc = info.accelerator
        gpu = "-" if acc is None else f"{acc.quantity or 1}x {acc.model} ({acc.vram})"
        price = info.cost_per_hour_usd
        rows.append(
            (
                info.name,
                info.pretty_name or "",
                info.cpu or "",
                info.ram or "",
                gpu,
                "?" if price is None else ("free" if price == 0 else f"${price:.2f}"),
            )
        )
    print(table(rows, ("FLAVOR", "NAME", "CPU", "RAM", "ACCELERATOR", "PER HOUR")))


# ---------------------------------------------------------------------- waiting


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

    def elapsed(self) -> float:
        """Hub seconds since the wait began."""
        return self.clock.now() - self.start

    def _status(self) -> str:
        rt = self.runtime
        what = "waiting for the first answer" if rt is None else runtime_line(self.space, rt)
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
        if isinstance(outcome, SpaceStalledError):
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
            print_json(self.verdict("running", outcome))
        else:
            print(f"{runtime_line(space, outcome)} (after {format_duration(self.elapsed())})", flush=True)


def _print_log_tail(log_lines: Sequence[str]) -> None:
    if log_lines:
        print(f"last {len(log_lines)} log lines:", file=sys.stderr)
        for line in log_lines:
            print(f"  | {line.rstrip()}", file=sys.stderr)
    sys.stderr.flush()


# ---------------------------------------------------------------------- watching


WATCH_HEADER = f"{'time':>8}  {'space':<28} {'stage':<21} {'hardware':<12} {'requested':<12} changes"


def watch_row(t: Transition, start: float) -> str:
    """One transition as a row under :data:`WATCH_HEADER` (time since ``start``, Hub seconds)."""
    cur = t.current
    changes = ", ".join(sorted(c.value for c in t.changes))
    mark = "  converged" if t.converged and "converged" not in changes else ""
    return (
        f"{format_duration(max(0.0, t.observed_at - start)):>8}  {t.repo_id:<28} {cur.stage.value:<21} "
        f"{cur.hardware or '-':<12} {cur.requested_hardware or '-':<12} {changes}{mark}"
    )


class LiveTable:
    """One row per Space, redrawn in place on a terminal (ANSI cursor moves, no curses).

    When there are more Spaces than lines, the most recently changed ones are shown.
    """

    def __init__(self, start: float, out: TextIO | None = None, height: int | None = None) -> None:
        self.start = start
        self.out = out if out is not None else sys.stdout
        self.height = height
        self.latest: dict[str, Transition] = {}
        self._drawn = 0

    def update(self, transition: Transition) -> None:
        """Record a Space's newest transition and redraw."""
        self.latest[transition.repo_id] = transition
        self.draw()

    def draw(self) -> None:
        """Redraw the header and one row per Space over the previous drawing."""
        height = self.height or shutil.get_terminal_size((100, 24)).lines
        shown = sorted(self.latest.values(), key=lambda t: t.observed_at, reverse=True)[: max(1, height - 2)]
        lines = [WATCH_HEADER, *(watch_row(t, self.start) for t in sorted(shown, key=lambda t: t.repo_id))]
        if len(shown) < len(self.latest):
            lines.append(f"({len(self.latest) - len(shown)} more Spaces not shown)")
        text = f"\x1b[{self._drawn}F" if self._drawn else ""
        text += "".join(f"\x1b[2K{line}\n" for line in lines)
        leftover = self._drawn - len(lines)
        if leftover > 0:  # the previous drawing was taller: blank its tail
            text += "\x1b[2K\n" * leftover + f"\x1b[{leftover}F"
        self.out.write(text)
        self.out.flush()
        self._drawn = len(lines)


class WatchOutput:
    """Where a watch's transitions go: JSON lines, the live table on a terminal, or one row each."""

    def __init__(self, start: float, *, as_json: bool, terminal: bool) -> None:
        self.start = start
        self.as_json = as_json
        self.live = LiveTable(start) if not as_json and terminal else None

    def begin(self) -> None:
        """Print the header of a table written line by line (the live table draws its own)."""
        if not self.as_json and self.live is None:
            print(WATCH_HEADER, flush=True)

    def show(self, transition: Transition) -> None:
        """Show one transition."""
        if self.as_json:
            print_json(transition.to_json())
        elif self.live is not None:
            self.live.update(transition)
        else:
            print(watch_row(transition, self.start), flush=True)


def print_notify_summary(command: str, target: str, delivered: int, failed: int, timed_out: int) -> None:
    """One line on stderr: how the notifications to ``target`` went."""
    late = f" ({timed_out} timed out)" if timed_out else ""
    print_error(command, f"notifications to {target}: {delivered} delivered, {failed} failed{late}")

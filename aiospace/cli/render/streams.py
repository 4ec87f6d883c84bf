"""Where the ``aiospace`` command line writes, and what it masks there.

Everything written to stdout and stderr during a command goes through the run's
redactor (:func:`redacted_output`); errors and notes are ``aiospace COMMAND: ...``
lines on stderr (:func:`print_error`, :func:`print_note`), and so are the records of a
library logger while :func:`log_lines` is entered.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, cast

from ..util import OutputError, Redactor

__all__ = ["hub_time_note", "log_lines", "print_error", "print_note", "redacted_output"]


def hub_time_note(speed: float) -> str:
    """The one line that says times on screen are Hub time (``--hub-speed``)."""
    return f"times shown are Hub time: the Hub's clock runs {speed:g}x real time (--hub-speed {speed:g})"


class _RedactedStream:
    """A text stream that masks the redactor's strings (tokens, secret values) in all it writes."""

    def __init__(self, stream: TextIO, redactor: Redactor, name: str) -> None:
        self._stream = stream
        self._redactor = redactor
        self._name = name

    def write(self, text: str) -> int:
        """Write ``text``, masked; returns its length as given (as a stream does).

        A write error but a closed pipe is an :class:`~aiospace.cli.util.OutputError` (exit 74).
        """
        try:
            self._stream.write(self._redactor.redact(text) if self._redactor.secrets else text)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputError(self._name, error) from None
        return len(text)

    def flush(self) -> None:
        """Flush the stream (a write error but a closed pipe is an ``OutputError``)."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputError(self._name, error) from None

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
    # Started with stdout or stderr closed (``2>&-``), Python sets it to None: what would
    # go there goes nowhere, and the command runs as it would otherwise.
    sink: TextIO | None = None
    if out is None or err is None:
        sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    sys.stdout = cast(TextIO, _RedactedStream(cast(TextIO, out or sink), redactor, "stdout"))
    sys.stderr = cast(TextIO, _RedactedStream(cast(TextIO, err or sink), redactor, "stderr"))
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

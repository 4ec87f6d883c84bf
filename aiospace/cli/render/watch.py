"""What a watch shows: JSON lines, rows, or a live table redrawn in place on a terminal."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from ...engine.transitions import Transition
from .answers import format_duration, print_json
from .streams import print_error

__all__ = ["WATCH_HEADER", "LiveTable", "WatchOutput", "print_notify_summary", "watch_row"]


WATCH_HEADER = f"{'time':>8}  {'space':<28} {'stage':<21} {'hardware':<12} {'requested':<12} changes"


def watch_row(t: Transition, start: float) -> str:
    """One transition as a row under :data:`WATCH_HEADER` (time since ``start``, Hub seconds)."""
    cur = t.current
    changes = ", ".join(sorted(c.value for c in t.changes))
    mark = "  converged" if t.converged and "converged" not in changes else ""
    when = f"{format_duration(max(0.0, t.observed_at - start)):>8}  {t.repo_id:<28}"
    if t.removed:  # deleted, or no longer readable: no stage nor hardware any more
        return f"{when} {'(removed)':<21} {'-':<12} {'-':<12} {changes}: {t.reason or 'gone'}"
    hardware = f"{cur.hardware or '-':<12} {cur.requested_hardware or '-':<12}"
    return f"{when} {cur.stage.value:<21} {hardware} {changes}{mark}"


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


def print_notify_summary(
    command: str, target: str, delivered: int, failed: int, timed_out: int, cut_short: int = 0
) -> None:
    """One line on stderr: how the notifications to ``target`` went (``cut_short``: under way when
    the watch was interrupted)."""
    late = f" ({timed_out} timed out)" if timed_out else ""
    cut = f", {cut_short} cut short" if cut_short else ""
    print_error(command, f"notifications to {target}: {delivered} delivered, {failed} failed{late}{cut}")

"""The arguments several ``aiospace`` commands share, each defined once.

Commands declare their own arguments next to their run function
(:mod:`aiospace.cli.commands`) and call these helpers for the shared ones: the
``SPACE`` positional, ``--json``, the wait options; the global options are added
to the main parser and to every command that talks to the Hub. Also here: the
argparse number types, the help formatter and the exit-code block of the commands
that wait.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Mapping

from .util import parse_duration

__all__ = [
    "EXIT_CODES_HELP",
    "HUB_EXIT_CODES",
    "LOCAL_EXIT_CODES",
    "MAX_COUNT",
    "VALUED_GLOBAL_OPTIONS",
    "WAIT_EXIT_CODES",
    "HelpFormatter",
    "count",
    "exit_codes_help",
    "global_options",
    "json_option",
    "positive",
    "positive_int",
    "space_argument",
    "wait_options",
]

#: The exit codes every command can end with, said once: one line here adds a code to the
#: ``--help`` of every command (a command's own codes are its ``Command.exit_codes``).
LOCAL_EXIT_CODES: Mapping[int, str] = {
    2: "usage error (bad arguments, or a value refused before any request)",
    74: "stdout or stderr could not be written (a full disk, an I/O error)",
    130: "interrupted (Ctrl-C)",
    143: "terminated (SIGTERM), ended as by Ctrl-C",
}

#: The exit codes every command that talks to the Hub can end with (and :data:`LOCAL_EXIT_CODES`).
HUB_EXIT_CODES: Mapping[int, str] = {
    **LOCAL_EXIT_CODES,
    4: "access error: Space not found, bad token, no permission",
    5: "any other Hub or transport error",
}

#: The exit codes of ``wait`` (and of the commands that wait with its options).
WAIT_EXIT_CODES: Mapping[int, str] = {
    0: "the Space is up (and on the requested hardware, serving --revision)",
    1: "the Space landed in an error stage (BUILD_ERROR, RUNTIME_ERROR...), stalled "
    "(--stall-after), or --revision was superseded by a newer push: the stage and the tail of "
    "its logs are printed; or it is PAUSED, STOPPED or SLEEPING and won't move on its own: "
    "what would move it is printed",
    3: "timed out (or no build of --revision began within --build-grace)",
}


def exit_codes_help(own: Mapping[int, str], common: Mapping[int, str] = HUB_EXIT_CODES) -> str:
    """The ``exit codes:`` block of a command's help: its ``own`` codes and the ``common`` ones, in order
    (an own code's wording wins)."""
    codes = {**common, **own}
    width = max(len(str(code)) for code in codes)
    lines = ["exit codes:"]
    for code in sorted(codes):
        text = textwrap.wrap(codes[code], 76 - width)
        lines.append(f"  {code:<{width}}  {text[0]}")
        lines.extend(f"  {'':<{width}}  {more}" for more in text[1:])
    return "\n".join(lines) + "\n"


#: The exit-code block of ``wait`` (and of the commands that take all its options).
EXIT_CODES_HELP = exit_codes_help(WAIT_EXIT_CODES)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help as written: examples and exit-code tables keep their line breaks."""


# ---------------------------------------------------------------------- argparse types


def positive(value: str) -> float:
    """A number > 0 (an argparse type)."""
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return number


#: The largest count an option takes (lines, retries...): more is a typo, not a wish.
MAX_COUNT = 1_000_000


def _whole(value: str, least: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not least <= number <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{value} must be within [{least}, {MAX_COUNT:,}]")
    return number


def count(value: str) -> int:
    """A whole number >= 0, at most :data:`MAX_COUNT` (an argparse type)."""
    return _whole(value, 0)


def positive_int(value: str) -> int:
    """A whole number >= 1, at most :data:`MAX_COUNT` (an argparse type)."""
    return _whole(value, 1)


# ---------------------------------------------------------------------- shared arguments

#: Global options that take a value (skipped when looking for the command's name).
VALUED_GLOBAL_OPTIONS = ("--endpoint", "--token", "--hub-speed")


def global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Add ``--endpoint``, ``--token``, ``-v`` and ``--hub-speed`` (``top``: on the main parser)."""

    # On subcommands the defaults are suppressed, so `aiospace -v wait X` and
    # `aiospace wait X -v` both work and neither overrides the other.
    def default(value: object) -> object:
        """``value`` on the main parser; on a subcommand, no default (keep the main parser's)."""
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--endpoint",
        default=default(None),
        metavar="URL",
        help="the Hub's URL (default: $HF_ENDPOINT or huggingface.co)",
    )
    group.add_argument(
        "--token",
        default=default(None),
        metavar="TOKEN",
        help="a Hub token (default: $HF_TOKEN, then $HF_HOME/token); prefer the environment",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="debug log on stderr (secrets masked)",
    )
    group.add_argument(
        "--hub-speed",
        type=positive,
        default=default(None),
        metavar="N",
        help="the Hub's clock runs N times faster than real time (an `aiospace emulator --speed N`): "
        "poll intervals, backoff and timeouts count in Hub seconds",
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=default(False),
        help="send the token over plain http to a host that is not this machine (prefer https)",
    )


def json_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--json``: the command prints JSON documents instead of text."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def space_argument(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """Add the ``SPACE`` positional (``namespace/name``, checked before any request is made)."""
    parser.add_argument("space", metavar="SPACE", help=help)


def wait_options(parser: argparse.ArgumentParser, *, flag: bool) -> None:
    """Add ``--timeout`` and ``--quiet`` (and ``--wait`` if ``flag``: waiting is optional)."""
    if flag:
        parser.add_argument(
            "--wait", action="store_true", help="then wait until it runs (exit codes of `wait`)"
        )
    parser.add_argument(
        "--timeout",
        type=parse_duration,
        default=600.0,
        metavar="DURATION",
        help="how long to wait: 90, 90s, 10m, 1h (default 10m)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr while waiting")

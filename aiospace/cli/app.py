"""The ``aiospace`` command line: manage Hugging Face Spaces from a shell.

This module owns the entry points (:func:`main`, and :func:`amain` which does the same
inside a running event loop, e.g. in tests), the argument parser (:func:`build_parser`:
the global options and one subparser per subcommand), the checks argparse can't
express, the debug log, the run of a command with its one
:class:`~aiospace.SpaceClient`, the mapping of errors to exit codes and Ctrl-C. What
each subcommand does is in :mod:`aiospace.cli.commands` (``cmd_<name>``, re-exported
here); what it draws is in :mod:`aiospace.cli.render`. Every command but ``emulator``
and ``demo`` talks to the Hub through one :class:`~aiospace.SpaceClient`.

Global options (before or after the command): ``--endpoint`` (else ``HF_ENDPOINT``),
``--token`` (else ``HF_TOKEN``, then ``$HF_HOME/token``), ``-v`` (debug log on stderr),
``--hub-speed N`` (the Hub's clock runs N times
faster than real time, as an ``aiospace emulator --speed N`` does: poll intervals,
backoff and ``--timeout`` then count in Hub seconds, as every time on screen does),
``--allow-insecure-http`` and ``--version``. A closed stdout (``| head``) ends a
command quietly with exit 0. Everything a command prints (its output, the error line,
the debug log) masks the token, whatever its source, and the secret values of the run
(``***``).

Exit codes: 0 success; 1 the Space landed in an error stage, stalled, won't start on
its own (paused, stopped, sleeping), or the revision waited for was superseded; 2 usage
error (bad arguments, or a value refused before any request); 3 a wait timed out (or no
build of the revision began within ``--build-grace``); 4 access error
(Space not found, bad token, no permission); 5 any other Hub or transport error (an
answer that can't be read included: one line, never a traceback);
6 a lease's release was not confirmed; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM,
``aiospace lease``). ``aiospace lease`` passes its COMMAND's exit code through.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import io
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from ..__about__ import __version__
from .._clock import Clock, ScaledClock
from .._http.budget import Exchange
from .._http.endpoint import resolve_token
from .._hub.validate import SDKS, check_repo_id
from ..client import SpaceClient
from ..errors import AiospaceError, InvalidArgumentError
from .commands import (
    Command,
    HubCommand,
    LocalCommand,
    cmd_create,
    cmd_delete,
    cmd_demo,
    cmd_dev_mode,
    cmd_duplicate,
    cmd_emulator,
    cmd_hardware,
    cmd_hardware_list,
    cmd_lease,
    cmd_logs,
    cmd_pause,
    cmd_restart,
    cmd_runtime,
    cmd_secrets,
    cmd_sleep_time,
    cmd_storage,
    cmd_variables,
    cmd_volumes,
    cmd_wait,
    cmd_watch,
    cmd_zero_gpu_quota,
)
from .render import format_duration, hub_time_note, print_error, print_note, redacted_output
from .util import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    VOLUME_FORMAT,
    Redactor,
    UsageError,
    describe_error,
    exit_code_for,
    is_broken_pipe,
    on_stdout_closed,
    parse_duration,
    parse_sleep_time,
    silence_stdout,
)

__all__ = [
    "amain",
    "build_parser",
    "cmd_create",
    "cmd_delete",
    "cmd_demo",
    "cmd_dev_mode",
    "cmd_duplicate",
    "cmd_emulator",
    "cmd_hardware",
    "cmd_hardware_list",
    "cmd_lease",
    "cmd_logs",
    "cmd_pause",
    "cmd_restart",
    "cmd_runtime",
    "cmd_secrets",
    "cmd_sleep_time",
    "cmd_storage",
    "cmd_variables",
    "cmd_volumes",
    "cmd_wait",
    "cmd_watch",
    "cmd_zero_gpu_quota",
    "main",
]

log = logging.getLogger("aiospace.cli")

EXIT_CODES_HELP = """\
exit codes:
  0  the Space is up (and on the requested hardware, serving --revision)
  1  the Space landed in an error stage (BUILD_ERROR, RUNTIME_ERROR...), stalled
     (--stall-after), or --revision was superseded by a newer push: the stage and
     the tail of its logs are printed; or it is PAUSED, STOPPED or SLEEPING and
     won't move on its own: what would move it is printed
  2  usage error
  3  timed out (or no build of --revision began within --build-grace)
  4  access error: Space not found, bad token, no permission
  5  any other Hub or transport error
"""

LEASE_HELP = """\
COMMAND runs with the terminal's stdin, stdout and stderr, and AIOSPACE_SPACE,
AIOSPACE_URL (the app's URL) and AIOSPACE_HARDWARE in its environment. The Space
is released when COMMAND ends, fails, or on Ctrl-C / SIGTERM, and the release is
confirmed by the Hub (retried with backoff) before aiospace exits.

exit codes:
  COMMAND's own  COMMAND ran (128+N if signal N killed it)
  126, 127       COMMAND could not be run (not executable, not found)
  130, 143       interrupted by Ctrl-C (SIGINT) or SIGTERM
  1, 3, 4, 5     before COMMAND ran: the Space failed, timed out, no access, Hub error
  2              usage error
  6              the release was not confirmed: the Space may still run on FLAVOR
"""


# ---------------------------------------------------------------------- the parser


def _positive(value: str) -> float:
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


def _count(value: str) -> int:
    """A whole number >= 0, at most :data:`MAX_COUNT` (an argparse type)."""
    return _whole(value, 0)


def _positive_int(value: str) -> int:
    """A whole number >= 1, at most :data:`MAX_COUNT` (an argparse type)."""
    return _whole(value, 1)


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
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
        type=_positive,
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


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help as written: examples and exit-code tables keep their line breaks."""


def _add(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Command | LocalCommand | HubCommand,
    help_text: str,
    example: str,
    *,
    json: bool = False,
    epilog_extra: str = "",
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` running ``func``, with its example, ``--json`` and the global options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        # A docstring's first line, its ``literals`` shown as a terminal shows them.
        description=(func.__doc__ or help_text).strip().splitlines()[0].replace("``", ""),
        epilog=f"example:\n  {example}\n" + (f"\n{epilog_extra}" if epilog_extra else ""),
        formatter_class=_Formatter,
    )
    if json:
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=func)
    if name not in ("emulator", "demo"):
        _global_options(parser, top=False)
    return parser


def _wait_options(parser: argparse.ArgumentParser, *, flag: bool) -> None:
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


def _add_emulator(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``aiospace emulator`` and its server options."""
    parser = _add(
        subparsers,
        "emulator",
        cmd_emulator,
        "run a local Hugging Face Hub emulator",
        "aiospace emulator --port 7860 --speed 10",
    )
    parser.description = "Run a local Hub emulator (Spaces runtime API) until interrupted."
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860; 0: any)")
    parser.add_argument("--speed", type=_positive, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--seed", default=None, help="JSON seed file (default: the demo world)")
    parser.add_argument(
        "--quota", type=_positive_int, default=None, help="requests per window (default 10000)"
    )
    parser.add_argument(
        "--window", type=_positive, default=300.0, help="rate-limit window, seconds (default 300)"
    )
    parser.add_argument("--admin-token", default=None, help="admin token (default: random)")
    parser.add_argument("--rng-seed", type=int, default=0, help="seed of the fault injector")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one subparser per subcommand."""
    parser = argparse.ArgumentParser(
        prog="aiospace",
        description="Manage Hugging Face Spaces: runtime, hardware, secrets, logs; wait for and watch them.",
        epilog="examples:\n  aiospace demo\n  aiospace restart me/my-space --wait --timeout 15m\n"
        "  aiospace watch --author me --json | jq .stage\n\n"
        "`aiospace COMMAND --help` shows each command's options and an example.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"aiospace {__version__}")
    _global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = _add(
        sub,
        "demo",
        cmd_demo,
        "watch a Space restart and change hardware on an embedded emulator",
        "aiospace demo",
    )
    p.add_argument("--speed", type=_positive, default=25.0, help="the emulator's speed (default 25x)")
    p.add_argument("--space", default="alice/demo", help="the demo Space (default alice/demo)")
    p.add_argument("--hardware", default="t4-small", help="the flavor to move it to (default t4-small)")

    p = _add(
        sub,
        "wait",
        cmd_wait,
        "wait until a Space runs (on a hardware flavor, serving a commit)",
        "aiospace wait me/my-space --revision $(git rev-parse HEAD) --stall-after 20m --timeout 30m",
        json=True,
        epilog_extra=EXIT_CODES_HELP,
    )
    p.add_argument("space", metavar="SPACE", help="namespace/name")
    p.add_argument("--hardware", metavar="FLAVOR", help="also wait until it runs on this flavor")
    _wait_options(p, flag=False)
    deploy = p.add_argument_group("deploys")
    deploy.add_argument(
        "--revision",
        metavar="SHA",
        help="a full commit sha (40 hex digits): wait until the Space serves that commit",
    )
    deploy.add_argument(
        "--build-grace",
        type=parse_duration,
        default=120.0,
        metavar="DURATION",
        help="with --revision: how long its build may take to begin once the head is it (default 2m)",
    )
    deploy.add_argument(
        "--stall-after",
        type=parse_duration,
        metavar="DURATION",
        help="fail (or --on-stall) when a building or starting stage lasts longer than this",
    )
    deploy.add_argument(
        "--on-stall",
        choices=("raise", "factory-reboot"),
        default="raise",
        help="on a stall: fail (raise, the default), or rebuild once without cache and fail at a "
        "second stall (factory-reboot)",
    )
    deploy.add_argument(
        "--retry-capacity",
        type=_count,
        default=0,
        metavar="N",
        help="restart up to N times after a scheduling failure (no hardware capacity), with backoff",
    )
    deploy.add_argument(
        "--fallback-hardware",
        action="append",
        metavar="FLAVOR",
        help="a flavor the capacity retries move to, in order (repeat it, or separate with commas)",
    )

    p = _add(
        sub,
        "watch",
        cmd_watch,
        "print every transition of Spaces as it happens",
        "aiospace watch --author me --json | jq -c '{space, stage}'",
        json=True,
        epilog_extra="A table on a terminal; JSON lines (one transition each, the keys of\n"
        "Transition.to_json()) when stdout is not a terminal or with --json.\n"
        "Runs until Ctrl-C (exit 130), --timeout, --max-events or --until-settled.\n"
        "Exit code 4 if a Space could not be watched (not found, no access).",
    )
    p.add_argument("spaces", nargs="*", metavar="SPACE", help="namespace/name (any number)")
    p.add_argument("--author", action="append", metavar="NAME", help="add every Space of this user or org")
    p.add_argument("--table", action="store_true", help="a table even when stdout is not a terminal")
    p.add_argument("--timeout", type=parse_duration, metavar="DURATION", help="stop after this long")
    p.add_argument("--max-events", type=_positive_int, metavar="N", help="stop after N transitions")
    p.add_argument(
        "--until-settled",
        action="store_true",
        help="stop once every Space is settled (not building or starting, hardware converged)",
    )
    notify = p.add_argument_group(
        "filters and notifications",
        "The filters pick the transitions reported: printed (JSON lines or rows), notified\n"
        "and counted by --max-events; the live table always shows every Space.",
    )
    notify.add_argument(
        "--on",
        action="append",
        metavar="STAGE[,STAGE...]",
        help="only transitions to these stages (e.g. BUILD_ERROR,RUNTIME_ERROR)",
    )
    notify.add_argument(
        "--on-change",
        action="append",
        metavar="KIND[,KIND...]",
        help="only transitions with these changes: stage, hardware, converged, stalled",
    )
    notify.add_argument(
        "--exec",
        dest="exec_commands",
        action="append",
        metavar="CMD",
        help="run CMD (through sh -c) for each transition, its JSON on stdin",
    )
    notify.add_argument(
        "--post",
        dest="post_urls",
        action="append",
        metavar="URL",
        help="POST each transition's JSON to URL (retried on 5xx and transport errors)",
    )
    notify.add_argument(
        "--notify-timeout",
        type=parse_duration,
        default=30.0,
        metavar="DURATION",
        help="real time one --exec run or --post attempt may take (default 30s)",
    )
    notify.add_argument(
        "--notify-concurrency",
        type=_positive_int,
        default=8,
        metavar="N",
        help="Spaces notified at once, per target (default 8; one Space's transitions go in order)",
    )

    p = _add(
        sub,
        "lease",
        cmd_lease,
        "run a command while a Space runs on a hardware flavor, then release it",
        "aiospace lease me/my-space a10g-small --timeout 15m -- python batch.py",
        epilog_extra=LEASE_HELP,
    )
    p.add_argument("space", metavar="SPACE")
    p.add_argument("flavor", metavar="FLAVOR", help="the flavor to run on (see `aiospace hardware-list`)")
    p.add_argument(
        "--release",
        default="restore",
        metavar="restore|pause|FLAVOR",
        help="afterwards: restore the previous flavor and sleep time (default), pause, or request FLAVOR",
    )
    p.add_argument("--sleep-time", type=parse_sleep_time, metavar="DURATION", help="sleep time while leased")
    p.add_argument(
        "--timeout",
        type=parse_duration,
        default=600.0,
        metavar="DURATION",
        help="how long to wait for the flavor (default 10m)",
    )
    p.add_argument(
        "--release-timeout",
        type=parse_duration,
        default=120.0,
        metavar="DURATION",
        help="how long the release may take, retries included (default 2m)",
    )
    p.add_argument(
        "--grace",
        type=parse_duration,
        default=10.0,
        metavar="DURATION",
        help="after a signal, real time COMMAND has to exit before SIGTERM, then SIGKILL (default 10s)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="say nothing on stderr but errors")
    # What follows `--` is set aside before parsing (see _parse_args): COMMAND's own options stay its own.
    p.add_argument("cmd", nargs="*", metavar="-- COMMAND", help="what to run, after --")

    p = _add(
        sub,
        "runtime",
        cmd_runtime,
        "show a Space's runtime",
        "aiospace runtime me/my-space --json",
        json=True,
    )
    p.add_argument("space", metavar="SPACE")

    p = _add(sub, "pause", cmd_pause, "pause a Space", "aiospace pause me/my-space", json=True)
    p.add_argument("space", metavar="SPACE")

    p = _add(
        sub,
        "restart",
        cmd_restart,
        "restart a Space",
        "aiospace restart me/my-space --factory --wait",
        json=True,
        epilog_extra=EXIT_CODES_HELP,
    )
    p.add_argument("space", metavar="SPACE")
    p.add_argument("--factory", action="store_true", help="rebuild without cache (factory reboot)")
    _wait_options(p, flag=True)

    p = _add(
        sub,
        "hardware",
        cmd_hardware,
        "request a hardware flavor",
        "aiospace hardware me/my-space t4-small --sleep-time 1h --wait",
        json=True,
        epilog_extra=EXIT_CODES_HELP,
    )
    p.add_argument("space", metavar="SPACE")
    p.add_argument("flavor", metavar="FLAVOR", help="e.g. cpu-basic, t4-small (see `aiospace hardware-list`)")
    p.add_argument("--sleep-time", type=parse_sleep_time, metavar="DURATION", help="also set the sleep time")
    _wait_options(p, flag=True)

    p = _add(
        sub,
        "sleep-time",
        cmd_sleep_time,
        "set the idle time before a Space sleeps",
        "aiospace sleep-time me/my-space 1h",
        json=True,
    )
    p.add_argument("space", metavar="SPACE")
    p.add_argument("seconds", type=parse_sleep_time, metavar="DURATION", help="3600, 1h... or -1 / never")

    p = _add(
        sub,
        "dev-mode",
        cmd_dev_mode,
        "turn dev mode on or off",
        "aiospace dev-mode me/my-space on",
        json=True,
    )
    p.add_argument("space", metavar="SPACE")
    p.add_argument("state", choices=("on", "off"))

    p = _add(
        sub,
        "secrets",
        cmd_secrets,
        "list, add or remove secrets",
        'printf %s "$OPENAI_KEY" | aiospace secrets add me/my-space OPENAI_KEY --value-stdin',
        json=True,
        epilog_extra="A secret's value is never taken from the command line: it comes from\n"
        "--value-file, from stdin with --value-stdin, or from a hidden prompt on a\n"
        "terminal (one trailing newline is dropped). It is never printed or logged.",
    )
    p.add_argument("action", choices=("ls", "add", "rm"))
    p.add_argument("space", metavar="SPACE")
    p.add_argument("key", nargs="?", metavar="KEY")
    # Not an option: caught only to say where a value typed after KEY should come from.
    p.add_argument("value_in_argv", nargs="*", help=argparse.SUPPRESS)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--value-stdin", action="store_true", help="read the value from stdin")
    source.add_argument("--value-file", metavar="PATH", help="read the value from a file")
    p.add_argument("--description", help="a description of the secret")

    p = _add(
        sub,
        "variables",
        cmd_variables,
        "list, add or remove variables",
        "aiospace variables add me/my-space MODEL_ID gpt2 --description 'the model'",
        json=True,
    )
    p.add_argument("action", choices=("ls", "add", "rm"))
    p.add_argument("space", metavar="SPACE")
    p.add_argument("key", nargs="?", metavar="KEY")
    p.add_argument("value", nargs="?", metavar="VALUE")
    p.add_argument("--description", help="a description of the variable")

    p = _add(
        sub,
        "storage",
        cmd_storage,
        "attach or delete persistent storage",
        "aiospace storage me/my-space small   |   aiospace storage me/my-space --delete",
        json=True,
    )
    p.add_argument("space", metavar="SPACE")
    p.add_argument("tier", nargs="?", metavar="TIER", help="small, medium or large")
    p.add_argument("--delete", action="store_true", help="delete the Space's storage")

    p = _add(
        sub,
        "duplicate",
        cmd_duplicate,
        "copy a Space",
        "aiospace duplicate someone/app me/app --hardware t4-small --private --wait",
        json=True,
        epilog_extra=EXIT_CODES_HELP,
    )
    p.add_argument("source", metavar="FROM")
    p.add_argument("target", nargs="?", metavar="TO", help="default: your namespace, same name")
    p.add_argument("--hardware", metavar="FLAVOR")
    p.add_argument("--storage", metavar="TIER")
    p.add_argument("--sleep-time", type=parse_sleep_time, metavar="DURATION")
    visibility = p.add_mutually_exclusive_group()
    visibility.add_argument("--private", action="store_true", default=None, help="make the copy private")
    visibility.add_argument("--public", dest="private", action="store_false", help="make the copy public")
    p.add_argument("--exist-ok", action="store_true", help="an existing target is not an error")
    _wait_options(p, flag=True)

    p = _add(
        sub,
        "create",
        cmd_create,
        "create a Space",
        "aiospace create me/my-space --sdk gradio --hardware t4-small --private --wait",
        json=True,
        epilog_extra="Without --wait: exit 0, or 2, 4, 5 as every command (409: the Space exists).\n"
        + EXIT_CODES_HELP,
    )
    p.add_argument("space", metavar="SPACE", help="namespace/name (yours, or an organization's)")
    p.add_argument(
        "--sdk", required=True, choices=SDKS, help="the Space's SDK (static Spaces run no hardware)"
    )
    p.add_argument("--hardware", metavar="FLAVOR", help="e.g. cpu-basic, t4-small (default: the Hub's)")
    p.add_argument(
        "--sleep-time", type=parse_sleep_time, metavar="DURATION", help="idle time before it sleeps"
    )
    created_visibility = p.add_mutually_exclusive_group()
    created_visibility.add_argument("--private", action="store_true", help="only you (and your org) see it")
    created_visibility.add_argument(
        "--protected", action="store_true", help="a public app, its files private"
    )
    p.add_argument(
        "--volume",
        action="append",
        metavar=VOLUME_FORMAT,
        help="mount a bucket, model, dataset or Space (repeatable)",
    )
    p.add_argument("--exist-ok", action="store_true", help="an existing Space is not an error")
    _wait_options(p, flag=True)

    p = _add(
        sub,
        "delete",
        cmd_delete,
        "delete a Space for good",
        "aiospace delete me/old-space --yes",
        json=True,
        epilog_extra="On a terminal it asks first (not confirmed: nothing is deleted, exit 2);\n"
        "otherwise --yes is required. Watches of the Space end: it is not found any more.",
    )
    p.add_argument("space", metavar="SPACE")
    p.add_argument("-y", "--yes", action="store_true", help="delete without asking")
    p.add_argument("--missing-ok", action="store_true", help="a Space that does not exist is not an error")

    p = _add(
        sub,
        "volumes",
        cmd_volumes,
        "list, set or remove the volumes mounted in a Space",
        "aiospace volumes set me/my-space model:me/my-model:/models bucket:me/data:/data:rw",
        json=True,
        epilog_extra=f"A volume is {VOLUME_FORMAT}: TYPE is bucket, model, dataset or space;\n"
        "SOURCE its id (a repository's revision after @); MOUNT an absolute path in the\n"
        "container; :ro or :rw its access (repositories are always read-only).\n"
        "`set` replaces every volume of the Space and `rm` removes them all; both rebuild it.\n"
        "Volumes replace persistent storage (`aiospace storage`).",
    )
    p.add_argument("action", choices=("ls", "set", "rm"))
    p.add_argument("space", metavar="SPACE")
    p.add_argument("volumes", nargs="*", metavar="VOLUME", help=f"{VOLUME_FORMAT} (for `set`)")

    _add(
        sub,
        "zero-gpu-quota",
        cmd_zero_gpu_quota,
        "your ZeroGPU quota: GPU-seconds left and when it refills",
        "aiospace zero-gpu-quota --json | jq .remaining",
        json=True,
        epilog_extra="Needs a token (exit 4 without one).",
    )

    p = _add(
        sub,
        "hardware-list",
        cmd_hardware_list,
        "the hardware flavors and their price per hour",
        "aiospace hardware-list --json | jq '.[] | select(.accelerator) | .name'",
        json=True,
    )

    p = _add(sub, "logs", cmd_logs, "print a Space's logs", "aiospace logs me/my-space --build -f")
    p.add_argument("space", metavar="SPACE")
    p.add_argument("--build", action="store_true", help="the build log (default: the run log)")
    p.add_argument(
        "-f", "--follow", action="store_true", help="keep following until the stream ends or Ctrl-C"
    )
    p.add_argument(
        "-n", "--lines", type=_count, metavar="N", help="only the last N lines (with -f: then follow)"
    )
    p.add_argument(
        "--since",
        type=parse_duration,
        metavar="DURATION",
        help="only the lines stamped within this long back (Hub time), e.g. 10m",
    )

    _add_emulator(sub)
    return parser


# ---------------------------------------------------------------------- running a command

#: Global options that take a value (skipped when looking for the command's name).
_VALUED = ("--endpoint", "--token", "--hub-speed")


def _parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; for ``lease``, everything after the first ``--`` is COMMAND, left unparsed."""
    words = list(sys.argv[1:] if argv is None else argv)
    if "--" in words:
        cut = words.index("--")
        skip = False
        for word in words[:cut]:
            if skip:
                skip = False
            elif word in _VALUED:
                skip = True
            elif not word.startswith("-"):
                if word == "lease":
                    args = parser.parse_args(words[:cut])
                    args.cmd = [*args.cmd, *words[cut + 1 :]]
                    return args
                break
    return parser.parse_args(words)


def _check_arguments(args: argparse.Namespace) -> None:
    """What argparse can't express: which positionals each action needs."""
    if args.command == "secrets" and args.value_in_argv:
        for value in args.value_in_argv:
            args.redactor.add(value)
        raise UsageError(
            "a secret's value is never taken from the command line (your shell history and the "
            "process list would keep it): pipe it in with --value-stdin, or use --value-file PATH, "
            "or type it at the hidden prompt"
        )
    if args.command in ("secrets", "variables"):
        if args.action in ("add", "rm") and not args.key:
            raise UsageError(f"`{args.command} {args.action}` needs a KEY")
        if args.command == "variables":
            if args.action == "add" and args.value is None:
                raise UsageError("`variables add` needs a KEY and a VALUE")
            if args.action != "add" and args.value is not None:
                raise UsageError(f"`variables {args.action}` takes no VALUE")
        elif args.action != "add" and (args.value_stdin or args.value_file or args.description):
            raise UsageError(f"`secrets {args.action}` takes no value or description")
    for name in ("space", "source", "target"):
        value = getattr(args, name, None)
        if value is not None:
            check_repo_id(value, name.upper() if name != "source" else "FROM")


def _verbose_logging(args: argparse.Namespace) -> Callable[[], None]:
    """Debug logging of the ``aiospace`` loggers on stderr, through a redactor; returns the undo."""
    redactor: Redactor = args.redactor
    try:
        redactor.add(resolve_token(args.token))  # --token, else HF_TOKEN, else the token file
    except InvalidArgumentError:
        # A token no header can carry: the client refuses it (exit 2); mask it all the same.
        redactor.add((args.token or os.environ.get("HF_TOKEN") or "").strip() or None)
    if not args.verbose:
        return lambda: None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.addFilter(redactor)
    logger = logging.getLogger("aiospace")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def undo() -> None:
        """Remove the handler and restore the level."""
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return undo


def _log_exchange(exchange: Exchange) -> None:
    """Log one request and its answer at debug level (``-v``)."""
    left = f" ({exchange.rate_limit.remaining} left)" if exchange.rate_limit else ""
    status = exchange.status if exchange.status is not None else "no answer"
    # Method and path only: a request body may hold a secret value.
    log.debug("%s %s -> %s%s", exchange.method, exchange.path, status, left)


async def _run(args: argparse.Namespace, clock: Clock | None) -> int:
    """Run the parsed command (with a client on ``clock`` if it talks to the Hub); errors -> exit codes."""
    args.redactor = Redactor()
    undo = _verbose_logging(args)
    try:
        with redacted_output(args.redactor):
            return await _run_command(args, clock)
    finally:
        undo()


async def _run_command(args: argparse.Namespace, clock: Clock | None) -> int:
    """The command itself, on a client; an :class:`AiospaceError` is one line and an exit code."""
    token_given = True
    try:
        _check_arguments(args)
        if args.command == "demo":
            code: int = await args.func(args)
            return code
        if clock is None and args.hub_speed is not None:
            clock = ScaledClock(args.hub_speed)
        async with _client(args, clock) as hub:
            token_given = hub.has_token
            log.debug("%r, clock speed %g", hub, hub.clock.speed)
            if args.hub_speed is not None and args.hub_speed != 1:
                print_note(args.command, hub_time_note(args.hub_speed))
            unsubscribe = hub.subscribe(_log_exchange)
            try:
                code = await args.func(args, hub)
            finally:
                unsubscribe()
            return code
    except AiospaceError as error:
        if args.verbose:
            log.debug("%s failed", args.command, exc_info=True)
        print_error(args.command, describe_error(error, token_given=token_given))
        return exit_code_for(error)
    except Exception as error:
        if not is_broken_pipe(error):
            raise
        # The reader of stdout had enough (`| head`): a quiet end, as Unix tools make.
        silence_stdout()
        return EXIT_OK


def _client(args: argparse.Namespace, clock: Clock | None) -> SpaceClient:
    """The run's client; a refused endpoint is a usage error worded for the command line."""
    try:
        return SpaceClient(
            endpoint=args.endpoint,
            token=args.token,
            clock=clock,
            allow_insecure_http=args.allow_insecure_http,
        )
    except InvalidArgumentError as error:
        if error.argument == "endpoint" and "allow_insecure_http=True" in error.problem:
            problem = error.problem.replace("pass allow_insecure_http=True", "add --allow-insecure-http")
            raise UsageError(f"--endpoint: {problem}") from None
        raise


async def amain(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    """:func:`main` inside a running event loop; ``clock`` is the Hub's clock (an emulator's).

    Usage errors return 2 (``--help`` and ``--version`` return 0) instead of exiting.
    """
    parser = build_parser()
    try:
        args = _parse_args(parser, argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "emulator":
        raise RuntimeError("`aiospace emulator` runs its own event loop: call main() instead")
    return await _run(args, clock)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the subcommand; returns the exit code."""
    for stream in (sys.stdout, sys.stderr):
        # A terminal or pipe that can't show a character (an ASCII locale) gets its escape,
        # never a UnicodeEncodeError halfway through the output.
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = _parse_args(parser, argv)
    func: Callable[..., Any] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    if not inspect.iscoroutinefunction(func):
        code: int = func(args)
        return code
    started = time.monotonic()
    try:
        code = asyncio.run(_interruptible(args))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        # In Hub time, as every time on screen (said once at the start with --hub-speed).
        elapsed = (time.monotonic() - started) * (getattr(args, "hub_speed", None) or 1.0)
        print(f"\naiospace {args.command}: interrupted after {format_duration(elapsed)}", file=sys.stderr)
    return code


async def _interruptible(args: argparse.Namespace) -> int:
    """Run the command; Ctrl-C cancels it through an anyio scope (level-triggered: it can't be lost).

    So does the reader of a piped stdout going away (exit 0: it had enough).
    """
    loop = asyncio.get_running_loop()
    interrupted = False
    reader_gone = False
    with anyio.CancelScope() as scope:

        def on_reader_gone() -> None:
            """Nobody reads stdout any more: end the command quietly."""
            nonlocal reader_gone
            reader_gone = True
            scope.cancel()

        def on_sigint() -> None:
            """The first Ctrl-C cancels the command; a second one stops waiting for it."""
            nonlocal interrupted
            if interrupted:  # a second Ctrl-C: stop waiting for a clean exit
                raise KeyboardInterrupt
            interrupted = True
            scope.cancel()

        # Not on Windows, nor outside the main thread: asyncio.run's own Ctrl-C handling remains.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        stop_watching_stdout = on_stdout_closed(loop, on_reader_gone)
        try:
            return await _run(args, None)
        finally:
            stop_watching_stdout()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
    if reader_gone and not interrupted:
        silence_stdout()
        return EXIT_OK
    return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``aiospace`` command line: manage Hugging Face Spaces from a shell.

One function per subcommand (``cmd_<name>``), wired in :func:`build_parser`;
:func:`main` parses and dispatches (:func:`amain` does the same inside a running
event loop, e.g. in tests). Every command but ``emulator`` and ``demo`` talks to the
Hub through one :class:`~aiospace.SpaceClient`.

Global options (before or after the command): ``--endpoint`` (else ``HF_ENDPOINT``),
``--token`` (else ``HF_TOKEN``, then ``$HF_HOME/token``), ``-v`` (debug log on stderr;
tokens and secret values are masked), ``--hub-speed N`` (the Hub's clock runs N times
faster than real time, as an ``aiospace emulator --speed N`` does: poll intervals,
backoff and ``--timeout`` then count in Hub seconds) and ``--version``.

Exit codes: 0 success; 1 the Space landed in an error stage; 2 usage error (bad
arguments, or a value refused before any request); 3 a wait timed out; 4 access error
(Space not found, bad token, no permission); 5 any other Hub or transport error;
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import inspect
import logging
import math
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio

from . import _cli_util as u
from .__about__ import __version__
from ._clock import Clock, ScaledClock
from ._validate import check_flavor, check_repo_id
from .budget import Exchange
from .client import SpaceClient
from .errors import AiospaceError, HubHTTPError, InvalidArgumentError, SpaceFailedError, WaitTimeoutError
from .models import SpaceRuntime
from .transitions import Transition

__all__ = [
    "amain",
    "build_parser",
    "cmd_demo",
    "cmd_dev_mode",
    "cmd_duplicate",
    "cmd_emulator",
    "cmd_hardware",
    "cmd_hardware_list",
    "cmd_logs",
    "cmd_pause",
    "cmd_restart",
    "cmd_runtime",
    "cmd_secrets",
    "cmd_sleep_time",
    "cmd_storage",
    "cmd_variables",
    "cmd_wait",
    "cmd_watch",
    "main",
]

log = logging.getLogger("aiospace.cli")

Command = Callable[[argparse.Namespace], int]
HubCommand = Callable[[argparse.Namespace, SpaceClient], Awaitable[int]]

EXIT_CODES_HELP = """\
exit codes:
  0  the Space is up (and on the requested hardware)
  1  the Space landed in an error stage (BUILD_ERROR, RUNTIME_ERROR...): the
     stage and the tail of its logs are printed
  2  usage error
  3  timed out
  4  access error: Space not found, bad token, no permission
  5  any other Hub or transport error
"""


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return number


def _err(args: argparse.Namespace, message: str) -> None:
    print(f"aiospace {args.command}: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- emulator, demo


def cmd_emulator(args: argparse.Namespace) -> int:
    """Run the Hub emulator until interrupted."""
    from .emulator import serve

    try:
        asyncio.run(
            serve(
                host=args.host,
                port=args.port,
                speed=args.speed,
                seed=args.seed,
                quota=args.quota,
                window=args.window,
                admin_token=args.admin_token,
                rng_seed=args.rng_seed,
                print_fn=lambda line: print(line, flush=True),
            )
        )
    except KeyboardInterrupt:
        return 0
    except (OSError, ValueError) as err:
        print(f"aiospace emulator: {err}", file=sys.stderr)
        return 1
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    """Restart a Space and change its hardware on an embedded emulator, showing each transition."""
    from ._cli_demo import run_demo

    return await run_demo(
        speed=args.speed,
        space=check_repo_id(args.space),
        hardware=check_flavor(args.hardware).value,
        print_fn=lambda line: print(line, flush=True),
    )


# ---------------------------------------------------------------------- waiting


class _Progress:
    """Reports a wait: a status line redrawn on a terminal, else one line per stage change."""

    def __init__(self, space: str, clock: Clock, *, tty: bool, enabled: bool) -> None:
        self.space = space
        self.clock = clock
        self.tty = tty
        self.enabled = enabled
        self.start = clock.now()
        self.runtime: SpaceRuntime | None = None

    def elapsed(self) -> float:
        return self.clock.now() - self.start

    def _status(self) -> str:
        rt = self.runtime
        what = "waiting for the first answer" if rt is None else u.runtime_line(self.space, rt)
        return f"{what}  [{u.format_duration(self.elapsed())}]"

    def update(self, runtime: SpaceRuntime) -> None:
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
        print(f"\r\x1b[K  {self._status()}", end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.enabled and self.tty:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)

    async def tick(self) -> None:
        while True:
            await anyio.sleep(0.5)
            self.draw()


async def wait_for(
    args: argparse.Namespace,
    hub: SpaceClient,
    space: str,
    *,
    hardware: str | None,
    timeout: float | None,
) -> int:
    """Wait for ``space`` to run (on ``hardware``), report the verdict, return the exit code."""
    want = None if hardware is None else check_flavor(hardware)
    as_json: bool = getattr(args, "json", False)
    tty = sys.stderr.isatty()
    progress = _Progress(space, hub.clock, tty=tty, enabled=not getattr(args, "quiet", False))

    def verdict(result: str, runtime: SpaceRuntime | None, **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"space": space, "result": result}
        data.update(
            {"stage": None, "hardware": None, "requested_hardware": None}
            if runtime is None
            else {k: v for k, v in u.runtime_json(space, runtime).items() if k != "space"}
        )
        data["elapsed"] = round(progress.elapsed(), 1)
        data.update(extra)
        return data

    outcome: SpaceRuntime | AiospaceError
    async with anyio.create_task_group() as tg:
        if tty and progress.enabled:
            tg.start_soon(progress.tick)
        try:
            outcome = await hub.wait_for_space(
                space,
                timeout=timeout,
                hardware=want,
                on_transition=lambda transition: progress.update(transition.current),
            )
        except AiospaceError as error:
            outcome = error
        finally:
            tg.cancel_scope.cancel()
            progress.clear()
    if isinstance(outcome, SpaceFailedError):
        if as_json:
            u.print_json(verdict("failed", outcome.runtime, logs=outcome.log_lines))
        else:
            _err(
                args, f"{space} failed: {outcome.runtime.stage} after {u.format_duration(progress.elapsed())}"
            )
            if outcome.log_lines:
                print(f"last {len(outcome.log_lines)} log lines:", file=sys.stderr)
                for line in outcome.log_lines:
                    print(f"  | {line.rstrip()}", file=sys.stderr)
            sys.stderr.flush()
        return u.EXIT_FAILED
    if isinstance(outcome, WaitTimeoutError):
        if as_json:
            u.print_json(verdict("timeout", outcome.runtime))
        else:
            last = f" (still {outcome.runtime.stage})" if outcome.runtime else ""
            _err(args, f"timed out after {u.format_duration(outcome.timeout)} waiting for {space}{last}")
        return u.EXIT_TIMEOUT
    if isinstance(outcome, AiospaceError):
        if as_json and not isinstance(outcome, (u.UsageError, InvalidArgumentError)):
            u.print_json(verdict("error", progress.runtime, error=u.describe_error(outcome)))
        raise outcome
    runtime = outcome
    if as_json:
        u.print_json(verdict("running", runtime))
    else:
        print(f"{u.runtime_line(space, runtime)} (after {u.format_duration(progress.elapsed())})", flush=True)
    return u.EXIT_OK


async def cmd_wait(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Wait until a Space runs (on a hardware flavor); exit codes say how it went."""
    return await wait_for(args, hub, args.space, hardware=args.hardware, timeout=args.timeout)


# ---------------------------------------------------------------------- watching


_WATCH_HEADER = f"{'time':>8}  {'space':<28} {'stage':<21} {'hardware':<12} {'requested':<12} changes"


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
        lines = [_WATCH_HEADER, *(_watch_row(t, self.start) for t in sorted(shown, key=lambda t: t.repo_id))]
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


def _watch_row(t: Transition, start: float) -> str:
    cur = t.current
    changes = ", ".join(sorted(c.value for c in t.changes))
    mark = "  converged" if t.converged and "converged" not in changes else ""
    return (
        f"{u.format_duration(max(0.0, t.observed_at - start)):>8}  {t.repo_id:<28} {cur.stage.value:<21} "
        f"{cur.hardware or '-':<12} {cur.requested_hardware or '-':<12} {changes}{mark}"
    )


async def cmd_watch(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Print every transition of some Spaces as it happens (a table, or JSON lines)."""
    spaces = [check_repo_id(s, "SPACE") for s in args.spaces]
    for author in args.author or ():
        async for info in hub.list_spaces(author=author):
            spaces.append(info.id)
    spaces = list(dict.fromkeys(spaces))
    if not spaces:
        raise u.UsageError("nothing to watch: name a SPACE or an --author who has Spaces")
    as_json = args.json or (not args.table and not sys.stdout.isatty())
    start = hub.clock.now()
    events = 0
    code = u.EXIT_OK
    # On a terminal, a live table redrawn in place; piped with --table, one line per transition.
    live = LiveTable(start) if not as_json and sys.stdout.isatty() else None
    if not as_json and live is None:
        print(_WATCH_HEADER, flush=True)
    deadline = math.inf if args.timeout is None else args.timeout / hub.clock.speed
    with anyio.move_on_after(deadline):
        async with hub.watcher() as watcher:
            watcher.add(*spaces)
            while True:
                try:
                    transition = await watcher.__anext__()
                except HubHTTPError as error:  # the watcher only raises what ends a Space's watch
                    _err(args, f"stopped watching: {u.describe_error(error)}")
                    code = u.exit_code_for(error)
                    if not watcher.spaces:
                        break
                    continue
                except StopAsyncIteration:  # pragma: no cover - the watcher ends only when closed
                    break
                if as_json:
                    u.print_json(transition.to_json())
                elif live is not None:
                    live.update(transition)
                else:
                    print(_watch_row(transition, start), flush=True)
                events += 1
                if args.max_events is not None and events >= args.max_events:
                    break
                if args.until_settled and all(
                    (rt := watcher.latest(s)) is not None and rt.is_settled for s in watcher.spaces
                ):
                    break
    return code


# ---------------------------------------------------------------------- runtime calls


def _show_runtime(args: argparse.Namespace, space: str, runtime: SpaceRuntime, note: str = "") -> None:
    if getattr(args, "json", False):
        u.print_json(u.runtime_json(space, runtime))
    else:
        print(u.runtime_line(space, runtime) + (f" -- {note}" if note else ""), flush=True)


async def _then_wait(
    args: argparse.Namespace, hub: SpaceClient, space: str, runtime: SpaceRuntime, note: str, hw: str | None
) -> int:
    if not args.wait:
        _show_runtime(args, space, runtime, note)
        return u.EXIT_OK
    if not args.json:
        print(f"{u.runtime_line(space, runtime)} -- {note}; waiting...", flush=True)
    return await wait_for(args, hub, space, hardware=hw, timeout=args.timeout)


async def cmd_runtime(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Show a Space's runtime."""
    runtime = await hub.get_space_runtime(args.space)
    if args.json:
        u.print_json(u.runtime_json(args.space, runtime))
        return u.EXIT_OK
    data = u.runtime_json(args.space, runtime)
    replicas = data.pop("replicas")
    if replicas:
        data["replicas"] = f"{replicas['current'] if replicas['current'] is not None else '-'}/"
        data["replicas"] += f"{replicas['requested'] if replicas['requested'] is not None else '-'}"
    width = max(len(k) for k in data)
    for key, value in data.items():
        print(f"{key.replace('_', ' '):<{width}}  {'-' if value is None else value}")
    return u.EXIT_OK


async def cmd_pause(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Pause a Space (not billed; only a restart leaves the pause)."""
    _show_runtime(args, args.space, await hub.pause_space(args.space), "paused")
    return u.EXIT_OK


async def cmd_restart(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Restart a Space (``--factory``: rebuild without cache), optionally waiting for it."""
    runtime = await hub.restart_space(args.space, factory_reboot=args.factory)
    note = "factory reboot requested" if args.factory else "restart requested"
    return await _then_wait(args, hub, args.space, runtime, note, None)


async def cmd_hardware(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Request a hardware flavor, optionally waiting until the Space runs on it."""
    flavor = check_flavor(args.flavor, "FLAVOR").value
    runtime = await hub.request_space_hardware(args.space, flavor, sleep_time=args.sleep_time)
    return await _then_wait(args, hub, args.space, runtime, f"{flavor} requested", flavor)


async def cmd_sleep_time(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Set the seconds without visits before the Space sleeps (-1 or never: never sleep)."""
    runtime = await hub.set_space_sleep_time(args.space, args.seconds)
    note = "never sleeps" if args.seconds == -1 else f"sleeps after {u.format_duration(args.seconds)} idle"
    if runtime.requested_hardware is not None and runtime.requested_hardware.is_free:
        note += " (ignored on free hardware: it sleeps after 48 h)"
    _show_runtime(args, args.space, runtime, note)
    return u.EXIT_OK


async def cmd_dev_mode(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Turn dev mode on or off."""
    on = args.state == "on"
    runtime = await (hub.enable_space_dev_mode if on else hub.disable_space_dev_mode)(args.space)
    _show_runtime(args, args.space, runtime, f"dev mode {args.state}")
    return u.EXIT_OK


async def cmd_storage(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Attach persistent storage of a tier, or delete it."""
    if args.delete == (args.tier is not None):
        raise u.UsageError("give a TIER (small, medium, large) or --delete, not both")
    if args.delete:
        runtime = await hub.delete_space_storage(args.space)
        note = "storage deleted"
    else:
        runtime = await hub.request_space_storage(args.space, args.tier)
        note = f"{args.tier} storage requested"
    _show_runtime(args, args.space, runtime, note)
    return u.EXIT_OK


async def cmd_duplicate(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Copy a Space (to your namespace by default), optionally waiting for the copy to run."""
    duplicated = await hub.duplicate_space(
        args.source,
        args.target,
        private=args.private,
        hardware=args.hardware,
        storage=args.storage,
        sleep_time=args.sleep_time,
        exist_ok=args.exist_ok,
    )
    if args.json and not args.wait:
        u.print_json({"space": duplicated.repo_id, "url": duplicated.url})
        return u.EXIT_OK
    if not args.json:
        print(f"{args.source} duplicated to {duplicated.repo_id}: {duplicated.url}", flush=True)
    if not args.wait:
        return u.EXIT_OK
    return await wait_for(args, hub, duplicated.repo_id, hardware=args.hardware, timeout=args.timeout)


def _read_secret(args: argparse.Namespace) -> str:
    """The secret's value: from a file, from stdin, or typed at a hidden prompt. Never from argv."""
    if args.value_file is not None:
        try:
            value = Path(args.value_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise u.UsageError(f"cannot read --value-file: {exc.strerror or exc}") from None
    elif args.value_stdin:
        value = sys.stdin.read()
    elif sys.stdin.isatty():
        value = getpass.getpass(f"value of {args.key} (not echoed): ")
    else:
        raise u.UsageError("stdin is not a terminal: pass the value with --value-stdin or --value-file")
    # One trailing newline is what `echo` and editors add: not part of the value.
    value = value[:-1] if value.endswith("\n") else value
    value = value[:-1] if value.endswith("\r") else value
    if not value:
        raise u.UsageError(f"empty value for secret {args.key}")
    return value


async def cmd_secrets(args: argparse.Namespace, hub: SpaceClient) -> int:
    """List, add or remove a Space's secrets (values are write-only and never printed)."""
    if args.action == "ls":
        secrets = await hub.get_space_secrets(args.space)
        if args.json:
            u.print_json([u.secret_json(s) for s in secrets.values()])
        elif not secrets:
            print(f"{args.space} has no secrets")
        else:
            rows = [(s.key, s.description or "", s.updated_at or "") for s in secrets.values()]
            print(u.table(rows, ("KEY", "DESCRIPTION", "UPDATED")))
        return u.EXIT_OK
    if args.action == "add":
        value = _read_secret(args)
        args.redactor.add(value)
        await hub.add_space_secret(args.space, args.key, value, description=args.description)
        print(f"{args.space}: secret {args.key} set (the Space rebuilds to use it)", flush=True)
        return u.EXIT_OK
    await hub.delete_space_secret(args.space, args.key)
    print(f"{args.space}: secret {args.key} removed", flush=True)
    return u.EXIT_OK


async def cmd_variables(args: argparse.Namespace, hub: SpaceClient) -> int:
    """List, add or remove a Space's variables."""
    if args.action == "ls":
        variables = await hub.get_space_variables(args.space)
    elif args.action == "add":
        variables = await hub.add_space_variable(
            args.space, args.key, args.value, description=args.description
        )
    else:
        variables = await hub.delete_space_variable(args.space, args.key)
    if args.json:
        u.print_json([u.variable_json(v) for v in variables.values()])
        return u.EXIT_OK
    if args.action != "ls":
        print(f"{args.space}: variable {args.key} {'set' if args.action == 'add' else 'removed'}", flush=True)
    elif not variables:
        print(f"{args.space} has no variables")
    else:
        rows = [(v.key, v.value, v.description or "") for v in variables.values()]
        print(u.table(rows, ("KEY", "VALUE", "DESCRIPTION")))
    return u.EXIT_OK


async def cmd_hardware_list(args: argparse.Namespace, hub: SpaceClient) -> int:
    """The hardware catalogue, with the price of an hour on each flavor."""
    catalogue = await hub.list_spaces_hardware()
    if args.json:
        u.print_json([u.hardware_json(info) for info in catalogue])
        return u.EXIT_OK
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
    print(u.table(rows, ("FLAVOR", "NAME", "CPU", "RAM", "ACCELERATOR", "PER HOUR")))
    return u.EXIT_OK


async def cmd_logs(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Print a Space's run log (or build log); ``-f`` keeps following it."""
    async for line in hub.fetch_space_logs(args.space, build=args.build, follow=args.follow):
        print(line, flush=True)
    return u.EXIT_OK


# ---------------------------------------------------------------------- the parser


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # On subcommands the defaults are suppressed, so `aiospace -v wait X` and
    # `aiospace wait X -v` both work and neither overrides the other.
    def default(value: object) -> object:
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


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _add(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Callable[..., Any],
    help_text: str,
    example: str,
    *,
    json: bool = False,
    epilog_extra: str = "",
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=(func.__doc__ or help_text).strip().splitlines()[0],
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
    if flag:
        parser.add_argument(
            "--wait", action="store_true", help="then wait until it runs (exit codes of `wait`)"
        )
    parser.add_argument(
        "--timeout",
        type=u.parse_duration,
        default=600.0,
        metavar="DURATION",
        help="how long to wait: 90, 90s, 10m, 1h (default 10m)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr while waiting")


def _add_emulator(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        "wait until a Space runs (on a hardware flavor)",
        "aiospace wait me/my-space --hardware t4-small --timeout 15m",
        json=True,
        epilog_extra=EXIT_CODES_HELP,
    )
    p.add_argument("space", metavar="SPACE", help="namespace/name")
    p.add_argument("--hardware", metavar="FLAVOR", help="also wait until it runs on this flavor")
    _wait_options(p, flag=False)

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
    p.add_argument("--timeout", type=u.parse_duration, metavar="DURATION", help="stop after this long")
    p.add_argument("--max-events", type=_positive_int, metavar="N", help="stop after N transitions")
    p.add_argument(
        "--until-settled",
        action="store_true",
        help="stop once every Space is settled (not building or starting, hardware converged)",
    )

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
    p.add_argument(
        "--sleep-time", type=u.parse_sleep_time, metavar="DURATION", help="also set the sleep time"
    )
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
    p.add_argument("seconds", type=u.parse_sleep_time, metavar="DURATION", help="3600, 1h... or -1 / never")

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
    p.add_argument("--sleep-time", type=u.parse_sleep_time, metavar="DURATION")
    visibility = p.add_mutually_exclusive_group()
    visibility.add_argument("--private", action="store_true", default=None, help="make the copy private")
    visibility.add_argument("--public", dest="private", action="store_false", help="make the copy public")
    p.add_argument("--exist-ok", action="store_true", help="an existing target is not an error")
    _wait_options(p, flag=True)

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

    _add_emulator(sub)
    return parser


def _check_arguments(args: argparse.Namespace) -> None:
    """What argparse can't express: which positionals each action needs."""
    if args.command in ("secrets", "variables"):
        if args.action in ("add", "rm") and not args.key:
            raise u.UsageError(f"`{args.command} {args.action}` needs a KEY")
        if args.command == "variables":
            if args.action == "add" and args.value is None:
                raise u.UsageError("`variables add` needs a KEY and a VALUE")
            if args.action != "add" and args.value is not None:
                raise u.UsageError(f"`variables {args.action}` takes no VALUE")
        elif args.action != "add" and (args.value_stdin or args.value_file or args.description):
            raise u.UsageError(f"`secrets {args.action}` takes no value or description")
    for name in ("space", "source", "target"):
        value = getattr(args, name, None)
        if value is not None:
            check_repo_id(value, name.upper() if name != "source" else "FROM")


def _verbose_logging(args: argparse.Namespace) -> Callable[[], None]:
    """Debug logging of the ``aiospace`` loggers on stderr, through a redactor; returns the undo."""
    redactor: u.Redactor = args.redactor
    redactor.add(args.token)
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
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return undo


def _log_exchange(exchange: Exchange) -> None:
    left = f" ({exchange.rate_limit.remaining} left)" if exchange.rate_limit else ""
    status = exchange.status if exchange.status is not None else "no answer"
    # Method and path only: a request body may hold a secret value.
    log.debug("%s %s -> %s%s", exchange.method, exchange.path, status, left)


async def _run(args: argparse.Namespace, clock: Clock | None) -> int:
    args.redactor = u.Redactor()
    undo = _verbose_logging(args)
    try:
        _check_arguments(args)
        if args.command == "demo":
            code: int = await args.func(args)
            return code
        if clock is None and args.hub_speed is not None:
            clock = ScaledClock(args.hub_speed)
        async with SpaceClient(endpoint=args.endpoint, token=args.token, clock=clock) as hub:
            log.debug("%r, clock speed %g", hub, hub.clock.speed)
            unsubscribe = hub.subscribe(_log_exchange)
            try:
                code = await args.func(args, hub)
            finally:
                unsubscribe()
            return code
    except AiospaceError as error:
        if args.verbose:
            log.debug("%s failed", args.command, exc_info=True)
        _err(args, u.describe_error(error))
        return u.exit_code_for(error)
    finally:
        undo()


async def amain(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    """:func:`main` inside a running event loop; ``clock`` is the Hub's clock (an emulator's).

    Usage errors return 2 (``--help`` and ``--version`` return 0) instead of exiting.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help()
        return u.EXIT_USAGE
    if args.command == "emulator":
        raise RuntimeError("`aiospace emulator` runs its own event loop: call main() instead")
    return await _run(args, clock)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the subcommand; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[..., Any] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return u.EXIT_USAGE
    if not inspect.iscoroutinefunction(func):
        code: int = func(args)
        return code
    started = time.monotonic()
    try:
        code = asyncio.run(_interruptible(args))
    except KeyboardInterrupt:
        code = u.EXIT_INTERRUPTED
    if code == u.EXIT_INTERRUPTED:
        print(
            f"\naiospace {args.command}: interrupted after {time.monotonic() - started:.1f}s", file=sys.stderr
        )
    return code


async def _interruptible(args: argparse.Namespace) -> int:
    """Run the command; Ctrl-C cancels it through an anyio scope (level-triggered: it can't be lost)."""
    loop = asyncio.get_running_loop()
    interrupted = False
    with anyio.CancelScope() as scope:

        def on_sigint() -> None:
            nonlocal interrupted
            if interrupted:  # a second Ctrl-C: stop waiting for a clean exit
                raise KeyboardInterrupt
            interrupted = True
            scope.cancel()

        # Not on Windows, nor outside the main thread: asyncio.run's own Ctrl-C handling remains.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            return await _run(args, None)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
    return u.EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

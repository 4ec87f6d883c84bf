"""``aiospace emulator``: run a local Hub emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from ..command import BlockingCommand
from ..options import positive, positive_int
from ..util import EXIT_IOERR, OutputError, silence_stdout

__all__ = ["EMULATOR"]


def _print_line(line: str) -> None:
    """A startup line on stdout; a write error but a closed pipe is an :class:`OutputError`."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OutputError("stdout", error) from None


def cmd_emulator(args: argparse.Namespace) -> int:
    """Run the Hub emulator until interrupted (exit 1 at once if git over HTTP can't be served)."""
    from ...emulator import serve
    from ...emulator.app import GIT_MISSING, git_available

    if not git_available():
        print(f"aiospace emulator: {GIT_MISSING}", file=sys.stderr)
        return 1

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
                print_fn=_print_line,
            )
        )
    except KeyboardInterrupt:
        return 0
    except OutputError as err:  # stdout could not be written (a full disk...): exit 74
        with contextlib.suppress(OSError):
            print(f"aiospace emulator: {err}", file=sys.stderr)
        silence_stdout()
        return EXIT_IOERR
    except (OSError, ValueError) as err:
        print(f"aiospace emulator: {err}", file=sys.stderr)
        return 1
    return 0


def _arguments(p: argparse.ArgumentParser) -> None:
    """Where to listen, how fast the Hub's clock runs, its world, rate limit and tokens."""
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860; 0: any)")
    p.add_argument("--speed", type=positive, default=1.0, help="simulated seconds per real second")
    p.add_argument("--seed", default=None, help="JSON seed file (default: the demo world)")
    p.add_argument("--quota", type=positive_int, default=None, help="requests per window (default 10000)")
    p.add_argument("--window", type=positive, default=300.0, help="rate-limit window, seconds (default 300)")
    p.add_argument("--admin-token", default=None, help="admin token (default: random)")
    p.add_argument("--rng-seed", type=int, default=0, help="seed of the fault injector")


EMULATOR = BlockingCommand(
    name="emulator",
    help="run a local Hugging Face Hub emulator",
    example="aiospace emulator --port 7860 --speed 10",
    description="Run a local Hub emulator (Spaces runtime API) until interrupted.",
    run=cmd_emulator,
    arguments=_arguments,
    exit_codes={
        0: "stopped by Ctrl-C (its normal end)",
        1: "could not start (a port taken, a bad seed, git over HTTP without dulwich)",
        74: "stdout could not be written (a full disk, an I/O error)",
        130: "not used: Ctrl-C is its normal end (0)",
        143: "terminated (SIGTERM, by the signal itself)",
    },
)

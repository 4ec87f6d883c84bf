"""The ``aiospace`` command line.

One function per subcommand (``cmd_<name>(args) -> int``), wired in
:func:`build_parser`; :func:`main` parses and dispatches.

* ``aiospace emulator [--host 127.0.0.1] [--port 7860] [--speed N] [--seed FILE]
  [--quota N] [--window S] [--admin-token T] [--rng-seed N]``: run a local Hub
  emulator until interrupted, printing its URL, its admin token and the users' tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from .__about__ import __version__

__all__ = ["build_parser", "cmd_emulator", "main"]

Command = Callable[[argparse.Namespace], int]


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


def _add_emulator(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="run a local Hugging Face Hub emulator",
        description="Run a local Hub emulator (Spaces runtime API) until interrupted.",
    )
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
    parser.set_defaults(func=cmd_emulator)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one subparser per subcommand."""
    parser = argparse.ArgumentParser(prog="aiospace", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"aiospace {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_emulator(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the subcommand."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Command | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

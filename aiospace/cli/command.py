"""What an ``aiospace`` subcommand is: its name, help and arguments, next to what it runs.

Each module of :mod:`aiospace.cli.commands` declares its subcommands as instances of
the classes here; :mod:`aiospace.cli.app` turns each into a subparser
(:meth:`Command.add_to`) and runs the one the command line names. Three kinds:

- :class:`HubCommand` runs in the CLI's event loop with the run's one
  :class:`~aiospace.SpaceClient`, and takes the global options (all but two);
- :class:`LocalCommand` runs in the CLI's event loop without a client (``demo``);
- :class:`BlockingCommand` runs its own event loop until it ends (``emulator``).

Every run function returns the exit code; an error it does not handle propagates to
:mod:`aiospace.cli.app`, which maps it to an exit code.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from ..client import SpaceClient
from .options import (
    HUB_EXIT_CODES,
    LOCAL_EXIT_CODES,
    HelpFormatter,
    exit_codes_help,
    global_options,
    json_option,
)

__all__ = ["BlockingCommand", "Command", "HubCommand", "LocalCommand"]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """A command that takes no arguments of its own."""


@dataclass(frozen=True, kw_only=True)
class Command:
    """One subcommand: how it reads on the command line, and what it runs.

    The parsed arguments carry the command as ``args.subcommand`` (and its name as
    ``args.command``).
    """

    #: The word on the command line.
    name: str
    #: Its line in ``aiospace --help``.
    help: str
    #: One command line, shown under ``example:`` in its ``--help``.
    example: str
    #: What it runs: see the subclasses for the signature.
    run: Callable[..., object]
    #: Adds the command's own arguments (the shared ones through :mod:`aiospace.cli.options`).
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    #: It takes ``--json``.
    json: bool = False
    #: More help after the example (notes; an epilog with its own ``exit codes:`` block keeps it).
    epilog: str = ""
    #: The exit codes of its own (code -> meaning); the help lists them with the common ones.
    exit_codes: Mapping[int, str] = field(default_factory=lambda: {0: "success"}, hash=False, compare=False)
    #: The first line of its ``--help``; default: the first line of ``run``'s docstring.
    description: str | None = None
    #: What argparse can't express, checked before any request; raises
    #: :class:`~aiospace.cli.util.UsageError`.
    check: Callable[[argparse.Namespace], None] | None = None
    #: The destination that takes every word after the first ``--``, unparsed (COMMAND's own options).
    rest: str | None = None

    #: It talks to the Hub, so takes ``--endpoint``, ``--token``, ``-v``... (a :class:`HubCommand`).
    takes_global_options: ClassVar[bool] = False
    #: The exit codes every command of its kind can end with.
    common_exit_codes: ClassVar[Mapping[int, str]] = LOCAL_EXIT_CODES

    def add_to(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add this command's subparser: ``--json``, the global options, then its own arguments."""
        # A docstring's first line, its ``literals`` shown as a terminal shows them.
        description = self.description or (self.run.__doc__ or self.help).strip().splitlines()[0]
        parser: argparse.ArgumentParser = subparsers.add_parser(
            self.name,
            help=self.help,
            description=description.replace("``", ""),
            epilog=f"example:\n  {self.example}\n"
            + (f"\n{self.epilog}" if self.epilog else "")
            + self._codes(),
            formatter_class=HelpFormatter,
        )
        if self.json:
            json_option(parser)
        parser.set_defaults(subcommand=self)
        if self.takes_global_options:
            global_options(parser, top=False)
        self.arguments(parser)

    def _codes(self) -> str:
        """The ``exit codes:`` block of its help (none if the epilog has its own)."""
        if "exit codes:" in self.epilog:
            return ""
        return "\n" + exit_codes_help(self.exit_codes, self.common_exit_codes)


@dataclass(frozen=True, kw_only=True)
class HubCommand(Command):
    """A command that talks to the Hub through the run's client: ``run(args, hub)``."""

    run: Callable[[argparse.Namespace, SpaceClient], Awaitable[int]]
    takes_global_options: ClassVar[bool] = True
    common_exit_codes: ClassVar[Mapping[int, str]] = HUB_EXIT_CODES


@dataclass(frozen=True, kw_only=True)
class LocalCommand(Command):
    """A command that runs in the CLI's event loop without a Hub client: ``run(args)``."""

    run: Callable[[argparse.Namespace], Awaitable[int]]


@dataclass(frozen=True, kw_only=True)
class BlockingCommand(Command):
    """A command that runs its own event loop until it ends: ``run(args)``.

    Only :func:`~aiospace.cli.main` runs it; :func:`~aiospace.cli.app.amain` raises
    :class:`RuntimeError` for it (its caller's loop is already running).
    """

    run: Callable[[argparse.Namespace], int]

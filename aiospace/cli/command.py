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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from ..client import SpaceClient
from .options import HelpFormatter, global_options, json_option

__all__ = ["BlockingCommand", "Command", "HubCommand", "LocalCommand"]


#: The exit codes every command may end with (its own, if it has more, list these too).
ANY_COMMAND_EXIT_CODES = """\
exit codes:
  0  done;  2 usage error;  4 access error;  5 any other Hub or transport error
 74  stdout or stderr could not be written (a full disk, an I/O error)
130  interrupted (Ctrl-C); 143 terminated (SIGTERM)
"""


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
    #: More help after the example (notes, an exit-code block).
    epilog: str = ""
    #: The first line of its ``--help``; default: the first line of ``run``'s docstring.
    description: str | None = None
    #: What argparse can't express, checked before any request; raises
    #: :class:`~aiospace.cli.util.UsageError`.
    check: Callable[[argparse.Namespace], None] | None = None
    #: The destination that takes every word after the first ``--``, unparsed (COMMAND's own options).
    rest: str | None = None

    #: It talks to the Hub, so takes ``--endpoint``, ``--token``, ``-v``... (a :class:`HubCommand`).
    takes_global_options: ClassVar[bool] = False

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
            + ("" if "exit codes:" in self.epilog else f"\n{ANY_COMMAND_EXIT_CODES}"),
            formatter_class=HelpFormatter,
        )
        if self.json:
            json_option(parser)
        parser.set_defaults(subcommand=self)
        if self.takes_global_options:
            global_options(parser, top=False)
        self.arguments(parser)


@dataclass(frozen=True, kw_only=True)
class HubCommand(Command):
    """A command that talks to the Hub through the run's client: ``run(args, hub)``."""

    run: Callable[[argparse.Namespace, SpaceClient], Awaitable[int]]
    takes_global_options: ClassVar[bool] = True


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

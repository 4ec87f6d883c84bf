"""``aiospace secrets`` and ``aiospace variables``: list, add or remove a Space's settings."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from ...client import SpaceClient
from ...errors import AuthenticationError
from ..command import HubCommand
from ..options import space_argument
from ..render.answers import print_secrets, print_variables
from ..render.streams import print_error
from ..util import EXIT_ACCESS, EXIT_OK, NO_TOKEN, UsageError

__all__ = ["SECRETS", "VARIABLES"]


def _needs_key(args: argparse.Namespace) -> None:
    """``add`` and ``rm`` name a KEY."""
    if args.action in ("add", "rm") and not args.key:
        raise UsageError(f"`{args.command} {args.action}` needs a KEY")


# ---------------------------------------------------------------------- secrets


def _check_secrets(args: argparse.Namespace) -> None:
    """A KEY where needed, a value only for ``add``, and never a value on the command line."""
    if args.value_in_argv:
        for value in args.value_in_argv:
            args.redactor.add(value)
        raise UsageError(
            "a secret's value is never taken from the command line (your shell history and the "
            "process list would keep it): pipe it in with --value-stdin, or use --value-file PATH, "
            "or type it at the hidden prompt"
        )
    _needs_key(args)
    if args.action != "add" and (args.value_stdin or args.value_file or args.description):
        raise UsageError(f"`secrets {args.action}` takes no value or description")


def _read_secret(args: argparse.Namespace) -> str:
    """The secret's value: from a file, from stdin, or typed at a hidden prompt. Never from argv."""
    if args.value_file is not None:
        try:
            value = Path(args.value_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --value-file: {exc.strerror or exc}") from None
    elif args.value_stdin:
        value = sys.stdin.read()
    elif sys.stdin.isatty():
        value = getpass.getpass(f"value of {args.key} (not echoed): ")
    else:
        raise UsageError("stdin is not a terminal: pass the value with --value-stdin or --value-file")
    # One trailing newline is what `echo` and editors add: not part of the value.
    value = value[:-1] if value.endswith("\n") else value
    value = value[:-1] if value.endswith("\r") else value
    if not value:
        raise UsageError(f"empty value for secret {args.key}")
    return value


async def cmd_secrets(args: argparse.Namespace, hub: SpaceClient) -> int:
    """List, add or remove a Space's secrets (values are write-only and never printed)."""
    try:
        return await _secrets(args, hub)
    except AuthenticationError:
        if hub.has_token:
            raise
        verb = {"ls": "read", "add": "add", "rm": "remove"}[args.action]
        print_error(args.command, f"{args.space}: a token is needed to {verb} secrets; {NO_TOKEN}")
        return EXIT_ACCESS


async def _secrets(args: argparse.Namespace, hub: SpaceClient) -> int:
    if args.action == "ls":
        print_secrets(args.space, await hub.get_space_secrets(args.space), as_json=args.json)
        return EXIT_OK
    if args.action == "add":
        value = _read_secret(args)
        args.redactor.add(value)
        await hub.add_space_secret(args.space, args.key, value, description=args.description)
        print(f"{args.space}: secret {args.key} set (the Space rebuilds to use it)", flush=True)
        return EXIT_OK
    # The Hub takes the removal of a missing key as done: ask first, to say which it was.
    if args.key not in await hub.get_space_secrets(args.space):
        print(f"{args.space}: there is no secret {args.key}: nothing removed", flush=True)
        return EXIT_OK
    await hub.delete_space_secret(args.space, args.key)
    print(f"{args.space}: secret {args.key} removed", flush=True)
    return EXIT_OK


def _secrets_arguments(p: argparse.ArgumentParser) -> None:
    """The action, SPACE and KEY; where the value comes from; a description."""
    p.add_argument("action", choices=("ls", "add", "rm"))
    space_argument(p)
    p.add_argument("key", nargs="?", metavar="KEY")
    # Not an option: caught only to say where a value typed after KEY should come from.
    p.add_argument("value_in_argv", nargs="*", help=argparse.SUPPRESS)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--value-stdin", action="store_true", help="read the value from stdin")
    source.add_argument("--value-file", metavar="PATH", help="read the value from a file")
    p.add_argument("--description", help="a description of the secret")


SECRETS = HubCommand(
    name="secrets",
    help="list, add or remove secrets",
    example='printf %s "$OPENAI_KEY" | aiospace secrets add me/my-space OPENAI_KEY --value-stdin',
    run=cmd_secrets,
    arguments=_secrets_arguments,
    json=True,
    epilog="A secret's value is never taken from the command line: it comes from\n"
    "--value-file, from stdin with --value-stdin, or from a hidden prompt on a\n"
    "terminal (one trailing newline is dropped). It is never printed or logged.",
    check=_check_secrets,
)


# ---------------------------------------------------------------------- variables


def _check_variables(args: argparse.Namespace) -> None:
    """A KEY where needed, and a VALUE with ``add`` only."""
    _needs_key(args)
    if args.action == "add" and args.value is None:
        raise UsageError("`variables add` needs a KEY and a VALUE")
    if args.action != "add" and args.value is not None:
        raise UsageError(f"`variables {args.action}` takes no VALUE")


async def cmd_variables(args: argparse.Namespace, hub: SpaceClient) -> int:
    """List, add or remove a Space's variables."""
    if args.action == "ls":
        variables = await hub.get_space_variables(args.space)
    elif args.action == "add":
        variables = await hub.add_space_variable(
            args.space, args.key, args.value, description=args.description
        )
    else:
        # The Hub takes the removal of a missing key as done: ask first, to say which it was.
        variables = await hub.get_space_variables(args.space)
        if args.key not in variables:
            if args.json:
                print_variables(args.space, variables, as_json=True)
            else:
                print(f"{args.space}: there is no variable {args.key}: nothing removed", flush=True)
            return EXIT_OK
        variables = await hub.delete_space_variable(args.space, args.key)
    if args.action != "ls" and not args.json:
        print(f"{args.space}: variable {args.key} {'set' if args.action == 'add' else 'removed'}", flush=True)
    else:
        print_variables(args.space, variables, as_json=args.json)
    return EXIT_OK


def _variables_arguments(p: argparse.ArgumentParser) -> None:
    """The action, SPACE, KEY and VALUE; a description."""
    p.add_argument("action", choices=("ls", "add", "rm"))
    space_argument(p)
    p.add_argument("key", nargs="?", metavar="KEY")
    p.add_argument("value", nargs="?", metavar="VALUE")
    p.add_argument("--description", help="a description of the variable")


VARIABLES = HubCommand(
    name="variables",
    help="list, add or remove variables",
    example="aiospace variables add me/my-space MODEL_ID gpt2 --description 'the model'",
    run=cmd_variables,
    arguments=_variables_arguments,
    json=True,
    check=_check_variables,
)

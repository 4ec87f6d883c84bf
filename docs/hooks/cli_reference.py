"""MkDocs hook: the CLI reference page, generated from ``aiospace``'s own argument parser.

``docs/cli.md`` holds the marker ``<!-- cli-reference -->``; at build time it is replaced by
every command of :func:`aiospace.cli.app.build_parser` (its usage, arguments, options, example
and exit codes), so the page can't drift from the parser. :func:`cli_reference` is importable
without MkDocs (``tests/test_docs.py`` checks it lists every command, option and exit code).
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

MARKER = "<!-- cli-reference -->"


def _cell(text: str) -> str:
    """``text`` as one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _flags(action: argparse.Action) -> str:
    """How an argument is written: ``--timeout D`` or ``SPACE``."""
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    value = ""
    if action.nargs != 0:
        metavar = action.metavar
        if isinstance(metavar, tuple):
            metavar = " ".join(metavar)
        if metavar is None:
            choices = action.choices
            metavar = "{" + ",".join(map(str, choices)) + "}" if choices else action.dest.upper()
        value = f" {metavar}"
    return ", ".join(f"`{flag}{value}`" for flag in action.option_strings)


def _help(action: argparse.Action) -> str:
    """The argument's help (``%(default)s`` and the like filled in), with its choices."""
    text = action.help or ""
    if "%" in text:
        params = {**vars(action), "prog": "aiospace"}
        for key in ("choices",):
            if params.get(key) is not None:
                params[key] = ", ".join(map(str, params[key]))
        text = text % params
    if action.choices and not isinstance(action, argparse._SubParsersAction) and not action.option_strings:
        text = f"{text} (one of: {', '.join(f'`{c}`' for c in action.choices)})".strip()
    return _cell(text) or "&nbsp;"


def _arguments_table(parser: argparse.ArgumentParser, skip: frozenset[str] = frozenset()) -> list[str]:
    """One table row per argument of ``parser`` (but ``--help``, suppressed ones and ``skip``)."""
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.help == argparse.SUPPRESS or skip.intersection(action.option_strings):
            continue
        rows.append(f"| {_flags(action)} | {_help(action)} |")
    if not rows:
        return []
    return ["| argument | what it does |", "| --- | --- |", *rows, ""]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser``, by name (none: an empty dict)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _exit_codes(app_doc: str) -> str:
    """The paragraph of the CLI module's docstring that lists the exit codes."""
    match = re.search(r"^Exit codes:(.*?)(?:\n\n|\Z)", app_doc, flags=re.S | re.M)
    assert match is not None, "aiospace.cli.app's docstring lost its 'Exit codes:' paragraph"
    text = " ".join(match.group(1).split()).replace("``", "`")
    items = re.split(r";\s*(?=\d+ )", text)
    return "\n".join(f"- **{item.split(' ', 1)[0]}** {item.split(' ', 1)[1]}" for item in items) + "\n"


def cli_reference() -> str:
    """The Markdown of every ``aiospace`` command, from the parser the command line uses."""
    from aiospace.cli import app
    from aiospace.cli.commands import COMMANDS

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # the usage lines wrap the same on every machine
    try:
        parser = app.build_parser()
        return _reference(parser, app.__doc__ or "", COMMANDS)
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns


def _reference(parser: argparse.ArgumentParser, app_doc: str, commands_in_order: Any) -> str:
    """The reference of ``parser``'s commands (in the order of ``commands_in_order``)."""
    global_flags = frozenset(
        flag
        for group in parser._action_groups
        if group.title == "global options"
        for action in group._group_actions
        for flag in action.option_strings
    )
    commands = _subparsers(parser)
    lines = [
        "## `aiospace`",
        "",
        f"{parser.description}",
        "",
        "```text",
        parser.format_usage().strip(),
        "```",
        "",
        *_arguments_table(parser),
        "Every command that talks to the Hub (all but `demo` and `emulator`) takes these global "
        "options too, before or after its name; its own table leaves them out.",
        "",
        "### Exit codes",
        "",
        _exit_codes(app_doc),
        "### Commands",
        "",
        "| command | what it does |",
        "| --- | --- |",
        *(f"| [`{c.name}`](#aiospace-{c.name}) | {_cell(c.help)} |" for c in commands_in_order),
        "",
    ]
    for command in commands_in_order:
        sub = commands[command.name]
        lines += [
            f"## `aiospace {command.name}` {{ #aiospace-{command.name} }}",
            "",
            _cell(sub.description or command.help),
            "",
            "```text",
            sub.format_usage().strip(),
            "```",
            "",
            *_arguments_table(sub, global_flags),
        ]
        if sub.epilog:
            lines += ["```text", sub.epilog.strip(), "```", ""]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the marker of the CLI page with the generated reference."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())

"""MkDocs hook: the table of ``aiospace.__all__`` on the API reference's first page.

``docs/api/index.md`` holds the marker ``<!-- api-names -->``; at build time it becomes one row
per public name: the name, linked to where its module's page documents it, and the first line
of its docstring. A name added to ``aiospace.__all__`` shows up by itself, and a name no API
page documents fails ``mkdocs build --strict`` (an unresolved cross-reference).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

MARKER = "<!-- api-names -->"

#: The public modules a name defined in a private one is documented from (the first whose
#: ``__all__`` has it), else the package itself.
PUBLIC_HOMES = ("aiospace.client", "aiospace.models", "aiospace.errors")


def api_names() -> list[tuple[str, str, str]]:
    """``(name, identifier of its documentation, first docstring line)`` for each public name."""
    import aiospace

    rows = []
    for name in aiospace.__all__:
        if name == "__version__":
            continue
        obj = getattr(aiospace, name)
        module = getattr(obj, "__module__", "aiospace")
        if any(part.startswith("_") for part in module.split(".")):
            homes = [home for home in PUBLIC_HOMES if name in importlib.import_module(home).__all__]
            module = homes[0] if homes else "aiospace"
        summary = (inspect.getdoc(obj) or "").strip().split("\n\n", 1)[0].strip()
        if summary.endswith("::"):  # a literal block follows in the docstring
            summary = summary[:-2] + "."
        rows.append((name, f"{module}.{name}", " ".join(summary.split())))
    return rows


def api_table() -> str:
    """The Markdown table of :func:`api_names`."""
    lines = ["| name | what it is |", "| --- | --- |"]
    for name, identifier, summary in api_names():
        cell = summary.replace("|", "\\|")
        lines.append(f"| [`{name}`][{identifier}] | {cell} |")
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the marker of the API index with the table."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, api_table())

"""MkDocs hook: the package's docstrings speak reStructuredText roles; the site shows them as links.

A docstring's ``:class:`~aiospace.SpaceClient``` reaches the page as
``:class:<code>~aiospace.SpaceClient</code>``. This hook turns each into the code span with a
cross-reference that mkdocs-autorefs resolves when the target is documented on the site (and
leaves plain code when it is not), and a paragraph's closing ``::`` (a literal block follows)
into ``:``. The docstrings stay as they are: readable in ``help()`` and in an editor.
"""

from __future__ import annotations

import html
import re
from typing import Any

ROLE = re.compile(
    r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj|const|ref|term):<code>(~?)([^<]+)</code>"
)
LITERAL_BLOCK = re.compile(r"::(</p>)")


def _reference(match: re.Match[str]) -> str:
    """One role as a code span inside an optional cross-reference."""
    short, target = match.group(1) == "~", html.unescape(match.group(2)).strip()
    target = target.removesuffix("()")
    title = target.rsplit(".", 1)[-1] if short else target
    if not target.startswith("aiospace"):
        target = f"aiospace.{target.lstrip('.')}"
    return f'<autoref identifier="{html.escape(target)}" optional><code>{html.escape(title)}</code></autoref>'


def on_page_content(content: str, page: Any, config: Any, files: Any) -> str:
    """Rewrite the roles and literal-block colons of a rendered page."""
    return LITERAL_BLOCK.sub(r":\1", ROLE.sub(_reference, content))

"""The README and the pages in ``docs/``: every file they point at is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_points_at_a_file_of_the_repository(page: Path) -> None:
    links = [target for target in LINK.findall(page.read_text(encoding="utf-8")) if "://" not in target]
    missing = [target for target in links if not (page.parent / target).exists()]
    assert links and not missing, f"{page.name} links to files not in the repository: {missing}"


def test_the_wire_facts_the_docs_cite_live_in_the_repository() -> None:
    hub_api = ROOT / "docs" / "hub-api.md"
    text = hub_api.read_text(encoding="utf-8")
    assert "Where it comes from" in text and "huggingface_hub" in text  # public sources, attributed
    for path in ("/api/spaces/{repo_id}/runtime", "/api/spaces/hardware", "RateLimit-Policy"):
        assert path in text
    assert "[hub-api.md](hub-api.md)" in (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")

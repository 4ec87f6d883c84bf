"""The README and the docs site's pages: every link resolves, the CLI and API references are whole.

The README is also the package's long description on the package index, where a relative link
breaks: its links are absolute, into the docs site (``site_url`` of ``mkdocs.yml``) or the
repository (``repo_url``), and each must name a page or file that is here. A page of ``docs/``
links relatively to other pages, and to anything else of the repository by its absolute URL
(MkDocs serves only ``docs/``).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import aiospace
from aiospace.cli import app as cli
from aiospace.cli import util
from aiospace.cli.commands import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
MKDOCS = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def setting(name: str) -> str:
    match = re.search(rf"^{name}: (\S+)$", MKDOCS, flags=re.MULTILINE)
    assert match is not None, name
    return match.group(1)


SITE, REPO = setting("site_url"), setting("repo_url")


def hook(name: str) -> ModuleType:
    """A module of ``docs/hooks`` (MkDocs loads them by path; so does this)."""
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", DOCS / "hooks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def repository_path(url: str) -> Path | None:
    """The file or folder of this repository an absolute URL names, or None if it names none here."""
    if url.startswith(SITE):
        page = url.removeprefix(SITE).split("#")[0].strip("/")
        if not page:
            return DOCS / "index.md"
        return DOCS / f"{page}.md" if (DOCS / f"{page}.md").exists() else DOCS / page / "index.md"
    for kind in ("/blob/main/", "/tree/main/"):
        if url.startswith(REPO + kind):
            return ROOT / url.removeprefix(REPO + kind).split("#")[0]
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_every_relative_link_of_a_page_points_at_a_page(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    links = [target for target in LINK.findall(text) if "://" not in target]
    missing = [target for target in links if not (page.parent / target).exists()]
    outside = [target for target in links if DOCS not in (page.parent / target).resolve().parents]
    assert not missing, f"{page.name} links to files not in the repository: {missing}"
    assert not outside, f"{page.name} links outside docs/ (use the repository's URL): {outside}"
    ours = [url for url in re.findall(r"\]\((https://[^)\s]+)\)", text) if url.startswith((SITE, REPO))]
    assert all(p is not None and p.exists() for p in map(repository_path, ours)), ours


def test_the_readme_links_absolutely_to_pages_and_files_that_exist() -> None:
    links = LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    relative = [link for link in links if not link.startswith("https://")]
    assert links and not relative, f"the package index breaks relative links: {relative}"
    ours = [link for link in links if link.startswith((SITE, REPO))]
    paths = {link: repository_path(link) for link in ours}
    assert not [link for link, path in paths.items() if path is None or not path.exists()]
    pages = [path for path in paths.values() if path and DOCS in path.parents]
    documented = {path.relative_to(DOCS).as_posix() for path in pages}
    for guide in ("ci", "notifications", "fleets", "leases", "logs", "emulator", "testing"):
        assert f"guides/{guide}.md" in documented
    assert {"cli.md", "api/index.md", "reliability.md", "getting-started.md"} <= documented


def test_the_package_metadata_names_the_same_places() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["urls"]["Documentation"] == SITE
    assert project["urls"]["Source"] == REPO
    assert project["license"] == "Apache-2.0"
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text  # the full text
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog and f"## [{aiospace.__version__}]" in changelog


def test_every_page_is_in_the_navigation() -> None:
    nav = MKDOCS.split("\nnav:\n", 1)[1]
    listed = set(re.findall(r"([\w/-]+\.md)$", nav, flags=re.MULTILINE))
    pages = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert not pages - listed, f"add these pages to mkdocs.yml's nav: {sorted(pages - listed)}"
    assert not listed - pages, f"mkdocs.yml's nav lists pages that are gone: {sorted(listed - pages)}"


def test_the_cli_reference_lists_every_command_option_and_exit_code() -> None:
    text = hook("cli_reference").cli_reference()
    parser = cli.build_parser()
    for command in COMMANDS:
        assert f"## `aiospace {command.name}`" in text
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.help != "==SUPPRESS==" and action.dest != "help":
                for flag in action.option_strings:
                    assert f"`{flag}" in text, (name, flag)
    codes = [value for key, value in vars(util).items() if key.startswith("EXIT_")]
    exit_section = text.split("### Exit codes", 1)[1].split("###", 1)[0]
    assert codes and all(f"**{code}**" in exit_section for code in codes)
    assert "<!-- cli-reference -->" in (DOCS / "cli.md").read_text(encoding="utf-8")


def test_the_api_reference_lists_every_public_name() -> None:
    names = {row[0] for row in hook("api_names").api_names()}
    assert names == set(aiospace.__all__) - {"__version__"}
    assert "<!-- api-names -->" in (DOCS / "api" / "index.md").read_text(encoding="utf-8")
    client_page = (DOCS / "api" / "client.md").read_text(encoding="utf-8")
    assert "::: aiospace.client" in client_page and "- SpaceClient" in client_page


def test_every_documented_module_has_its_api_section() -> None:
    """aiospace.models, .client, .errors, .emulator, the pytest plugin and every public module of
    aiospace.engine are rendered by mkdocstrings on some API page."""
    rendered = " ".join(page.read_text(encoding="utf-8") for page in (DOCS / "api").glob("*.md"))
    engine = sorted(p.stem for p in (ROOT / "aiospace" / "engine").glob("*.py") if not p.stem.startswith("_"))
    modules = ["client", "models", "errors", "emulator", "pytest_plugin", *(f"engine.{m}" for m in engine)]
    missing = [module for module in modules if f"::: aiospace.{module}\n" not in rendered]
    assert not missing, f"add a `::: aiospace.MODULE` section to a page of docs/api/ for: {missing}"


def test_the_wire_facts_the_docs_cite_live_in_the_repository() -> None:
    hub_api = DOCS / "hub-api.md"
    text = hub_api.read_text(encoding="utf-8")
    assert "Where it comes from" in text and "huggingface_hub" in text  # public sources, attributed
    for path in ("/api/spaces/{repo_id}/runtime", "/api/spaces/hardware", "RateLimit-Policy"):
        assert path in text
    assert "[hub-api.md](hub-api.md)" in (DOCS / "emulator.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("guide", ["ci", "notifications", "fleets"])
def test_each_guide_opens_with_its_readme_recipe_as_run(guide: str) -> None:
    """The guides show the README's recipes (which tests/test_readme.py runs), in CLI and Python tabs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = (DOCS / "guides" / f"{guide}.md").read_text(encoding="utf-8")
    title = {"ci": "### CI", "notifications": "### A bot", "fleets": "### A fleet"}[guide]
    recipe = readme.split(title, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:sh|python)\n(.*?)```", recipe, flags=re.DOTALL)
    assert len(blocks) == 2
    for block in blocks:
        shown = "".join(f"    {line}" if line.strip() else "\n" for line in block.splitlines(keepends=True))
        assert shown in page, f"guides/{guide}.md lost the README's recipe:\n{block}"
    assert '=== "CLI"' in page and '=== "Python"' in page


def test_every_reliability_promise_names_tests_that_exist() -> None:
    """docs/reliability.md: each promise (a bullet) names its test; each named file and test exists."""
    text = (DOCS / "reliability.md").read_text(encoding="utf-8")
    bullets = re.split(r"\n(?=[*-] )", text)[1:]
    assert len(bullets) >= 10
    unnamed = [b.splitlines()[0] for b in bullets if "tests/" not in b and "::test_" not in b]
    assert not unnamed, f"promises without a test: {unnamed}"
    missing = []
    current: Path | None = None
    for path, name in re.findall(r"`(tests/[\w/]+\.py)?(?:::(test_\w+))?", text):
        if path:
            current = ROOT / path
            if not current.exists():
                missing.append(path)
        known = current is not None and current.exists()
        if name and known and f"def {name}(" not in current.read_text(encoding="utf-8"):
            missing.append(f"{current.relative_to(ROOT)}::{name}")
    assert not missing, f"docs/reliability.md names tests that are not there: {missing}"


def test_the_site_builds_strict_with_the_client_page_and_every_command(tmp_path: Path) -> None:
    """``mkdocs build --strict`` (where the ``docs`` extra is installed, as in CI): no broken link,
    reference or docstring; SpaceClient's page documents wait_for_space and watch; the CLI page has
    every command."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    client = (tmp_path / "api" / "client" / "index.html").read_text(encoding="utf-8")
    for member in ("SpaceClient", "SpaceClient.wait_for_space", "SpaceClient.watch", "SpaceClient.watcher"):
        assert f'id="aiospace.client.{member}"' in client, member
    cli_page = (tmp_path / "cli" / "index.html").read_text(encoding="utf-8")
    assert all(f'id="aiospace-{command.name}"' in cli_page for command in COMMANDS)
    api_index = (tmp_path / "api" / "index.html").read_text(encoding="utf-8")
    assert "<!-- api-names -->" not in api_index and "<autoref" not in api_index

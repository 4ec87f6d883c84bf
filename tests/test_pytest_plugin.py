"""The pytest plugin costs nothing to a project that doesn't use it (issue 21, item 7).

Each test runs pytest in a subprocess inside a small project of its own under ``tmp_path``,
with the plugin loaded as any project with aiospace installed gets it: through the
``pytest11`` entry point (or ``-p`` from a bare source checkout, where there is none).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiospace

ROOT = Path(aiospace.__file__).resolve().parent.parent
PLUGIN = "aiospace.pytest_plugin"

#: Written into each project: at session end, what the run imported and whether the plugin was in it.
REPORTING_CONFTEST = """
import json
import sys


def pytest_sessionfinish(session):
    plugins = session.config.pluginmanager.get_plugins()
    (session.config.rootpath / "session.json").write_text(json.dumps({
        "modules": sorted(sys.modules),
        "markers": session.config.getini("markers"),
        "plugin": any(getattr(p, "__name__", None) == "aiospace.pytest_plugin" for p in plugins),
    }))
"""


Run = tuple[subprocess.CompletedProcess[str], dict[str, Any]]


def _run_pytest(project: Path, *python_options: str) -> Run:
    registered = any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    (project / "conftest.py").write_text(REPORTING_CONFTEST)
    result = subprocess.run(
        [
            sys.executable,
            *python_options,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *([] if registered else ["-p", PLUGIN]),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    session: dict[str, Any] = json.loads((project / "session.json").read_text())
    assert session["plugin"], "the plugin was not loaded"
    return result, session


def _heavy(modules: list[str]) -> list[str]:
    """``aiohttp.web``, ``aiospace.emulator`` and its submodules, among ``modules``."""
    return [m for m in modules if m == "aiohttp.web" or m.split(".")[:2] == ["aiospace", "emulator"]]


def test_a_run_that_uses_no_fixture_imports_neither_the_emulator_nor_aiohttp_web(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_trivial.py").write_text("def test_nothing():\n    assert True\n")

    result, session = _run_pytest(tmp_path, "-X", "importtime")

    assert any(m.startswith("aiospace_emulator(") for m in session["markers"])  # the plugin is there
    assert PLUGIN in session["modules"]
    assert _heavy(session["modules"]) == []
    lines = result.stderr.splitlines()
    timed = [line.rpartition("|")[2].strip() for line in lines if line.startswith("import time:")]
    assert timed, "no -X importtime output"
    assert _heavy(timed) == []


PROJECT_USING_THE_FIXTURES = """
import pytest


@pytest.mark.asyncio
@pytest.mark.aiospace_emulator(speed=321)
async def test_the_fixture(aiospace_emulator):
    assert aiospace_emulator.url.startswith("http://127.0.0.1:")
    assert aiospace_emulator.clock.speed == 321
    assert aiospace_emulator.token_for("alice") == "hf_alice"


@pytest.mark.asyncio
async def test_the_factory(aiospace_emulator_factory):
    hub = await aiospace_emulator_factory(speed=1000, seed={"users": {}, "spaces": []})
    assert hub.url.startswith("http://127.0.0.1:")
    assert hub.clock.speed == 1000
"""


def test_a_run_that_uses_the_fixtures_still_gets_them(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "filterwarnings =\n    error::ResourceWarning\n    error::pytest.PytestUnraisableExceptionWarning\n"
    )
    (tmp_path / "test_hub.py").write_text(PROJECT_USING_THE_FIXTURES)

    result, session = _run_pytest(tmp_path)

    assert "2 passed" in result.stdout, result.stdout
    assert "aiospace.emulator" in session["modules"]

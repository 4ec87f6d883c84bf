"""The programs in ``examples/``: each runs on its own embedded emulator, or against one given by env."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gc
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from aiospace import SpaceClient
from aiospace.emulator import Emulator
from aiospace.engine.notify import safe_url

if TYPE_CHECKING:
    from conftest import Receiver

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def no_hub_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an endpoint or token, each example starts its own emulator."""
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)


@pytest.fixture(autouse=True)
def no_full_collection_midway() -> None:
    """The examples run at 1000x: a full collection of the whole suite's heap during one (0.1 s
    of real time for a 100 s watch) would freeze its Hub for longer than it watches."""
    gc.collect()


@pytest.mark.parametrize(
    "name", ["quickstart", "ci_deploy", "fleet_watcher", "idle_gpu_bot", "gpu_job", "notify_on_failure"]
)
def test_each_example_says_how_to_run_it(name: str) -> None:
    doc = load(name).__doc__ or ""
    assert f"python examples/{name}.py" in doc
    assert "HF_TOKEN" in doc


def test_ci_deploy_pushes_then_waits_for_that_commit(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("ci_deploy").main(["alice/demo", "--speed", "400"]) == 0
    out = capsys.readouterr().out
    assert "embedded Hub emulator" in out
    pushed = out.split("pushed ")[1].split(" ")[0]
    assert f"alice/demo serves {pushed}: RUNNING on cpu-basic" in out
    # The old container's RUNNING was not taken for the new commit: its build was seen first.
    lines = out.splitlines()
    building = next(i for i, line in enumerate(lines) if "RUNNING_BUILDING" in line)
    assert building < next(i for i, line in enumerate(lines) if "serves" in line)


def test_ci_deploy_moves_hardware(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("ci_deploy").main(["alice/demo", "--hardware", "t4-small", "--speed", "400"]) == 0
    assert ": RUNNING on t4-small" in capsys.readouterr().out


def test_ci_deploy_fails_the_job_with_the_logs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert load("ci_deploy").main(["--break-build", "--speed", "400", "--log-lines", "3"]) == 1
    out, err = capsys.readouterr()
    assert "alice/demo failed: BUILD_ERROR" in err
    assert "--- last 3 log lines ---" in err and "ERROR: failed to solve" in err
    assert "build-error marker of app.py" in err  # the failure came with the push itself
    assert "::error title=Space deployment failed::alice/demo failed: BUILD_ERROR" in out


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed: --git runs it")
def test_ci_deploy_git_pushes_then_waits_for_that_commit(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("ci_deploy").main(["alice/demo", "--git", "--speed", "400"]) == 0
    out = capsys.readouterr().out
    pushed = out.split("pushed ")[1].split(" ")[0]
    assert f"alice/demo serves {pushed}: RUNNING on cpu-basic" in out


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed: --git runs it")
def test_ci_deploy_git_fails_the_job_with_the_logs(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("ci_deploy").main(["--git", "--break-build", "--speed", "400", "--log-lines", "3"]) == 1
    err = capsys.readouterr().err
    assert "alice/demo failed: BUILD_ERROR" in err and "build-error marker of app.py" in err


def test_ci_deploy_access_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("ci_deploy").main(["alice/nope", "--speed", "400"]) == 4
    assert "no access to alice/nope" in capsys.readouterr().err


def test_ci_deploy_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("ci_deploy").main(["--speed", "400", "--timeout", "10"]) == 3  # a build takes 30 s
    assert "still RUNNING_BUILDING after 10s" in capsys.readouterr().err


def test_fleet_watcher_shows_the_fleet_moving(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("fleet_watcher").main(["--speed", "400", "--duration", "120"]) == 0
    out, err = capsys.readouterr()
    assert "watching 3 Spaces of alice" in err  # the static Space is left out
    assert "alice/demo                   RUNNING -> RUNNING_BUILDING" in out
    assert "alice/gpu-app                RUNNING -> RUNNING_BUILDING on t4-small (requested t4-medium)" in out
    assert "-> RUNNING on t4-medium  [converged]" in out


def test_fleet_watcher_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        load("fleet_watcher").main(["--author", "bob", "--json", "--speed", "1000", "--duration", "60"]) == 0
    )
    out, err = capsys.readouterr()
    assert "watching 1 Space of bob" in err  # one Space, not "1 Spaces"
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["repo_id"] == "bob/tool" and events[0]["changes"] == ["initial"]
    assert [e["stage"] for e in events][-1] == "RUNNING"


def test_idle_gpu_bot_pauses_an_idle_gpu_space(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--speed", "2000", "--idle", "300", "--check", "20", "--duration", "600"]
    assert load("idle_gpu_bot").main(argv) == 0
    out = capsys.readouterr().out
    assert "pausing alice/gpu-app: idle for" in out
    assert "alice/gpu-app is now PAUSED" in out
    assert "alice/demo" not in out.split("pausing")[1]  # free hardware is never paused


def test_idle_gpu_bot_budget_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    # t4-small costs $0.40/h: $0.01 is spent after 90 Hub seconds.
    argv = [
        "--speed",
        "2000",
        "--budget",
        "0.01",
        "--idle",
        "86400",
        "--check",
        "10",
        "--duration",
        "300",
        "--dry-run",
    ]
    assert load("idle_gpu_bot").main(argv) == 0
    out = capsys.readouterr().out
    assert "would pause alice/gpu-app: cost $0.01" in out
    assert "alice/gpu-app is now RUNNING" in out  # a dry run pauses nothing
    # ...so what it would pause is still on paid hardware, and the summary says so.
    assert "would pause: alice/gpu-app; still on paid hardware: alice/gpu-app" in out


def test_idle_gpu_bot_meter_prices_running_time() -> None:
    bot = load("idle_gpu_bot")
    meter = bot.Meter(hourly_usd=0.40, running_since=100.0, spent_usd=0.5)
    assert meter.cost(100.0 + 1800) == pytest.approx(0.70)
    assert bot.is_idle(meter, 1000.0, 600) and not bot.is_idle(bot.Meter(last_change=900.0), 1000.0, 600)


def test_ci_deploy_as_a_subprocess_fails_with_exit_1() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "ci_deploy.py"), "--break-build", "--speed", "400"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in ("HF_ENDPOINT", "HF_TOKEN")},
    )
    assert result.returncode == 1
    assert "BUILD_ERROR" in result.stderr


@pytest.mark.aiospace_emulator(speed=400)
async def test_ci_deploy_against_an_endpoint_from_the_environment(aiospace_emulator: Emulator) -> None:
    # A push made elsewhere (a git push): the example waits for that commit.
    sha = aiospace_emulator.world.commit("alice/demo").sha
    env = {**os.environ, "HF_ENDPOINT": aiospace_emulator.url, "HF_TOKEN": "hf_alice"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "ci_deploy.py"),
        "alice/demo",
        "--revision",
        sha,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err
    assert b"embedded" not in out
    assert f"alice/demo serves {sha[:12]}: RUNNING".encode() in out
    assert "commit" in [e.reason for e in aiospace_emulator.world.events_for("alice/demo")]


def test_ci_deploy_capacity_failure_moves_to_a_fallback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load("ci_deploy")
    real_connect = module.connect

    @contextlib.asynccontextmanager
    async def connect(args: object) -> AsyncIterator[tuple[object, Emulator | None, str | None]]:
        async with real_connect(args) as (hub, emulator, token):
            emulator.world.configure("alice/gpu-app", capacity_failures=1, build_seconds=5)
            yield hub, emulator, token

    monkeypatch.setattr(module, "connect", connect)
    argv = ["alice/gpu-app", "--speed", "400", "--retry-capacity", "1", "--fallback-hardware", "a10g-large"]
    assert module.main(argv) == 0
    out = capsys.readouterr().out
    assert "capacity_retry" in out and "RUNNING on a10g-large" in out


def test_ci_deploy_pushes_the_bundled_folder(capsys: pytest.CaptureFixture[str]) -> None:
    module = load("ci_deploy")
    seen: dict[str, object] = {}
    real_connect = module.connect

    @contextlib.asynccontextmanager
    async def connect(args: object) -> AsyncIterator[tuple[object, Emulator | None, str | None]]:
        async with real_connect(args) as (hub, emulator, token):
            yield hub, emulator, token
            seen["files"] = dict(emulator.world.spaces["alice/demo"].files)
            seen["sha"] = emulator.world.spaces["alice/demo"].sha

    module.connect = connect
    assert module.main(["alice/demo", "--speed", "400"]) == 0
    files = seen["files"]
    assert isinstance(files, dict)
    for name in ("app.py", "requirements.txt", "README.md"):
        assert files[name] == (EXAMPLES / "space_app" / name).read_bytes()
    assert f"alice/demo serves {str(seen['sha'])[:12]}" in capsys.readouterr().out


@pytest.mark.aiospace_emulator(speed=400)
async def test_ci_deploy_creates_and_deploys_a_folder(aiospace_emulator: Emulator, tmp_path: Path) -> None:
    folder = tmp_path / "site"
    (folder / "static").mkdir(parents=True)
    (folder / "app.py").write_text("import gradio as gr\n")
    (folder / "static" / "style.css").write_text("body {}\n")
    argv = ["alice/fresh", "--endpoint", aiospace_emulator.url, "--token", "hf_alice"]
    argv += ["--folder", str(folder), "--create", "--message", "Release 1"]
    module = load("ci_deploy")
    assert await asyncio.to_thread(module.main, argv) == 0
    space = aiospace_emulator.world.spaces["alice/fresh"]
    assert space.files["static/style.css"] == b"body {}\n"
    assert space.stage.value == "RUNNING"
    # the next deploy mirrors the folder: what it lacks goes (but .gitattributes)
    (folder / "static" / "style.css").unlink()
    again = [*argv, "--delete", "*"]
    assert await asyncio.to_thread(module.main, again) == 0
    assert sorted(space.files) == [".gitattributes", "app.py"]


@pytest.mark.aiospace_emulator(speed=400)
async def test_ci_deploy_a_refused_push_is_an_access_error(
    aiospace_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    argv = ["alice/demo", "--endpoint", aiospace_emulator.url, "--token", "hf_bob", "--folder", str(tmp_path)]
    assert await asyncio.to_thread(load("ci_deploy").main, argv) == 4
    assert "the push failed" in capsys.readouterr().err


def test_gpu_job_leases_the_gpu_and_brings_the_space_back(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("gpu_job").main(["--speed", "1000", "--job-seconds", "20"]) == 0
    out = capsys.readouterr().out
    assert "job 1: running on t4-small at https://alice-demo.hf.space" in out
    assert "[lease] released alice/demo: restore cpu-basic" in out
    assert "alice/demo is now RUNNING_BUILDING, requested cpu-basic" in out


def test_gpu_job_that_fails_still_releases(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("gpu_job").main(["--speed", "1000", "--job-seconds", "20", "--fail"]) == 1
    out, err = capsys.readouterr()
    assert "[lease] released alice/demo: restore cpu-basic" in out
    assert "requested cpu-basic" in out.splitlines()[-1]
    assert "job 1 failed half-way (the Space was released all the same)" in err


def test_gpu_jobs_queue_up_for_one_space(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["alice/gpu-app", "--hardware", "a10g-small", "--jobs", "2", "--release", "pause"]
    assert load("gpu_job").main([*argv, "--speed", "1000", "--job-seconds", "20"]) == 0
    out = capsys.readouterr().out
    steps = [
        line for line in out.splitlines() if line.startswith("job ") and ("running" in line or "done" in line)
    ]
    assert [step.split(":")[0] for step in steps] == ["job 1", "job 1", "job 2", "job 2"]  # one at a time
    assert out.count("[lease] released alice/gpu-app: pause") == 2
    assert "alice/gpu-app is now PAUSED, requested a10g-small" in out


def test_notify_on_failure_alerts_with_the_log_tail(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("notify_on_failure").main(["--speed", "1000", "--duration", "120"]) == 0
    out = capsys.readouterr().out
    assert "ALERT alice/demo is BUILD_ERROR (was RUNNING_BUILDING)" in out
    assert "    | ERROR: failed to solve: emulated build failure" in out
    assert "ALERT alice/gpu-app is RUNTIME_ERROR (was RUNNING)" in out
    assert "done: 2 alert(s), 0 failed" in out


async def test_notify_on_failure_posts_to_a_webhook(
    receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.fail_first(503)
    argv = ["--speed", "1000", "--duration", "120", "--webhook", receiver.url + "?key=S3CRET"]
    assert await anyio.to_thread.run_sync(load("notify_on_failure").main, argv) == 0
    out = capsys.readouterr().out
    assert f"failures are also posted to {safe_url(receiver.url)}\n" in out and "S3CRET" not in out
    assert sorted((e["repo_id"], e["stage"]) for e in receiver.accepted) == [
        ("alice/demo", "BUILD_ERROR"),
        ("alice/gpu-app", "RUNTIME_ERROR"),
    ]
    assert len(receiver.attempts) == 4  # each delivered once, after one 503


# ---------------------------------------------------------------------- the quickstart (Getting started)


def _shown_python() -> str:
    """The first Python block of the "In Python" section of docs/getting-started.md."""
    page = (EXAMPLES.parent / "docs" / "getting-started.md").read_text(encoding="utf-8")
    section = page.split("\n## In Python\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match is not None
    return match.group(1)


def test_getting_started_shows_the_quickstart_as_it_is() -> None:
    """Every import and function of Getting started's Python block is the example's, verbatim."""
    shown = _shown_python()
    source = (EXAMPLES / "quickstart.py").read_text(encoding="utf-8")
    source_lines = source.splitlines()
    functions = {
        node.name: ast.get_source_segment(source, node)
        for node in ast.parse(source).body
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
    }
    shown_functions = [node for node in ast.parse(shown).body if isinstance(node, ast.AsyncFunctionDef)]
    assert [f.name for f in shown_functions] == ["quickstart", "run"]
    for node in shown_functions:
        assert ast.get_source_segment(shown, node) == functions[node.name], node.name
    for node in ast.parse(shown).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            assert ast.get_source_segment(shown, node) in source_lines


def test_quickstart_runs_on_its_embedded_emulator_and_ends(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("quickstart").main(["--speed", "400"]) == 0
    out = capsys.readouterr().out
    assert "embedded Hub emulator" in out
    assert "alice/demo is up: RUNNING on cpu-basic" in out
    assert "  RUNNING on t4-small (converged, hardware, stage)" in out
    for space in ("alice/demo", "alice/gpu-app", "alice/static-site", "alice/private-app"):
        assert f"  {space}: RUNNING" in out  # the watcher part is reached, and it stops
    assert "SpaceStage." not in out and "Change." not in out  # strings, not enum reprs


@pytest.mark.aiospace_emulator(speed=400)
async def test_quickstart_with_a_token_and_no_endpoint_goes_to_the_hub(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The header's `HF_TOKEN=hf_... python examples/quickstart.py me/my-space` reaches the Hub
    (here the emulator, as the default endpoint), never an embedded emulator without that user."""
    quickstart = load("quickstart")
    hub = aiospace_emulator

    def to_the_hub(**options: Any) -> SpaceClient:
        assert "endpoint" not in options  # the default endpoint: the Hub's
        return SpaceClient(endpoint=hub.url, clock=hub.clock)

    monkeypatch.setenv("HF_TOKEN", "hf_alice")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setattr(quickstart, "SpaceClient", to_the_hub)
    await quickstart.run("alice/gpu-app", hub_speed=400)
    out = capsys.readouterr().out
    assert "embedded" not in out and "alice/gpu-app is up: RUNNING on t4-small" in out


def test_quickstart_on_its_emulator_with_an_unknown_owner_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("quickstart").main(["me/my-space", "--speed", "400"]) == 2
    err = capsys.readouterr().err
    assert "no user 'me'" in err and "HF_TOKEN" in err and "Traceback" not in err


@pytest.mark.aiospace_emulator(speed=400)
async def test_quickstart_against_hf_endpoint_with_the_hubs_speed(aiospace_emulator: Emulator) -> None:
    env = {**os.environ, "HF_ENDPOINT": aiospace_emulator.url, "HF_TOKEN": "hf_alice"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "quickstart.py"),
        "alice/gpu-app",
        "--hub-speed",
        "400",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err
    assert b"embedded" not in out
    assert b"alice/gpu-app is up: RUNNING on t4-small" in out
    assert "restart" in [e.reason for e in aiospace_emulator.world.events_for("alice/gpu-app")]

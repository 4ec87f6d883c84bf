"""The README, run: its set-up commands, each recipe's command line and Python code, its command list.

Each recipe is run as the README shows it, on the emulator: the command line with the README's
names swapped for the emulator's (``me/my-space`` -> ``alice/demo``) and the emulator's endpoint
and token, the Python code as a whole block with ``SpaceClient()`` bound to the emulator (as
``HF_ENDPOINT`` and ``HF_TOKEN`` would, on the emulator's clock). Only what the README leaves
open (when to stop watching) is added.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import os
import re
import shlex
import shutil
import sys
import textwrap
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from aiospace import SpaceClient
from aiospace.cli import app as cli
from aiospace.cli.commands import COMMANDS
from aiospace.emulator import Emulator

if TYPE_CHECKING:
    from conftest import Receiver

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```(\w+)\n(.*?)```", flags=re.DOTALL)
CI, BOT, FLEET = "CI: wait until this commit runs", "A bot: notify on every stage change", "A fleet: many"

pytestmark = pytest.mark.aiospace_emulator(speed=400)


def section(title: str) -> str:
    """The README's text under the heading that starts with ``title``, up to the next heading."""
    match = re.search(rf"^#+ {re.escape(title)}.*?\n(.*?)(?=^#)", README, flags=re.DOTALL | re.MULTILINE)
    assert match is not None, title
    return match.group(1)


def blocks(title: str, language: str) -> list[str]:
    """The ``language`` code blocks of a section."""
    return [code for lang, code in BLOCK.findall(section(title)) if lang == language]


def command(title: str, names: dict[str, str]) -> tuple[list[str], str]:
    """The recipe's ``aiospace`` command line as arguments (README names swapped for ``names``),
    and what it is piped into."""
    (shell,) = blocks(title, "sh")
    line = " ".join(shell.replace("\\\n", " ").split())
    line, _, pipe = line.partition(" | ")
    for shown, real in names.items():
        line = line.replace(shown, real)
    words = shlex.split(line)
    assert words[0] == "aiospace"
    return words[1:], pipe


async def run_cli(hub: Emulator, argv: list[str]) -> int:
    """``aiospace ARGV`` in-process on the emulator, as alice, on its clock."""
    return await cli.amain(["--endpoint", hub.url, "--token", hub.token_for("alice"), *argv], clock=hub.clock)


def python(title: str, name: str, hub: Emulator) -> Callable[..., Coroutine[Any, Any, Any]]:
    """The recipe's Python block, run whole; its function ``name``, its ``SpaceClient()`` on ``hub``."""
    (code,) = blocks(title, "python")
    assert len(code.splitlines()) <= 16, f"the {title!r} recipe is long"
    namespace: dict[str, Any] = {}
    exec(compile(code, f"README.md ({title})", "exec"), namespace)
    assert namespace["SpaceClient"] is SpaceClient
    # What HF_ENDPOINT and HF_TOKEN would do, on the emulator's clock (its Hub seconds run faster).
    namespace["SpaceClient"] = functools.partial(
        SpaceClient, endpoint=hub.url, token=hub.token_for("alice"), clock=hub.clock
    )
    function: Callable[..., Coroutine[Any, Any, Any]] = namespace[name]
    return function


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (in real time, bounded) until ``condition()`` holds."""
    for _ in range(6_000):  # 30 s at most
        if condition():
            return
        await anyio.sleep(0.005)
    pytest.fail(f"never saw {what}")


@contextlib.asynccontextmanager
async def running(coroutine: Coroutine[Any, Any, Any]) -> AsyncIterator[None]:
    """Run ``coroutine`` in the background while the block runs, then cancel it; its error is raised."""
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: coroutine)
        yield
        tasks.cancel_scope.cancel()


def failing_push(hub: Emulator) -> str:
    """Push an app whose build fails to ``alice/demo``; its sha."""
    return hub.world.push_files("alice/demo", {"app.py": "# aiospace-emulator: build-error\n"}).sha


# ---------------------------------------------------------------------- set-up


def test_the_readme_is_short() -> None:
    assert len(README.encode()) <= 12_000
    assert README.index("## Recipes") < 2_500  # the recipes come first


def test_the_two_set_up_commands_are_what_ci_runs() -> None:
    """CI (``.ci/run``) runs the two commands in a fresh venv: the same installs, then the demo
    and the tests."""
    setup = BLOCK.findall(README)[0][1]
    commands = [line for line in setup.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    demo, tests = (line.split(" && ") for line in commands)
    assert demo[0] == tests[0] == "python3 -m venv .venv"
    assert demo[1:] == [".venv/bin/pip install -e .", ".venv/bin/aiospace demo"]
    assert tests[1:] == ['.venv/bin/pip install -e ".[dev]"', ".venv/bin/python -m pytest -q"]
    assert 'pip install -q -e ".[dev' in ci and ".venv/bin/aiospace demo" in ci
    assert ".venv/bin/python -m pytest -q" in ci


async def test_the_demo_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli.amain(["demo", "--speed", "400"]) == 0  # the README's, faster
    assert "RUNNING" in capsys.readouterr().out


def test_the_command_list_is_every_command_in_order() -> None:
    listed = re.findall(r"^- `aiospace ([a-z-]+)`: ", section("The command line"), flags=re.MULTILINE)
    assert listed == [c.name for c in COMMANDS]
    parser = cli.build_parser()
    for name in listed:  # each one's --help works
        with pytest.raises(SystemExit) as done, contextlib.redirect_stdout(io.StringIO()) as out:
            parser.parse_args([name, "--help"])
        assert done.value.code == 0 and f"aiospace {name}" in out.getvalue()


# ---------------------------------------------------------------------- CI: wait for this commit


async def test_ci_recipe_command_waits_for_the_pushed_commit(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = aiospace_emulator.world.commit("alice/demo").sha
    argv, _ = command(CI, {"me/my-space": "alice/demo", "$(git rev-parse HEAD)": sha})
    assert argv[:3] == ["wait", "alice/demo", "--revision"]
    assert await run_cli(aiospace_emulator, argv) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("alice/demo: RUNNING on cpu-basic"), out


async def git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    """``git ARGS`` as a real process (no credential helper, no prompt); its output."""
    settings = [
        "credential.helper=",
        "user.name=CI",
        "user.email=ci@example.invalid",
        "init.defaultBranch=main",
    ]
    argv = [arg for setting in settings for arg in ("-c", setting)]
    process = await asyncio.create_subprocess_exec(
        "git", *argv, *args, cwd=cwd, env=env, stdout=PIPE, stderr=STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"git {' '.join(args)}: {out.decode(errors='replace')}"
    return out.decode()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
async def test_ci_recipe_command_runs_in_a_shell_after_a_git_push(
    aiospace_emulator: Emulator, tmp_path: Path
) -> None:
    """As a CI job runs it: a clone of the Space, a commit, ``git push``, then the README's line
    through bash in that clone (``$(git rev-parse HEAD)`` is the pushed commit), as a process."""
    hub = aiospace_emulator
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", "HOME": str(tmp_path)}
    env |= {"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    await git(
        tmp_path,
        "clone",
        "-q",
        hub.url.replace("http://", "http://ci:hf_alice@") + "/spaces/alice/demo",
        "work",
        env=env,
    )
    work = tmp_path / "work"
    (work / "app.py").write_text("print('a new commit')\n")
    await git(work, "commit", "-q", "-am", "Ship it", env=env)
    await git(work, "push", "-q", "origin", "main", env=env)
    sha = (await git(work, "rev-parse", "HEAD", env=env)).strip()
    (shell,) = blocks(CI, "sh")
    line = shell.strip().replace("me/my-space", "alice/demo")
    shell_env = env | {"HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_alice"}
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", f"{line} --hub-speed 400", cwd=work, env=shell_env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith(f"alice/demo: RUNNING on cpu-basic, serving {sha[:7]}"), out.decode()
    assert hub.world.spaces["alice/demo"].sha == sha


async def test_ci_recipe_command_fails_with_the_hubs_error_and_the_log_tail(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = failing_push(aiospace_emulator)
    argv, _ = command(CI, {"me/my-space": "alice/demo", "$(git rev-parse HEAD)": sha})
    assert await run_cli(aiospace_emulator, argv) == 1
    err = capsys.readouterr().err
    assert "BUILD_ERROR" in err and "ERROR: failed to solve" in err  # the stage, the log tail


async def test_ci_recipe_command_fails_when_the_app_never_answers(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    space = aiospace_emulator.world.push_files("alice/demo", {"app.py": "# aiospace-emulator: not-serving\n"})
    argv, _ = command(CI, {"me/my-space": "alice/demo", "$(git rev-parse HEAD)": space.sha})
    assert await run_cli(aiospace_emulator, argv) == 1  # it runs, but its app never answered
    err = capsys.readouterr().err
    assert "alice/demo is RUNNING but its app never answered at https://alice-demo.hf.space" in err
    assert "last 20 log lines:" in err  # the log tail


async def test_ci_recipe_python_waits_for_the_pushed_commit(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    wait_for_commit = python(CI, "wait_for_commit", aiospace_emulator)
    sha = aiospace_emulator.world.commit("alice/demo").sha
    assert await wait_for_commit("alice/demo", sha) == 0
    assert capsys.readouterr().out == f"alice/demo serves {sha[:7]}: RUNNING on cpu-basic\n"


async def test_ci_recipe_python_fails_with_the_hubs_error_and_the_log_tail(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    wait_for_commit = python(CI, "wait_for_commit", aiospace_emulator)
    assert await wait_for_commit("alice/demo", failing_push(aiospace_emulator)) == 1
    out = capsys.readouterr().out
    assert out.startswith("::error::Space alice/demo is BUILD_ERROR: ")  # the Hub's errorMessage
    assert "  | ERROR: failed to solve" in out  # the log tail


# ---------------------------------------------------------------------- a bot


@pytest.fixture
def rebuilding(aiospace_emulator: Emulator) -> tuple[str, ...]:
    """Two of alice's Spaces rebuild (a commit each): a watch sees their stages change, then settle."""
    spaces = ("alice/demo", "alice/gpu-app")
    for space in spaces:
        aiospace_emulator.world.configure(space, build_seconds=60, start_seconds=20)
        aiospace_emulator.world.commit(space)
    return spaces


async def test_bot_recipe_command_posts_every_stage_change(
    aiospace_emulator: Emulator, receiver: Receiver, rebuilding: tuple[str, ...]
) -> None:
    names = {"https://hooks.example.com/spaces": receiver.url, "--author me": "--author alice"}
    argv, _ = command(BOT, names)
    assert argv[:3] == ["watch", "--author", "alice"] and "--post" in argv
    assert await run_cli(aiospace_emulator, [*argv, "--until-settled", "--json"]) == 0
    for space in rebuilding:
        posted = [event for event in receiver.accepted if event["repo_id"] == space]
        assert posted and all({"stage", "removed"} & set(event["changes"]) for event in posted)
        assert posted[-1]["stage"] == "RUNNING"


async def test_bot_recipe_python_posts_every_stage_change(
    aiospace_emulator: Emulator, receiver: Receiver, rebuilding: tuple[str, ...]
) -> None:
    bot = python(BOT, "bot", aiospace_emulator)

    def back_up(space: str) -> bool:
        posted = [event for event in receiver.accepted if event["repo_id"] == space]
        return bool(posted) and posted[-1]["stage"] == "RUNNING"

    async with running(bot("alice", receiver.url)):
        await until(lambda: all(back_up(space) for space in rebuilding), "both Spaces back up")
        aiospace_emulator.world.remove_space("alice/static-site")  # deleted: its removal is told
        await until(lambda: any(e["changes"] == ["removed"] for e in receiver.accepted), "the removal posted")
        aiospace_emulator.world.crash("alice/gpu-app")  # and the watch went on
        await until(lambda: receiver.accepted[-1]["stage"] == "RUNTIME_ERROR", "the crash after it")
    changed = [event for event in receiver.accepted if event["changes"] != ["removed"]]
    assert all("stage" in event["changes"] and event["previous_stage"] for event in changed)
    assert {event["repo_id"] for event in changed} == set(rebuilding)  # the others did not change
    assert [e["repo_id"] for e in receiver.accepted if e["changes"] == ["removed"]] == ["alice/static-site"]


# ---------------------------------------------------------------------- a fleet


async def test_fleet_recipe_command_watches_every_space_of_the_authors(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, pipe = command(FLEET, {"--author me": "--author alice", "--author my-org": "--author bob"})
    spaces = sorted(aiospace_emulator.world.spaces)
    assert await run_cli(aiospace_emulator, [*argv, "--max-events", str(len(spaces))]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(event["repo_id"] for event in events) == spaces  # each one's current state
    picked = re.findall(r"\b(\w+)\b", pipe.split("'")[1])
    assert picked == ["repo_id", "stage", "hardware"] and all(set(picked) <= set(e) for e in events)


async def test_fleet_recipe_python_survives_a_deleted_space(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = python(FLEET, "fleet", aiospace_emulator)
    world = aiospace_emulator.world
    printed: list[str] = []

    def seen(text: str) -> bool:
        printed.extend(capsys.readouterr().out.splitlines())
        return any(text in line for line in printed)

    named = ["alice/demo", "alice/private-app", "alice/gpu-app"]
    async with running(fleet(["bob"], named)):
        await until(
            lambda: all(seen(f"{space}: ") for space in world.spaces if space != "alice/static-site"), "all"
        )
        world.remove_space("alice/private-app")  # named, deleted while watched: dropped, not fatal
        world.remove_space("bob/tool")  # followed, deleted: a last event, and the watch goes on
        await until(lambda: seen("bob/tool: removed"), "the followed Space's removal")
        world.crash("alice/gpu-app")
        await until(lambda: seen("alice/gpu-app: RUNTIME_ERROR"), "the crash, after the deletions")
    assert "alice/demo: RUNNING on cpu-basic" in printed
    assert not any(line.startswith("alice/static-site") for line in printed)  # neither followed nor named


def test_recipes_import_public_names_only() -> None:
    for title in (CI, BOT, FLEET):
        (code,) = blocks(title, "python")
        assert re.findall(r"^from (\S+) import", code, flags=re.MULTILINE) == ["aiospace"]


# ---------------------------------------------------------------------- the docs' own emulator snippet


async def test_the_emulator_guides_python_tab_runs() -> None:
    """docs/guides/emulator.md's first Python tab (an emulator, a client on its clock, a restart and
    a wait) runs as shown."""
    page = (ROOT / "docs" / "guides" / "emulator.md").read_text(encoding="utf-8")
    match = re.search(r'=== "Python"\n\n    ```python\n(.*?)    ```', page, flags=re.DOTALL)
    assert match is not None
    body = match.group(1).replace("Emulator(speed=50)", "Emulator(speed=400)")  # the test's pace
    lines = [*textwrap.dedent(body).splitlines(), "return emulator"]  # to look at its world afterwards
    source = "async def main():\n" + "".join(f"    {line}\n" for line in lines)
    namespace: dict[str, Any] = {}
    exec(compile(source, "docs/guides/emulator.md", "exec"), namespace)
    emulator: Emulator = await namespace["main"]()
    assert "restart" in [event.reason for event in emulator.world.events_for("alice/demo")]
    assert emulator.world.spaces["alice/demo"].stage.value == "RUNNING"  # what the wait waited for

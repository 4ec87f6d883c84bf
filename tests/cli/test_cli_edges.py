"""The command line at the edges of its process: a full disk on stdout, SIGTERM.

Each case runs the real ``aiospace`` in a child process against the test's emulator,
bounded (a timeout on every wait) and leaving no process behind.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiospace.cli.util import OutputError, output_error
from aiospace.emulator import Emulator

AIOSPACE = [sys.executable, "-m", "aiospace.cli"]
linux_only = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")


async def _run(hub: Emulator, *argv: str, stdout: object, stderr: object, timeout: float = 30) -> int:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_alice"}
    process = await asyncio.create_subprocess_exec(*AIOSPACE, *argv, stdout=stdout, stderr=stderr, env=env)
    try:
        return await asyncio.wait_for(process.wait(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# ---------------------------------------------------------------------- a full disk: exit 74


@linux_only
@pytest.mark.parametrize(
    "argv",
    [
        ["wait", "alice/demo", "--json"],
        ["runtime", "alice/demo"],
        ["watch", "alice/demo", "--json", "--max-events", "1"],  # written inside the watcher's task group
        ["logs", "alice/demo"],
    ],
    ids=lambda argv: argv[0],
)
async def test_a_full_disk_on_stdout_is_exit_74_and_one_line(
    aiospace_emulator: Emulator, tmp_path: Path, argv: list[str]
) -> None:
    # Before: a 38-line traceback and exit 1, which `wait` documents as "the Space failed".
    err = tmp_path / "stderr"
    with open("/dev/full", "w") as full, err.open("w") as errors:  # noqa: ASYNC230 (a child's stdout)
        code = await _run(aiospace_emulator, *argv, stdout=full, stderr=errors)
    lines = err.read_text().splitlines()
    assert code == 74, lines
    assert "Traceback" not in err.read_text()
    assert lines[-1] == f"aiospace {argv[0]}: could not write to stdout: No space left on device"
    assert len([line for line in lines if line.startswith(f"aiospace {argv[0]}: ")]) == 1


@linux_only
async def test_a_full_disk_on_stderr_is_exit_74_and_nothing_else(aiospace_emulator: Emulator) -> None:
    with open("/dev/full", "w") as full:  # noqa: ASYNC230 (a child's stderr)
        # The error line itself can't be written: still no traceback, no exit code about the Space.
        code = await _run(
            aiospace_emulator, "runtime", "alice/nope", stdout=asyncio.subprocess.DEVNULL, stderr=full
        )
    assert code == 74


def test_an_output_error_is_found_inside_exception_groups() -> None:
    group = getattr(builtins, "BaseExceptionGroup", None)
    if group is None:  # pragma: no cover - Python 3.10
        pytest.skip("no exception groups")
    failed = OutputError("stdout", OSError(errno.ENOSPC, "No space left on device"))
    assert output_error(failed) is failed
    assert output_error(group("g", [failed, asyncio.CancelledError()])) is failed
    assert output_error(group("g", [group("inner", [failed]), BrokenPipeError()])) is failed
    assert output_error(group("g", [failed, ValueError("a bug")])) is None  # a bug is not hidden
    assert output_error(OSError(errno.ENOSPC, "a file of the command's own")) is None


@linux_only
@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--help"], "aiospace"),
        (["--version"], "aiospace"),
        (["wait", "--help"], "aiospace wait"),
        ([], "aiospace"),
    ],
    ids=["help", "version", "wait-help", "bare"],
)
def test_help_and_version_on_a_full_disk_are_exit_74_too(argv: list[str], said: str, tmp_path: Path) -> None:
    # Before: argparse dropped the write error, so `aiospace --help > /dev/full` ended 0, nothing written.
    err = tmp_path / "stderr"
    with open("/dev/full", "w") as full, err.open("w") as errors:
        done = subprocess.run([*AIOSPACE, *argv], stdout=full, stderr=errors, timeout=60, check=False)
    assert done.returncode == 74
    assert err.read_text() == f"{said}: could not write to stdout: No space left on device\n"


def test_help_to_a_closed_pipe_is_a_quiet_exit_0() -> None:
    done = subprocess.run(
        f"{shlex.join(AIOSPACE)} --help | head -c 1", shell=True, capture_output=True, timeout=60, check=False
    )
    assert (done.stdout, done.stderr) == (b"u", b"")  # "usage: ...", cut short by its reader: no error line


# ---------------------------------------------------------------------- SIGTERM: like Ctrl-C, exit 143


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _lines(path: Path, count: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().split() if path.exists() else []  # noqa: ASYNC240 (a tiny file)
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} did not get {count} lines in {timeout}s")


@linux_only
async def test_sigterm_ends_watch_exec_commands_and_prints_the_summary(
    aiospace_emulator: Emulator, tmp_path: Path
) -> None:
    # Before: SIGTERM killed aiospace at once; its --exec command (in its own process group)
    # was handed to PID 1 and kept running, and there was no summary.
    pids = tmp_path / "pids"
    err = tmp_path / "stderr"
    # The command and its child: both must end (the child's own process group is the command's).
    script = f"echo $$ >> {pids}; sleep 300 & echo $! >> {pids}; wait"
    env = {**os.environ, "HF_ENDPOINT": aiospace_emulator.url, "HF_TOKEN": "hf_alice"}
    with err.open("w") as errors:
        process = await asyncio.create_subprocess_exec(
            *AIOSPACE,
            "watch",
            "alice/demo",
            "--json",
            "--exec",
            script,
            "--notify-timeout",
            "1h",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=errors,
            env=env,
        )
    started: list[int] = []
    try:
        started = [int(p) for p in await _lines(pids, 2, timeout=30)]
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in started) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert [pid for pid in started if _alive(pid)] == []
        assert code == 143
        text = err.read_text()
        assert "Traceback" not in text
        assert "notifications to --exec" in text and "terminated (SIGTERM)" in text
        assert "0 delivered, 0 failed, 1 cut short" in text  # the run SIGTERM ended is said
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for pid in started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def test_every_commands_help_gives_exit_74() -> None:
    from aiospace.cli.app import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "wait" in a.choices)
    helps = {name: sub.format_help() for name, sub in subparsers.choices.items()}  # type: ignore[union-attr]
    assert len(helps) > 15
    assert [name for name, text in helps.items() if not re.search(r"\b74\s+stdout", text)] == []
    # SIGTERM too.
    assert [name for name, text in helps.items() if "143" not in text] == []

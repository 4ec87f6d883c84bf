"""``aiospace lease SPACE FLAVOR -- COMMAND``: the exit code passes through; the Space is released on
every way out (COMMAND's end or failure, SIGINT, SIGTERM), signals tested on real subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from aiospace.cli import app as cli
from aiospace.emulator import Emulator

pytestmark = pytest.mark.aiospace_emulator(speed=400)

PY = sys.executable


@pytest.fixture(autouse=True)
def quick(aiospace_emulator: Emulator) -> None:
    for space in ("alice/demo", "alice/gpu-app"):
        aiospace_emulator.world.configure(space, build_seconds=10, start_seconds=2, hardware_seconds=5)


async def run(hub: Emulator, capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``aiospace --endpoint URL --token hf_alice ARGV...`` in-process (COMMAND writes to the real fds)."""
    code = await cli.amain(["--endpoint", hub.url, "--token", "hf_alice", *argv], clock=hub.clock)
    out, err = capfd.readouterr()
    return code, out, err


def requested(hub: Emulator, space: str = "alice/demo") -> list[str | None]:
    """Every flavor requested of the Space, in order (the ground-truth event log)."""
    return [e.requested for e in hub.world.events_for(space) if e.reason == "hardware requested"]


async def test_the_command_runs_on_the_flavor_and_its_exit_code_passes_through(
    aiospace_emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    script = (
        "import os, sys; "
        "print(os.environ['AIOSPACE_SPACE'], os.environ['AIOSPACE_URL'], os.environ['AIOSPACE_HARDWARE']); "
        "sys.exit(3)"
    )
    code, out, err = await run(
        aiospace_emulator, capfd, "lease", "alice/demo", "t4-small", "--", PY, "-c", script
    )
    assert code == 3
    assert out.split() == ["alice/demo", "https://alice-demo.hf.space", "t4-small"]
    assert "aiospace lease: released alice/demo: restore cpu-basic" in err
    assert requested(aiospace_emulator) == ["t4-small", "cpu-basic"]
    code, _, err = await run(
        aiospace_emulator,
        capfd,
        "lease",
        "alice/demo",
        "a10g-small",
        "--release",
        "pause",
        "-q",
        "--",
        "true",
    )
    assert code == 0 and err == ""
    aiospace_emulator.world.advance()
    assert aiospace_emulator.world.space("alice/demo").stage.value == "PAUSED"


async def test_a_command_that_cannot_run_asks_for_no_gpu(
    aiospace_emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await run(
        aiospace_emulator, capfd, "lease", "alice/demo", "t4-small", "--", "no-such-cmd-42"
    )
    assert code == 127 and "no-such-cmd-42: command not found" in err
    code, _, err = await run(aiospace_emulator, capfd, "lease", "alice/demo", "t4-small")
    assert code == 2 and "nothing to run" in err
    code, _, err = await run(aiospace_emulator, capfd, "lease", "alice/demo", "Not A Flavor", "--", "true")
    assert code == 2
    assert requested(aiospace_emulator) == []


async def test_a_space_that_fails_to_start_is_released_and_the_command_never_runs(
    aiospace_emulator: Emulator, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    aiospace_emulator.world.configure("alice/demo", fail_build=True)
    marker = tmp_path / "ran"
    code, _, err = await run(
        aiospace_emulator, capfd, "lease", "alice/demo", "t4-small", "--", "touch", str(marker)
    )
    assert code == 1 and "alice/demo failed: BUILD_ERROR" in err
    assert not marker.exists()
    assert requested(aiospace_emulator) == ["t4-small", "cpu-basic"]


async def test_a_release_that_fails_exits_6_and_says_so(
    aiospace_emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    # COMMAND itself breaks the Hub's hardware route (through the emulator's admin API).
    fault = json.dumps({"kind": "error", "route": "request_space_hardware", "status": 503})
    headers = {"Authorization": f"Bearer {aiospace_emulator.admin_token}", "Content-Type": "application/json"}
    script = (
        "import urllib.request as r; r.urlopen(r.Request("
        f"{aiospace_emulator.url + '/_emulator/faults'!r}, data={fault!r}.encode(), headers={headers!r}))"
    )
    code, _, err = await run(
        aiospace_emulator, capfd, "lease", "alice/demo", "a100-large", "--", PY, "-c", script
    )
    assert code == 6
    assert "could not release Space alice/demo (restore cpu-basic) after 5 attempt(s)" in err
    assert "it may still run on a100-large" in err
    assert requested(aiospace_emulator) == ["a100-large"]


# ---------------------------------------------------------------------- signals, on real subprocesses


async def start(hub: Emulator, *argv: str, new_session: bool = False) -> asyncio.subprocess.Process:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_alice", "PYTHONUNBUFFERED": "1"}
    return await asyncio.create_subprocess_exec(
        PY,
        "-m",
        "aiospace.cli",
        "--hub-speed",
        "400",
        "lease",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=new_session,
    )


JOB = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: (print('job: terminated', flush=True), sys.exit(143)))\n"
    "try:\n"
    "    print('job: started', flush=True)\n"
    "    time.sleep(60)\n"
    "except KeyboardInterrupt:\n"
    "    print('job: interrupted', flush=True)\n"
    "    sys.exit(130)\n"
)


async def started(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    assert line == b"job: started\n"


async def test_sigterm_is_handed_to_the_command_then_the_space_is_released_and_143(
    aiospace_emulator: Emulator,
) -> None:
    process = await start(aiospace_emulator, "alice/demo", "t4-small", "--", PY, "-c", JOB)
    await started(process)
    process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 143, err
    assert out == b"job: terminated\n"
    assert b"released alice/demo: restore cpu-basic" in err and b"Traceback" not in err
    assert requested(aiospace_emulator) == ["t4-small", "cpu-basic"]


async def test_ctrl_c_reaches_the_command_then_the_space_is_released_and_130(
    aiospace_emulator: Emulator,
) -> None:
    # A terminal sends Ctrl-C to the whole foreground process group: aiospace and COMMAND.
    process = await start(aiospace_emulator, "alice/demo", "t4-small", "--", PY, "-c", JOB, new_session=True)
    await started(process)
    os.killpg(process.pid, signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 130, err
    assert out == b"job: interrupted\n"
    assert b"released alice/demo: restore cpu-basic" in err and b"Traceback" not in err
    assert requested(aiospace_emulator) == ["t4-small", "cpu-basic"]


async def test_sigint_to_aiospace_alone_stops_the_command_after_the_grace(
    aiospace_emulator: Emulator,
) -> None:
    argv = ["alice/demo", "t4-small", "--grace", "0.2", "--", PY, "-c", JOB]
    process = await start(aiospace_emulator, *argv)
    await started(process)
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 130, err
    assert out == b"job: terminated\n"  # SIGTERM after the grace
    assert requested(aiospace_emulator) == ["t4-small", "cpu-basic"]


async def test_a_signal_while_the_flavor_is_awaited_releases_too(aiospace_emulator: Emulator) -> None:
    aiospace_emulator.world.configure("alice/demo", stuck=True)  # never runs on the flavor
    process = await start(aiospace_emulator, "alice/demo", "t4-small", "--", "true")
    async with asyncio.timeout(30):
        while not requested(aiospace_emulator):  # noqa: ASYNC110 (the GPU was asked for)
            await asyncio.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 130, err
    assert b"released alice/demo: restore cpu-basic" in err
    assert requested(aiospace_emulator) == ["t4-small", "cpu-basic"]

"""A lease's release against the process being asked to stop, on real child processes.

A script holds ``hub.lease("alice/demo", "t4-small")`` under ``asyncio.run``; the release's
hardware request is slow (an emulated latency). Before, the second SIGINT raised
``KeyboardInterrupt`` out of the event loop, which then cancelled every task left, the
release with them: the Space stayed on ``t4-small``, with no error and no ERROR line.
Every wait is bounded; no process is left behind.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aiospace.emulator import Emulator

pytestmark = [
    pytest.mark.aiospace_emulator(speed=100),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

SCRIPT = """
import asyncio, logging, signal, sys
from aiospace import SpaceClient

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")

async def main():
    {sigterm}
    async with SpaceClient(endpoint=sys.argv[1], token="hf_alice") as hub:
        async with hub.lease("alice/demo", "t4-small", release_timeout=float(sys.argv[2])):
            print("leased", flush=True)
            await asyncio.sleep(3600)

asyncio.run(main())
"""
#: The one line docs/guides.md gives library users for SIGTERM.
SIGTERM_LINE = "asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)"


def requested(hub: Emulator) -> list[str | None]:
    return [e.requested for e in hub.world.events_for("alice/demo") if e.reason == "hardware requested"]


async def _until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(0.02)


async def _lease_then_signal(
    hub: Emulator, tmp_path: Path, signals: list[signal.Signals], release_timeout: float, latency: float
) -> tuple[int, str]:
    """Run the script until it holds the lease, make the release slow, send ``signals`` (the
    second and later ones once the release's request is under way); its exit code and stderr."""
    hub.world.configure("alice/demo", build_seconds=10, start_seconds=2, hardware_seconds=5)
    script = tmp_path / "lease.py"
    sigterm = SIGTERM_LINE if signal.SIGTERM in signals else ""
    script.write_text(SCRIPT.format(sigterm=sigterm))
    err = tmp_path / "stderr"
    with err.open("w") as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(script), hub.url, str(release_timeout),
            stdout=asyncio.subprocess.PIPE, stderr=errors,
        )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line == b"leased\n", err.read_text()
        # The release's request takes `latency` Hub seconds to be answered.
        fault = hub.world.add_fault(
            "latency", route="request_space_hardware", space="alice/demo", latency=latency
        )
        process.send_signal(signals[0])
        await _until(lambda: fault.fired >= 1, 30)  # the release's request is under way
        for signum in signals[1:]:
            await asyncio.sleep(0.05)
            process.send_signal(signum)
        code = await asyncio.wait_for(process.wait(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return code, err.read_text()


@pytest.mark.parametrize("signals", [2, 3], ids=["two", "three"])
async def test_more_ctrl_c_during_a_release_do_not_cut_it_short(
    aiospace_emulator: Emulator, tmp_path: Path, signals: int
) -> None:
    hub = aiospace_emulator
    code, err = await _lease_then_signal(hub, tmp_path, [signal.SIGINT] * signals, 120, latency=100)
    assert requested(hub) == ["t4-small", "cpu-basic"], err  # the release was taken
    assert "INFO aiospace.lease released alice/demo: restore cpu-basic" in err
    assert "WARNING aiospace.lease SIGINT during the release of alice/demo (may still run on t4-small)" in err
    assert code != 0  # then the process ends, as a Ctrl-C asks
    assert "KeyboardInterrupt" in err


async def test_a_release_past_its_timeout_is_an_error_line_naming_the_space_and_flavor(
    aiospace_emulator: Emulator, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    # The request is answered after 1,000 Hub seconds (10 real s); the release gives up after 0.5 s.
    code, err = await _lease_then_signal(hub, tmp_path, [signal.SIGINT] * 2, 0.5, latency=1_000)
    assert code != 0
    errors = [line for line in err.splitlines() if line.startswith("ERROR aiospace.lease")]
    assert errors, err
    assert "could not release Space alice/demo (restore cpu-basic)" in errors[0]
    assert "it may still run on t4-small" in errors[0]


async def test_sigterm_with_the_documented_line_releases_the_space(
    aiospace_emulator: Emulator, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    code, err = await _lease_then_signal(hub, tmp_path, [signal.SIGTERM, signal.SIGTERM], 120, latency=100)
    assert requested(hub) == ["t4-small", "cpu-basic"], err
    assert "released alice/demo: restore cpu-basic" in err
    assert code != 0 and code != -signal.SIGTERM  # ended by the cancellation, not killed by the signal

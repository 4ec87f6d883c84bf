"""``aiospace wait`` for deploys: --revision, --stall-after/--on-stall, --retry-capacity/
--fallback-hardware, and stages that won't move; against the in-process emulator."""

from __future__ import annotations

import json

import anyio
import pytest

from aiospace.cli import app as cli
from aiospace.emulator import Emulator

pytestmark = pytest.mark.aiospace_emulator(speed=400)


async def run(hub: Emulator, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``aiospace --endpoint URL --token hf_alice ARGV...`` in-process; return (code, stdout, stderr)."""
    code = await cli.amain(["--endpoint", hub.url, "--token", "hf_alice", *argv], clock=hub.clock)
    out, err = capsys.readouterr()
    return code, out, err


async def test_wait_for_a_revision(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/demo", push_delay=10, build_seconds=10, start_seconds=2)
    sha = hub.world.commit("alice/demo").sha
    code, out, _ = await run(hub, capsys, "wait", "alice/demo", "--revision", sha, "--json", "-q")
    assert code == 0, out
    assert json.loads(out)["result"] == "running"
    assert f"Commit SHA: {sha[:7]}" in next(iter(hub.world.space("alice/demo").build_log)).text
    assert any(e.reason == "commit" and e.time < hub.clock.now() for e in hub.world.events_for("alice/demo"))


async def test_a_superseded_revision_exits_1_with_the_log_tail(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/demo", push_delay=20, build_seconds=60)
    first = hub.world.commit("alice/demo").sha

    async def push_again() -> None:
        await hub.clock.sleep(10)
        hub.world.commit("alice/demo")

    async with anyio.create_task_group() as tg:
        tg.start_soon(push_again)
        code, out, err = await run(hub, capsys, "wait", "alice/demo", "--revision", first, "-q")
    second = hub.world.space("alice/demo").sha
    assert (code, out) == (1, "")
    assert f"revision {first} superseded" in err and second in err
    assert "last " in err and "  | " in err


async def test_a_stall_exits_1_and_a_factory_reboot_is_shown(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/demo", stuck=True)
    hub.world.restart("alice", "alice/demo")
    code, _, err = await run(hub, capsys, "wait", "alice/demo", "--stall-after", "1m", "-q")
    assert code == 1
    assert "alice/demo stalled: RUNNING_BUILDING for 1m" in err
    assert "  | Building..." in err
    code, out, err = await run(
        hub, capsys, "wait", "alice/demo", "--stall-after", "1m", "--on-stall", "factory-reboot", "--json"
    )
    assert code == 1
    verdict = json.loads(out)
    assert (verdict["result"], verdict["rebooted"]) == ("stalled", True)
    assert "rebuilding it without cache (factory reboot)" in err
    assert [e.reason for e in hub.world.events_for("alice/demo")].count("factory reboot") == 1


async def test_capacity_retries_move_to_a_fallback_flavor(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/gpu-app", capacity_failures=1, build_seconds=5, start_seconds=2)
    hub.world.restart("alice", "alice/gpu-app")
    code, _, err = await run(
        hub, capsys, "wait", "alice/gpu-app", "--retry-capacity", "2", "--fallback-hardware", "a10g-large"
    )
    assert code == 0, err
    assert "Scheduling failure: not enough hardware capacity: restarted on a10g-large" in err
    assert hub.world.space("alice/gpu-app").current == "a10g-large"


async def test_a_capacity_failure_without_retries_exits_1(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/gpu-app", capacity_failures=1, build_seconds=5, start_seconds=2)
    hub.world.restart("alice", "alice/gpu-app")
    code, _, err = await run(hub, capsys, "wait", "alice/gpu-app", "-q")
    assert code == 1
    assert "RUNTIME_ERROR" in err and "Scheduling failure: not enough hardware capacity" in err


async def test_a_paused_space_exits_1_at_once_with_the_hint(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.pause("alice", "alice/demo")
    code, _, err = await run(hub, capsys, "wait", "alice/demo", "-q")
    assert code == 1
    assert "alice/demo is PAUSED and won't leave it on its own: a restart would move it" in err
    assert hub.clock.now() < 600, "it did not sit until the 10-minute timeout"
    code, out, _ = await run(hub, capsys, "wait", "alice/demo", "--json", "-q")
    assert code == 1 and json.loads(out)["result"] == "not_starting"


async def test_no_build_within_the_grace_exits_3(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/demo", push_delay=10_000)
    sha = hub.world.commit("alice/demo").sha
    code, out, _ = await run(
        hub, capsys, "wait", "alice/demo", "--revision", sha, "--build-grace", "30s", "--json", "-q"
    )
    verdict = json.loads(out)
    assert code == 3 and verdict["result"] == "timeout" and "no build" in verdict["reason"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--revision", "abc1234"], "revision"),
        (["--on-stall", "factory-reboot"], "--stall-after"),
        (["--fallback-hardware", "a10g-large"], "retry_capacity"),
        (["--retry-capacity", "1", "--fallback-hardware", "a10g large!"], "--fallback-hardware"),
    ],
)
async def test_bad_deploy_options_exit_2(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    hub = aiospace_emulator
    before = hub.world.stats_json()["requests"]
    code, _, err = await run(hub, capsys, "wait", "alice/demo", *argv)
    assert code == 2 and needle in err
    assert hub.world.stats_json()["requests"] == before, "refused before any request"

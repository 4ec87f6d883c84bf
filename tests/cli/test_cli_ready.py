"""``aiospace wait --ready``, ``wait A B C`` / ``--author``, and the error message and sha in what
``runtime`` and ``wait`` print; against the in-process emulator over loopback HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiospace.cli import app as cli
from aiospace.emulator import Emulator
from aiospace.emulator.apps import app_status

SEED: dict[str, Any] = {
    "users": {"alice": "hf_alice", "bob": "hf_bob"},
    "spaces": [
        {"id": "alice/slow", "app_ready_after": 60},
        {"id": "alice/dead", "serving": False},
        {"id": "alice/one", "build_seconds": 20},
        {"id": "alice/two", "build_seconds": 20},
        {"id": "alice/broken", "build_seconds": 5, "fail_build": True},
        {"id": "bob/tool", "sdk": "static"},
        {"id": "bob/starting", "start_seconds": 45 * 60, "build_seconds": 5},
    ],
}

pytestmark = pytest.mark.aiospace_emulator(speed=1000, seed=SEED)


async def run(hub: Emulator, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``aiospace --endpoint URL --token hf_alice ARGV...`` in-process; return (code, stdout, stderr)."""
    code = await cli.amain(["--endpoint", hub.url, "--token", "hf_alice", *argv], clock=hub.clock)
    out, err = capsys.readouterr()
    return code, out, err


async def test_wait_ready_returns_once_the_app_answers(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, out, err = await run(hub, capsys, "wait", "alice/slow", "--ready", "--json")
    assert code == 0, out
    assert json.loads(out)["result"] == "running"
    assert "alice/slow: RUNNING on cpu-basic, waiting for its app to answer" in err  # the progress
    space = hub.world.space("alice/slow")
    assert hub.clock.now() - space.running_since >= 60
    assert app_status(space, hub.world.advance()) == 200


async def test_wait_ready_on_an_app_that_never_serves_exits_1(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, out, err = await run(hub, capsys, "wait", "alice/dead", "--ready", "--ready-timeout", "1m", "-q")
    assert (code, out) == (1, "")
    assert "alice/dead is RUNNING but its app never answered at https://alice-dead.hf.space" in err
    assert "(last: status 503)" in err and "  | " in err
    code, out, _ = await run(hub, capsys, "wait", "alice/dead", "--ready", "--ready-timeout", "1m", "--json")
    verdict = json.loads(out)
    assert code == 1
    assert (verdict["result"], verdict["last_status"], verdict["stage"]) == ("not_ready", 503, "RUNNING")


async def test_wait_for_three_spaces_with_one_build_failure_exits_1_and_reports_all(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    for space in ("alice/one", "alice/two"):
        hub.world.configure(space, build_seconds=600)  # they settle well after the failure
    for space in ("alice/one", "alice/two", "alice/broken"):
        hub.world.restart("alice", space)
    code, out, err = await run(hub, capsys, "wait", "alice/one", "alice/broken", "alice/two", "--json", "-q")
    assert code == 1
    verdicts = {v["space"]: v for v in map(json.loads, out.splitlines())}
    assert set(verdicts) == {"alice/one", "alice/two", "alice/broken"}
    assert verdicts["alice/broken"]["result"] == "failed"
    assert verdicts["alice/broken"]["error_message"] == "Build failed with exit code: 1"
    assert verdicts["alice/one"]["result"] == verdicts["alice/two"]["result"] == "running"
    assert out.splitlines()[0].startswith('{"space":"alice/broken"')  # each line as its Space settles
    for space in ("alice/one", "alice/two", "alice/broken"):
        hub.world.restart("alice", space)
    code, out, err = await run(hub, capsys, "wait", "alice/one", "alice/broken", "alice/two")
    assert code == 1
    assert sorted(line.split(":")[0] for line in out.splitlines()) == ["alice/one", "alice/two"]
    assert "alice/broken failed: BUILD_ERROR" in err


async def test_the_worst_outcome_is_the_exit_code(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/one", build_seconds=3600)
    hub.world.restart("alice", "alice/one")
    # 600 Hub seconds (0.6 s here) for alice/two to be seen running; alice/one builds for an hour.
    argv = ("wait", "alice/two", "alice/one", "--timeout", "600", "--json", "-q")
    code, out, _ = await run(hub, capsys, *argv)
    assert code == 3  # a timeout over a success
    assert {v["space"]: v["result"] for v in map(json.loads, out.splitlines())} == {
        "alice/two": "running",
        "alice/one": "timeout",
    }
    code, out, err = await run(hub, capsys, "wait", "alice/two", "alice/nope", "-q")
    assert code == 4 and "alice/nope" in err  # not found: an access error
    assert "alice/nope: alice/nope" not in err  # the Space named once, not twice


async def test_wait_author_waits_for_every_space_of_it(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("bob/starting", start_seconds=5)
    code, out, _ = await run(hub, capsys, "wait", "--author", "bob", "--json", "-q")
    assert code == 0
    assert sorted(json.loads(line)["space"] for line in out.splitlines()) == ["bob/starting", "bob/tool"]


async def test_a_start_is_stalled_past_the_hubs_30_minutes_by_default(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("bob/starting", push_delay=0)
    hub.world.commit("bob/starting")  # builds, then starts for 45 minutes
    code, out, _ = await run(hub, capsys, "wait", "bob/starting", "--timeout", "2h", "--json", "-q")
    verdict = json.loads(out)
    assert code == 1 and verdict["result"] == "stalled"
    assert 1800 <= verdict["stalled_for"] < 2100


async def test_error_message_is_in_runtime_text_and_json(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.restart("alice", "alice/broken")
    await run(hub, capsys, "wait", "alice/broken", "-q")
    code, out, _ = await run(hub, capsys, "runtime", "alice/broken", "--json")
    assert code == 0 and json.loads(out)["error_message"] == "Build failed with exit code: 1"
    code, out, _ = await run(hub, capsys, "runtime", "alice/broken")
    assert "error message       Build failed with exit code: 1" in out
    code, out, _ = await run(hub, capsys, "runtime", "alice/one")
    assert "error message" not in out  # said only when the Hub says why


async def test_a_successful_revision_wait_names_the_sha(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/one", push_delay=5, build_seconds=10, start_seconds=2)
    sha = hub.world.commit("alice/one").sha
    code, out, _ = await run(hub, capsys, "wait", "alice/one", "--revision", sha, "--json", "-q")
    assert code == 0 and json.loads(out)["revision"] == sha
    sha = hub.world.commit("alice/one").sha
    code, out, _ = await run(hub, capsys, "wait", "alice/one", "--revision", sha, "-q")
    assert code == 0 and f"serving {sha}" in out


@pytest.mark.careless
async def test_wait_needs_a_space_or_an_author(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await run(aiospace_emulator, capsys, "wait")
    assert code == 2 and "--author" in err
    code, _, err = await run(aiospace_emulator, capsys, "wait", "alice/one", "not-a-space")
    assert code == 2 and "not-a-space" in err
    code, _, err = await run(aiospace_emulator, capsys, "wait", "--author", "nobody")
    assert code == 2 and "nobody" in err

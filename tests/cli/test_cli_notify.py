"""``aiospace watch`` notifications: ``--post`` and ``--exec`` for each transition, ``--on`` and
``--on-change`` filters, failures logged and counted, never stopping the watch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from yarl import URL

from aiospace.cli import app as cli
from aiospace.emulator import Emulator
from aiospace.engine.notify import safe_url

if TYPE_CHECKING:
    from conftest import Receiver

pytestmark = pytest.mark.aiospace_emulator(speed=400)

SPACES = ("alice/demo", "alice/gpu-app")


@pytest.fixture(autouse=True)
def rebuilding(aiospace_emulator: Emulator) -> None:
    """Both Spaces rebuild (a commit each): every watch sees a few transitions, then they settle."""
    for space in SPACES:
        aiospace_emulator.world.configure(space, build_seconds=60, start_seconds=20)
        aiospace_emulator.world.commit(space)


async def watch(
    hub: Emulator, capsys: pytest.CaptureFixture[str], *argv: str, spaces: tuple[str, ...] = SPACES
) -> tuple[int, list[dict[str, object]], str]:
    """``aiospace watch SPACES --json --until-settled ARGV...`` in-process: (exit code, JSON, stderr)."""
    code = await cli.amain(
        ["--endpoint", hub.url, "--token", "hf_alice", "watch", *spaces, "--json", "--until-settled", *argv],
        clock=hub.clock,
    )
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def per_space(events: list[dict[str, object]], space: str) -> list[dict[str, object]]:
    return [e for e in events if e["repo_id"] == space]


async def test_post_delivers_every_transition_once_in_order_per_space_through_5xx(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str], receiver: Receiver
) -> None:
    receiver.fail_first(503)  # every delivery's first attempt
    receiver.fail_next(3, 500)
    url = receiver.url + "?key=S3CRET"
    code, printed, err = await watch(aiospace_emulator, capsys, "--post", url, "-v")
    assert code == 0
    assert len(receiver.accepted) == len(printed)  # once each
    for space in SPACES:
        assert per_space(receiver.accepted, space) == per_space(printed, space)  # in order
        assert len(per_space(printed, space)) >= 2 and per_space(printed, space)[-1]["stage"] == "RUNNING"
    assert all("Authorization" not in headers for headers in receiver.headers)  # never the Hub token
    assert set(receiver.queries) == {"key=S3CRET"}
    assert "S3CRET" not in err and "hf_alice" not in err  # not even in the -v debug log
    assert URL(receiver.url).path not in err  # a webhook's path may be its secret (Slack's): never shown
    target = safe_url(receiver.url)
    assert f"aiospace watch: notifications to --post {target}: {len(printed)} delivered, 0 failed" in err


async def test_exec_gets_each_transition_as_json_on_stdin(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "got.jsonl"
    script = tmp_path / "hook.py"
    script.write_text(
        "import json, os, sys\n"
        "event = json.load(sys.stdin)\n"  # one JSON document
        "assert event['repo_id'] == os.environ['AIOSPACE_SPACE']\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps(event) + '\\n')\n"
    )
    code, printed, err = await watch(aiospace_emulator, capsys, "--exec", f"{sys.executable} {script}")
    assert code == 0, err
    got = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(got, key=json.dumps) == sorted(printed, key=json.dumps)
    for space in SPACES:
        assert per_space(got, space) == per_space(printed, space)
    assert f"{len(printed)} delivered, 0 failed" in err


async def test_a_failing_command_is_logged_and_counted_and_the_watch_goes_on(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = "sh -c 'echo cannot reach the pager >&2; exit 7' --password=hunter2"
    code, printed, err = await watch(aiospace_emulator, capsys, "--exec", failing)
    assert code == 0
    assert per_space(printed, "alice/demo")[-1]["stage"] == "RUNNING"  # the watch went on to the end
    failures = [line for line in err.splitlines() if "failed: command 'sh': exited with 7" in line]
    assert len(failures) == len(printed)
    assert all("cannot reach the pager" in line for line in failures)
    assert "hunter2" not in err
    assert f"notifications to --exec command 'sh': 0 delivered, {len(printed)} failed" in err


async def test_a_command_past_the_notify_timeout_is_killed_and_counted(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed, err = await watch(
        aiospace_emulator, capsys, "--exec", "sleep 30", "--notify-timeout", "0.2", "--on", "RUNNING"
    )
    assert code == 0 and printed
    assert "killed after 0.2s" in err
    assert f"0 delivered, {len(printed)} failed" in err


async def test_filters_pick_what_is_printed_and_posted(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str], receiver: Receiver
) -> None:
    # A build long enough (1 s real) that the watch sees it under any load: a Space seen
    # first when already RUNNING again shows no stage change, and the filter drops it.
    for space in SPACES:
        aiospace_emulator.world.configure(space, build_seconds=400)
    code, printed, _ = await watch(
        aiospace_emulator, capsys, "--on", "running", "--on-change", "stage", "--post", receiver.url
    )
    assert code == 0
    assert sorted((e["repo_id"], e["stage"]) for e in printed) == [(s, "RUNNING") for s in sorted(SPACES)]
    assert sorted(receiver.accepted, key=json.dumps) == sorted(printed, key=json.dumps)
    assert all("stage" in e["changes"] for e in printed)  # the first observation is no change


async def test_stalled_is_accepted_as_a_change(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed, _ = await watch(aiospace_emulator, capsys, "--on-change", "stalled,converged")
    assert code == 0 and printed == []  # nothing stalled, nothing converged (no hardware change)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--on", "RUNING"], "'RUNING' is not a known stage"),
        (["--on-change", "stages"], "'stages' is not one of initial, stage, hardware, requested_hardware"),
        (["--post", "ftp://host/hook?k=S3CRET"], "'ftp://host/...' is not an http(s) URL"),
        (["--exec", "  "], "invalid command: empty"),
    ],
)
async def test_bad_notification_options_are_usage_errors_before_any_request(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    aiospace_emulator.world.reset_stats()
    code, _, err = await watch(aiospace_emulator, capsys, *argv)
    assert code == 2 and message in err and "S3CRET" not in err
    assert aiospace_emulator.world.stats_json()["requests"] == 0

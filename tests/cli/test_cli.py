"""The ``aiospace`` command line, against the in-process Hub emulator.

Commands run in-process through :func:`aiospace.cli.app.amain` with the emulator's clock
(the ``--hub-speed`` equivalent), so every poll interval and timeout runs at the
emulator's speed; the demo and Ctrl-C run once as real subprocesses.

The cases marked ``hostile`` run against :class:`hostile_hub.HostileHub` instead: an answer the
command can't read is one line on stderr and exit code 5, and the token, from any source, never
shows. Those marked ``careless`` are odd environments (an unusable token file, a token with a
newline): exit code 2 and one line, never a traceback, never the token.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import logging
import os
import pkgutil
import signal
import socket
import sys
from pathlib import Path

import pytest
from hostile_hub import BASE, REPO, TOKEN, HostileHub, deep_json

from aiospace import Transition
from aiospace.cli import app as cli
from aiospace.cli import commands
from aiospace.cli.app import amain
from aiospace.cli.command import Command
from aiospace.cli.render.answers import format_duration
from aiospace.cli.util import Redactor, parse_duration, parse_sleep_time
from aiospace.emulator import Emulator
from aiospace.models import SpaceRuntime, SpaceStage

pytestmark = pytest.mark.aiospace_emulator(speed=400)

SECRET = "s3cr3t-VALUE-never-shown-42"
TRANSITION_KEYS = set(
    Transition("a/b", None, SpaceRuntime(stage=SpaceStage.RUNNING), frozenset(), 0.0).to_json()
)
COMMANDS = [
    "demo",
    "wait",
    "watch",
    "runtime",
    "pause",
    "restart",
    "hardware",
    "sleep-time",
    "dev-mode",
    "secrets",
    "variables",
    "storage",
    "duplicate",
    "hardware-list",
    "logs",
    "lease",
    "emulator",
    "create",
    "delete",
    "volumes",
    "zero-gpu-quota",
]


async def run(
    hub: Emulator, capsys: pytest.CaptureFixture[str], *argv: str, token: str = "hf_alice"
) -> tuple[int, str, str]:
    """Run ``aiospace --endpoint URL --token T ARGV...`` in-process; return (exit code, stdout, stderr)."""
    code = await cli.amain(["--endpoint", hub.url, "--token", token, *argv], clock=hub.clock)
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# ---------------------------------------------------------------------- parsing, help


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out
    assert f"aiospace {command}" in out.split("example:")[1]


def test_top_level_help_lists_every_command_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("aiospace ")


def test_wait_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["wait", "--help"])
    out = capsys.readouterr().out
    for code in ("0", "1", "2", "3", "4", "5"):
        assert f"\n  {code}  " in out


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1h", 3600.0), ("1.5h", 5400.0), ("1h30m", 5400.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "10x", "-5", "1h30", "m"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(["wait", "a/b", "--timeout", text])
    assert info.value.code == 2


def test_sleep_time_and_duration_formats() -> None:
    assert (parse_sleep_time("never"), parse_sleep_time("-1"), parse_sleep_time("1h")) == (-1, -1, 3600)
    assert (format_duration(4.25), format_duration(185), format_duration(3720)) == ("4.2s", "3m05s", "1h02m")


def test_every_command_declared_is_on_the_command_line() -> None:
    declared = set()
    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        declared |= {value for value in vars(module).values() if isinstance(value, Command)}
    assert declared == set(commands.COMMANDS)
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "wait" in a.choices)
    assert isinstance(subparsers.choices, dict)
    assert list(subparsers.choices) == [command.name for command in commands.COMMANDS]


def test_global_options_work_before_and_after_the_command() -> None:
    parser = cli.build_parser()
    before = parser.parse_args(["--endpoint", "http://x", "-v", "runtime", "a/b"])
    after = parser.parse_args(["runtime", "a/b", "--endpoint", "http://x", "-v", "--hub-speed", "20"])
    assert (before.endpoint, before.verbose, before.hub_speed) == ("http://x", True, None)
    assert (after.endpoint, after.verbose, after.hub_speed) == ("http://x", True, 20.0)


def test_redactor_masks_every_registered_value() -> None:
    redactor = Redactor()
    redactor.add("hf_token")
    redactor.add(None)
    record = logging.LogRecord("aiospace", logging.DEBUG, "x", 1, "sent %s and %s", ("hf_token", "ok"), None)
    redactor.filter(record)
    assert record.getMessage() == "sent *** and ok"


# ---------------------------------------------------------------------- usage and access errors


async def test_usage_errors_exit_2(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    code, _, err = await run(hub, capsys, "runtime", "not-a-repo")
    assert code == 2
    assert "not-a-repo" in err and "Traceback" not in err
    code, _, err = await run(hub, capsys, "hardware", "alice/demo", "T4 SMALL!")
    assert code == 2 and "FLAVOR" in err
    code, _, err = await run(hub, capsys, "storage", "alice/demo")
    assert code == 2 and "--delete" in err
    code, _, err = await run(hub, capsys, "variables", "add", "alice/demo", "K")
    assert code == 2 and "VALUE" in err
    code, _, _ = await run(hub, capsys, "wait", "alice/demo", "--timeout", "soon")
    assert code == 2
    assert await cli.amain(["--endpoint", "ftp://nope", "runtime", "a/b"]) == 2
    assert "endpoint" in capsys.readouterr().err


async def test_access_errors_exit_4_with_one_clear_line(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, out, err = await run(hub, capsys, "runtime", "alice/nope")
    assert (code, out) == (4, "")
    assert err.count("\n") == 1
    assert "alice/nope" in err and "not found" in err and "404" in err
    code, _, err = await run(hub, capsys, "runtime", "alice/demo", token="hf_revoked")
    assert code == 4 and "Invalid credentials" in err and "hf_revoked" not in err
    code, _, err = await run(hub, capsys, "pause", "alice/demo", token="hf_bob")
    assert code == 4 and "alice/demo" in err and "403" in err
    code, _, err = await run(hub, capsys, "runtime", "alice/private-app", token="hf_bob")
    assert code == 4  # hidden: a 404, never a 403


async def test_other_hub_errors_exit_5(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, _, err = await run(hub, capsys, "pause", "alice/static-site")
    assert code == 5 and "alice/static-site" in err and "400" in err
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = await cli.amain(
        ["--endpoint", f"http://127.0.0.1:{port}", "runtime", "alice/demo"], clock=hub.clock
    )
    err = capsys.readouterr().err
    assert code == 5 and "could not talk to the Hub" in err and "Traceback" not in err


async def test_verbose_logs_requests_but_never_the_token(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await run(aiospace_emulator, capsys, "-v", "runtime", "alice/nope")
    assert code == 4
    assert "GET /api/spaces/alice/nope/runtime -> 404" in err
    assert "Traceback" in err  # -v shows where an error came from
    assert "hf_alice" not in err
    assert not logging.getLogger("aiospace").handlers  # the handler is removed afterwards


# ---------------------------------------------------------------------- runtime and writes


async def test_runtime_text_and_json(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run(aiospace_emulator, capsys, "runtime", "alice/gpu-app")
    assert code == 0
    assert "stage               RUNNING" in out and "t4-small" in out
    code, out, _ = await run(aiospace_emulator, capsys, "runtime", "alice/gpu-app", "--json")
    data = json.loads(out)
    assert data == {
        "space": "alice/gpu-app",
        "stage": "RUNNING",
        "hardware": "t4-small",
        "requested_hardware": "t4-small",
        "converged": True,
        "sleep_time": None,
        "storage": None,
        "dev_mode": False,
        "replicas": {"requested": 1, "current": 1},
        "error_message": None,
    }


async def test_restart_wait_reports_progress_and_verdict(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run(aiospace_emulator, capsys, "restart", "alice/demo", "--wait")
    assert code == 0
    assert "restart requested; waiting" in out
    assert out.strip().splitlines()[-1].startswith("alice/demo: RUNNING on cpu-basic (after ")
    assert "RUNNING_BUILDING" in err  # one progress line per stage when stderr is not a terminal
    reasons = [e.reason for e in aiospace_emulator.world.events_for("alice/demo")]
    assert "restart" in reasons


async def test_hardware_wait_json_converges(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await run(
        aiospace_emulator,
        capsys,
        "hardware",
        "alice/demo",
        "t4-small",
        "--sleep-time",
        "1h",
        "--wait",
        "--json",
        "-q",
    )
    assert code == 0
    verdict = json.loads(out)
    assert verdict["result"] == "running"
    assert (verdict["hardware"], verdict["requested_hardware"], verdict["sleep_time"]) == (
        "t4-small",
        "t4-small",
        3600,
    )
    assert isinstance(verdict["elapsed"], float) and verdict["elapsed"] > 0


async def test_wait_failure_prints_stage_and_log_tail(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/demo", fail_build=True)
    hub.world.restart("alice", "alice/demo")
    code, out, err = await run(hub, capsys, "wait", "alice/demo")
    assert (code, out) == (1, "")
    assert "alice/demo failed: BUILD_ERROR" in err
    assert "  | ERROR: failed to solve" in err
    hub.world.restart("alice", "alice/demo")
    code, out, _ = await run(hub, capsys, "wait", "alice/demo", "--json")
    verdict = json.loads(out)
    assert code == 1
    assert (verdict["result"], verdict["stage"]) == ("failed", "BUILD_ERROR")
    assert any("ERROR" in line for line in verdict["logs"])


async def test_wait_timeout_exits_3(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/demo", stuck=True)
    hub.world.restart("alice", "alice/demo")
    # 120 Hub seconds (0.3 s here): the message names the stage, so one poll must be answered.
    code, _, err = await run(hub, capsys, "wait", "alice/demo", "--timeout", "120s")
    assert code == 3
    assert "timed out after 2m00s waiting for alice/demo (still RUNNING_BUILDING)" in err
    code, out, _ = await run(hub, capsys, "wait", "alice/demo", "--timeout", "5", "--json")
    assert code == 3 and json.loads(out)["result"] == "timeout"


async def test_wait_on_a_missing_space_json(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run(aiospace_emulator, capsys, "wait", "alice/nope", "--json")
    assert code == 4
    assert json.loads(out)["result"] == "error"
    assert "alice/nope" in err


async def test_pause_sleep_time_dev_mode_storage(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, out, _ = await run(hub, capsys, "pause", "alice/gpu-app", "--json")
    assert code == 0 and json.loads(out)["stage"] == "PAUSED"
    code, out, _ = await run(hub, capsys, "sleep-time", "alice/gpu-app", "2h")
    assert code == 0 and "sleeps after 2h00m idle" in out
    assert hub.world.space("alice/gpu-app").sleep_time == 7200
    code, out, _ = await run(hub, capsys, "sleep-time", "alice/demo", "never")
    assert code == 0 and "ignored on free hardware" in out
    code, out, _ = await run(hub, capsys, "dev-mode", "alice/demo", "on", "--json")
    assert code == 0 and json.loads(out)["dev_mode"] is True
    code, out, _ = await run(hub, capsys, "storage", "alice/demo", "small")
    assert code == 0 and "small storage requested" in out
    code, out, _ = await run(hub, capsys, "storage", "alice/demo", "--delete", "--json")
    assert code == 0 and json.loads(out)["storage"] is None
    code, _, err = await run(hub, capsys, "storage", "alice/demo", "--delete")
    assert code == 5 and "alice/demo" in err


async def test_duplicate(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    code, out, _ = await run(hub, capsys, "duplicate", "bob/tool", "alice/tool", "--private", "--json")
    assert code == 0
    assert json.loads(out) == {"space": "alice/tool", "url": f"{hub.url}/spaces/alice/tool", "existed": False}
    assert hub.world.space("alice/tool").private is True
    code, _, err = await run(hub, capsys, "duplicate", "bob/tool", "alice/tool")
    assert code == 5 and "409" in err
    code, out, _ = await run(hub, capsys, "duplicate", "bob/tool", "alice/tool", "--exist-ok")
    assert code == 0 and "alice/tool" in out
    code, _, err = await run(hub, capsys, "duplicate", "alice/demo")
    assert code == 5 and "alice/demo" in err  # to the caller's own namespace: alice/demo exists


async def test_duplicate_and_wait(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run(
        aiospace_emulator,
        capsys,
        "duplicate",
        "bob/tool",
        "alice/copy",
        "--hardware",
        "cpu-upgrade",
        "--wait",
        "--json",
    )
    assert code == 0
    verdict = json.loads(out)
    assert (verdict["space"], verdict["result"], verdict["hardware"]) == (
        "alice/copy",
        "running",
        "cpu-upgrade",
    )


async def test_hardware_list(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run(aiospace_emulator, capsys, "hardware-list", "--json")
    catalogue = {entry["name"]: entry for entry in json.loads(out)}
    assert code == 0
    assert catalogue["t4-small"]["cost_per_hour_usd"] == pytest.approx(0.40, abs=0.01)
    assert catalogue["t4-small"]["accelerator"]["model"] == "T4"
    assert catalogue["cpu-basic"]["accelerator"] is None
    code, out, _ = await run(aiospace_emulator, capsys, "hardware-list")
    assert "PER HOUR" in out and "$0.40" in out and "free" in out


async def test_logs(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    code, out, _ = await run(hub, capsys, "logs", "alice/demo")
    assert code == 0 and "Running on local URL" in out
    hub.world.restart("alice", "alice/demo")
    # Following a build log ends when the build does.
    code, out, _ = await run(hub, capsys, "logs", "alice/demo", "--build", "-f")
    assert code == 0
    assert out.strip().splitlines()[-1] != ""
    assert hub.world.space("alice/demo").stage != SpaceStage.RUNNING_BUILDING
    code, _, err = await run(hub, capsys, "logs", "alice/nope")
    assert code == 4 and "alice/nope" in err


async def test_variables(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    code, out, _ = await run(
        hub, capsys, "variables", "add", "alice/demo", "MODEL", "gpt2", "--description", "m"
    )
    assert code == 0 and "variable MODEL set" in out
    code, out, _ = await run(hub, capsys, "variables", "ls", "alice/demo", "--json")
    [variable] = json.loads(out)
    assert {k: variable[k] for k in ("key", "value", "description")} == {
        "key": "MODEL",
        "value": "gpt2",
        "description": "m",
    }
    code, out, _ = await run(hub, capsys, "variables", "ls", "alice/demo")
    assert "MODEL  gpt2" in out
    code, out, _ = await run(hub, capsys, "variables", "rm", "alice/demo", "MODEL", "--json")
    assert (code, json.loads(out)) == (0, [])


# ---------------------------------------------------------------------- secrets


async def test_secret_from_stdin_never_shown(
    aiospace_emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = aiospace_emulator
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    with caplog.at_level(logging.DEBUG):
        code, out, err = await run(
            hub,
            capsys,
            "-v",
            "secrets",
            "add",
            "alice/demo",
            "API_KEY",
            "--value-stdin",
            "--description",
            "d",
        )
    assert code == 0 and "secret API_KEY set" in out
    assert "POST /api/spaces/alice/demo/secrets -> 200" in err
    stored = hub.world.space("alice/demo").secrets["API_KEY"]
    assert stored.value == SECRET  # the trailing newline is dropped
    code, listed, _ = await run(hub, capsys, "-v", "secrets", "ls", "alice/demo", "--json")
    assert code == 0 and json.loads(listed) == [
        {"key": "API_KEY", "description": "d", "updated_at": json.loads(listed)[0]["updated_at"]}
    ]
    everything = out + err + listed + caplog.text
    assert SECRET not in everything and "hf_alice" not in everything
    code, out, _ = await run(hub, capsys, "secrets", "rm", "alice/demo", "API_KEY")
    assert code == 0 and "API_KEY" not in hub.world.space("alice/demo").secrets


async def test_secret_from_file_and_prompt(
    aiospace_emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    hub = aiospace_emulator
    path = tmp_path / "value"
    path.write_text(SECRET + "\n")
    code, out, err = await run(
        hub, capsys, "secrets", "add", "alice/demo", "FROM_FILE", "--value-file", str(path)
    )
    assert code == 0 and SECRET not in out + err
    assert hub.world.space("alice/demo").secrets["FROM_FILE"].value == SECRET

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or "typed-" + SECRET)
    code, out, err = await run(hub, capsys, "secrets", "add", "alice/demo", "TYPED")
    assert code == 0 and prompts == ["value of TYPED (not echoed): "]
    assert hub.world.space("alice/demo").secrets["TYPED"].value == "typed-" + SECRET
    assert SECRET not in out + err


async def test_secret_value_is_never_taken_from_argv(
    aiospace_emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    hub = aiospace_emulator
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET))
    code, _, err = await run(hub, capsys, "secrets", "add", "alice/demo", "K")  # stdin is not a terminal
    assert code == 2 and "--value-stdin" in err
    code, _, _ = await run(hub, capsys, "secrets", "add", "alice/demo", "K", SECRET)
    assert code == 2  # no VALUE positional at all
    code, _, err = await run(
        hub, capsys, "secrets", "add", "alice/demo", "K", "--value-file", str(tmp_path / "none")
    )
    assert code == 2 and "value-file" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    code, _, err = await run(hub, capsys, "secrets", "add", "alice/demo", "K", "--value-stdin")
    assert code == 2 and "empty" in err
    assert "K" not in hub.world.space("alice/demo").secrets


# ---------------------------------------------------------------------- watch


async def test_watch_json_lines_until_settled(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.request_hardware("alice", "alice/demo", "t4-small")
    code, out, _ = await run(hub, capsys, "watch", "alice/demo", "--until-settled", "--timeout", "10m")
    events = json_lines(out)
    assert code == 0
    assert all(set(event) == TRANSITION_KEYS for event in events)
    assert events[0]["changes"] == ["initial"]
    assert (events[0]["stage"], events[0]["hardware"], events[0]["requested_hardware"]) == (
        "RUNNING_BUILDING",
        "cpu-basic",
        "t4-small",
    )
    assert events[-1]["stage"] == "RUNNING" and events[-1]["hardware"] == "t4-small"
    assert "converged" in events[-1]["changes"]  # type: ignore[operator]
    assert ["converged" in e["changes"] for e in events] == [False] * (len(events) - 1) + [True]  # type: ignore[operator]


async def test_watch_author_table_and_max_events(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await run(
        aiospace_emulator, capsys, "watch", "--author", "alice", "--json", "--max-events", "4"
    )
    spaces = {event["repo_id"] for event in json_lines(out)}
    assert code == 0
    assert spaces == {"alice/demo", "alice/gpu-app", "alice/static-site", "alice/private-app"}
    code, out, _ = await run(aiospace_emulator, capsys, "watch", "bob/tool", "--table", "--max-events", "1")
    header, row = out.strip().splitlines()
    assert header.split() == ["time", "space", "stage", "hardware", "requested", "changes"]
    assert row.split()[1:] == ["bob/tool", "RUNNING", "cpu-basic", "cpu-basic", "initial"]


async def test_watch_timeout_and_missing_space(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    # Ends once both are known (the --timeout is a net): 60 Hub seconds were 0.15 s here,
    # short of both first polls on a loaded machine.
    argv = ("watch", "alice/demo", "alice/nope", "--until-settled", "--timeout", "1h")
    code, out, err = await run(hub, capsys, *argv)
    assert code == 4  # one Space could not be watched; the other one was
    assert [e["repo_id"] for e in json_lines(out)] == ["alice/demo"]
    assert "stopped watching: alice/nope" in err
    code, _, err = await run(hub, capsys, "watch", "alice/nope")
    assert code == 4  # nothing left to watch: it ends
    code, out, _ = await run(hub, capsys, "watch", "--author", "nobody", "--timeout", "30")
    assert code == 0 and out == ""  # followed: nothing yet, and its timeout ends it
    code, _, err = await run(hub, capsys, "watch")
    assert code == 2 and "nothing to watch" in err


async def test_watch_until_settled_ends_when_the_unsettled_space_leaves(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    # alice/nope's 404 comes after alice/demo's RUNNING: the watch used to wait on for a
    # transition of alice/demo (settled: none came) until its timeout.
    hub.world.add_fault("latency", route="get_space_runtime", space="alice/nope", latency=30)
    argv = ("watch", "alice/demo", "alice/nope", "--until-settled")
    code, out, err = await asyncio.wait_for(run(hub, capsys, *argv), 20)
    assert code == 4
    assert [e["repo_id"] for e in json_lines(out)] == ["alice/demo"]
    assert "stopped watching: alice/nope" in err


async def test_watch_stops_on_ctrl_c_with_130(aiospace_emulator: Emulator) -> None:
    env = {**os.environ, "HF_ENDPOINT": aiospace_emulator.url, "HF_TOKEN": "hf_alice"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiospace.cli",
        "--hub-speed",
        "400",
        "watch",
        "alice/demo",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), 20)
    assert json.loads(first)["repo_id"] == "alice/demo"
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 130
    assert b"interrupted" in err and b"Traceback" not in err


# ---------------------------------------------------------------------- demo


async def test_demo_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    code = await cli.amain(["demo", "--speed", "100", "--hardware", "t4-medium"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert any(
        line.split()[2:5] == ["RUNNING", "t4-medium", "t4-medium"] for line in lines if line[:1] == " "
    )
    assert "Summary:" in out and "requests sent:" in out and "t4-medium -> converged:" in out


def test_demo_as_a_subprocess() -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "aiospace.cli", "demo", "--speed", "60"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "RUNNING_BUILDING" in result.stdout
    assert "converged" in result.stdout
    assert "restart -> RUNNING:" in result.stdout and "Hub s" in result.stdout


def _screen(text: str) -> list[str]:
    """What a terminal shows after ``text``: just enough ANSI (cursor up N lines, clear line)."""
    import re

    lines: list[str] = [""]
    row = 0
    for token in re.findall(r"\x1b\[(\d+)F|\x1b\[2K|(\n)|([^\x1b\n]+)", text):
        up, newline, chars = token
        if up:
            row = max(0, row - int(up))
        elif newline:
            row += 1
            if row == len(lines):
                lines.append("")
        elif chars:
            lines[row] = chars
        else:  # clear line
            lines[row] = ""
    return [line for line in lines if line]


def test_live_table_redraws_one_row_per_space_in_place() -> None:
    import io

    from aiospace import SpaceRuntime, SpaceStage
    from aiospace.cli.render.watch import LiveTable
    from aiospace.engine.transitions import Transition, detect_changes

    def transition(space: str, stage: str, at: float, previous: SpaceRuntime | None = None) -> Transition:
        current = SpaceRuntime(stage=SpaceStage(stage))
        return Transition(space, previous, current, detect_changes(previous, current), at)

    out = io.StringIO()
    table = LiveTable(0.0, out, height=20)
    for i, space in enumerate(["a/one", "a/two", "b/three"]):
        table.update(transition(space, "RUNNING", float(i)))
    table.update(transition("a/two", "RUNNING_BUILDING", 5.0, SpaceRuntime(stage=SpaceStage.RUNNING)))
    screen = _screen(out.getvalue())
    assert len(screen) == 4, screen  # the header and one row per Space, redrawn in place
    assert screen[0].split()[:3] == ["time", "space", "stage"]
    rows = {line.split()[1]: line.split()[2] for line in screen[1:]}
    assert rows == {"a/one": "RUNNING", "a/two": "RUNNING_BUILDING", "b/three": "RUNNING"}

    small = io.StringIO()
    short = LiveTable(0.0, small, height=3)
    for i, space in enumerate(["a/one", "a/two", "b/three"]):
        short.update(transition(space, "RUNNING", float(i)))
    screen = _screen(small.getvalue())
    assert screen[1].split()[1] == "b/three", "the most recently changed Space is shown"
    assert screen[-1] == "(2 more Spaces not shown)"


# ---------------------------------------------------------------------- create, delete, volumes, ZeroGPU


class Terminal(io.StringIO):
    """Typed answers on a terminal."""

    def isatty(self) -> bool:
        return True


async def test_create_and_wait(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    code, out, err = await run(
        hub,
        capsys,
        "create",
        "alice/new",
        "--sdk",
        "gradio",
        "--hardware",
        "t4-small",
        "--private",
        "--volume",
        "model:alice/model@v2:/models",
        "--wait",
        "-q",
    )
    assert code == 0, err
    assert f"alice/new created: {hub.url}/spaces/alice/new" in out
    assert "RUNNING on t4-small" in out
    space = hub.world.space("alice/new")
    assert space.visibility == "private" and space.volumes[0].revision == "v2"
    code, out, _ = await run(hub, capsys, "create", "alice/site", "--sdk", "static", "--protected", "--json")
    assert code == 0
    assert json.loads(out) == {"space": "alice/site", "url": f"{hub.url}/spaces/alice/site"}
    assert hub.world.space("alice/site").visibility == "protected"
    code, out, _ = await run(hub, capsys, "create", "alice/site", "--sdk", "static", "--wait", "--json")
    assert code == 5  # it exists: a 409
    code, out, _ = await run(
        hub, capsys, "create", "alice/site", "--sdk", "static", "--exist-ok", "--wait", "--json"
    )
    assert code == 0 and json_lines(out)[-1]["result"] == "running"


async def test_create_refusals(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    hub.world.reset_stats()
    for argv in (
        ["create", "alice/x"],  # no --sdk
        ["create", "alice/x", "--sdk", "flask"],
        ["create", "alice/x", "--sdk", "gradio", "--private", "--protected"],
        ["create", "alice/x", "--sdk", "gradio", "--volume", "model:a/b"],
        ["create", "alice/x", "--sdk", "gradio", "--volume", "weights:a/b:/w"],
        ["create", "alice/x", "--sdk", "gradio", "--volume", "model:a/b:relative"],
        ["create", "not-a-repo", "--sdk", "gradio"],
    ):
        code, _, err = await run(hub, capsys, *argv)
        assert code == 2, (argv, err)
    assert hub.world.stats_json()["requests"] == 0  # refused before any request
    code, _, err = await run(hub, capsys, "create", "bob/mine", "--sdk", "gradio")
    assert code == 4 and "bob/mine" in err


async def test_delete_asks_on_a_terminal(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = aiospace_emulator
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = await run(hub, capsys, "delete", "alice/demo")
    assert code == 2 and "--yes" in err
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    code, _, err = await run(hub, capsys, "delete", "alice/demo")
    assert code == 2 and "[y/N]" in err and "not deleted" in err
    assert "alice/demo" in hub.world.spaces
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    code, out, _ = await run(hub, capsys, "delete", "alice/demo")
    assert code == 0 and out == "alice/demo deleted\n"
    assert "alice/demo" not in hub.world.spaces
    code, _, err = await run(hub, capsys, "delete", "alice/demo", "--yes")
    assert code == 4 and "not found" in err.lower()
    code, out, _ = await run(hub, capsys, "delete", "alice/demo", "--yes", "--missing-ok", "--json")
    assert code == 0 and json.loads(out) == {"space": "alice/demo", "deleted": True}
    code, _, _ = await run(hub, capsys, "delete", "bob/tool", "-y")
    assert code == 4 and "bob/tool" in hub.world.spaces


async def test_volumes_set_ls_rm(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    code, out, err = await run(
        hub, capsys, "volumes", "set", "alice/demo", "model:alice/model:/models", "bucket:alice/data:/data:rw"
    )
    assert code == 0, err
    assert out == "alice/demo: 2 volumes set (the Space rebuilds)\n"
    code, out, _ = await run(hub, capsys, "volumes", "ls", "alice/demo")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["TYPE", "SOURCE", "MOUNT", "ACCESS", "REVISION", "PATH"]
    assert lines[1].split() == ["model", "alice/model", "/models", "ro"]
    assert lines[2].split() == ["bucket", "alice/data", "/data", "rw"]
    code, out, _ = await run(hub, capsys, "volumes", "ls", "alice/demo", "--json")
    assert [v["mount_path"] for v in json.loads(out)] == ["/models", "/data"]
    code, out, _ = await run(hub, capsys, "volumes", "rm", "alice/demo")
    assert code == 0 and "removed" in out
    code, out, _ = await run(hub, capsys, "volumes", "ls", "alice/demo")
    assert out == "alice/demo has no volumes\n"
    code, _, err = await run(hub, capsys, "volumes", "rm", "alice/demo")
    assert code == 5 and "no volumes" in err
    code, _, err = await run(hub, capsys, "volumes", "set", "alice/static-site", "model:a/b:/m")
    assert code == 5 and "static" in err
    code, _, _ = await run(hub, capsys, "volumes", "set", "bob/tool", "model:a/b:/m")
    assert code == 4
    for argv in (
        ["volumes", "set", "alice/demo"],
        ["volumes", "set", "alice/demo", "model:a/b:m"],
        ["volumes", "set", "alice/demo", "model:a/b:/m:rx"],
        ["volumes", "set", "alice/demo", "bucket:a/b@main:/m"],
        ["volumes", "ls", "alice/demo", "model:a/b:/m"],
        ["volumes", "rm", "alice/demo", "model:a/b:/m"],
        ["volumes", "mount", "alice/demo"],
    ):
        code, _, err = await run(hub, capsys, *argv)
        assert code == 2, (argv, err)
    code, out, _ = await run(
        hub, capsys, "volumes", "set", "alice/demo", "dataset:bob/set@v1:/set:ro", "--json"
    )
    assert json.loads(out)["volumes"][0] == {
        "type": "dataset",
        "source": "bob/set",
        "mount_path": "/set",
        "revision": "v1",
        "read_only": True,
        "path": None,
    }


async def test_zero_gpu_quota(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    hub.world.set_zero_gpu_quota("alice", base=1500, use=90)
    code, out, _ = await run(hub, capsys, "zero-gpu-quota")
    assert code == 0
    assert "1410 of 1500 GPU-seconds (23m30s)" in out
    assert "resets at" in out and "overquota used  0 GPU-seconds" in out
    code, out, _ = await run(hub, capsys, "zero-gpu-quota", "--json")
    data = json.loads(out)
    assert (data["base"], data["remaining"], data["overquota_used"]) == (1500, 1410, 0)
    assert data["resets_at"].startswith(str(hub.world.wall().year))
    code = await cli.amain(["--endpoint", hub.url, "--token", "", "zero-gpu-quota"], clock=hub.clock)
    _, err = capsys.readouterr()
    assert code == 4 and "token" in err


# -------------------------------------------------------- a hostile Hub: one line and exit 5, never the token


@pytest.mark.hostile
@pytest.mark.parametrize(
    "body",
    [
        b'{"stage": "RUNNING", "gcTimeout": 1e999}',
        b'{"stage": "RUNNING", "domains": ' + deep_json(100_000) + b"}",
        b'{"stage": ["RUNNING"]}',
        b"<html>a proxy page</html>",
    ],
    ids=["1e999", "deep", "shape", "not-json"],
)
async def test_an_unreadable_answer_is_one_line_and_exit_5(
    hostile: HostileHub, capsys: pytest.CaptureFixture[str], body: bytes
) -> None:
    hostile.play("GET", f"{BASE}/runtime", HostileHub.raw_body(body, headers={"X-Request-Id": "req-9"}))
    # Hub time at 1,000x: the retries of garbled bytes (a read retries them) take no time.
    options = ["--endpoint", hostile.url, "--token", TOKEN, "--hub-speed", "1000"]
    code = await amain([*options, "runtime", "user/app"])
    err = capsys.readouterr().err
    assert code == 5
    note, error = err.splitlines()  # --hub-speed's note about Hub time, then the error line
    assert "Hub time" in note and "Traceback" not in err
    assert error.startswith("aiospace runtime: user/app: the Hub's answer to GET")
    assert "could not be read" in err and "[200]" in err and "req-9" in err


@pytest.mark.hostile
@pytest.mark.parametrize("source", ["HF_TOKEN", "token-file", "--token"])
async def test_the_token_from_any_source_never_shows(
    hostile: HostileHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    source: str,
) -> None:
    # A Space that prints its environment: its log holds the token; so does a variable.
    env_line = b'data: {"data": "HF_TOKEN=' + TOKEN.encode() + b'"}\n\n'
    hostile.play("GET", f"{BASE}/logs/run", HostileHub.sse(env_line))
    hostile.play("GET", f"{BASE}/variables", HostileHub.json({"LEAK": {"value": TOKEN}}))
    options = ["--endpoint", hostile.url, "-v"]
    if source == "HF_TOKEN":
        monkeypatch.setenv("HF_TOKEN", TOKEN)
    elif source == "token-file":
        token_file = Path(os.environ["HF_HOME"]) / "token"  # HF_HOME: a fresh folder per test (conftest)
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(TOKEN + "\n")
    else:
        options += ["--token", TOKEN]
    codes = [
        await amain([*options, "logs", "user/app"]),
        await amain([*options, "variables", "ls", "user/app"]),
        await amain([*options, "variables", "ls", "user/app", "--json"]),
    ]
    out, err = capsys.readouterr()
    assert codes == [0, 0, 0]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in hostile.requests)  # it was used
    assert "HF_TOKEN=***" in out and "LEAK" in out
    assert TOKEN not in out and TOKEN not in err


@pytest.mark.hostile
async def test_an_ascii_terminal_gets_escapes_not_a_traceback(hostile: HostileHub) -> None:
    hostile.play("GET", f"{BASE}/logs/run", HostileHub.sse('data: {"data": "café ☕ ok"}\n\n'.encode()))
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "HF_TOKEN": TOKEN, "HF_ENDPOINT": hostile.url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aiospace.cli", "logs", "user/app",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert (process.returncode, err) == (0, b"")
    assert out == b"caf\\xe9 \\u2615 ok\n"


@pytest.mark.hostile
async def test_a_failing_hub_is_said_once_and_so_is_its_return(
    hostile: HostileHub, capsys: pytest.CaptureFixture[str]
) -> None:
    running = {"stage": "RUNNING", "hardware": {"current": "cpu-basic", "requested": "cpu-basic"}}
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json({"error": "busy"}, 503), times=6)
    hostile.play("GET", f"{BASE}/runtime", HostileHub.json(running))
    options = ["--endpoint", hostile.url, "--token", TOKEN, "--hub-speed", "1000"]
    code = await amain([*options, "wait", "user/app", "--timeout", "10m"])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("user/app: RUNNING")
    failing = f"aiospace wait: the Hub at {hostile.url} is failing (status 503, 3 times in a row); retrying"
    assert err.count(failing) == 1
    assert err.count(f"aiospace wait: the Hub at {hostile.url} answers again") == 1
    assert err.index(failing) < err.index("answers again")


@pytest.mark.hostile
async def test_the_cli_with_a_one_letter_secret_still_reads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from aiospace.cli.app import amain

    token = "hf_CliShortSecretTokenNeverShown1"
    value_file = tmp_path / "value"
    value_file.write_text("a\n")
    seed = {"users": {"alice": token}, "spaces": [{"id": "alice/app"}]}
    async with Emulator(speed=200, seed=seed) as hub:
        common = ["--endpoint", hub.url, "--token", token, "-v"]
        codes = [
            await amain([*common, "secrets", "add", "alice/app", "KEY", "--value-file", str(value_file)]),
            await amain([*common, "secrets", "add", "bob/app", "KEY", "--value-file", str(value_file)]),
        ]
        assert hub.world.space("alice/app").secrets["KEY"].value == "a"
    out, err = capsys.readouterr()
    assert codes == [0, 4]
    # Masking every "a" would protect nothing and hide the words: they read as they are.
    assert "alice/app: secret KEY set" in out
    assert "bob/app: Repository not found" in err
    assert token not in out + err


@pytest.mark.hostile
async def test_the_cli_masks_a_one_letter_secret_standing_alone(
    hostile: HostileHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from aiospace.cli.app import amain

    value_file = tmp_path / "value"
    value_file.write_text("a\n")
    hostile.play("POST", f"{BASE}/secrets", HostileHub.json({"error": "the value a is refused"}, 400))
    options = ["--endpoint", hostile.url, "--token", TOKEN, "-v"]
    code = await amain([*options, "secrets", "add", REPO, "KEY", "--value-file", str(value_file)])
    err = capsys.readouterr().err
    assert code == 5 and "the value <redacted> is refused" in err


# --------------------------------------------------------------- a careless caller: exit 2, never a traceback


@pytest.mark.careless
@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary", b"hf_one\nhf_two", "hf_\u00e9t\u00e9".encode()])
async def test_an_unusable_token_file_is_exit_2_not_a_traceback(
    aiospace_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    (tmp_path / "token").write_bytes(content)
    # A binary token file was a UnicodeDecodeError traceback; a newline inside one, a
    # ValueError from aiohttp at the first request.
    code = await amain(["--endpoint", aiospace_emulator.url, "runtime", "alice/demo"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1 and "token file" in err and "Traceback" not in err
    assert "hf_one" not in err and "binary" not in err


@pytest.mark.careless
async def test_a_token_with_a_newline_in_hf_token_is_exit_2(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_alpha\nhf_beta")
    code = await amain(["--endpoint", aiospace_emulator.url, "-v", "runtime", "alice/demo"])
    err = capsys.readouterr().err
    assert code == 2
    assert "HF_TOKEN" in err and "hf_alpha" not in err and "hf_beta" not in err

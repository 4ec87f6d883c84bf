"""The command line as a person meets it: each friction of a first use, and what it says now.

Pipes and signals run ``aiospace`` as a real subprocess (``python -m aiospace.cli``)
against the in-process emulator; everything else runs in-process through
:func:`aiospace.cli.app.amain` with the emulator's clock.
"""

from __future__ import annotations

import asyncio
import builtins
import io
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from aiospace import BadRequestError, SpaceClient
from aiospace.cli import app as cli
from aiospace.cli.app import amain
from aiospace.cli.util import is_broken_pipe
from aiospace.emulator import Emulator

pytestmark = pytest.mark.aiospace_emulator(speed=400)

SECRET = "s3cr3t-VALUE-typed-on-argv-77"
DURATION = r"(\d+\.\ds|\d+m\d\ds|\d+h\d\dm)"


async def run(
    hub: Emulator, capsys: pytest.CaptureFixture[str], *argv: str, token: str | None = "hf_alice"
) -> tuple[int, str, str]:
    """Run ``aiospace --endpoint URL [--token T] ARGV...`` in-process; return (exit code, stdout, stderr)."""
    auth = ["--token", token] if token else []
    code = await cli.amain(["--endpoint", hub.url, *auth, *argv], clock=hub.clock)
    out, err = capsys.readouterr()
    return code, out, err


async def shell(hub: Emulator, command: str, timeout: float = 30) -> tuple[int, str, str]:
    """Run ``command`` in bash (``set -o pipefail``: the exit code is aiospace's) with ``$AIOSPACE``.

    Returns the exit code, stdout, and aiospace's stderr.
    """
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": "hf_alice",
        "AIOSPACE": f"{sys.executable} -m aiospace.cli",
    }
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        f"set -o pipefail; {command}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def no_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No token anywhere: not in the environment, not in $HF_HOME."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))


# ---------------------------------------------------------------------- a closed stdout


async def test_watch_piped_into_head_ends_quietly(aiospace_emulator: Emulator) -> None:
    # Nothing changes after the first lines: the reader going away has to end it by itself.
    code, out, err = await shell(aiospace_emulator, "$AIOSPACE watch --author alice --json | head -1")
    assert code == 0, err
    assert json.loads(out)["repo_id"].startswith("alice/")
    assert err == ""  # no traceback, no "Exception ignored" at exit


async def test_logs_piped_into_head_ends_quietly(aiospace_emulator: Emulator) -> None:
    code, out, err = await shell(aiospace_emulator, "$AIOSPACE logs alice/demo | head -2")
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == 2
    # Following: the stream stays open, and ends with its reader.
    code, out, err = await shell(aiospace_emulator, "$AIOSPACE logs alice/demo -f | head -1")
    assert (code, err) == (0, "")
    assert "Application Startup" in out


class ClosedPipe(io.StringIO):
    """A stdout whose reader is gone: every write is a broken pipe."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize(
    "argv",
    [
        ["logs", "alice/demo"],
        ["runtime", "alice/demo"],
        ["watch", "alice/demo", "alice/gpu-app", "--json"],  # printed inside the watcher's task group
    ],
)
async def test_a_broken_pipe_is_a_quiet_exit_0(
    aiospace_emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    code = await cli.amain(["--endpoint", aiospace_emulator.url, *argv], clock=aiospace_emulator.clock)
    assert code == 0
    assert capsys.readouterr().err == ""


def test_a_broken_pipe_is_recognised_inside_exception_groups() -> None:
    group = getattr(builtins, "BaseExceptionGroup", None)
    if group is None:  # pragma: no cover - Python 3.10
        pytest.skip("no built-in exception groups")
    pipe = BrokenPipeError(32, "Broken pipe")
    assert is_broken_pipe(pipe)
    assert is_broken_pipe(group("watch", [group("inner", [pipe]), BrokenPipeError()]))
    assert not is_broken_pipe(group("watch", [pipe, ValueError("a real error")]))
    assert not is_broken_pipe(ConnectionResetError()) and not is_broken_pipe(ValueError())


# ---------------------------------------------------------------------- flavors and tiers


async def test_a_mistyped_flavor_is_refused_before_anything_is_sent(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    for argv in (
        ["hardware", "alice/demo", "t4-smal"],
        ["hardware", "alice/demo", "t4-smal", "--wait"],
        ["wait", "alice/demo", "--hardware", "t4-smal"],
        ["duplicate", "bob/tool", "alice/copy", "--hardware", "t4-smal"],
        ["create", "alice/new-app", "--sdk", "gradio", "--hardware", "t4-smal"],
    ):
        hub.world.reset_stats()
        code, out, err = await run(hub, capsys, *argv)
        assert (code, out) == (2, ""), argv
        assert "'t4-smal' is not a hardware flavor of this Hub (did you mean t4-small?)" in err
        assert "aiospace hardware-list" in err
        # One request, the catalogue's: nothing changed, nothing waited for.
        assert hub.world.stats_json()["by_route"] == {"list_spaces_hardware": 1}, argv
    assert hub.world.space("alice/demo").requested.value == "cpu-basic"


async def test_the_catalogue_is_asked_once_per_run(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.reset_stats()
    code, _, _ = await run(hub, capsys, "hardware", "alice/demo", "t4-small", "--wait", "-q")
    assert code == 0
    assert hub.world.stats_json()["by_route"]["list_spaces_hardware"] == 1  # hardware, then the wait


async def test_the_python_api_still_takes_a_well_formed_new_flavor(aiospace_emulator: Emulator) -> None:
    async with SpaceClient(endpoint=aiospace_emulator.url, token="hf_alice") as client:
        with pytest.raises(BadRequestError) as info:  # sent: the Hub, not the client, says no
            await client.request_space_hardware("alice/demo", "h200-tomorrow")
    assert info.value.status == 400


async def test_a_storage_tier_is_checked_with_a_suggestion(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.reset_stats()
    code, _, err = await run(hub, capsys, "storage", "alice/demo", "medum")
    assert code == 2 and "'medum' is not a storage tier (did you mean medium?)" in err
    code, _, err = await run(hub, capsys, "storage", "alice/demo", "huge")
    assert code == 2 and "the tiers are small, medium and large" in err
    code, _, err = await run(hub, capsys, "duplicate", "bob/tool", "alice/copy", "--storage", "lage")
    assert code == 2 and "--storage: 'lage' is not a storage tier (did you mean large?)" in err
    assert hub.world.stats_json()["requests"] == 0


# ---------------------------------------------------------------------- logs


QUIET_SEED = {  # no heartbeat: the run log holds still while it is read
    "users": {"alice": "hf_alice"},
    "spaces": [{"id": "alice/demo", "sdk": "gradio", "log_interval": 10**9}],
}


@pytest.mark.aiospace_emulator(seed=QUIET_SEED)
async def test_logs_n_prints_the_last_lines(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, full, _ = await run(hub, capsys, "logs", "alice/demo")
    assert code == 0 and len(full.splitlines()) >= 2
    code, out, _ = await run(hub, capsys, "logs", "alice/demo", "-n", "1")
    assert code == 0 and out.splitlines() == full.splitlines()[-1:]
    code, out, _ = await run(hub, capsys, "logs", "alice/demo", "--lines", "1000")
    assert out == full
    code, _, err = await run(hub, capsys, "logs", "alice/demo", "-n", "-3")
    assert code == 2 and "-n" in err


async def test_logs_n_then_follow_repeats_nothing(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    # A build long enough (0.75 s real) that the follow starts while it still writes.
    hub.world.configure("alice/demo", build_seconds=300)
    hub.world.restart("alice", "alice/demo")
    # Following a build log ends when the build does.
    code, out, _ = await run(hub, capsys, "logs", "alice/demo", "--build", "-n", "2", "-f")
    assert code == 0
    code, full, _ = await run(hub, capsys, "logs", "alice/demo", "--build")
    shown, every = out.splitlines(), full.splitlines()
    assert len(shown) > 2 and every[-1] == shown[-1]
    assert shown == every[-len(shown) :], "the tail, then what followed, each line once"


async def test_logs_of_a_static_space_say_there_are_none(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run(aiospace_emulator, capsys, "logs", "alice/static-site")
    assert (code, out) == (0, "")
    assert "alice/static-site: nothing to show, it is a static Space: it has no logs" in err


# ---------------------------------------------------------------------- time on screen


async def test_hub_speed_is_said_once_and_interrupts_count_in_hub_time(aiospace_emulator: Emulator) -> None:
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
    await asyncio.wait_for(process.stdout.readline(), 20)
    process.send_signal(signal.SIGINT)
    _, err_bytes = await asyncio.wait_for(process.communicate(), 20)
    err = err_bytes.decode()
    assert process.returncode == 130
    assert err.count("Hub time") == 1
    assert "the Hub's clock runs 400x real time (--hub-speed 400)" in err
    assert re.search(rf"interrupted after {DURATION}\n", err), err


async def test_sleep_times_read_the_same_everywhere(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, out, _ = await run(hub, capsys, "sleep-time", "alice/gpu-app", "1h30m")
    assert code == 0 and "sleeps after 1h30m idle" in out
    code, out, _ = await run(hub, capsys, "runtime", "alice/gpu-app")
    assert "sleep time          1h30m" in out
    code, out, _ = await run(hub, capsys, "runtime", "alice/gpu-app", "--json")
    assert json.loads(out)["sleep_time"] == 5400  # JSON keeps seconds
    code, out, _ = await run(hub, capsys, "sleep-time", "alice/gpu-app", "never")
    assert code == 0 and "never sleeps" in out
    code, out, _ = await run(hub, capsys, "runtime", "alice/demo")
    assert "sleep time          48h00m" in out
    code, out, _ = await run(hub, capsys, "sleep-time", "alice/demo", "2h")
    assert "(ignored on free hardware: it sleeps after 48h00m)" in out


async def test_a_sleep_time_of_0_is_refused_with_the_reason(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.reset_stats()
    for argv in (
        ["sleep-time", "alice/gpu-app", "0"],
        ["sleep-time", "alice/gpu-app", "0s"],
        ["hardware", "alice/gpu-app", "t4-medium", "--sleep-time", "0"],
    ):
        code, _, err = await run(hub, capsys, *argv)
        assert code == 2, argv
        assert "would put the Space to sleep as soon as nobody visits it" in err
    assert hub.world.stats_json()["requests"] == 0


# ---------------------------------------------------------------------- what the messages say


async def test_a_secret_value_on_the_command_line_gets_a_hint(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, out, err = await run(hub, capsys, "secrets", "add", "alice/demo", "API_KEY", SECRET)
    assert (code, out) == (2, "")
    assert "never taken from the command line" in err and "--value-stdin" in err
    assert "unrecognized arguments" not in err and "usage:" not in err
    assert SECRET not in err
    assert "API_KEY" not in hub.world.space("alice/demo").secrets


async def test_removing_a_missing_key_says_it_was_not_there(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, out, _ = await run(hub, capsys, "secrets", "rm", "alice/demo", "NOPE")
    assert (code, out) == (0, "alice/demo: there is no secret NOPE: nothing removed\n")
    code, out, _ = await run(hub, capsys, "variables", "rm", "alice/demo", "NOPE")
    assert (code, out) == (0, "alice/demo: there is no variable NOPE: nothing removed\n")
    code, out, _ = await run(hub, capsys, "variables", "rm", "alice/demo", "NOPE", "--json")
    assert (code, json.loads(out)) == (0, [])
    # A key that is there is removed, and said so.
    hub.world.add_secret("alice", "alice/demo", "THERE", "v", None)
    code, out, _ = await run(hub, capsys, "secrets", "rm", "alice/demo", "THERE")
    assert out == "alice/demo: secret THERE removed\n"
    assert "THERE" not in hub.world.space("alice/demo").secrets


async def test_duplicate_onto_an_existing_space(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, out, _ = await run(hub, capsys, "duplicate", "bob/tool", "alice/tool")
    assert code == 0 and out.startswith("bob/tool duplicated to alice/tool")
    code, out, err = await run(hub, capsys, "duplicate", "bob/tool", "alice/tool")
    assert (code, out) == (5, "")
    assert "409" in err and "--exist-ok accepts the existing Space" in err
    code, out, _ = await run(hub, capsys, "duplicate", "bob/tool", "alice/tool", "--exist-ok")
    assert code == 0
    assert out == f"alice/tool already existed: nothing copied ({hub.url}/spaces/alice/tool)\n"
    code, out, _ = await run(hub, capsys, "duplicate", "bob/tool", "alice/tool", "--exist-ok", "--json")
    assert json.loads(out)["existed"] is True


async def test_storage_without_a_tier_says_what_is_missing(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    code, _, err = await run(hub, capsys, "storage", "alice/demo")
    assert code == 2
    assert "missing TIER: small, medium or large (or --delete" in err and "not both" not in err
    code, _, err = await run(hub, capsys, "storage", "alice/demo", "small", "--delete")
    assert code == 2 and "not both" in err


@pytest.mark.usefixtures("no_token")
async def test_reading_secrets_without_a_token_says_a_token_is_needed(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run(aiospace_emulator, capsys, "secrets", "ls", "alice/demo", token=None)
    assert (code, out) == (4, "")
    assert "alice/demo: a token is needed to read secrets" in err and "HF_TOKEN" in err
    assert "change a Space" not in err
    code, _, err = await run(aiospace_emulator, capsys, "pause", "alice/demo", token=None)
    assert code == 4 and "no token was given" in err


async def test_a_plain_http_endpoint_gets_a_hint_the_command_line_can_follow(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = await cli.amain(["--endpoint", "http://example.invalid", "--token", "hf_x", "runtime", "a/b"])
    err = capsys.readouterr().err
    assert code == 2
    assert "use https, or add --allow-insecure-http" in err and "allow_insecure_http=True" not in err
    assert "hf_x" not in err
    # The flag exists, and reaches the client (which is then built: no request is made here).
    args = cli.build_parser().parse_args(
        ["runtime", "a/b", "--endpoint", "http://example.invalid", "--token", "hf_x", "--allow-insecure-http"]
    )
    async with cli._client(args, None) as client:
        assert client.has_token


async def test_a_bad_key_is_told_which_rule_it_broke(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    hub.world.reset_stats()
    code, _, err = await run(hub, capsys, "variables", "add", "alice/demo", "lower-case", "v")
    assert code == 2
    assert "may only hold ASCII letters, digits and '_' (it holds '-')" in err
    assert "characters" not in err.split("(it holds")[1]  # not a count of characters
    code, _, err = await run(hub, capsys, "variables", "add", "alice/demo", "1ST", "v")
    assert code == 2 and "must not start with a digit" in err
    assert hub.world.stats_json()["requests"] == 0


# ---------------------------------------------------------------------- help


def test_help_shows_no_markup(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "wait" in a.choices)
    assert isinstance(subparsers.choices, dict)
    for name, sub in subparsers.choices.items():
        text = sub.format_help()
        assert "``" not in text and ":class:" not in text and ":func:" not in text, name
    assert (
        "Restart a Space (--factory-reboot: rebuild without cache)"
        in subparsers.choices["restart"].format_help()
    )
    assert "``" not in parser.format_help()


# ---------------------------------------------------------------------- a closed stdout or stderr


@pytest.mark.careless
@pytest.mark.parametrize("closed", ["stdout", "stderr"])
async def test_a_closed_stdout_or_stderr_keeps_the_exit_code(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, closed: str
) -> None:
    # Started with `2>&-` (or `>&-`), Python's sys.stderr (sys.stdout) is None: the first
    # line written was an AttributeError, and the exit code 1 ("the Space failed").
    monkeypatch.setattr(sys, closed, None)
    assert (
        await amain(["--endpoint", aiospace_emulator.url, "--token", "hf_alice", "runtime", "alice/demo"])
        == 0
    )
    assert (
        await amain(["--endpoint", aiospace_emulator.url, "--token", "hf_alice", "runtime", "alice/nope"])
        == 4
    )

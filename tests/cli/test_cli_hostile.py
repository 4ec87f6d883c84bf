"""The command line against the hostile Hub (tests/hostile.py): an answer it can't read is
one line on stderr and exit code 5, and the token, from any source, never shows."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from hostile_hub import HostileHub, deep_json

from aiospace.cli.app import amain

TOKEN = "hf_CliHostileTokenNeverShown77"
BASE = "/api/spaces/user/app"


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

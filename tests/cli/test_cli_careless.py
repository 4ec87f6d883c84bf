"""The command line as a careless caller runs it: odd environments and arguments get one
line on stderr and a meaningful exit code, never a traceback, never the token."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aiospace.cli.app import amain
from aiospace.emulator import Emulator


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


async def test_a_token_with_a_newline_in_hf_token_is_exit_2(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_alpha\nhf_beta")
    code = await amain(["--endpoint", aiospace_emulator.url, "-v", "runtime", "alice/demo"])
    err = capsys.readouterr().err
    assert code == 2
    assert "HF_TOKEN" in err and "hf_alpha" not in err and "hf_beta" not in err


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

"""The Python API as a careless caller uses it: odd tokens, a client closed or reused, a
Watcher misused, hostile notification targets. Each case is refused with a typed error
(never a foreign one), leaks nothing, and never shows a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiospace import SpaceClient
from aiospace.emulator import Emulator
from aiospace.errors import InvalidArgumentError

TOKEN = "hf_CarelessCallerTokenNeverShown42"


# ---------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    "token", [TOKEN + "\n" + TOKEN, "hf_\x00nul", "hf_a\r\nX-Evil: 1", "hf_tab\tx", "hf_h\xe9llo", "hf a"]
)
async def test_a_token_no_header_can_carry_is_refused_before_any_request(
    aiospace_emulator: Emulator, token: str
) -> None:
    # aiohttp raised a ValueError ("Forbidden control character detected in headers") at
    # the first call, and sent non-ASCII bytes; now the client refuses it at once.
    with pytest.raises(InvalidArgumentError) as info:
        SpaceClient(token=token, endpoint=aiospace_emulator.url)
    assert info.value.argument == "token"
    assert token not in str(info.value) and "hf_" not in str(info.value)


async def test_a_bad_token_in_hf_token_is_refused_and_named(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_one\nhf_two")
    with pytest.raises(InvalidArgumentError, match="HF_TOKEN") as info:
        SpaceClient(endpoint=aiospace_emulator.url)
    assert "hf_one" not in str(info.value)


async def test_a_token_file_that_is_not_text_is_a_typed_error(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    (tmp_path / "token").write_bytes(b"hf_\xff\xfe\x00binary")
    # Was a UnicodeDecodeError (a traceback in the CLI).
    with pytest.raises(InvalidArgumentError, match="token file") as info:
        SpaceClient(endpoint=aiospace_emulator.url)
    assert info.value.argument == "token"

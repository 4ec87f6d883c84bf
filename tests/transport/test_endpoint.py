"""Where the client sends and as whom (``aiospace/_http/endpoint.py``): the endpoint, the token
from each of its sources, and the credentials of a caller's own session.

The cases marked ``careless`` are a caller's odd token or endpoint, each refused at once with a
typed error that never shows it; the one marked ``hostile`` is a Hub echoing, redirecting and
paging a token the client did not set itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hostile_hub import BASE, REPO, TOKEN, HostileHub, assert_clean

from aiospace import BadAnswerError, BadRequestError, InvalidArgumentError, ScaledClock, SpaceClient
from aiospace.emulator import Emulator

# --------------------------------------------------------------------------- tokens


@pytest.mark.careless
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


@pytest.mark.careless
async def test_a_bad_token_in_hf_token_is_refused_and_named(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_one\nhf_two")
    with pytest.raises(InvalidArgumentError, match="HF_TOKEN") as info:
        SpaceClient(endpoint=aiospace_emulator.url)
    assert "hf_one" not in str(info.value)


@pytest.mark.careless
async def test_a_token_file_that_is_not_text_is_a_typed_error(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    (tmp_path / "token").write_bytes(b"hf_\xff\xfe\x00binary")
    # Was a UnicodeDecodeError (a traceback in the CLI).
    with pytest.raises(InvalidArgumentError, match="token file") as info:
        SpaceClient(endpoint=aiospace_emulator.url)
    assert info.value.argument == "token"


@pytest.mark.hostile
async def test_a_token_in_the_callers_own_session_headers_is_kept_as_ours_is(hostile: HostileHub) -> None:
    # No token= : the caller's aiohttp session carries it in its default headers.
    async with HostileHub() as elsewhere:
        other = elsewhere.url.replace("127.0.0.1", "localhost")  # another origin
        elsewhere.play("GET", "/x", HostileHub.json([{"id": "user/app"}]))
        hostile.play("GET", f"{BASE}/runtime", HostileHub.echo(400), HostileHub.redirect(f"{other}/x", 307))
        link = {"Link": f'<{other}/x>; rel="next"'}
        hostile.play("GET", "/api/spaces", HostileHub.json([{"id": "user/app"}], headers=link))
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            async with SpaceClient(endpoint=hostile.url, session=http, clock=ScaledClock(1000)) as client:
                with pytest.raises(BadRequestError) as echoed:
                    await client.get_space_runtime(REPO)
                with pytest.raises(BadAnswerError) as redirected:
                    await client.get_space_runtime(REPO)
                with pytest.raises(BadAnswerError) as paged:
                    await _collect(client.list_spaces(author="user"))
        assert elsewhere.requests == []  # the token never went to another host
    assert hostile.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"  # it was used at home
    assert "Bearer <redacted>" in echoed.value.message
    assert "another host" in redirected.value.problem and "another host" in paged.value.problem
    for error in (echoed.value, redirected.value, paged.value):
        assert_clean(error)


# --------------------------------------------------------------------------- endpoints


PASSWORD = "pa55word-never-shown"


@pytest.mark.careless
@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://user:{PASSWORD}@127.0.0.1:1",
        f"https://{PASSWORD}@hub.example",
        f"https://hub.example/?token={PASSWORD}",
        f"https://hub.example/#{PASSWORD}",
        f"https://hub.example?{PASSWORD}",
        f"ftp://user:{PASSWORD}@hub.example",
        f"http://[::1{PASSWORD}",
    ],
)
def test_an_endpoint_with_userinfo_query_or_fragment_is_refused(
    monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        SpaceClient(endpoint=endpoint, token=TOKEN)
    assert info.value.argument == "endpoint"
    assert_clean(info.value, (PASSWORD, TOKEN))
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    with pytest.raises(InvalidArgumentError) as from_env:
        SpaceClient(token=TOKEN)
    assert_clean(from_env.value, (PASSWORD, TOKEN))


async def _collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]

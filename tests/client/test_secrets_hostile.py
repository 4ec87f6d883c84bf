"""Secrets stay secret against a Hub that echoes them back in the forms the client sent.

tests/client/test_hostile.py and tests/client/test_security.py cover a token or a plain secret value
echoed as is. Here: a secret value holding characters JSON escapes (a quote, a backslash,
a non-ASCII letter), echoed as the client's own body spelled it or escaped once more by a
Hub that nests the request in a JSON error; needles that hold one another; and a short
secret value, which must not eat every matching letter of an error message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hostile import HostileHub
from test_hostile import TOKEN, assert_clean, make_client

from aiospace import BadAnswerError, BadRequestError, ScaledClock, ServerError, SpaceClient, SpaceFailedError
from aiospace.emulator import Emulator

REPO = "user/app"
BASE = f"/api/spaces/{REPO}"


async def echo_in_json(request: web.Request) -> web.StreamResponse:
    """A JSON error (no X-Error-Message) nesting the request's body as a string: the client
    re-serializes it, so the body's escapes come escaped once more."""
    body = (await request.read()).decode()
    return web.json_response({"error": {"refused": body}}, status=400)


TRICKY = [
    'pa"ss-SECRET-quote',
    "pa\\ss-SECRET-backslash",
    'naïve-"SECRET"-ünïcode',
    "tab\tSECRET\nnewline-é",
]


@pytest.mark.parametrize("secret", TRICKY, ids=["quote", "backslash", "unicode-quote", "control"])
async def test_a_secret_needing_json_escapes_never_shows_echoed(hostile: HostileHub, secret: str) -> None:
    hostile.play("POST", f"{BASE}/secrets", HostileHub.echo(400))
    hostile.play("POST", f"{BASE}/duplicate", echo_in_json, HostileHub.echo_text(500))
    async with make_client(hostile) as client:
        with pytest.raises(BadRequestError) as refused:
            await client.add_space_secret(REPO, "KEY", secret)
        with pytest.raises(BadRequestError) as nested:
            await client.duplicate_space(REPO, "me/copy", secrets=[{"key": "K", "value": secret}])
        with pytest.raises(ServerError) as failed:
            await client.duplicate_space(REPO, "me/copy", secrets=[{"key": "K", "value": secret}])
    assert "<redacted>" in refused.value.message
    assert "<redacted>" in nested.value.message
    for error in (refused.value, nested.value, failed.value):
        # Every spelling of the value holds "SECRET": as is, as the client's body spelled it
        # (the escapes of a non-ASCII body), escaped once more by a JSON error nesting it.
        assert_clean(error, (TOKEN, "SECRET"))


async def test_a_secret_holding_the_token_never_shows_a_part(hostile: HostileHub) -> None:
    secret = f"prefix-{TOKEN}-suffix"
    hostile.play("POST", f"{BASE}/secrets", HostileHub.echo(400))
    async with make_client(hostile) as client:
        with pytest.raises(BadRequestError) as refused:
            await client.add_space_secret(REPO, "KEY", secret)
    assert_clean(refused.value, (TOKEN, secret, "prefix-", "-suffix"))


async def test_a_short_secret_masks_its_echo_not_every_matching_letter(hostile: HostileHub) -> None:
    refusal = HostileHub.json({"error": 'a is a bad value: {"key":"KEY","value":"a"}'}, 400)
    hostile.play("POST", f"{BASE}/secrets", refusal)
    async with make_client(hostile) as client:
        with pytest.raises(BadRequestError) as refused:
            await client.add_space_secret(REPO, "KEY", "a")
    # What a user reads: the Hub's words, the echoed value masked where it stands alone.
    assert refused.value.message == '<redacted> is <redacted> bad value: {"key":"KEY","value":"<redacted>"}'


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


async def _collect(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


async def test_the_emulators_space_repr_never_shows_a_secret_value() -> None:
    value = "emulated-SECRET-value-1234"
    seed = {"users": {"alice": TOKEN}, "spaces": [{"id": "alice/app", "secrets": {"SEEDED": value}}]}
    async with Emulator(speed=200, seed=seed) as hub:
        async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=hub.clock) as client:
            await client.add_space_secret("alice/app", "ADDED", value + "-added")
        space = hub.world.space("alice/app")
        assert {k: s.value for k, s in space.secrets.items()} == {"SEEDED": value, "ADDED": value + "-added"}
        shown = [repr(hub), repr(space), repr(space.secrets), str(space)]
    assert "SEEDED" in shown[1] and all(value not in text for text in shown)


async def test_a_failed_wait_never_shows_the_token_a_space_printed() -> None:
    # Many Spaces hold their owner's token as a secret, and some print their environment.
    space = {"id": "alice/app", "build_seconds": 2, "start_seconds": 1}
    seed = {"users": {"alice": TOKEN}, "spaces": [space]}
    async with Emulator(speed=200, seed=seed) as hub:
        async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=hub.clock) as client:
            await client.wait_for_space("alice/app", timeout=600)
            hub.world.append_log("alice/app", f"HF_TOKEN={TOKEN} (the environment)")
            hub.world.crash("alice/app")
            with pytest.raises(SpaceFailedError) as failed:
                await client.wait_for_space("alice/app", timeout=600, log_lines=200)
            lines = [line async for line in client.fetch_space_logs("alice/app")]
    assert any(TOKEN in line for line in lines)  # the Space did print it (logs are the caller's data)
    assert "HF_TOKEN=<redacted> (the environment)" in str(failed.value)
    assert str(failed.value).endswith("RuntimeError: emulated crash")
    assert_clean(failed.value)

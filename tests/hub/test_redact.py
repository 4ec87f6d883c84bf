"""Secret values and the token kept out of every message (``aiospace/_hub/redact.py``), against a
Hub that echoes them back in the forms the client sent.

A token or a plain secret value echoed as is; a secret value holding characters JSON escapes
(a quote, a backslash, a non-ASCII letter), echoed as the client's own body spelled it or escaped
once more by a Hub that nests the request in a JSON error; needles that hold one another; and a
short secret value, which must not eat every matching letter of an error message.
"""

from __future__ import annotations

import pytest
from aiohttp import web
from hostile_hub import BASE, REPO, SECRET, TOKEN, HostileHub, assert_clean, make_client

from aiospace import BadAnswerError, BadRequestError, ServerError, SpaceClient


@pytest.mark.hostile
async def test_an_echoed_request_never_shows_the_token_or_a_secret(
    hostile: HostileHub, hostile_client: SpaceClient
) -> None:
    hostile.play("POST", f"{BASE}/secrets", HostileHub.echo(400))
    with pytest.raises(BadRequestError) as refused:
        await hostile_client.add_space_secret(REPO, "KEY", SECRET)
    assert "<redacted>" in refused.value.message
    assert_clean(refused.value)

    hostile.play("POST", f"{BASE}/duplicate", HostileHub.echo_text(500))
    with pytest.raises(ServerError) as failed:
        await hostile_client.duplicate_space(REPO, "me/copy", secrets=[{"key": "K", "value": SECRET}])
    assert_clean(failed.value)

    echo_id = {"X-Request-Id": f"Bearer {TOKEN}", "X-Error-Code": TOKEN}
    hostile.play("GET", f"{BASE}/runtime", HostileHub.raw_body(b"not json", headers=echo_id))
    with pytest.raises(BadAnswerError) as unreadable:
        await hostile_client.get_space_runtime(REPO)
    assert unreadable.value.request_id == "Bearer <redacted>"
    assert_clean(unreadable.value)


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


@pytest.mark.hostile
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


@pytest.mark.hostile
async def test_a_secret_holding_the_token_never_shows_a_part(hostile: HostileHub) -> None:
    secret = f"prefix-{TOKEN}-suffix"
    hostile.play("POST", f"{BASE}/secrets", HostileHub.echo(400))
    async with make_client(hostile) as client:
        with pytest.raises(BadRequestError) as refused:
            await client.add_space_secret(REPO, "KEY", secret)
    assert_clean(refused.value, (TOKEN, secret, "prefix-", "-suffix"))


@pytest.mark.hostile
async def test_a_short_secret_masks_its_echo_not_every_matching_letter(hostile: HostileHub) -> None:
    refusal = HostileHub.json({"error": 'a is a bad value: {"key":"KEY","value":"a"}'}, 400)
    hostile.play("POST", f"{BASE}/secrets", refusal)
    async with make_client(hostile) as client:
        with pytest.raises(BadRequestError) as refused:
            await client.add_space_secret(REPO, "KEY", "a")
    # What a user reads: the Hub's words, the echoed value masked where it stands alone.
    assert refused.value.message == '<redacted> is <redacted> bad value: {"key":"KEY","value":"<redacted>"}'

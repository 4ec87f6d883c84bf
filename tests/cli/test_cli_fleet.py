"""``aiospace watch`` for fleets and bots, and the names and help of the command line.

Against the in-process emulator over loopback HTTP (:func:`aiospace.cli.app.amain` with the
emulator's clock): a watch by author sees a Space created after it started, outlives the
deletion of another and ends 0 at its timeout; a delivery to a local receiver is checked
for the payload's schema, its signature and the Slack and Discord bodies; every name of
``changes`` is accepted by ``--on-change``. Also: the hint of a 404 without a token, the
names ``hf spaces`` uses (``--factory-reboot``, ``--tail``; the old ones kept), an option
error shown with the subcommand's usage, each command's own exit codes, and suggestions.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import anyio
import pytest
from conftest import Receiver
from helpers import client_for, schema_problems

from aiospace import InvalidArgumentError, SpaceNotFoundError
from aiospace.cli import app as cli
from aiospace.cli.commands import COMMANDS
from aiospace.emulator import Emulator
from aiospace.engine.notify import WebhookPoster, sign
from aiospace.engine.transitions import PAYLOAD_SCHEMA, Change

pytestmark = pytest.mark.aiospace_emulator(speed=400)

SECRET = "whsec-never-shown-7f3a"


async def run(
    hub: Emulator, capsys: pytest.CaptureFixture[str], *argv: str, token: str | None = "hf_alice"
) -> tuple[int, str, str]:
    """``aiospace --endpoint URL [--token T] ARGV...`` in-process: (exit code, stdout, stderr)."""
    given = [] if token is None else ["--token", token]
    code = await cli.amain(["--endpoint", hub.url, *given, *argv], clock=hub.clock)
    out, err = capsys.readouterr()
    return code, out, err


def events_of(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# ---------------------------------------------------------------------- following an author


async def test_watch_by_author_sees_a_new_space_outlives_a_deleted_one_and_ends_0(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    result: list[int] = []

    async def watch() -> None:
        argv = ["watch", "--author", "alice", "--listing-interval", "20s", "--json", "--timeout", "10m"]
        result.append(await cli.amain(["--endpoint", hub.url, "--token", "hf_alice", *argv], clock=hub.clock))

    async with client_for(hub, "alice") as client:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                await client.clock.sleep(30)  # the watch has started and listed alice
                await client.create_space("alice/newbie", sdk="gradio")
                await client.clock.sleep(30)
                await client.delete_space("alice/demo")
    out, err = capsys.readouterr()
    assert result == [0], err  # ended by its timeout, not by the deletion
    events = events_of(out)
    assert all(schema_problems(event, PAYLOAD_SCHEMA) == [] for event in events)
    newbie = [e for e in events if e["repo_id"] == "alice/newbie"]
    assert newbie and newbie[0]["changes"] == ["initial"]
    demo = [e for e in events if e["repo_id"] == "alice/demo"]
    assert demo[-1]["changes"] == ["removed"] and demo[-1]["stage"] is None
    assert "stopped watching" not in err


async def test_every_name_of_changes_is_accepted_by_on_change(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for change in Change:
        code, _, err = await run(
            aiospace_emulator, capsys, "watch", "bob/tool", "--on-change", change.value, "--timeout", "5"
        )
        assert code == 0, (change, err)
    code, _, err = await run(aiospace_emulator, capsys, "watch", "bob/tool", "--on-change", "flavor")
    assert code == 2 and "'flavor' is not one of initial, stage" in err and "removed" in err


# ---------------------------------------------------------------------- deliveries


@pytest.mark.parametrize("post_format", ["json", "slack", "discord"])
async def test_a_delivery_is_signed_and_its_body_is_what_the_target_takes(
    aiospace_emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    post_format: str,
) -> None:
    monkeypatch.setenv("AIOSPACE_WEBHOOK_SECRET", SECRET)
    aiospace_emulator.world.crash("alice/demo")
    argv = [
        "watch",
        "alice/demo",
        "--json",
        "--max-events",
        "1",
        "--post",
        receiver.url,
        "--post-format",
        post_format,
    ]
    code, out, err = await run(aiospace_emulator, capsys, *argv, "-v")
    assert code == 0, err
    (printed,) = events_of(out)
    assert schema_problems(printed, PAYLOAD_SCHEMA) == []
    assert printed["stage"] == "RUNTIME_ERROR" and printed["error_message"]
    (body,) = receiver.bodies
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(receiver.headers[0]["X-Aiospace-Signature-256"], expected)
    (sent,) = receiver.accepted
    if post_format == "json":
        assert sent == printed
    else:
        line = sent["text" if post_format == "slack" else "content"]
        assert set(sent) == ({"text"} if post_format == "slack" else {"content", "allowed_mentions"})
        for part in ("alice/demo", "RUNTIME_ERROR", str(printed["error_message"]), str(printed["url"])):
            assert part in line
    assert SECRET not in out and SECRET not in err


@pytest.mark.careless
async def test_a_secret_that_is_not_utf8_is_a_usage_error_that_does_not_show_it(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a UnicodeEncodeError traceback, which showed the secret's first character.
    unreadable = "\udcff" + SECRET  # what os.environ holds for a value that is not UTF-8
    monkeypatch.setenv("AIOSPACE_WEBHOOK_SECRET", unreadable)
    sent = aiospace_emulator.world.stats.total
    argv = ["watch", "alice/demo", "--post", "http://127.0.0.1:9/h", "--max-events", "1"]
    code, out, err = await run(aiospace_emulator, capsys, *argv)
    assert code == 2 and "$AIOSPACE_WEBHOOK_SECRET is not valid UTF-8 text" in err
    assert "Traceback" not in err and SECRET not in out + err and "\\udcff" not in err
    assert aiospace_emulator.world.stats.total == sent  # refused before any request
    with pytest.raises(InvalidArgumentError) as info:
        sign(unreadable, b"{}")
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    with pytest.raises(InvalidArgumentError) as info:
        WebhookPoster("http://127.0.0.1:9/h", secret=unreadable)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


# ---------------------------------------------------------------------- the no-token hint


async def test_a_404_without_a_token_says_no_token_was_given(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await run(
        aiospace_emulator, capsys, "wait", "alice/private-app", "--timeout", "1m", token=None
    )
    assert code == 4
    assert "no token was given" in err and "private Space reads as not found" in err
    async with client_for(aiospace_emulator, None) as anonymous:
        with pytest.raises(SpaceNotFoundError) as info:
            await anonymous.get_space_runtime("alice/private-app")
    assert info.value.no_token and "no token was given" in str(info.value)
    async with client_for(aiospace_emulator, "bob") as bob:  # a token that can't see it: no such hint
        with pytest.raises(SpaceNotFoundError) as info:
            await bob.get_space_runtime("alice/private-app")
    assert not info.value.no_token and "no token" not in str(info.value)
    code, _, err = await run(aiospace_emulator, capsys, "runtime", "alice/private-app", token="hf_bob")
    assert code == 4 and "no token" not in err and "the token can't see it" in err


# ---------------------------------------------------------------------- names, usage, help


async def test_names_as_hf_spaces_has_them_and_the_old_ones_kept(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for flag in ("--factory-reboot", "--factory"):
        code, out, err = await run(aiospace_emulator, capsys, "restart", "bob/tool", flag, token="hf_bob")
        assert code == 0 and "factory reboot requested" in out, err
    for flag in ("--tail", "--lines", "-n"):
        code, out, err = await run(aiospace_emulator, capsys, "logs", "alice/demo", flag, "2")
        assert code == 0 and len(out.splitlines()) == 2, (flag, err)


@pytest.mark.careless
async def test_an_option_error_shows_the_subcommands_usage(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await run(aiospace_emulator, capsys, "restart", "alice/demo", "--factroy")
    assert code == 2
    assert "usage: aiospace restart" in err and "unrecognized arguments: --factroy" in err
    sent = aiospace_emulator.world.stats.total
    code, _, err = await run(
        aiospace_emulator, capsys, "watch", "--author", "alice", "--listing-interval", "0"
    )
    assert code == 2 and "--listing-interval" in err
    code, _, err = await run(aiospace_emulator, capsys, "watch", "--author", "not/a-name")
    assert code == 2 and "--author" in err
    assert aiospace_emulator.world.stats.total == sent  # refused before any request


def test_each_command_lists_its_own_exit_codes_130_included() -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "wait" in a.choices)
    for command in COMMANDS:
        text = subparsers.choices[command.name].format_help()  # type: ignore[index]
        assert "exit codes:" in text and "130" in text.split("exit codes:")[1], command.name
    restart = subparsers.choices["restart"].format_help()  # type: ignore[index]
    hardware = subparsers.choices["hardware"].format_help()  # type: ignore[index]
    for text in (restart, hardware):
        codes = text.split("exit codes:")[1]
        assert "--revision" not in codes and "--build-grace" not in codes and "--stall-after" not in codes
    wait = subparsers.choices["wait"].format_help().split("exit codes:")[1]  # type: ignore[index]
    assert "130  interrupted" in wait


@pytest.mark.careless
@pytest.mark.parametrize(
    ("given", "meant"), [("T4-small", "t4-small"), ("a100", "a100-large"), ("t4-smal", "t4-small")]
)
async def test_a_flavor_misspelt_gets_a_suggestion(
    aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str], given: str, meant: str
) -> None:
    code, _, err = await run(aiospace_emulator, capsys, "hardware", "alice/demo", given)
    assert code == 2 and f"did you mean {meant}" in err
    assert aiospace_emulator.world.space("alice/demo").requested.value == "cpu-basic"  # nothing sent

"""The event payload, version 1 (``Transition.to_json``, ``aiospace/engine/transitions.py``), one
vocabulary of changes, and what ``WebhookPoster`` (``aiospace/engine/notify.py``) sends: the JSON,
a Slack or Discord message, signed with HMAC-SHA256.

Played against the emulator over loopback HTTP and a local webhook receiver. The payload is
checked against :data:`PAYLOAD_SCHEMA` (the schema docs/events.md shows) by a hand-written
validator (``tests/helpers.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import pytest
from conftest import Receiver
from helpers import client_for, schema_problems

from aiospace import Cadence, SpaceRuntime, SpaceStage, Transition
from aiospace.emulator import Emulator
from aiospace.engine.notify import (
    CHANGE_FILTERS,
    SIGNATURE_HEADER,
    TransitionFilter,
    WebhookPoster,
    chat_line,
)
from aiospace.engine.transitions import PAYLOAD_SCHEMA, Change
from aiospace.engine.watch import SpaceWatch

QUICK = Cadence(fast=1.0, slow=5.0, after_write=0.0)
DOCS = Path(__file__).parents[2] / "docs"


async def crashed_transition(emulator: Emulator, seen: list[Transition] | None = None) -> Transition:
    """alice/demo seen going RUNNING -> RUNTIME_ERROR by a watcher following alice (its first
    transition, from the author's listing, appended to ``seen``)."""
    async with client_for(emulator, "alice") as client:
        with anyio.fail_after(20):
            async with client.watcher(cadence=QUICK) as watcher:
                watcher.follow("alice", every=5)
                async for transition in watcher:
                    if transition.repo_id == "alice/demo":
                        (seen if seen is not None else []).append(transition)
                        break
                emulator.world.crash("alice/demo")
                async for transition in watcher:
                    if transition.repo_id == "alice/demo" and transition.current.stage == "RUNTIME_ERROR":
                        return transition
    raise AssertionError("no crash seen")


@pytest.mark.aiospace_emulator(speed=400)
async def test_the_payload_of_a_crash_says_why_when_where_and_which_commit(
    aiospace_emulator: Emulator,
) -> None:
    hub = aiospace_emulator
    first: list[Transition] = []
    transition = await crashed_transition(hub, first)
    payload = transition.to_json()
    assert schema_problems(payload, PAYLOAD_SCHEMA) == []
    assert payload["schema"] == 1 and payload["repo_id"] == "alice/demo"
    assert (payload["previous_stage"], payload["stage"]) == ("RUNNING", "RUNTIME_ERROR")
    assert payload["error_message"] == hub.world.space("alice/demo").error_message
    assert payload["error_message"]  # the Hub's errorMessage: why
    assert payload["url"] == f"{hub.url}/spaces/alice/demo"  # the Hub's own origin
    at = datetime.fromisoformat(str(payload["at"]).replace("Z", "+00:00"))
    assert abs(at - hub.clock.wall()) < timedelta(seconds=120)  # Hub time, absolute
    # The sha is known when the observation carried it: the author's listing does (the first
    # event came from it); a poll of the runtime alone doesn't, and says null rather than guess.
    head = hub.world.space("alice/demo").sha
    assert first[0].is_initial and first[0].to_json()["sha"] == head
    assert payload["sha"] in (head, None)
    assert json.loads(json.dumps(payload)) == payload


@pytest.mark.aiospace_emulator(speed=400)
async def test_a_watch_reading_the_info_carries_the_head_commit(aiospace_emulator: Emulator) -> None:
    async with client_for(aiospace_emulator, "alice") as client:
        watch = SpaceWatch(client, "alice/demo", cadence=QUICK, poll_info=True)
        with anyio.fail_after(10):
            first = await watch.__anext__()
        await watch.aclose()
    payload = first.to_json()
    assert payload["sha"] == aiospace_emulator.world.space("alice/demo").sha
    assert schema_problems(payload, PAYLOAD_SCHEMA) == []


def test_one_vocabulary_every_change_is_a_filter_and_the_reverse() -> None:
    assert set(CHANGE_FILTERS) == {change.value for change in Change}
    assert set(PAYLOAD_SCHEMA["properties"]["changes"]["items"]["enum"]) == set(CHANGE_FILTERS)  # type: ignore[index]
    running = SpaceRuntime(stage=SpaceStage.RUNNING)
    for change in Change:
        transition = Transition("a/b", running, running, frozenset({change}), 0.0)
        assert TransitionFilter.parse(changes=[change.value])(transition), change
        others = [c.value for c in Change if c is not change]
        assert not TransitionFilter.parse(changes=others)(transition), change


def test_each_change_is_defined_once_in_the_docs() -> None:
    page = (DOCS / "events.md").read_text(encoding="utf-8")
    names = page.split("### The names of `changes`")[1].split("###")[0]
    for change in Change:
        assert names.count(f"| `{change.value}` |") == 1, change.value
    assert names.count("\n| `") == len(Change)  # and no other name
    assert json.dumps(dict(PAYLOAD_SCHEMA), indent=2) in page  # the schema, as the code has it
    assert "(events.md)" in (DOCS / "guides.md").read_text(encoding="utf-8")  # linked from the guide


def test_a_removed_space_matches_removed_never_a_stage() -> None:
    running = SpaceRuntime(stage=SpaceStage.RUNNING)
    gone = Transition("a/b", running, running, frozenset({Change.REMOVED}), 0.0, reason="404")
    assert not TransitionFilter.parse(stages=["RUNNING"])(gone)
    assert TransitionFilter.parse(changes=["removed"])(gone)
    assert gone.to_json()["stage"] is None and gone.to_json()["hardware"] is None


@pytest.mark.aiospace_emulator(speed=400)
async def test_deliveries_are_signed_and_chat_bodies_are_one_readable_line(
    aiospace_emulator: Emulator, receiver: Receiver
) -> None:
    transition = await crashed_transition(aiospace_emulator)
    secret = "s3cret-webhook-key"
    for post_format in ("json", "slack", "discord"):
        async with WebhookPoster(receiver.url, post_format=post_format, secret=secret) as post:  # type: ignore[arg-type]
            await post(transition)
            assert secret not in repr(post)
    payload, slack, discord = receiver.accepted
    assert payload == transition.to_json()
    line = chat_line(transition)
    assert slack == {"text": line} and discord == {"content": line, "allowed_mentions": {"parse": []}}
    assert "\n" not in line
    for part in (
        "alice/demo",
        "RUNNING -> RUNTIME_ERROR",
        str(payload["error_message"]),
        str(payload["url"]),
    ):
        assert part in line
    for body, headers in zip(receiver.bodies, receiver.headers[-3:], strict=True):
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)  # what a receiver does
        assert secret not in json.dumps(dict(headers))


async def test_an_unsigned_delivery_has_no_signature(receiver: Receiver) -> None:
    running = SpaceRuntime(stage=SpaceStage.RUNNING)
    async with WebhookPoster(receiver.url) as post:
        await post(Transition("a/b", None, running, frozenset({Change.INITIAL}), 0.0))
    assert SIGNATURE_HEADER not in receiver.headers[0]
    assert schema_problems(receiver.accepted[0], PAYLOAD_SCHEMA) == []


@pytest.mark.hostile
async def test_a_spaces_error_message_pings_no_one_in_a_chat(receiver: Receiver) -> None:
    # The error message is the app's own text: before, Slack read `<!channel>` as a mention of
    # everyone in the channel, and Discord `@everyone`.
    crashed = SpaceRuntime(stage=SpaceStage.RUNTIME_ERROR, error_message="<!channel> @everyone a&b")
    running = SpaceRuntime(stage=SpaceStage.RUNNING)
    transition = Transition("a/b", running, crashed, frozenset({Change.STAGE}), 0.0)
    for post_format in ("slack", "discord"):
        async with WebhookPoster(receiver.url, post_format=post_format) as post:  # type: ignore[arg-type]
            await post(transition)
    slack, discord = receiver.accepted
    assert "a/b RUNNING -> RUNTIME_ERROR: &lt;!channel&gt; @everyone a&amp;b" in slack["text"]
    assert "<" not in slack["text"]
    assert "<!channel> @everyone a&b" in discord["content"] and discord["allowed_mentions"] == {"parse": []}

"""``Watcher.follow`` (``aiospace/engine/watcher.py``): an author's Spaces, now and later.

Played against the emulator over loopback HTTP: a Space created after the watch started
joins within two listing intervals; a deleted one leaves with one last ``removed`` event
and the watch goes on; a Space added by name still ends the watch with its typed error;
each listing is a request of the rate budget, and a failed one is one failure whatever
the number of Spaces it was for. Also here: a watcher entered in one task and exited in
another (a service's start and stop hooks).
"""

from __future__ import annotations

import asyncio

import anyio
import pytest
from helpers import client_for, schema_problems

from aiospace import Cadence, InvalidArgumentError, SpaceClient, SpaceNotFoundError, Transition
from aiospace._http.budget import Exchange
from aiospace.emulator import Emulator
from aiospace.engine.transitions import PAYLOAD_SCHEMA, Change
from aiospace.engine.watcher import Watcher

QUICK = Cadence(fast=1.0, slow=5.0, after_write=0.0)
ALICE = {"alice/demo", "alice/gpu-app", "alice/static-site", "alice/private-app"}


async def next_of(watcher: Watcher, repo_id: str, *, removed: bool = False) -> Transition:
    """The next transition of ``repo_id`` (a removal if ``removed``), skipping the others."""
    async for transition in watcher:
        if transition.repo_id == repo_id and transition.removed == removed:
            return transition
    raise AssertionError("the watch ended")


@pytest.mark.aiospace_emulator(speed=400)
async def test_a_followed_author_gains_a_new_space_and_outlives_a_deleted_one(
    aiospace_emulator: Emulator,
) -> None:
    every = 20.0
    async with client_for(aiospace_emulator, "alice") as client:
        with anyio.fail_after(20):
            async with client.watcher(cadence=QUICK) as watcher:
                watcher.follow("alice", every=every)
                seen: set[str] = set()
                async for transition in watcher:
                    seen.add(transition.repo_id)
                    if seen == ALICE:
                        break
                assert watcher.following == ["alice"]
                listings = watcher.stats.follow_requests

                await client.create_space("alice/newbie", sdk="gradio")
                created_at = client.clock.now()
                joined = await next_of(watcher, "alice/newbie")
                assert joined.is_initial
                assert joined.observed_at - created_at <= 2 * every * 1.05  # within two listings

                await client.delete_space("alice/demo")
                gone = await next_of(watcher, "alice/demo", removed=True)
                payload = gone.to_json()
                assert payload["changes"] == ["removed"] and payload["stage"] is None
                assert payload["previous_stage"] == "RUNNING"
                assert "not found" in str(payload["error_message"]).lower()
                assert schema_problems(payload, PAYLOAD_SCHEMA) == []
                assert "alice/demo" not in watcher.spaces
                assert isinstance(watcher.errors["alice/demo"], SpaceNotFoundError)

                # The watch goes on: a later change of another Space still comes.
                await client.pause_space("alice/gpu-app")
                paused = await next_of(watcher, "alice/gpu-app")
                assert paused.current.stage == "PAUSED"
        stats = watcher.stats
        assert stats.follow_requests > listings >= 1  # listed again and again
        assert stats.requests >= stats.batch_requests >= stats.follow_requests
        assert stats.removed == 1
        assert "alice/newbie" in watcher.spaces or not watcher.spaces  # left with the watcher


@pytest.mark.aiospace_emulator(speed=400)
async def test_a_space_added_by_name_still_ends_the_watch_when_its_author_is_followed(
    aiospace_emulator: Emulator,
) -> None:
    async with client_for(aiospace_emulator, "alice") as client:
        with anyio.fail_after(20):
            async with client.watcher(cadence=QUICK) as watcher:
                watcher.add("alice/demo")
                watcher.follow("alice", every=30)
                await next_of(watcher, "alice/demo")
                await client.delete_space("alice/demo")
                with pytest.raises(SpaceNotFoundError) as info:
                    async for _ in watcher:
                        pass
    assert info.value.repo_id == "alice/demo"


@pytest.mark.aiospace_emulator(speed=400)
async def test_a_removed_space_comes_back_when_created_anew(aiospace_emulator: Emulator) -> None:
    async with client_for(aiospace_emulator, "alice") as client:
        with anyio.fail_after(20):
            async with client.watcher(cadence=QUICK) as watcher:
                watcher.follow("alice", every=10)
                await next_of(watcher, "alice/demo")
                await client.delete_space("alice/demo")
                await next_of(watcher, "alice/demo", removed=True)
                await client.create_space("alice/demo", sdk="gradio")
                again = await next_of(watcher, "alice/demo")
                assert again.is_initial


@pytest.mark.hostile
@pytest.mark.aiospace_emulator(speed=400)
async def test_a_failed_listing_is_one_failure_however_many_spaces_it_was_for(
    aiospace_emulator: Emulator,
) -> None:
    aiospace_emulator.world.faults.add("error", route="list_spaces", status=503)
    failed: list[str] = []

    def count(exchange: Exchange) -> None:
        if exchange.status == 503:
            failed.append(exchange.path)

    async with client_for(aiospace_emulator, "alice") as client:
        unsubscribe = client.subscribe(count)
        with anyio.fail_after(20):
            async with client.watcher(cadence=QUICK, batch_min=3) as watcher:
                watcher.add(*ALICE)  # four Spaces: refreshed by one listing, which fails
                watcher.follow("alice", every=5)
                seen: set[str] = set()
                async for transition in watcher:
                    seen.add(transition.repo_id)
                    if seen == ALICE:
                        break
                await client.clock.sleep(30)
        unsubscribe()
    assert failed and set(failed) == {"/api/spaces"}
    assert watcher.stats.failures == len(failed)  # one per request, not one per Space


@pytest.mark.careless
async def test_a_watcher_entered_in_one_task_and_exited_in_another(aiospace_emulator: Emulator) -> None:
    """A service's start hook enters it, its stop hook exits it: both work, nothing is left running."""
    async with client_for(aiospace_emulator, "alice") as client:
        watcher = client.watcher(cadence=QUICK)

        async def start() -> None:
            await watcher.__aenter__()
            watcher.add("alice/demo")

        async def stop() -> None:
            await watcher.__aexit__(None, None, None)

        with anyio.fail_after(10):
            await asyncio.get_running_loop().create_task(start())
            first = await watcher.__anext__()
            assert first.repo_id == "alice/demo" and first.is_initial
            await asyncio.get_running_loop().create_task(stop())
            with pytest.raises(StopAsyncIteration):
                await watcher.__anext__()
        polls = client.stats.requests
        await client.clock.sleep(10)
        assert client.stats.requests == polls  # its pollers are gone


@pytest.mark.careless
async def test_follow_refuses_a_bad_name_or_interval_before_any_is_followed(
    aiospace_emulator: Emulator,
) -> None:
    async with client_for(aiospace_emulator, "alice") as client:
        watcher = client.watcher()
        with pytest.raises(InvalidArgumentError, match="author"):
            watcher.follow("alice", "not/a-name")
        with pytest.raises(InvalidArgumentError, match="every"):
            watcher.follow("alice", every=0)
        assert watcher.following == []
        watcher.follow("alice", every=5)
        watcher.unfollow("alice")
        assert watcher.following == []


def test_removed_is_a_change_and_survives_a_merge() -> None:
    from aiospace import SpaceRuntime, SpaceStage

    running = SpaceRuntime(stage=SpaceStage.RUNNING)
    building = SpaceRuntime(stage=SpaceStage.BUILDING)
    first = Transition("a/b", running, building, frozenset({Change.STAGE}), 1.0)
    gone = Transition("a/b", building, building, frozenset({Change.REMOVED}), 2.0, reason="gone")
    merged = first.merge(gone)
    assert merged is not None and merged.removed and merged.to_json()["error_message"] == "gone"
    assert isinstance(SpaceClient, type)


@pytest.mark.aiospace_emulator(speed=400)
async def test_the_errors_kept_are_bounded_the_latest_kept(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A follow that runs for months over short-lived Spaces (a preview per pull request) kept
    # every removed Space's error: `errors` grew without end.
    from aiospace.engine import watcher as watcher_module

    monkeypatch.setattr(watcher_module, "MAX_ERRORS_KEPT", 2)
    gone = ["alice/demo", "alice/gpu-app", "alice/static-site"]
    async with client_for(aiospace_emulator, "alice") as client:
        with anyio.fail_after(20):
            async with client.watcher(cadence=QUICK) as watcher:
                watcher.follow("alice", every=10)
                seen: set[str] = set()
                async for transition in watcher:
                    seen.add(transition.repo_id)
                    if seen == ALICE:
                        break
                for repo_id in gone:
                    await client.delete_space(repo_id)
                    await next_of(watcher, repo_id, removed=True)
    assert watcher.stats.removed == 3
    assert list(watcher.errors) == gone[1:]  # the oldest dropped

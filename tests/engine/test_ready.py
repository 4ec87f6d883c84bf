"""Deploys that end when the app answers (``aiospace/engine/ready.py``, ``engine/many.py``), on the
emulator over loopback HTTP at a fast clock: ``ready=True`` (an app slow to answer, one that never
does, a static page, a private app), the Space's own ``startup_duration_timeout`` as the start's
stall limit, an unknown ``*_ERROR`` stage, and ``wait_for_spaces`` (every Space's outcome, none
cancelled by another's failure).

Cases marked ``hostile`` play a Hub (a recording server) that names the app's URL: the token
goes only to a private Space's app on the Hub's app domain. Those marked ``careless`` are odd
arguments, refused before any request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from conftest import RecordingHub
from helpers import client_for
from hostile_hub import HostileHub

from aiospace import (
    InvalidArgumentError,
    OnTrouble,
    SpaceClient,
    SpaceFailedError,
    SpaceInfo,
    SpaceStage,
    SpaceStalledError,
    WaitTimeoutError,
)
from aiospace._http.apps import app_target
from aiospace.emulator import Emulator
from aiospace.emulator.apps import app_status
from aiospace.engine.many import WaitOutcome, worst
from aiospace.engine.options import WaitFor
from aiospace.engine.ready import (
    HUB_STARTUP_TIMEOUT,
    START_STAGES,
    card_duration,
    start_limits,
    startup_timeout,
)
from aiospace.errors import AppNotReadyError

SEED: dict[str, Any] = {
    "users": {"alice": "hf_alice"},
    "spaces": [
        {"id": "alice/slow", "app_ready_after": 60},
        {"id": "alice/dead", "serving": False},
        {"id": "alice/site", "sdk": "static"},
        {"id": "alice/private", "private": True, "app_ready_after": 20},
        {"id": "alice/plain"},
    ],
}


@pytest.fixture
async def world() -> AsyncIterator[Emulator]:
    async with Emulator(speed=1000, seed=SEED) as emulator:
        yield emulator


@pytest.fixture
async def alice(world: Emulator) -> AsyncIterator[SpaceClient]:
    async with client_for(world, "alice", seed=1) as client:
        yield client


def running_since(world: Emulator, space: str) -> float:
    """When the Space last reached RUNNING (the emulator's ground truth, Hub time)."""
    return max(e.time for e in world.world.events_for(space) if e.stage == "RUNNING")


# ---------------------------------------------------------------------- readiness


async def test_a_ready_wait_returns_only_once_the_app_answers(world: Emulator, alice: SpaceClient) -> None:
    runtime = await alice.wait_for_space("alice/slow", ready=True, timeout=600)
    space = world.world.space("alice/slow")
    assert runtime.stage == SpaceStage.RUNNING
    assert world.clock.now() - space.running_since >= 60  # not before app_ready_after
    assert app_status(space, world.world.advance()) == 200
    status, url = await alice.app_status(await alice.space_info("alice/slow"))
    assert (status, url) == (200, "https://alice-slow.hf.space")


async def test_without_ready_the_same_space_returns_while_its_app_does_not_answer_yet(
    world: Emulator, alice: SpaceClient
) -> None:
    await alice.restart_space("alice/slow")
    runtime = await alice.wait_for_space("alice/slow", timeout=600)
    assert runtime.stage == SpaceStage.RUNNING
    assert app_status(world.world.space("alice/slow"), world.world.advance()) == 503


async def test_a_space_running_but_never_serving_fails_with_the_last_status(
    world: Emulator, alice: SpaceClient
) -> None:
    with pytest.raises(AppNotReadyError) as caught:
        await alice.wait_for_space("alice/dead", ready=True, ready_timeout=45, timeout=600)
    error = caught.value
    assert isinstance(error, SpaceFailedError)  # exit 1 in the CLI, with the run log's tail
    assert error.last_status == 503 and error.runtime.stage == SpaceStage.RUNNING
    assert 45 <= error.waited < 120  # asked again at most every 10 Hub seconds (a loaded machine: more)
    assert error.url == "https://alice-dead.hf.space"
    assert "never answered" in str(error) and "status 503" in str(error)
    assert error.log_lines  # the run log's tail


async def test_the_not_serving_marker_of_a_pushed_app_file(world: Emulator, alice: SpaceClient) -> None:
    world.world.configure("alice/plain", push_delay=0, build_seconds=5, start_seconds=2)
    pushed = world.world.push_files("alice/plain", {"app.py": "# aiospace-emulator: not-serving\n"})
    with pytest.raises(AppNotReadyError) as caught:
        await alice.wait_for_space("alice/plain", revision=pushed.sha, ready=True, ready_timeout=30)
    assert caught.value.last_status == 503
    world.world.push_files("alice/plain", {"app.py": "print('fixed')\n"})
    fixed = world.world.space("alice/plain").sha
    runtime = await alice.wait_for_space("alice/plain", revision=fixed, ready=True, ready_timeout=30)
    assert runtime.stage == SpaceStage.RUNNING


async def test_a_static_space_is_ready_when_its_page_answers(world: Emulator, alice: SpaceClient) -> None:
    runtime = await alice.wait_for_space("alice/site", ready=True, timeout=3600)  # returns when ready
    assert runtime.stage == SpaceStage.RUNNING
    assert (await alice.app_status(await alice.space_info("alice/site")))[0] == 200


async def test_a_private_app_answers_its_owner(world: Emulator, alice: SpaceClient) -> None:
    await alice.wait_for_space("alice/private", ready=True, timeout=600)
    space = world.world.space("alice/private")
    assert world.clock.now() - space.running_since >= 20
    info = await alice.space_info("alice/private")
    assert await alice.app_status(info) == (200, "https://alice-private.hf.space")
    async with client_for(world, None) as anonymous:  # no token: the app is hidden (404)
        assert (await anonymous.app_status(info))[0] == 404


async def test_a_timeout_while_asking_the_app_says_so(world: Emulator, alice: SpaceClient) -> None:
    with pytest.raises(WaitTimeoutError) as caught:
        # 300 Hub seconds (0.3 s here; 30 were too few for one answer of the app under load).
        await alice.wait_for_space("alice/dead", ready=True, ready_timeout=6000, timeout=300)
    assert caught.value.reason == "the app had not answered (last: status 503)"


# ---------------------------------------------------------------------- where the app is, and the token


def test_the_app_target_follows_the_hubs_answer() -> None:
    from yarl import URL

    hub = URL("https://huggingface.co")
    local = URL("http://127.0.0.1:9999")
    public = SpaceInfo(id="a/b", private=False, host="https://a-b.hf.space", subdomain="a-b")
    private = SpaceInfo(id="a/b", private=True, host="https://a-b.hf.space", subdomain="a-b")
    elsewhere = SpaceInfo(id="a/b", private=True, host="https://a-b.example.com")
    by_subdomain = SpaceInfo(id="a/b", private=True, subdomain="a-b")
    remote = app_target(hub, private)
    assert remote is not None and str(remote.connect) == "https://a-b.hf.space" and remote.host is None
    unsent = app_target(hub, public)
    assert remote.token and unsent is not None and not unsent.token
    emulated = app_target(local, private)
    assert emulated is not None and emulated.connect == local and emulated.host == "a-b.hf.space"
    other = app_target(local, elsewhere)
    assert other is not None and not other.token and str(other.connect) == "https://a-b.example.com"
    named = app_target(hub, by_subdomain)
    assert named is not None and named.url == "https://a-b.hf.space" and named.token
    assert app_target(hub, SpaceInfo(id="a/b")) is None
    assert app_target(hub, SpaceInfo(id="a/b", host="ftp://x.hf.space", subdomain="bad label")) is None


@pytest.mark.hostile
async def test_the_token_goes_only_to_a_private_app_on_the_hubs_domain(
    hub: RecordingHub, other_hub: RecordingHub
) -> None:
    async with SpaceClient(endpoint=hub.url, token="hf_SECRET") as client:
        private = SpaceInfo(id="a/b", private=True, host="https://a-b.hf.space")
        public = SpaceInfo(id="a/b", private=False, host="https://a-b.hf.space")
        foreign = SpaceInfo(id="a/b", private=True, host=other_hub.url)
        hub.answer("GET", "/", 200, {})
        other_hub.answer("GET", "/", 200, {})
        assert (await client.app_status(private))[0] == 200
        assert (await client.app_status(public))[0] == 200
        assert (await client.app_status(foreign))[0] == 200
    first, second = hub.requests
    assert first.headers["Host"] == "a-b.hf.space" and first.headers["Authorization"] == "Bearer hf_SECRET"
    assert second.headers["Host"] == "a-b.hf.space" and "Authorization" not in second.headers
    (third,) = other_hub.requests
    assert "Authorization" not in third.headers


@pytest.mark.hostile
async def test_an_app_that_never_answers_is_no_answer(hub: RecordingHub) -> None:
    async with SpaceClient(endpoint=hub.url, token=False, timeout=5) as client:
        closed = SpaceInfo(id="a/b", host="http://127.0.0.1:9")  # nothing listens on port 9
        assert await client.app_status(closed) == (None, "http://127.0.0.1:9")


# ---------------------------------------------------------------------- the Space's own start timeout


def test_card_durations() -> None:
    assert card_duration("2h") == 7200 and card_duration("30m") == 1800 and card_duration("1h30m") == 5400
    assert card_duration(90) == 90 and card_duration("1d") == 86400
    for bad in ("", "soon", "-1h", True, None, 0, "2x"):
        assert card_duration(bad) is None
    assert startup_timeout(SpaceInfo(id="a/b", card_data={"startup_duration_timeout": "5h"})) == 18000
    assert startup_timeout(SpaceInfo(id="a/b", card_data={"startup_duration_timeout": "never"})) == 1800
    assert startup_timeout(None) == HUB_STARTUP_TIMEOUT == 1800
    limits, from_space = start_limits({"BUILDING": 60})
    assert from_space and limits[SpaceStage.BUILDING] == 60
    assert start_limits(600) == (dict.fromkeys(limits, 600.0), False)


async def start_slowly(world: Emulator, space: str, start_seconds: float) -> None:
    world.world.configure(space, build_seconds=5, start_seconds=start_seconds, push_delay=0)
    world.world.restart("alice", space)


async def test_a_space_whose_card_allows_2h_is_not_stalled_after_20_minutes(
    world: Emulator, alice: SpaceClient
) -> None:
    world.world.push_files(
        "alice/plain", {"README.md": "---\nsdk: gradio\nstartup_duration_timeout: 2h\n---\n"}
    )
    await start_slowly(world, "alice/plain", 25 * 60)
    runtime = await alice.wait_for_space("alice/plain", timeout=3 * 3600)
    assert runtime.stage == SpaceStage.RUNNING
    starts = [e for e in world.world.events_for("alice/plain") if e.stage in START_STAGES]
    assert world.clock.now() - starts[-1].time >= 25 * 60  # it stayed starting past 20 minutes


async def test_a_space_without_one_is_stalled_after_30_minutes(world: Emulator, alice: SpaceClient) -> None:
    await start_slowly(world, "alice/plain", 45 * 60)
    with pytest.raises(SpaceStalledError) as caught:
        await alice.wait_for_space("alice/plain", timeout=3 * 3600)
    assert caught.value.runtime.stage in START_STAGES  # RUNNING_APP_STARTING: the old container serves
    assert 30 * 60 <= caught.value.stalled_for < 35 * 60


async def test_the_callers_stall_after_wins_over_the_card(world: Emulator, alice: SpaceClient) -> None:
    world.world.push_files("alice/plain", {"README.md": "---\nstartup_duration_timeout: 2h\n---\n"})
    await start_slowly(world, "alice/plain", 45 * 60)
    with pytest.raises(SpaceStalledError) as caught:
        await alice.wait_for_space("alice/plain", timeout=3 * 3600, trouble=OnTrouble(stall_after=600))
    assert 600 <= caught.value.stalled_for < 900


# ---------------------------------------------------------------------- an unknown error stage


async def test_an_unknown_stage_ending_in_error_is_a_failure(world: Emulator, alice: SpaceClient) -> None:
    world.world.space("alice/plain").stage = SpaceStage("OOM_ERROR")
    with pytest.raises(SpaceFailedError) as caught:
        await alice.wait_for_space("alice/plain", timeout=None)
    assert caught.value.runtime.stage == "OOM_ERROR" and not caught.value.runtime.stage.is_known


async def test_another_unknown_stage_is_waited_through(world: Emulator, alice: SpaceClient) -> None:
    world.world.space("alice/plain").stage = SpaceStage("OOM_KILLED")
    with pytest.raises(WaitTimeoutError) as caught:
        await alice.wait_for_space("alice/plain", timeout=60)
    assert caught.value.runtime is not None and caught.value.runtime.stage == "OOM_KILLED"


# ---------------------------------------------------------------------- many Spaces


async def test_many_spaces_each_get_their_outcome(world: Emulator, alice: SpaceClient) -> None:
    for space in ("alice/plain", "alice/slow"):
        world.world.configure(space, build_seconds=600, start_seconds=5)  # well after the failure
        world.world.restart("alice", space)
    world.world.configure("alice/dead", build_seconds=10, fail_build=True)
    world.world.restart("alice", "alice/dead")
    heard: list[WaitOutcome] = []
    outcomes = await alice.wait_for_spaces(
        ["alice/plain", "alice/dead", "alice/slow", "alice/plain"], timeout=1200, on_settled=heard.append
    )
    assert [o.repo_id for o in outcomes] == ["alice/plain", "alice/dead", "alice/slow"]
    assert [o.kind for o in outcomes] == ["ok", "failed", "ok"]
    assert heard[0].repo_id == "alice/dead"  # it settled first; the others went on
    failed = outcomes[1]
    assert isinstance(failed.error, SpaceFailedError) and failed.error.runtime.stage == SpaceStage.BUILD_ERROR
    assert all(o.elapsed > failed.elapsed for o in (outcomes[0], outcomes[2]))
    assert worst(outcomes) is failed
    assert all(
        o.runtime is not None and o.runtime.stage == SpaceStage.RUNNING for o in (outcomes[0], outcomes[2])
    )


async def test_many_ready_waits_and_a_timeout(world: Emulator, alice: SpaceClient) -> None:
    outcomes = await alice.wait_for_spaces(
        ["alice/site", "alice/dead", "alice/nobody"], WaitFor(ready=True), timeout=300, ready_timeout=6000
    )
    kinds = {o.repo_id: o.kind for o in outcomes}
    assert kinds == {"alice/site": "ok", "alice/dead": "timeout", "alice/nobody": "error"}
    worst_one = worst(outcomes)
    assert worst_one is not None and worst_one.repo_id == "alice/nobody"


async def test_a_callbacks_error_is_raised_as_itself(world: Emulator, alice: SpaceClient) -> None:
    def broken(outcome: WaitOutcome) -> None:
        raise KeyError(outcome.repo_id)

    with pytest.raises(KeyError):
        await alice.wait_for_spaces(["alice/site", "alice/plain"], on_settled=broken)


@pytest.mark.careless
async def test_odd_arguments_are_refused_before_any_request(world: Emulator, alice: SpaceClient) -> None:
    before = alice.stats.requests
    with pytest.raises(InvalidArgumentError, match="ready"):
        await alice.wait_for_space("alice/plain", stage="PAUSED", ready=True)
    with pytest.raises(InvalidArgumentError, match="ready_timeout"):
        await alice.wait_for_space("alice/plain", ready=True, ready_timeout=-1)
    with pytest.raises(InvalidArgumentError, match=r"repo_ids: .*got one str"):
        await alice.wait_for_spaces("alice/plain")
    with pytest.raises(InvalidArgumentError, match=r"repo_ids: .*got NoneType"):
        await alice.wait_for_spaces(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="repo_ids"):
        await alice.wait_for_spaces([])
    with pytest.raises(InvalidArgumentError, match="info: expected a SpaceInfo"):
        await alice.app_status("alice/plain")  # type: ignore[arg-type]  # before: an AttributeError
    with pytest.raises(InvalidArgumentError, match="repo_id"):
        await alice.wait_for_spaces(["alice/plain", "not a repo"])
    with pytest.raises(InvalidArgumentError, match="ready"):
        WaitFor(ready="yes")  # type: ignore[arg-type]
    assert alice.stats.requests == before


@pytest.mark.hostile
async def test_a_sessions_own_credentials_never_go_to_an_app_elsewhere(
    hub: RecordingHub, other_hub: RecordingHub
) -> None:
    other_hub.answer("GET", "/", 200, {})
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer hf_CALLER"}) as session:
        async with SpaceClient(endpoint=hub.url, token=False, session=session) as client:
            foreign = SpaceInfo(id="a/b", host=other_hub.url)
            assert await client.app_status(foreign) == (None, other_hub.url)
    assert other_hub.requests == []


@pytest.mark.hostile
async def test_an_app_with_an_endless_body_is_its_status_and_nothing_more_is_read(
    hostile: HostileHub,
) -> None:
    """Only the status is read: an app pouring a body for ever gives its status, and the client
    leaves after at most what one socket read takes (the rest is never downloaded)."""
    hostile.play("GET", "/", hostile.endless_sse(b"x" * 65536))
    async with SpaceClient(endpoint=hostile.url, token=False, timeout=5) as client:
        app = SpaceInfo(id="a/b", host=hostile.url)
        for _ in range(3):  # and again: each connection was let go, none left half read
            assert await client.app_status(app) == (200, hostile.url)
    assert len(hostile.requests) == 3
    assert hostile.sent < 3 * 8 * 1024 * 1024  # at most what the socket buffers held, not an endless body


@pytest.mark.careless
async def test_a_caller_that_cancels_many_waits_midway_leaves_nothing_running(
    world: Emulator, alice: SpaceClient
) -> None:
    """Cancelled while every wait still polls: the cancellation is the caller's own (no
    ExceptionGroup, no error of ours), no wait goes on polling, and the client still works."""
    for space in ("alice/plain", "alice/slow"):
        world.world.configure(space, build_seconds=3600)
        world.world.restart("alice", space)

    def ours() -> int:  # the tasks on this loop but the emulator's connection handlers
        return sum("RequestHandler" not in repr(t.get_coro()) for t in asyncio.all_tasks())

    tasks_before = ours()
    with anyio.move_on_after(0.05) as scope:
        await alice.wait_for_spaces(["alice/plain", "alice/slow"], timeout=None)
    assert scope.cancelled_caught
    assert ours() == tasks_before
    requests = alice.stats.requests
    await anyio.sleep(0.05)  # 50 Hub seconds at the world's speed: a leftover wait would poll
    assert alice.stats.requests == requests
    assert (await alice.get_space_runtime("alice/plain")).stage.endswith("BUILDING")  # still usable

"""Everything the official client 2.x does with a Space (issue 14): volumes, creating and
deleting a Space, the ``protected`` visibility, the ZeroGPU quota, hot reloading and the
newest flavors. The wire without I/O, the client against a recording server, and the
client against the emulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
import pytest
from helpers import client_for
from hypothesis import given, settings
from hypothesis import strategies as st

from aiospace import (
    AuthenticationError,
    BadRequestError,
    Cadence,
    ConflictError,
    InvalidArgumentError,
    PermissionDeniedError,
    ScaledClock,
    SpaceClient,
    SpaceHardware,
    SpaceNotFoundError,
    SpaceRuntime,
    SpaceStage,
    TransportError,
    Volume,
)
from aiospace._http.repos import CONFLICT_ATTEMPTS
from aiospace._hub import requests as req
from aiospace._hub.convert import converter, structure
from aiospace.emulator import Emulator
from aiospace.emulator.state import HARDWARE
from aiospace.models import CreatedSpace, DuplicatedSpace, SpaceHotReloading, VolumeType, ZeroGpuQuota

if TYPE_CHECKING:
    from conftest import RecordingHub

TOKEN = "hf_ISSUE14token0123456789"
REPO = "user/my-space"
CONFLICTING = "Cannot create repo: another conflicting operation is in progress"
MODEL = Volume("model", "user/my-model", "/models")
BUCKET = Volume("bucket", "user/my-bucket", "/data", path="sub")


# --------------------------------------------------------------------------- models


def test_volume_type_equals_its_wire_string_and_tolerates_new_ones() -> None:
    assert Volume("model", "a/b", "/m") == Volume(VolumeType.MODEL, "a/b", "/m")
    assert Volume("model", "a/b", "/m").type is VolumeType.MODEL
    future = Volume("lake", "a/b", "/m")
    assert future.type == "lake" and isinstance(future.type, VolumeType)
    assert not future.type.is_known
    assert VolumeType.BUCKET.is_known


def test_newest_flavors_are_known_and_priced_in_the_emulator() -> None:
    for name in ("rtx-pro-6000", "rtx-pro-6000x2", "rtx-pro-6000x4", "rtx-pro-6000x8"):
        assert SpaceHardware(name).is_known
        assert not SpaceHardware(name).is_free
        assert HARDWARE[name].unit_cost_micro_usd > 0
    # Every flavor aiospace knows is in the emulator's catalogue, and the reverse.
    assert {m.value for m in SpaceHardware} == set(HARDWARE)
    prices = [HARDWARE[f"rtx-pro-6000{s}"].unit_cost_micro_usd for s in ("", "x2", "x4", "x8")]
    assert prices == sorted(prices)


# --------------------------------------------------------------------------- requests, without I/O


def test_volume_requests() -> None:
    request = req.set_space_volumes(REPO, [MODEL, BUCKET, Volume("dataset", "gpt2", "/d", revision="v1")])
    assert (request.method, request.path) == ("PUT", f"/api/spaces/{REPO}/volumes")
    assert request.body() == (
        b'{"volumes":[{"type":"model","source":"user/my-model","mountPath":"/models"},'
        b'{"type":"bucket","source":"user/my-bucket","mountPath":"/data","path":"sub"},'
        b'{"type":"dataset","source":"gpt2","mountPath":"/d","revision":"v1"}]}'
    )
    assert not request.is_read
    deleted = req.delete_space_volumes(REPO)
    assert (deleted.method, deleted.path, deleted.body()) == ("DELETE", f"/api/spaces/{REPO}/volumes", None)


def test_create_and_delete_requests() -> None:
    created = req.create_space(REPO, sdk="gradio")
    assert (created.method, created.path, created.repo_id) == ("POST", "/api/repos/create", REPO)
    assert created.body() == b'{"name":"my-space","organization":"user","type":"space","sdk":"gradio"}'
    full = req.create_space(
        "org/app",
        sdk="docker",
        visibility="protected",
        hardware="rtx-pro-6000",
        sleep_time=600,
        secrets=[{"key": "K", "value": "topsecret"}],
        variables=[{"key": "V", "value": "v", "description": "d"}],
        volumes=[BUCKET],
    )
    assert list(json.loads(full.body() or b"")) == [
        "name",
        "organization",
        "visibility",
        "type",
        "sdk",
        "hardware",
        "sleepTimeSeconds",
        "secrets",
        "variables",
        "volumes",
    ]
    assert full.sensitive and "topsecret" not in repr(full)
    assert json.loads(req.create_space(REPO, sdk="static", private=True).body() or b"")["visibility"] == (
        "private"
    )
    assert "volumes" not in json.loads(req.create_space(REPO, sdk="static", volumes=[]).body() or b"")
    deleted = req.delete_space(REPO)
    assert (deleted.method, deleted.path) == ("DELETE", "/api/repos/delete")
    assert deleted.body() == b'{"name":"my-space","organization":"user","type":"space"}'
    quota = req.get_zero_gpu_quota()
    assert (quota.method, quota.path, quota.body(), quota.is_read) == (
        "GET",
        "/api/spaces/zero-gpu/quota",
        None,
        True,
    )


def test_duplicate_takes_visibility_and_volumes() -> None:
    request = req.duplicate_space(REPO, "me/copy", visibility="protected", volumes=[MODEL])
    assert json.loads(request.body() or b"") == {
        "repository": "me/copy",
        "visibility": "protected",
        "volumes": [{"type": "model", "source": "user/my-model", "mountPath": "/models"}],
    }


def test_bodies_are_utf8_like_the_official_client_and_survive_lone_surrogates() -> None:
    request = req.add_space_variable(REPO, "K", "héllo ✓")
    assert request.body() == '{"key":"K","value":"héllo ✓"}'.encode()
    odd = req.add_space_variable(REPO, "K", "a\ud800b")
    assert odd.body() == b'{"key":"K","value":"a\\ud800b"}'


BAD_BUILDS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "mount-relative",
        lambda: req.set_space_volumes(REPO, [Volume("model", "a/b", "data")]),
        "volumes[0].mount_path",
    ),
    (
        "mount-not-str",
        lambda: req.set_space_volumes(REPO, [Volume("model", "a/b", 5)]),
        "volumes[0].mount_path",
    ),  # type: ignore[arg-type]
    (
        "type-unknown",
        lambda: req.set_space_volumes(REPO, [Volume("weights", "a/b", "/w")]),
        "volumes[0].type",
    ),
    ("type-none", lambda: req.set_space_volumes(REPO, [Volume(None, "a/b", "/w")]), "volumes[0].type"),
    (
        "source-bad",
        lambda: req.set_space_volumes(REPO, [Volume("model", "a/b/c", "/m")]),
        "volumes[0].source",
    ),
    (
        "source-empty",
        lambda: req.set_space_volumes(REPO, [Volume("model", "", "/m")]),
        "volumes[0].source",
    ),
    (
        "bucket-revision",
        lambda: req.set_space_volumes(REPO, [Volume("bucket", "a/b", "/m", revision="main")]),
        "volumes[0].revision",
    ),
    (
        "read-only-str",
        lambda: req.set_space_volumes(REPO, [Volume("model", "a/b", "/m", read_only="yes")]),  # type: ignore[arg-type]
        "volumes[0].read_only",
    ),
    (
        "path-empty",
        lambda: req.set_space_volumes(REPO, [Volume("model", "a/b", "/m", path="")]),
        "volumes[0].path",
    ),
    (
        "same-mount",
        lambda: req.set_space_volumes(REPO, [MODEL, Volume("space", "c/d", "/models/")]),
        "volumes",
    ),
    ("not-a-list", lambda: req.set_space_volumes(REPO, MODEL), "volumes"),  # type: ignore[arg-type]
    ("not-a-volume", lambda: req.set_space_volumes(REPO, ["model:a/b:/m"]), "volumes[0]"),  # type: ignore[list-item]
    (
        "mapping-unknown-key",
        lambda: req.set_space_volumes(REPO, [{"type": "model", "source": "a/b", "mountPath": "/m"}]),  # type: ignore[list-item]
        "volumes[0]",
    ),
    (
        "mapping-missing-key",
        lambda: req.set_space_volumes(REPO, [{"type": "model", "source": "a/b"}]),  # type: ignore[list-item]
        "volumes[0]",
    ),
    ("bad-repo", lambda: req.set_space_volumes("nope", [MODEL]), "repo_id"),
    ("sdk-bad", lambda: req.create_space(REPO, sdk="flask"), "sdk"),
    ("sdk-none", lambda: req.create_space(REPO, sdk=None), "sdk"),  # type: ignore[arg-type]
    ("visibility-bad", lambda: req.create_space(REPO, sdk="gradio", visibility="secret"), "visibility"),
    (
        "both",
        lambda: req.create_space(REPO, sdk="gradio", private=True, visibility="private"),
        "visibility",
    ),
    ("private-str", lambda: req.create_space(REPO, sdk="gradio", private="yes"), "private"),  # type: ignore[arg-type]
    ("create-repo", lambda: req.create_space("just-a-name", sdk="gradio"), "repo_id"),
    ("create-flavor", lambda: req.create_space(REPO, sdk="gradio", hardware="NOPE!"), "hardware"),
    ("create-sleep", lambda: req.create_space(REPO, sdk="gradio", sleep_time=-5), "sleep_time"),
    ("create-secret", lambda: req.create_space(REPO, sdk="gradio", secrets=[{"key": "1"}]), "secrets"),
    (
        "create-volume",
        lambda: req.create_space(REPO, sdk="gradio", volumes=[Volume("x", "a/b", "/m")]),
        "volumes[0].type",
    ),
    ("delete-repo", lambda: req.delete_space("a/b/c"), "repo_id"),
    ("dup-visibility", lambda: req.duplicate_space(REPO, "me/x", visibility="hidden"), "visibility"),
    (
        "dup-volume",
        lambda: req.duplicate_space(REPO, "me/x", volumes=[Volume("model", "a/b", "m")]),
        "volumes[0].mount_path",
    ),
]


@pytest.mark.parametrize(("build", "argument"), [b[1:] for b in BAD_BUILDS], ids=[b[0] for b in BAD_BUILDS])
def test_bad_arguments_are_refused_by_name(build: Callable[[], Any], argument: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        build()
    assert info.value.argument == argument


def test_volumes_may_be_given_as_mappings_of_their_fields() -> None:
    request = req.set_space_volumes(REPO, [{"type": "bucket", "source": "a/b", "mount_path": "/b"}])  # type: ignore[list-item]
    assert json.loads(request.body() or b"") == {
        "volumes": [{"type": "bucket", "source": "a/b", "mountPath": "/b"}]
    }


# --------------------------------------------------------------------------- answers, without I/O


def test_runtime_with_volumes_and_hot_reloading() -> None:
    data = {
        "stage": "RUNNING",
        "hardware": {"current": "rtx-pro-6000x4", "requested": "rtx-pro-6000x4"},
        "volumes": [
            {"type": "model", "source": "user/m", "mountPath": "/m", "readOnly": True, "revision": "main"},
            {"type": "bucket", "source": "user/b", "mountPath": "/b", "readOnly": False, "path": "x"},
            {"source": "gpt2", "mountPath": "/g"},  # no type: a model, as the official client reads it
            {"type": "lake", "source": "user/l", "mountPath": "/l"},
        ],
        "hotReloading": {"status": "created", "replicaStatuses": [["r1", "done"], ["r2", None]]},
    }
    runtime = converter.structure(data, SpaceRuntime)
    assert runtime.hardware is SpaceHardware.RTX_PRO_6000X4
    assert runtime.volumes == (
        Volume("model", "user/m", "/m", revision="main", read_only=True),
        Volume("bucket", "user/b", "/b", read_only=False, path="x"),
        Volume("model", "gpt2", "/g"),
        Volume("lake", "user/l", "/l"),
    )
    assert runtime.volumes is not None and not runtime.volumes[3].type.is_known
    assert runtime.hot_reloading == SpaceHotReloading("created", (("r1", "done"), ("r2", None)))
    plain = converter.structure({"stage": "RUNNING"}, SpaceRuntime)
    assert plain.volumes is None and plain.hot_reloading is None
    assert converter.structure({"stage": "RUNNING", "volumes": []}, SpaceRuntime).volumes == ()


def test_odd_volumes_and_hot_reloading_never_fail_the_runtime() -> None:
    data = {
        "stage": "RUNNING",
        "volumes": [
            None,
            3,
            "x",
            {},
            {"source": 1, "mountPath": "/a"},
            {"type": 2, "source": "a", "mountPath": "/a"},
            {"type": "model", "source": "a/b", "mountPath": "/ok", "readOnly": "yes", "revision": 4},
        ],
        "hotReloading": {"status": 7, "replicaStatuses": [None, [], ["only-id"], [1, 2], "x"]},
    }
    runtime = converter.structure(data, SpaceRuntime)
    assert runtime.volumes == (Volume("model", "a/b", "/ok"),)
    assert runtime.hot_reloading == SpaceHotReloading(None, (("only-id", None), ("1", "2")))
    assert runtime.raw is data  # structured from a dict (no bytes): the dict itself
    odd = converter.structure({"stage": "RUNNING", "volumes": {"a": 1}, "hotReloading": []}, SpaceRuntime)
    assert odd.volumes is None and odd.hot_reloading is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(json_values, json_values)
def test_any_json_under_volumes_or_hot_reloading_parses(volumes: Any, hot: Any) -> None:
    runtime = converter.structure(
        {"stage": "BUILDING", "volumes": volumes, "hotReloading": hot}, SpaceRuntime
    )
    assert runtime.stage is SpaceStage.BUILDING
    assert runtime.volumes is None or all(isinstance(v, Volume) for v in runtime.volumes)


def test_zero_gpu_quota_answers() -> None:
    request = req.get_zero_gpu_quota()
    quota = structure(
        {"base": 2400, "current": 1810, "resetsAt": "2026-09-30T09:12:03.000Z", "overquotaUsed": 0},
        ZeroGpuQuota,
        request,
    )
    assert quota == ZeroGpuQuota(2400, 1810, datetime(2026, 9, 30, 9, 12, 3, tzinfo=timezone.utc), 0)
    fresh = structure({"base": 300.5, "current": 300.5, "resetsAt": None}, ZeroGpuQuota, request)
    assert (fresh.resets_at, fresh.overquota_used) == (None, None)
    assert structure({"base": 1, "current": 0, "resetsAt": "soon"}, ZeroGpuQuota, request).resets_at is None
    for bad in ({"base": 1}, {"base": True, "current": 1}, {"base": "1", "current": 1}, [], None):
        with pytest.raises(TransportError):
            structure(bad, ZeroGpuQuota, request)


# --------------------------------------------------------------------------- the client, recording server


@pytest.fixture
async def client(hub: RecordingHub) -> AsyncIterator[SpaceClient]:
    async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=ScaledClock(10000), seed=1) as c:
        yield c


async def test_create_retries_a_conflicting_operation(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("POST", "/api/repos/create", 409, {"error": CONFLICTING}, times=2)
    hub.answer("POST", "/api/repos/create", 200, {"url": f"{hub.url}/spaces/{REPO}"})
    created = await client.create_space(REPO, sdk="gradio")
    assert created == CreatedSpace(REPO, f"{hub.url}/spaces/{REPO}")
    assert len(hub.requests) == 3
    assert len({r.body for r in hub.requests}) == 1
    assert client.stats.retries == 2


async def test_create_gives_up_on_an_endless_conflict(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("POST", "/api/repos/create", 409, {"error": CONFLICTING})
    with pytest.raises(ConflictError):
        await client.create_space(REPO, sdk="gradio", exist_ok=True)
    assert len(hub.requests) == CONFLICT_ATTEMPTS


async def test_create_exist_ok_as_the_official_client(hub: RecordingHub, client: SpaceClient) -> None:
    exists = {"error": "You already created this space repo", "url": f"{hub.url}/spaces/{REPO}"}
    hub.answer("POST", "/api/repos/create", 409, exists)
    with pytest.raises(ConflictError):
        await client.create_space(REPO, sdk="gradio")
    assert await client.create_space(REPO, sdk="gradio", exist_ok=True) == CreatedSpace(
        REPO, f"{hub.url}/spaces/{REPO}"
    )
    assert len(hub.requests) == 2  # a plain 409 is not retried


async def test_create_exist_ok_on_a_refusal_reads_the_space(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("POST", "/api/repos/create", 403, {"error": "no rights on org"})
    hub.answer("GET", "/api/spaces/org/app", 200, {"id": "org/app"})
    assert (await client.create_space("org/app", sdk="gradio", exist_ok=True)).repo_id == "org/app"
    with pytest.raises(PermissionDeniedError):  # without exist_ok: the refusal itself
        await client.create_space("org/app", sdk="gradio")
    with pytest.raises(PermissionDeniedError):  # exist_ok, but the Space can't be read: the refusal
        await client.create_space("org/other", sdk="gradio", exist_ok=True)
    assert [r.path for r in hub.requests][-2:] == ["/api/repos/create", "/api/spaces/org/other"]


async def test_delete_missing_ok_and_unread_answers(hub: RecordingHub, client: SpaceClient) -> None:
    with pytest.raises(SpaceNotFoundError) as missing:
        await client.delete_space(REPO)
    assert missing.value.repo_id == REPO
    assert await client.delete_space(REPO, missing_ok=True) is None
    # Answers the official client never reads can't fail the call, whatever they hold.
    hub.answer("DELETE", "/api/repos/delete", 200, body=b"OK")
    hub.answer("PUT", f"/api/spaces/{REPO}/volumes", 200, body=b"<html>")
    hub.answer("DELETE", f"/api/spaces/{REPO}/volumes", 200, body=b"")
    assert await client.delete_space(REPO) is None
    assert await client.set_space_volumes(REPO, [MODEL]) is None
    assert await client.delete_space_volumes(REPO) is None


async def test_volume_refusals_are_typed(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("DELETE", f"/api/spaces/{REPO}/volumes", 400, {"error": "Space has no volumes"})
    with pytest.raises(BadRequestError, match="no volumes"):
        await client.delete_space_volumes(REPO)


async def test_zero_gpu_quota_needs_a_token_and_a_readable_answer(
    hub: RecordingHub, client: SpaceClient
) -> None:
    hub.answer("GET", "/api/spaces/zero-gpu/quota", 401, {"error": "Invalid credentials"})
    hub.answer("GET", "/api/spaces/zero-gpu/quota", 200, {"base": 10})
    with pytest.raises(AuthenticationError):
        await client.get_zero_gpu_quota()
    with pytest.raises(TransportError, match="ZeroGpuQuota"):
        await client.get_zero_gpu_quota()


async def test_duplicate_answer_says_whether_files_are_still_copied(
    hub: RecordingHub, client: SpaceClient
) -> None:
    for answer in (
        {"url": "u", "filesCopyPending": True},
        {"url": "u"},
        {"url": "u", "filesCopyPending": "yes"},
    ):
        hub.answer("POST", f"/api/spaces/{REPO}/duplicate", 200, answer)
    assert await client.duplicate_space(REPO, "a/b") == DuplicatedSpace("a/b", "u", True)
    assert (await client.duplicate_space(REPO, "a/b")).files_copy_pending is False
    assert (await client.duplicate_space(REPO, "a/b")).files_copy_pending is False


async def test_duplicate_exist_ok_and_pending_files(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("POST", f"/api/spaces/{REPO}/duplicate", 409, {"error": "exists", "url": "x"})
    assert await client.duplicate_space(REPO, "me/copy", exist_ok=True) == DuplicatedSpace(
        "me/copy", f"{hub.url}/spaces/me/copy", False, existed=True
    )


CLIENT_BAD: list[tuple[str, Callable[[SpaceClient], Awaitable[Any]], str]] = [
    (
        "volumes-mount",
        lambda c: c.set_space_volumes(REPO, [Volume("model", "a/b", "rel")]),
        "volumes[0].mount_path",
    ),
    (
        "volumes-type",
        lambda c: c.set_space_volumes(REPO, [Volume("weights", "a/b", "/w")]),
        "volumes[0].type",
    ),
    ("create-sdk", lambda c: c.create_space(REPO, sdk="flask"), "sdk"),
    ("create-visibility", lambda c: c.create_space(REPO, sdk="gradio", visibility="internal"), "visibility"),
    (
        "create-volume",
        lambda c: c.create_space(REPO, sdk="gradio", volumes=[Volume("model", "a/b", "m")]),
        "volumes[0].mount_path",
    ),
    ("delete-repo", lambda c: c.delete_space("no-namespace"), "repo_id"),
    ("delete-volumes-repo", lambda c: c.delete_space_volumes("a/b/c"), "repo_id"),
    ("dup-visibility", lambda c: c.duplicate_space(REPO, visibility="everyone"), "visibility"),
    (
        "dup-volume-type",
        lambda c: c.duplicate_space(REPO, volumes=[Volume("disk", "a/b", "/d")]),
        "volumes[0].type",
    ),
    ("dup-both", lambda c: c.duplicate_space(REPO, private=True, visibility="public"), "visibility"),
]


@pytest.mark.parametrize(("call", "argument"), [b[1:] for b in CLIENT_BAD], ids=[b[0] for b in CLIENT_BAD])
async def test_bad_arguments_fail_before_any_request(
    hub: RecordingHub, client: SpaceClient, call: Callable[[SpaceClient], Awaitable[Any]], argument: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        await call(client)
    assert info.value.argument == argument
    assert hub.requests == []
    assert client.stats.requests == 0


# --------------------------------------------------------------------------- against the emulator


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    seed = {
        "users": {"alice": "hf_alice", "bob": "hf_bob", "carol": "hf_carol"},
        "orgs": {"acme": ["alice"]},
        "spaces": [
            {"id": "alice/demo", "sdk": "gradio"},
            {"id": "alice/static-site", "sdk": "static"},
            {"id": "alice/private-app", "sdk": "gradio", "private": True},
            {"id": "bob/tool", "sdk": "docker"},
        ],
    }
    async with Emulator(speed=1000, seed=seed) as emulator:
        yield emulator


@pytest.fixture
async def alice(emu: Emulator) -> AsyncIterator[SpaceClient]:
    async with client_for(emu, "alice", seed=1) as client:
        yield client


@pytest.fixture
async def bob(emu: Emulator) -> AsyncIterator[SpaceClient]:
    async with client_for(emu, "bob", seed=1) as client:
        yield client


async def test_volumes_are_stored_shown_and_rebuild(
    emu: Emulator, alice: SpaceClient, bob: SpaceClient
) -> None:
    await alice.set_space_volumes(
        "alice/demo", [MODEL, BUCKET, Volume("dataset", "bob/data", "/ds", read_only=False)]
    )
    runtime = await alice.get_space_runtime("alice/demo")
    assert runtime.stage is SpaceStage.RUNNING_BUILDING
    # Repositories are always mounted read-only; a bucket is writable unless asked otherwise.
    assert runtime.volumes == (
        Volume("model", "user/my-model", "/models", read_only=True),
        Volume("bucket", "user/my-bucket", "/data", read_only=False, path="sub"),
        Volume("dataset", "bob/data", "/ds", read_only=True),
    )
    assert [e.reason for e in emu.world.events_for("alice/demo")][-1] == "volumes changed"
    with anyio.fail_after(10):
        settled = await alice.wait_for_space("alice/demo")
    assert settled.volumes == runtime.volumes
    # The same volumes again: nothing changes, nothing rebuilds.
    events = len(emu.world.events_for("alice/demo"))
    await alice.set_space_volumes("alice/demo", [MODEL, BUCKET, Volume("dataset", "bob/data", "/ds")])
    assert len(emu.world.events_for("alice/demo")) == events
    info = await alice.space_info("alice/demo", expand=["runtime"])
    assert info.runtime is not None and info.runtime.volumes == runtime.volumes
    await alice.delete_space_volumes("alice/demo")
    after = await alice.get_space_runtime("alice/demo")
    assert after.volumes is None and after.stage is SpaceStage.RUNNING_BUILDING
    with pytest.raises(BadRequestError, match="no volumes"):
        await alice.delete_space_volumes("alice/demo")
    with pytest.raises(BadRequestError, match="static"):
        await alice.set_space_volumes("alice/static-site", [MODEL])
    with pytest.raises(PermissionDeniedError):
        await bob.set_space_volumes("alice/demo", [MODEL])
    with pytest.raises(SpaceNotFoundError):
        await bob.delete_space_volumes("alice/private-app")
    await alice.set_space_volumes("alice/demo", [MODEL])
    await alice.set_space_volumes("alice/demo", [])  # an empty list unmounts them all
    assert (await alice.get_space_runtime("alice/demo")).volumes is None


async def test_emulator_refuses_bad_volume_bodies(emu: Emulator) -> None:
    headers = emu.headers_for("alice")
    url = f"{emu.url}/api/spaces/alice/demo/volumes"
    bad_bodies: list[Any] = [
        {},
        {"volumes": "x"},
        {"volumes": [{"type": "model", "source": "a/b"}]},
        {"volumes": [{"type": "weights", "source": "a/b", "mountPath": "/m"}]},
        {"volumes": [{"type": "model", "source": "a/b", "mountPath": "m"}]},
        {"volumes": [{"type": "model", "source": "a/b/c", "mountPath": "/m"}]},
        {"volumes": [{"type": "bucket", "source": "a/b", "mountPath": "/m", "revision": "main"}]},
        {"volumes": [{"type": "model", "source": "a/b", "mountPath": "/m", "readOnly": "yes"}]},
        {"volumes": [{"type": "model", "source": "a/b", "mountPath": "/m", "extra": 1}]},
        {
            "volumes": [
                {"type": "model", "source": "a/b", "mountPath": "/m"},
                {"type": "space", "source": "c/d", "mountPath": "/m"},
            ]
        },
    ]
    async with aiohttp.ClientSession() as http:
        for body in bad_bodies:
            async with http.put(url, json=body, headers=headers) as resp:
                assert resp.status == 400, body
                assert "error" in await resp.json()
    assert emu.world.space("alice/demo").volumes == []


async def test_create_builds_a_space_on_the_emulators_origin(emu: Emulator, alice: SpaceClient) -> None:
    created = await alice.create_space(
        "alice/new-app",
        sdk="gradio",
        hardware="t4-small",
        sleep_time=3600,
        secrets=[{"key": "API_KEY", "value": "s3cret"}],
        variables=[{"key": "MODEL", "value": "gpt2", "description": "which"}],
        volumes=[MODEL],
    )
    assert created == CreatedSpace("alice/new-app", f"{emu.url}/spaces/alice/new-app")
    first = await alice.get_space_runtime("alice/new-app")
    assert first.stage is SpaceStage.BUILDING and first.requested_hardware is SpaceHardware.T4_SMALL
    assert first.sleep_time == 3600 and first.volumes == (
        Volume("model", "user/my-model", "/models", read_only=True),
    )
    with anyio.fail_after(10):
        running = await alice.wait_for_space("alice/new-app", hardware="t4-small")
    assert running.hardware is SpaceHardware.T4_SMALL
    space = emu.world.space("alice/new-app")
    assert space.secrets["API_KEY"].value == "s3cret"
    assert (await alice.get_space_variables("alice/new-app"))["MODEL"].description == "which"
    assert space.visibility == "public"
    info = await alice.space_info("alice/new-app")
    assert (info.sdk, info.private) == ("gradio", False)


async def test_create_refusals_and_exist_ok(emu: Emulator, alice: SpaceClient, bob: SpaceClient) -> None:
    with pytest.raises(ConflictError, match="already created"):
        await alice.create_space("alice/demo", sdk="gradio")
    assert (
        await alice.create_space("alice/demo", sdk="gradio", exist_ok=True)
    ).url == f"{emu.url}/spaces/alice/demo"
    with pytest.raises(PermissionDeniedError):
        await bob.create_space("alice/bobs", sdk="gradio")
    # bob can't create in alice's namespace; exist_ok reads the Space, and it is there.
    assert (await bob.create_space("alice/demo", sdk="gradio", exist_ok=True)).repo_id == "alice/demo"
    with pytest.raises(PermissionDeniedError):
        await bob.create_space("alice/private-app", sdk="gradio", exist_ok=True)  # hidden from bob
    with pytest.raises(BadRequestError, match="static"):
        await alice.create_space("alice/static-vol", sdk="static", volumes=[MODEL])
    async with client_for(emu) as anonymous:
        with pytest.raises(AuthenticationError):
            await anonymous.create_space("alice/anon", sdk="gradio")
    assert not {"alice/bobs", "alice/static-vol", "alice/anon"} & set(emu.world.spaces)
    # A member creates in the organization's namespace.
    assert (await alice.create_space("acme/tool", sdk="docker", private=True)).repo_id == "acme/tool"
    with pytest.raises(SpaceNotFoundError):
        await bob.get_space_runtime("acme/tool")


async def test_create_static_builds_nothing(emu: Emulator, alice: SpaceClient) -> None:
    await alice.create_space("alice/site", sdk="static", hardware="t4-small")
    runtime = await alice.get_space_runtime("alice/site")
    assert (runtime.stage, runtime.hardware, runtime.requested_hardware) == (SpaceStage.RUNNING, None, None)
    assert [e.stage for e in emu.world.events_for("alice/site")] == ["RUNNING"]
    assert len(emu.world.space("alice/site").build_log) == 0


async def test_protected_spaces(emu: Emulator, alice: SpaceClient, bob: SpaceClient) -> None:
    await alice.create_space("alice/shown", sdk="gradio", visibility="protected")
    assert emu.world.space("alice/shown").visibility == "protected"
    # The app of a protected Space is public: its runtime and info read as a public Space's.
    assert (await bob.get_space_runtime("alice/shown")).stage is SpaceStage.BUILDING
    assert (await bob.space_info("alice/shown")).private is False
    with pytest.raises(PermissionDeniedError):
        await bob.restart_space("alice/shown")
    copy = await alice.duplicate_space("alice/demo", "alice/copy", visibility="protected", volumes=[BUCKET])
    assert copy == DuplicatedSpace("alice/copy", f"{emu.url}/spaces/alice/copy", False)
    assert emu.world.space("alice/copy").visibility == "protected"
    assert (await alice.get_space_runtime("alice/copy")).volumes == (
        Volume("bucket", "user/my-bucket", "/data", read_only=False, path="sub"),
    )
    # Without visibility, a copy keeps the source's; without volumes, it mounts the source's.
    await alice.set_space_volumes("alice/shown", [MODEL])
    again = await alice.duplicate_space("alice/shown", "acme/shown")
    assert emu.world.space("acme/shown").visibility == "protected"
    assert (await alice.get_space_runtime(again.repo_id)).volumes == (
        Volume("model", "user/my-model", "/models", read_only=True),
    )
    await alice.duplicate_space("alice/shown", "alice/hidden", private=True)
    assert emu.world.space("alice/hidden").visibility == "private"


async def test_delete_ends_the_space_and_its_watches(
    emu: Emulator, alice: SpaceClient, bob: SpaceClient
) -> None:
    with pytest.raises(PermissionDeniedError):
        await bob.delete_space("alice/demo")
    with pytest.raises(SpaceNotFoundError):
        await bob.delete_space("alice/private-app")  # hidden: 404, never 403
    assert "alice/private-app" in emu.world.spaces
    seen: list[SpaceStage] = []
    with pytest.raises(SpaceNotFoundError) as gone:
        with anyio.fail_after(10):
            async for transition in alice.watch("alice/demo"):
                seen.append(transition.current.stage)
                await alice.delete_space("alice/demo")
    assert seen == [SpaceStage.RUNNING]
    assert gone.value.repo_id == "alice/demo"
    assert "alice/demo" not in emu.world.spaces
    assert emu.world.events_for("alice/demo")[-1].stage == "DELETING"
    with pytest.raises(SpaceNotFoundError):
        await alice.delete_space("alice/demo")
    await alice.delete_space("alice/demo", missing_ok=True)
    # A Watcher that drops Spaces gone for good keeps their error and goes on.
    await alice.create_space("alice/short-lived", sdk="static")
    cadence = Cadence(fast=1.0, slow=2.0)
    async with alice.watcher(on_permanent_error="drop", batch=False, cadence=cadence) as watcher:
        watcher.add("alice/short-lived", "alice/static-site")
        with anyio.fail_after(10):
            async for transition in watcher:
                if transition.repo_id == "alice/short-lived":
                    break
            await alice.delete_space("alice/short-lived")
            for _ in range(1000):  # the watcher drops it on its next poll
                if "alice/short-lived" in watcher.errors:
                    break
                await anyio.sleep(0.01)
        assert "alice/short-lived" not in watcher.spaces
        assert "alice/static-site" in watcher.spaces
    assert isinstance(watcher.errors["alice/short-lived"], SpaceNotFoundError)


async def test_delete_body_refusals(emu: Emulator) -> None:
    headers = emu.headers_for("alice")
    async with aiohttp.ClientSession() as http:
        for body, status in [
            ({"name": "demo", "organization": "alice", "type": "model"}, 404),
            ({"name": "demo", "organization": "alice", "type": "banana"}, 400),
            ({"organization": "alice", "type": "space"}, 400),
            ({"name": "demo", "organization": 3, "type": "space"}, 400),
            ({"name": "demo", "type": "space", "extra": 1}, 400),
        ]:
            async with http.delete(f"{emu.url}/api/repos/delete", json=body, headers=headers) as resp:
                assert resp.status == status, body
        # No organization: the caller's own namespace.
        async with http.delete(
            f"{emu.url}/api/repos/delete",
            json={"name": "demo", "organization": None, "type": "space"},
            headers=headers,
        ) as resp:
            assert resp.status == 200
    assert "alice/demo" not in emu.world.spaces


async def test_create_body_refusals(emu: Emulator) -> None:
    headers = emu.headers_for("alice")
    base = {"name": "x", "organization": "alice", "type": "space", "sdk": "gradio"}
    async with aiohttp.ClientSession() as http:
        for change, status in [
            ({"type": None}, 400),
            ({"type": "model"}, 400),
            ({"sdk": None}, 400),
            ({"sdk": "flask"}, 400),
            ({"visibility": "internal"}, 400),
            ({"private": "yes"}, 400),
            ({"hardware": "warp-drive"}, 400),
            ({"sleepTimeSeconds": -7}, 400),
            ({"secrets": {"K": "V"}}, 400),
            ({"volumes": [{"type": "model"}]}, 400),
            ({"template": 5}, 400),
            ({"unknown": 1}, 400),
            ({"name": "a/b"}, 400),
        ]:
            body = {k: v for k, v in {**base, **change}.items() if v is not None or k == "sdk"}
            async with http.post(f"{emu.url}/api/repos/create", json=body, headers=headers) as resp:
                assert resp.status == status, change
        async with http.post(f"{emu.url}/api/repos/create", json={**base, "organization": None}) as resp:
            assert resp.status == 401
        async with http.post(
            f"{emu.url}/api/repos/create",
            json={**base, "organization": None, "private": True},
            headers=headers,
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["url"] == f"{emu.url}/spaces/alice/x"
    assert emu.world.space("alice/x").private
    assert list(emu.world.spaces).count("alice/x") == 1


async def test_zero_gpu_quota_per_user(emu: Emulator, alice: SpaceClient, bob: SpaceClient) -> None:
    fresh = await alice.get_zero_gpu_quota()
    assert fresh == ZeroGpuQuota(2400, 2400, None, 0)
    emu.world.set_zero_gpu_quota("alice", use=600)
    used = await alice.get_zero_gpu_quota()
    assert (used.base, used.remaining, used.overquota_used) == (2400, 1800, 0)
    assert used.resets_at is not None and used.resets_at > emu.world.wall()
    assert (await bob.get_zero_gpu_quota()).remaining == 2400  # per user
    emu.world.set_zero_gpu_quota("alice", use=2000)
    over = await alice.get_zero_gpu_quota()
    assert (over.remaining, over.overquota_used, over.resets_at) == (0, 200, used.resets_at)
    emu.world.set_zero_gpu_quota("alice", resets_in=5)
    await emu.clock.sleep(6)
    assert await alice.get_zero_gpu_quota() == ZeroGpuQuota(2400, 2400, None, 0)
    async with client_for(emu) as anonymous:
        with pytest.raises(AuthenticationError):
            await anonymous.get_zero_gpu_quota()
    with pytest.raises(ValueError):
        emu.world.set_zero_gpu_quota("alice", use=-1)
    with pytest.raises(ValueError):
        emu.world.set_zero_gpu_quota("alice", bonus=1)


async def test_zero_gpu_admin_route(emu: Emulator, alice: SpaceClient) -> None:
    url = f"{emu.url}/_emulator/zero-gpu"
    async with aiohttp.ClientSession(headers=emu.admin_headers) as http:
        async with http.post(f"{url}/alice", json={"base": 300, "use": 100.5}) as resp:
            assert resp.status == 200
            answer = await resp.json()
        assert (answer["base"], answer["current"], answer["overquotaUsed"]) == (300, 199.5, 0)
        assert answer["resetsAt"].endswith("Z")
        async with http.get(f"{url}/alice") as resp:
            assert await resp.json() == answer
        for path, body, status in [
            ("/nobody", {"base": 1}, 404),
            ("/alice", {"base": -1}, 400),
            ("/alice", {"base": "lots"}, 400),
            ("/alice", {"bonus": 1}, 400),
            ("/alice", [], 400),
        ]:
            async with http.post(url + path, json=body) as resp:
                assert resp.status == status, (path, body)
    quota = await alice.get_zero_gpu_quota()
    assert (quota.base, quota.remaining) == (300, 199.5)


async def test_newest_flavor_runs_on_the_emulator(emu: Emulator, alice: SpaceClient) -> None:
    catalogue = {h.name: h for h in await alice.list_spaces_hardware()}
    assert catalogue[SpaceHardware.RTX_PRO_6000X8].cost_per_hour_usd == pytest.approx(24.0)
    assert catalogue[SpaceHardware.RTX_PRO_6000].accelerator is not None
    await alice.request_space_hardware("alice/demo", "rtx-pro-6000x2")
    with anyio.fail_after(10):
        runtime = await alice.wait_for_space("alice/demo", hardware="rtx-pro-6000x2")
    assert runtime.hardware is SpaceHardware.RTX_PRO_6000X2

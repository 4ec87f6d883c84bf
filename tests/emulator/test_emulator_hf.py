"""The official client (huggingface_hub) against the emulator, unchanged, from a worker thread."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from aiospace.emulator import Emulator

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi  # noqa: E402
from huggingface_hub.errors import (  # noqa: E402
    BadRequestError,
    HfHubHTTPError,
    RepositoryNotFoundError,
)

T = TypeVar("T")


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


def api(emu: Emulator, token: str | bool | None = "hf_alice") -> HfApi:
    return HfApi(endpoint=emu.url, token=token)


def status_of(err: HfHubHTTPError) -> int:
    assert err.response is not None
    return int(err.response.status_code)


@pytest.mark.aiospace_emulator(speed=500)
async def test_runtime_restart_and_wait(aiospace_emulator: Emulator) -> None:
    alice = api(aiospace_emulator)

    def scenario() -> list[Any]:
        runtime = alice.get_space_runtime("alice/demo")
        assert (runtime.stage, runtime.hardware, runtime.requested_hardware) == (
            "RUNNING",
            "cpu-basic",
            "cpu-basic",
        )
        assert runtime.sleep_time == 172800
        restarted = alice.restart_space("alice/demo")
        final = alice.wait_for_space("alice/demo", poll_interval=0.01, timeout=60)
        factory = alice.restart_space("alice/demo", factory_reboot=True)
        return [restarted, final, factory, alice.wait_for_space("alice/demo", poll_interval=0.01)]

    restarted, final, factory, again = await in_thread(scenario)
    assert restarted.stage == "RUNNING_BUILDING"
    assert final.stage == "RUNNING"
    assert factory.stage == "RUNNING_BUILDING"
    assert again.stage == "RUNNING"
    reasons = [e.reason for e in aiospace_emulator.world.events_for("alice/demo")]
    assert "factory reboot" in reasons


@pytest.mark.aiospace_emulator(speed=500)
async def test_hardware_sleep_time_pause_and_dev_mode(aiospace_emulator: Emulator) -> None:
    alice = api(aiospace_emulator)

    def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["hardware"] = alice.request_space_hardware("alice/gpu-app", "a10g-small", sleep_time=3600)
        out["converged"] = alice.wait_for_space("alice/gpu-app", poll_interval=0.01)
        out["sleep"] = alice.set_space_sleep_time("alice/gpu-app", 600)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out["free_sleep"] = alice.set_space_sleep_time("alice/demo", 600)
        out["warned"] = any("cpu-basic" in str(w.message) for w in caught)
        out["dev_on"] = alice.enable_space_dev_mode("alice/demo")
        out["dev_off"] = alice.disable_space_dev_mode("alice/demo")
        out["paused"] = alice.pause_space("alice/gpu-app")
        out["restarted"] = alice.restart_space("alice/gpu-app")
        out["back"] = alice.wait_for_space("alice/gpu-app", poll_interval=0.01)
        return out

    out = await in_thread(scenario)
    assert out["hardware"].requested_hardware == "a10g-small"
    assert out["hardware"].hardware == "t4-small"
    assert out["hardware"].sleep_time == 3600
    assert (out["converged"].stage, out["converged"].hardware) == ("RUNNING", "a10g-small")
    assert out["sleep"].sleep_time == 600
    assert out["free_sleep"].sleep_time == 172800  # free hardware: accepted, ignored
    assert out["warned"]
    assert out["dev_on"].dev_mode is True
    assert out["dev_off"].dev_mode is False
    assert (out["paused"].stage, out["paused"].hardware) == ("PAUSED", None)
    assert out["paused"].requested_hardware == "a10g-small"
    assert out["restarted"].stage == "BUILDING"
    assert (out["back"].stage, out["back"].hardware) == ("RUNNING", "a10g-small")


async def test_secrets_and_variables(aiospace_emulator: Emulator) -> None:
    alice = api(aiospace_emulator)

    def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        alice.add_space_secret("alice/demo", "TOKEN", "s3cret", description="a token")
        alice.add_space_secret("alice/demo", "OTHER", "x")
        alice.delete_space_secret("alice/demo", "OTHER")
        alice.delete_space_secret("alice/demo", "MISSING")
        out["secrets"] = alice.get_space_secrets("alice/demo")
        alice.add_space_variable("alice/demo", "MODEL", "gpt2", description="which model")
        out["variables"] = alice.add_space_variable("alice/demo", "SIZE", "small")
        out["after_delete"] = alice.delete_space_variable("alice/demo", "SIZE")
        out["listed"] = alice.get_space_variables("alice/demo")
        return out

    out = await in_thread(scenario)
    assert set(out["secrets"]) == {"TOKEN"}
    assert out["secrets"]["TOKEN"].description == "a token"
    assert out["secrets"]["TOKEN"].updated_at is not None
    assert set(out["variables"]) == {"MODEL", "SIZE"}
    assert set(out["after_delete"]) == {"MODEL"}
    assert out["listed"]["MODEL"].value == "gpt2"
    assert out["listed"]["MODEL"].description == "which model"
    # huggingface_hub 2.x has no storage calls any more: storage is covered over plain HTTP.


async def test_info_list_hardware_and_duplicate(aiospace_emulator: Emulator) -> None:
    alice = api(aiospace_emulator)
    anonymous = api(aiospace_emulator, token=False)

    def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["info"] = alice.space_info("alice/demo")
        out["expanded"] = anonymous.space_info("alice/demo", expand=["runtime", "sdk"])
        out["listed"] = list(anonymous.list_spaces(expand=["runtime"]))
        out["mine"] = list(alice.list_spaces(author="alice"))
        out["limited"] = list(anonymous.list_spaces(limit=2))
        out["hardware"] = alice.list_spaces_hardware()
        out["dup"] = alice.duplicate_repo("bob/tool", repo_type="space", space_hardware="cpu-upgrade")
        out["dup_again"] = alice.duplicate_repo("bob/tool", "alice/tool", repo_type="space", exist_ok=True)
        try:
            alice.duplicate_repo("bob/tool", "alice/tool", repo_type="space")
        except HfHubHTTPError as err:
            out["conflict"] = status_of(err)
        return out

    out = await in_thread(scenario)
    assert out["info"].id == "alice/demo"
    assert out["info"].sdk == "gradio"
    assert out["info"].runtime.stage == "RUNNING"
    assert out["expanded"].runtime.hardware == "cpu-basic"
    listed = {s.id: s for s in out["listed"]}
    assert set(listed) == {"alice/demo", "alice/gpu-app", "alice/static-site", "bob/tool"}
    assert all(s.runtime is not None for s in listed.values())
    assert listed["alice/static-site"].runtime.hardware is None
    assert "alice/private-app" in [s.id for s in out["mine"]]
    assert len(out["limited"]) == 2
    names = [h.name for h in out["hardware"]]
    assert names[0] == "cpu-basic"
    t4 = next(h for h in out["hardware"] if h.name == "t4-small")
    assert t4.accelerator is not None
    assert t4.accelerator.model == "T4"
    assert out["dup"].repo_id == "alice/tool"
    assert out["dup_again"].repo_id == "alice/tool"
    assert out["conflict"] == 409
    assert aiospace_emulator.world.spaces["alice/tool"].requested == "cpu-upgrade"


@pytest.mark.aiospace_emulator(speed=200)
async def test_logs_non_follow_return_promptly(aiospace_emulator: Emulator) -> None:
    alice = api(aiospace_emulator)

    def scenario() -> tuple[list[str], list[str]]:
        run = list(alice.fetch_space_logs("alice/demo"))
        build = list(alice.fetch_space_logs("alice/demo", build=True))
        return run, build

    # pytest-timeout guards this; the emulator's log streams write new lines often
    # enough that the client's own replay check ends a non-follow read at once.
    run, build = await asyncio.wait_for(in_thread(scenario), timeout=30)
    assert run[0].startswith("===== Application Startup")
    assert build[0].startswith("===== Build Queued")
    assert build[-1] == "--> Pushing image"


@pytest.mark.aiospace_emulator(
    speed=500,
    seed={"users": {"u": "hf_u"}, "spaces": [{"id": "u/bad", "fail_build": True, "build_seconds": 10}]},
)
async def test_failed_build_logs_and_followed_build(aiospace_emulator: Emulator) -> None:
    user = api(aiospace_emulator, token="hf_u")

    def scenario() -> tuple[Any, list[str], list[str]]:
        user.restart_space("u/bad")
        followed = list(user.fetch_space_logs("u/bad", build=True, follow=True))
        final = user.wait_for_space("u/bad", poll_interval=0.01)
        return final, followed, list(user.fetch_space_logs("u/bad", build=True))

    final, followed, replay = await in_thread(scenario)
    assert final.stage == "BUILD_ERROR"
    assert any("ERROR" in line for line in followed)
    assert replay == followed


async def test_errors_map_to_the_official_exceptions(aiospace_emulator: Emulator) -> None:
    alice = api(aiospace_emulator)
    bob = api(aiospace_emulator, token="hf_bob")
    anonymous = api(aiospace_emulator, token=False)
    bad = api(aiospace_emulator, token="hf_not_a_token")

    def raised(fn: Callable[[], Any]) -> Exception:
        try:
            fn()
        except Exception as err:
            return err
        raise AssertionError("no error")

    def scenario() -> list[Exception]:
        return [
            raised(lambda: alice.get_space_runtime("alice/missing")),
            raised(lambda: anonymous.get_space_runtime("alice/private-app")),
            raised(lambda: bob.space_info("alice/private-app")),
            raised(lambda: bob.pause_space("alice/demo")),
            raised(lambda: bad.get_space_runtime("alice/demo")),
            raised(lambda: alice.pause_space("alice/static-site")),
            raised(lambda: alice.request_space_hardware("alice/demo", "warp-drive")),
        ]

    errors = await in_thread(scenario)
    for err in errors[:3]:
        assert isinstance(err, RepositoryNotFoundError), err
    assert isinstance(errors[3], HfHubHTTPError)
    assert status_of(errors[3]) == 403
    assert isinstance(errors[4], HfHubHTTPError)
    assert not isinstance(errors[4], RepositoryNotFoundError)
    assert status_of(errors[4]) == 401
    for err in errors[5:]:
        assert isinstance(err, BadRequestError), err
        assert status_of(err) == 400
    assert errors[0].response.headers["X-Request-Id"]  # type: ignore[attr-defined]


@pytest.mark.aiospace_emulator(quota=3, window=300, speed=1)
async def test_rate_limit_reaches_the_official_client(aiospace_emulator: Emulator) -> None:
    alice = api(aiospace_emulator)

    def scenario() -> HfHubHTTPError:
        for _ in range(3):
            alice.get_space_runtime("alice/demo")
        try:
            alice.get_space_runtime("alice/demo")
        except HfHubHTTPError as err:
            return err
        raise AssertionError("no 429")

    err = await in_thread(scenario)
    assert status_of(err) == 429
    assert int(err.response.headers["Retry-After"]) >= 1  # type: ignore[union-attr]


@pytest.mark.aiospace_emulator(speed=500)
async def test_create_volumes_duplicate_delete_and_quota(aiospace_emulator: Emulator) -> None:
    """What the official client 2.x does with a Space, unchanged, against the emulator."""
    from huggingface_hub import Volume

    emu = aiospace_emulator
    alice = api(emu)
    anonymous = api(emu, token=False)

    def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["created"] = alice.create_repo(
            "alice/made",
            repo_type="space",
            space_sdk="gradio",
            space_hardware="t4-small",  # type: ignore[arg-type]
            space_variables=[{"key": "MODEL", "value": "gpt2"}],
        )
        out["again"] = alice.create_repo("alice/made", repo_type="space", space_sdk="gradio", exist_ok=True)
        try:
            alice.create_repo("alice/made", repo_type="space", space_sdk="gradio")
        except HfHubHTTPError as err:
            out["conflict"] = status_of(err)
        out["static"] = alice.create_repo("alice/site", repo_type="space", space_sdk="static", private=True)
        alice.set_space_volumes(
            "alice/made",
            [
                Volume(type="model", source="alice/model", mount_path="/models"),
                Volume(type="bucket", source="alice/bucket", mount_path="/data", read_only=False),
            ],
        )
        out["mounted"] = alice.get_space_runtime("alice/made")
        try:
            alice.set_space_volumes("alice/site", [Volume(type="model", source="a/b", mount_path="/m")])
        except HfHubHTTPError as err:
            out["static_volumes"] = err
        out["running"] = alice.wait_for_space("alice/made", poll_interval=0.01, timeout=60)
        alice.delete_space_volumes("alice/made")
        out["unmounted"] = alice.get_space_runtime("alice/made")
        try:
            alice.delete_space_volumes("alice/made")
        except HfHubHTTPError as err:
            out["no_volumes"] = err
        out["dup"] = alice.duplicate_repo(
            "alice/demo", "alice/shown", repo_type="space", visibility="protected"
        )
        out["quota"] = alice.get_zero_gpu_quota()
        try:
            anonymous.get_zero_gpu_quota()
        except HfHubHTTPError as err:
            out["anonymous_quota"] = status_of(err)
        alice.delete_repo("alice/made", repo_type="space")
        try:
            alice.delete_repo("alice/made", repo_type="space")
        except HfHubHTTPError as err:
            out["deleted_twice"] = err
        alice.delete_repo("alice/made", repo_type="space", missing_ok=True)
        return out

    emu.world.set_zero_gpu_quota("alice", base=1500, use=90)
    out = await in_thread(scenario)
    assert out["created"] == f"{emu.url}/spaces/alice/made"
    assert out["created"].repo_id == "alice/made"
    assert out["again"].repo_id == "alice/made"
    assert out["conflict"] == 409
    assert out["static"].repo_id == "alice/site"
    assert emu.world.space("alice/site").private
    volumes = out["mounted"].volumes
    assert [(v.type, v.source, v.mount_path, v.read_only) for v in volumes] == [
        ("model", "alice/model", "/models", True),
        ("bucket", "alice/bucket", "/data", False),
    ]
    assert out["mounted"].stage == "BUILDING"
    assert isinstance(out["static_volumes"], BadRequestError)
    assert (out["running"].stage, out["running"].hardware) == ("RUNNING", "t4-small")
    assert out["unmounted"].volumes is None
    assert isinstance(out["no_volumes"], BadRequestError)
    assert out["dup"].repo_id == "alice/shown"
    assert out["dup"].files_copy_pending is False
    assert emu.world.space("alice/shown").visibility == "protected"
    quota = out["quota"]
    assert (quota.base, quota.remaining, quota.overquota_used) == (1500, 1410, 0)
    assert quota.resets_at is not None
    assert out["anonymous_quota"] == 401
    assert isinstance(out["deleted_twice"], RepositoryNotFoundError)
    assert "alice/made" not in emu.world.spaces

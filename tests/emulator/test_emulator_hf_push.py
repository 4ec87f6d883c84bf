"""The official client (huggingface_hub), unchanged, pushing files to the emulator from worker threads:
its own Space scenario, real folders deployed and waited for, failing builds, concurrent pushes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from helpers import client_for

from aiospace import SpaceFailedError
from aiospace.emulator import Emulator
from aiospace.emulator.repo import MAX_FILE_BYTES

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi, hf_hub_download  # noqa: E402
from huggingface_hub.errors import (  # noqa: E402
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

T = TypeVar("T")
FAST = pytest.mark.aiospace_emulator(speed=1000)


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


async def in_threads(fn: Callable[[int], T], count: int) -> list[T]:
    """``fn(0)`` ... ``fn(count - 1)``, each in its own thread, all at once."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, fn, i) for i in range(count))))


def api(emu: Emulator, user: str = "alice") -> HfApi:
    return HfApi(endpoint=emu.url, token=emu.token_for(user))


def status_of(err: HfHubHTTPError) -> int:
    assert err.response is not None
    return int(err.response.status_code)


def write_app(folder: Path, app: str = "import gradio as gr\n") -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(app)
    (folder / "requirements.txt").write_text("gradio\n")
    (folder / "src" / "util.py").write_text("def helper():\n    return 1\n")
    return folder


@FAST
async def test_the_official_space_scenario(aiospace_emulator: Emulator) -> None:
    """huggingface_hub's own Space test, against the emulator (create, upload, secrets, pause, delete)."""
    emu = aiospace_emulator
    alice, bob = api(emu), api(emu, "bob")
    repo_id = "alice/scenario"

    def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["url"] = alice.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=True)
        out["fresh"] = alice.get_space_runtime(repo_id)
        out["upload"] = alice.upload_file(
            path_or_fileobj=b'import gradio as gr\n\ngr.Interface(lambda x: x, "text", "text").launch()\n',
            path_in_repo="app.py",
            repo_id=repo_id,
            repo_type="space",
        )
        alice.add_space_secret(repo_id, "foo", "123")
        alice.add_space_secret(repo_id, "token", "hf_api_123456")
        alice.add_space_secret(repo_id, "gh_api_key", "******")
        alice.add_space_secret(repo_id, "bar", "456")
        alice.delete_space_secret(repo_id, "gh_api_key")
        out["secrets"] = alice.get_space_secrets(repo_id)
        alice.add_space_variable(repo_id, "foo", "123")
        alice.add_space_variable(repo_id, "MODEL_REPO_ID", "user/repo", description="the model")
        alice.delete_space_variable(repo_id, "foo")
        out["variables"] = alice.get_space_variables(repo_id)
        try:
            bob.get_space_runtime(repo_id)
        except RepositoryNotFoundError:
            out["hidden"] = True
        out["again"] = alice.upload_file(
            path_or_fileobj=b"", path_in_repo="app.py", repo_id=repo_id, repo_type="space"
        )
        out["info"] = alice.space_info(repo_id)
        out["paused"] = alice.pause_space(repo_id)
        out["restarted"] = alice.restart_space(repo_id)
        out["running"] = alice.get_space_runtime(repo_id)
        alice.delete_repo(repo_id, repo_type="space")
        try:
            alice.space_info(repo_id)
        except RepositoryNotFoundError:
            out["deleted"] = True
        return out

    out = await in_thread(scenario)
    assert out["url"] == f"{emu.url}/spaces/{repo_id}"
    assert out["fresh"].stage in ("BUILDING", "NO_APP_FILE")
    assert out["fresh"].requested_hardware in (None, "cpu-basic")
    assert len(out["upload"].oid) == 40
    assert out["upload"].commit_url == f"{emu.url}/spaces/{repo_id}/commit/{out['upload'].oid}"
    assert set(out["secrets"]) == {"foo", "token", "bar"}
    assert set(out["variables"]) == {"MODEL_REPO_ID"}
    assert out["variables"]["MODEL_REPO_ID"].value == "user/repo"
    assert out["hidden"] is True
    assert out["again"].oid != out["upload"].oid
    assert out["info"].sha == out["again"].oid
    assert "app.py" in [s.rfilename for s in out["info"].siblings]
    assert out["paused"].stage == "PAUSED"
    assert out["restarted"].stage in ("BUILDING", "RUNNING_BUILDING")
    assert out["running"].stage in ("BUILDING", "RUNNING_BUILDING", "APP_STARTING", "RUNNING")
    assert out["deleted"] is True


@FAST
async def test_upload_folder_then_wait(aiospace_emulator: Emulator, tmp_path: Path) -> None:
    emu = aiospace_emulator
    alice = api(emu)
    folder = write_app(tmp_path / "app")

    def deploy() -> Any:
        alice.create_repo("alice/deployed", repo_type="space", space_sdk="gradio")
        return alice.upload_folder(folder_path=folder, repo_id="alice/deployed", repo_type="space")

    commit = await in_thread(deploy)
    async with client_for(emu, "alice") as client:
        runtime = await client.wait_for_space("alice/deployed", revision=commit.oid, timeout=600)
    assert runtime.stage == "RUNNING"
    space = emu.world.spaces["alice/deployed"]
    assert space.sha == commit.oid
    assert space.files["src/util.py"] == b"def helper():\n    return 1\n"
    builds = [e for e in emu.world.events_for("alice/deployed") if e.reason == "commit"]
    assert len(builds) == 1
    assert any(commit.oid[:7] in entry.text for entry in space.build_log)

    # the same folder again: nothing changed, no commit, the same head
    same = await in_thread(
        lambda: alice.upload_folder(folder_path=folder, repo_id="alice/deployed", repo_type="space")
    )
    assert same.oid == commit.oid
    assert [e for e in emu.world.events_for("alice/deployed") if e.reason == "commit"] == builds

    # mirror a smaller folder: what it lacks is deleted (but .gitattributes, as the client does)
    (folder / "requirements.txt").unlink()
    mirrored = await in_thread(
        lambda: alice.upload_folder(
            folder_path=folder, repo_id="alice/deployed", repo_type="space", delete_patterns="*"
        )
    )
    files = await in_thread(lambda: alice.list_repo_files("alice/deployed", repo_type="space"))
    assert sorted(files) == [".gitattributes", "app.py", "src/util.py"]
    assert space.sha == mirrored.oid != commit.oid


@FAST
async def test_a_push_that_fails_its_build(aiospace_emulator: Emulator, tmp_path: Path) -> None:
    emu = aiospace_emulator
    alice = api(emu)
    folder = write_app(tmp_path / "app", "import gradio\n# aiospace-emulator: build-error\n")

    def push() -> str:
        commit = alice.upload_folder(folder_path=folder, repo_id="alice/demo", repo_type="space")
        return str(commit.oid)

    async with client_for(emu, "alice") as client:
        broken = await in_thread(push)
        with pytest.raises(SpaceFailedError) as failed:
            await client.wait_for_space("alice/demo", revision=broken, timeout=600, log_lines=5)
        assert failed.value.runtime.stage == "BUILD_ERROR"
        assert any("build-error marker of app.py" in line for line in failed.value.log_lines)

        write_app(folder, "import gradio\n# aiospace-emulator: runtime-error\n")
        crashing = await in_thread(push)
        with pytest.raises(SpaceFailedError) as crashed:
            await client.wait_for_space("alice/demo", revision=crashing, timeout=600, log_lines=5)
        assert crashed.value.runtime.stage == "RUNTIME_ERROR"
        assert any("Traceback" in line for line in crashed.value.log_lines)

        (folder / "app.py").unlink()
        missing = await in_thread(
            lambda: (
                alice.upload_folder(
                    folder_path=folder, repo_id="alice/demo", repo_type="space", delete_patterns="*.py"
                ).oid
            )
        )
        with pytest.raises(SpaceFailedError) as no_app:
            await client.wait_for_space("alice/demo", revision=missing, timeout=600, log_lines=5)
        assert no_app.value.runtime.stage == "NO_APP_FILE"
        assert any("app.py is missing" in line for line in no_app.value.log_lines)

        write_app(folder)
        fixed = await in_thread(push)
        runtime = await client.wait_for_space("alice/demo", revision=fixed, timeout=600)
        assert runtime.stage == "RUNNING"
        assert emu.world.spaces["alice/demo"].sha == fixed


async def test_concurrent_uploads_lose_no_file(aiospace_emulator: Emulator) -> None:
    emu = aiospace_emulator
    alice = api(emu)
    start = threading.Barrier(8, timeout=30)

    def upload(i: int) -> str:
        start.wait()
        info = alice.upload_file(
            path_or_fileobj=f"print({i})\n".encode(),
            path_in_repo=f"part{i}.py",
            repo_id="alice/demo",
            repo_type="space",
        )
        return str(info.oid)

    oids = await in_threads(upload, 8)
    space = emu.world.spaces["alice/demo"]
    assert all(space.files[f"part{i}.py"] == f"print({i})\n".encode() for i in range(8))
    assert len(set(oids)) == 8 and space.sha in oids


async def test_concurrent_uploads_on_one_parent_conflict(aiospace_emulator: Emulator) -> None:
    emu = aiospace_emulator
    alice = api(emu)
    head = emu.world.spaces["alice/demo"].sha
    start = threading.Barrier(5, timeout=30)

    def upload(i: int) -> int:
        start.wait()
        try:
            alice.upload_file(
                path_or_fileobj=b"x",
                path_in_repo=f"part{i}.py",
                repo_id="alice/demo",
                repo_type="space",
                parent_commit=head,
            )
        except HfHubHTTPError as err:
            assert "A commit has happened since" in str(err)
            return status_of(err)
        return 200

    statuses = await in_threads(upload, 5)
    assert sorted(statuses) == [200, 412, 412, 412, 412]
    files = emu.world.spaces["alice/demo"].files
    assert sum(name.startswith("part") for name in files) == 1


async def test_what_the_emulator_refuses(aiospace_emulator: Emulator) -> None:
    emu = aiospace_emulator
    alice, bob = api(emu), api(emu, "bob")
    before = emu.world.spaces["alice/demo"].sha

    def attempts() -> list[BaseException]:
        caught: list[BaseException] = []
        calls: list[Callable[[], Any]] = [
            lambda: alice.upload_file(
                path_or_fileobj=b"\0" * (MAX_FILE_BYTES + 1),
                path_in_repo="weights.bin",
                repo_id="alice/demo",
                repo_type="space",
            ),
            lambda: alice.upload_file(
                path_or_fileobj=b"x",
                path_in_repo="x.py",
                repo_id="alice/demo",
                repo_type="space",
                revision="dev",
            ),
            lambda: bob.upload_file(
                path_or_fileobj=b"x", path_in_repo="x.py", repo_id="alice/demo", repo_type="space"
            ),
            lambda: bob.upload_file(
                path_or_fileobj=b"x", path_in_repo="x.py", repo_id="alice/private-app", repo_type="space"
            ),
        ]
        for call in calls:
            try:
                call()
            except Exception as err:
                caught.append(err)
        return caught

    large, revision, forbidden, hidden = await in_thread(attempts)
    assert isinstance(large, HfHubHTTPError) and status_of(large) == 413
    assert "large-file (LFS/Xet) uploads" in str(large)
    assert isinstance(revision, RevisionNotFoundError)
    assert isinstance(forbidden, HfHubHTTPError) and status_of(forbidden) == 403
    assert isinstance(hidden, RepositoryNotFoundError)
    assert emu.world.spaces["alice/demo"].sha == before


@FAST
async def test_a_static_space_serves_what_was_pushed(aiospace_emulator: Emulator, tmp_path: Path) -> None:
    emu = aiospace_emulator
    alice = api(emu)

    def publish() -> tuple[Any, str, Any]:
        commit = alice.upload_file(
            path_or_fileobj=b"<h1>release 2</h1>\n",
            path_in_repo="index.html",
            repo_id="alice/static-site",
            repo_type="space",
        )
        path = hf_hub_download(
            "alice/static-site",
            "index.html",
            repo_type="space",
            endpoint=emu.url,
            token=emu.token_for("alice"),
            cache_dir=tmp_path / "cache",
        )
        return commit, Path(path).read_text(), alice.get_space_runtime("alice/static-site")

    commit, page, runtime = await in_thread(publish)
    assert page == "<h1>release 2</h1>\n"
    assert runtime.stage == "RUNNING"
    assert emu.world.spaces["alice/static-site"].sha == commit.oid


@pytest.mark.aiospace_emulator(speed=100)
async def test_a_wait_right_after_a_push_never_takes_the_old_container(
    aiospace_emulator: Emulator, tmp_path: Path
) -> None:
    """The head is the revision, the runtime still the old RUNNING, and the build starts while the
    waiter reads the build log (slow here): the log then names the revision, but the RUNNING read
    before it was the old container's. The wait must go on until the new one runs."""
    emu = aiospace_emulator
    emu.world.configure("alice/demo", push_delay=20, build_seconds=30)
    emu.world.add_fault("latency", route="fetch_build_logs", latency=30)
    folder = write_app(tmp_path / "app")
    commit = await in_thread(
        lambda: api(emu).upload_folder(folder_path=folder, repo_id="alice/demo", repo_type="space")
    )
    async with client_for(emu, "alice") as client:
        runtime = await client.wait_for_space("alice/demo", revision=commit.oid, timeout=600)
    assert runtime.stage == "RUNNING"
    space = emu.world.spaces["alice/demo"]
    assert space.stage.value == "RUNNING"  # not RUNNING_BUILDING: the new container runs
    reasons = [e.reason for e in emu.world.events_for("alice/demo")]
    assert reasons.index("commit") < len(reasons) - 1 and reasons[-1] == "app started"

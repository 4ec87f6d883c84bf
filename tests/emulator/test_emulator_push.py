"""Pushes to the emulator: its small git (ids, all-or-nothing commits), the push routes over
loopback HTTP (as the official client sends them), and how a Space reacts to a commit.

The cases marked ``hostile`` are abusive pushes: lone surrogates in a commit, thousands of files
in one (linear work, never a frozen emulator)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from raw_http import (
    Answer,
    assert_json_error,
    emulator_in_a_thread,
    exchange,
    parse_answer,
    request_bytes,
    server_errors,
)

from aiospace.emulator import Emulator, HubError, push_routes
from aiospace.emulator.encode import tree_json
from aiospace.emulator.push_routes import parse_commit
from aiospace.emulator.repo import (
    MAX_FILE_BYTES,
    AddFile,
    AppVerdict,
    DeleteFile,
    DeleteFolder,
    Operation,
    app_verdict,
    apply_operations,
    blob_oid,
    check_path,
    tree_oid,
)

FAST = pytest.mark.aiospace_emulator(speed=1000)


# ---------------------------------------------------------------------- helpers


def ndjson(*items: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def header(summary: str = "Upload files", parent: str | None = None, **more: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"summary": summary, "description": "", **more}
    if parent is not None:
        value["parentCommit"] = parent
    return {"key": "header", "value": value}


def add(path: str, content: bytes = b"x") -> dict[str, Any]:
    encoded = base64.b64encode(content).decode()
    return {"key": "file", "value": {"content": encoded, "path": path, "encoding": "base64"}}


def delete(path: str, *, folder: bool = False) -> dict[str, Any]:
    return {"key": "deletedFolder" if folder else "deletedFile", "value": {"path": path}}


class Hub:
    """Raw HTTP calls to an emulator, as a user."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator) -> None:
        self.session = session
        self.emu = emu

    async def call(
        self, method: str, path: str, *, user: str | None = "alice", **kwargs: Any
    ) -> tuple[int, Any, Any]:
        headers = {**self.emu.headers_for(user), **kwargs.pop("headers", {})}
        async with self.session.request(method, self.emu.url + path, headers=headers, **kwargs) as resp:
            raw = await resp.read()
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            return resp.status, resp.headers, body

    async def commit(
        self, repo_id: str, *items: dict[str, Any], user: str | None = "alice", revision: str = "main"
    ) -> tuple[int, Any, Any]:
        return await self.call(
            "POST",
            f"/api/spaces/{repo_id}/commit/{revision}",
            user=user,
            data=io.BytesIO(ndjson(*items)),
            headers={"Content-Type": "application/x-ndjson"},
        )


@pytest.fixture
async def http(aiospace_emulator: Emulator) -> AsyncIterator[Hub]:
    async with aiohttp.ClientSession() as session:
        yield Hub(session, aiospace_emulator)


def snapshot(emu: Emulator, repo_id: str) -> tuple[str, dict[str, bytes], int, str]:
    space = emu.world.spaces[repo_id]
    return space.sha, dict(space.files), len(emu.world.events_for(repo_id)), space.stage.value


async def settle(emu: Emulator, seconds: float = 120.0) -> None:
    """Let ``seconds`` of Hub time pass (real time: seconds / speed)."""
    await emu.clock.sleep(seconds)
    emu.world.advance()


# ---------------------------------------------------------------------- the small git


def test_blob_ids_are_gits() -> None:
    assert blob_oid(b"Hello, World!") == "b45ef6fec89518d314f546fd6c3025367b721684"
    assert blob_oid(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def test_tree_ids_follow_the_files() -> None:
    one = {"app.py": b"a"}
    other = {"app.py": b"b"}
    assert tree_oid(one) == tree_oid(dict(one))
    assert tree_oid(one) != tree_oid(other)
    assert len(tree_oid(one)) == 40 and all(c in "0123456789abcdef" for c in tree_oid(one))


def test_operations_apply_whole_or_not_at_all() -> None:
    files = {"app.py": b"v1", "src/a.py": b"a", "src/b.py": b"b"}
    after = apply_operations(files, [AddFile("app.py", b"v2"), DeleteFolder("src"), AddFile("x/y.txt", b"y")])
    assert after == {"app.py": b"v2", "x/y.txt": b"y"}
    assert files == {"app.py": b"v1", "src/a.py": b"a", "src/b.py": b"b"}
    with pytest.raises(HubError) as missing:
        apply_operations(files, [AddFile("new.py", b"n"), DeleteFile("nope.py")])
    assert (missing.value.status, missing.value.code) == (404, "EntryNotFound")
    assert "new.py" not in files
    with pytest.raises(HubError) as big:
        apply_operations(files, [AddFile("big.bin", b"x" * (MAX_FILE_BYTES + 1))])
    assert big.value.status == 413 and "LFS" in big.value.message
    with pytest.raises(HubError) as clash:
        apply_operations(files, [AddFile("src", b"a file where a folder is")])
    assert clash.value.status == 400
    with pytest.raises(HubError):
        apply_operations(files, [AddFile("app.py/inner", b"a folder where a file is")])


@pytest.mark.parametrize(
    "path", ["", "/abs", "dir/", "a//b", "./a", "a/../b", "..", ".git/config", "a\\b", "a\x00b", 3]
)
def test_bad_paths_are_refused(path: Any) -> None:
    with pytest.raises(HubError) as refused:
        check_path(path)
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("sdk", "files", "verdict"),
    [
        ("gradio", {"app.py": b"import gradio"}, AppVerdict.OK),
        ("streamlit", {"README.md": b""}, AppVerdict.NO_APP_FILE),
        ("docker", {"app.py": b""}, AppVerdict.NO_APP_FILE),
        ("docker", {"Dockerfile": b"FROM x\n# aiospace-emulator: build-error\n"}, AppVerdict.BUILD_ERROR),
        ("gradio", {"app.py": b"x = 1  # aiospace-emulator:runtime-error\n"}, AppVerdict.RUNTIME_ERROR),
        ("static", {"index.html": b"<!-- aiospace-emulator: build-error -->"}, AppVerdict.BUILD_ERROR),
        ("gradio", {"app.py": b"", "other.py": b"# aiospace-emulator: build-error"}, AppVerdict.OK),
        ("mystery-sdk", {}, AppVerdict.OK),
    ],
)
def test_what_the_files_make_of_a_build(sdk: str, files: dict[str, bytes], verdict: AppVerdict) -> None:
    assert app_verdict(sdk, files) is verdict


def test_tree_listing() -> None:
    files = {"app.py": b"a", "src/a.py": b"aa", "src/deep/b.py": b"b"}
    top = tree_json(files, "", recursive=False)
    assert [(e["type"], e["path"]) for e in top] == [("directory", "src"), ("file", "app.py")]
    assert top[1] == {"type": "file", "oid": blob_oid(b"a"), "size": 1, "path": "app.py"}
    everything = tree_json(files, "", recursive=True)
    assert [e["path"] for e in everything] == ["src", "src/deep", "app.py", "src/a.py", "src/deep/b.py"]
    assert [e["path"] for e in tree_json(files, "src", recursive=False)] == ["src/deep", "src/a.py"]


# ---------------------------------------------------------------------- parsing a commit


def test_parse_commit() -> None:
    body = ndjson(header("Add", "a" * 40), add("app.py", b"hi"), delete("old.py"), delete("dir", folder=True))
    commit = parse_commit(body)
    assert (commit.summary, commit.description, commit.parent) == ("Add", "", "a" * 40)
    assert commit.operations == (AddFile("app.py", b"hi"), DeleteFile("old.py"), DeleteFolder("dir"))


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"", "header line is required"),
        (b"{not json\n", "line 1: not JSON"),
        (ndjson(add("app.py", b"x")), "first line must be the header"),
        (ndjson(header(), header()), "header comes first, once"),
        (ndjson(header(), {"key": "file", "value": {"path": "a", "content": "%%%"}}), "malformed base64"),
        (ndjson(header(), {"key": "file", "value": {"path": "a", "content": 3}}), "base64 string"),
        (
            ndjson(header(), {"key": "file", "value": {"path": "a", "content": "", "encoding": "utf-8"}}),
            "base64 only",
        ),
        (ndjson(header(), {"key": "lfsFile", "value": {"path": "a", "oid": "x", "algo": "sha256"}}), "LFS"),
        (ndjson(header(), {"key": "mystery", "value": {}}), "unknown key"),
        (ndjson(header(), {"key": "file"}), '{"key": ..., "value": {...}}'),
        (ndjson(header(parent="not-a-sha")), "parentCommit"),
        (ndjson({"key": "header", "value": {"summary": ""}}), "summary"),
        (ndjson(header(), delete("../etc/passwd")), "'..'"),
        (b"\xff\xfe\n", "not UTF-8"),
    ],
)
def test_malformed_commits_are_400s(body: bytes, needle: str) -> None:
    with pytest.raises(HubError) as refused:
        parse_commit(body)
    assert refused.value.status == 400
    assert needle in refused.value.message


# ---------------------------------------------------------------------- the routes


@FAST
async def test_a_push_moves_the_head_and_is_listed(http: Hub, aiospace_emulator: Emulator) -> None:
    emu = aiospace_emulator
    parent, before, *_ = snapshot(emu, "alice/demo")
    status, _, sample = await http.call(
        "POST",
        "/api/spaces/alice/demo/preupload/main",
        json={
            "files": [
                {"path": "app.py", "sample": "", "size": 3},
                {"path": "new.txt", "sample": "", "size": 1},
            ]
        },
    )
    assert status == 200
    assert sample["files"] == [
        {"path": "app.py", "uploadMode": "regular", "shouldIgnore": False, "oid": blob_oid(before["app.py"])},
        {"path": "new.txt", "uploadMode": "regular", "shouldIgnore": False},
    ]
    status, _, answer = await http.commit(
        "alice/demo", header("Ship it"), add("app.py", b"v2\n"), add("new.txt", b"n")
    )
    assert status == 200, answer
    files = {**before, "app.py": b"v2\n", "new.txt": b"n"}
    oid = answer["commitOid"]
    assert answer == {"commitOid": oid, "commitUrl": f"{emu.url}/spaces/alice/demo/commit/{oid}"}
    # a git commit of the new files, child of the head it found
    store = emu.world.space("alice/demo").git
    assert store.commit(oid).parents == (parent,) and store.commit(oid).tree == tree_oid(files)

    status, _, info = await http.call("GET", "/api/spaces/alice/demo")
    assert status == 200
    assert info["sha"] == oid
    assert [s["rfilename"] for s in info["siblings"]] == sorted(files)
    # the previous commit can still be read by its id; main is the head
    status, _, old = await http.call("GET", f"/api/spaces/alice/demo/revision/{parent}")
    assert (status, old["sha"]) == (200, parent)
    assert "new.txt" not in [s["rfilename"] for s in old["siblings"]]
    status, _, head = await http.call("GET", "/api/spaces/alice/demo/revision/main?expand=sha")
    assert (status, head) == (200, {"_id": info["_id"], "id": "alice/demo", "sha": oid})
    status, headers, _ = await http.call("GET", "/api/spaces/alice/demo/revision/" + "f" * 40)
    assert (status, headers["X-Error-Code"]) == (404, "RevisionNotFound")

    status, _, tree = await http.call("GET", "/api/spaces/alice/demo/tree/main?recursive=true")
    assert status == 200
    assert {e["path"]: e["oid"] for e in tree if e["type"] == "file"} == {
        p: blob_oid(c) for p, c in files.items()
    }
    status, headers, content = await http.call("GET", "/spaces/alice/demo/resolve/main/app.py")
    assert (status, content) == (200, b"v2\n")
    etag = blob_oid(b"v2\n")
    assert headers["ETag"] == f'"{etag}"' and headers["X-Repo-Commit"] == oid
    status, headers, _ = await http.call("HEAD", "/spaces/alice/demo/resolve/main/new.txt")
    assert (status, headers["Content-Length"]) == (200, "1")
    status, headers, _ = await http.call("GET", "/spaces/alice/demo/resolve/main/nope.txt")
    assert (status, headers["X-Error-Code"]) == (404, "EntryNotFound")


@pytest.mark.parametrize(
    "items",
    [
        [header(), add("ok.txt", b"fine"), {"key": "file", "value": {"path": "b.txt", "content": "!!!"}}],
        [header(), add("ok.txt", b"fine"), delete("missing.txt")],
        [
            header(),
            add("ok.txt", b"fine"),
            {"key": "lfsFile", "value": {"path": "w.bin", "oid": "0", "algo": "sha256"}},
        ],
        [header(), add("ok.txt", b"fine"), add("big.bin", b"x" * (MAX_FILE_BYTES + 1))],
        [header(parent="0" * 40), add("ok.txt", b"fine")],
    ],
    ids=["base64", "missing-file", "lfs", "too-large", "stale-parent"],
)
async def test_a_refused_commit_changes_nothing(
    http: Hub, aiospace_emulator: Emulator, items: list[dict[str, Any]]
) -> None:
    before = snapshot(aiospace_emulator, "alice/demo")
    status, headers, body = await http.commit("alice/demo", *items)
    assert status in (400, 404, 412, 413)
    assert body["error"] and headers["X-Error-Message"]
    assert snapshot(aiospace_emulator, "alice/demo") == before


async def test_malformed_ndjson_is_a_400(http: Hub, aiospace_emulator: Emulator) -> None:
    before = snapshot(aiospace_emulator, "alice/demo")
    async with http.session.post(
        aiospace_emulator.url + "/api/spaces/alice/demo/commit/main",
        data=ndjson(header(), add("a.txt", b"a")) + b'{"key": "file", "value": {"path": "b"\n',
        headers=aiospace_emulator.headers_for("alice"),
    ) as resp:
        assert resp.status == 400
        assert "line 3" in (await resp.json())["error"]
    assert snapshot(aiospace_emulator, "alice/demo") == before


async def test_large_files_are_refused_with_a_clear_message(http: Hub) -> None:
    big = MAX_FILE_BYTES + 1
    status, headers, body = await http.call(
        "POST",
        "/api/spaces/alice/demo/preupload/main",
        json={"files": [{"path": "w.bin", "sample": "", "size": big}]},
    )
    assert status == 413
    assert headers["X-Error-Code"] == "LargeFileNotEmulated"
    assert "large-file (LFS/Xet) uploads" in body["error"] and "doesn't emulate" in body["error"]


async def test_a_body_over_the_commit_limit_is_a_413(
    http: Hub, aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(push_routes, "MAX_COMMIT_BYTES", 1000)
    before = snapshot(aiospace_emulator, "alice/demo")
    status, _, body = await http.commit("alice/demo", header(), add("a.txt", b"x" * 2000))
    assert status == 413 and "too large" in body["error"]
    assert snapshot(aiospace_emulator, "alice/demo") == before


@pytest.mark.aiospace_emulator(
    seed={
        "users": {"alice": "hf_alice", "bob": "hf_bob", "carol": "hf_carol"},
        "orgs": {"acme": ["carol"]},
        "spaces": [
            {"id": "alice/demo"},
            {"id": "alice/secret", "private": True},
            {"id": "acme/site", "sdk": "static"},
            {"id": "alice/prot", "protected": True},
        ],
    }
)
async def test_who_may_push(http: Hub, aiospace_emulator: Emulator) -> None:
    items = (header(), add("x.txt", b"x"))
    assert (await http.commit("alice/demo", *items, user=None))[0] == 401
    assert (await http.commit("alice/demo", *items, user="bob"))[0] == 403
    assert (await http.commit("alice/secret", *items, user="bob"))[0] == 404
    assert (await http.commit("acme/site", *items, user="alice"))[0] == 403
    assert (await http.commit("acme/site", *items, user="carol"))[0] == 200
    assert (await http.commit("alice/secret", *items, user="alice"))[0] == 200
    asked = {"files": [{"path": "x.txt", "sample": "", "size": 1}]}
    preupload = await http.call("POST", "/api/spaces/alice/demo/preupload/main", user="bob", json=asked)
    assert preupload[0] == 403
    # reading files follows the read rules; a protected Space's files are private
    assert (await http.call("GET", "/api/spaces/alice/secret/tree/main", user="bob"))[0] == 404
    assert (await http.call("GET", "/spaces/alice/secret/resolve/main/x.txt", user=None))[0] == 404
    assert (await http.call("GET", "/api/spaces/alice/prot/runtime", user=None))[0] == 200
    assert (await http.call("GET", "/spaces/alice/prot/resolve/main/app.py", user="bob"))[0] == 404
    assert (await http.call("GET", "/spaces/alice/prot/resolve/main/app.py"))[0] == 200
    assert (await http.call("GET", "/api/spaces/alice/prot", user="bob"))[2]["siblings"] == []
    assert {"rfilename": "app.py"} in (await http.call("GET", "/api/spaces/alice/prot"))[2]["siblings"]
    assert (await http.call("GET", "/spaces/alice/demo/resolve/main/README.md", user=None))[0] == 200


async def test_only_main_exists(http: Hub, aiospace_emulator: Emulator) -> None:
    before = snapshot(aiospace_emulator, "alice/demo")
    status, headers, body = await http.commit("alice/demo", header(), add("x.txt", b"x"), revision="dev")
    assert (status, headers["X-Error-Code"]) == (404, "RevisionNotFound")
    assert "one branch, main" in body["error"]
    status, *_ = await http.commit("alice/demo", header(), add("x.txt", b"x"), revision="refs%2Fpr%2F1")
    assert status == 404
    async with http.session.post(
        aiospace_emulator.url + "/api/spaces/alice/demo/commit/main?create_pr=1",
        data=ndjson(header(), add("x.txt", b"x")),
        headers=aiospace_emulator.headers_for("alice"),
    ) as resp:
        assert resp.status == 400
        assert "Pull requests" in (await resp.json())["error"]
    assert snapshot(aiospace_emulator, "alice/demo") == before


async def test_a_parent_commit_must_be_the_head(http: Hub, aiospace_emulator: Emulator) -> None:
    head = aiospace_emulator.world.spaces["alice/demo"].sha
    status, _, first = await http.commit("alice/demo", header("first", parent=head), add("a.txt", b"a"))
    assert status == 200
    status, _, stale = await http.commit("alice/demo", header("second", parent=head), add("b.txt", b"b"))
    assert status == 412
    assert stale["error"].startswith("A commit has happened since. Please refresh and try again.")
    status, _, second = await http.commit(
        "alice/demo", header("second", parent=first["commitOid"]), add("b.txt", b"b")
    )
    assert status == 200
    files = aiospace_emulator.world.spaces["alice/demo"].files
    assert files["a.txt"] == b"a" and files["b.txt"] == b"b"
    assert aiospace_emulator.world.spaces["alice/demo"].sha == second["commitOid"]


async def test_concurrent_pushes_lose_no_file(http: Hub, aiospace_emulator: Emulator) -> None:
    answers = await asyncio.gather(
        *(
            http.commit("alice/demo", header(f"push {i}"), add(f"f{i}.txt", str(i).encode()))
            for i in range(12)
        )
    )
    assert [status for status, _, _ in answers] == [200] * 12
    space = aiospace_emulator.world.spaces["alice/demo"]
    assert all(space.files[f"f{i}.txt"] == str(i).encode() for i in range(12))
    oids = [body["commitOid"] for _, _, body in answers]
    assert len(set(oids)) == 12 and space.sha in oids
    # each commit is a child of the head it found: the k-th holds k of the files, and it is
    # the git commit of its tree, child of the commit before it
    chain = sorted(range(12), key=lambda i: len(space.trees[oids[i]]))
    parent = None
    for depth, i in enumerate(chain, 1):
        tree = space.trees[oids[i]]
        assert sum(f"f{j}.txt" in tree for j in range(12)) == depth
        assert space.git.commit(oids[i]).tree == tree_oid(tree)
        if parent is not None:
            assert space.git.commit(oids[i]).parents == (parent,)
        parent = oids[i]
    assert parent == space.sha


async def test_concurrent_pushes_on_one_parent_conflict_clearly(
    http: Hub, aiospace_emulator: Emulator
) -> None:
    head = aiospace_emulator.world.spaces["alice/demo"].sha
    answers = await asyncio.gather(
        *(
            http.commit("alice/demo", header(f"push {i}", parent=head), add(f"f{i}.txt", b"x"))
            for i in range(6)
        )
    )
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] + [412] * 5
    won = next(i for i, (status, _, _) in enumerate(answers) if status == 200)
    files = aiospace_emulator.world.spaces["alice/demo"].files
    assert [name for name in files if name.startswith("f")] == [f"f{won}.txt"]


async def test_validate_yaml_and_admin_push(http: Hub, aiospace_emulator: Emulator) -> None:
    status, _, body = await http.call(
        "POST", "/api/validate-yaml", json={"content": "---\nsdk: gradio\n---\n", "repoType": "space"}
    )
    assert (status, body) == (200, {"errors": [], "warnings": []})
    space = aiospace_emulator.world.push_files("alice/demo", {"notes.md": "hello"}, delete=["README.md"])
    assert "README.md" not in space.files and space.files["notes.md"] == b"hello"
    status, _, info = await http.call("GET", "/api/spaces/alice/demo?expand=siblings&expand=sha")
    assert info["sha"] == space.sha and {"rfilename": "notes.md"} in info["siblings"]


# ---------------------------------------------------------------------- how a Space reacts


@FAST
async def test_a_push_rebuilds_and_the_build_log_names_the_commit(
    http: Hub, aiospace_emulator: Emulator
) -> None:
    emu = aiospace_emulator
    status, _, answer = await http.commit("alice/demo", header("v2"), add("app.py", b"import gradio as gr\n"))
    assert status == 200
    oid = answer["commitOid"]
    await settle(emu)
    reasons = [(e.stage, e.reason) for e in emu.world.events_for("alice/demo")]
    assert ("RUNNING_BUILDING", "commit") in reasons
    assert reasons[-1][0] == "RUNNING"
    first = next(iter(emu.world.spaces["alice/demo"].build_log)).text
    assert f"Commit SHA: {oid[:7]}" in first


@FAST
@pytest.mark.parametrize(("repo_id", "app"), [("alice/demo", "app.py"), ("bob/tool", "Dockerfile")])
async def test_without_its_app_file_a_space_shows_no_app_file(
    http: Hub, aiospace_emulator: Emulator, repo_id: str, app: str
) -> None:
    emu = aiospace_emulator
    owner = repo_id.split("/")[0]
    assert (await http.commit(repo_id, header("oops"), delete(app), user=owner))[0] == 200
    await settle(emu)
    space = emu.world.spaces[repo_id]
    assert space.stage.value == "NO_APP_FILE"
    assert space.current is None
    assert any(f"{app} is missing" in entry.text for entry in space.build_log)
    # a restart can't help; pushing the file back does
    status, _, runtime = await http.call("POST", f"/api/spaces/{repo_id}/restart", user=owner)
    assert (status, runtime["stage"]) == (200, "NO_APP_FILE")
    assert (await http.commit(repo_id, header("fix"), add(app, b"ok\n"), user=owner))[0] == 200
    await settle(emu)
    assert emu.world.spaces[repo_id].stage.value == "RUNNING"


@FAST
async def test_a_static_space_serves_new_files_at_once(http: Hub, aiospace_emulator: Emulator) -> None:
    emu = aiospace_emulator
    events = len(emu.world.events_for("alice/static-site"))
    status, _, answer = await http.commit("alice/static-site", header(), add("index.html", b"<h1>v2</h1>"))
    assert status == 200
    status, _, runtime = await http.call("GET", "/api/spaces/alice/static-site/runtime")
    assert runtime["stage"] == "RUNNING"
    status, headers, page = await http.call("GET", "/spaces/alice/static-site/resolve/main/index.html")
    assert (page, headers["X-Repo-Commit"]) == (b"<h1>v2</h1>", answer["commitOid"])
    assert headers["Content-Type"].startswith("text/html")
    assert len(emu.world.events_for("alice/static-site")) == events  # nothing to build, no stage change
    assert (await http.commit("alice/static-site", header(), delete("index.html")))[0] == 200
    status, _, runtime = await http.call("GET", "/api/spaces/alice/static-site/runtime")
    assert runtime["stage"] == "NO_APP_FILE"
    assert runtime["errorMessage"] == "No application file: index.html is missing"
    assert [e.stage for e in emu.world.events_for("alice/static-site")][events:] == ["NO_APP_FILE"]


@FAST
async def test_failure_markers(http: Hub, aiospace_emulator: Emulator) -> None:
    emu = aiospace_emulator
    broken = b"import gradio\n# aiospace-emulator: build-error\n"
    assert (await http.commit("alice/demo", header(), add("app.py", broken)))[0] == 200
    await settle(emu)
    space = emu.world.spaces["alice/demo"]
    assert space.stage.value == "BUILD_ERROR"
    assert any("build-error marker of app.py" in entry.text for entry in space.build_log)

    crashing = b"raise SystemExit  # aiospace-emulator: runtime-error\n"
    assert (await http.commit("alice/demo", header(), add("app.py", crashing)))[0] == 200
    await settle(emu)
    assert space.stage.value == "RUNTIME_ERROR"
    assert any("Traceback" in entry.text for entry in space.run_log)
    stages = [e.stage for e in emu.world.events_for("alice/demo")]
    assert stages[-3:] == ["BUILDING", "APP_STARTING", "RUNTIME_ERROR"]

    assert (await http.commit("alice/demo", header(), add("app.py", b"import gradio\n")))[0] == 200
    await settle(emu)
    assert space.stage.value == "RUNNING"


@FAST
async def test_a_paused_space_builds_its_head_at_restart(http: Hub, aiospace_emulator: Emulator) -> None:
    emu = aiospace_emulator
    assert (await http.call("POST", "/api/spaces/alice/demo/pause"))[0] == 200
    status, _, answer = await http.commit("alice/demo", header(), add("app.py", b"v3\n"))
    assert status == 200
    await settle(emu)
    space = emu.world.spaces["alice/demo"]
    assert (space.stage.value, space.sha) == ("PAUSED", answer["commitOid"])
    assert (await http.call("POST", "/api/spaces/alice/demo/restart"))[0] == 200
    await settle(emu)
    assert space.stage.value == "RUNNING"
    assert f"Commit SHA: {answer['commitOid'][:7]}" in next(iter(space.build_log)).text


def test_seeded_spaces_have_files() -> None:
    from aiospace._clock import ScaledClock
    from aiospace.emulator import World

    world = World(ScaledClock(1000))
    world.add_user("alice")
    world.add_space("alice/g", sdk="gradio")
    world.add_space("alice/d", sdk="docker")
    world.add_space("alice/n", sdk="gradio", stage="NO_APP_FILE")
    world.add_space("alice/f", sdk="gradio", files={"app.py": "print(1)\n"})
    assert sorted(world.spaces["alice/g"].files) == [".gitattributes", "README.md", "app.py"]
    assert "Dockerfile" in world.spaces["alice/d"].files
    assert "app.py" not in world.spaces["alice/n"].files
    assert world.spaces["alice/f"].files == {"app.py": b"print(1)\n"}
    assert len(world.spaces["alice/g"].sha) == 40


# ---------------------------------------------------------------------- bad input on the push routes

PUSH = "/api/spaces/alice/demo"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", PUSH + "/preupload/main", b"[" * 200_000, 400),
        ("POST", PUSH + "/preupload/main", b'{"files": "app.py"}', 400),
        ("POST", PUSH + "/preupload/main", b'{"files": [{"path": "a", "size": 1e400}]}', 400),
        ("POST", PUSH + "/preupload/main", b'{"files": [{"path": "a", "size": -1}]}', 400),
        ("POST", PUSH + "/preupload/main", b'{"files": [{"path": "a", "size": 1, "sample": "%%"}]}', 400),
        ("POST", PUSH + "/preupload/main", b'{"files": [{"path": "../a", "size": 1}]}', 400),
        ("POST", PUSH + "/preupload/main", b'{"files": [], "extra": 1}', 400),
        ("POST", PUSH + "/commit/main", b'{"key": "header", "value": {"summary": NaN}}', 400),
        ("POST", PUSH + "/commit/main", b'{"key": "header", "value": ' * 50_000, 400),
        ("POST", PUSH + "/commit/main", b'{"key": "header", "value": {"summary": "s"}}\n[]', 400),
        ("POST", PUSH + "/commit/main", b"\x00\x01\x02", 400),
        ("GET", PUSH + "/tree/main/nope", None, 404),
        ("GET", PUSH + "/tree/main/app.py", None, 404),
        ("GET", PUSH + "/tree/main?recursive=maybe", None, 400),
        ("GET", PUSH + "/revision/main?expand=bogus", None, 400),
        ("POST", "/api/validate-yaml", b'{"content": 5}', 400),
        ("POST", "/_emulator/spaces", b'{"id": "alice/f1", "files": {"app.py": 5}}', 400),
        ("POST", "/_emulator/spaces", b'{"id": "alice/f2", "files": {"../x": "y"}}', 400),
        ("POST", "/_emulator/spaces", b'{"id": "alice/f3", "files": ["app.py"]}', 400),
    ],
)
async def test_bad_push_input_is_a_json_4xx_and_changes_nothing(
    http: Hub, aiospace_emulator: Emulator, method: str, path: str, body: bytes | None, status: int
) -> None:
    before = snapshot(aiospace_emulator, "alice/demo")
    spaces = set(aiospace_emulator.world.spaces)
    headers = aiospace_emulator.admin_headers if path.startswith("/_emulator") else {}
    got, answer_headers, answer = await http.call(
        method, path, data=None if body is None else io.BytesIO(body), headers=headers
    )
    assert got == status, answer
    assert answer_headers["Content-Type"].startswith("application/json") and answer["error"]
    assert snapshot(aiospace_emulator, "alice/demo") == before
    assert set(aiospace_emulator.world.spaces) == spaces
    assert (await http.call("GET", PUSH + "/runtime"))[0] == 200


# ---------------------------------------------------------------------- abusive pushes


def commit_request(hub: Emulator, body: bytes, repo: str = "alice/demo") -> bytes:
    """The raw request of a commit to ``repo`` by its owner."""
    headers = dict(hub.headers_for(repo.split("/")[0]), **{"Content-Type": "application/x-ndjson"})
    return request_bytes("POST", f"/api/spaces/{repo}/commit/main", body, headers)


def answer_within(port: int, raw: bytes, timeout: float) -> Answer:
    """Send ``raw`` from this thread and read the whole answer; ``socket.timeout`` if it doesn't come."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return parse_answer(data)


@pytest.mark.hostile
@pytest.mark.parametrize(
    "body",
    [
        ndjson(header(), add("\udc00.txt")),
        ndjson(header(), add("folder/\ud800/app.py")),
        ndjson(header("\ud800 summary")),
        ndjson(header("s", description="\udfff")),
    ],
    ids=["path", "folder", "summary", "description"],
)
async def test_a_lone_surrogate_in_a_commit_is_a_400_not_a_500(
    aiospace_emulator: Emulator, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    """JSON may hold ``"\\ud800"``, which has no UTF-8: hashing the commit's tree raised (500)."""
    caplog.set_level(logging.ERROR)
    hub = aiospace_emulator
    sha = hub.world.space("alice/demo").sha
    answer = await exchange(hub.port, commit_request(hub, body))
    assert "Unicode" in assert_json_error(answer, 400)["error"]
    assert hub.world.space("alice/demo").sha == sha
    preupload = {"files": [{"path": "\udc00.txt", "sample": "", "size": 1}]}
    raw = json.dumps(preupload).encode()
    answer = await exchange(
        hub.port,
        request_bytes("POST", "/api/spaces/alice/demo/preupload/main", raw, hub.headers_for("alice")),
    )
    assert_json_error(answer, 400)
    assert server_errors(caplog) == []
    assert hub.world.stats.by_status.get(500, 0) == 0


@pytest.mark.hostile
def test_a_commit_of_thousands_of_files_is_linear_work_not_a_frozen_emulator() -> None:
    """Each added file was checked against every file already there: 20,000 files froze the loop ~20 s.

    The emulator serves from its own thread here, so a frozen loop shows as a socket timeout.
    """
    with emulator_in_a_thread(speed=50) as hub:
        too_many = ndjson(header(), *(add(f"d{n % 50}/f{n}.txt") for n in range(20_000)))
        answer = answer_within(hub.port, commit_request(hub, too_many), timeout=5)
        assert "at most 10000 files" in assert_json_error(answer, 400)["error"]
        many = ndjson(header(), *(add(f"d{n % 40}/sub/f{n}.txt") for n in range(9_000)))
        answer = answer_within(hub.port, commit_request(hub, many), timeout=5)
        assert answer.status == 200, answer.body[:300]
        files = hub.world.space("alice/demo").files
        assert len(files) == 9_000 + 3 and files["d7/sub/f7.txt"] == b"x"
        deep = "/".join(["d"] * 400)
        deep_commit = ndjson(
            header(),
            {"key": "deletedFolder", "value": {"path": "d7"}},
            *(add(f"{deep}/f{n}") for n in range(800)),
        )
        answer = answer_within(hub.port, commit_request(hub, deep_commit), timeout=5)
        assert answer.status == 200, answer.body[:300]
        files = hub.world.space("alice/demo").files
        assert "d7/sub/f7.txt" not in files and f"{deep}/f799" in files


@pytest.mark.hostile
def test_the_folder_index_of_a_commit_keeps_the_rules_of_files_and_folders() -> None:
    """What the faster check must still refuse or allow, operation after operation."""
    files = {"a/b/c.txt": b"1", "a/d.txt": b"2", "e.txt": b"3"}
    cases: list[tuple[list[Operation], str | None]] = [
        ([AddFile("a", b"x")], "a folder has that name"),
        ([AddFile("a/b", b"x")], "a folder has that name"),
        ([AddFile("e.txt/f", b"x")], "'e.txt' is a file"),
        ([AddFile("a/d.txt/g/h", b"x")], "'a/d.txt' is a file"),
        ([DeleteFile("a/b/c.txt"), AddFile("a/b", b"x")], None),  # the folder went with its last file
        ([DeleteFolder("a/b"), DeleteFolder("a/b")], "folder with this name doesn't exist"),
        ([DeleteFolder("e.txt")], "folder with this name doesn't exist"),
        ([DeleteFolder("e.txt/x")], "folder with this name doesn't exist"),
        ([DeleteFile("a/b")], "file with this name doesn't exist"),
        ([DeleteFolder("a"), AddFile("a", b"x"), AddFile("e.txt", b"4")], None),
    ]
    for ops, refusal in cases:
        if refusal is None:
            apply_operations(files, ops)
            continue
        with pytest.raises(HubError, match=refusal):
            apply_operations(files, ops)
    after = apply_operations(files, [DeleteFolder("a/"), AddFile("a", b"x")])
    assert after == {"a": b"x", "e.txt": b"3"}
    assert apply_operations(files, [DeleteFile("a/b/c.txt"), AddFile("a/b", b"y")])["a/b"] == b"y"
    assert files == {"a/b/c.txt": b"1", "a/d.txt": b"2", "e.txt": b"3"}  # left as it was

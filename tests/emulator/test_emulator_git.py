"""git over smart HTTP against the emulator, git run as a real process: clone, pull and push a
Space, a push as a commit (``aiospace wait --revision`` on its sha), one history with the API,
and the refusals in git's own words. Also the git ids of the emulator's own objects."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import shutil
import sys
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raw_http import blocking_exchange, emulator_in_a_thread, request_bytes, server_errors

from aiospace.cli import app as cli
from aiospace.emulator import Emulator, HubError, gitstore
from aiospace.emulator.gitstore import GitStore, Signature
from aiospace.emulator.repo import tree_oid, write_commit

GIT = shutil.which("git")
pytestmark = [
    pytest.mark.skipif(GIT is None, reason="git is not installed: the git tests run git as a real process"),
    pytest.mark.aiospace_emulator(speed=400),
]


class Git:
    """git as a real process: a temporary HOME and config, no credential helper, no prompt."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "LC_ALL": "C",
        }

    async def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> tuple[int, str]:
        """``git ARGS`` (``-c`` settings first); its exit code and its stdout and stderr together."""
        settings = ["credential.helper=", "user.name=CI", "user.email=ci@example.invalid"]
        settings += ["init.defaultBranch=main", "advice.detachedHead=false"]
        argv = [arg for setting in settings for arg in ("-c", setting)]
        process = await asyncio.create_subprocess_exec(
            str(GIT),
            *argv,
            *args,
            cwd=cwd,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        text = out.decode(errors="replace")
        assert process.returncode is not None
        if check:
            assert process.returncode == 0, f"git {' '.join(args)}: {text}"
        return process.returncode, text

    async def head(self, cwd: Path) -> str:
        return (await self.run("rev-parse", "HEAD", cwd=cwd))[1].strip()

    async def commit_file(self, cwd: Path, path: str, text: str, message: str = "change") -> str:
        (cwd / path).parent.mkdir(parents=True, exist_ok=True)
        (cwd / path).write_text(text)
        await self.run("add", "-A", cwd=cwd)
        await self.run("commit", "-q", "-m", message, cwd=cwd)
        return await self.head(cwd)


@pytest.fixture
def git(tmp_path: Path) -> Git:
    home = tmp_path / "home"
    home.mkdir()
    return Git(home)


def url(hub: Emulator, space: str, token: str | None = None) -> str:
    base = hub.url if token is None else hub.url.replace("http://", f"http://ci:{token}@")
    return f"{base}/spaces/{space}"


async def clone(
    git: Git, hub: Emulator, tmp_path: Path, space: str = "alice/demo", token: str = "hf_alice"
) -> Path:
    target = tmp_path / space.replace("/", "-")
    await git.run("clone", "-q", url(hub, space, token), str(target))
    return target


async def wait(hub: Emulator, space: str, sha: str) -> int:
    """``aiospace wait SPACE --revision SHA``, in-process on the emulator's clock: its exit code."""
    argv = ["--endpoint", hub.url, "--token", "hf_alice", "wait", space, "--revision", sha, "-q"]
    return await cli.amain(argv, clock=hub.clock)


# ---------------------------------------------------------------------- the emulator's ids are git's


async def test_the_emulators_tree_and_commit_ids_are_gits(git: Git, tmp_path: Path) -> None:
    files = {
        "app.py": b"print(1)\n",
        "src/a.py": b"a\n",
        "src/deep/b.txt": b"b",
        "src-x": b"x",
        "README.md": b"# r\n",
    }
    work = tmp_path / "w"
    await git.run("init", "-q", str(work))
    for path, content in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(content)
    await git.run("add", "-A", cwd=work)
    _, tree = await git.run("write-tree", cwd=work)
    assert tree_oid(files) == tree.strip()
    # the same commit, made by git and by the emulator, has the same id
    git.env.update(GIT_AUTHOR_DATE="1700000000 +0000", GIT_COMMITTER_DATE="1700000000 +0000")
    git.env.update(GIT_AUTHOR_NAME="alice", GIT_COMMITTER_NAME="alice")
    git.env.update(GIT_AUTHOR_EMAIL="a@x", GIT_COMMITTER_EMAIL="a@x")
    _, sha = await git.run("commit-tree", tree.strip(), "-m", "Ship it", cwd=work)
    ours = write_commit(GitStore(), files, None, Signature("alice", "a@x", 1_700_000_000), "Ship it")
    assert ours == sha.strip()


# ---------------------------------------------------------------------- clone and pull


async def test_a_clone_is_the_spaces_history_and_an_upload_is_in_the_next_pull(
    aiospace_emulator: Emulator, git: Git, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    work = await clone(git, hub, tmp_path)
    space = hub.world.space("alice/demo")
    assert await git.head(work) == space.sha
    assert {p: (work / p).read_bytes() for p in space.files} == space.files
    # an API commit (the official client's upload_file) is the next commit git pulls
    hf = pytest.importorskip("huggingface_hub")
    api = hf.HfApi(endpoint=hub.url, token="hf_alice")
    info = await asyncio.to_thread(
        api.upload_file,
        path_or_fileobj=b"v = 1\n",
        path_in_repo="conf/v.py",
        repo_id="alice/demo",
        repo_type="space",
    )
    await git.run("pull", "-q", cwd=work)
    assert (work / "conf" / "v.py").read_text() == "v = 1\n"
    assert await git.head(work) == info.oid == hub.world.space("alice/demo").sha
    _, log = await git.run("log", "--format=%an|%s", "-2", cwd=work)
    assert log.splitlines() == ["alice|Upload conf/v.py with huggingface_hub", "alice|initial commit"]


async def test_anyone_clones_a_public_space_a_private_one_needs_its_token(
    aiospace_emulator: Emulator, git: Git, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    await git.run("clone", "-q", url(hub, "bob/tool"), str(tmp_path / "tool"))
    assert (tmp_path / "tool" / "Dockerfile").exists()
    code, out = await git.run("clone", url(hub, "alice/private-app"), str(tmp_path / "p1"), check=False)
    assert code == 128 and "could not read Username" in out  # told to authenticate (no prompt here)
    code, out = await git.run(
        "clone", url(hub, "alice/private-app", "hf_bob"), str(tmp_path / "p2"), check=False
    )
    assert code == 128 and "not found" in out
    await git.run("clone", "-q", url(hub, "alice/private-app", "hf_alice"), str(tmp_path / "p3"))
    assert await git.head(tmp_path / "p3") == hub.world.space("alice/private-app").sha


# ---------------------------------------------------------------------- push


async def test_a_push_is_a_commit_and_aiospace_wait_revision_exits_0(
    aiospace_emulator: Emulator, git: Git, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/demo", push_delay=5, build_seconds=20, start_seconds=2)
    work = await clone(git, hub, tmp_path)
    sha = await git.commit_file(work, "app.py", "import gradio as gr\nprint('v2')\n", "v2")
    _, out = await git.run("push", cwd=work)
    assert "alice/demo is at" in out and "rebuilds in 5 s" in out  # the emulator's note, as remote:
    space = hub.world.space("alice/demo")
    assert space.sha == sha and space.files["app.py"] == b"import gradio as gr\nprint('v2')\n"
    # aiospace wait as a real process, told the emulator's speed
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiospace.cli",
        "--endpoint",
        hub.url,
        "--token",
        "hf_alice",
        "--hub-speed",
        "400",
        "wait",
        "alice/demo",
        "--revision",
        sha,
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert json.loads(out)["result"] == "running"
    assert f"Commit SHA: {sha[:7]}" in next(iter(hub.world.space("alice/demo").build_log)).text
    # the API answers the pushed commit by its id
    info = hub.world.revision_info("alice", "alice/demo", sha)
    assert info["sha"] == sha and {"rfilename": "app.py"} in info["siblings"]


async def test_a_push_carrying_the_build_error_marker_makes_wait_exit_1_with_the_log_tail(
    aiospace_emulator: Emulator, git: Git, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = aiospace_emulator
    work = await clone(git, hub, tmp_path)
    sha = await git.commit_file(work, "app.py", "import gradio\n# aiospace-emulator: build-error\n", "broken")
    await git.run("push", "-q", cwd=work)
    capsys.readouterr()
    code = await wait(hub, "alice/demo", sha)
    err = capsys.readouterr().err
    assert code == 1
    assert "BUILD_ERROR" in err and "  | " in err  # the build log's tail
    assert "build-error marker of app.py" in err


async def test_the_token_goes_as_the_password_or_as_authorization(
    aiospace_emulator: Emulator, git: Git, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    await git.run("clone", "-q", url(hub, "alice/demo"), str(tmp_path / "w"))  # anonymous: public
    work = tmp_path / "w"
    sha = await git.commit_file(work, "notes.txt", "n\n")
    code, out = await git.run("push", cwd=work, check=False)
    assert code == 128 and "could not read Username" in out  # a push needs credentials
    await git.run("-c", "http.extraHeader=Authorization: Bearer hf_alice", "push", "-q", cwd=work)
    assert hub.world.space("alice/demo").sha == sha
    sha = await git.commit_file(work, "notes.txt", "m\n")  # the token as the user name, no password
    await git.run(
        "push", "-q", hub.url.replace("http://", "http://hf_alice@") + "/spaces/alice/demo", "main", cwd=work
    )
    assert hub.world.space("alice/demo").sha == sha


@pytest.mark.careless
async def test_a_push_by_someone_who_cant_write_is_refused_in_gits_words(
    aiospace_emulator: Emulator, git: Git, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    before = hub.world.space("alice/demo").sha
    work = await clone(git, hub, tmp_path)
    await git.commit_file(work, "x.txt", "x\n")
    code, out = await git.run("push", url(hub, "alice/demo", "hf_bob"), "main", cwd=work, check=False)
    assert code == 128
    assert "remote: You are not allowed to push to spaces/alice/demo" in out
    assert "The requested URL returned error: 403" in out
    code, out = await git.run("push", url(hub, "alice/demo", "hf_nobody"), "main", cwd=work, check=False)
    assert code == 128 and "Authentication failed" in out
    assert hub.world.space("alice/demo").sha == before


@pytest.mark.careless
async def test_what_a_push_may_not_do(aiospace_emulator: Emulator, git: Git, tmp_path: Path) -> None:
    hub = aiospace_emulator
    before = hub.world.space("alice/demo").sha
    work = await clone(git, hub, tmp_path)
    await git.commit_file(work, "x.txt", "x\n")
    refusals = {
        ("push", "origin", "HEAD:refs/heads/dev"): "one branch, main",
        ("push", "origin", "HEAD:refs/tags/v1"): "one branch, main",
        ("push", "origin", ":main"): "deleting main is not allowed",
    }
    for args, reason in refusals.items():
        code, out = await git.run(*args, cwd=work, check=False)
        assert code == 1 and "[remote rejected]" in out and reason in out, out
    os.symlink("app.py", work / "link.py")
    await git.run("add", "link.py", cwd=work)
    await git.run("commit", "-q", "-m", "a link", cwd=work)
    code, out = await git.run("push", cwd=work, check=False)
    assert code == 1 and "link.py is a symbolic link" in out
    assert hub.world.space("alice/demo").sha == before  # nothing was taken
    # the refused pushes' objects stay out of the Space's history: a clone is as before
    again = await clone(git, hub, tmp_path / "again")
    assert await git.head(again) == before and "link.py" not in os.listdir(again)
    code, _ = await git.run("cat-file", "-e", await git.head(work), cwd=again, check=False)
    assert code != 0


async def test_a_force_push_is_accepted_as_on_the_hub_and_the_dropped_commit_stays_readable(
    aiospace_emulator: Emulator, git: Git, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    work = await clone(git, hub, tmp_path)
    first = await git.commit_file(work, "a.txt", "a\n")
    await git.run("push", "-q", cwd=work)
    await git.run("reset", "-q", "--hard", "HEAD~1", cwd=work)
    other = await git.commit_file(work, "b.txt", "b\n")
    code, out = await git.run("push", cwd=work, check=False)
    assert code == 1 and "[rejected]" in out  # git itself refuses a non-fast-forward without --force
    await git.run("push", "-q", "--force", cwd=work)
    space = hub.world.space("alice/demo")
    assert space.sha == other and "a.txt" not in space.files
    assert hub.world.read_file("alice", "alice/demo", first, "a.txt") == (first, b"a\n")


async def test_a_push_after_an_api_commit_is_refused_until_pulled(
    aiospace_emulator: Emulator, git: Git, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    work = await clone(git, hub, tmp_path)
    await git.commit_file(work, "mine.txt", "m\n")
    api_sha = hub.world.push_files("alice/demo", {"theirs.txt": "t\n"}).sha
    code, out = await git.run("push", cwd=work, check=False)
    assert code == 1 and "fetch first" in out
    await git.run("pull", "-q", "--no-rebase", "--no-edit", cwd=work)
    await git.run("push", "-q", cwd=work)
    merged = hub.world.space("alice/demo")
    assert {"mine.txt", "theirs.txt"} <= set(merged.files)
    assert merged.git.descends(merged.sha, api_sha)  # one history: the API's commit is an ancestor


# ---------------------------------------------------------------------- without dulwich


@pytest.mark.careless
async def test_without_dulwich_git_hears_what_is_missing_and_the_cli_says_it(
    aiospace_emulator_factory: object,
    git: Git,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "dulwich", None)
    monkeypatch.setitem(sys.modules, "aiospace.emulator.git_routes", None)
    hub = await aiospace_emulator_factory()  # type: ignore[operator]
    code, out = await git.run("clone", url(hub, "alice/demo"), str(tmp_path / "w"), check=False)
    assert code == 128 and "remote: git over HTTP needs dulwich" in out and "aiospace[emulator]" in out
    assert cli.main(["emulator", "--port", "0"]) == 1  # at once: no loop, no server
    assert "aiospace emulator: git over HTTP needs dulwich, which is not installed" in capsys.readouterr().err


async def test_a_shallow_clone_pushes_and_pulls_and_an_executable_stays_one(
    aiospace_emulator: Emulator, git: Git, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    hub.world.push_files("alice/demo", {"history.txt": "h\n"})
    work = tmp_path / "shallow"
    await git.run("clone", "-q", "--depth", "1", url(hub, "alice/demo", "hf_alice"), str(work))
    _, log = await git.run("log", "--oneline", cwd=work)
    assert len(log.splitlines()) == 1
    (work / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (work / "run.sh").chmod(0o755)
    await git.run("add", "run.sh", cwd=work)
    await git.run("commit", "-q", "-m", "a script", cwd=work)
    await git.run("push", "-q", cwd=work)  # from a shallow clone
    sha = await git.head(work)
    assert hub.world.space("alice/demo").sha == sha
    after = hub.world.push_files("alice/demo", {"api.txt": "a\n"}).sha  # an API commit keeps the mode
    await git.run("pull", "-q", cwd=work)  # into a shallow clone
    assert await git.head(work) == after and (work / "api.txt").exists()
    _, mode = await git.run("ls-files", "-s", "run.sh", cwd=work)
    assert mode.startswith("100755 ")
    await git.run("fetch", "-q", "--unshallow", cwd=work)
    _, log = await git.run("log", "--format=%s", cwd=work)
    assert log.splitlines()[-1] == "initial commit"


# ---------------------------------------------------------------------- a hostile peer


@pytest.mark.hostile
async def test_garbage_to_the_git_routes_is_a_4xx_and_changes_nothing(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    before = hub.world.space("alice/demo").sha
    base = f"{hub.url}/spaces/alice/demo"
    auth = {"Authorization": "Bearer hf_alice"}
    old = before.encode()
    truncated_push = b"%04x%s %s refs/heads/main\0report-status\n" % (
        4 + 40 + 1 + 40 + len(b" refs/heads/main\0report-status\n"),
        old,
        b"1" * 40,
    )
    truncated_push += b"0000PACK\x00\x00\x00\x02\x00\x00\x00\x05garbage"
    cases = [
        ("GET", "/info/refs", {}, b""),  # no service: the dumb protocol isn't served
        ("GET", "/info/refs?service=git-nonsense", {}, b""),
        ("POST", "/git-upload-pack", {"Content-Type": "text/plain"}, b"0000"),
        (
            "POST",
            "/git-upload-pack",
            {"Content-Type": "application/x-git-upload-pack-request"},
            b"zzzz" * 100,
        ),
        (
            "POST",
            "/git-receive-pack",
            {"Content-Type": "application/x-git-receive-pack-request"},
            b"\xff" * 64,
        ),
        (
            "POST",
            "/git-receive-pack",
            {"Content-Type": "application/x-git-receive-pack-request"},
            truncated_push,
        ),
        ("GET", "/info/refs?service=git-receive-pack", {"Authorization": "Basic %%%"}, b""),
    ]
    async with aiohttp.ClientSession() as session:
        for method, path, headers, body in cases:
            async with session.request(method, base + path, headers={**auth, **headers}, data=body) as resp:
                text = await resp.text(errors="replace")
                assert resp.status < 500, (path, resp.status, text)
                if resp.status == 200:  # a protocol answer: the push was not taken
                    assert "ok refs/heads/main" not in text
        # and the Space still clones as it was
        async with session.get(f"{base}/info/refs?service=git-upload-pack") as resp:
            assert resp.status == 200 and before in await resp.text()
    assert hub.world.space("alice/demo").sha == before


@pytest.mark.hostile
async def test_a_history_past_its_bound_refuses_the_commit_or_the_push(
    aiospace_emulator: Emulator, git: Git, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = aiospace_emulator
    work = await clone(git, hub, tmp_path)
    space = hub.world.space("alice/demo")
    monkeypatch.setattr(gitstore, "MAX_STORE_BYTES", space.git.size + 1000)
    before = space.sha
    with pytest.raises(HubError) as refused:
        hub.world.push_files("alice/demo", {"big.txt": "x" * 2000})
    assert refused.value.status == 413 and "bytes of git objects" in refused.value.message
    await git.commit_file(work, "big.txt", "y" * 2000)
    code, out = await git.run("push", cwd=work, check=False)
    assert code == 1 and "[remote rejected]" in out and "bytes of git objects" in out
    assert hub.world.space("alice/demo").sha == before


_GIT_PATHS = [
    f"/spaces/{space}{dot}/{tail}"
    for space in ("alice/demo", "alice/private-app", "bob/tool", "alice/nope", "a/b/c")
    for dot in ("", ".git")
    for tail in ("info/refs", "git-upload-pack", "git-receive-pack", "info/refs/x", "HEAD")
]
_PKT = st.one_of(
    st.binary(max_size=200),
    st.lists(
        st.one_of(
            st.sampled_from([b"0000", b"0001", b"0004", b"ffff", b"PACK\x00\x00\x00\x02", b"done\n"]),
            st.builds(lambda line: b"%04x" % (len(line) + 4) + line, st.binary(max_size=80)),
            st.sampled_from([b"want ", b"have ", b"shallow ", b"deepen 1", b"0" * 40 + b" "]).map(
                lambda head: b"%04x" % (len(head) + 45) + head + b"1" * 40 + b"\n"
            ),
        ),
        max_size=8,
    ).map(b"".join),
)


@pytest.mark.hostile
def test_fuzzing_the_git_routes_never_gets_a_500_nor_a_dropped_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    with emulator_in_a_thread(speed=50) as hub:
        before = {space_id: space.sha for space_id, space in hub.world.spaces.items()}
        basic = "Basic " + base64.b64encode(b"ci:hf_alice").decode()

        @settings(derandomize=True, deadline=None, max_examples=300, database=None)
        @given(
            method=st.sampled_from(["GET", "POST", "HEAD", "PUT"]),
            path=st.sampled_from(_GIT_PATHS),
            query=st.sampled_from(
                ["", "?service=git-upload-pack", "?service=git-receive-pack", "?service=x"]
            ),
            body=_PKT,
            auth=st.sampled_from(
                [None, "Bearer hf_alice", basic, "Bearer hf_bob", "Basic %%%", "Basic " + "A" * 8]
            ),
            kind=st.sampled_from(
                [
                    "application/x-git-upload-pack-request",
                    "application/x-git-receive-pack-request",
                    "text/plain",
                ]
            ),
        )
        def check(method: str, path: str, query: str, body: bytes, auth: str | None, kind: str) -> None:
            headers = {"Content-Type": kind, **({"Authorization": auth} if auth else {})}
            raw = request_bytes(method, (path + query).encode(), body if method != "GET" else None, headers)
            answer = blocking_exchange(hub.port, raw, method)
            assert answer.status < 500, (method, path, query, answer.status, answer.body[:200])
            if 400 <= answer.status < 500:
                assert answer.headers.get("x-error-message"), (path, answer.status)

        check()
        assert {space_id: space.sha for space_id, space in hub.world.spaces.items()} == before
    assert server_errors(caplog) == []

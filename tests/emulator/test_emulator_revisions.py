"""What other clients ask of the file and revision routes: the revision aliases the Hub accepts
(``HEAD``, ``main``, a full sha, old commits included), ``Range`` reads (``206`` with
``Content-Range``, ``416`` where unsatisfiable), ``HEAD`` with size and ETag, and a create with
files."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest

from aiospace.emulator import Emulator
from aiospace.emulator.push_routes import Unsatisfiable, byte_range
from aiospace.emulator.repo import MAX_REVISIONS, blob_oid

pytestmark = pytest.mark.aiospace_emulator(speed=1000)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def resolve(hub: Emulator, revision: str, path: str = "app.py", space: str = "alice/demo") -> str:
    return f"{hub.url}/spaces/{space}/resolve/{revision}/{path}"


# ---------------------------------------------------------------------- revisions


async def test_head_main_and_a_full_sha_name_the_same_commit(
    aiospace_emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    hub = aiospace_emulator
    sha = hub.world.space("alice/demo").sha
    for revision in ("HEAD", "main", sha, "refs%2Fheads%2Fmain"):
        async with session.get(f"{hub.url}/api/spaces/alice/demo/revision/{revision}") as resp:
            assert resp.status == 200, revision
            assert (await resp.json())["sha"] == sha
        async with session.get(resolve(hub, revision)) as resp:
            assert resp.status == 200 and resp.headers["X-Repo-Commit"] == sha


async def test_every_commit_of_the_history_stays_readable_by_id(
    aiospace_emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    hub = aiospace_emulator
    first = hub.world.push_files("alice/demo", {"v.txt": "0"}).sha
    for i in range(1, MAX_REVISIONS + 5):  # past the unpacked ones
        hub.world.push_files("alice/demo", {"v.txt": str(i)})
    assert first not in hub.world.space("alice/demo").trees
    async with session.get(resolve(hub, first, "v.txt")) as resp:
        assert resp.status == 200 and await resp.read() == b"0" and resp.headers["X-Repo-Commit"] == first
    async with session.get(f"{hub.url}/api/spaces/alice/demo/revision/{first}?expand=siblings") as resp:
        assert {"rfilename": "v.txt"} in (await resp.json())["siblings"]


@pytest.mark.careless
async def test_a_revision_the_space_lacks_is_invalid(
    aiospace_emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    hub = aiospace_emulator
    tree = hub.world.space("alice/demo").git.commit(hub.world.space("alice/demo").sha).tree
    for revision in ("dev", "0" * 40, tree, hub.world.space("alice/demo").sha[:12]):
        async with session.get(f"{hub.url}/api/spaces/alice/demo/revision/{revision}") as resp:
            assert resp.status == 404 and resp.headers["X-Error-Code"] == "RevisionNotFound", revision
            assert "Invalid rev id" in (await resp.json())["error"]


# ---------------------------------------------------------------------- ranges and HEAD


def test_byte_ranges() -> None:
    assert byte_range(None, 10) is None
    assert byte_range("bytes=0-0", 10) == (0, 0)
    assert byte_range("bytes=2-", 10) == (2, 9)
    assert byte_range("bytes=-3", 10) == (7, 9)
    assert byte_range("bytes=5-100", 10) == (5, 9)
    for ignored in ("bytes=0-1,3-4", "items=0-1", "bytes=5-2", "bytes=-", "nonsense"):
        assert byte_range(ignored, 10) is None, ignored
    for unsatisfiable in ("bytes=10-", "bytes=10-20", "bytes=-0", "bytes=0-0"):
        with pytest.raises(Unsatisfiable):
            byte_range(unsatisfiable, 10 if unsatisfiable != "bytes=0-0" else 0)


async def test_a_range_read_is_a_206_with_the_size(
    aiospace_emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    hub = aiospace_emulator
    content = hub.world.space("alice/demo").files["app.py"]
    async with session.get(resolve(hub, "main"), headers={"Range": "bytes=0-0"}) as resp:
        assert resp.status == 206
        assert resp.headers["Content-Range"] == f"bytes 0-0/{len(content)}"
        assert resp.headers["ETag"] == f'"{blob_oid(content)}"' and resp.headers["Accept-Ranges"] == "bytes"
        assert await resp.read() == content[:1]
    async with session.get(resolve(hub, "main"), headers={"Range": "bytes=7-"}) as resp:
        assert resp.status == 206 and await resp.read() == content[7:]
    async with session.get(resolve(hub, "main"), headers={"Range": f"bytes={len(content)}-"}) as resp:
        assert resp.status == 416
        assert resp.headers["Content-Range"] == f"bytes */{len(content)}"
        assert resp.headers["X-Error-Code"] == "RangeNotSatisfiable"


async def test_head_answers_the_size_and_etag_without_the_body(
    aiospace_emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    hub = aiospace_emulator
    content = hub.world.space("alice/demo").files["app.py"]
    async with session.head(resolve(hub, "HEAD")) as resp:
        assert resp.status == 200
        assert int(resp.headers["Content-Length"]) == len(content)
        assert resp.headers["ETag"] == f'"{blob_oid(content)}"'
        assert await resp.read() == b""
    async with session.head(resolve(hub, "main", "nope.txt")) as resp:
        assert resp.status == 404 and resp.headers["X-Error-Code"] == "EntryNotFound"


# ---------------------------------------------------------------------- create with files


async def test_a_create_with_files_commits_them_over_the_stand_ins(
    aiospace_emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    hub = aiospace_emulator
    body = {
        "name": "made",
        "organization": "alice",
        "type": "space",
        "sdk": "gradio",
        "license": "mit",
        "files": [
            {"path": "app.py", "content": base64.b64encode(b"print(2)\n").decode(), "encoding": "base64"}
        ],
    }
    async with session.post(
        f"{hub.url}/api/repos/create", json=body, headers=hub.headers_for("alice")
    ) as resp:
        assert resp.status == 200
        assert await resp.json() == {"url": f"{hub.url}/spaces/alice/made", "name": "alice/made"}
    space = hub.world.space("alice/made")
    assert space.files["app.py"] == b"print(2)\n" and "README.md" in space.files
    assert space.git.commit(space.sha).parents == ()  # one first commit


@pytest.mark.careless
async def test_a_create_with_unreadable_files_is_a_400(
    aiospace_emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    hub = aiospace_emulator
    for files in ([{"path": "a", "content": "%%%"}], [{"path": "../a", "content": ""}], "x", [{"path": "a"}]):
        body = {"name": "made", "type": "space", "sdk": "gradio", "files": files}
        async with session.post(
            f"{hub.url}/api/repos/create", json=body, headers=hub.headers_for("alice")
        ) as resp:
            assert resp.status == 400, files
    assert "alice/made" not in hub.world.spaces

"""An abusive client on loopback against the emulator: each defect a red-team pass found.

``test_emulator_hostile.py`` fuzzes the API and admin routes and covers odd values; this
file holds what that leaves out, found by talking raw HTTP to a running emulator:
pushes, connections that never finish a request, clients that open many streams and
never read them, and loops that would grow the world without bound. Each answer is a
JSON 4xx (never a 500, never a dropped connection), and the emulator keeps serving.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import socket
from collections import deque
from typing import Any

import aiohttp
import pytest
from helpers import client_for
from test_emulator_hostile import (
    Answer,
    _server_errors,
    assert_json_error,
    emulator_in_a_thread,
    exchange,
    parse_answer,
    request_bytes,
)

from aiospace.emulator import Emulator, faults, operations, state
from aiospace.emulator.encode import KEEP_ALIVE
from aiospace.emulator.repo import AddFile, DeleteFile, DeleteFolder, Operation, apply_operations
from aiospace.emulator.state import HubError, LogBuffer


def ndjson(*lines: dict[str, Any]) -> bytes:
    """A commit body: one JSON object per line (``ensure_ascii``: lone surrogates as ``\\udXXX``)."""
    return "\n".join(json.dumps(line) for line in lines).encode()


def header(summary: str = "s", **more: Any) -> dict[str, Any]:
    """The header line of a commit."""
    return {"key": "header", "value": {"summary": summary, **more}}


def add(path: str, content: bytes = b"x") -> dict[str, Any]:
    """A ``file`` line of a commit."""
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode()}}


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


# --------------------------------------------------------------------------- pushes


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
    assert _server_errors(caplog) == []
    assert hub.world.stats.by_status.get(500, 0) == 0


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


# --------------------------------------------------------------------------- log streams


async def _follow(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a log stream and read up to its first keep-alive (the replay before it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_bytes("GET", path).replace(b"Connection: close", b"Connection: keep-alive"))
    await writer.drain()
    await asyncio.wait_for(reader.readuntil(KEEP_ALIVE), 10)
    return reader, writer


QUIET = {"users": {"alice": "hf_alice"}, "spaces": [{"id": "alice/quiet", "log_interval": 10**6}]}


@pytest.mark.aiospace_emulator(speed=50, keepalive=10**6, seed=QUIET)
async def test_idle_log_followers_do_no_work_until_a_line_comes(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each follower polled its log 100 times a second: 3,000 idle streams kept a request waiting 15 s."""
    hub = aiospace_emulator
    looks = 0
    numbered_since = LogBuffer.numbered_since

    def counted(self: LogBuffer, index: int) -> Any:
        nonlocal looks
        looks += 1
        return numbered_since(self, index)

    monkeypatch.setattr(LogBuffer, "numbered_since", counted)
    followers = [await _follow(hub.port, "/api/spaces/alice/quiet/logs/run") for _ in range(40)]
    try:
        looks = 0
        await asyncio.sleep(0.2)  # nothing is written: 20 polls each, before
        assert looks == 0
        hub.world.append_log("alice/quiet", "a line for everyone")
        for reader, _writer in followers:
            event = await asyncio.wait_for(reader.readuntil(b"\n\n"), 10)
            assert b"a line for everyone" in event
        assert looks <= 2 * len(followers)
    finally:
        for _reader, writer in followers:
            writer.close()
    async with client_for(hub, "alice") as client:  # and the emulator answers as before
        assert (await client.get_space_runtime("alice/quiet")).stage.value == "RUNNING"


# --------------------------------------------------------------------------- connections


async def _until_closed(port: int, raw: bytes) -> bytes:
    """Send ``raw`` and read until the emulator closes the connection (10 s at most: else it held it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.mark.aiospace_emulator(speed=50, read_timeout=0.2)
async def test_a_body_that_never_comes_is_a_408_and_the_connection_closes(
    aiospace_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A request announcing a body it never sends held its connection and handler forever."""
    caplog.set_level(logging.ERROR)
    hub = aiospace_emulator
    auth = f"Authorization: Bearer {hub.token_for('alice')}\r\n"
    heads = [
        b"POST /api/spaces/alice/demo/hardware HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n",
        b"POST /api/spaces/alice/demo/variables HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n",
        b"POST /api/spaces/alice/demo/commit/main HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n",
        b"POST /api/spaces/alice/demo/commit/main HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n",
        b"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n",
    ]
    for head in heads:
        who = f"Authorization: Bearer {hub.admin_token}\r\n" if b"_emulator" in head else auth
        raw = head + who.encode() + b"\r\n" + (b'5\r\n{"a":\r\n' if b"chunked" in head else b'{"k')
        answer = parse_answer(await _until_closed(hub.port, raw))
        assert "sent nothing" in assert_json_error(answer, 408)["error"], head
    assert hub.world.faults.faults == [] and hub.world.space("alice/demo").variables == {}
    async with client_for(hub, "alice") as client:
        assert (await client.get_space_runtime("alice/demo")).stage.value == "RUNNING"
    assert _server_errors(caplog) == []


@pytest.mark.aiospace_emulator(speed=50, read_timeout=0.2)
async def test_idle_and_half_sent_connections_are_closed(aiospace_emulator: Emulator) -> None:
    """aiohttp keeps an idle connection, or one whose headers trickle in, for an hour."""
    hub = aiospace_emulator
    assert await _until_closed(hub.port, b"") == b""
    assert await _until_closed(hub.port, b"GET /api/spaces/alice/demo/runtime HTTP/1.1\r\nHost: x\r\n") == b""
    kept = b"GET /api/spaces/alice/demo/runtime HTTP/1.1\r\nHost: x\r\n\r\n"  # then idle, kept alive
    assert parse_answer(await _until_closed(hub.port, kept)).status == 200


def test_a_read_timeout_must_be_a_finite_number_of_seconds() -> None:
    for bad in (0, -1, math.inf, math.nan, "5", True):
        with pytest.raises(ValueError, match="read_timeout"):
            Emulator(read_timeout=bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- growth


async def test_a_loop_of_creates_or_adds_stops_at_the_caps(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spaces, secrets and variables had no cap: a loop of calls grew the emulator's memory forever.

    The caps (10,000 Spaces, 1,000 secrets or variables a Space) are lowered here to keep it fast.
    """
    monkeypatch.setattr(operations, "MAX_SPACES", len(aiospace_emulator.world.spaces) + 3)
    monkeypatch.setattr(operations, "MAX_KEYS", 5)
    hub = aiospace_emulator
    async with aiohttp.ClientSession(hub.url, headers=hub.headers_for("alice")) as session:

        async def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            async with session.post(path, json=body) as response:
                return response.status, await response.json()

        statuses = [
            (await post("/api/repos/create", {"name": f"n{n}", "type": "space", "sdk": "gradio"}))[0]
            for n in range(5)
        ]
        assert statuses == [200, 200, 200, 400, 400]
        status, answer = await post("/api/spaces/alice/demo/duplicate", {"repository": "alice/copy"})
        assert status == 400 and "at most" in answer["error"]
        for kind in ("secrets", "variables"):
            statuses = [
                (await post(f"/api/spaces/alice/demo/{kind}", {"key": f"K{n}", "value": "v"}))[0]
                for n in range(7)
            ]
            assert statuses == [200] * 5 + [400] * 2
            assert (await post(f"/api/spaces/alice/demo/{kind}", {"key": "K0", "value": "w"}))[0] == 200
    space = hub.world.space("alice/demo")
    assert len(space.secrets) == len(space.variables) == 5
    assert "alice/n3" not in hub.world.spaces and "alice/copy" not in hub.world.spaces
    too_many = {f"K{n}": "v" for n in range(6)}
    with pytest.raises(HubError, match="at most 5 variables"):
        hub.world.add_space("alice/vars", variables=too_many)
    assert operations.MAX_SPACES - 3 == 5 and state.MAX_SPACES == 100_000 and state.MAX_KEYS == 1_000


@pytest.mark.aiospace_emulator(speed=50)
async def test_faults_are_capped_in_number_and_in_latency(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    admin = {"Authorization": f"Bearer {hub.admin_token}"}
    async with aiohttp.ClientSession(headers=admin) as session:

        async def add_fault(spec: dict[str, Any]) -> tuple[int, Any]:
            async with session.post(f"{hub.url}/_emulator/faults", json=spec) as answer:
                return answer.status, await answer.json()

        # A latency of ages would hold every request until the emulator stops.
        for field in ("latency", "jitter"):
            status, body = await add_fault({"kind": "latency", field: 1e9})
            assert status == 400 and "at most 3600" in body["error"]
        status, body = await add_fault({"kind": "latency", "latency": 3600, "rate": 0})
        assert status == 201 and body["latency"] == 3600
        for _ in range(faults.MAX_FAULTS - 1):
            assert (await add_fault({"kind": "error", "rate": 0}))[0] == 201
        status, body = await add_fault({"kind": "error", "rate": 0})
        assert status == 400 and "at most 100 faults" in body["error"]
    assert len(hub.world.faults.faults) == faults.MAX_FAULTS


@pytest.mark.aiospace_emulator(speed=1000)
async def test_the_event_log_keeps_the_newest_events_and_counts_on(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = aiospace_emulator
    monkeypatch.setattr(hub.world.lifecycle, "events", deque(maxlen=5))  # MAX_EVENTS, made small
    for _ in range(4):  # each restart logs two or more events (its stages)
        hub.world.restart("alice", "alice/demo")
        await hub.clock.sleep(60)
    kept = list(hub.world.events)
    assert len(kept) == 5  # a loop of restarts can't grow the log without end
    seqs = [e.seq for e in kept]
    assert seqs == list(range(seqs[0], seqs[0] + 5)) and seqs[0] > 0  # numbers keep counting
    assert [e.seq for e in hub.world.lifecycle.events_for(after=seqs[2])] == seqs[3:]

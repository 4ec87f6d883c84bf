"""An abusive client on loopback against the emulator: each defect a red-team pass found.

``test_emulator_hostile.py`` fuzzes the API and admin routes and covers odd values; this
file holds what that leaves out, found by talking raw HTTP to a running emulator:
pushes, connections that never finish a request, clients that open many streams and
never read them, and loops that would grow the world without bound. Each answer is a
JSON 4xx (never a 500, never a dropped connection), and the emulator keeps serving.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from test_emulator_hostile import _server_errors, assert_json_error, exchange, request_bytes

from aiospace.emulator import Emulator


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

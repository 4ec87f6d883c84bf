"""The official JavaScript client (``@huggingface/hub``, unchanged, run by Node) through a Space's whole
workflow against the emulator (``tests/js/driver.mjs``): whoAmI, createRepo (space, sdk, private,
files), repoExists, uploadFiles (with and without parentCommit; a stale parent refused), listFiles,
downloadFile (its Range probe), spaceInfo with additionalFields (at HEAD and at a commit), listSpaces
by owner, deleteRepo. Skipped with the reason where Node or the npm package isn't installed
(``.ci/run`` installs it: ``npm install --prefix tests/js``)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from aiospace.emulator import Emulator
from aiospace.emulator.repo import blob_oid

JS = Path(__file__).resolve().parent.parent / "js"
NODE = shutil.which("node")
PACKAGE = JS / "node_modules" / "@huggingface" / "hub" / "package.json"
pytestmark = [
    pytest.mark.skipif(NODE is None, reason="Node is not installed: the JavaScript client's tests need node"),
    pytest.mark.skipif(
        not PACKAGE.exists(),
        reason="the npm package @huggingface/hub is not installed: npm install --prefix tests/js",
    ),
    pytest.mark.aiospace_emulator(speed=400),
]


async def drive(hub: Emulator, space: str = "alice/js-app") -> dict[str, Any]:
    """Run the driver against ``hub`` as alice; what it saw."""
    env = {"PATH": os.environ.get("PATH", ""), "HUB_URL": hub.url, "TOKEN": "hf_alice", "SPACE": space}
    process = await asyncio.create_subprocess_exec(
        str(NODE),
        str(JS / "driver.mjs"),
        cwd=JS,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode(errors="replace")
    report: dict[str, Any] = json.loads(out)
    return report


async def test_the_javascript_clients_space_workflow(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    report = await drive(hub)

    assert report["whoami"] == {"name": "alice", "type": "user"}
    assert report["created"] == {"repoUrl": f"{hub.url}/spaces/alice/js-app"}
    assert (report["exists"], report["existsAnonymously"], report["missingExists"]) == (True, False, False)

    # the two commits, the second on its parent; the stale parent refused as the Hub does
    first, second = report["commits"]
    assert report["stale"]["status"] == 412 and "A commit has happened since" in report["stale"]["message"]
    assert report["infoAtFirst"] == first
    info = report["info"]
    assert info["sha"] == second and info["name"] == "alice/js-app" and info["private"] is True
    assert info["author"] == "alice" and info["subdomain"] == "alice-js-app" and info["sdk"] == "gradio"
    assert info["runtime"]["hardware"]["requested"] == "cpu-basic" and len(info["id"]) == 24
    assert info["cardData"]["sdk"] == "gradio" and isinstance(info["gitalyUid"], str)  # every expandable key

    # the files: createRepo's app.py, both uploads, the stand-ins; the stale upload's file is not there
    listed = {entry["path"]: entry for entry in report["files"] if entry["type"] == "file"}
    assert set(listed) == {".gitattributes", "README.md", "app.py", "hello.txt", "data/numbers.json"}
    numbers = b"[1, 2, 3]\n"
    assert listed["data/numbers.json"] == {
        "path": "data/numbers.json",
        "type": "file",
        "size": len(numbers),
        "oid": blob_oid(numbers),
    }
    assert [e["path"] for e in report["files"] if e["type"] == "directory"] == ["data"]
    assert listed["app.py"]["oid"] == blob_oid(b"import gradio as gr\nprint('from js')\n")  # createRepo's
    assert report["download"] == {"text": "hello from js\n", "size": len(b"hello from js\n")}
    assert report["slice"] == numbers[1:5].decode()  # a Range read of bytes 1-4
    assert report["missingDownload"] is None  # EntryNotFound: null, as the client reads it

    # listSpaces by owner: alice's Spaces (her private ones too), each with its head sha
    listed_spaces = {item["name"]: item for item in report["listed"]}
    alices = {space_id for space_id in hub.world.spaces if space_id.startswith("alice/")}
    assert set(listed_spaces) == alices | {"alice/js-app"}
    for space_id in alices:
        assert listed_spaces[space_id]["sha"] == hub.world.space(space_id).sha
    assert listed_spaces["alice/js-app"]["sha"] == second and listed_spaces["alice/js-app"]["private"]

    # deleteRepo: gone
    assert report["existsAfterDelete"] is False
    assert "alice/js-app" not in hub.world.spaces

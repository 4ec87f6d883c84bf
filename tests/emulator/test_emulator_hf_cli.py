"""The official ``hf`` CLI (huggingface_hub's, unchanged, run as a real process) against the emulator
through ``HF_ENDPOINT``: ``hf repos create --repo-type space``, ``hf upload``, ``hf download``,
``hf repos delete``."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from aiospace.emulator import Emulator

pytest.importorskip("huggingface_hub")
HF = shutil.which("hf", path=os.path.dirname(sys.executable)) or shutil.which("hf")
pytestmark = [
    pytest.mark.skipif(HF is None, reason="the hf CLI (huggingface_hub's) is not installed"),
    pytest.mark.aiospace_emulator(speed=400),
]


async def hf(hub: Emulator, home: Path, *args: str, token: str = "hf_alice") -> tuple[int, str]:
    """``hf ARGS`` with ``HF_ENDPOINT`` at the emulator: its exit code and output (stdout and stderr)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "HF_HOME": str(home / "hf"),
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": token,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "NO_COLOR": "1",
    }
    process = await asyncio.create_subprocess_exec(
        str(HF), *args, env=env, cwd=home, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def test_hf_repos_create_makes_a_space(aiospace_emulator: Emulator, tmp_path: Path) -> None:
    hub = aiospace_emulator
    code, out = await hf(
        hub, tmp_path, "repos", "create", "alice/cli-made", "--repo-type", "space", "--space-sdk", "gradio"
    )
    assert code == 0, out
    assert f"{hub.url}/spaces/alice/cli-made" in out
    space = hub.world.space("alice/cli-made")
    assert space.sdk == "gradio" and not space.private
    code, out = await hf(
        hub, tmp_path, "repos", "create", "alice/cli-made", "--repo-type", "space", "--space-sdk", "gradio"
    )
    assert code != 0 and "409" in out  # it exists


async def test_hf_upload_then_hf_download_round_trip_a_file(
    aiospace_emulator: Emulator, tmp_path: Path
) -> None:
    hub = aiospace_emulator
    app = tmp_path / "app.py"
    app.write_text("import gradio as gr\nprint('from the hf CLI')\n")
    code, out = await hf(hub, tmp_path, "upload", "alice/demo", str(app), "app.py", "--repo-type", "space")
    assert code == 0, out
    sha = hub.world.space("alice/demo").sha
    assert f"/spaces/alice/demo/commit/{sha}" in out
    code, out = await hf(
        hub,
        tmp_path,
        "download",
        "alice/demo",
        "app.py",
        "--repo-type",
        "space",
        "--local-dir",
        str(tmp_path / "out"),
    )
    assert code == 0, out
    assert (tmp_path / "out" / "app.py").read_bytes() == app.read_bytes()
    # the whole Space, at the commit just made
    code, out = await hf(
        hub,
        tmp_path,
        "download",
        "alice/demo",
        "--repo-type",
        "space",
        "--revision",
        sha,
        "--local-dir",
        str(tmp_path / "all"),
    )
    assert code == 0, out
    assert {p.name for p in (tmp_path / "all").iterdir() if p.name != ".cache"} == set(
        hub.world.space("alice/demo").files
    )


async def test_hf_repos_delete_removes_the_space(aiospace_emulator: Emulator, tmp_path: Path) -> None:
    hub = aiospace_emulator
    code, out = await hf(hub, tmp_path, "repos", "delete", "alice/demo", "--repo-type", "space", "--yes")
    assert code == 0, out
    assert "alice/demo" not in hub.world.spaces
    code, out = await hf(hub, tmp_path, "repos", "delete", "bob/tool", "--repo-type", "space", "--yes")
    assert code != 0 and "bob/tool" in hub.world.spaces  # alice can't delete bob's Space

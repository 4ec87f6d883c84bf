"""The recorded Hub exchanges, replayed against the emulator: same statuses, same answers.

``tests/samples/`` holds real requests to the Hub and the answers they got. The
client's parser is judged by them in ``tests/hub/test_convert.py``; here the emulator is: each
request is sent, in order, to an emulator seeded with the recorded Spaces, and its
answer must equal the recorded one key for key and type for type (timestamps, which
differ, only in their format). The emulator writes answers with its own encoder,
so this is what catches a wrong wire format on its side.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp

SAMPLES = sorted((Path(__file__).parent.parent / "samples").glob("*.json"))
#: The Spaces of the recordings: a gradio Space caught building, and a static Space.
SEED = {
    "users": {"user": "hf_user", "victor": "hf_victor"},
    "spaces": [
        # The recordings never see the build end: it lasts longer than the test.
        {"id": "user/tmp_test_space", "stage": "BUILDING", "build_seconds": 1e6},
        {"id": "victor/static-space", "sdk": "static"},
    ],
}
HUB_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _timestamps_masked(data: Any) -> Any:
    """``data`` with every ``updatedAt`` checked for the Hub's format, then replaced."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key == "updatedAt":
                assert isinstance(value, str) and HUB_TIME.fullmatch(value), value
                value = "<time>"
            out[key] = _timestamps_masked(value)
        return out
    if isinstance(data, list):
        return [_timestamps_masked(item) for item in data]
    return data


def test_every_sample_is_replayed() -> None:
    assert len(SAMPLES) == 22


async def test_the_emulator_answers_every_recorded_request_as_the_hub_did(
    aiospace_emulator_factory: Any,
) -> None:
    hub = await aiospace_emulator_factory(speed=1, seed=SEED)
    async with aiohttp.ClientSession() as session:
        for path in SAMPLES:
            recorded = json.loads(path.read_text())
            request, expected = recorded["request"], recorded["response"]
            owner = request["path"].split("/")[3]
            body = {} if request["json"] is None else {"json": request["json"]}
            async with session.request(
                request["method"], hub.url + request["path"], headers=hub.headers_for(owner), **body
            ) as resp:
                answer = await resp.json()
            assert resp.status == expected["status"], path.name
            assert _timestamps_masked(answer) == _timestamps_masked(expected["json"]), path.name
            # In Python 1 == 1.0 == True: the JSON types are compared apart.
            assert _types(answer) == _types(expected["json"]), path.name


def _types(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _types(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_types(item) for item in data]
    return type(data).__name__

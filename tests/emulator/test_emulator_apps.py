"""The emulator serves every Space's app (``aiospace/emulator/apps.py``) and reads README cards
(``aiospace/emulator/card.py``), over loopback HTTP: the app answers by ``Host`` on the emulator's
own origin, 503 until ``app_ready_after`` and for ever with ``serving: false``, and space info's
``cardData`` is the README's front matter (pushed, or seeded with ``startup_duration_timeout``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from aiospace import SpaceStage
from aiospace.emulator import Emulator
from aiospace.emulator.card import parse_front_matter, with_card_keys

SEED: dict[str, Any] = {
    "users": {"alice": "hf_alice", "bob": "hf_bob"},
    "spaces": [
        {"id": "alice/slow", "app_ready_after": 60, "startup_duration_timeout": "2h"},
        {"id": "alice/dead", "serving": False},
        {"id": "alice/site", "sdk": "static"},
        {"id": "alice/secret", "private": True},
        {"id": "alice/Mixed_Case.app", "stage": "BUILDING", "build_seconds": 30},
        {"id": "alice/napping", "stage": "SLEEPING"},
    ],
}


@pytest.fixture
async def world() -> AsyncIterator[Emulator]:
    async with Emulator(speed=100, seed=SEED) as emulator:
        yield emulator


async def app(world: Emulator, host: str, token: str | None = None, method: str = "GET") -> tuple[int, str]:
    """Ask the app at ``host`` on the emulator's origin; its status and body."""
    headers = {"Host": host, **({"Authorization": f"Bearer {token}"} if token else {})}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, world.url + "/", headers=headers) as response,
    ):
        return response.status, await response.text()


async def test_each_app_answers_by_its_host(world: Emulator) -> None:
    assert (await app(world, "alice-slow.hf.space"))[0] == 503  # app_ready_after 60
    assert (await app(world, "alice-dead.hf.space"))[0] == 503
    status, body = await app(world, "alice-site.hf.space:443")
    assert status == 200 and "<h1>Hello</h1>" in body  # the static Space's own index.html
    assert (await app(world, "alice-mixed-case-app.hf.space"))[0] == 503  # building
    assert (await app(world, "nobody-here.hf.space"))[0] == 404
    assert (await app(world, "ALICE-SITE.HF.SPACE"))[0] == 200
    assert (await app(world, "alice-site.hf.space", method="POST"))[0] == 405


async def test_an_app_answers_once_ready_and_a_dead_one_never(world: Emulator) -> None:
    await world.clock.sleep(61)
    status, body = await app(world, "alice-slow.hf.space")
    assert status == 200 and "slow" in body
    assert (await app(world, "alice-dead.hf.space"))[0] == 503
    world.world.configure("alice/dead", serving=True)
    assert (await app(world, "alice-dead.hf.space"))[0] == 200


async def test_a_private_app_is_hidden_from_others(world: Emulator) -> None:
    assert (await app(world, "alice-secret.hf.space"))[0] == 404
    assert (await app(world, "alice-secret.hf.space", token="hf_bob"))[0] == 404
    assert (await app(world, "alice-secret.hf.space", token="hf_alice"))[0] == 200
    assert (await app(world, "alice-secret.hf.space", token="hf_nobody"))[0] == 404


async def test_a_visit_to_a_sleeping_app_wakes_it(world: Emulator) -> None:
    assert (await app(world, "alice-napping.hf.space"))[0] == 503
    assert world.world.space("alice/napping").stage == SpaceStage.APP_STARTING


async def test_app_requests_are_not_api_requests(world: Emulator) -> None:
    before = world.world.stats_json()
    for _ in range(5):
        await app(world, "alice-site.hf.space")
    after = world.world.stats_json()
    assert (after["requests"], after["by_status"]) == (before["requests"], before["by_status"])


async def test_card_data_is_the_readmes_front_matter(world: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(world.url + "/api/spaces/alice/slow") as response:
            info = await response.json()
        assert info["host"] == "https://alice-slow.hf.space" and info["subdomain"] == "alice-slow"
        assert info["cardData"] == {"title": "slow", "sdk": "gradio", "startup_duration_timeout": "2h"}
        readme = "---\nsdk: docker\napp_port: 8080\nsuggested_hardware: t4-small\n"
        readme += "startup_duration_timeout: 1h\n---\n"
        world.world.push_files("alice/slow", {"README.md": readme})
        async with session.get(world.url + "/api/spaces/alice/slow?expand=cardData") as response:
            card = (await response.json())["cardData"]
    assert card == {
        "sdk": "docker",
        "app_port": 8080,
        "suggested_hardware": "t4-small",
        "startup_duration_timeout": "1h",
    }


def test_front_matter_parsing() -> None:
    text = (
        "---\ntitle: 'A: title'\nemoji: 🚀\ntags:\n  - a\n  - b\nmodels: [m1, \"m2\"]\nextra:\n  nested: 1\n"
        "pinned: false\nlicense: null\n---\n# body\nsdk: not-read\n"
    )
    assert parse_front_matter(text) == {
        "title": "A: title",
        "emoji": "🚀",
        "tags": ["a", "b"],
        "models": ["m1", "m2"],
        "pinned": False,
        "license": None,
    }
    assert parse_front_matter("# no card\n") == {}
    assert parse_front_matter("---\nsdk: gradio\n") == {}  # never closed
    written = with_card_keys(
        b"---\nstartup_duration_timeout: 1h\n---\n", {"startup_duration_timeout": "2h"}, "x", "g"
    )
    assert parse_front_matter(written.decode()) == {"startup_duration_timeout": "2h"}


@pytest.mark.careless
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("startup_duration_timeout", "soon"),
        ("startup_duration_timeout", 30),
        ("app_ready_after", -1),
        ("serving", 1),
    ],
)
async def test_a_bad_seed_value_is_refused(key: str, value: object) -> None:
    seed = {"users": {"alice": "hf_alice"}, "spaces": [{"id": "alice/x", key: value}]}
    with pytest.raises(ValueError, match=key):
        async with Emulator(seed=seed):
            pass

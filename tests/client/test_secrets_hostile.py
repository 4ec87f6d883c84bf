"""Secrets stay secret against a Hub that echoes them back in the forms the client sent.

tests/client/test_hostile.py and tests/client/test_security.py cover a token or a plain secret value
echoed as is. Here: a secret value holding characters JSON escapes (a quote, a backslash,
a non-ASCII letter), echoed as the client's own body spelled it or escaped once more by a
Hub that nests the request in a JSON error; needles that hold one another; and a short
secret value, which must not eat every matching letter of an error message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hostile_hub import TOKEN, HostileHub

from aiospace import SpaceClient
from aiospace.emulator import Emulator

REPO = "user/app"
BASE = f"/api/spaces/{REPO}"


async def _collect(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


async def test_the_emulators_space_repr_never_shows_a_secret_value() -> None:
    value = "emulated-SECRET-value-1234"
    seed = {"users": {"alice": TOKEN}, "spaces": [{"id": "alice/app", "secrets": {"SEEDED": value}}]}
    async with Emulator(speed=200, seed=seed) as hub:
        async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=hub.clock) as client:
            await client.add_space_secret("alice/app", "ADDED", value + "-added")
        space = hub.world.space("alice/app")
        assert {k: s.value for k, s in space.secrets.items()} == {"SEEDED": value, "ADDED": value + "-added"}
        shown = [repr(hub), repr(space), repr(space.secrets), str(space)]
    assert "SEEDED" in shown[1] and all(value not in text for text in shown)

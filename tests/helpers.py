"""Helpers the tests share (no fixtures: those are in conftest.py)."""

from __future__ import annotations

from typing import Any

from aiospace import SpaceClient
from aiospace.emulator import Emulator


def client_for(emulator: Emulator, user: str | None = None, **options: Any) -> SpaceClient:
    """A client of ``user`` (None: anonymous) on ``emulator``, on its clock (Hub time runs faster)."""
    token: str | bool = False if user is None else emulator.token_for(user)
    return SpaceClient(endpoint=emulator.url, token=token, clock=emulator.clock, **options)

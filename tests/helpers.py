"""Helpers the tests share (no fixtures: those are in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiospace import SpaceClient
from aiospace._hub import requests as req
from aiospace.emulator import Emulator

#: Every recorded exchange in ``tests/samples``, as ``(file name, content)``.
SAMPLES = [
    (p.name, json.loads(p.read_text())) for p in sorted((Path(__file__).parent / "samples").glob("*.json"))
]


def client_for(emulator: Emulator, user: str | None = None, **options: Any) -> SpaceClient:
    """A client of ``user`` (None: anonymous) on ``emulator``, on its clock (Hub time runs faster)."""
    token: str | bool = False if user is None else emulator.token_for(user)
    return SpaceClient(endpoint=emulator.url, token=token, clock=emulator.clock, **options)


def request_for_sample(sample: dict[str, Any]) -> req.Request:
    """Rebuild a recorded request with the builders."""
    recorded = sample["request"]
    method, path, body = recorded["method"], recorded["path"], recorded["json"]
    repo_id = "/".join(path.split("/")[3:5])
    what = path.rsplit("/", 1)[1]
    if (method, what) == ("POST", "secrets"):
        return req.add_space_secret(repo_id, body["key"], body["value"], body.get("description"))
    if (method, what) == ("DELETE", "secrets"):
        return req.delete_space_secret(repo_id, body["key"])
    if (method, what) == ("GET", "variables"):
        return req.get_space_variables(repo_id)
    if (method, what) == ("POST", "variables"):
        return req.add_space_variable(repo_id, body["key"], body["value"], body.get("description"))
    if (method, what) == ("DELETE", "variables"):
        return req.delete_space_variable(repo_id, body["key"])
    if (method, what) == ("GET", "runtime"):
        return req.get_space_runtime(repo_id)
    if (method, what) == ("POST", "pause"):
        return req.pause_space(repo_id)
    if (method, what) == ("POST", "restart"):
        return req.restart_space(repo_id)
    raise AssertionError(f"no builder for {method} {path}")

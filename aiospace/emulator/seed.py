"""Seed files: the users, organizations and Spaces an emulator starts with.

Format (JSON)::

    {
      "users": {"alice": "hf_alice"},            # user name -> token
      "orgs": {"acme": ["alice"]},               # optional: org -> members (who may write)
      "spaces": [
        {"id": "alice/app", "sdk": "gradio", "private": false, "protected": false,
         "hardware": "cpu-basic",
         "stage": "RUNNING",                     # or BUILDING, PAUSED, SLEEPING, BUILD_ERROR...
         "sleep_time": null, "storage": null, "dev_mode": false, "likes": 0,
         "secrets": {"K": "V"}, "variables": {"K": {"value": "V", "description": "D"}},
         "build_seconds": 30, "start_seconds": 5, "hardware_seconds": 10,
         "factory_seconds": 30, "fail_build": false, "crash_after": null,
         "stuck": false, "log_interval": 5,
         "files": {"app.py": "import gradio as gr\n..."}}
      ]
    }

Every Space key but ``id`` is optional (defaults as shown; ``hardware`` is ignored for
``"sdk": "static"``; without ``files``, a README.md card and a stand-in app file for its
SDK). Unknown keys are refused, so a typo can't go unnoticed.

:data:`DEMO_SEED` is the world used when no seed is given: users ``alice``
(token ``hf_alice``) and ``bob`` (``hf_bob``); Spaces ``alice/demo`` (gradio,
cpu-basic, running), ``alice/gpu-app`` (gradio, t4-small, running),
``alice/static-site`` (static), ``alice/private-app`` (private, running) and
``bob/tool`` (docker, cpu-basic, running).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .state import BEHAVIOUR_FIELDS
from .world import World

__all__ = ["DEMO_SEED", "SeedLike", "apply_seed", "load_seed"]

SeedLike = Mapping[str, Any] | str | Path | None

DEMO_SEED: dict[str, Any] = {
    "users": {"alice": "hf_alice", "bob": "hf_bob"},
    "spaces": [
        {"id": "alice/demo", "sdk": "gradio", "hardware": "cpu-basic"},
        {"id": "alice/gpu-app", "sdk": "gradio", "hardware": "t4-small"},
        {"id": "alice/static-site", "sdk": "static"},
        {"id": "alice/private-app", "sdk": "gradio", "private": True},
        {"id": "bob/tool", "sdk": "docker", "hardware": "cpu-basic"},
    ],
}

_SPACE_KEYS = frozenset(
    {
        "id",
        "sdk",
        "private",
        "protected",
        "hardware",
        "stage",
        "sleep_time",
        "storage",
        "dev_mode",
        "secrets",
        "variables",
        "likes",
        "files",
    }
)


def load_seed(seed: SeedLike) -> dict[str, Any]:
    """The seed as a dict: a mapping as is, a path read as JSON, None the demo world."""
    if seed is None:
        return copy.deepcopy(DEMO_SEED)
    if isinstance(seed, (str, Path)):
        data = json.loads(Path(seed).read_text(encoding="utf-8"))
    else:
        data = copy.deepcopy(dict(seed))
    if not isinstance(data, dict):
        raise ValueError("a seed must be a JSON object")
    return data


def apply_seed(world: World, seed: SeedLike) -> dict[str, Any]:
    """Create the seed's users, orgs and Spaces in ``world``; return the seed as a dict."""
    data = load_seed(seed)
    unknown = set(data) - {"users", "orgs", "spaces"}
    if unknown:
        raise ValueError(f"unknown seed key(s): {', '.join(sorted(unknown))}")
    users = data.get("users") or {}
    if not isinstance(users, Mapping):
        raise ValueError("'users' must map user names to tokens")
    for name, token in users.items():
        if not isinstance(token, str) or not token:
            raise ValueError(f"the token of {name!r} must be a non-empty string")
        world.add_user(str(name), token)
    for org, members in (data.get("orgs") or {}).items():
        if not isinstance(members, list):
            raise ValueError(f"the members of {org!r} must be a list of user names")
        world.add_org(str(org), (str(m) for m in members))
    spaces = data.get("spaces") or []
    if not isinstance(spaces, list):
        raise ValueError("'spaces' must be a list")
    for spec in spaces:
        add_space_from_spec(world, spec)
    return data


def add_space_from_spec(world: World, spec: Any) -> Any:
    """Create one Space from a seed entry (see the module docstring)."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("id"), str):
        raise ValueError("each Space must be an object with an 'id' ('namespace/name')")
    unknown = set(spec) - _SPACE_KEYS - BEHAVIOUR_FIELDS
    if unknown:
        raise ValueError(f"unknown Space key(s) for {spec['id']}: {', '.join(sorted(unknown))}")
    options = {k: v for k, v in spec.items() if k in _SPACE_KEYS and k != "id"}
    behaviour = {k: v for k, v in spec.items() if k in BEHAVIOUR_FIELDS}
    for key, kind in (
        ("sdk", str),
        ("private", bool),
        ("protected", bool),
        ("dev_mode", bool),
        ("stage", str),
    ):
        if key in options and not isinstance(options[key], kind):
            raise ValueError(f"{spec['id']}: {key} must be a {kind.__name__}")
    for key in ("secrets", "variables"):
        if options.get(key) is not None and not isinstance(options[key], Mapping):
            raise ValueError(f"{spec['id']}: {key} must map keys to values")
    files = options.get("files")
    if files is not None and (
        not isinstance(files, Mapping) or not all(isinstance(v, str) for v in files.values())
    ):
        raise ValueError(f"{spec['id']}: files must map paths to text contents")
    return world.add_space(spec["id"], behaviour=behaviour, **options)

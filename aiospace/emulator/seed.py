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
         "stuck": false, "log_interval": 5, "push_delay": 3, "capacity_failures": 0,
         "app_ready_after": 0, "serving": true, "startup_duration_timeout": "30m",
         "files": {"app.py": "import gradio as gr\n..."}}
      ]
    }

Every Space key but ``id`` is optional (defaults as shown; ``hardware`` is ignored for
``"sdk": "static"``; without ``files``, a README.md card and a stand-in app file for its
SDK; ``startup_duration_timeout`` is written into that README card). Unknown keys are
refused, so a typo can't go unnoticed.

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

from .card import CARD_FILE, SEED_CARD_KEYS, check_duration, with_card_keys
from .repo import default_files
from .state import BEHAVIOUR_FIELDS, HubError
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
    """The seed as a dict: a mapping as is, a path read as JSON, None the demo world.

    A file that is not JSON, nests too deeply or holds ``NaN`` / ``Infinity`` is a
    ``ValueError`` with a one-line message (an unreadable file an ``OSError``).
    """
    if seed is None:
        return copy.deepcopy(DEMO_SEED)
    try:
        if isinstance(seed, (str, Path)):
            text = Path(seed).read_text(encoding="utf-8")
            data = json.loads(text, parse_constant=_refuse_constant)
        else:
            data = copy.deepcopy(dict(seed))
    except RecursionError:
        raise ValueError("the seed is nested too deeply") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"the seed is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError("a seed must be a JSON object")
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the seed holds {name}, which is not a number JSON allows")


def apply_seed(world: World, seed: SeedLike) -> dict[str, Any]:
    """Create the seed's users, orgs and Spaces in ``world``; return the seed as a dict.

    Anything wrong in the seed is a ``ValueError`` with a one-line message (what
    ``aiospace emulator --seed FILE`` prints), never another exception.
    """
    data = load_seed(seed)
    try:
        _apply(world, data)
    except HubError as err:
        raise ValueError(" ".join(err.message.split())) from None  # one line
    except RecursionError:
        raise ValueError("the seed is nested too deeply") from None
    return data


def _apply(world: World, data: dict[str, Any]) -> None:
    unknown = set(data) - {"users", "orgs", "spaces"}
    if unknown:
        raise ValueError(f"unknown seed key(s): {', '.join(sorted(map(repr, map(str, unknown))))[:200]}")
    users = data.get("users") or {}
    if not isinstance(users, Mapping):
        raise ValueError("'users' must map user names to tokens")
    for name, token in users.items():
        if not isinstance(token, str) or not token.strip():
            raise ValueError(f"the token of {str(name)[:100]!r} must be a non-empty string")
        world.add_user(name, token)
    orgs = data.get("orgs") or {}
    if not isinstance(orgs, Mapping):
        raise ValueError("'orgs' must map organization names to lists of members")
    for org, members in orgs.items():
        if not isinstance(members, list):
            raise ValueError(f"the members of {str(org)[:100]!r} must be a list of user names")
        world.add_org(org, members)
    spaces = data.get("spaces") or []
    if not isinstance(spaces, list):
        raise ValueError("'spaces' must be a list")
    for spec in spaces:
        add_space_from_spec(world, spec)


def add_space_from_spec(world: World, spec: Any) -> Any:
    """Create one Space from a seed entry (see the module docstring).

    A wrong entry is a ``ValueError`` (or the 409 / 400 :class:`HubError` of a taken
    id or an unknown flavor or tier); nothing is created then.
    """
    if not isinstance(spec, Mapping) or not isinstance(spec.get("id"), str):
        raise ValueError("each Space must be an object with an 'id' ('namespace/name')")
    repo_id = spec["id"]
    unknown = set(spec) - _SPACE_KEYS - BEHAVIOUR_FIELDS - SEED_CARD_KEYS
    if unknown:
        keys = ", ".join(sorted(map(repr, map(str, unknown))))[:200]
        raise ValueError(f"unknown Space key(s) for {repo_id[:200]!r}: {keys}")
    options = {k: v for k, v in spec.items() if k in _SPACE_KEYS and k != "id"}
    behaviour = {k: v for k, v in spec.items() if k in BEHAVIOUR_FIELDS}
    try:
        card = {k: check_duration(k, spec[k]) for k in SEED_CARD_KEYS if k in spec}
        if card:  # written into the README card of its first commit
            options["files"] = _with_card(repo_id, options, card)
        return world.add_space(repo_id, behaviour=behaviour, **options)
    except ValueError as err:
        raise ValueError(f"{repo_id[:200]!r}: {err}") from None


def _with_card(repo_id: str, options: Mapping[str, Any], card: Mapping[str, str]) -> dict[str, Any]:
    """The Space's first files with ``card`` set in its README's front matter."""
    sdk = options.get("sdk", "gradio")
    files = options.get("files")
    if files is None:
        files = default_files(repo_id, str(sdk), with_app=options.get("stage") != "NO_APP_FILE")
    if not isinstance(files, Mapping):
        raise ValueError("files must map paths to contents (text or bytes)")
    out = dict(files)
    out[CARD_FILE] = with_card_keys(out.get(CARD_FILE), card, repo_id.split("/", 1)[-1], str(sdk))
    return out

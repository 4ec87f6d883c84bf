"""The emulator's wire encoding: every answer it writes, built from its own state.

The emulator never borrows the client's codec (its converter and formatters): if
both sides shared one encoder, a wrong wire format would be agreed by both and no
test would see it. The shapes follow ``docs/hub-api.md`` and the recorded answers in
``tests/samples/``:

* runtime JSON: ``stage``, ``hardware: {current, requested}``, ``storage``,
  ``gcTimeout`` (absent when the Space never sleeps), ``replicas: {requested,
  current}`` (``current`` only while a container serves), ``devMode`` and
  ``domains: [{domain, stage: "READY"}]``, in an error stage ``errorMessage`` (why)
  and, when the Space mounts some, ``volumes: [{type, source, mountPath, revision?,
  readOnly, path?}]``; a static Space has no ``gcTimeout``, ``devMode`` nor ``domains``
  (samples 18 and 21);
* the ZeroGPU quota ``{"base", "current", "resetsAt", "overquotaUsed"}``;
* secrets ``{"K": {"description"?, "updatedAt"}}`` (never values) and variables
  ``{"K": {"value", "description"?, "updatedAt"}}``, timestamps written as
  ``2025-03-07T12:24:18.657Z``;
* the hardware catalogue, a Space's info, ``whoami``, error bodies;
* the ``RateLimit`` / ``RateLimit-Policy`` headers and the ``Link: <url>; rel="next"``
  header;
* log lines as Server-Sent Events ``data: {"data": "<line>", "timestamp": "<iso>"}``
  (preceded by ``id: <n>``, the line's absolute number in its log), and the
  keep-alive, an empty ``data:`` event;
* pushes: the preupload answer ``{"files": [{"path", "uploadMode": "regular",
  "shouldIgnore": false, "oid"?}]}``, the commit answer ``{"commitUrl", "commitOid"}``,
  a tree listing ``[{"type": "file"|"directory", "oid", "size", "path"}]``, and a
  Space's ``siblings`` (``[{"rfilename"}]``) from its files.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .card import card_data
from .repo import blob_oid, tree_oid
from .state import ERRORS, Flavor, Space, StoredSecret, StoredVariable, StoredVolume
from .zerogpu import ZeroGpuUsage

__all__ = [
    "EXPAND_PROPERTIES",
    "KEEP_ALIVE",
    "Wall",
    "commit_json",
    "error_json",
    "flavor_json",
    "format_time",
    "hardware_json",
    "link_next",
    "log_event",
    "preupload_json",
    "rate_limit_headers",
    "runtime_json",
    "secrets_json",
    "space_info_json",
    "tree_json",
    "variables_json",
    "volume_json",
    "whoami_json",
    "zero_gpu_quota_json",
]

#: Simulated seconds to a UTC datetime (the world's ``wall``).
Wall = Callable[[float], datetime]

#: An empty event: what an idle log stream sends to stay open.
KEEP_ALIVE = b"data: \n\n"

#: ``expand=`` properties a Space's info knows (others are a 400, as on the Hub).
EXPAND_PROPERTIES = frozenset(
    {
        "author",
        "cardData",
        "createdAt",
        "datasets",
        "disabled",
        "gitalyUid",
        "lastModified",
        "likes",
        "models",
        "private",
        "region",
        "resourceGroup",
        "runtime",
        "sdk",
        "sha",
        "siblings",
        "subdomain",
        "tags",
        "trendingScore",
        "usedStorage",
    }
)
#: What a listed Space shows without ``expand``.
_LISTED = ("author", "sdk", "private", "likes", "tags", "createdAt", "lastModified")


def format_time(when: datetime) -> str:
    """A timestamp as the Hub writes it: UTC, milliseconds, ``Z`` (``2025-03-07T12:24:18.657Z``)."""
    when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------- JSON answers


def runtime_json(space: Space) -> dict[str, Any]:
    """``GET .../runtime`` (and every call answering the runtime)."""
    if space.is_static:
        static: dict[str, Any] = {
            "stage": space.stage.value,
            "hardware": {"current": None, "requested": None},
            "storage": None,
            "replicas": {"requested": 1, "current": 1},
        }
        if space.stage in ERRORS and space.error_message:
            static["errorMessage"] = space.error_message
        return static
    out: dict[str, Any] = {
        "stage": space.stage.value,
        "hardware": {
            "current": None if space.current is None else space.current.value,
            "requested": None if space.requested is None else space.requested.value,
        },
        "storage": None if space.storage is None else space.storage.value,
    }
    gc_timeout = space.gc_timeout
    if gc_timeout is not None:
        out["gcTimeout"] = gc_timeout
    out["replicas"] = {"requested": 1, "current": 1} if space.is_serving else {"requested": 1}
    out["devMode"] = space.dev_mode
    out["domains"] = [{"domain": space.domain, "stage": "READY"}]
    if space.stage in ERRORS and space.error_message:
        out["errorMessage"] = space.error_message
    if space.volumes:
        out["volumes"] = [volume_json(volume) for volume in space.volumes]
    return out


def volume_json(volume: StoredVolume) -> dict[str, Any]:
    """One mounted volume, as the runtime shows it (``mountPath``, ``readOnly``; optional keys when set)."""
    out: dict[str, Any] = {"type": volume.type, "source": volume.source, "mountPath": volume.mount_path}
    if volume.revision is not None:
        out["revision"] = volume.revision
    out["readOnly"] = volume.read_only
    if volume.path is not None:
        out["path"] = volume.path
    return out


def zero_gpu_quota_json(usage: ZeroGpuUsage, wall: Wall) -> dict[str, Any]:
    """``GET /api/spaces/zero-gpu/quota``: ``current`` is what remains of ``base`` (GPU-seconds)."""
    return {
        "base": _whole(usage.base),
        "current": _whole(usage.remaining),
        "resetsAt": None if usage.resets_at is None else format_time(wall(usage.resets_at)),
        "overquotaUsed": _whole(usage.overquota_used),
    }


def _whole(value: float) -> float | int:
    # 1810.0 is written 1810, as the Hub's integers are.
    return int(value) if float(value).is_integer() else value


def secrets_json(secrets: Mapping[str, StoredSecret], wall: Wall) -> dict[str, Any]:
    """``GET .../secrets``: descriptions and dates, never values."""
    out: dict[str, Any] = {}
    for key, secret in secrets.items():
        item: dict[str, Any] = {}
        if secret.description is not None:
            item["description"] = secret.description
        item["updatedAt"] = format_time(wall(secret.updated))
        out[key] = item
    return out


def variables_json(variables: Mapping[str, StoredVariable], wall: Wall) -> dict[str, Any]:
    """``GET .../variables`` (and what adding or deleting one answers)."""
    out: dict[str, Any] = {}
    for key, variable in variables.items():
        item: dict[str, Any] = {"value": variable.value}
        if variable.description is not None:
            item["description"] = variable.description
        item["updatedAt"] = format_time(wall(variable.updated))
        out[key] = item
    return out


def flavor_json(flavor: Flavor) -> dict[str, Any]:
    """One entry of ``GET /api/spaces/hardware``."""
    acc = flavor.accelerator
    return {
        "name": flavor.name,
        "prettyName": flavor.pretty_name,
        "cpu": flavor.cpu,
        "ram": flavor.ram,
        "accelerator": None
        if acc is None
        else {
            "type": acc.type,
            "model": acc.model,
            "quantity": acc.quantity,
            "vram": acc.vram,
            "manufacturer": acc.manufacturer,
        },
        "unitCostMicroUSD": flavor.unit_cost_micro_usd,
        "unitCostUSD": flavor.unit_cost_micro_usd / 1_000_000,
        "unitLabel": flavor.unit_label,
    }


def hardware_json(catalogue: Iterable[Flavor]) -> list[dict[str, Any]]:
    """``GET /api/spaces/hardware``: the catalogue."""
    return [flavor_json(flavor) for flavor in catalogue]


def space_info_json(space: Space, wall: Wall, expand: Sequence[str], *, full: bool) -> dict[str, Any]:
    """A Space's info: ``id`` plus the ``expand``-ed properties, else all (``full``) or a listing's few.

    ``expand`` must hold only :data:`EXPAND_PROPERTIES` (the caller answers a 400 otherwise).
    """
    props: dict[str, Any] = {
        "author": space.author,
        "sdk": space.sdk,
        "private": space.private,
        "likes": space.likes,
        "tags": [space.sdk, "region:us"],
        "createdAt": format_time(wall(space.created)),
        "lastModified": format_time(wall(space.last_modified)),
        "sha": space.sha,
        "subdomain": space.domain.split(".", 1)[0],
        "runtime": runtime_json(space),
        "disabled": False,
        "trendingScore": 0,
        "cardData": card_data(space.files),  # the README's front matter, as the Hub serves it
        "models": [],
        "datasets": [],
        "siblings": [{"rfilename": path} for path in sorted(space.files)],
        "usedStorage": sum(len(content) for content in space.files.values()),
        "region": "us",
        "resourceGroup": None,
        "gitalyUid": _object_id(f"gitaly:{space.id}"),  # an opaque id of the git storage
    }
    out: dict[str, Any] = {"_id": _object_id(space.id), "id": space.id}
    if expand:
        out.update({key: props[key] for key in expand})
    elif full:
        out.update({key: value for key, value in props.items() if key != "gitalyUid"})  # asked for only
        out["host"] = f"https://{space.domain}"
    else:
        out.update({key: props[key] for key in _LISTED})
    return out


def preupload_json(files: Iterable[tuple[str, bytes | None]]) -> dict[str, Any]:
    """``POST .../preupload/{revision}``: every file goes as a regular upload.

    ``files``: each asked path, and the content it has at the head (None: new).
    ``oid`` (the head's blob id) lets the official client skip an unchanged file.
    """
    out = []
    for path, current in files:
        item: dict[str, Any] = {"path": path, "uploadMode": "regular", "shouldIgnore": False}
        if current is not None:
            item["oid"] = blob_oid(current)
        out.append(item)
    return {"files": out}


def commit_json(oid: str, url: str) -> dict[str, Any]:
    """``POST .../commit/{revision}``: the new commit's id and its URL."""
    return {"commitUrl": url, "commitOid": oid}


def tree_json(files: Mapping[str, bytes], path: str, *, recursive: bool) -> list[dict[str, Any]]:
    """``GET .../tree/{revision}/{path}``: the files and folders under ``path`` ("": the root).

    Direct children only, unless ``recursive``; folders first at each level, then by path.
    """
    prefix = f"{path}/" if path else ""
    entries: dict[str, dict[str, Any]] = {}
    for name in sorted(files):
        if not name.startswith(prefix):
            continue
        parts = name[len(prefix) :].split("/")
        depth = len(parts) if recursive else 1
        for level in range(1, min(depth, len(parts) - 1) + 1):
            folder = prefix + "/".join(parts[:level])
            if folder not in entries:
                inner = {k[len(folder) + 1 :]: v for k, v in files.items() if k.startswith(folder + "/")}
                entries[folder] = {"type": "directory", "oid": tree_oid(inner), "size": 0, "path": folder}
        if recursive or len(parts) == 1:
            content = files[name]
            entries[name] = {"type": "file", "oid": blob_oid(content), "size": len(content), "path": name}
    return sorted(entries.values(), key=lambda e: (e["type"] != "directory", e["path"]))


def whoami_json(user: str, orgs: Iterable[str]) -> dict[str, Any]:
    """``GET /api/whoami-v2``: the user behind a token, and their organizations."""
    return {
        "type": "user",
        "id": _object_id(user),
        "name": user,
        "fullname": user,
        "orgs": [{"type": "org", "name": org} for org in orgs],
        "auth": {"type": "access_token", "accessToken": {"role": "write"}},
    }


def error_json(message: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An error answer's body: ``{"error": message}`` (plus ``extra`` keys, e.g. a 409's ``url``)."""
    return {**(extra or {}), "error": message}


def _object_id(name: str) -> str:
    # The Hub's ids are 24 hex digits (MongoDB ObjectIds): a stable stand-in.
    return hashlib.md5(name.encode()).hexdigest()[:24]


# ---------------------------------------------------------------------- headers


def rate_limit_headers(remaining: int, reset: float, quota: int, window: float) -> dict[str, str]:
    """``RateLimit: "api";r=<remaining>;t=<seconds to reset>`` and its ``RateLimit-Policy``."""
    return {
        "RateLimit": f'"api";r={max(0, remaining)};t={max(0, math.ceil(reset))}',
        "RateLimit-Policy": f'"fixed window";"api";q={quota};w={int(window)}',
    }


def link_next(url: str) -> str:
    """The ``Link`` header pointing at the next page of a list."""
    return f'<{url}>; rel="next"'


# ---------------------------------------------------------------------- Server-Sent Events


def log_event(text: str, when: datetime, event_id: int | None = None) -> bytes:
    """One SSE event carrying a log line and its timestamp, ``id: <event_id>`` first if given.

    The id is the line's absolute number in its log (see ``docs/emulator.md``): a
    client resumes after it with ``Last-Event-ID``.
    """
    payload = {"data": text, "timestamp": format_time(when)}
    head = b"" if event_id is None else b"id: %d\n" % event_id
    return head + b"data: " + json.dumps(payload).encode() + b"\n\n"

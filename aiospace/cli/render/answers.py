"""What the Hub's answers look like on screen: text for a person, ``--json`` for a pipeline.

Durations and sleep times for people, one compact JSON document a line
(:func:`print_json`), the ``--json`` document of each kind of answer (runtime,
hardware, secret, variable, volume, quota), plain text tables, and the ``print_*``
functions the commands call with what the Hub answered.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from ...models import SpaceHardwareInfo, SpaceRuntime, SpaceSecret, SpaceVariable, Volume, ZeroGpuQuota

__all__ = [
    "format_duration",
    "format_sleep_time",
    "hardware_json",
    "print_hardware_list",
    "print_json",
    "print_runtime",
    "print_secrets",
    "print_variables",
    "print_volumes",
    "print_zero_gpu_quota",
    "quota_json",
    "runtime_json",
    "runtime_line",
    "secret_json",
    "show_runtime",
    "table",
    "variable_json",
    "volume_json",
]


# ---------------------------------------------------------------------- shapes


def format_duration(seconds: float) -> str:
    """``42.0s``, ``3m05s``, ``1h02m``: short and readable."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def format_sleep_time(seconds: int | None) -> str:
    """A sleep time as ``sleep-time`` takes it: ``1h30m``, ``never`` (-1), or ``default`` (none set)."""
    if seconds is None:
        return "default"
    return "never" if seconds < 0 else format_duration(seconds)


def _value(x: object) -> object:
    """An enum's value (a flavor, a tier...), else ``x`` itself."""
    return None if x is None else getattr(x, "value", x)


def runtime_json(repo_id: str, runtime: SpaceRuntime) -> dict[str, Any]:
    """What ``--json`` prints for a runtime (stable keys)."""
    replicas = runtime.replicas
    return {
        "space": repo_id,
        "stage": runtime.stage.value,
        "hardware": _value(runtime.hardware),
        "requested_hardware": _value(runtime.requested_hardware),
        "converged": runtime.is_converged,
        "sleep_time": runtime.sleep_time,
        "storage": _value(runtime.storage),
        "dev_mode": runtime.dev_mode,
        "replicas": None
        if replicas is None
        else {"requested": replicas.requested, "current": replicas.current},
        "error_message": runtime.error_message,
    }


def runtime_line(repo_id: str, runtime: SpaceRuntime) -> str:
    """``alice/demo: RUNNING on cpu-basic`` or ``... on cpu-basic (requested t4-small)``."""
    hardware = runtime.hardware.value if runtime.hardware is not None else "no hardware"
    text = f"{repo_id}: {runtime.stage} on {hardware}"
    if runtime.requested_hardware is not None and runtime.requested_hardware != runtime.hardware:
        text += f" (requested {runtime.requested_hardware})"
    return text


def hardware_json(info: SpaceHardwareInfo) -> dict[str, Any]:
    """One catalogue entry for ``hardware-list --json``."""
    acc = info.accelerator
    return {
        "name": info.name.value,
        "pretty_name": info.pretty_name,
        "cpu": info.cpu,
        "ram": info.ram,
        "accelerator": None
        if acc is None
        else {
            "model": acc.model,
            "quantity": acc.quantity,
            "vram": acc.vram,
            "manufacturer": acc.manufacturer,
        },
        "cost_per_hour_usd": None if info.cost_per_hour_usd is None else round(info.cost_per_hour_usd, 4),
    }


def secret_json(secret: SpaceSecret) -> dict[str, Any]:
    """One secret for ``secrets ls --json`` (there is no value to show: the Hub never returns it)."""
    updated = secret.updated_at.isoformat() if secret.updated_at else None
    return {"key": secret.key, "description": secret.description, "updated_at": updated}


def variable_json(variable: SpaceVariable) -> dict[str, Any]:
    """One variable for ``variables ls --json``."""
    updated = variable.updated_at.isoformat() if variable.updated_at else None
    return {
        "key": variable.key,
        "value": variable.value,
        "description": variable.description,
        "updated_at": updated,
    }


def volume_json(volume: Volume) -> dict[str, Any]:
    """One volume for ``volumes ls --json``."""
    return {
        "type": _value(volume.type),
        "source": volume.source,
        "mount_path": volume.mount_path,
        "revision": volume.revision,
        "read_only": volume.read_only,
        "path": volume.path,
    }


def quota_json(quota: ZeroGpuQuota) -> dict[str, Any]:
    """The ZeroGPU quota for ``zero-gpu-quota --json`` (GPU-seconds; ``resets_at`` ISO 8601 or null)."""
    return {
        "base": quota.base,
        "remaining": quota.remaining,
        "resets_at": None if quota.resets_at is None else quota.resets_at.isoformat(),
        "overquota_used": quota.overquota_used,
    }


def table(rows: Iterable[Sequence[object]], header: Sequence[str]) -> str:
    """A plain left-aligned text table."""
    cells = [[str(c) for c in header], *([("" if c is None else str(c)) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def print_json(data: object, file: TextIO | None = None) -> None:
    """One compact JSON document on a line (flushed: jq and bots read it at once)."""
    print(json.dumps(data, separators=(",", ":"), sort_keys=False), file=file or sys.stdout, flush=True)


# ---------------------------------------------------------------------- what commands show


def show_runtime(space: str, runtime: SpaceRuntime, note: str = "", *, as_json: bool) -> None:
    """A runtime after a change: its JSON document, or its line followed by ``-- note``."""
    if as_json:
        print_json(runtime_json(space, runtime))
    else:
        print(runtime_line(space, runtime) + (f" -- {note}" if note else ""), flush=True)


def print_runtime(space: str, runtime: SpaceRuntime, *, as_json: bool) -> None:
    """A runtime in full: its JSON document, or one ``key  value`` line per field."""
    if as_json:
        print_json(runtime_json(space, runtime))
        return
    data = runtime_json(space, runtime)
    data["sleep_time"] = format_sleep_time(runtime.sleep_time)
    if data["error_message"] is None:  # said only when the Hub says why (an error stage)
        del data["error_message"]
    replicas = data.pop("replicas")
    if replicas:
        data["replicas"] = f"{replicas['current'] if replicas['current'] is not None else '-'}/"
        data["replicas"] += f"{replicas['requested'] if replicas['requested'] is not None else '-'}"
    width = max(len(k) for k in data)
    for key, value in data.items():
        print(f"{key.replace('_', ' '):<{width}}  {'-' if value is None else value}")


def print_secrets(space: str, secrets: Mapping[str, SpaceSecret], *, as_json: bool) -> None:
    """A Space's secrets (keys, descriptions, update times: the Hub never returns values)."""
    if as_json:
        print_json([secret_json(s) for s in secrets.values()])
    elif not secrets:
        print(f"{space} has no secrets")
    else:
        rows = [(s.key, s.description or "", s.updated_at or "") for s in secrets.values()]
        print(table(rows, ("KEY", "DESCRIPTION", "UPDATED")))


def print_variables(space: str, variables: Mapping[str, SpaceVariable], *, as_json: bool) -> None:
    """A Space's variables: a JSON list, or a table."""
    if as_json:
        print_json([variable_json(v) for v in variables.values()])
    elif not variables:
        print(f"{space} has no variables")
    else:
        rows = [(v.key, v.value, v.description or "") for v in variables.values()]
        print(table(rows, ("KEY", "VALUE", "DESCRIPTION")))


def print_volumes(space: str, volumes: Sequence[Volume] | None, *, as_json: bool) -> None:
    """A Space's volumes: a JSON list, or a table."""
    if as_json:
        print_json([volume_json(v) for v in volumes or ()])
    elif not volumes:
        print(f"{space} has no volumes")
    else:
        rows = [
            (
                v.type,
                v.source,
                v.mount_path,
                {True: "ro", False: "rw", None: "-"}[v.read_only],
                v.revision or "",
                v.path or "",
            )
            for v in volumes
        ]
        print(table(rows, ("TYPE", "SOURCE", "MOUNT", "ACCESS", "REVISION", "PATH")))


def print_zero_gpu_quota(quota: ZeroGpuQuota, *, as_json: bool) -> None:
    """The caller's ZeroGPU quota: its JSON document, or one ``key  value`` line per figure."""
    if as_json:
        print_json(quota_json(quota))
        return
    left = format_duration(quota.remaining)
    lines = {
        "remaining": f"{quota.remaining:g} of {quota.base:g} GPU-seconds ({left})",
        "resets at": "-" if quota.resets_at is None else quota.resets_at.isoformat(timespec="seconds"),
        "overquota used": "-" if quota.overquota_used is None else f"{quota.overquota_used:g} GPU-seconds",
    }
    width = max(len(k) for k in lines)
    for key, value in lines.items():
        print(f"{key:<{width}}  {value}")


def print_hardware_list(catalogue: Iterable[SpaceHardwareInfo], *, as_json: bool) -> None:
    """The hardware catalogue: a JSON list, or a table with the price of an hour on each flavor."""
    if as_json:
        print_json([hardware_json(info) for info in catalogue])
        return
    rows = []
    for info in catalogue:
        acc = info.accelerator
        gpu = "-" if acc is None else f"{acc.quantity or 1}x {acc.model} ({acc.vram})"
        price = info.cost_per_hour_usd
        rows.append(
            (
                info.name,
                info.pretty_name or "",
                info.cpu or "",
                info.ram or "",
                gpu,
                "?" if price is None else ("free" if price == 0 else f"${price:.2f}"),
            )
        )
    print(table(rows, ("FLAVOR", "NAME", "CPU", "RAM", "ACCELERATOR", "PER HOUR")))

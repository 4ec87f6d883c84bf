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


def schema_problems(document: Any, schema: Any, where: str = "$") -> list[str]:
    """What in ``document`` breaks ``schema`` (a hand-written JSON Schema check of the keywords the
    event payload's schema uses: type, const, enum, required, properties, additionalProperties,
    items, minItems, uniqueItems, pattern, format date-time and uri); empty: it conforms."""
    import re
    from datetime import datetime

    problems: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        kinds = {
            "object": dict,
            "array": list,
            "string": str,
            "null": type(None),
            "integer": int,
            "number": (int, float),
            "boolean": bool,
        }
        if not any(isinstance(document, kinds[name]) for name in names):
            return [f"{where}: {document!r} is not of type {names}"]
    if "const" in schema and document != schema["const"]:
        problems.append(f"{where}: {document!r} is not {schema['const']!r}")
    if "enum" in schema and document not in schema["enum"]:
        problems.append(f"{where}: {document!r} is not one of {schema['enum']}")
    if isinstance(document, dict):
        problems += [
            f"{where}: {key!r} is missing" for key in schema.get("required", ()) if key not in document
        ]
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            problems += [f"{where}: {key!r} is not allowed" for key in document if key not in properties]
        for key, sub in properties.items():
            if key in document:
                problems += schema_problems(document[key], sub, f"{where}.{key}")
    if isinstance(document, list):
        if len(document) < schema.get("minItems", 0):
            problems.append(f"{where}: fewer than {schema['minItems']} items")
        if schema.get("uniqueItems") and len({json.dumps(i) for i in document}) != len(document):
            problems.append(f"{where}: items repeat")
        for index, item in enumerate(document):
            problems += schema_problems(item, schema.get("items", {}), f"{where}[{index}]")
    if isinstance(document, str):
        if "pattern" in schema and not re.search(schema["pattern"], document):
            problems.append(f"{where}: {document!r} does not match {schema['pattern']}")
        if schema.get("format") == "date-time":
            try:
                stamp = datetime.fromisoformat(document.replace("Z", "+00:00"))
            except ValueError:
                problems.append(f"{where}: {document!r} is not an ISO 8601 date-time")
            else:
                if stamp.utcoffset() is None or stamp.utcoffset().total_seconds() != 0:  # type: ignore[union-attr]
                    problems.append(f"{where}: {document!r} is not in UTC")
        if schema.get("format") == "uri" and not re.match(r"https?://[^/\s]+/\S*$", document):
            problems.append(f"{where}: {document!r} is not an http(s) URL")
    return problems

"""The Hub's wire, without I/O: requests, answers, headers and SSE.

This is the client's side only: the emulator shares the route table
(:mod:`aiospace._routes`) and nothing else, and writes its answers with its own code
(:mod:`aiospace.emulator.encode`), so that it can catch this module's mistakes.

* One request builder per call, on the route table (:data:`ROUTES`).
* :data:`converter` is the one ``cattrs`` converter from the wire's JSON to
  :mod:`aiospace.models` (camelCase keys, open enums, ISO datetimes).
* :func:`decode_answer` turns a status, headers and body into data or a typed error.
* :func:`parse_rate_limit`, :func:`parse_retry_after`, :func:`parse_link_next` and
  :class:`SSEParser` read the rest of the wire.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from . import _validate as v
from ._routes import ROUTES, Route
from .errors import (
    AuthenticationError,
    BadAnswerError,
    BadRequestError,
    ConflictError,
    HubHTTPError,
    InvalidArgumentError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SpaceNotFoundError,
)
from .models import (
    CreatedSpace,
    DuplicatedSpace,
    RateLimit,
    SpaceAccelerator,
    SpaceDomain,
    SpaceHardware,
    SpaceHardwareInfo,
    SpaceHotReloading,
    SpaceInfo,
    SpaceReplicas,
    SpaceRuntime,
    SpaceSecret,
    SpaceStage,
    SpaceStorage,
    SpaceVariable,
    Volume,
    VolumeType,
    ZeroGpuQuota,
    _OpenStrEnum,
)

__all__ = [
    "ROUTES",
    "Request",
    "Route",
    "SSEEvent",
    "SSELineTooLong",
    "SSEParser",
    "bad_answer",
    "converter",
    "decode_answer",
    "parse_link_next",
    "parse_rate_limit",
    "parse_retry_after",
]


@attrs.frozen
class Request:
    """A request ready to send: method, path, query, JSON body, and the Space it is about."""

    route: Route
    path: str
    params: tuple[tuple[str, str], ...] = ()
    json: Any = None
    repo_id: str | None = None
    #: True when the body holds a secret value (never logged).
    sensitive: bool = False

    @property
    def method(self) -> str:
        """The HTTP method."""
        return self.route.method

    @property
    def is_read(self) -> bool:
        """See :attr:`Route.is_read`."""
        return self.route.is_read

    def body(self) -> bytes | None:
        """The JSON body as bytes: compact UTF-8, byte for byte what the official client sends."""
        if self.json is None:
            return None
        text = json.dumps(self.json, ensure_ascii=False, separators=(",", ":"))
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate: only its \u escape can travel
            return json.dumps(self.json, separators=(",", ":")).encode()

    def __repr__(self) -> str:
        shown = "<redacted>" if self.sensitive else self.json
        return f"Request({self.method} {self.path} params={self.params!r} json={shown!r})"


def _space_request(
    name: str,
    repo_id: str,
    *,
    params: Iterable[tuple[str, str]] = (),
    body: Any = None,
    sensitive: bool = False,
) -> Request:
    v.check_repo_id(repo_id)
    route = ROUTES[name]
    return Request(route, route.path(repo_id), tuple(params), body, repo_id, sensitive)


def get_space_runtime(repo_id: str) -> Request:
    """``GET /api/spaces/{repo_id}/runtime``."""
    return _space_request("get_space_runtime", repo_id)


def request_space_hardware(repo_id: str, hardware: str, sleep_time: int | None = None) -> Request:
    """``POST .../hardware`` with ``{"flavor", "sleepTimeSeconds"?}``."""
    body: dict[str, Any] = {"flavor": str(v.check_flavor(hardware))}
    if sleep_time is not None:
        body["sleepTimeSeconds"] = v.check_sleep_time(sleep_time)
    return _space_request("request_space_hardware", repo_id, body=body)


def set_space_sleep_time(repo_id: str, sleep_time: int) -> Request:
    """``POST .../sleeptime`` with ``{"seconds"}`` (-1: never sleep)."""
    return _space_request("set_space_sleep_time", repo_id, body={"seconds": v.check_sleep_time(sleep_time)})


def pause_space(repo_id: str) -> Request:
    """``POST .../pause``."""
    return _space_request("pause_space", repo_id)


def restart_space(repo_id: str, factory_reboot: bool = False) -> Request:
    """``POST .../restart``, with ``?factory=true`` for a rebuild without cache."""
    params = (("factory", "true"),) if v.check_flag(factory_reboot, "factory_reboot") else ()
    return _space_request("restart_space", repo_id, params=params)


def set_space_dev_mode(repo_id: str, enabled: bool) -> Request:
    """``POST .../dev-mode`` with ``{"enabled"}``."""
    return _space_request("set_space_dev_mode", repo_id, body={"enabled": bool(enabled)})


def get_space_secrets(repo_id: str) -> Request:
    """``GET .../secrets`` (keys and descriptions, never values)."""
    return _space_request("get_space_secrets", repo_id)


def add_space_secret(repo_id: str, key: str, value: str, description: str | None = None) -> Request:
    """``POST .../secrets`` with ``{"key", "value", "description"?}``."""
    body = {"key": v.check_key(key), "value": v.check_value(value)}
    if v.check_description(description) is not None:
        body["description"] = description  # type: ignore[assignment]
    return _space_request("add_space_secret", repo_id, body=body, sensitive=True)


def delete_space_secret(repo_id: str, key: str) -> Request:
    """``DELETE .../secrets`` with ``{"key"}``."""
    return _space_request("delete_space_secret", repo_id, body={"key": v.check_key(key)})


def get_space_variables(repo_id: str) -> Request:
    """``GET .../variables``."""
    return _space_request("get_space_variables", repo_id)


def add_space_variable(repo_id: str, key: str, value: str, description: str | None = None) -> Request:
    """``POST .../variables`` with ``{"key", "value", "description"?}``."""
    body = {"key": v.check_key(key), "value": v.check_value(value)}
    if v.check_description(description) is not None:
        body["description"] = description  # type: ignore[assignment]
    return _space_request("add_space_variable", repo_id, body=body)


def delete_space_variable(repo_id: str, key: str) -> Request:
    """``DELETE .../variables`` with ``{"key"}``."""
    return _space_request("delete_space_variable", repo_id, body={"key": v.check_key(key)})


def request_space_storage(repo_id: str, storage: str) -> Request:
    """``POST .../storage`` with ``{"tier"}``."""
    return _space_request("request_space_storage", repo_id, body={"tier": str(v.check_tier(storage))})


def delete_space_storage(repo_id: str) -> Request:
    """``DELETE .../storage``."""
    return _space_request("delete_space_storage", repo_id)


def duplicate_space(
    from_id: str,
    to_id: str,
    *,
    private: bool | None = None,
    visibility: str | None = None,
    hardware: str | None = None,
    storage: str | None = None,
    sleep_time: int | None = None,
    secrets: Iterable[Mapping[str, str]] | None = None,
    variables: Iterable[Mapping[str, str]] | None = None,
    volumes: Iterable[Volume] | None = None,
) -> Request:
    """``POST /api/spaces/{from_id}/duplicate`` with ``{"repository", ...}`` (keys as the official client)."""
    body: dict[str, Any] = {"repository": v.check_repo_id(to_id, "to_id")}
    resolved = v.resolve_visibility(private, visibility)
    if resolved is not None:
        body["visibility"] = resolved
    _new_space_settings(body, hardware, storage, sleep_time, secrets, variables, volumes)
    return _space_request("duplicate_space", from_id, body=body, sensitive=secrets is not None)


def _new_space_settings(
    body: dict[str, Any],
    hardware: str | None,
    storage: str | None,
    sleep_time: int | None,
    secrets: Iterable[Mapping[str, str]] | None,
    variables: Iterable[Mapping[str, str]] | None,
    volumes: Iterable[Volume] | None,
) -> None:
    """Add what a new Space starts with (a created one, a duplicate) to ``body``, checked.

    In the official client's order; ``volumes`` only when there are some (as it does).
    """
    if hardware is not None:
        body["hardware"] = str(v.check_flavor(hardware))
    if storage is not None:
        body["storageTier"] = str(v.check_tier(storage))
    if sleep_time is not None:
        body["sleepTimeSeconds"] = v.check_sleep_time(sleep_time)
    if secrets is not None:
        body["secrets"] = [_key_value(item, "secrets") for item in secrets]
    if variables is not None:
        body["variables"] = [_key_value(item, "variables") for item in variables]
    if volumes is not None:
        checked = v.check_volumes(volumes)
        if checked:
            body["volumes"] = [volume_json(volume) for volume in checked]


def volume_json(volume: Volume) -> dict[str, Any]:
    """A checked :class:`Volume` as the Hub takes it: optional keys only when set."""
    out: dict[str, Any] = {"type": str(volume.type), "source": volume.source, "mountPath": volume.mount_path}
    if volume.revision is not None:
        out["revision"] = volume.revision
    if volume.read_only is not None:
        out["readOnly"] = volume.read_only
    if volume.path is not None:
        out["path"] = volume.path
    return out


def set_space_volumes(repo_id: str, volumes: Iterable[Volume]) -> Request:
    """``PUT .../volumes`` with ``{"volumes": [...]}``: replaces the Space's volumes."""
    body = {"volumes": [volume_json(volume) for volume in v.check_volumes(volumes)]}
    return _space_request("set_space_volumes", repo_id, body=body)


def delete_space_volumes(repo_id: str) -> Request:
    """``DELETE .../volumes``: removes every volume."""
    return _space_request("delete_space_volumes", repo_id)


def _repo_body(repo_id: str) -> dict[str, Any]:
    namespace, name = v.check_repo_id(repo_id).split("/")
    return {"name": name, "organization": namespace}


def create_space(
    repo_id: str,
    *,
    sdk: str,
    private: bool | None = None,
    visibility: str | None = None,
    hardware: str | None = None,
    sleep_time: int | None = None,
    secrets: Iterable[Mapping[str, str]] | None = None,
    variables: Iterable[Mapping[str, str]] | None = None,
    volumes: Iterable[Volume] | None = None,
) -> Request:
    """``POST /api/repos/create`` with ``{"name", "organization", "visibility"?, "type", "sdk", ...}``.

    ``type`` is ``"space"``; keys in the official client's order.
    """
    body = _repo_body(repo_id)
    resolved = v.resolve_visibility(private, visibility)
    if resolved is not None:
        body["visibility"] = resolved
    body["type"] = "space"
    body["sdk"] = v.check_sdk(sdk)
    _new_space_settings(body, hardware, None, sleep_time, secrets, variables, volumes)
    route = ROUTES["create_space"]
    return Request(route, route.path(), (), body, repo_id, secrets is not None)


def delete_space(repo_id: str) -> Request:
    """``DELETE /api/repos/delete`` with ``{"name", "organization", "type": "space"}``."""
    body = _repo_body(repo_id)
    body["type"] = "space"
    route = ROUTES["delete_space"]
    return Request(route, route.path(), (), body, repo_id)


def get_zero_gpu_quota() -> Request:
    """``GET /api/spaces/zero-gpu/quota``: the caller's ZeroGPU quota (needs a token)."""
    route = ROUTES["get_zero_gpu_quota"]
    return Request(route, route.path())


def _key_value(item: Mapping[str, str], argument: str) -> dict[str, str]:
    if not isinstance(item, Mapping) or "key" not in item or "value" not in item:
        raise InvalidArgumentError(argument, "each item must be a mapping with 'key' and 'value'")
    out = {
        "key": v.check_key(item["key"], f"{argument}.key"),
        "value": v.check_value(item["value"], f"{argument}.value"),
    }
    if item.get("description") is not None:
        out["description"] = v.check_description(item["description"], f"{argument}.description") or ""
    return out


def whoami() -> Request:
    """``GET /api/whoami-v2``: who the token belongs to (``{"name": ...}``)."""
    route = ROUTES["whoami"]
    return Request(route, route.path())


def list_spaces_hardware() -> Request:
    """``GET /api/spaces/hardware``."""
    route = ROUTES["list_spaces_hardware"]
    return Request(route, route.path())


def space_info(repo_id: str, expand: Iterable[str] | None = None) -> Request:
    """``GET /api/spaces/{repo_id}`` (``expand=`` repeatable)."""
    return _space_request("space_info", repo_id, params=[("expand", e) for e in v.check_expand(expand)])


def list_spaces(
    *,
    author: str | None = None,
    search: str | None = None,
    limit: int | None = None,
    expand: Iterable[str] | None = None,
) -> Request:
    """``GET /api/spaces`` with ``author``, ``search``, ``limit`` and repeatable ``expand``."""
    params: list[tuple[str, str]] = []
    names = v.check_expand(expand)
    if author is not None:
        if not isinstance(author, str) or not v._PART.fullmatch(author):
            raise InvalidArgumentError("author", f"{author!r} is not a valid user or organization name")
        params.append(("author", author))
    if search is not None:
        if not isinstance(search, str):
            raise InvalidArgumentError("search", "expected a str")
        params.append(("search", search))
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError("limit", f"{limit!r} must be a positive int")
        params.append(("limit", str(limit)))
    params.extend(("expand", e) for e in names)
    route = ROUTES["list_spaces"]
    return Request(route, route.path(), tuple(params))


def fetch_space_logs(repo_id: str, build: bool = False) -> Request:
    """``GET .../logs/build`` or ``.../logs/run`` (Server-Sent Events)."""
    return _space_request("fetch_build_logs" if v.check_flag(build, "build") else "fetch_run_logs", repo_id)


# --------------------------------------------------------------------------- converter

converter = cattrs.Converter()
T = TypeVar("T")

#: What a decoder may raise on a shape it can't read; :func:`structure` turns each into
#: one :class:`BadAnswerError` (the property tests in tests/test_decoders.py hold it to it).
_SHAPE_ERRORS = (
    ArithmeticError,
    AttributeError,
    LookupError,
    RecursionError,
    TypeError,
    ValueError,
    cattrs.BaseValidationError,
)


def _open_enum_hook(value: Any, cls: type[_OpenStrEnum]) -> _OpenStrEnum:
    found = cls._value2member_map_.get(value) if isinstance(value, str) else None
    return found if found is not None else cls(value)  # type: ignore[return-value]


class _WrongShape(TypeError):
    """A shape the client doesn't know; its message names types, never values (safe to show)."""


# Scalars are taken as they are on the wire, never converted: a str where a number is
# expected (or a dict where a str is) is a shape the client doesn't know.
def _str_value(value: Any, _: Any = None) -> str:
    if not isinstance(value, str):
        raise _WrongShape(f"expected a string, got {type(value).__name__}")
    return value


def _int_value(value: Any, _: Any = None) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():  # 3.0 from a JSON encoder; never inf or nan
        return int(value)
    raise _WrongShape(f"expected an integer, got {type(value).__name__}")


def _float_value(value: Any, _: Any = None) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _WrongShape(f"expected a finite number, got {type(value).__name__}")
    return float(value)


converter.register_structure_hook(str, _str_value)
converter.register_structure_hook(int, _int_value)
converter.register_structure_hook(float, _float_value)
# After str: the open enums (str subclasses) take their own hook, the more specific one.
converter.register_structure_hook(_OpenStrEnum, _open_enum_hook)


def parse_datetime(value: Any) -> datetime | None:
    """Read the Hub's ISO 8601 timestamps (``2025-03-07T12:24:18.657Z``).

    Raises ``ValueError`` for anything else (``TypeError`` for a value that is not a string).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise _WrongShape(f"expected a timestamp string, got {type(value).__name__}")
    text = value
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


converter.register_structure_hook(datetime, lambda value, _: parse_datetime(value))

_STAGES = SpaceStage._value2member_map_
_FLAVORS = SpaceHardware._value2member_map_


def _stage(value: Any) -> SpaceStage:
    found = _STAGES.get(value) if type(value) is str else None
    if found is not None:
        return found  # type: ignore[return-value]
    if not isinstance(value, str) or not value:
        raise _WrongShape(f"stage must be a non-empty string, got {type(value).__name__}")
    return SpaceStage(value)


def _flavor(value: Any) -> SpaceHardware | None:
    if value is None:
        return None
    found = _FLAVORS.get(value) if type(value) is str else None
    return found if found is not None else SpaceHardware(value)  # type: ignore[return-value]


def _optional_int(value: Any) -> int | None:
    return None if value is None else _int_value(value)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else _str_value(value)


def _opt_str(value: Any) -> str | None:
    """A string field of the wire, or None for anything else (an odd value never fails a parse)."""
    return value if isinstance(value, str) else None


def _domains(value: Any) -> tuple[SpaceDomain, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        SpaceDomain(item["domain"], _opt_str(item.get("stage")))
        for item in value
        if isinstance(item, dict) and isinstance(item.get("domain"), str)
    )


_VOLUME_TYPES = VolumeType._value2member_map_


def _structure_volumes(data: Any) -> tuple[Volume, ...] | None:
    """``volumes`` of a runtime; an item the client can't read is left out (``raw`` keeps it)."""
    if not isinstance(data, list):
        return None
    out = []
    for item in data:
        if not isinstance(item, dict):
            continue
        source, mount = item.get("source"), item.get("mountPath")
        if not isinstance(source, str) or not isinstance(mount, str):
            continue
        kind = item.get("type", "model")  # the official client's default
        if not isinstance(kind, str) or not kind:
            continue
        read_only = item.get("readOnly")
        out.append(
            Volume(
                type=_VOLUME_TYPES.get(kind) or VolumeType(kind),
                source=source,
                mount_path=mount,
                revision=_opt_str(item.get("revision")),
                read_only=read_only if isinstance(read_only, bool) else None,
                path=_opt_str(item.get("path")),
            )
        )
    return tuple(out)


def _structure_hot_reloading(data: Any) -> SpaceHotReloading | None:
    """``hotReloading: {"status", "replicaStatuses": [[id, status], ...]}``; odd items are left out."""
    if not isinstance(data, dict):
        return None
    replicas = data.get("replicaStatuses")
    statuses = []
    for item in replicas if isinstance(replicas, list) else ():
        if isinstance(item, (list, tuple)) and item and item[0] is not None:
            status = item[1] if len(item) > 1 else None
            statuses.append((str(item[0]), None if status is None else str(status)))
    return SpaceHotReloading(status=_opt_str(data.get("status")), replica_statuses=tuple(statuses))


class LazyJSON(Mapping[str, Any]):
    """A JSON object answer as a read-only mapping, kept as its bytes until first read.

    A runtime's ``raw``: every watched Space keeps its last one, and the bytes take about
    a sixth of the memory of the parsed dict. The bytes are those of an answer that was
    parsed already (so they are valid JSON of an object); reading parses them again, once.
    """

    __slots__ = ("_body", "_data")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            data = decode_json(self._body.decode(json.detect_encoding(self._body)))
            self._data = data if isinstance(data, dict) else {}
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"LazyJSON({self._load()!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (LazyJSON, (self._body,))


def _structure_runtime(data: Any, _: Any = None) -> SpaceRuntime:
    return _runtime_from(data, data)


def _runtime_from(data: Any, raw: Mapping[str, Any]) -> SpaceRuntime:
    # The poll loop's hot path: written out by hand rather than generated. The newer keys
    # (errorMessage, domains, sdk, sdkVersion) are read leniently: a value of an odd type is None.
    hardware = data.get("hardware") or {}
    replicas = data.get("replicas")
    storage = data.get("storage")
    gc_timeout = data.get("gcTimeout")
    dev_mode = data.get("devMode")
    domains = data.get("domains")
    volumes = data.get("volumes")
    hot_reloading = data.get("hotReloading")
    return SpaceRuntime(
        stage=_stage(data["stage"]),
        hardware=_flavor(hardware.get("current")),
        requested_hardware=_flavor(hardware.get("requested")),
        sleep_time=None if gc_timeout is None else _int_value(gc_timeout),
        storage=None if storage is None else SpaceStorage(storage),
        dev_mode=None if dev_mode is None else bool(dev_mode),
        replicas=None
        if replicas is None
        else SpaceReplicas(
            requested=_optional_int(replicas.get("requested")), current=_optional_int(replicas.get("current"))
        ),
        error_message=_opt_str(data.get("errorMessage")),
        domains=_domains(domains) if domains else (),
        sdk=_opt_str(data.get("sdk")),
        sdk_version=_opt_str(data.get("sdkVersion")),
        volumes=None if volumes is None else _structure_volumes(volumes),
        hot_reloading=None if hot_reloading is None else _structure_hot_reloading(hot_reloading),
        raw=raw,
    )


converter.register_structure_hook(SpaceRuntime, _structure_runtime)

converter.register_structure_hook(
    SpaceHardwareInfo,
    make_dict_structure_fn(
        SpaceHardwareInfo,
        converter,
        pretty_name=override(rename="prettyName"),
        unit_cost_micro_usd=override(rename="unitCostMicroUSD"),
        unit_cost_usd=override(rename="unitCostUSD"),
        unit_label=override(rename="unitLabel"),
    ),
)
converter.register_structure_hook(SpaceAccelerator, make_dict_structure_fn(SpaceAccelerator, converter))


def _lenient_datetime(value: Any) -> datetime | None:
    try:
        return parse_datetime(value)
    except (TypeError, ValueError):
        return None


def _structure_space_info(data: Any, _: Any = None) -> SpaceInfo:
    runtime = data.get("runtime")
    private = data.get("private")
    return SpaceInfo(
        id=_str_value(data["id"]),
        author=_opt_str(data.get("author")),
        sdk=_opt_str(data.get("sdk")),
        private=private if isinstance(private, bool) else None,
        last_modified=_lenient_datetime(data.get("lastModified")),
        runtime=None if not runtime else _structure_runtime(runtime),
        sha=_opt_str(data.get("sha")),
        subdomain=_opt_str(data.get("subdomain")),
        raw=data,
    )


converter.register_structure_hook(SpaceInfo, _structure_space_info)


def _object(data: Any) -> Mapping[str, Any]:
    if data is None:  # an empty answer
        return {}
    if not isinstance(data, dict):
        raise _WrongShape(f"expected a JSON object, got {type(data).__name__}")
    return data


def structure_variables(data: Any) -> dict[str, SpaceVariable]:
    """``{"K": {"value", "description"?, "updatedAt"}}`` to ``{"K": SpaceVariable}``.

    Raises ``TypeError`` or ``ValueError`` for another shape (see :func:`structure`).
    """
    variables = {}
    for key, item in _object(data).items():
        if not isinstance(item, dict):
            raise _WrongShape(f"a variable must be a JSON object, got {type(item).__name__}")
        value = item.get("value")
        variables[key] = SpaceVariable(
            key=key,
            value="" if value is None else _str_value(value),
            description=_str_or_none(item.get("description")),
            updated_at=parse_datetime(item.get("updatedAt")),
        )
    return variables


def structure_secrets(data: Any) -> dict[str, SpaceSecret]:
    """``{"K": {"description"?, "updatedAt"}}`` to ``{"K": SpaceSecret}``.

    Raises ``TypeError`` or ``ValueError`` for another shape (see :func:`structure`).
    """
    secrets = {}
    for key, item in _object(data).items():
        if item is None:
            item = {}
        elif not isinstance(item, dict):
            raise _WrongShape(f"a secret must be a JSON object, got {type(item).__name__}")
        secrets[key] = SpaceSecret(
            key=key,
            description=_str_or_none(item.get("description")),
            updated_at=parse_datetime(item.get("updatedAt")),
        )
    return secrets


@attrs.frozen
class WhoAmI:
    """The part of ``whoami-v2`` the client reads."""

    name: str


def _structure_whoami(data: Any, _: Any = None) -> WhoAmI:
    name = _object(data).get("name")
    if not isinstance(name, str) or not name:
        raise _WrongShape("the answer has no name")
    return WhoAmI(name)


def _structure_duplicated_url(data: Any, _: Any = None) -> DuplicatedURL:
    answer = _object(data)
    return DuplicatedURL(_str_value(answer.get("url", "")), answer.get("filesCopyPending") is True)


@attrs.frozen
class DuplicatedURL:
    """The part of a duplication's (or a creation's) answer the client reads."""

    url: str
    files_copy_pending: bool = False


#: ``list_spaces`` pages: a JSON list (its items are structured one by one).
Page = list[Any]


def _structure_page(data: Any, _: Any = None) -> list[Any]:
    if not isinstance(data, list):
        raise _WrongShape(f"expected a JSON list, got {type(data).__name__}")
    return data


_VARIABLES = dict[str, SpaceVariable]
_SECRETS = dict[str, SpaceSecret]
converter.register_structure_hook_func(lambda t: t == _VARIABLES, lambda d, _: structure_variables(d))
converter.register_structure_hook_func(lambda t: t == _SECRETS, lambda d, _: structure_secrets(d))
converter.register_structure_hook_func(lambda t: t == Page, _structure_page)
converter.register_structure_hook(WhoAmI, _structure_whoami)
_NAMES: dict[object, str] = {Page: "a page of Spaces", _VARIABLES: "variables", _SECRETS: "secrets"}
converter.register_structure_hook(DuplicatedURL, _structure_duplicated_url)


def structure_duplicated(data: Mapping[str, Any], to_id: str) -> DuplicatedSpace:
    """``{"url", "filesCopyPending"?}`` to :class:`DuplicatedSpace`."""
    answer = _structure_duplicated_url(data)
    return DuplicatedSpace(repo_id=to_id, url=answer.url, files_copy_pending=answer.files_copy_pending)


def structure_created(data: Mapping[str, Any], repo_id: str) -> CreatedSpace:
    """``{"url": ...}`` to :class:`CreatedSpace`."""
    return CreatedSpace(repo_id=repo_id, url=_structure_duplicated_url(data).url)


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _WrongShape(f"{key} must be a finite number, got {type(value).__name__}")
    return value


def _structure_quota(data: Any, _: Any = None) -> ZeroGpuQuota:
    # ``current`` is what remains of ``base``; an unreadable reset time is left out.
    try:
        resets_at = parse_datetime(data.get("resetsAt"))
    except (TypeError, ValueError):
        resets_at = None
    overquota = data.get("overquotaUsed")
    return ZeroGpuQuota(
        base=_number(data["base"], "base"),
        remaining=_number(data["current"], "current"),
        resets_at=resets_at,
        overquota_used=None if overquota is None else _number(overquota, "overquotaUsed"),
    )


converter.register_structure_hook(ZeroGpuQuota, _structure_quota)


# --------------------------------------------------------------------------- answers


_STATUS_ERRORS: dict[int, type[HubHTTPError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: SpaceNotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}
#: Longest Hub message an error keeps (the rest is cut).
MAX_MESSAGE = 500
#: Longest header value (request id, error code) an error keeps.
MAX_HEADER_VALUE = 200
_REDACTED = "<redacted>"


def secrets_of(request: Request) -> tuple[str, ...]:
    """The secret values a request carries (never to be shown, even echoed back by the Hub)."""
    if not request.sensitive or not isinstance(request.json, dict):
        return ()
    body = request.json
    found = [body["value"]] if isinstance(body.get("value"), str) else []
    for item in body.get("secrets") or ():
        if isinstance(item, dict) and isinstance(item.get("value"), str):
            found.append(item["value"])
    return tuple(found)


#: A needle shorter than this is masked only where it stands alone (not inside a longer
#: run of letters and digits): a one-letter secret value must not eat every "a" of an
#: error message (masking those would hide the error and protect nothing).
SHORT_NEEDLE = 8


@functools.lru_cache(maxsize=64)
def _spellings(needle: str) -> frozenset[str]:
    """``needle`` as is, JSON-escaped (ASCII-only or not: the client's own bodies keep
    non-ASCII letters), and escaped once more (a Hub nesting an echoed body in JSON)."""
    once = {json.dumps(needle, ensure_ascii=ascii_only)[1:-1] for ascii_only in (True, False)}
    twice = {json.dumps(form, ensure_ascii=ascii_only)[1:-1] for form in once for ascii_only in (True, False)}
    return frozenset({needle, *once, *twice})


def mask(text: str, needles: Iterable[str], mark: str = _REDACTED) -> str:
    """``text`` with every needle (token, secret value) replaced by ``mark``: as is and in
    each JSON spelling (see :func:`_spellings`), the longest first (a secret value holding
    the token goes whole). A needle shorter than :data:`SHORT_NEEDLE` is masked only where
    it stands alone."""
    return mask_spellings(text, spellings_of(needles), mark)


def spellings_of(needles: Iterable[str]) -> tuple[str, ...]:
    """Every spelling :func:`mask` looks for, longest first (worth keeping when the needles
    stay the same over many texts, as the CLI's redactor does)."""
    forms = {form for needle in needles if needle for form in _spellings(needle)}
    return tuple(sorted(forms, key=len, reverse=True))


def mask_spellings(text: str, spellings: Iterable[str], mark: str = _REDACTED) -> str:
    """:func:`mask` with the spellings made already (:func:`spellings_of`)."""
    for form in spellings:
        if len(form) >= SHORT_NEEDLE:
            text = text.replace(form, mark)
        elif form in text:
            alone = r"(?<![^\W_])" + re.escape(form) + r"(?![^\W_])"
            text = re.sub(alone, lambda _: mark, text)
    return text


def scrub(text: str, needles: Iterable[str], limit: int) -> str:
    """``text`` with every needle masked (:func:`mask`), then cut to ``limit``.

    Masks before cutting, so that no prefix of a needle survives the cut.
    """
    text = mask(text, needles)
    if len(text) > limit:
        text = text[:limit] + "..."
    return text


def _header(headers: Mapping[str, str], name: str, needles: Iterable[str]) -> str | None:
    value = headers.get(name)
    return None if not value else scrub(_mend_text(value), needles, MAX_HEADER_VALUE)


def _error_message(headers: Mapping[str, str], body: bytes) -> str:
    message = headers.get("X-Error-Message")
    if message:  # aiohttp keeps bytes that aren't UTF-8 as lone surrogates
        return _mend_text(message)
    try:
        data = decode_json(body.decode(json.detect_encoding(body)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        data = None
    if isinstance(data, dict) and data.get("error"):
        error = data["error"]
        if isinstance(error, str):
            return error
        try:
            return json.dumps(error)
        except (ValueError, RecursionError):
            pass
    text = body.decode("utf-8", "replace").strip()
    return text or "(no message)"


def error_for(
    request: Request,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    redact: Iterable[str] = (),
) -> HubHTTPError:
    """The typed exception for an error answer.

    The Hub's message is kept (cut to :data:`MAX_MESSAGE`), with every string of
    ``redact`` (the token) and every secret value of ``request`` masked: a Hub, or a
    proxy, that echoes the request never gets them shown.
    """
    needles = (*redact, *secrets_of(request))
    cls = _STATUS_ERRORS.get(status) or (ServerError if status >= 500 else HubHTTPError)
    kwargs: dict[str, Any] = {
        "error_code": _header(headers, "X-Error-Code", needles),
        "request_id": _header(headers, "X-Request-Id", needles),
        "repo_id": request.repo_id,
        "method": request.method,
        "path": request.path,
    }
    if cls in (RateLimitedError, ServerError):
        kwargs["retry_after"] = parse_retry_after(headers)
    return cls(status, scrub(_error_message(headers, body), needles, MAX_MESSAGE), **kwargs)


def bad_answer(
    request: Request,
    problem: str,
    reason: str,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    redact: Iterable[str] = (),
) -> BadAnswerError:
    """The :class:`BadAnswerError` for an answer to ``request`` the client can't read."""
    request_id = (
        None if headers is None else _header(headers, "X-Request-Id", (*redact, *secrets_of(request)))
    )
    return BadAnswerError(
        problem,
        reason=reason,
        status=status,
        request_id=request_id,
        repo_id=request.repo_id,
        method=request.method,
        path=request.path,
    )


class _NonFinite(ValueError):
    """A JSON number that is not finite (``NaN``, ``Infinity``, ``1e999``)."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite
    return value


def _no_constant(_: str) -> Any:
    raise _NonFinite


# One decoder, made once: NaN, Infinity and numbers out of float range are refused (JSON
# has none; Python's json accepts them). Floats are rare on the poll path: no cost there.
_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)

# A \uD800-\uDFFF escape: JSON can spell a lone surrogate, which no UTF-8 text can hold
# (printing or logging it raises UnicodeEncodeError far from here).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _mend_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (a pair is kept as its character)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def mend_surrogates(data: Any) -> Any:
    """JSON ``data`` with every lone surrogate of its strings (keys too) replaced by U+FFFD.

    Walks without recursion (the decoder allows deep nesting) and changes the fresh
    containers of a decoded answer in place.
    """
    if isinstance(data, str):
        return _mend_text(data)
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = _mend_text(item)
                elif isinstance(item, (list, dict)):
                    stack.append(item)
        elif isinstance(node, dict):
            for key, item in list(node.items()):
                if isinstance(item, str):
                    item = _mend_text(item)
                elif isinstance(item, (list, dict)):
                    stack.append(item)
                mended = _mend_text(key)
                if mended != key:
                    del node[key]
                node[mended] = item
    return data


def decode_json(text: str) -> Any:
    """Python's JSON of ``text`` without non-finite numbers (:class:`_NonFinite`) or lone surrogates."""
    data = _DECODER.decode(text)
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        data = mend_surrogates(data)
    return data


def decode_answer(
    request: Request,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    redact: Iterable[str] = (),
) -> Any:
    """The JSON of a successful answer; raise the typed error of a failed one.

    A 2xx whose body the client can't read is a :class:`BadAnswerError` (a
    :class:`TransportError`): not JSON (cut, or garbled: ``reason="not-json"``), nested
    too deeply (``"too-deep"``) or holding a non-finite number (``"non-finite"``).
    """
    if status >= 400:
        raise error_for(request, status, headers, body, redact)
    if not body:
        return None
    try:
        return decode_json(body.decode(json.detect_encoding(body)))
    except RecursionError:
        problem, reason = "JSON nested too deeply", "too-deep"
    except _NonFinite:
        problem, reason = "a number that is not finite", "non-finite"
    except (ValueError, UnicodeDecodeError):
        problem, reason = f"not JSON ({len(body)} bytes)", "not-json"
    # Raised out of the except clause: nothing of the body (in the decoder's error) is kept.
    raise bad_answer(request, problem, reason, status, headers, redact)


def _safe_detail(exc: BaseException) -> str:
    """What went wrong, shown only when it is one of our own messages (they name types, never values)."""
    if isinstance(exc, _WrongShape):
        return str(exc)
    for inner in getattr(exc, "exceptions", ()):  # cattrs groups the errors of a class's fields
        if isinstance(inner, BaseException) and (found := _safe_detail(inner)) != type(inner).__name__:
            return found
    return type(exc).__name__


def structure(
    data: Any,
    cls: type[T],
    request: Request,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    redact: Iterable[str] = (),
    *,
    body: bytes | None = None,
) -> T:
    """``converter.structure`` that reports any wrong shape as one :class:`BadAnswerError`.

    The error names the model and the kind of mismatch, never a value of the answer.
    A :class:`SpaceRuntime` read from ``body`` keeps it as its ``raw`` (a :class:`LazyJSON`).
    """
    try:
        if cls is SpaceRuntime and body is not None:
            return cast(T, _runtime_from(data, LazyJSON(body)))
        return converter.structure(data, cls)
    except _SHAPE_ERRORS as exc:
        # Only our own messages are shown: another one may quote a value of the answer.
        detail = _safe_detail(exc)
    name = _NAMES.get(cls) or (str(cls).replace("aiospace.models.", "") if get_origin(cls) else cls.__name__)
    problem = f"unexpected answer shape for {name}: {detail}"
    raise bad_answer(request, problem, "shape", status, headers, redact)


# --------------------------------------------------------------------------- headers


def _rate_params(header: str, into: dict[str, float]) -> None:
    # Parameters are `;`-separated `k=number` items (`"api";r=12;t=30`); on the poll path,
    # so plain string splitting rather than a regex. A value that is not a finite number is skipped.
    for part in header.split(";"):
        part = part.strip()
        if len(part) > 2 and part[1] == "=":
            try:
                value = float(part[2:])
            except ValueError:
                continue
            if math.isfinite(value):
                into[part[0]] = value


#: ``RateLimit-Policy`` values already read, by their text.
_POLICIES: dict[str, dict[str, float]] = {}


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """Read ``RateLimit: "api";r=R;t=T`` and ``RateLimit-Policy: ...;q=Q;w=W``."""
    current = headers.get("RateLimit")
    policy = headers.get("RateLimit-Policy")
    if not current and not policy:
        return None
    values: dict[str, float] = {}
    if current:
        _rate_params(current, values)
    if policy:
        # The policy rarely changes: read each spelling once (a few kept, however many come).
        known = _POLICIES.get(policy)
        if known is None:
            known = {}
            _rate_params(policy, known)
            if len(_POLICIES) >= 16:
                _POLICIES.clear()
            _POLICIES[policy] = known
        values.update(known)
    remaining = values.get("r")
    quota = values.get("q")
    return RateLimit(
        remaining=None if remaining is None else int(remaining),
        reset=values.get("t"),
        quota=None if quota is None else int(quota),
        window=values.get("w"),
    )


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta-seconds or an HTTP date).

    A date without a time zone is read as UTC (as HTTP dates are); a value that is not
    a finite number of seconds, or not a date, is ignored (None).
    """
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


def parse_link_next(header: str | None) -> str | None:
    """The URL with ``rel="next"`` in a ``Link`` header, if any."""
    if not header:
        return None
    for url, params in _LINK.findall(header):
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "rel" and "next" in value.strip().strip('"').split():
                return str(url)
    return None


# --------------------------------------------------------------------------- SSE


@attrs.frozen
class SSEEvent:
    """One Server-Sent Event. ``data == ""`` is a keep-alive.

    ``id`` is the stream's last event id (it carries over to the events that set none).
    """

    data: str
    event: str | None = None
    id: str | None = None


class SSELineTooLong(ValueError):
    """A line, or an event's data, went past the parser's limit."""


#: The default limit of one SSE line (and of one event's data), in bytes.
MAX_SSE_LINE = 1024 * 1024


class SSEParser:
    """An incremental ``text/event-stream`` parser: feed bytes, get whole events.

    A stream cut mid-event leaves the partial event unreported. A line, or an event's
    data, longer than ``max_line`` bytes raises :class:`SSELineTooLong`: a stream that
    never sends a newline can't grow memory. Every byte is scanned a bounded number
    of times (no rescanning of a growing buffer).
    """

    def __init__(self, max_line: int = MAX_SSE_LINE) -> None:
        self.max_line = max_line
        #: The start of a line not ended yet, in pieces (joined once its end comes).
        self._partial: list[bytes] = []
        self._partial_size = 0
        self._data: list[str] = []
        self._data_size = 0
        self._event: str | None = None
        self._id: str | None = None
        self._has_field = False
        #: The last line ended with a '\r' at the end of a chunk: a '\n' next belongs to it.
        self._skip_lf = False
        #: No line read yet: a byte order mark starting the stream is dropped (as the spec says).
        self._first_line = True

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return every event they complete."""
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return []
        if b"\n" not in chunk and b"\r" not in chunk:
            self._partial.append(chunk)
            self._partial_size += len(chunk)
            if self._partial_size > self.max_line:
                raise SSELineTooLong(f"an SSE line longer than {self.max_line} bytes")
            return []
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial, self._partial_size = [], 0
        lines = chunk.splitlines(keepends=True)  # bytes split on \r, \n and \r\n only
        last = lines[-1]
        if not last.endswith((b"\n", b"\r")):
            lines.pop()
            self._partial, self._partial_size = [last], len(last)
        else:
            # A '\r' ending the chunk ends its line now (no waiting for more bytes).
            self._skip_lf = last.endswith(b"\r")
        events: list[SSEEvent] = []
        for raw in lines:
            line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
            if len(line) > self.max_line:
                raise SSELineTooLong(f"an SSE line longer than {self.max_line} bytes")
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        if self._partial_size > self.max_line:
            raise SSELineTooLong(f"an SSE line longer than {self.max_line} bytes")
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if self._first_line:
            self._first_line = False
            if line.startswith("\ufeff"):
                line = line[1:]
        if line == "":
            if not self._has_field:
                return None
            event = SSEEvent("\n".join(self._data), self._event, self._id)
            self._data, self._data_size, self._event, self._has_field = [], 0, None, False
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data_size += len(value) + 1
            if self._data_size > self.max_line:
                raise SSELineTooLong(f"an SSE event's data longer than {self.max_line} bytes")
            self._data.append(value)
            self._has_field = True
        elif field == "event":
            self._event = value
            self._has_field = True
        elif field == "id" and "\0" not in value:  # the spec ignores an id holding NUL
            self._id = value
        return None

    @property
    def pending(self) -> bool:
        """True when a partial event or line is buffered (the stream ended mid-event)."""
        return bool(self._partial) or self._has_field


@attrs.frozen
class LogLine:
    """One line of a Space's build or run log."""

    text: str
    timestamp: datetime | None = None


def parse_log_event(event: SSEEvent) -> LogLine | None:
    """A log line from ``data: {"data": "<line>", "timestamp": "<iso>"}``; None for a keep-alive.

    Anything else is a line of its own text (never an error).
    """
    if not event.data.strip():
        return None
    try:
        payload = decode_json(event.data)
    except (ValueError, RecursionError):
        return LogLine(event.data)
    if not isinstance(payload, dict):
        return LogLine(event.data)
    text = payload.get("data", "")
    if not isinstance(text, str):
        return LogLine(event.data)
    try:
        stamp = parse_datetime(payload.get("timestamp"))
    except (TypeError, ValueError):
        stamp = None
    return LogLine(text, stamp)

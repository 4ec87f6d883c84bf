"""The one ``cattrs`` converter from the Hub's JSON to :mod:`aiospace.models`, and :func:`structure`."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from ..models import (
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
from .answers import bad_answer, decode_json
from .redact import NOTHING, Redactor
from .requests import Request

converter = cattrs.Converter()
T = TypeVar("T")

#: What a decoder may raise on a shape it can't read; :func:`structure` turns each into
#: one :class:`BadAnswerError` (the property tests in tests/hub/test_decoders.py hold it to it).
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

_STAGES = cast("dict[Any, SpaceStage]", SpaceStage._value2member_map_)
_FLAVORS = cast("dict[Any, SpaceHardware]", SpaceHardware._value2member_map_)


def _stage(value: Any) -> SpaceStage:
    found = _STAGES.get(value) if type(value) is str else None
    if found is not None:
        return found
    if not isinstance(value, str) or not value:
        raise _WrongShape(f"stage must be a non-empty string, got {type(value).__name__}")
    return SpaceStage(value)


def _flavor(value: Any) -> SpaceHardware | None:
    if value is None:
        return None
    found = _FLAVORS.get(value) if type(value) is str else None
    return found if found is not None else SpaceHardware(value)


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


#: Immutable parts of runtimes already read, shared by every runtime that says the same: most
#: Spaces run one replica of one flavor. Bounded: emptied when full, whatever the Hub sends.
_SHARED_MAX = 1024
_REPLICAS: dict[tuple[int | None, int | None], SpaceReplicas] = {}
_DOMAINS: dict[tuple[str, str | None], tuple[SpaceDomain, ...]] = {}


def _replicas(value: Any) -> SpaceReplicas:
    requested, current = value.get("requested"), value.get("current")
    if type(requested) is int and type(current) is int:  # the common case, checked inline
        key: tuple[int | None, int | None] = (requested, current)
    else:
        key = (_optional_int(requested), _optional_int(current))
    found = _REPLICAS.get(key)
    if found is None:
        if len(_REPLICAS) >= _SHARED_MAX:
            _REPLICAS.clear()
        found = _REPLICAS[key] = SpaceReplicas(*key)
    return found


def _runtime_domains(value: Any) -> tuple[SpaceDomain, ...]:
    """``domains`` of a runtime: the common single domain shared by value, others as they come."""
    if type(value) is list and len(value) == 1:
        item = value[0]
        if type(item) is dict:
            domain, stage = item.get("domain"), item.get("stage")
            if type(domain) is str and (stage is None or type(stage) is str):
                key = (domain, stage)
                found = _DOMAINS.get(key)
                if found is None:
                    if len(_DOMAINS) >= _SHARED_MAX:
                        _DOMAINS.clear()
                    found = _DOMAINS[key] = (SpaceDomain(domain, stage),)
                return found
    return _domains(value)


def _runtime_from(data: Any, raw: Mapping[str, Any]) -> SpaceRuntime:
    # The poll loop's hot path: written out by hand rather than generated, the fields given
    # in their declared order (tests/hub/test_convert.py pins it). The newer keys
    # (errorMessage, domains, sdk, sdkVersion) are read leniently: a value of an odd type is None.
    get = data.get
    stage = data["stage"]
    found_stage = _STAGES.get(stage) if type(stage) is str else None
    hardware = get("hardware") or {}
    current, requested = hardware.get("current"), hardware.get("requested")
    storage = get("storage")
    gc_timeout = get("gcTimeout")
    dev_mode = get("devMode")
    replicas = get("replicas")
    error_message = get("errorMessage")
    domains = get("domains")
    sdk = get("sdk")
    sdk_version = get("sdkVersion")
    volumes = get("volumes")
    hot_reloading = get("hotReloading")
    return SpaceRuntime(
        _stage(stage) if found_stage is None else found_stage,
        None
        if current is None
        else (_FLAVORS.get(current) if type(current) is str else None) or _flavor(current),
        None
        if requested is None
        else (_FLAVORS.get(requested) if type(requested) is str else None) or _flavor(requested),
        None if gc_timeout is None else _int_value(gc_timeout),
        None if storage is None else SpaceStorage(storage),
        None if dev_mode is None else bool(dev_mode),
        None if replicas is None else _replicas(replicas),
        error_message if isinstance(error_message, str) else None,
        _runtime_domains(domains) if domains else (),
        sdk if isinstance(sdk, str) else None,
        sdk_version if isinstance(sdk_version, str) else None,
        None if volumes is None else _structure_volumes(volumes),
        None if hot_reloading is None else _structure_hot_reloading(hot_reloading),
        raw,
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
        host=_opt_str(data.get("host")),
        card_data=card if isinstance(card := data.get("cardData"), Mapping) else None,
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
    redact: Redactor = NOTHING,
    *,
    body: bytes | None = None,
) -> T:
    """``converter.structure`` that reports any wrong shape as one :class:`BadAnswerError`.

    The error names the model and the kind of mismatch, never a value of the answer.
    A :class:`SpaceRuntime` read from ``body`` keeps it as its ``raw`` (a :class:`LazyJSON`).
    """
    try:
        if cls is SpaceRuntime and body is not None:
            return _runtime_from(data, LazyJSON(body))  # type: ignore[return-value]
        return converter.structure(data, cls)
    except _SHAPE_ERRORS as exc:
        # Only our own messages are shown: another one may quote a value of the answer.
        detail = _safe_detail(exc)
    name = _NAMES.get(cls) or (str(cls).replace("aiospace.models.", "") if get_origin(cls) else cls.__name__)
    problem = f"unexpected answer shape for {name}: {detail}"
    raise bad_answer(request, problem, "shape", status, headers, redact)

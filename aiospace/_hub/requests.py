"""One request builder per Hub call: a :class:`Request` (method, path, query, JSON body)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..errors import InvalidArgumentError
from ..models import Volume
from . import validate as v
from .routes import ROUTES, Route


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


#: The runtime reads already built, by repo id (a Request is immutable): a Space polled again
#: reuses its own. Bounded: emptied when full, so a fleet larger than this gets no hits.
_RUNTIME_READS: dict[str, Request] = {}
_RUNTIME_READS_MAX = 1024


def get_space_runtime(repo_id: str) -> Request:
    """``GET /api/spaces/{repo_id}/runtime``."""
    found = _RUNTIME_READS.get(repo_id) if type(repo_id) is str else None
    if found is None:
        found = _space_request("get_space_runtime", repo_id)  # checks the repo id
        if len(_RUNTIME_READS) >= _RUNTIME_READS_MAX:
            _RUNTIME_READS.clear()
        _RUNTIME_READS[repo_id] = found
    return found


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

"""The sans-I/O wire layer: request builders, the converter, errors, headers and SSE."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from aiospace import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HubHTTPError,
    InvalidArgumentError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SpaceHardware,
    SpaceInfo,
    SpaceRuntime,
    SpaceStage,
    SpaceStorage,
    TransportError,
)
from aiospace._hub import requests as req
from aiospace._hub import validate as v
from aiospace._hub.answers import decode_answer, error_for
from aiospace._hub.convert import (
    LazyJSON,
    converter,
    parse_datetime,
    structure,
    structure_secrets,
    structure_variables,
)
from aiospace._hub.headers import parse_link_next, parse_rate_limit, parse_retry_after
from aiospace._hub.routes import ROUTES
from aiospace._hub.sse import LogLine, SSEEvent, SSEParser, parse_log_event
from aiospace.emulator import encode
from aiospace.errors import SpaceNotFoundError
from aiospace.models import (
    RateLimit,
    SpaceAccelerator,
    SpaceDomain,
    SpaceHardwareInfo,
    SpaceReplicas,
    SpaceSecret,
    SpaceVariable,
)

SAMPLES_DIR = Path(__file__).parent.parent / "samples"
SAMPLES = [(p.name, json.loads(p.read_text())) for p in sorted(SAMPLES_DIR.glob("*.json"))]
REPO = "user/tmp_test_space"


def test_samples_are_there() -> None:
    assert len(SAMPLES) == 22


# --------------------------------------------------------------------------- samples


def _request_for(sample: dict[str, Any]) -> req.Request:
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


@pytest.mark.parametrize(("name", "sample"), SAMPLES, ids=[n for n, _ in SAMPLES])
def test_sample_request_is_rebuilt_exactly(name: str, sample: dict[str, Any]) -> None:
    request = _request_for(sample)
    assert request.method == sample["request"]["method"]
    assert request.path == sample["request"]["path"]
    assert request.params == ()
    expected = sample["request"]["json"]
    if expected is None:
        assert request.body() is None
    else:
        assert request.body() == json.dumps(expected, separators=(",", ":")).encode()


@pytest.mark.parametrize(("name", "sample"), SAMPLES, ids=[n for n, _ in SAMPLES])
def test_sample_answer_parses_and_round_trips(name: str, sample: dict[str, Any]) -> None:
    request = _request_for(sample)
    status = sample["response"]["status"]
    answer = sample["response"]["json"]
    data = decode_answer(request, status, {}, json.dumps(answer).encode())
    assert data == answer
    what = request.route.name
    if what in ("get_space_runtime", "pause_space", "restart_space"):
        runtime = structure(data, SpaceRuntime, request)
        assert runtime.raw == answer  # nothing dropped
        assert runtime.stage == answer["stage"]
        assert runtime.requested_hardware == answer["hardware"]["requested"]
        assert runtime.hardware == answer["hardware"]["current"]
        again = runtime_json(runtime)
        # the model holds what the Hub wrote, for every key we model
        for key, value in again.items():
            assert answer[key] == value, key
        assert converter.structure(again, SpaceRuntime) == runtime
    elif what in ("get_space_variables", "add_space_variable", "delete_space_variable"):
        variables = structure_variables(data)
        assert list(variables) == list(answer)
        for key, var in variables.items():
            assert var.key == key
            assert var.value == answer[key]["value"]
            assert var.description == answer[key].get("description")
            assert var.updated_at is not None and var.updated_at.tzinfo is not None
        assert all(encode.format_time(v.updated_at) == answer[k]["updatedAt"] for k, v in variables.items())
    else:
        assert what in ("add_space_secret", "delete_space_secret")
        assert answer == {}
        assert structure_secrets(data) == {}


def test_recorded_runtimes_in_detail() -> None:
    by_name = dict(SAMPLES)
    building = converter.structure(by_name["18-get-runtime.json"]["response"]["json"], SpaceRuntime)
    assert building == SpaceRuntime(
        stage=SpaceStage.BUILDING,
        hardware=None,
        requested_hardware=SpaceHardware.CPU_BASIC,
        sleep_time=172800,
        storage=None,
        dev_mode=False,
        replicas=SpaceReplicas(requested=1),
        domains=(SpaceDomain("user-tmp-test-space.hf.space", "READY"),),
    )
    assert building.is_transitional and not building.is_settled
    assert building.raw["domains"][0]["stage"] == "READY"
    paused = converter.structure(by_name["19-post-pause.json"]["response"]["json"], SpaceRuntime)
    assert paused.stage is SpaceStage.PAUSED and paused.is_settled and not paused.is_converged
    static = converter.structure(by_name["21-get-runtime.json"]["response"]["json"], SpaceRuntime)
    assert static.stage is SpaceStage.RUNNING
    assert static.hardware is None and static.requested_hardware is None
    assert static.sleep_time is None and static.dev_mode is None
    assert static.replicas == SpaceReplicas(requested=1, current=1)
    assert static.is_converged and static.is_settled


def test_variable_timestamps() -> None:
    answer = dict(SAMPLES)["12-post-variables.json"]["response"]["json"]
    variables = structure_variables(answer)
    assert variables["MODEL_PAPER"] == SpaceVariable(
        key="MODEL_PAPER",
        value="arXiv",
        description="found it there",
        updated_at=datetime(2025, 3, 7, 12, 24, 19, 337000, tzinfo=timezone.utc),
    )


def test_secrets_structure_and_round_trip() -> None:
    answer = {
        "foo": {"description": "a secret", "updatedAt": "2025-03-07T12:24:18.657Z"},
        "bar": {"updatedAt": "2025-03-07T12:24:19.000Z"},
        "baz": {},
    }
    secrets = structure_secrets(answer)
    assert secrets["foo"] == SpaceSecret(
        "foo", "a secret", datetime(2025, 3, 7, 12, 24, 18, 657000, tzinfo=timezone.utc)
    )
    assert secrets["baz"] == SpaceSecret("baz")
    assert secrets["bar"].description is None and secrets["bar"].updated_at is not None
    assert structure_secrets({"k": None}) == {"k": SpaceSecret("k")}


# --------------------------------------------------------------------------- converter


def test_runtime_with_unknown_stage_flavor_and_keys() -> None:
    data = {
        "stage": "TELEPORTING",
        "hardware": {"current": "h200x16", "requested": "h200x16"},
        "storage": "colossal",
        "gcTimeout": 3600,
        "someNewKey": {"nested": [1, 2]},
        "hotReloading": True,
    }
    runtime = converter.structure(data, SpaceRuntime)
    assert runtime.stage == "TELEPORTING"
    assert not runtime.stage.is_known
    assert runtime.hardware == "h200x16" and isinstance(runtime.hardware, SpaceHardware)
    assert runtime.storage == "colossal" and isinstance(runtime.storage, SpaceStorage)
    assert runtime.raw["someNewKey"] == {"nested": [1, 2]}
    assert runtime.is_converged


def test_runtime_minimal_and_odd_shapes() -> None:
    assert converter.structure({"stage": "RUNNING"}, SpaceRuntime) == SpaceRuntime(SpaceStage.RUNNING)
    runtime = converter.structure({"stage": "SLEEPING", "hardware": None, "replicas": None}, SpaceRuntime)
    assert runtime.hardware is None and runtime.replicas is None
    request = req.get_space_runtime(REPO)
    for bad in ({}, {"stage": ""}, {"stage": None}, [], "RUNNING"):
        with pytest.raises(TransportError, match="unexpected answer shape"):
            structure(bad, SpaceRuntime, request)


def test_hardware_catalogue_parses_with_unit_cost() -> None:
    data = [
        {
            "name": "cpu-basic",
            "prettyName": "CPU basic",
            "cpu": "2 vCPU",
            "ram": "16 GB",
            "accelerator": None,
            "unitCostMicroUSD": 0,
            "unitCostUSD": 0,
            "unitLabel": "hour",
        },
        {
            "name": "t4-medium",
            "prettyName": "Nvidia T4 - medium",
            "cpu": "8 vCPU",
            "ram": "30 GB",
            "accelerator": {
                "type": "gpu",
                "model": "T4",
                "quantity": "1",
                "vram": "16 GB",
                "manufacturer": "Nvidia",
            },
            "unitCostMicroUSD": 10000,
            "unitCostUSD": 0.01,
            "unitLabel": "minute",
            "somethingNew": True,
        },
        {"name": "h200x16", "unitCostUSD": 1.5, "unitLabel": "hour"},
    ]
    request = req.list_spaces_hardware()
    catalogue = structure(data, list[SpaceHardwareInfo], request)
    assert [h.name for h in catalogue] == ["cpu-basic", "t4-medium", "h200x16"]
    t4 = catalogue[1]
    assert t4.name is SpaceHardware.T4_MEDIUM
    assert t4.pretty_name == "Nvidia T4 - medium"
    assert t4.accelerator == SpaceAccelerator("gpu", "T4", "1", "16 GB", "Nvidia")
    assert t4.unit_cost_micro_usd == 10000
    assert t4.cost_per_hour_usd == pytest.approx(0.6)
    assert catalogue[0].accelerator is None and catalogue[0].cost_per_hour_usd == 0
    assert not catalogue[2].name.is_known and catalogue[2].cost_per_hour_usd == 1.5


def test_space_info_with_runtime() -> None:
    data = {
        "_id": "abc",
        "id": "victor/static-space",
        "author": "victor",
        "sdk": "static",
        "private": False,
        "lastModified": "2024-01-02T03:04:05.000Z",
        "likes": 3,
        "runtime": {"stage": "RUNNING", "hardware": {"current": None, "requested": None}, "storage": None},
    }
    info = converter.structure(data, SpaceInfo)
    assert info.id == "victor/static-space"
    assert info.author == "victor" and info.sdk == "static" and info.private is False
    assert info.last_modified == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert info.runtime == SpaceRuntime(SpaceStage.RUNNING)
    assert info.raw["likes"] == 3
    bare = converter.structure({"id": "a/b"}, SpaceInfo)
    assert bare.runtime is None and bare.author is None
    assert bare.sha is None and bare.subdomain is None and bare.last_modified is None
    with pytest.raises(TransportError):
        structure({"author": "x"}, SpaceInfo, req.space_info("a/b"))


def test_datetimes() -> None:
    stamp = parse_datetime("2025-03-07T12:24:18.657Z")
    assert stamp == datetime(2025, 3, 7, 12, 24, 18, 657000, tzinfo=timezone.utc)
    assert encode.format_time(stamp) == "2025-03-07T12:24:18.657Z"  # the emulator writes what we read
    assert parse_datetime(None) is None and parse_datetime("") is None
    assert parse_datetime(stamp) is stamp
    plus_two = datetime(2025, 3, 7, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert encode.format_time(plus_two) == "2025-03-07T12:00:00.000Z"


# Fixed examples (reproducible runs) and no per-example deadline (a loaded CI machine is slow).
HYPOTHESIS = settings(derandomize=True, deadline=None, max_examples=200)

stage_values = st.one_of(st.sampled_from([m.value for m in SpaceStage]), st.text(min_size=1, max_size=30))
flavor_values = st.one_of(st.sampled_from([m.value for m in SpaceHardware]), st.text(min_size=1, max_size=30))
tier_values = st.one_of(st.sampled_from([m.value for m in SpaceStorage]), st.text(min_size=1, max_size=20))
small_ints = st.integers(min_value=-1, max_value=10**7)

runtimes = st.builds(
    SpaceRuntime,
    stage=stage_values.map(SpaceStage),
    hardware=st.none() | flavor_values.map(SpaceHardware),
    requested_hardware=st.none() | flavor_values.map(SpaceHardware),
    sleep_time=st.none() | small_ints,
    storage=st.none() | tier_values.map(SpaceStorage),
    dev_mode=st.none() | st.booleans(),
    replicas=st.none()
    | st.builds(
        SpaceReplicas, requested=st.none() | st.integers(0, 10), current=st.none() | st.integers(0, 10)
    ),
    error_message=st.none() | st.text(max_size=40),
    domains=st.lists(
        st.builds(SpaceDomain, domain=st.text(max_size=20), stage=st.none() | st.text(max_size=8)), max_size=2
    ).map(tuple),
    sdk=st.none() | st.text(max_size=10),
    sdk_version=st.none() | st.text(max_size=10),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
MODELED = {
    "stage",
    "hardware",
    "storage",
    "gcTimeout",
    "replicas",
    "devMode",
    "errorMessage",
    "domains",
    "sdk",
    "sdkVersion",
}


def runtime_json(runtime: SpaceRuntime) -> dict[str, Any]:
    """The runtime JSON the Hub would send for ``runtime`` (this test's own writer, per docs/hub-api.md)."""
    out: dict[str, Any] = {
        "stage": runtime.stage.value,
        "hardware": {
            "current": None if runtime.hardware is None else runtime.hardware.value,
            "requested": None if runtime.requested_hardware is None else runtime.requested_hardware.value,
        },
        "storage": None if runtime.storage is None else runtime.storage.value,
    }
    if runtime.sleep_time is not None:
        out["gcTimeout"] = runtime.sleep_time
    if runtime.replicas is not None:
        replicas = {"requested": runtime.replicas.requested, "current": runtime.replicas.current}
        out["replicas"] = {k: v for k, v in replicas.items() if v is not None}
    if runtime.dev_mode is not None:
        out["devMode"] = runtime.dev_mode
    if runtime.error_message is not None:
        out["errorMessage"] = runtime.error_message
    if runtime.domains:
        out["domains"] = [{"domain": d.domain, "stage": d.stage} for d in runtime.domains]
    if runtime.sdk is not None:
        out["sdk"] = runtime.sdk
    if runtime.sdk_version is not None:
        out["sdkVersion"] = runtime.sdk_version
    return out


@HYPOTHESIS
@given(runtimes)
def test_runtime_round_trips(runtime: SpaceRuntime) -> None:
    data = runtime_json(runtime)
    json.dumps(data)  # plain JSON
    back = converter.structure(json.loads(json.dumps(data)), SpaceRuntime)
    assert back == runtime
    assert back.raw == data


@HYPOTHESIS
@given(runtimes, st.dictionaries(st.text(max_size=12).filter(lambda k: k not in MODELED), json_values))
def test_runtime_tolerates_unknown_keys(runtime: SpaceRuntime, extra: dict[str, Any]) -> None:
    data = {**extra, **runtime_json(runtime)}
    back = converter.structure(data, SpaceRuntime)
    assert back == runtime
    for key, value in extra.items():
        assert back.raw[key] == value


def test_space_info_head_commit_and_subdomain() -> None:
    sha = "8a3c1e5f9b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e"
    info = converter.structure(
        {"id": "a/b", "sha": sha, "subdomain": "a-b", "lastModified": "2025-03-07T12:24:18.657Z"}, SpaceInfo
    )
    assert info.sha == sha and info.subdomain == "a-b"
    assert info.last_modified == datetime(2025, 3, 7, 12, 24, 18, 657000, tzinfo=timezone.utc)


def test_newer_runtime_keys_parse() -> None:
    runtime = converter.structure(
        {
            "stage": "RUNTIME_ERROR",
            "hardware": {"current": None, "requested": "a10g-large"},
            "errorMessage": "Scheduling failure: not enough hardware capacity",
            "domains": [{"domain": "a-b.hf.space", "stage": "READY"}, {"domain": "x.example"}],
            "sdk": "gradio",
            "sdkVersion": "5.9.1",
        },
        SpaceRuntime,
    )
    assert runtime.error_message == "Scheduling failure: not enough hardware capacity"
    assert runtime.domains == (SpaceDomain("a-b.hf.space", "READY"), SpaceDomain("x.example", None))
    assert runtime.sdk == "gradio" and runtime.sdk_version == "5.9.1"


@pytest.mark.parametrize(
    "odd",
    [
        {"errorMessage": 5, "domains": "a-b.hf.space", "sdk": ["gradio"], "sdkVersion": 5.9},
        {"errorMessage": None, "domains": [None, 3, {"stage": "READY"}, {"domain": 7}], "sdk": {}},
        {"domains": {"domain": "a-b.hf.space"}, "sdkVersion": None},
    ],
)
def test_odd_values_of_the_newer_keys_never_fail_a_parse(odd: dict[str, Any]) -> None:
    runtime = converter.structure({"stage": "RUNNING", **odd}, SpaceRuntime)
    assert runtime.error_message is None and runtime.domains == ()
    assert runtime.sdk is None and runtime.sdk_version is None
    info_data = {"id": "a/b", "sha": 12, "subdomain": ["x"], "lastModified": "yesterday"}
    info = converter.structure({**info_data, "runtime": {**odd, "stage": "X"}}, SpaceInfo)
    assert info.sha is None and info.subdomain is None and info.last_modified is None
    assert info.runtime is not None and info.runtime.stage == "X"


@HYPOTHESIS
@given(stage_values, flavor_values, flavor_values)
def test_any_stage_and_flavor_string_parses(stage: str, current: str, requested: str) -> None:
    data = {"stage": stage, "hardware": {"current": current, "requested": requested}}
    runtime = converter.structure(data, SpaceRuntime)
    assert runtime.stage == stage and str(runtime.stage) == stage
    assert runtime.hardware == current
    assert runtime.requested_hardware == requested
    assert runtime.is_converged is (current == requested)


# --------------------------------------------------------------------------- request builders


@pytest.mark.parametrize(
    ("request_", "method", "path", "params", "body"),
    [
        (req.get_space_runtime(REPO), "GET", f"/api/spaces/{REPO}/runtime", (), None),
        (
            req.request_space_hardware(REPO, "t4-medium", 3600),
            "POST",
            f"/api/spaces/{REPO}/hardware",
            (),
            b'{"flavor":"t4-medium","sleepTimeSeconds":3600}',
        ),
        (
            req.request_space_hardware(REPO, SpaceHardware.A10G_SMALL),
            "POST",
            f"/api/spaces/{REPO}/hardware",
            (),
            b'{"flavor":"a10g-small"}',
        ),
        (
            req.set_space_sleep_time(REPO, -1),
            "POST",
            f"/api/spaces/{REPO}/sleeptime",
            (),
            b'{"seconds":-1}',
        ),
        (req.pause_space(REPO), "POST", f"/api/spaces/{REPO}/pause", (), None),
        (req.restart_space(REPO), "POST", f"/api/spaces/{REPO}/restart", (), None),
        (
            req.restart_space(REPO, factory_reboot=True),
            "POST",
            f"/api/spaces/{REPO}/restart",
            (("factory", "true"),),
            None,
        ),
        (
            req.set_space_dev_mode(REPO, True),
            "POST",
            f"/api/spaces/{REPO}/dev-mode",
            (),
            b'{"enabled":true}',
        ),
        (
            req.set_space_dev_mode(REPO, False),
            "POST",
            f"/api/spaces/{REPO}/dev-mode",
            (),
            b'{"enabled":false}',
        ),
        (
            req.add_space_secret(REPO, "K", "V", "D"),
            "POST",
            f"/api/spaces/{REPO}/secrets",
            (),
            b'{"key":"K","value":"V","description":"D"}',
        ),
        (
            req.delete_space_secret(REPO, "K"),
            "DELETE",
            f"/api/spaces/{REPO}/secrets",
            (),
            b'{"key":"K"}',
        ),
        (req.get_space_secrets(REPO), "GET", f"/api/spaces/{REPO}/secrets", (), None),
        (req.get_space_variables(REPO), "GET", f"/api/spaces/{REPO}/variables", (), None),
        (
            req.add_space_variable(REPO, "K", "V"),
            "POST",
            f"/api/spaces/{REPO}/variables",
            (),
            b'{"key":"K","value":"V"}',
        ),
        (
            req.delete_space_variable(REPO, "K"),
            "DELETE",
            f"/api/spaces/{REPO}/variables",
            (),
            b'{"key":"K"}',
        ),
        (
            req.request_space_storage(REPO, "small"),
            "POST",
            f"/api/spaces/{REPO}/storage",
            (),
            b'{"tier":"small"}',
        ),
        (req.delete_space_storage(REPO), "DELETE", f"/api/spaces/{REPO}/storage", (), None),
        (
            req.duplicate_space(REPO, "me/copy"),
            "POST",
            f"/api/spaces/{REPO}/duplicate",
            (),
            b'{"repository":"me/copy"}',
        ),
        (req.list_spaces_hardware(), "GET", "/api/spaces/hardware", (), None),
        (req.space_info(REPO), "GET", f"/api/spaces/{REPO}", (), None),
        (
            req.space_info(REPO, ["runtime", "likes"]),
            "GET",
            f"/api/spaces/{REPO}",
            (("expand", "runtime"), ("expand", "likes")),
            None,
        ),
        (req.list_spaces(), "GET", "/api/spaces", (), None),
        (
            req.list_spaces(author="victor", search="demo", limit=5, expand=["runtime"]),
            "GET",
            "/api/spaces",
            (("author", "victor"), ("search", "demo"), ("limit", "5"), ("expand", "runtime")),
            None,
        ),
        (req.fetch_space_logs(REPO), "GET", f"/api/spaces/{REPO}/logs/run", (), None),
        (req.fetch_space_logs(REPO, build=True), "GET", f"/api/spaces/{REPO}/logs/build", (), None),
        (req.whoami(), "GET", "/api/whoami-v2", (), None),
    ],
)
def test_request_builders(
    request_: req.Request,
    method: str,
    path: str,
    params: tuple[tuple[str, str], ...],
    body: bytes | None,
) -> None:
    assert request_.method == method
    assert request_.path == path
    assert request_.params == params
    assert request_.body() == body
    assert request_.is_read is (method == "GET")


def test_duplicate_full_body() -> None:
    request = req.duplicate_space(
        REPO,
        "me/copy",
        private=True,
        hardware="t4-small",
        storage="large",
        sleep_time=600,
        secrets=[{"key": "S", "value": "sv", "description": "d"}],
        variables=[{"key": "V", "value": "vv"}],
    )
    assert json.loads(request.body() or b"") == {
        "repository": "me/copy",
        "visibility": "private",
        "hardware": "t4-small",
        "storageTier": "large",
        "sleepTimeSeconds": 600,
        "secrets": [{"key": "S", "value": "sv", "description": "d"}],
        "variables": [{"key": "V", "value": "vv"}],
    }
    assert request.sensitive
    assert "sv" not in repr(request)
    public = req.duplicate_space(REPO, "me/copy", private=False)
    assert json.loads(public.body() or b"")["visibility"] == "public"
    assert not public.sensitive


def test_secret_value_not_in_repr() -> None:
    request = req.add_space_secret(REPO, "TOKEN", "hf_topsecret")
    assert request.sensitive
    assert "hf_topsecret" not in repr(request)
    assert "redacted" in repr(request)
    assert "visible" in repr(req.add_space_variable(REPO, "V", "visible"))


def test_every_route_has_a_builder_and_unique_name() -> None:
    assert len(ROUTES) == len({(r.method, r.template) for r in ROUTES.values()})
    for route in ROUTES.values():
        assert route.template.startswith("/api/")
        assert "{repo_id}" not in route.server_path
    assert ROUTES["get_space_runtime"].server_path == "/api/spaces/{namespace}/{name}/runtime"


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: req.get_space_runtime("bad"), "repo_id"),
        (lambda: req.request_space_hardware(REPO, "NOPE!"), "hardware"),
        (lambda: req.request_space_hardware(REPO, "t4-small", sleep_time=1.5), "sleep_time"),
        (lambda: req.set_space_sleep_time(REPO, -2), "sleep_time"),
        (lambda: req.add_space_secret(REPO, "1BAD", "v"), "key"),
        (lambda: req.add_space_secret(REPO, "K", "v" * (v.MAX_VALUE_BYTES + 1)), "value"),
        (lambda: req.add_space_variable(REPO, "K", "v", "d" * 5000), "description"),
        (lambda: req.request_space_storage(REPO, "XL!"), "storage"),
        (lambda: req.duplicate_space(REPO, "a/b/c"), "to_id"),
        (lambda: req.duplicate_space(REPO, "me/x", secrets=[{"key": "K"}]), "secrets"),
        (lambda: req.duplicate_space(REPO, "me/x", secrets=[{"key": "1", "value": "v"}]), "secrets.key"),
        (lambda: req.duplicate_space(REPO, "me/x", variables=["KEY=v"]), "variables"),  # type: ignore[list-item]
        (lambda: req.list_spaces(author="a/b"), "author"),
        (lambda: req.list_spaces(search=3), "search"),  # type: ignore[arg-type]
        (lambda: req.list_spaces(limit=0), "limit"),
        (lambda: req.list_spaces(limit=True), "limit"),
    ],
)
def test_builders_validate(build: Any, argument: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        build()
    assert info.value.argument == argument


# --------------------------------------------------------------------------- answers and errors


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, SpaceNotFoundError),
        (409, ConflictError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (418, HubHTTPError),
    ],
)
def test_error_for_status(status: int, cls: type[HubHTTPError]) -> None:
    request = req.get_space_runtime(REPO)
    headers = CIMultiDict({"X-Error-Code": "SomeCode", "X-Request-Id": "Root=1-abc"})
    with pytest.raises(cls) as info:
        decode_answer(request, status, headers, b'{"error": "it went wrong"}')
    error = info.value
    assert type(error) is cls
    assert error.status == status
    assert error.error_code == "SomeCode"
    assert error.request_id == "Root=1-abc"
    assert error.message == "it went wrong"
    assert error.repo_id == REPO
    assert error.method == "GET" and error.path == f"/api/spaces/{REPO}/runtime"
    text = str(error)
    for part in (str(status), "SomeCode", REPO, "it went wrong", "Root=1-abc"):
        assert part in text


def test_error_message_sources() -> None:
    request = req.pause_space(REPO)
    headers = {"X-Error-Message": "Invalid credentials in Authorization header"}
    error = error_for(request, 401, headers, b'{"error": "other"}')
    assert error.message == "Invalid credentials in Authorization header"  # the header wins
    assert error_for(request, 400, {}, b"plain text").message == "plain text"
    assert error_for(request, 400, {}, b"").message == "(no message)"
    assert error_for(request, 400, {}, b'{"error": {"a": 1}}').message == '{"a": 1}'
    assert error_for(request, 500, {}, b"\xff\xfe").message  # garbage does not crash


def test_retry_after_on_errors() -> None:
    request = req.get_space_runtime(REPO)
    limited = error_for(request, 429, {"Retry-After": "7"}, b"{}")
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 7.0
    unavailable = error_for(request, 503, {"Retry-After": "2"}, b"{}")
    assert isinstance(unavailable, ServerError) and unavailable.retry_after == 2.0
    assert error_for(request, 503, {}, b"{}").retry_after is None  # type: ignore[attr-defined]


def test_decode_answer_success() -> None:
    request = req.get_space_runtime(REPO)
    assert decode_answer(request, 200, {}, b'{"stage":"RUNNING"}') == {"stage": "RUNNING"}
    assert decode_answer(request, 204, {}, b"") is None
    with pytest.raises(TransportError, match="not JSON") as info:
        decode_answer(request, 200, {}, b'{"stage": "RUNN')
    assert info.value.repo_id == REPO


# --------------------------------------------------------------------------- headers


def test_parse_rate_limit() -> None:
    headers = CIMultiDict(
        {"RateLimit": '"api";r=489;t=189', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}
    )
    assert parse_rate_limit(headers) == RateLimit(remaining=489, reset=189.0, quota=500, window=300.0)
    lower = CIMultiDict({"ratelimit": '"api";r=0;t=12'})
    assert parse_rate_limit(lower) == RateLimit(remaining=0, reset=12.0)
    assert parse_rate_limit(CIMultiDict()) is None
    assert parse_rate_limit({"RateLimit-Policy": '"fixed window";"api";q=1000;w=300'}) == RateLimit(
        quota=1000, window=300.0
    )


def test_rate_limit_headers_round_trip() -> None:
    # What the emulator writes, the client reads.
    headers = encode.rate_limit_headers(remaining=12, reset=29.2, quota=1000, window=300)
    assert parse_rate_limit(headers) == RateLimit(remaining=12, reset=30.0, quota=1000, window=300.0)
    assert parse_rate_limit(encode.rate_limit_headers(-5, 0, 10, 300)) == RateLimit(0, 0.0, 10, 300.0)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2", 2.0), (" 0.5 ", 0.5), ("0", 0.0), ("-3", 0.0), ("soon", None), ("", None)],
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after({"Retry-After": value}) == seconds


def test_parse_retry_after_http_dates() -> None:
    assert parse_retry_after({}) is None
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    future = parse_retry_after({"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"})
    assert future is not None and future > 10**9


@pytest.mark.parametrize(
    ("header", "url"),
    [
        (
            '<https://huggingface.co/api/spaces?cursor=abc&limit=2>; rel="next"',
            "https://huggingface.co/api/spaces?cursor=abc&limit=2",
        ),
        ("</api/spaces?p=2>; rel=next", "/api/spaces?p=2"),
        ('</first>; rel="prev", </second>; rel="next"', "/second"),
        ('</x>; title="a"; rel="last next"', "/x"),
        ('</only-prev>; rel="prev"', None),
        ("", None),
        (None, None),
        ("garbage", None),
    ],
)
def test_parse_link_next(header: str | None, url: str | None) -> None:
    assert parse_link_next(header) == url


def test_link_round_trip() -> None:
    url = "http://127.0.0.1:1234/api/spaces?cursor=xyz"
    assert parse_link_next(encode.link_next(url)) == url


# --------------------------------------------------------------------------- SSE


def test_sse_basic_events_and_keep_alives() -> None:
    parser = SSEParser()
    events = parser.feed(
        b'data: {"data": "one"}\n\ndata:\n\n: comment\n\nevent: x\nid: 7\ndata: a\ndata: b\n\n'
    )
    assert events == [
        SSEEvent('{"data": "one"}'),
        SSEEvent(""),
        SSEEvent("a\nb", event="x", id="7"),
    ]
    assert not parser.pending


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_sse_line_endings(newline: bytes) -> None:
    stream = newline.join([b"data: one", b"", b"data: two", b"", b""])
    assert [e.data for e in SSEParser().feed(stream)] == ["one", "two"]


def test_sse_split_between_cr_and_lf() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: one\r") == []
    # the '\n' completes the '\r\n' of the previous line: it is not an empty line of its own
    assert parser.feed(b"\n") == []
    assert parser.feed(b"\r") == [SSEEvent("one")]  # a '\r' ends its line at once
    assert parser.feed(b"\n") == []
    assert not parser.pending
    assert parser.feed(b"data: two\r\n\r\n") == [SSEEvent("two")]
    # CR-only line endings: the event is complete as soon as its last '\r' arrives
    assert parser.feed(b"data: three\r\r") == [SSEEvent("three")]
    assert not parser.pending
    assert parser.feed(b"\ndata: four\n\n") == [SSEEvent("four")]


def test_sse_split_in_a_multibyte_character() -> None:
    raw = "data: héllo ✓\n\n".encode()
    parser = SSEParser()
    out = []
    for i in range(len(raw)):
        out += parser.feed(raw[i : i + 1])
    assert out == [SSEEvent("héllo ✓")]


def test_sse_cut_mid_event_reports_nothing() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: whole\n\ndata: half") == [SSEEvent("whole")]
    assert parser.pending
    parser2 = SSEParser()
    assert parser2.feed(b"data: line complete but event not\n") == []
    assert parser2.pending


SSE_STREAM = (
    b'data: {"data": "step 1\\n", "timestamp": "2025-01-01T00:00:00.000Z"}\r\n\r\n'
    b"data: \n\n"
    b": ping\r\r"
    b"event: log\rdata: multi\rdata: line\r\r"
    b'data: {"data": "\xc3\xa9t\xc3\xa9"}\n\n'
    b"id: 3\ndata:no-space\n\n"
    b"data: crlf 1\r\ndata: crlf 2\r\n\r\n"
)


def _events(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    out: list[SSEEvent] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    assert not parser.pending
    return out


EXPECTED = _events([SSE_STREAM])


def test_sse_reference_stream() -> None:
    assert [e.data for e in EXPECTED] == [
        '{"data": "step 1\\n", "timestamp": "2025-01-01T00:00:00.000Z"}',
        "",
        "multi\nline",
        '{"data": "été"}',
        "no-space",
        "crlf 1\ncrlf 2",
    ]
    assert EXPECTED[2].event == "log"
    assert EXPECTED[4].id == "3"


@HYPOTHESIS
@given(st.lists(st.integers(min_value=0, max_value=len(SSE_STREAM)), max_size=20))
def test_sse_any_split_yields_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [SSE_STREAM[a:b] for a, b in zip([0, *points], [*points, len(SSE_STREAM)], strict=True)]
    assert _events(chunks) == EXPECTED


@HYPOTHESIS
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\r\n", codec="utf-8"), max_size=20), max_size=6
    ),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.data(),
)
def test_sse_generated_streams_any_split(lines: list[str], newline: bytes, data: st.DataObject) -> None:
    stream = b"".join(b"data: " + line.encode() + newline + newline for line in lines)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    points = sorted(set(cuts))
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    # Only the one space after "data:" is eaten; an empty line is a keep-alive (empty data).
    expected = lines
    assert [e.data for e in _events(chunks)] == expected
    assert [e.data for e in SSEParser().feed(b"data:  x\n\n")] == [" x"]


def test_parse_log_event() -> None:
    line = parse_log_event(SSEEvent('{"data": "hello\\n", "timestamp": "2025-01-01T00:00:01.500Z"}'))
    assert line == LogLine("hello\n", datetime(2025, 1, 1, 0, 0, 1, 500000, tzinfo=timezone.utc))
    assert parse_log_event(SSEEvent("")) is None
    assert parse_log_event(SSEEvent("  ")) is None
    assert parse_log_event(SSEEvent("not json")) == LogLine("not json")
    assert parse_log_event(SSEEvent("[1, 2]")) == LogLine("[1, 2]")
    assert parse_log_event(SSEEvent('{"data": "x", "timestamp": "nope"}')) == LogLine("x")


def test_log_event_round_trip() -> None:
    line = LogLine("built ✓", datetime(2025, 1, 1, 12, 0, 0, 250000, tzinfo=timezone.utc))
    assert line.timestamp is not None
    events = SSEParser().feed(encode.log_event(line.text, line.timestamp) + encode.KEEP_ALIVE)
    assert [parse_log_event(e) for e in events] == [line, None]


def test_a_runtime_read_from_bytes_keeps_them_and_parses_raw_once_on_first_use() -> None:
    # A watched Space keeps its last runtime: the answer's bytes are about a sixth of the
    # parsed dict, so raw stays bytes until it is read.
    body = b'{"stage": "RUNNING", "hardware": {"current": "cpu-basic"}, "someNewKey": [1, {"a": null}]}'
    request = req.get_space_runtime("user/app")
    runtime = structure(json.loads(body), SpaceRuntime, request, 200, {}, body=body)
    assert isinstance(runtime.raw, LazyJSON) and runtime.raw._data is None
    assert runtime.raw == json.loads(body) and dict(runtime.raw)["someNewKey"] == [1, {"a": None}]
    assert runtime.raw._data is not None  # parsed once, then kept
    assert len(runtime.raw) == 3 and list(runtime.raw) == ["stage", "hardware", "someNewKey"]
    assert pickle.loads(pickle.dumps(runtime)) == runtime
    assert pickle.loads(pickle.dumps(runtime)).raw == runtime.raw

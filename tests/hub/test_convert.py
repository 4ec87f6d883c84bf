"""The one converter from the Hub's JSON to the models (``aiospace/_hub/convert.py``): the recorded
answers parse and round-trip, unknown stages, flavors and keys are kept, odd values of the newer
keys never fail a parse, and a runtime read from bytes parses its raw JSON once."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from helpers import SAMPLES, request_for_sample
from hypothesis import given, settings
from hypothesis import strategies as st

from aiospace import SpaceHardware, SpaceInfo, SpaceRuntime, SpaceStage, SpaceStorage, TransportError
from aiospace._hub import requests as req
from aiospace._hub.answers import decode_answer
from aiospace._hub.convert import (
    LazyJSON,
    converter,
    parse_datetime,
    structure,
    structure_secrets,
    structure_variables,
)
from aiospace.emulator import encode
from aiospace.models import (
    SpaceAccelerator,
    SpaceDomain,
    SpaceHardwareInfo,
    SpaceReplicas,
    SpaceSecret,
    SpaceVariable,
)

REPO = "user/tmp_test_space"


def test_samples_are_there() -> None:
    assert len(SAMPLES) == 22


# --------------------------------------------------------------------------- the recorded samples


@pytest.mark.parametrize(("name", "sample"), SAMPLES, ids=[n for n, _ in SAMPLES])
def test_sample_answer_parses_and_round_trips(name: str, sample: dict[str, Any]) -> None:
    request = request_for_sample(sample)
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


# --------------------------------------------------------------------------- the converter


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


def test_the_runtime_fields_keep_the_order_the_poll_path_passes_them_in() -> None:
    # convert._runtime_from builds SpaceRuntime positionally (the poll path's cheapest call):
    # a field moved or added in models.py must be moved there too.
    assert [f.name for f in attrs.fields(SpaceRuntime)] == [
        "stage",
        "hardware",
        "requested_hardware",
        "sleep_time",
        "storage",
        "dev_mode",
        "replicas",
        "error_message",
        "domains",
        "sdk",
        "sdk_version",
        "volumes",
        "hot_reloading",
        "raw",
    ]
    data = {
        "stage": "RUNNING",
        "hardware": {"current": "t4-small", "requested": "a10g-large"},
        "gcTimeout": 3600,
        "storage": "small",
        "devMode": True,
        "replicas": {"requested": 2, "current": 1},
        "errorMessage": "boom",
        "domains": [{"domain": "a-b.hf.space", "stage": "READY"}],
        "sdk": "docker",
        "sdkVersion": "1",
        "volumes": [{"type": "model", "source": "a/b", "mountPath": "/m"}],
        "hotReloading": {"status": "done", "replicaStatuses": [["r1", "ok"]]},
    }
    runtime = converter.structure(data, SpaceRuntime)
    assert runtime.hardware == "t4-small" and runtime.requested_hardware == "a10g-large"
    assert (runtime.sleep_time, runtime.storage, runtime.dev_mode) == (3600, SpaceStorage.SMALL, True)
    assert runtime.replicas == SpaceReplicas(requested=2, current=1)
    assert runtime.error_message == "boom" and runtime.domains == (SpaceDomain("a-b.hf.space", "READY"),)
    assert (runtime.sdk, runtime.sdk_version) == ("docker", "1")
    assert runtime.volumes is not None and runtime.volumes[0].mount_path == "/m"
    assert runtime.hot_reloading is not None and runtime.hot_reloading.replica_statuses == (("r1", "ok"),)
    assert runtime.raw is data


def test_runtimes_share_their_immutable_parts_by_value_within_a_bound() -> None:
    from aiospace._hub import convert

    def read(n: int, stage: Any = "READY") -> SpaceRuntime:
        data = {
            "stage": "RUNNING",
            "replicas": {"requested": n, "current": n},
            "domains": [{"domain": f"s{n}.hf.space", "stage": stage}],
        }
        return converter.structure(data, SpaceRuntime)

    first, again = read(1), read(1)
    assert first.replicas is again.replicas and first.domains is again.domains
    assert read(2).replicas == SpaceReplicas(2, 2) and read(2).domains == (
        SpaceDomain("s2.hf.space", "READY"),
    )
    # A stage of an odd type takes the lenient path (None), never the shared one.
    assert read(3, stage=5).domains == (SpaceDomain("s3.hf.space", None),)
    for n in range(3 * convert._SHARED_MAX):
        assert read(n).replicas == SpaceReplicas(n, n)
    assert len(convert._REPLICAS) <= convert._SHARED_MAX and len(convert._DOMAINS) <= convert._SHARED_MAX

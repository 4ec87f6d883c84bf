"""One request builder per Hub call (``aiospace/_hub/requests.py``): a ``Request`` (method, path,
query, JSON body), its arguments checked first; each recorded request rebuilt exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import SAMPLES, request_for_sample

from aiospace import InvalidArgumentError, SpaceHardware
from aiospace._hub import requests as req
from aiospace._hub import validate as v
from aiospace._hub.routes import ROUTES

REPO = "user/tmp_test_space"


@pytest.mark.parametrize(("name", "sample"), SAMPLES, ids=[n for n, _ in SAMPLES])
def test_sample_request_is_rebuilt_exactly(name: str, sample: dict[str, Any]) -> None:
    request = request_for_sample(sample)
    assert request.method == sample["request"]["method"]
    assert request.path == sample["request"]["path"]
    assert request.params == ()
    expected = sample["request"]["json"]
    if expected is None:
        assert request.body() is None
    else:
        assert request.body() == json.dumps(expected, separators=(",", ":")).encode()


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


@pytest.mark.careless
def test_a_runtime_read_is_built_once_per_space_within_a_bound() -> None:
    from aiospace._hub import requests as built

    first = built.get_space_runtime("user/cached")
    assert built.get_space_runtime("user/cached") is first  # immutable: shared
    assert first.path == "/api/spaces/user/cached/runtime" and first.method == "GET"
    for bad in ("user", "a/b/c", "user/x..y", 5):
        with pytest.raises(InvalidArgumentError):  # refused every time, never remembered
            built.get_space_runtime(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            built.get_space_runtime(bad)  # type: ignore[arg-type]
    for i in range(3 * built._RUNTIME_READS_MAX):
        assert built.get_space_runtime(f"user/s{i}").repo_id == f"user/s{i}"
    assert len(built._RUNTIME_READS) <= built._RUNTIME_READS_MAX

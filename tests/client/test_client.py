"""SpaceClient over real loopback HTTP, against a recording server (see conftest.RecordingHub)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from hostile_hub import HostileHub

from aiospace import (
    AuthenticationError,
    BadAnswerError,
    BadRequestError,
    ConflictError,
    HubHTTPError,
    InvalidArgumentError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    RetryPolicy,
    ScaledClock,
    ServerError,
    SpaceClient,
    SpaceHardware,
    SpaceInfo,
    SpaceNotFoundError,
    SpaceRuntime,
    SpaceStage,
    TransportError,
    __version__,
)
from aiospace._http.endpoint import DEFAULT_ENDPOINT
from aiospace.client import Exchange
from aiospace.models import DuplicatedSpace, RateLimit, SpaceDomain, SpaceReplicas, SpaceSecret, SpaceVariable

if TYPE_CHECKING:
    from conftest import RecordingHub
import math

TOKEN = "hf_TESTtokenDoNotLeak0123456789"
SECRET_VALUE = "s3cr3t-VALUE-do-not-log"
REPO = "user/tmp_test_space"
BASE = f"/api/spaces/{REPO}"
RUNTIME = {
    "stage": "BUILDING",
    "hardware": {"current": None, "requested": "cpu-basic"},
    "storage": None,
    "gcTimeout": 172800,
    "replicas": {"requested": 1},
    "devMode": False,
    "domains": [{"domain": "user-tmp-test-space.hf.space", "stage": "READY"}],
}
DOMAINS = (SpaceDomain("user-tmp-test-space.hf.space", "READY"),)
PARSED_RUNTIME = SpaceRuntime(
    stage=SpaceStage.BUILDING,
    requested_hardware=SpaceHardware.CPU_BASIC,
    sleep_time=172800,
    dev_mode=False,
    replicas=SpaceReplicas(requested=1),
    domains=DOMAINS,
)
VARIABLES = {
    "foo": {"value": "123", "updatedAt": "2025-03-07T12:24:18.657Z"},
    "MODEL_PAPER": {
        "value": "arXiv",
        "description": "found it there",
        "updatedAt": "2025-03-07T12:24:19.337Z",
    },
}


class RecordingClock(ScaledClock):
    """A fast clock (1 Hub second = 1 ms) that remembers every sleep asked of it."""

    def __init__(self) -> None:
        super().__init__(speed=1000)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await super().sleep(seconds)


@pytest.fixture
async def client(hub: RecordingHub) -> AsyncIterator[SpaceClient]:
    async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=RecordingClock(), seed=1) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the connection without answering (a reset after the request was sent)."""
    assert request.transport is not None
    request.transport.abort()
    raise asyncio.CancelledError


# --------------------------------------------------------------------------- every call, exactly

Call = Callable[[SpaceClient], Awaitable[Any]]


async def _collect(it: AsyncIterator[Any]) -> list[Any]:
    return [x async for x in it]


CALLS: list[tuple[str, Call, str, str, list[tuple[str, str]], bytes | None, Any, Any]] = [
    # id, call, method, path, query, body, canned answer, expected result
    (
        "get_space_runtime",
        lambda c: c.get_space_runtime(REPO),
        "GET",
        f"{BASE}/runtime",
        [],
        None,
        RUNTIME,
        PARSED_RUNTIME,
    ),
    (
        "request_space_hardware",
        lambda c: c.request_space_hardware(REPO, "t4-medium", sleep_time=3600),
        "POST",
        f"{BASE}/hardware",
        [],
        b'{"flavor":"t4-medium","sleepTimeSeconds":3600}',
        RUNTIME,
        PARSED_RUNTIME,
    ),
    (
        "request_space_hardware_enum",
        lambda c: c.request_space_hardware(REPO, SpaceHardware.A100_LARGE),
        "POST",
        f"{BASE}/hardware",
        [],
        b'{"flavor":"a100-large"}',
        RUNTIME,
        PARSED_RUNTIME,
    ),
    (
        "set_space_sleep_time",
        lambda c: c.set_space_sleep_time(REPO, -1),
        "POST",
        f"{BASE}/sleeptime",
        [],
        b'{"seconds":-1}',
        RUNTIME,
        PARSED_RUNTIME,
    ),
    (
        "pause_space",
        lambda c: c.pause_space(REPO),
        "POST",
        f"{BASE}/pause",
        [],
        None,
        {**RUNTIME, "stage": "PAUSED"},
        SpaceRuntime(
            SpaceStage.PAUSED,
            None,
            SpaceHardware.CPU_BASIC,
            172800,
            None,
            False,
            SpaceReplicas(1),
            domains=DOMAINS,
        ),
    ),
    (
        "restart_space",
        lambda c: c.restart_space(REPO),
        "POST",
        f"{BASE}/restart",
        [],
        None,
        RUNTIME,
        PARSED_RUNTIME,
    ),
    (
        "restart_space_factory",
        lambda c: c.restart_space(REPO, factory_reboot=True),
        "POST",
        f"{BASE}/restart",
        [("factory", "true")],
        None,
        RUNTIME,
        PARSED_RUNTIME,
    ),
    (
        "enable_space_dev_mode",
        lambda c: c.enable_space_dev_mode(REPO),
        "POST",
        f"{BASE}/dev-mode",
        [],
        b'{"enabled":true}',
        RUNTIME,
        PARSED_RUNTIME,
    ),
    (
        "disable_space_dev_mode",
        lambda c: c.disable_space_dev_mode(REPO),
        "POST",
        f"{BASE}/dev-mode",
        [],
        b'{"enabled":false}',
        RUNTIME,
        PARSED_RUNTIME,
    ),
    (
        "add_space_secret",
        lambda c: c.add_space_secret(REPO, "K", SECRET_VALUE, description="D"),
        "POST",
        f"{BASE}/secrets",
        [],
        b'{"key":"K","value":"' + SECRET_VALUE.encode() + b'","description":"D"}',
        {},
        None,
    ),
    (
        "add_space_secret_no_description",
        lambda c: c.add_space_secret(REPO, "foo", "123"),
        "POST",
        f"{BASE}/secrets",
        [],
        b'{"key":"foo","value":"123"}',
        {},
        None,
    ),
    (
        "delete_space_secret",
        lambda c: c.delete_space_secret(REPO, "missing_key"),
        "DELETE",
        f"{BASE}/secrets",
        [],
        b'{"key":"missing_key"}',
        {},
        None,
    ),
    (
        "get_space_secrets",
        lambda c: c.get_space_secrets(REPO),
        "GET",
        f"{BASE}/secrets",
        [],
        None,
        {"K": {"description": "D"}},
        {"K": SpaceSecret("K", "D")},
    ),
    (
        "get_space_variables",
        lambda c: c.get_space_variables(REPO),
        "GET",
        f"{BASE}/variables",
        [],
        None,
        {},
        {},
    ),
    (
        "add_space_variable",
        lambda c: c.add_space_variable(REPO, "MODEL_PAPER", "arXiv", description="found it there"),
        "POST",
        f"{BASE}/variables",
        [],
        b'{"key":"MODEL_PAPER","value":"arXiv","description":"found it there"}',
        VARIABLES,
        None,  # checked below
    ),
    (
        "delete_space_variable",
        lambda c: c.delete_space_variable(REPO, "gh_api_key"),
        "DELETE",
        f"{BASE}/variables",
        [],
        b'{"key":"gh_api_key"}',
        VARIABLES,
        None,
    ),
    (
        "request_space_storage",
        lambda c: c.request_space_storage(REPO, "medium"),
        "POST",
        f"{BASE}/storage",
        [],
        b'{"tier":"medium"}',
        {**RUNTIME, "storage": "medium"},
        None,
    ),
    (
        "delete_space_storage",
        lambda c: c.delete_space_storage(REPO),
        "DELETE",
        f"{BASE}/storage",
        [],
        None,
        RUNTIME,
        PARSED_RUNTIME,
    ),
    (
        "duplicate_space",
        lambda c: c.duplicate_space(REPO, "me/copy", private=True, hardware="t4-small", sleep_time=600),
        "POST",
        f"{BASE}/duplicate",
        [],
        b'{"repository":"me/copy","visibility":"private","hardware":"t4-small","sleepTimeSeconds":600}',
        {"url": "https://huggingface.co/spaces/me/copy"},
        DuplicatedSpace("me/copy", "https://huggingface.co/spaces/me/copy"),
    ),
    (
        "whoami",
        lambda c: c.whoami(),
        "GET",
        "/api/whoami-v2",
        [],
        None,
        {"name": "me", "type": "user"},
        "me",
    ),
    (
        "list_spaces_hardware",
        lambda c: c.list_spaces_hardware(),
        "GET",
        "/api/spaces/hardware",
        [],
        None,
        [{"name": "cpu-basic", "unitCostUSD": 0, "unitLabel": "hour"}],
        None,
    ),
    (
        "space_info",
        lambda c: c.space_info(REPO, expand=["runtime", "sdk"]),
        "GET",
        BASE,
        [("expand", "runtime"), ("expand", "sdk")],
        None,
        {"id": REPO, "runtime": RUNTIME},
        SpaceInfo(id=REPO, runtime=PARSED_RUNTIME),
    ),
    (
        "list_spaces",
        lambda c: _collect(c.list_spaces(author="user", search="tmp", limit=10, expand=["runtime"])),
        "GET",
        "/api/spaces",
        [("author", "user"), ("search", "tmp"), ("limit", "10"), ("expand", "runtime")],
        None,
        [{"id": REPO}],
        [SpaceInfo(id=REPO)],
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "query", "body", "answer", "expected"),
    [c[1:] for c in CALLS],
    ids=[c[0] for c in CALLS],
)
async def test_every_call_sends_exactly_the_documented_request(
    hub: RecordingHub,
    client: SpaceClient,
    call: Call,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    body: bytes | None,
    answer: Any,
    expected: Any,
) -> None:
    hub.answer(method, path, 200, answer)
    result = await call(client)
    assert len(hub.requests) == 1
    sent = hub.requests[0]
    assert sent.method == method
    assert sent.path == path
    assert list(sent.query) == query
    assert sent.body == (body or b"")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["User-Agent"].startswith(f"aiospace/{__version__}")
    if body is None:
        assert "Content-Type" not in sent.headers
    else:
        assert sent.headers["Content-Type"] == "application/json"
        json.loads(sent.body)
    if expected is not None:
        assert result == expected
    elif isinstance(answer, dict) and answer and "stage" not in answer:
        assert result == {
            "foo": SpaceVariable("foo", "123", None, result["foo"].updated_at),
            "MODEL_PAPER": SpaceVariable(
                "MODEL_PAPER", "arXiv", "found it there", result["MODEL_PAPER"].updated_at
            ),
        }
    elif path.endswith("/storage"):
        assert result.storage == "medium"
    elif path == "/api/spaces/hardware":
        assert result[0].name is SpaceHardware.CPU_BASIC and result[0].cost_per_hour_usd == 0
    else:
        assert result is None  # secrets calls answer nothing


async def test_no_authorization_without_token(hub: RecordingHub) -> None:
    hub.answer("GET", f"{BASE}/runtime", 200, RUNTIME)
    async with SpaceClient(endpoint=hub.url, token=False) as client:
        assert not client.has_token
        assert await client.get_space_runtime(REPO) == PARSED_RUNTIME
    assert "Authorization" not in hub.requests[0].headers
    assert hub.requests[0].headers["User-Agent"].startswith("aiospace/")


async def test_custom_user_agent(hub: RecordingHub) -> None:
    hub.answer("GET", "/api/whoami-v2", 200, {"name": "me"})
    async with SpaceClient(endpoint=hub.url, token=TOKEN, user_agent="my-tool/2") as client:
        await client.whoami()
    assert hub.requests[0].headers["User-Agent"] == "my-tool/2"


async def test_endpoint_with_trailing_slash(hub: RecordingHub) -> None:
    hub.answer("GET", "/api/whoami-v2", 200, {"name": "me"})
    async with SpaceClient(endpoint=hub.url + "/", token=TOKEN) as client:
        assert client.endpoint == hub.url
        assert await client.whoami() == "me"
    assert hub.requests[0].path == "/api/whoami-v2"


async def test_duplicate_space_full_body(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("POST", f"{BASE}/duplicate", 200, {"url": "https://huggingface.co/spaces/me/copy"})
    secrets = iter([{"key": "S", "value": SECRET_VALUE, "description": "d"}])  # any iterable
    await client.duplicate_space(
        REPO,
        "me/copy",
        private=False,
        storage="small",
        secrets=secrets,
        variables=[{"key": "V", "value": "v"}],
    )
    assert json.loads(hub.requests[0].body) == {
        "repository": "me/copy",
        "visibility": "public",
        "storageTier": "small",
        "secrets": [{"key": "S", "value": SECRET_VALUE, "description": "d"}],
        "variables": [{"key": "V", "value": "v"}],
    }


async def test_duplicate_space_default_target_asks_whoami(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("GET", "/api/whoami-v2", 200, {"name": "me"})
    hub.answer("POST", f"{BASE}/duplicate", 200, {"url": "https://huggingface.co/spaces/me/tmp_test_space"})
    done = await client.duplicate_space(REPO, secrets=iter([{"key": "S", "value": "v"}]))
    assert done == DuplicatedSpace("me/tmp_test_space", "https://huggingface.co/spaces/me/tmp_test_space")
    assert [r.path for r in hub.requests] == ["/api/whoami-v2", f"{BASE}/duplicate"]
    body = json.loads(hub.requests[1].body)
    assert body["repository"] == "me/tmp_test_space"
    assert body["secrets"] == [{"key": "S", "value": "v"}]  # a one-shot iterator is not lost


async def test_duplicate_space_exist_ok_on_409(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer(
        "POST",
        f"{BASE}/duplicate",
        409,
        {"error": "You already created this space repo"},
        headers={"X-Request-Id": "req-409"},
    )
    done = await client.duplicate_space(REPO, "me/copy", exist_ok=True)
    assert done == DuplicatedSpace("me/copy", f"{hub.url}/spaces/me/copy", existed=True)
    with pytest.raises(ConflictError) as info:
        await client.duplicate_space(REPO, "me/copy")
    assert info.value.status == 409
    assert info.value.request_id == "req-409"
    assert info.value.message == "You already created this space repo"
    assert len(hub.requests) == 2  # a 409 on a write is never retried


async def test_whoami_without_name(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("GET", "/api/whoami-v2", 200, {"type": "user"})
    with pytest.raises(TransportError, match="no name"):
        await client.whoami()


async def test_unexpected_answer_shapes(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("GET", f"{BASE}/runtime", 200, {"hardware": {}})
    hub.answer("GET", f"{BASE}/variables", 200, ["not", "a", "mapping"])
    hub.answer("GET", f"{BASE}/secrets", 200, body=b'{"cut": ')
    with pytest.raises(TransportError, match="unexpected answer shape"):
        await client.get_space_runtime(REPO)
    with pytest.raises(TransportError, match="expected a JSON object"):
        await client.get_space_variables(REPO)
    with pytest.raises(BadAnswerError, match="not JSON") as info:
        await client.get_space_secrets(REPO)
    assert info.value.reason == "not-json" and info.value.status == 200


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (400, BadRequestError, None),
        (401, AuthenticationError, None),
        (403, PermissionDeniedError, None),
        (404, SpaceNotFoundError, "RepoNotFound"),
        (409, ConflictError, None),
        (429, RateLimitedError, None),
        (500, ServerError, None),
        (502, ServerError, None),
        (503, ServerError, None),
        (504, ServerError, None),
    ],
)
async def test_error_statuses_map_to_exceptions(
    hub: RecordingHub, status: int, cls: type[HubHTTPError], code: str | None
) -> None:
    headers = {"X-Request-Id": f"Root=1-{status}"}
    if code:
        headers["X-Error-Code"] = code
    if status == 429:
        headers["Retry-After"] = "3"
    hub.answer("POST", f"{BASE}/pause", status, {"error": f"Hub says {status}"}, headers=headers)
    no_retry = RetryPolicy(read_attempts=1, write_attempts=1)
    async with SpaceClient(endpoint=hub.url, token=TOKEN, retry=no_retry) as client:
        with pytest.raises(cls) as info:
            await client.pause_space(REPO)
    error = info.value
    assert type(error) is cls
    assert error.status == status
    assert error.error_code == code
    assert error.message == f"Hub says {status}"
    assert error.request_id == f"Root=1-{status}"
    assert error.repo_id == REPO
    assert (error.method, error.path) == ("POST", f"{BASE}/pause")
    assert f"Hub says {status}" in str(error) and REPO in str(error)
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    if status == 429:
        assert isinstance(error, RateLimitedError) and error.retry_after == 3.0
    assert len(hub.requests) == 1


async def test_missing_space_is_404_repo_not_found(hub: RecordingHub, client: SpaceClient) -> None:
    # the recording server answers 404 RepoNotFound for anything not routed
    with pytest.raises(SpaceNotFoundError) as info:
        await client.get_space_runtime("user/nope")
    assert info.value.error_code == "RepoNotFound"
    assert info.value.repo_id == "user/nope"
    assert info.value.message == "Repository not found"


async def test_invalid_credentials_message_from_header(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer(
        "GET",
        f"{BASE}/runtime",
        401,
        {"error": "Invalid username or password."},
        headers={"X-Error-Message": "Invalid credentials in Authorization header"},
    )
    with pytest.raises(AuthenticationError) as info:
        await client.get_space_runtime(REPO)
    assert info.value.message == "Invalid credentials in Authorization header"
    assert len(hub.requests) == 1  # a 401 is not retried


async def test_connection_refused_is_transport_error() -> None:
    port = free_port()
    policy = RetryPolicy(read_attempts=3, write_attempts=2)
    async with SpaceClient(
        endpoint=f"http://127.0.0.1:{port}", token=TOKEN, retry=policy, clock=RecordingClock()
    ) as client:
        with pytest.raises(TransportError) as info:
            await client.get_space_runtime(REPO)
        assert not isinstance(info.value, RequestTimeoutError)
        assert info.value.sent is False
        assert info.value.repo_id == REPO
        assert TOKEN not in str(info.value)
        assert client.stats.retries == 2  # a read: every attempt used
        # a write on a refused connection is retried too: the Hub cannot have acted
        with pytest.raises(TransportError):
            await client.restart_space(REPO)
        assert client.stats.retries == 3
        assert client.stats.by_route["restart_space"] == 2


async def test_timeout_is_request_timeout_error(hub: RecordingHub) -> None:
    async def stall(_: web.Request) -> web.StreamResponse:
        await hub.release.wait()
        return web.json_response(RUNTIME)

    hub.answer("GET", f"{BASE}/runtime", handler=stall)
    policy = RetryPolicy(read_attempts=2)
    async with SpaceClient(
        endpoint=hub.url, token=TOKEN, timeout=0.2, retry=policy, clock=RecordingClock()
    ) as client:
        with pytest.raises(RequestTimeoutError) as info:
            await client.get_space_runtime(REPO)
        assert client.stats.by_route["get_space_runtime"] == 2  # a read is retried after a timeout
        assert client.stats.retries == 1
    assert isinstance(info.value, TransportError) and isinstance(info.value, TimeoutError)
    assert info.value.repo_id == REPO
    assert 1 <= len(hub.requests) <= 2


# --------------------------------------------------------------------------- retries


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_reads_retry_on_transient_statuses(hub: RecordingHub, client: SpaceClient, status: int) -> None:
    hub.answer("GET", f"{BASE}/runtime", status, {"error": "try again"}, times=2)
    hub.answer("GET", f"{BASE}/runtime", 200, RUNTIME)
    assert await client.get_space_runtime(REPO) == PARSED_RUNTIME
    assert len(hub.requests) == 3
    assert client.stats.retries == 2
    assert client.stats.rate_limited == (2 if status == 429 else 0)


async def test_reads_honour_retry_after(hub: RecordingHub) -> None:
    clock = RecordingClock()
    hub.answer("GET", f"{BASE}/runtime", 429, {"error": "slow down"}, headers={"Retry-After": "2"})
    hub.answer("GET", f"{BASE}/runtime", 503, {"error": "busy"}, headers={"Retry-After": "5"})
    hub.answer("GET", f"{BASE}/runtime", 200, RUNTIME)
    async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=clock) as client:
        assert await client.get_space_runtime(REPO) == PARSED_RUNTIME
    assert clock.slept == [2.0, 5.0]


async def test_retry_after_too_long_is_not_waited(hub: RecordingHub) -> None:
    clock = RecordingClock()
    hub.answer("GET", f"{BASE}/runtime", 429, {"error": "later"}, headers={"Retry-After": "3600"})
    policy = RetryPolicy(max_retry_after=60)
    async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=clock, retry=policy) as client:
        with pytest.raises(RateLimitedError) as info:
            await client.get_space_runtime(REPO)
    assert info.value.retry_after == 3600
    assert clock.slept == []
    assert len(hub.requests) == 1


async def test_reads_stop_after_read_attempts(hub: RecordingHub) -> None:
    clock = RecordingClock()
    hub.answer("GET", f"{BASE}/runtime", 500, {"error": "down"})
    policy = RetryPolicy(read_attempts=4, base_delay=1.0, max_delay=3.0)
    async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=clock, retry=policy, seed=7) as client:
        with pytest.raises(ServerError) as info:
            await client.get_space_runtime(REPO)
        assert client.stats.retries == 3
        assert client.stats.errors == 4
    assert info.value.status == 500
    assert len(hub.requests) == 4
    # exponential backoff with full jitter, capped
    assert len(clock.slept) == 3
    for attempt, delay in enumerate(clock.slept):
        assert 0 <= delay <= min(3.0, 1.0 * 2**attempt)


async def test_reads_retry_on_a_dropped_connection(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("GET", f"{BASE}/runtime", handler=drop_connection)
    hub.answer("GET", f"{BASE}/runtime", 200, RUNTIME)
    assert await client.get_space_runtime(REPO) == PARSED_RUNTIME
    assert len(hub.requests) == 2


async def test_writes_not_retried_on_500(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("POST", f"{BASE}/restart", 500, {"error": "oops"})
    with pytest.raises(ServerError):
        await client.restart_space(REPO)
    assert len(hub.requests) == 1
    assert client.stats.retries == 0


async def test_writes_not_retried_on_503_without_retry_after(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("POST", f"{BASE}/hardware", 503, {"error": "unavailable"})
    with pytest.raises(ServerError) as info:
        await client.request_space_hardware(REPO, "t4-small")
    assert info.value.retry_after is None
    assert len(hub.requests) == 1


async def test_writes_not_retried_on_a_reset_connection(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("POST", f"{BASE}/pause", handler=drop_connection)
    hub.answer("POST", f"{BASE}/pause", 200, RUNTIME)
    with pytest.raises(TransportError) as info:
        await client.pause_space(REPO)
    assert info.value.sent is True
    assert len(hub.requests) == 1


@pytest.mark.parametrize(("status", "retry_after"), [(429, "1"), (429, None), (503, "1")])
async def test_writes_retried_on_429_and_503_with_retry_after(
    hub: RecordingHub, status: int, retry_after: str | None
) -> None:
    clock = RecordingClock()
    headers = {"Retry-After": retry_after} if retry_after else {}
    hub.answer("POST", f"{BASE}/secrets", status, {"error": "later"}, headers=headers)
    hub.answer("POST", f"{BASE}/secrets", 200, {})
    async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=clock) as client:
        await client.add_space_secret(REPO, "K", SECRET_VALUE)
    assert len(hub.requests) == 2
    assert hub.requests[0].body == hub.requests[1].body
    if retry_after:
        assert clock.slept == [1.0]


async def test_writes_stop_after_write_attempts(hub: RecordingHub) -> None:
    hub.answer("POST", f"{BASE}/pause", 429, {"error": "later"}, headers={"Retry-After": "1"})
    policy = RetryPolicy(write_attempts=3)
    async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=RecordingClock(), retry=policy) as client:
        with pytest.raises(RateLimitedError):
            await client.pause_space(REPO)
    assert len(hub.requests) == 3


# --------------------------------------------------------------------------- rate limit


async def test_rate_limit_follows_latest_headers(hub: RecordingHub, client: SpaceClient) -> None:
    policy = '"fixed window";"api";q=1000;w=300'
    hub.answer(
        "GET",
        f"{BASE}/runtime",
        200,
        RUNTIME,
        headers={"RateLimit": '"api";r=999;t=300', "RateLimit-Policy": policy},
    )
    hub.answer(
        "GET",
        f"{BASE}/runtime",
        200,
        RUNTIME,
        headers={"RateLimit": '"api";r=998;t=299', "RateLimit-Policy": policy},
    )
    hub.answer("GET", f"{BASE}/runtime", 200, RUNTIME)
    heard: list[Exchange] = []
    unsubscribe = client.subscribe(heard.append)
    assert client.rate_limit is None
    await client.get_space_runtime(REPO)
    assert client.rate_limit == RateLimit(remaining=999, reset=300.0, quota=1000, window=300.0)
    await client.get_space_runtime(REPO)
    assert client.rate_limit == RateLimit(remaining=998, reset=299.0, quota=1000, window=300.0)
    assert client.rate_limit.used_fraction == pytest.approx(0.002)
    await client.get_space_runtime(REPO)  # no headers: the last known value stays
    assert client.rate_limit.remaining == 998
    assert [e.status for e in heard] == [200, 200, 200]
    assert heard[0].rate_limit is not None and heard[0].rate_limit.remaining == 999
    assert heard[2].rate_limit is None
    unsubscribe()
    await client.get_space_runtime(REPO)
    assert len(heard) == 3


async def test_rate_limit_from_a_429(hub: RecordingHub) -> None:
    hub.answer(
        "GET",
        f"{BASE}/runtime",
        429,
        {"error": "rate limited"},
        headers={
            "RateLimit": '"api";r=0;t=42',
            "RateLimit-Policy": '"fixed window";"api";q=500;w=300',
            "Retry-After": "42",
        },
    )
    policy = RetryPolicy(read_attempts=1)
    async with SpaceClient(endpoint=hub.url, token=False, retry=policy) as client:
        heard: list[Exchange] = []
        client.subscribe(heard.append)
        with pytest.raises(RateLimitedError) as info:
            await client.get_space_runtime(REPO)
        assert client.rate_limit == RateLimit(remaining=0, reset=42.0, quota=500, window=300.0)
        assert client.rate_limit.used_fraction == 1.0
        assert client.stats.rate_limited == 1
    assert info.value.retry_after == 42.0
    assert heard[0].retry_after == 42.0 and heard[0].status == 429


# --------------------------------------------------------------------------- token and endpoint


async def test_token_from_argument_beats_env(hub: RecordingHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    hub.answer("GET", "/api/whoami-v2", 200, {"name": "me"})
    async with SpaceClient(endpoint=hub.url, token="hf_from_arg") as client:
        await client.whoami()
    assert hub.requests[0].headers["Authorization"] == "Bearer hf_from_arg"


async def test_token_from_hf_token_env(
    hub: RecordingHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "hf_home"
    home.mkdir()
    (home / "token").write_text("hf_from_file\n")
    monkeypatch.setenv("HF_TOKEN", "  hf_from_env  ")
    hub.answer("GET", "/api/whoami-v2", 200, {"name": "me"})
    async with SpaceClient(endpoint=hub.url) as client:
        assert client.has_token
        await client.whoami()
    assert hub.requests[0].headers["Authorization"] == "Bearer hf_from_env"


async def test_token_from_hf_home_file(hub: RecordingHub, tmp_path: Path) -> None:
    home = tmp_path / "hf_home"
    home.mkdir()
    (home / "token").write_text("hf_from_file\n")
    hub.answer("GET", "/api/whoami-v2", 200, {"name": "me"})
    async with SpaceClient(endpoint=hub.url) as client:
        await client.whoami()
    assert hub.requests[0].headers["Authorization"] == "Bearer hf_from_file"


async def test_token_false_sends_none(
    hub: RecordingHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "hf_home"
    home.mkdir()
    (home / "token").write_text("hf_from_file\n")
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    hub.answer("GET", "/api/whoami-v2", 200, {"name": "me"})
    async with SpaceClient(endpoint=hub.url, token=False) as client:
        assert not client.has_token
        await client.whoami()
    assert "Authorization" not in hub.requests[0].headers


def test_no_token_anywhere() -> None:
    client = SpaceClient(endpoint="https://hub.example")
    assert not client.has_token
    assert SpaceClient(endpoint="https://hub.example", token="   ").has_token is False
    with pytest.raises(InvalidArgumentError) as info:
        SpaceClient(token=123)  # type: ignore[arg-type]
    assert info.value.argument == "token"


def test_endpoint_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SpaceClient().endpoint == DEFAULT_ENDPOINT == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example/")
    assert SpaceClient().endpoint == "https://hub.example"
    assert SpaceClient(endpoint="https://mirror.example").endpoint == "https://mirror.example"
    for bad in ("ftp://hub.example", "hub.example", "https://"):
        with pytest.raises(InvalidArgumentError) as info:
            SpaceClient(endpoint=bad)
        assert info.value.argument == "endpoint"
    with pytest.raises(InvalidArgumentError) as info:
        SpaceClient(timeout=0)
    assert info.value.argument == "timeout"


def test_token_not_sent_over_plain_http_to_other_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        SpaceClient(endpoint="http://hub.example", token=TOKEN)
    assert info.value.argument == "endpoint"
    assert TOKEN not in str(info.value)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(InvalidArgumentError):
        SpaceClient(endpoint="http://10.0.0.1:8080")
    # allowed: opted in, no token, https, or loopback
    assert SpaceClient(endpoint="http://hub.example", allow_insecure_http=True).has_token
    assert not SpaceClient(endpoint="http://hub.example", token=False).has_token
    for ok in ("https://hub.example", "http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"):
        assert SpaceClient(endpoint=ok).has_token


async def test_token_never_leaks(hub: RecordingHub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hub.answer("POST", f"{BASE}/secrets", 429, {"error": "later"}, headers={"Retry-After": "0"})
    hub.answer("POST", f"{BASE}/secrets", 500, {"error": "boom"})
    hub.answer("GET", f"{BASE}/runtime", 500, {"error": "down"})
    policy = RetryPolicy(read_attempts=2)
    client = SpaceClient(endpoint=hub.url, token=TOKEN, clock=RecordingClock(), retry=policy)
    assert TOKEN not in repr(client) and "token=<set>" in repr(client)
    async with client:
        with pytest.raises(ServerError) as write_error:
            await client.add_space_secret(REPO, "K", SECRET_VALUE)
        with pytest.raises(ServerError) as read_error:
            await client.get_space_runtime(REPO)
        assert client.stats.retries == 2
        assert TOKEN not in repr(client)
    assert "retrying" in caplog.text  # the retries were logged...
    for text in (caplog.text, str(write_error.value), str(read_error.value), repr(write_error.value)):
        assert TOKEN not in text  # ... without the token
        assert SECRET_VALUE not in text  # ... or the secret value
    assert hub.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"  # it was sent, though


# --------------------------------------------------------------------------- redirects


async def test_authorization_dropped_on_cross_origin_redirect(
    hub: RecordingHub, other_hub: RecordingHub, client: SpaceClient
) -> None:
    elsewhere = other_hub.url_as("localhost") + f"{BASE}/runtime"
    hub.answer("GET", f"{BASE}/runtime", 307, {}, headers={"Location": elsewhere})
    other_hub.answer("GET", f"{BASE}/runtime", 200, RUNTIME)
    assert await client.get_space_runtime(REPO) == PARSED_RUNTIME
    assert hub.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert len(other_hub.requests) == 1
    assert other_hub.requests[0].host.startswith("localhost:")
    assert "Authorization" not in other_hub.requests[0].headers
    assert other_hub.requests[0].headers["User-Agent"].startswith("aiospace/")


async def test_authorization_dropped_for_same_socket_under_another_name(
    hub: RecordingHub, client: SpaceClient
) -> None:
    # same port, but "localhost" is another origin than "127.0.0.1"
    hub.answer("GET", f"{BASE}/runtime", 302, {}, headers={"Location": hub.url_as("localhost") + "/moved"})
    hub.answer("GET", "/moved", 200, RUNTIME)
    assert await client.get_space_runtime(REPO) == PARSED_RUNTIME
    assert "Authorization" in hub.requests[0].headers
    assert "Authorization" not in hub.requests[1].headers


async def test_authorization_kept_on_same_origin_redirect(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("POST", f"{BASE}/hardware", 307, {}, headers={"Location": "/api/spaces/user/renamed/hardware"})
    hub.answer("POST", "/api/spaces/user/renamed/hardware", 200, RUNTIME)
    await client.request_space_hardware(REPO, "t4-small")
    assert [r.path for r in hub.requests] == [f"{BASE}/hardware", "/api/spaces/user/renamed/hardware"]
    for sent in hub.requests:
        assert sent.method == "POST"
        assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
        assert sent.body == b'{"flavor":"t4-small"}'


async def test_303_redirect_becomes_get(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("POST", f"{BASE}/restart", 303, {}, headers={"Location": f"{BASE}/runtime"})
    hub.answer("GET", f"{BASE}/runtime", 200, RUNTIME)
    assert await client.restart_space(REPO) == PARSED_RUNTIME
    assert [(r.method, r.body) for r in hub.requests] == [("POST", b""), ("GET", b"")]


async def test_too_many_redirects_is_a_bad_answer_not_retried(hub: RecordingHub) -> None:
    for hop in range(6):
        hub.answer("GET", f"{BASE}/hop{hop}", 302, {}, headers={"Location": f"{BASE}/hop{hop + 1}"})
    hub.answer("GET", f"{BASE}/runtime", 302, {}, headers={"Location": f"{BASE}/hop0"})
    async with SpaceClient(endpoint=hub.url, token=TOKEN, max_redirects=3) as client:
        with pytest.raises(BadAnswerError, match="more than 3 redirects") as info:
            await client.get_space_runtime(REPO)
        assert info.value.reason == "redirect"
        assert client.stats.retries == 0  # a read, yet not retried: it would loop the same way
    assert len(hub.requests) == 4


# --------------------------------------------------------------------------- validation before I/O

BAD_REPO_IDS = ["", "noslash", "a/b/c", "user/..", "user/my space", "user/espacé", "user/" + "x" * 97]
BAD_REPO_IDS += ["user/space?x=1", "user/space#x", "user%2Fspace"]


@pytest.mark.parametrize("repo_id", BAD_REPO_IDS)
async def test_bad_repo_id_refused_before_io(hub: RecordingHub, client: SpaceClient, repo_id: str) -> None:
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: client.get_space_runtime(repo_id),
        lambda: client.pause_space(repo_id),
        lambda: client.restart_space(repo_id),
        lambda: client.get_space_variables(repo_id),
        lambda: client.delete_space_storage(repo_id),
        lambda: client.space_info(repo_id),
        lambda: client.duplicate_space(repo_id),
        lambda: _collect(client.fetch_space_logs(repo_id)),
    ]
    for call in calls:
        with pytest.raises(InvalidArgumentError) as info:
            await call()
        assert info.value.argument in ("repo_id", "from_id")
    assert hub.requests == []


BAD_CALLS: list[tuple[str, Callable[[SpaceClient], Awaitable[Any]], str]] = [
    ("flavor", lambda c: c.request_space_hardware(REPO, "T4 MEDIUM"), "hardware"),
    ("flavor-type", lambda c: c.request_space_hardware(REPO, 4), "hardware"),  # type: ignore[arg-type]
    ("hw-sleep", lambda c: c.request_space_hardware(REPO, "t4-small", sleep_time=1.5), "sleep_time"),  # type: ignore[arg-type]
    ("sleep-neg", lambda c: c.set_space_sleep_time(REPO, -2), "sleep_time"),
    ("sleep-float", lambda c: c.set_space_sleep_time(REPO, 1.5), "sleep_time"),  # type: ignore[arg-type]
    ("sleep-bool", lambda c: c.set_space_sleep_time(REPO, True), "sleep_time"),
    ("sleep-str", lambda c: c.set_space_sleep_time(REPO, "10"), "sleep_time"),  # type: ignore[arg-type]
    ("tier", lambda c: c.request_space_storage(REPO, "gigantic!"), "storage"),
    ("tier-case", lambda c: c.request_space_storage(REPO, "SMALL"), "storage"),
    ("secret-key", lambda c: c.add_space_secret(REPO, "1KEY", "v"), "key"),
    ("secret-key-dash", lambda c: c.add_space_secret(REPO, "MY-KEY", "v"), "key"),
    ("secret-value", lambda c: c.add_space_secret(REPO, "K", "v" * (64 * 1024 + 1)), "value"),
    ("secret-desc", lambda c: c.add_space_secret(REPO, "K", "v", description="d" * 1025), "description"),
    ("del-secret-key", lambda c: c.delete_space_secret(REPO, "a b"), "key"),
    ("variable-key", lambda c: c.add_space_variable(REPO, "", "v"), "key"),
    ("variable-value", lambda c: c.add_space_variable(REPO, "K", 5), "value"),  # type: ignore[arg-type]
    ("del-variable-key", lambda c: c.delete_space_variable(REPO, "K=V"), "key"),
    ("dup-to", lambda c: c.duplicate_space(REPO, "a/b/c"), "to_id"),
    ("dup-from", lambda c: c.duplicate_space("bad", "me/x"), "from_id"),
    ("dup-hw", lambda c: c.duplicate_space(REPO, "me/x", hardware="BAD"), "hardware"),
    ("dup-hw-no-target", lambda c: c.duplicate_space(REPO, hardware="BAD"), "hardware"),
    ("dup-sleep-no-target", lambda c: c.duplicate_space(REPO, sleep_time=-5), "sleep_time"),
    ("dup-storage", lambda c: c.duplicate_space(REPO, "me/x", storage="x!"), "storage"),
    ("dup-secret", lambda c: c.duplicate_space(REPO, "me/x", secrets=[{"key": "K"}]), "secrets"),
    (
        "dup-secret-no-target",
        lambda c: c.duplicate_space(REPO, secrets=[{"key": "K", "value": "v" * 70000}]),
        "secrets.value",
    ),
    (
        "dup-var",
        lambda c: c.duplicate_space(REPO, "me/x", variables=[{"key": "-", "value": ""}]),
        "variables.key",
    ),
    ("list-author", lambda c: _collect(c.list_spaces(author="a/b")), "author"),
    ("list-limit", lambda c: _collect(c.list_spaces(limit=0)), "limit"),
    ("list-limit-str", lambda c: _collect(c.list_spaces(limit="5")), "limit"),  # type: ignore[arg-type]
    # Careless flags: "no" is a true str (a factory reboot, a log followed for ever...).
    ("factory-str", lambda c: c.restart_space(REPO, factory_reboot="no"), "factory_reboot"),  # type: ignore[arg-type]
    ("logs-build-str", lambda c: _collect(c.fetch_space_logs(REPO, build="no")), "build"),  # type: ignore[arg-type]
    ("logs-follow-str", lambda c: _collect(c.fetch_space_logs(REPO, follow="no")), "follow"),  # type: ignore[arg-type]
    ("logs-reconnects", lambda c: _collect(c.fetch_space_logs(REPO, max_reconnects=-1)), "max_reconnects"),
    ("dup-exist-ok-str", lambda c: c.duplicate_space(REPO, "me/x", exist_ok="no"), "exist_ok"),  # type: ignore[arg-type]
    ("create-exist-ok-int", lambda c: c.create_space("me/x", sdk="gradio", exist_ok=0), "exist_ok"),  # type: ignore[arg-type]
    ("delete-missing-ok-str", lambda c: c.delete_space(REPO, missing_ok="no"), "missing_ok"),  # type: ignore[arg-type]
    ("runtime-retry-str", lambda c: c.get_space_runtime(REPO, retry="no"), "retry"),  # type: ignore[arg-type]
    ("info-expand-int", lambda c: c.space_info(REPO, expand=[5]), "expand"),  # type: ignore[list-item]
    ("info-expand-query", lambda c: c.space_info(REPO, expand=["runtime&x=1"]), "expand"),
    ("list-expand-number", lambda c: _collect(c.list_spaces(expand=5)), "expand"),  # type: ignore[arg-type]
    ("info-expand-endless", lambda c: c.space_info(REPO, expand=itertools.repeat("runtime")), "expand"),
]


async def test_expand_takes_one_name_as_a_str_as_hfapi_does(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("GET", f"/api/spaces/{REPO}", 200, {"id": REPO, "runtime": {"stage": "RUNNING"}})
    info = await client.space_info(REPO, expand="runtime")
    assert info.runtime is not None and info.runtime.stage == "RUNNING"
    assert hub.requests[-1].query == (("expand", "runtime"),)


@pytest.mark.parametrize(("call", "argument"), [b[1:] for b in BAD_CALLS], ids=[b[0] for b in BAD_CALLS])
async def test_bad_arguments_refused_before_io(
    hub: RecordingHub, client: SpaceClient, call: Callable[[SpaceClient], Awaitable[Any]], argument: str
) -> None:
    hub.answer("GET", "/api/whoami-v2", 200, {"name": "me"})
    with pytest.raises(ValueError) as info:
        await call(client)
    assert isinstance(info.value, InvalidArgumentError)
    assert info.value.argument == argument
    assert argument in str(info.value)
    assert "v" * 100 not in str(info.value)  # an oversized value is never echoed
    assert hub.requests == []
    assert client.stats.requests == 0


# --------------------------------------------------------------------------- pagination


async def test_list_spaces_follows_link_pages(
    hub: RecordingHub, other_hub: RecordingHub, client: SpaceClient
) -> None:
    page = [{"id": f"user/s{i}", "author": "user", "runtime": RUNTIME} for i in range(6)]
    hub.answer(
        "GET",
        "/api/spaces",
        200,
        page[0:2],
        headers={"Link": f'<{hub.url}/api/spaces?author=user&cursor=p2>; rel="next"'},
    )
    hub.answer(
        "GET",
        "/api/spaces",
        200,
        page[2:4],
        headers={"Link": '</api/spaces?cursor=p3&expand=runtime>; rel="next"'},
    )
    hub.answer("GET", "/api/spaces", 200, page[4:6], headers={"Link": '</api/spaces?cursor=p1>; rel="prev"'})
    spaces = [s async for s in client.list_spaces(author="user", expand=["runtime"])]
    assert [s.id for s in spaces] == [f"user/s{i}" for i in range(6)]
    assert all(s.runtime == PARSED_RUNTIME for s in spaces)
    assert [list(r.query) for r in hub.requests] == [
        [("author", "user"), ("expand", "runtime")],
        [("author", "user"), ("cursor", "p2")],
        [("cursor", "p3"), ("expand", "runtime")],
    ]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in hub.requests)


async def test_list_spaces_limit_stops_early(hub: RecordingHub, client: SpaceClient) -> None:
    for n in range(3):
        hub.answer(
            "GET",
            "/api/spaces",
            200,
            [{"id": f"user/p{n}a"}, {"id": f"user/p{n}b"}],
            headers={"Link": f'</api/spaces?cursor={n + 1}>; rel="next"'},
        )
    spaces = [s.id async for s in client.list_spaces(limit=3)]
    assert spaces == ["user/p0a", "user/p0b", "user/p1a"]
    assert len(hub.requests) == 2
    assert list(hub.requests[0].query) == [("limit", "3")]


async def test_list_spaces_next_page_on_another_origin_gets_no_token(
    hub: RecordingHub, other_hub: RecordingHub, client: SpaceClient
) -> None:
    hub.answer(
        "GET",
        "/api/spaces",
        200,
        [{"id": "user/a"}],
        headers={"Link": f'<{other_hub.url_as("localhost")}/api/spaces?cursor=2>; rel="next"'},
    )
    other_hub.answer("GET", "/api/spaces", 200, [{"id": "user/b"}])
    assert [s.id async for s in client.list_spaces()] == ["user/a", "user/b"]
    assert "Authorization" in hub.requests[0].headers
    assert "Authorization" not in other_hub.requests[0].headers


async def test_list_spaces_retries_a_page(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer(
        "GET", "/api/spaces", 200, [{"id": "user/a"}], headers={"Link": '</api/spaces?cursor=2>; rel="next"'}
    )
    hub.answer("GET", "/api/spaces", 502, {"error": "bad gateway"})
    hub.answer("GET", "/api/spaces", 200, [{"id": "user/b"}])
    assert [s.id async for s in client.list_spaces()] == ["user/a", "user/b"]
    assert [list(r.query) for r in hub.requests] == [[], [("cursor", "2")], [("cursor", "2")]]


async def test_list_spaces_not_a_list(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("GET", "/api/spaces", 200, {"error": "?"})
    with pytest.raises(TransportError, match="JSON list"):
        await _collect(client.list_spaces())


async def test_hardware_catalogue_over_http(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer(
        "GET",
        "/api/spaces/hardware",
        200,
        [
            {
                "name": "t4-small",
                "prettyName": "Nvidia T4 - small",
                "cpu": "4 vCPU",
                "ram": "15 GB",
                "accelerator": {
                    "type": "gpu",
                    "model": "T4",
                    "quantity": "1",
                    "vram": "16 GB",
                    "manufacturer": "Nvidia",
                },
                "unitCostMicroUSD": 6667,
                "unitCostUSD": 0.006667,
                "unitLabel": "minute",
            },
            {
                "name": "cpu-basic",
                "prettyName": "CPU basic",
                "accelerator": None,
                "unitCostUSD": 0,
                "unitLabel": "hour",
            },
        ],
    )
    catalogue = await client.list_spaces_hardware()
    assert [h.name for h in catalogue] == [SpaceHardware.T4_SMALL, SpaceHardware.CPU_BASIC]
    assert catalogue[0].accelerator is not None and catalogue[0].accelerator.model == "T4"
    assert catalogue[0].unit_cost_micro_usd == 6667
    assert catalogue[0].cost_per_hour_usd == pytest.approx(0.40002)
    assert catalogue[1].cost_per_hour_usd == 0


# --------------------------------------------------------------------------- logs


def log_event(text: str) -> bytes:
    return b"data: " + json.dumps({"data": text, "timestamp": "2025-01-01T00:00:00.000Z"}).encode() + b"\n\n"


async def test_logs_without_follow_stop_at_first_keep_alive(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer(
        "GET",
        f"{BASE}/logs/run",
        handler=HostileHub.sse(
            log_event("line 1"),
            log_event("line 2") + log_event("line 3")[:10],
            log_event("line 3")[10:],
            b"data: \n\n",
            log_event("after the keep-alive"),
            hold=hub.release,
        ),
    )
    lines = [line async for line in client.fetch_space_logs(REPO)]
    assert lines == ["line 1", "line 2", "line 3"]
    sent = hub.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.method == "GET"


async def test_build_logs_path(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer(
        "GET",
        f"{BASE}/logs/build",
        handler=HostileHub.sse(log_event("Step 1/3"), b"data:\r\n\r\n", hold=hub.release),
    )
    assert [line async for line in client.fetch_space_logs(REPO, build=True)] == ["Step 1/3"]
    assert hub.requests[0].path == f"{BASE}/logs/build"


async def test_logs_without_follow_stop_on_silence(hub: RecordingHub) -> None:
    hub.answer("GET", f"{BASE}/logs/run", handler=HostileHub.sse(log_event("only"), hold=hub.release))
    async with SpaceClient(endpoint=hub.url, token=TOKEN, logs_idle_timeout=0.3) as client:
        assert [line async for line in client.fetch_space_logs(REPO)] == ["only"]


async def test_logs_without_follow_end_of_stream(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("GET", f"{BASE}/logs/run", handler=HostileHub.sse(log_event("a"), log_event("b")))
    assert [line async for line in client.fetch_space_logs(REPO)] == ["a", "b"]
    assert len(hub.requests) == 1


async def test_logs_follow_reconnects_and_skips_seen_lines(hub: RecordingHub, client: SpaceClient) -> None:
    first = HostileHub.sse(
        log_event("l1"), log_event("l2"), b"data: \n\n", b'data: {"data": "partial', cut=True
    )
    second = HostileHub.sse(log_event("l1"), log_event("l2"), b"data: \n\n", log_event("l3"), log_event("l4"))
    hub.answer("GET", f"{BASE}/logs/run", handler=first)
    hub.answer("GET", f"{BASE}/logs/run", handler=second)
    lines = [line async for line in client.fetch_space_logs(REPO, follow=True)]
    assert lines == ["l1", "l2", "l3", "l4"]  # no partial line, no repeats, ends on a clean close
    assert len(hub.requests) == 2
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in hub.requests)


async def test_logs_follow_reconnects_after_a_cut_between_events(
    hub: RecordingHub, client: SpaceClient
) -> None:
    hub.answer("GET", f"{BASE}/logs/run", handler=HostileHub.sse(log_event("l1"), cut=True))
    hub.answer("GET", f"{BASE}/logs/run", handler=HostileHub.sse(log_event("l1"), log_event("l2"), cut=True))
    hub.answer(
        "GET", f"{BASE}/logs/run", handler=HostileHub.sse(log_event("l1"), log_event("l2"), log_event("l3"))
    )
    assert [line async for line in client.fetch_space_logs(REPO, follow=True)] == ["l1", "l2", "l3"]
    assert len(hub.requests) == 3


async def test_logs_follow_gives_up_after_max_reconnects(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("GET", f"{BASE}/logs/run", handler=HostileHub.sse(b"data: {", cut=True))
    with pytest.raises(TransportError):
        await _collect(client.fetch_space_logs(REPO, follow=True, max_reconnects=2))
    assert len(hub.requests) == 3


async def test_logs_without_follow_cut_is_an_error(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("GET", f"{BASE}/logs/run", handler=HostileHub.sse(log_event("l1"), b"data: {", cut=True))
    got: list[str] = []
    with pytest.raises(TransportError):
        async for line in client.fetch_space_logs(REPO):
            got.append(line)
    assert got == ["l1"]
    assert len(hub.requests) == 1


async def test_logs_of_a_missing_space(hub: RecordingHub, client: SpaceClient) -> None:
    with pytest.raises(SpaceNotFoundError) as info:
        await _collect(client.fetch_space_logs("user/nope", follow=True))
    assert info.value.error_code == "RepoNotFound"
    assert len(hub.requests) == 1  # a 404 is not reconnected


async def test_logs_follow_reconnects_after_a_5xx(hub: RecordingHub, client: SpaceClient) -> None:
    hub.answer("GET", f"{BASE}/logs/run", 503, {"error": "busy"})
    hub.answer("GET", f"{BASE}/logs/run", handler=HostileHub.sse(log_event("up")))
    assert [line async for line in client.fetch_space_logs(REPO, follow=True)] == ["up"]
    assert len(hub.requests) == 2


async def test_client_session_lifecycle(hub: RecordingHub) -> None:
    hub.answer("GET", "/api/whoami-v2", 200, {"name": "me"})
    client = SpaceClient(endpoint=hub.url, token=TOKEN)
    assert await client.whoami() == "me"  # a session is made on first use
    await client.aclose()
    await client.aclose()  # idempotent
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with SpaceClient(endpoint=hub.url, token=TOKEN, session=session) as shared:
            assert await shared.whoami() == "me"
        assert not session.closed  # a session passed in is not closed by the client


# --------------------------------------------------------------------------- options that bound nothing


@pytest.mark.careless
@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("max_answer_bytes", 0),
        ("max_answer_bytes", 1.5),
        ("max_log_line_bytes", -1),
        ("logs_read_timeout", math.nan),
        ("logs_read_timeout", math.inf),
        ("logs_idle_timeout", 0),
        ("timeout", math.inf),
        ("max_redirects", -1),
    ],
)
def test_a_limit_that_bounds_nothing_is_refused(argument: str, value: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        SpaceClient(**{argument: value})
    assert info.value.argument == argument

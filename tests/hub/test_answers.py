"""A Hub answer (status, headers, body) to JSON data or one typed error (``aiospace/_hub/answers.py``)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from aiospace import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HubHTTPError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from aiospace._hub import requests as req
from aiospace._hub.answers import decode_answer, error_for
from aiospace.errors import SpaceNotFoundError

REPO = "user/tmp_test_space"


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

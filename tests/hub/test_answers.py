"""A Hub answer (status, headers, body) to JSON data or one typed error (``aiospace/_hub/answers.py``)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from aiospace import (
    AuthenticationError,
    BadAnswerError,
    BadRequestError,
    ConflictError,
    HubHTTPError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from aiospace._hub import requests as req
from aiospace._hub.answers import decode_answer, decode_json, error_for
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


def _full_decode(body: bytes) -> object:
    """The decode every answer took before the fast path: detect the encoding, then decode."""
    return decode_json(body.decode(json.detect_encoding(body)))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(max_size=8), _json_values, max_size=5),
    st.sampled_from(["", " ", "\n", " \t\r\n", "x", "}", "{}", ",1"]),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32-le"]),
    st.booleans(),
)
def test_the_object_fast_path_decodes_as_the_full_decode_does(
    data: dict[str, object], tail: str, encoding: str, ascii_only: bool
) -> None:
    # decode_answer reads a body starting with "{" by the scanner alone; what it returns, or
    # refuses, is what the full decode (encoding detection, whitespace, trailing bytes) says.
    request = req.get_space_runtime(REPO)
    body = (json.dumps(data, ensure_ascii=ascii_only) + tail).encode(encoding)
    try:
        expected: object = _full_decode(body)
    except (ValueError, UnicodeDecodeError):
        with pytest.raises(BadAnswerError) as info:
            decode_answer(request, 200, {}, body)
        assert info.value.reason in {"not-json", "non-finite"}
    else:
        assert decode_answer(request, 200, {}, body) == expected


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": 1e999}', "non-finite"),
        (b'{"a": NaN}', "non-finite"),
        (b'{"a": 1} trailing', "not-json"),
        (b'{"a": "\xff"}', "not-json"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "too-deep"),
        (b'{"a": "\\ud800"}', None),
    ],
)
def test_the_object_fast_path_keeps_every_refusal(body: bytes, reason: str | None) -> None:
    request = req.get_space_runtime(REPO)
    if reason is None:
        assert decode_answer(request, 200, {}, body) == {"a": "\ufffd"}  # a lone surrogate mended
        return
    with pytest.raises(BadAnswerError) as info:
        decode_answer(request, 200, {}, body)
    assert info.value.reason == reason

"""A Hub answer (status, headers, body) to JSON data or one typed error."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import (
    AuthenticationError,
    BadAnswerError,
    BadRequestError,
    ConflictError,
    HubHTTPError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SpaceNotFoundError,
)
from .headers import parse_retry_after
from .redact import NOTHING, Redactor
from .requests import Request

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


def _header(headers: Mapping[str, str], name: str, redact: Redactor) -> str | None:
    value = headers.get(name)
    return None if not value else redact.scrub(_mend_text(value), MAX_HEADER_VALUE)


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
    redact: Redactor = NOTHING,
) -> HubHTTPError:
    """The typed exception for an error answer.

    The Hub's message is kept (cut to :data:`MAX_MESSAGE`), with every value of ``redact``
    (the token) and every secret value of ``request`` masked: a Hub, or a proxy, that
    echoes the request never gets them shown.
    """
    needles = redact.for_request(request)
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
    return cls(status, needles.scrub(_error_message(headers, body), MAX_MESSAGE), **kwargs)


def bad_answer(
    request: Request,
    problem: str,
    reason: str,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    redact: Redactor = NOTHING,
) -> BadAnswerError:
    """The :class:`BadAnswerError` for an answer to ``request`` the client can't read (its
    request id masked as :func:`error_for` masks)."""
    request_id = None if headers is None else _header(headers, "X-Request-Id", redact.for_request(request))
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
#: Its scanner: ``(value, end)`` of the JSON value at an index; StopIteration where there is none.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]

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
    redact: Redactor = NOTHING,
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
        if body[0] == 123 and (len(body) == 1 or body[1]):  # b"{", then not a UTF-16/32 zero byte
            # The common answer: a JSON object in UTF-8 (no BOM: that is what detect_encoding
            # would say) read by the decoder's scanner alone; when it does not take the whole
            # body (whitespace after it, or worse), the full decode below judges it.
            text = body.decode()
            try:
                data, end = _SCAN(text, 0)
            except StopIteration:
                end = -1
            if end == len(text):
                if "\\u" in text and _SURROGATE_ESCAPE.search(text):
                    data = mend_surrogates(data)
                return data
            return decode_json(text)
        return decode_json(body.decode(json.detect_encoding(body)))
    except RecursionError:
        problem, reason = "JSON nested too deeply", "too-deep"
    except _NonFinite:
        problem, reason = "a number that is not finite", "non-finite"
    except (ValueError, UnicodeDecodeError):
        problem, reason = f"not JSON ({len(body)} bytes)", "not-json"
    # Raised out of the except clause: nothing of the body (in the decoder's error) is kept.
    raise bad_answer(request, problem, reason, status, headers, redact)

"""The routes of pushes and file reads: what the official client's uploads and downloads call.

Not calls of aiospace's own client (so not in :data:`aiospace._hub.routes.ROUTES`), but
served like them: the same middleware (request ids, JSON errors, rate limit, stats).

``POST /api/spaces/{repo_id}/preupload/{revision}``
    ``{"files": [{"path", "sample", "size"}], "gitIgnore"?}``: answers how each file is
    sent (``uploadMode: "regular"``, and the head's ``oid`` when the file exists).
``POST /api/spaces/{repo_id}/commit/{revision}``
    NDJSON (``application/x-ndjson``), one ``{"key", "value"}`` object per line: the
    ``header`` first (``{"summary", "description"?, "parentCommit"?}``), then ``file``
    (``{"path", "content": base64, "encoding": "base64"}``), ``deletedFile`` and
    ``deletedFolder`` (``{"path"}``) lines. Answers ``{"commitUrl", "commitOid"}``. The
    whole body is read and checked before anything changes: a malformed line or
    base64 content is a 400 and the Space is left as it was; ``lfsFile`` lines are a
    400 (large files aren't emulated); a body over
    :data:`~aiospace.emulator.repo.MAX_COMMIT_BYTES` is a 413.
``GET /api/spaces/{repo_id}/revision/{revision}``
    The Space's info at ``main`` or at a commit (``sha`` and ``siblings`` of that commit).
``GET /api/spaces/{repo_id}/tree/{revision}[/{path}]`` (``recursive=true``)
    The files and folders under a path, one page.
``GET|HEAD /spaces/{repo_id}/resolve/{revision}/{path}``
    A file's content, with ``ETag`` (its blob id), ``X-Repo-Commit`` and its size; a
    ``Range: bytes=...`` (one range) is a ``206`` with ``Content-Range: bytes a-b/SIZE``,
    an unsatisfiable one a ``416`` with ``Content-Range: bytes */SIZE`` (:func:`byte_range`).

A revision is ``HEAD``, ``main`` or a commit's full id, as on the Hub.
``POST /api/validate-yaml``
    What the official client asks before pushing a ``README.md``: always valid.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import mimetypes
import re
from typing import Any

from aiohttp import web

from .context import (
    HUB,
    Handler,
    bad_request,
    body_timeout,
    error_response,
    json_answer,
    json_object,
    read_json,
    repo_id_of,
    user_of,
)
from .encode import commit_json
from .repo import (
    MAX_COMMIT_BYTES,
    AddFile,
    CommitRequest,
    DeleteFile,
    DeleteFolder,
    Operation,
    blob_oid,
    check_path,
)
from .state import HubError

__all__ = [
    "PUSH_HANDLERS",
    "Unsatisfiable",
    "add_push_routes",
    "byte_range",
    "created_files",
    "parse_commit",
    "read_body",
]

_OID = re.compile(r"[0-9a-f]{40}")
_PREUPLOAD_KEYS = frozenset({"files", "gitIgnore", "gitAttributes"})
_MAX_PREUPLOAD = 1000  # files per preupload call (the official client sends 256 at most)


# ---------------------------------------------------------------------- request parts


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise bad_request(f"{name} must be 'true' or 'false'")
    return value in ("true", "1")


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, up to ``limit`` bytes (413 beyond)."""
    too_large = HubError(413, f"Request body too large (limit {limit} bytes)")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    total = 0
    timeout = request.app[HUB].read_timeout
    while True:
        try:  # each read must bring something within the timeout (a big body may take long)
            chunk = await asyncio.wait_for(request.content.read(1 << 16), timeout)
        except TimeoutError as err:
            raise body_timeout(request) from err
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------------- the commit's NDJSON


def _line_error(number: int, message: str) -> HubError:
    return bad_request(f"Malformed commit, line {number}: {message}")


def _fields(value: Any, number: int, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _line_error(number, "'value' must be an object")
    unknown = set(value) - allowed
    if unknown:
        raise _line_error(number, f"unknown key(s) {', '.join(sorted(unknown))[:200]}")
    missing = required - set(value)
    if missing:
        raise _line_error(number, f"missing key(s) {', '.join(sorted(missing))}")
    return value


def _path(value: dict[str, Any], number: int) -> str:
    try:
        return check_path(value["path"])
    except HubError as err:
        raise _line_error(number, err.message) from err


def parse_commit(raw: bytes) -> CommitRequest:
    """A commit's NDJSON body as a :class:`~aiospace.emulator.repo.CommitRequest` (400 if malformed)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise bad_request(f"Malformed commit: not UTF-8 ({err.reason})") from err
    header: dict[str, Any] | None = None
    operations: list[Operation] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (ValueError, RecursionError) as err:
            raise _line_error(number, f"not JSON ({str(err)[:100]})") from err
        if not isinstance(item, dict) or set(item) != {"key", "value"}:
            raise _line_error(number, 'each line must be {"key": ..., "value": {...}}')
        key, value = item["key"], item["value"]
        if key == "header":
            if header is not None or operations:
                raise _line_error(number, "the header comes first, once")
            header = _fields(value, number, {"summary", "description", "parentCommit"}, {"summary"})
            continue
        if header is None:
            raise _line_error(number, "the first line must be the header")
        if key == "file":
            value = _fields(value, number, {"path", "content", "encoding"}, {"path", "content"})
            path = _path(value, number)
            if value.get("encoding", "base64") != "base64":
                shown = str(value.get("encoding"))[:50]
                raise _line_error(number, f"unsupported encoding {shown!r} (base64 only)")
            if not isinstance(value["content"], str):
                raise _line_error(number, "content must be a base64 string")
            try:
                content = base64.b64decode(value["content"], validate=True)
            except (binascii.Error, ValueError) as err:
                raise _line_error(number, f"malformed base64 content for {path[:200]}") from err
            operations.append(AddFile(path, content))
        elif key in ("deletedFile", "deletedFolder"):
            value = _fields(value, number, {"path"}, {"path"})
            path = _path(value, number)
            operations.append(DeleteFile(path) if key == "deletedFile" else DeleteFolder(path))
        elif key == "lfsFile":
            raise HubError(
                400,
                f"Malformed commit, line {number}: large-file (LFS/Xet) uploads aren't emulated by the "
                "aiospace emulator; it takes regular uploads only",
                "LargeFileNotEmulated",
            )
        else:
            raise _line_error(number, f"unknown key {str(key)[:50]!r}")
    if header is None:
        raise bad_request("Malformed commit: a header line is required")
    summary, description = header["summary"], header.get("description", "")
    parent = header.get("parentCommit")
    if not isinstance(summary, str) or not summary.strip():
        raise bad_request("Malformed commit: the summary must be a non-empty string")
    if description is not None and not isinstance(description, str):
        raise bad_request("Malformed commit: the description must be a string")
    for text in (summary, description or ""):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:  # a lone surrogate: JSON allows "\ud800", UTF-8 doesn't
            raise bad_request("Malformed commit: the summary and description must be valid Unicode") from err
    if parent is not None and (not isinstance(parent, str) or not _OID.fullmatch(parent)):
        raise bad_request("Malformed commit: parentCommit must be a commit id (40 hex digits)")
    return CommitRequest(summary, description or "", parent, tuple(operations))


def created_files(items: Any) -> dict[str, bytes]:
    """A create's ``files`` (the JavaScript client's ``[{"path", "content", "encoding"}]``), decoded."""
    if not isinstance(items, list):
        raise bad_request("files must be a list")
    out: dict[str, bytes] = {}
    for item in items:
        data = json_object(item, {"path", "content", "encoding"}, {"path", "content"})
        if data.get("encoding", "base64") not in ("base64", "utf-8") or not isinstance(data["content"], str):
            raise bad_request('files: each content is a string, "encoding" base64 or utf-8')
        try:
            path = check_path(data["path"])
            if data.get("encoding", "base64") == "utf-8":
                out[path] = data["content"].encode()
            else:
                out[path] = base64.b64decode(data["content"], validate=True)
        except (ValueError, UnicodeEncodeError) as err:
            raise bad_request(f"files: unreadable content of {str(data['path'])[:200]!r}") from err
    return out


# ---------------------------------------------------------------------- handlers


async def preupload(request: web.Request) -> web.StreamResponse:
    """``POST /api/spaces/{repo_id}/preupload/{revision}``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    create_pr = _flag(request, "create_pr")
    body = await read_json(request)
    # gitIgnore: the Python client's; gitAttributes: the JavaScript client's
    if not isinstance(body, dict) or set(body) - _PREUPLOAD_KEYS or "files" not in body:
        raise bad_request('The body must be {"files": [...], "gitIgnore"?: "...", "gitAttributes"?: "..."}')
    items = body["files"]
    if not isinstance(items, list) or len(items) > _MAX_PREUPLOAD:
        raise bad_request(f"files must be a list of at most {_MAX_PREUPLOAD} entries")
    for key in ("gitIgnore", "gitAttributes"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise bad_request(f"{key} must be a string")
    files: list[tuple[str, int]] = []
    for item in items:
        if not isinstance(item, dict) or set(item) - {"path", "sample", "size"} or "path" not in item:
            raise bad_request('each file must be {"path", "sample", "size"}')
        size = item.get("size", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise bad_request("size must be an integer >= 0")
        sample = item.get("sample", "")
        if not isinstance(sample, str):
            raise bad_request("sample must be a base64 string")
        try:
            base64.b64decode(sample, validate=True)
        except (binascii.Error, ValueError) as err:
            raise bad_request(f"malformed base64 sample for {str(item['path'])[:200]}") from err
        files.append((check_path(item["path"]), size))
    revision = request.match_info["revision"]
    return json_answer(world.preupload(user, repo_id, revision, files, create_pr=create_pr))


async def create_commit(request: web.Request) -> web.StreamResponse:
    """``POST /api/spaces/{repo_id}/commit/{revision}`` (NDJSON)."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    create_pr = _flag(request, "create_pr")
    revision = request.match_info["revision"]
    # Access and revision first: a stranger learns nothing from the body's checks.
    world.check_push(user, repo_id, revision, create_pr)
    commit = parse_commit(await read_body(request, MAX_COMMIT_BYTES))
    space = world.push(user, repo_id, revision, commit, create_pr=create_pr)
    url = f"{_base(request)}/spaces/{space.id}/commit/{space.sha}"
    return json_answer(commit_json(space.sha, url))


def _expand(request: web.Request) -> list[str]:
    values = request.query.getall("expand", []) + request.query.getall("expand[]", [])
    return [item for value in values for item in value.split(",") if item]


async def space_revision_info(request: web.Request) -> web.StreamResponse:
    """``GET /api/spaces/{repo_id}/revision/{revision}``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    revision = request.match_info["revision"]
    return json_answer(world.revision_info(user, repo_id, revision, _expand(request)))


async def list_repo_tree(request: web.Request) -> web.StreamResponse:
    """``GET /api/spaces/{repo_id}/tree/{revision}[/{path}]``."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    recursive = _flag(request, "recursive")
    _flag(request, "expand")
    revision, path = request.match_info["revision"], request.match_info.get("path", "")
    return json_answer(world.list_tree(user, repo_id, revision, path, recursive=recursive))


class Unsatisfiable(Exception):
    """A ``Range`` no byte of the file satisfies (answered 416)."""


_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``(first, last)`` bytes a ``Range`` header asks of a file of ``size`` bytes.

    None: the whole file (no header, or one the emulator doesn't take: several ranges,
    another unit, a malformed one are ignored, as HTTP allows). A range that starts past
    the end, or a suffix of 0 bytes, is unsatisfiable: :class:`Unsatisfiable`.
    """
    if header is None:
        return None
    found = _RANGE.fullmatch(header.strip())
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first_text, last_text = found.groups()
    if first_text == "":  # a suffix: the last N bytes
        first, last = max(0, size - int(last_text)), size - 1
        if int(last_text) == 0:
            first = size
    else:
        first = int(first_text)
        last = size - 1 if last_text == "" else min(int(last_text), size - 1)
        if last_text != "" and int(last_text) < first:
            return None  # not a valid range: ignored
    if first >= size or first > last:
        raise Unsatisfiable(f"Range Not Satisfiable: {header.strip()[:100]} of a {size}-byte file")
    return first, last


async def resolve_file(request: web.Request) -> web.StreamResponse:
    """``GET|HEAD /spaces/{repo_id}/resolve/{revision}/{path}``: a file's content (or bytes of it)."""
    world = request.app[HUB].world
    user, repo_id = user_of(request), repo_id_of(request)
    revision, path = request.match_info["revision"], request.match_info["path"]
    sha, content = world.read_file(user, repo_id, revision, path)
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    headers = {"ETag": f'"{blob_oid(content)}"', "X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
    try:
        wanted = byte_range(request.headers.get("Range"), len(content))
    except Unsatisfiable as err:
        headers["Content-Range"] = f"bytes */{len(content)}"
        return error_response(416, str(err), "RangeNotSatisfiable", headers)
    if wanted is None:
        return web.Response(body=content, content_type=kind, headers=headers)
    first, last = wanted
    headers["Content-Range"] = f"bytes {first}-{last}/{len(content)}"
    return web.Response(status=206, body=content[first : last + 1], content_type=kind, headers=headers)


async def validate_yaml(request: web.Request) -> web.StreamResponse:
    """``POST /api/validate-yaml`` ``{"content", "repoType"}``: the emulator finds no problem."""
    user_of(request)
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        raise bad_request('The body must be {"content": "...", "repoType": "..."}')
    return json_answer({"errors": [], "warnings": []})


#: Route name -> (method, path, handler).
PUSH_HANDLERS: dict[str, tuple[str, str, Handler]] = {
    "preupload": ("POST", "/api/spaces/{namespace}/{name}/preupload/{revision}", preupload),
    "create_commit": ("POST", "/api/spaces/{namespace}/{name}/commit/{revision}", create_commit),
    "space_revision_info": ("GET", "/api/spaces/{namespace}/{name}/revision/{revision}", space_revision_info),
    "list_repo_tree": ("GET", "/api/spaces/{namespace}/{name}/tree/{revision}{path:(/.*)?}", list_repo_tree),
    "resolve_file": ("GET", "/spaces/{namespace}/{name}/resolve/{revision}/{path:.+}", resolve_file),
    "validate_yaml": ("POST", "/api/validate-yaml", validate_yaml),
}


def add_push_routes(app: web.Application) -> None:
    """Mount the push and file routes (``GET`` ones answer ``HEAD`` too)."""
    for name, (method, path, handler) in PUSH_HANDLERS.items():
        if method == "GET":
            app.router.add_get(path, handler, name=name)
        else:
            app.router.add_route(method, path, handler, name=name)

"""git over smart HTTP: ``git clone``, ``git pull`` and ``git push`` of a Space.

A Space is a git repository at ``{emulator}/spaces/{owner}/{name}`` (``.git`` at the end
works too), as on the Hub. The smart HTTP protocol itself (ref advertisement, pack
negotiation, receiving a pack) is dulwich's, a well-kept pure-Python git: this module
only gives dulwich the Space's objects and refs, checks who may do what, and turns an
accepted push into a commit of the world (:meth:`~aiospace.emulator.pushes.Pushes.git_push`).

``GET .../info/refs?service=git-upload-pack|git-receive-pack``
    The refs (``refs/heads/main`` at the head, ``HEAD`` pointing at it).
``POST .../git-upload-pack``
    A fetch or clone: the pack of what the client lacks.
``POST .../git-receive-pack``
    A push: the pack, then the update of ``main``.

Who: the token is the password of HTTP basic auth (any user name) or an
``Authorization: Bearer`` header. Public Spaces can be cloned anonymously. Without
credentials a private Space, and any push, is a ``401`` with ``WWW-Authenticate``
(git then sends the URL's credentials, or asks, and says ``Authentication failed``); a
token that names nobody is a ``401``; a user who can't see a private Space gets a
``404``, one who can read but not write gets a ``403`` on a push: git prints the message
(``remote: You are not allowed to push to spaces/...``) and ``The requested URL returned
error: 403``. Messages are ``text/plain``, which git shows.

What a push may do: update ``refs/heads/main`` (the one branch), fast-forward or not (a
force-push is accepted, as the Hub accepts it on a Space's ``main``; the commits it drops
stay readable by id). Refused with git's ``! [remote rejected]`` and a reason: another
branch or a tag, deleting ``main``, a stale push (the head moved since the pusher
fetched: an API commit landed in between), a commit holding a symbolic link, a submodule,
a path the Hub refuses, a file over the size limit, or more files than a Space holds.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import weakref
from io import BytesIO
from typing import Any, cast

from aiohttp import web
from dulwich.errors import HookError
from dulwich.hooks import Hook
from dulwich.objects import ObjectID, ShaFile
from dulwich.protocol import CAPABILITY_ATOMIC, ReceivableProtocol
from dulwich.refs import Ref
from dulwich.repo import MemoryRepo
from dulwich.server import BackendRepo, DictBackend, ReceivePackHandler, UploadPackHandler

from .context import HUB, Handler, header_safe, repo_id_of
from .gitstore import GitStore, StoreFull
from .push_routes import read_body
from .pushes import BRANCH
from .repo import MAX_COMMIT_BYTES
from .state import HubError, Space
from .world import World

__all__ = ["GIT_HANDLERS", "add_git_routes"]

_MAIN = f"refs/heads/{BRANCH}".encode()
_ZERO = b"0" * 40
_SERVICES = ("git-upload-pack", "git-receive-pack")
_REALM = 'Basic realm="aiospace emulator", charset="UTF-8"'


# ---------------------------------------------------------------------- the Space as dulwich sees it


class _Mirror:
    """A Space's objects and head in a dulwich ``MemoryRepo``, brought up to date before each request.

    The Space's :class:`~aiospace.emulator.gitstore.GitStore` is the truth; objects only
    ever join it, in order, so the mirror copies the ones past those it already has.
    """

    def __init__(self) -> None:
        self.repo = MemoryRepo()
        self.synced = 0

    def sync(self, space: Space) -> MemoryRepo:
        store = space.git
        if self.synced < len(store.objects):
            fresh = itertools.islice(store.objects.items(), self.synced, None)
            self.repo.object_store.add_objects(
                [(ShaFile.from_raw_string(_TYPE_NUMS[kind], body), None) for _oid, (kind, body) in fresh]
            )
            self.synced = len(store.objects)
        self.repo.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(_MAIN))
        self.repo.refs[Ref(_MAIN)] = ObjectID(space.sha.encode())
        return self.repo


_TYPE_NUMS = {b"commit": 1, b"tree": 2, b"blob": 3, b"tag": 4}
_MIRRORS: weakref.WeakKeyDictionary[Space, _Mirror] = weakref.WeakKeyDictionary()


def _mirror(space: Space) -> MemoryRepo:
    mirror = _MIRRORS.get(space)
    if mirror is None:
        mirror = _MIRRORS[space] = _Mirror()
    return mirror.sync(space)


def _forget(space: Space) -> None:
    """Drop a Space's mirror (a refused push left objects in it that the Space never took)."""
    _MIRRORS.pop(space, None)


def _import(repo: MemoryRepo, store: GitStore, sha: str) -> None:
    """Copy into ``store`` the objects reachable from ``sha`` that it lacks (a push's), all or none.

    An object the store has reaches only objects it has too (it never takes part of a push).
    """
    fresh: dict[str, tuple[bytes, bytes]] = {}
    todo = [sha]
    while todo:
        oid = todo.pop()
        if oid in store or oid in fresh:
            continue
        try:
            obj = repo.object_store[ObjectID(oid.encode())]
        except KeyError as err:
            raise HubError(400, f"the push lacks object {oid}") from err
        if obj.type_name == b"commit":
            todo.append(obj.tree.decode())  # type: ignore[attr-defined]
            todo += [parent.decode() for parent in obj.parents]  # type: ignore[attr-defined]
        elif obj.type_name == b"tree":
            entries = obj.items()  # type: ignore[attr-defined]
            todo += [entry.sha.decode() for entry in entries if entry.mode != 0o160000]
        fresh[oid] = (obj.type_name, obj.as_raw_string())
    store.add_all(fresh.values())


class _UpdateHook(Hook):
    """The ``update`` hook of a push: check the ref update, and make it a commit of the world."""

    def __init__(self, world: World, space: Space, user: str, repo: MemoryRepo) -> None:
        self.world, self.space, self.user, self.repo = world, space, user, repo
        #: The push moved the head (else the mirror is dropped: it holds what the push sent).
        self.applied = False

    def execute(self, *args: Any) -> tuple[bytes, bytes]:
        """``(ref, old, new)``: apply it (``HookError``: refused, with git's reason)."""
        ref, old, new = (bytes(arg) for arg in args)
        if ref != _MAIN:
            raise HookError(f"the emulator's Spaces have one branch, {BRANCH}: {ref.decode()[:100]} refused")
        if new == _ZERO:
            raise HookError(f"deleting {BRANCH} is not allowed")
        repo_id, old_sha, new_sha = self.space.id, old.decode(), new.decode()
        try:
            _import(self.repo, self.space.git, new_sha)
            space = self.world.git_push(self.user, repo_id, old_sha, new_sha)
            self.applied = True
        except StoreFull as err:
            raise HookError(str(err)) from err
        except HubError as err:
            raise HookError(err.message[:500]) from err
        note = f"aiospace emulator: {repo_id} is at {new_sha[:7]}"
        if not space.is_static:
            note += f"; the Space rebuilds in {space.behaviour.push_delay:g} s (simulated)"
        return note.encode() + b"\n", b""


class _ReceivePack(ReceivePackHandler):
    """dulwich's receive-pack without atomic pushes (one ref, ``main``, is all a Space takes)."""

    def capabilities(self) -> list[bytes]:
        """dulwich's capabilities but ``atomic``."""
        return [cap for cap in super().capabilities() if cap != CAPABILITY_ATOMIC]


# ---------------------------------------------------------------------- who


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An error git shows: ``text/plain`` (git prints it as ``remote: ...``), ``X-Error-Message`` too."""
    return web.Response(
        status=status,
        text=message + "\n",
        headers={"X-Error-Message": header_safe(message), **(headers or {})},
    )


def _token(request: web.Request) -> str | None:
    """The ``Authorization`` header as the world reads it: basic auth's password is the token
    (any user name), or its user name when it has no password (``https://hf_...@host/...``)."""
    given = request.headers.get("Authorization")
    if given is None:
        return None
    scheme, _, value = given.strip().partition(" ")
    if scheme.lower() != "basic":
        return given
    try:
        name, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError) as err:
        raise HubError(401, "Invalid credentials in Authorization header") from err
    return f"Bearer {password or name}"  # the token as the password, or as the user name alone


def _unauthorized(message: str) -> web.Response:
    return _text(401, message, {"WWW-Authenticate": _REALM})


def _space_for(request: web.Request, push: bool) -> tuple[Space, str | None] | web.Response:
    """The Space and the user of a git request, or the answer that refuses it."""
    world = request.app[HUB].world
    repo_id = repo_id_of(request)
    try:
        user = world.authenticate(_token(request))
    except HubError as err:
        return _unauthorized(err.message)
    space = world.spaces.get(repo_id)
    readable = (
        space is not None
        and world.can_read(space, user)
        and not (space.protected and not world.can_write(space, user))
    )
    if user is None and (push or not readable):
        # git sends the URL's credentials (or asks) only when told to
        return _unauthorized(f"Authentication required for spaces/{repo_id}")
    if space is None or not readable:
        return _text(404, f"Repository not found: spaces/{repo_id}")
    if push and not world.can_write(space, user):
        return _text(403, f"You are not allowed to push to spaces/{repo_id}: {user} can't write to it")
    return space, user


# ---------------------------------------------------------------------- handlers


def _handler(
    request: web.Request, service: str, space: Space, user: str | None, proto: ReceivableProtocol, **kw: Any
) -> UploadPackHandler | ReceivePackHandler:
    repo = _mirror(space)
    backend = DictBackend({"/": cast("BackendRepo", repo)})
    if service == "git-upload-pack":
        return UploadPackHandler(backend, ["/"], proto, stateless_rpc=True, **kw)
    assert user is not None
    repo.hooks["update"] = _UpdateHook(request.app[HUB].world, space, user, repo)
    return _ReceivePack(backend, ["/"], proto, stateless_rpc=True, **kw)


async def git_info_refs(request: web.Request) -> web.StreamResponse:
    """``GET .../info/refs?service=...``: the refs, as the smart protocol advertises them."""
    service = request.query.get("service", "")
    if service not in _SERVICES:
        return _text(
            403, "The emulator speaks git's smart HTTP only: ?service=git-upload-pack|git-receive-pack"
        )
    found = _space_for(request, push=service == "git-receive-pack")
    if isinstance(found, web.Response):
        return found
    space, user = found
    out = BytesIO()
    proto = ReceivableProtocol(BytesIO().read, out.write)
    proto.write_pkt_line(f"# service={service}\n".encode())
    proto.write_pkt_line(None)
    _handler(request, service, space, user, proto, advertise_refs=True).handle()
    return _answer(service, "advertisement", out.getvalue())


def _answer(service: str, kind: str, body: bytes) -> web.Response:
    headers = {
        "Cache-Control": "no-cache, max-age=0, must-revalidate",
        "Expires": "Fri, 01 Jan 1980 00:00:00 GMT",
    }
    return web.Response(body=body, content_type=f"application/x-{service}-{kind}", headers=headers)


def _first_section(body: bytes) -> tuple[list[bytes], int] | None:
    """The pkt-lines of a request up to its first flush-pkt, and where the rest starts (None: malformed)."""
    lines: list[bytes] = []
    at = 0
    while at + 4 <= len(body):
        try:
            size = int(body[at : at + 4], 16)
        except ValueError:
            return None
        if size == 0:
            return lines, at + 4
        if size < 4 or at + size > len(body):
            return None
        lines.append(body[at + 4 : at + size])
        at += size
    return None


def _pkt(line: bytes) -> bytes:
    return b"%04x" % (len(line) + 4) + line


def _without_shallow(body: bytes, service: str) -> bytes:
    """``body`` without the client's ``shallow`` lines where dulwich would refuse them.

    A push from a shallow clone names its shallow commits before its commands, and a
    fetch into one names them without asking to deepen: dulwich takes neither, and the
    emulator needs neither (it has the whole history). A fetch that deepens
    (``--depth``, ``--unshallow``) keeps them.
    """
    found = _first_section(body)
    if found is None:
        return body
    lines, rest = found
    if not any(line.startswith(b"shallow ") for line in lines):
        return body
    if service == "git-upload-pack" and any(line.startswith(b"deepen") for line in lines):
        return body
    kept = [line for line in lines if not line.startswith(b"shallow ")]
    if service == "git-receive-pack" and kept and b"\0" not in kept[0]:
        return body  # the capabilities ride on the first command: leave an odd request as it is
    return b"".join(_pkt(line) for line in kept) + b"0000" + body[rest:]


async def _service(request: web.Request, service: str) -> web.StreamResponse:
    found = _space_for(request, push=service == "git-receive-pack")
    if isinstance(found, web.Response):
        return found
    space, user = found
    if request.headers.get("Content-Type") != f"application/x-{service}-request":
        return _text(415, f"Content-Type must be application/x-{service}-request")
    body = _without_shallow(await read_body(request, MAX_COMMIT_BYTES), service)
    out = BytesIO()
    proto = ReceivableProtocol(BytesIO(body).read, out.write)
    try:
        _handler(request, service, space, user, proto).handle()
    except Exception as err:  # a malformed request: dulwich's protocol errors, a truncated pack
        _forget(space)
        return _text(400, f"Malformed {service} request: {str(err)[:200]}")
    hook = _MIRRORS[space].repo.hooks.pop("update", None) if space in _MIRRORS else None
    if isinstance(hook, _UpdateHook) and not hook.applied:
        _forget(space)  # refused: what the push sent stays out of the Space's history
    return _answer(service, "result", out.getvalue())


async def git_upload_pack(request: web.Request) -> web.StreamResponse:
    """``POST .../git-upload-pack``: a clone or fetch."""
    return await _service(request, "git-upload-pack")


async def git_receive_pack(request: web.Request) -> web.StreamResponse:
    """``POST .../git-receive-pack``: a push."""
    return await _service(request, "git-receive-pack")


#: Route name -> (method, path, handler); each path also ends in ``.git`` (``{name}.git/...``).
GIT_HANDLERS: dict[str, tuple[str, str, Handler]] = {
    "git_info_refs": ("GET", "/spaces/{namespace}/{name}/info/refs", git_info_refs),
    "git_upload_pack": ("POST", "/spaces/{namespace}/{name}/git-upload-pack", git_upload_pack),
    "git_receive_pack": ("POST", "/spaces/{namespace}/{name}/git-receive-pack", git_receive_pack),
}


def add_git_routes(app: web.Application) -> None:
    """Mount the smart HTTP routes (``.../{name}.git/...`` first, then ``.../{name}/...``)."""
    for name, (method, path, handler) in GIT_HANDLERS.items():
        dotted = path.replace("/{name}/", "/{name}.git/")
        app.router.add_route(method, dotted, handler, name=f"{name}_dotgit")
        app.router.add_route(method, path, handler, name=name)

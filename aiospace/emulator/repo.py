"""A Space's files: the emulator's small git, enough for the official client's regular uploads.

Pure Python, no I/O and no wire format. A Space keeps the files of its head commit
(``Space.files``: path -> bytes) and the trees of its recent commits
(``Space.trees``, by commit id, the last :data:`MAX_REVISIONS`). A push is a
:class:`CommitRequest` (summary, description, optional parent, operations) that
:func:`apply_operations` turns into the next tree, all or nothing: a refused
operation (a path that isn't valid, a file over :data:`MAX_FILE_BYTES`, deleting a
file that isn't there) raises :class:`~aiospace.emulator.state.HubError` before
anything changes.

Ids are git's: a blob's id is ``git hash-object``'s (the official client compares it
with the ``oid`` answered by the preupload call, to skip unchanged files), a tree's and a
commit's are those of the git objects :mod:`~aiospace.emulator.gitstore` writes for them
(:func:`write_commit`): an API commit is a real git commit (author the pusher, time the
simulated clock's), so ``git clone`` of the Space shows it under the id the API answered.

What the files mean to a Space (:func:`app_verdict`): the SDK's app file
(:data:`APP_FILES`: ``app.py`` for gradio and streamlit, ``Dockerfile`` for docker,
``index.html`` for static) must exist, or the Space shows ``NO_APP_FILE``; a line of
the app file holding a failure marker makes its build fail or its app crash::

    # aiospace-emulator: build-error      -> the build ends in BUILD_ERROR
    # aiospace-emulator: runtime-error    -> the app crashes at start-up (RUNTIME_ERROR)

(any comment syntax: the marker is ``aiospace-emulator:`` followed by the failure, so
``<!-- aiospace-emulator: build-error -->`` works in HTML too; static Spaces neither
build nor run, their markers do nothing).
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import TypeAlias

import attrs

from .gitstore import GitStore, Signature
from .state import HubError

__all__ = [
    "APP_FILES",
    "MAX_COMMIT_BYTES",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_REVISIONS",
    "AddFile",
    "AppVerdict",
    "CommitRequest",
    "DeleteFile",
    "DeleteFolder",
    "Operation",
    "app_file",
    "app_verdict",
    "apply_operations",
    "blob_oid",
    "check_path",
    "commit_message",
    "default_files",
    "file_too_large",
    "tree_oid",
    "write_commit",
]

#: The largest file a push may add (a regular upload); bigger ones would go through
#: large-file storage (LFS / Xet), which the emulator doesn't emulate.
MAX_FILE_BYTES = 5 * 1024 * 1024
#: The largest commit request body (NDJSON, contents in base64).
MAX_COMMIT_BYTES = 64 * 1024 * 1024
#: The most files a Space may hold.
MAX_FILES = 10_000
#: How many past commits keep their tree (older ones can no longer be read by id).
MAX_REVISIONS = 100
#: The file each SDK serves (its absence is ``NO_APP_FILE``).
APP_FILES: Mapping[str, str] = {
    "gradio": "app.py",
    "streamlit": "app.py",
    "docker": "Dockerfile",
    "static": "index.html",
}

_MARKER = re.compile(r"aiospace-emulator:\s*(build-error|runtime-error|not-serving)\b")
_MAX_PATH = 1000


class AppVerdict(enum.Enum):
    """What a Space's files make of its next build."""

    OK = "ok"
    NO_APP_FILE = "no-app-file"
    BUILD_ERROR = "build-error"
    RUNTIME_ERROR = "runtime-error"
    #: Builds and runs, but its app never answers (503): :mod:`~aiospace.emulator.apps`.
    NOT_SERVING = "not-serving"


# ---------------------------------------------------------------------- operations


@attrs.frozen
class AddFile:
    """Add (or replace) a file."""

    path: str
    content: bytes


@attrs.frozen
class DeleteFile:
    """Delete a file (404 if it isn't there)."""

    path: str


@attrs.frozen
class DeleteFolder:
    """Delete every file under a folder (404 if there is none)."""

    path: str


#: One operation of a commit.
Operation: TypeAlias = AddFile | DeleteFile | DeleteFolder


@attrs.frozen
class CommitRequest:
    """A push: the commit's summary and description, the parent it expects, its operations."""

    summary: str
    description: str
    parent: str | None
    operations: tuple[Operation, ...]


# ---------------------------------------------------------------------- ids


def blob_oid(data: bytes) -> str:
    """A file's id, as ``git hash-object`` computes it."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def tree_oid(files: Mapping[str, bytes]) -> str:
    """A tree's git id: that of the nested tree objects holding ``files`` (paths relative to it)."""
    return GitStore().write_tree(files)


def commit_message(summary: str, description: str = "") -> str:
    """An API commit's git message: the summary, then the description after a blank line."""
    return f"{summary}\n\n{description}\n" if description.strip() else f"{summary}\n"


def write_commit(
    store: GitStore,
    files: Mapping[str, bytes],
    parent: str | None,
    who: Signature,
    message: str,
    modes: Mapping[str, bytes] | None = None,
) -> str:
    """Store ``files`` as a git commit (child of ``parent``, if any) in ``store``; its id.

    ``modes``: the executable files' (a git push may have made some; an API commit keeps them).
    """
    tree = store.write_tree(files, modes)
    return store.write_commit(tree, () if parent is None else (parent,), who, message)


# ---------------------------------------------------------------------- paths and limits


def check_path(path: object) -> str:
    """A file path: relative, ``/``-separated, no ``.``/``..``/empty part, not in ``.git`` (else 400)."""
    if not isinstance(path, str) or not path:
        raise HubError(400, "A file path must be a non-empty string", "BadRequest")
    shown = path[:200]
    if len(path) > _MAX_PATH:
        raise HubError(400, f"File path too long (over {_MAX_PATH} characters): {shown!r}", "BadRequest")
    if path.startswith("/") or path.endswith("/") or "\\" in path:
        raise HubError(400, f"Invalid file path {shown!r}: relative, '/'-separated", "BadRequest")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise HubError(400, f"Invalid file path {shown!r}: control characters", "BadRequest")
    if not _encodable(path):  # a lone surrogate (JSON allows "\ud800"): no UTF-8 name
        raise HubError(400, f"Invalid file path {shown!r}: not valid Unicode", "BadRequest")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise HubError(400, f"Invalid file path {shown!r}: empty, '.' or '..' part", "BadRequest")
    if parts[0] == ".git":
        raise HubError(400, f"Invalid file path {shown!r}: .git is reserved", "BadRequest")
    return path


def _encodable(text: str) -> bool:
    """``text`` has a UTF-8 encoding (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def file_too_large(path: str, size: int) -> HubError:
    """The 413 of a file over :data:`MAX_FILE_BYTES`: large-file uploads aren't emulated."""
    return HubError(
        413,
        f"{path[:200]} is {size} bytes: files over {MAX_FILE_BYTES} bytes "
        f"({MAX_FILE_BYTES // (1024 * 1024)} MiB) would be large-file (LFS/Xet) uploads, "
        "which the aiospace emulator doesn't emulate; it takes regular uploads only",
        "LargeFileNotEmulated",
    )


# ---------------------------------------------------------------------- applying a commit


def apply_operations(files: Mapping[str, bytes], operations: Iterable[Operation]) -> dict[str, bytes]:
    """The tree after ``operations``, in order; ``files`` is left as it was.

    Deleting a missing file or an empty folder is a 404 (``EntryNotFound``); a file
    over :data:`MAX_FILE_BYTES` a 413; a file where a folder is (or the reverse), or a
    tree over :data:`MAX_FILES` files, a 400. Each operation costs the length of its
    path (a folder index), not the number of files: thousands of files in one commit
    are no quadratic work.
    """
    tree = dict(files)
    folders = _Folders(tree)
    for op in operations:
        path = check_path(op.path.rstrip("/") if isinstance(op, DeleteFolder) else op.path)
        if isinstance(op, AddFile):
            if len(op.content) > MAX_FILE_BYTES:
                raise file_too_large(path, len(op.content))
            folders.add(path)
            tree[path] = op.content
        elif isinstance(op, DeleteFile):
            if path not in tree:
                raise HubError(404, f"A file with this name doesn't exist: {path[:200]}", "EntryNotFound")
            folders.remove(path)
            del tree[path]
        else:
            doomed = folders.remove_folder(path)
            if not doomed:
                raise HubError(404, f"A folder with this name doesn't exist: {path[:200]}", "EntryNotFound")
            for name in doomed:
                del tree[name]
        if len(tree) > MAX_FILES:
            raise HubError(400, f"A Space holds at most {MAX_FILES} files in the emulator", "BadRequest")
    return tree


# A folder: its entries by name, a file as None, a sub-folder as its own dict.
_Folder: TypeAlias = "dict[str, _Folder | None]"


class _Folders:
    """The folder structure of a tree of files, to check a path in the time of its length."""

    def __init__(self, files: Iterable[str]) -> None:
        self.root: _Folder = {}
        for path in files:
            self._insert(path.split("/"))

    def _insert(self, parts: list[str]) -> None:
        node = self.root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            assert child is not None
            node = child
        node[parts[-1]] = None

    def _folder(self, parts: list[str]) -> _Folder | None:
        """The folder at ``parts`` (None if there is none)."""
        node: _Folder | None = self.root
        for part in parts:
            if node is None:
                return None
            node = node.get(part)
        return node

    def add(self, path: str) -> None:
        """Record a file (400 if a folder has its name, or one of its folders is a file)."""
        parts = path.split("/")
        node = self.root
        for depth, part in enumerate(parts[:-1], 1):
            if part in node and node[part] is None:
                folder = "/".join(parts[:depth])
                raise HubError(
                    400, f"Cannot add file {path[:200]!r}: {folder[:200]!r} is a file", "BadRequest"
                )
            child = node.setdefault(part, {})
            assert child is not None
            node = child
        if node.get(parts[-1]) is not None:
            raise HubError(400, f"Cannot add file {path[:200]!r}: a folder has that name", "BadRequest")
        node[parts[-1]] = None

    def remove(self, path: str) -> None:
        """Forget a file that is there (and the folders it leaves empty)."""
        self._unlink(path.split("/"))

    def remove_folder(self, path: str) -> list[str]:
        """Forget a folder; the paths of the files it held (none: there is no such folder)."""
        parts = path.split("/")
        folder = self._folder(parts)
        if not folder:
            return []
        doomed: list[str] = []
        stack: list[tuple[str, _Folder]] = [(path, folder)]
        while stack:
            prefix, node = stack.pop()
            for name, child in node.items():
                if child is None:
                    doomed.append(f"{prefix}/{name}")
                else:
                    stack.append((f"{prefix}/{name}", child))
        self._unlink(parts)
        return doomed

    def _unlink(self, parts: list[str]) -> None:
        """Take the entry at ``parts`` (a file or a folder) out, and the folders it leaves empty."""
        chain = [self.root]
        for part in parts[:-1]:
            child = chain[-1][part]
            assert child is not None
            chain.append(child)
        del chain[-1][parts[-1]]
        self._prune(parts, chain)

    @staticmethod
    def _prune(parts: list[str], chain: list[_Folder]) -> None:
        """Drop the folders of ``chain`` (``parts``' parents) left empty, deepest first."""
        for depth in range(len(chain) - 1, 0, -1):
            if chain[depth]:
                break
            del chain[depth - 1][parts[depth - 1]]


# ---------------------------------------------------------------------- what the files mean


def app_file(sdk: str) -> str | None:
    """The file ``sdk`` serves (None for an SDK the emulator doesn't know: nothing is checked)."""
    return APP_FILES.get(sdk)


def app_verdict(sdk: str, files: Mapping[str, bytes]) -> AppVerdict:
    """What the files make of the next build: a missing app file, a failure marker in it, or OK."""
    name = app_file(sdk)
    if name is None:
        return AppVerdict.OK
    content = files.get(name)
    if content is None:
        return AppVerdict.NO_APP_FILE
    found = _MARKER.search(content.decode("utf-8", "replace"))
    if found is None:
        return AppVerdict.OK
    return AppVerdict(found.group(1))


def default_files(repo_id: str, sdk: str, *, with_app: bool = True) -> dict[str, bytes]:
    """The files of a seeded Space: ``.gitattributes``, a ``README.md`` card, and its app file."""
    title = repo_id.split("/", 1)[-1]
    files = {
        ".gitattributes": b"*.bin filter=lfs diff=lfs merge=lfs -text\n",
        "README.md": (f"---\ntitle: {title}\nsdk: {sdk}\n---\n\n# {title}\n").encode(),
    }
    name = app_file(sdk)
    if with_app and name is not None:
        files[name] = _STAND_IN_APPS[sdk]
    return files


_STAND_IN_APPS: Mapping[str, bytes] = {
    "gradio": b'import gradio as gr\n\ngr.Interface(lambda name: f"Hello {name}", "text", "text").launch()\n',
    "streamlit": b'import streamlit as st\n\nst.write("Hello")\n',
    "docker": b'FROM python:3.10-slim\nCMD ["python", "-m", "http.server", "7860"]\n',
    "static": b"<!doctype html>\n<html><body><h1>Hello</h1></body></html>\n",
}

"""A Space's git objects: blobs, trees and commits in git's own format, in memory.

Pure Python, no I/O and no git library: every commit of a Space, whether it came from
the API (``upload_file``, ``create_commit``) or from ``git push``, is a real git commit
whose id is the one ``git`` computes, so a clone of the Space shows the very commits
the API answered, and the API reads the commits git pushed. The smart HTTP side
(:mod:`~aiospace.emulator.git_routes`, on dulwich) serves these objects and adds the
objects of a push here.

A :class:`GitStore` maps an object id (40 hex) to its kind (``blob``, ``tree``,
``commit``, ``tag``) and body. It is bounded: past :data:`MAX_STORE_BYTES` of objects,
adding more raises :class:`StoreFull`. Nothing is ever removed while the Space lives
(git history is whole, as on the Hub); a deleted Space takes its store with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping

import attrs

__all__ = [
    "EXEC_MODE",
    "FILE_MODE",
    "MAX_STORE_BYTES",
    "TREE_MODE",
    "GitStore",
    "Signature",
    "StoreFull",
    "object_id",
]

#: A regular file, an executable one, a folder (git's tree modes).
FILE_MODE = b"100644"
EXEC_MODE = b"100755"
TREE_MODE = b"40000"
_FILE_MODES = frozenset({FILE_MODE, EXEC_MODE})
#: The most bytes of objects one Space keeps (its whole history).
MAX_STORE_BYTES = 512 * 1024 * 1024
_MAX_ANCESTRY = 100_000  # commits walked at most to tell whether one descends from another
_MAX_DEPTH = 64  # folders nested at most in a tree


class StoreFull(Exception):
    """The Space's history is at :data:`MAX_STORE_BYTES`: no more objects fit."""


def object_id(kind: bytes, body: bytes) -> str:
    """The id git gives an object of ``kind`` (``b"blob"``, ``b"tree"``...) holding ``body``."""
    return hashlib.sha1(b"%s %d\0" % (kind, len(body)) + body).hexdigest()


@attrs.frozen
class Signature:
    """Who made a commit and when: ``Name <email> <unix time> +0000``."""

    name: str
    email: str
    time: int

    def encode(self) -> bytes:
        """The signature as a commit's ``author`` / ``committer`` line writes it."""
        name = self.name.replace("<", "").replace(">", "").replace("\n", " ")
        email = self.email.replace("<", "").replace(">", "").replace("\n", "")
        return f"{name} <{email}> {self.time} +0000".encode()


@attrs.frozen
class Commit:
    """A commit's tree and parents (what the emulator reads of one)."""

    tree: str
    parents: tuple[str, ...]


def _tree_key(entry: tuple[bytes, bytes, str]) -> bytes:
    # git sorts a folder as if its name ended with "/"
    mode, name, _oid = entry
    return name + b"/" if mode == TREE_MODE else name


class GitStore:
    """The git objects of one Space (see the module's docstring)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, bytes]] = {}
        self.size = 0

    def __repr__(self) -> str:
        return f"<GitStore {len(self.objects)} objects, {self.size} bytes>"

    def __contains__(self, oid: object) -> bool:
        return oid in self.objects

    def add(self, kind: bytes, body: bytes) -> str:
        """Store an object (once); its id. :class:`StoreFull` past :data:`MAX_STORE_BYTES`."""
        oid = object_id(kind, body)
        if oid not in self.objects:
            if self.size + len(body) > MAX_STORE_BYTES:
                raise StoreFull(f"a Space keeps at most {MAX_STORE_BYTES} bytes of git objects")
            self.objects[oid] = (kind, body)
            self.size += len(body)
        return oid

    def add_all(self, objects: Collection[tuple[bytes, bytes]]) -> None:
        """Store ``(kind, body)`` objects, all or none (:class:`StoreFull` before any is added)."""
        if self.size + sum(len(body) for _kind, body in objects) > MAX_STORE_BYTES:
            raise StoreFull(f"a Space keeps at most {MAX_STORE_BYTES} bytes of git objects")
        for kind, body in objects:
            self.add(kind, body)

    def get(self, oid: str) -> tuple[bytes, bytes]:
        """``(kind, body)`` of an object (``KeyError`` if absent)."""
        return self.objects[oid]

    # ------------------------------------------------------------------ trees

    def write_tree(self, files: Mapping[str, bytes], modes: Mapping[str, bytes] | None = None) -> str:
        """Store ``files`` (path -> content) as blobs and nested trees; the root tree's id.

        ``modes``: a path's mode when it isn't :data:`FILE_MODE` (an executable file).
        """
        root: dict[str, object] = {}
        for path, content in files.items():
            parts = path.split("/")
            node = root
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                assert isinstance(child, dict)
                node = child
            node[parts[-1]] = (path, content)
        return self._write_folder(root, modes or {})

    def _write_folder(self, folder: Mapping[str, object], modes: Mapping[str, bytes]) -> str:
        entries: list[tuple[bytes, bytes, str]] = []
        for name, item in folder.items():
            if isinstance(item, dict):
                entries.append((TREE_MODE, name.encode(), self._write_folder(item, modes)))
            else:
                assert isinstance(item, tuple)
                path, content = item
                mode = modes.get(path, FILE_MODE)
                mode = mode if mode in _FILE_MODES else FILE_MODE
                entries.append((mode, name.encode(), self.add(b"blob", content)))
        entries.sort(key=_tree_key)
        body = b"".join(mode + b" " + name + b"\0" + bytes.fromhex(oid) for mode, name, oid in entries)
        return self.add(b"tree", body)

    def tree_entries(self, tree: str) -> list[tuple[bytes, str, str]]:
        """The entries of one tree object: ``(mode, name, id)`` (``ValueError`` if it isn't one)."""
        kind, body = self.get(tree)
        if kind != b"tree":
            raise ValueError(f"{tree} is a {kind.decode()}, not a tree")
        out: list[tuple[bytes, str, str]] = []
        at = 0
        while at < len(body):
            space = body.index(b" ", at)
            nul = body.index(b"\0", space)
            mode = body[at:space].lstrip(b"0") or b"0"
            oid = body[nul + 1 : nul + 21].hex()
            if len(oid) != 40:
                raise ValueError(f"tree {tree} is truncated")
            out.append((mode, body[space + 1 : nul].decode("utf-8", "surrogateescape"), oid))
            at = nul + 21
        return out

    def read_tree(self, tree: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """A tree's files (path -> content) and the modes of those that aren't :data:`FILE_MODE`.

        ``ValueError`` names what the emulator doesn't keep: a symbolic link, a submodule,
        a missing object, folders nested over 64 deep.
        """
        files: dict[str, bytes] = {}
        modes: dict[str, bytes] = {}
        stack: list[tuple[str, str, int]] = [("", tree, 0)]
        while stack:
            prefix, oid, depth = stack.pop()
            if depth > _MAX_DEPTH:
                raise ValueError(f"folders nested over {_MAX_DEPTH} deep")
            try:
                entries = self.tree_entries(oid)
            except KeyError as err:
                raise ValueError(f"missing object {oid}") from err
            for mode, name, child in entries:
                path = f"{prefix}{name}"
                if mode == TREE_MODE:
                    stack.append((path + "/", child, depth + 1))
                elif mode in _FILE_MODES:
                    kind, body = self.objects.get(child, (b"", b""))
                    if kind != b"blob":
                        raise ValueError(f"missing file content of {path[:200]}")
                    files[path] = body
                    if mode != FILE_MODE:
                        modes[path] = mode
                elif mode == b"120000":
                    raise ValueError(f"{path[:200]} is a symbolic link, which the emulator doesn't keep")
                elif mode == b"160000":
                    raise ValueError(f"{path[:200]} is a submodule, which the emulator doesn't keep")
                else:
                    raise ValueError(f"{path[:200]} has an unknown mode {mode.decode()}")
        return files, modes

    # ------------------------------------------------------------------ commits

    def write_commit(self, tree: str, parents: Iterable[str], who: Signature, message: str) -> str:
        """Store a commit of ``tree`` (author and committer ``who``); its id."""
        lines = [b"tree " + tree.encode()]
        lines += [b"parent " + parent.encode() for parent in parents]
        lines += [b"author " + who.encode(), b"committer " + who.encode()]
        text = message if message.endswith("\n") else message + "\n"
        return self.add(b"commit", b"\n".join(lines) + b"\n\n" + text.encode())

    def commit(self, oid: str) -> Commit:
        """A commit's tree and parents (``KeyError`` if there is no such commit)."""
        kind, body = self.get(oid)
        if kind != b"commit":
            raise KeyError(oid)
        tree = ""
        parents: list[str] = []
        for line in body.split(b"\n"):
            if not line:
                break
            if line.startswith(b"tree "):
                tree = line[5:].decode()
            elif line.startswith(b"parent "):
                parents.append(line[7:].decode())
        return Commit(tree, tuple(parents))

    def is_commit(self, oid: str) -> bool:
        """``oid`` names a commit of this store."""
        entry = self.objects.get(oid)
        return entry is not None and entry[0] == b"commit"

    def descends(self, oid: str, ancestor: str) -> bool:
        """``ancestor`` is ``oid`` or one of its ancestors (a walk of at most 100,000 commits)."""
        seen = {oid}
        todo = [oid]
        while todo and len(seen) <= _MAX_ANCESTRY:
            current = todo.pop()
            if current == ancestor:
                return True
            try:
                parents = self.commit(current).parents
            except KeyError:
                continue
            for parent in parents:
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return False

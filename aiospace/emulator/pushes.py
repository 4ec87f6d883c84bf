"""Pushing files: what the official client's uploads do to a Space, and reading its files back.

The operations behind ``upload_file`` / ``upload_folder`` / ``create_commit`` (the
preupload call, then the commit), and the reads around them (a revision's info, the
tree, a file's content). Like :mod:`~aiospace.emulator.operations` they take the
already-authenticated user (None: anonymous) and validated arguments, and answer
JSON-ready data written by :mod:`~aiospace.emulator.encode`; the files and ids are
:mod:`~aiospace.emulator.repo`'s; what a commit then does over time (the rebuild,
``NO_APP_FILE``, a failure marker) is :mod:`~aiospace.emulator.lifecycle`'s.

* Only the ``main`` branch exists: pushing to another revision is a 404
  (``RevisionNotFound``); pull requests (``create_pr``) are a 400. Reads take ``main``
  or the id of one of the last :data:`~aiospace.emulator.repo.MAX_REVISIONS` commits.
* Only the owner or a member of the owning organization may push (others 403,
  anonymous callers 401, a private Space stays a 404 to those who can't write to it).
  The files of a protected Space are private too (its app and runtime are public).
* A commit applies whole or not at all; a ``parentCommit`` that is no longer the head
  is a 412 ("A commit has happened since"), as on the Hub; without one, a push lands
  on whatever the head is when it arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import encode
from .access import Access
from .lifecycle import Lifecycle
from .repo import (
    MAX_FILE_BYTES,
    MAX_REVISIONS,
    AddFile,
    CommitRequest,
    DeleteFile,
    apply_operations,
    check_path,
    commit_oid,
    file_too_large,
    tree_oid,
)
from .state import HubError, Space, not_found

__all__ = ["BRANCH", "Pushes", "revision_not_found"]

#: The one branch of every Space.
BRANCH = "main"


def revision_not_found(revision: str) -> HubError:
    """The 404 of a revision the Space doesn't have (``X-Error-Code: RevisionNotFound``)."""
    return HubError(
        404,
        f"Invalid rev id: {revision[:100]} (the emulator's Spaces have one branch, {BRANCH}, "
        f"and keep their last {MAX_REVISIONS} commits)",
        "RevisionNotFound",
    )


class Pushes:
    """The push and file-reading calls, over the Spaces of ``lifecycle`` under the rules of ``access``.

    A mixin of :class:`~aiospace.emulator.world.World` (which sets both attributes).
    """

    lifecycle: Lifecycle
    access: Access

    # ------------------------------------------------------------------ pushing

    def check_push(self, user: str | None, repo_id: str, revision: str, create_pr: bool = False) -> Space:
        """The Space ``user`` may push to at ``revision`` (else the 404, 401, 403 or 400 of the push)."""
        space = self.access.writable(self.lifecycle.find(repo_id), repo_id, user)
        if create_pr:
            raise HubError(400, "Pull requests aren't emulated: push to main", "BadRequest")
        if revision != BRANCH:
            raise revision_not_found(revision)
        return space

    def preupload(
        self,
        user: str | None,
        repo_id: str,
        revision: str,
        files: Iterable[tuple[str, int]],
        *,
        create_pr: bool = False,
    ) -> dict[str, Any]:
        """``POST .../preupload/{revision}``: how each ``(path, size)`` is sent (always regular).

        A file over :data:`~aiospace.emulator.repo.MAX_FILE_BYTES` is a 413: large-file
        uploads aren't emulated.
        """
        space = self.check_push(user, repo_id, revision, create_pr)
        asked = []
        for path, size in files:
            check_path(path)
            if size > MAX_FILE_BYTES:
                raise file_too_large(path, size)
            asked.append((path, space.files.get(path)))
        return encode.preupload_json(asked)

    def push(
        self,
        user: str | None,
        repo_id: str,
        revision: str,
        request: CommitRequest,
        *,
        create_pr: bool = False,
    ) -> Space:
        """``POST .../commit/{revision}``: apply a commit, all or nothing; the Space reacts.

        The head moves at once; a non-static Space rebuilds (or shows ``NO_APP_FILE``),
        a static one serves the new files. Answers the Space (its ``sha`` is the new head).
        """
        space = self.check_push(user, repo_id, revision, create_pr)
        if request.parent is not None and request.parent != space.sha:
            raise HubError(
                412,
                "A commit has happened since. Please refresh and try again. "
                f"(parentCommit {request.parent[:40]} is not the head of {BRANCH}, {space.sha})",
                "PreconditionFailed",
            )
        files = apply_operations(space.files, request.operations)
        self._move_head(space, files, request.summary)
        return space

    def _move_head(self, space: Space, files: dict[str, bytes], summary: str) -> None:
        """Make ``files`` the head's, in a new commit child of the head."""
        space.trees.setdefault(space.sha, space.files)
        new = commit_oid(tree_oid(files), space.sha, summary)
        space.files = files
        space.trees[new] = files
        while len(space.trees) > MAX_REVISIONS:
            del space.trees[next(iter(space.trees))]
        self.lifecycle.commit(space, sha=new)

    def push_files(
        self,
        repo_id: str,
        files: Mapping[str, bytes | str] | None = None,
        *,
        delete: Iterable[str] = (),
        summary: str = "Update files",
    ) -> Space:
        """Admin: commit ``files`` (str: UTF-8) and deletions to a Space, with no access check.

        The same as a push (same limits, same reaction), for seeds and tests.
        """
        space = self.lifecycle.space(repo_id)
        operations: list[Any] = [DeleteFile(path) for path in delete]
        for path, content in (files or {}).items():
            data = content.encode() if isinstance(content, str) else bytes(content)
            operations.append(AddFile(path, data))
        new = apply_operations(space.files, operations)
        self._move_head(space, new, summary)
        return space

    # ------------------------------------------------------------------ reading files

    def _files_at(self, user: str | None, repo_id: str, revision: str) -> tuple[Space, str, dict[str, bytes]]:
        space = self.access.readable(self.lifecycle.find(repo_id), repo_id, user)
        if space.protected and not self.access.can_write(space, user):
            raise not_found(repo_id)  # a protected Space's app is public, its files are not
        if revision in (BRANCH, space.sha):
            return space, space.sha, space.files
        files = space.trees.get(revision)
        if files is None:
            raise revision_not_found(revision)
        return space, revision, files

    def revision_info(
        self, user: str | None, repo_id: str, revision: str, expand: Iterable[str] = ()
    ) -> dict[str, Any]:
        """``GET /api/spaces/{repo_id}/revision/{revision}``: the Space's info at that commit."""
        space, sha, files = self._files_at(user, repo_id, revision)
        wanted = list(expand)
        unknown = [e for e in wanted if e not in encode.EXPAND_PROPERTIES]
        if unknown:
            raise HubError(400, f"Invalid expand value(s): {', '.join(unknown)}")
        info = encode.space_info_json(space, self.lifecycle.wall, wanted, full=True)
        if "sha" in info:
            info["sha"] = sha
        if "siblings" in info:
            info["siblings"] = [{"rfilename": path} for path in sorted(files)]
        return info

    def list_tree(
        self, user: str | None, repo_id: str, revision: str, path: str = "", *, recursive: bool = False
    ) -> list[dict[str, Any]]:
        """``GET .../tree/{revision}/{path}``: the files and folders under ``path`` (404 if none)."""
        _space, _sha, files = self._files_at(user, repo_id, revision)
        path = path.strip("/")
        if path:
            check_path(path)
            if path in files or not any(name.startswith(path + "/") for name in files):
                raise HubError(404, f"{path[:200]} is not a folder at {revision[:100]}", "EntryNotFound")
        return encode.tree_json(files, path, recursive=recursive)

    def read_file(self, user: str | None, repo_id: str, revision: str, path: str) -> tuple[str, bytes]:
        """``GET /spaces/{repo_id}/resolve/{revision}/{path}``: the commit id and the file's content."""
        _space, sha, files = self._files_at(user, repo_id, revision)
        content = files.get(path)
        if content is None:
            raise HubError(404, f"Entry not found: {path[:200]} at {revision[:100]}", "EntryNotFound")
        return sha, content

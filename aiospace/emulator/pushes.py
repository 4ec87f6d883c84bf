"""Pushing files: what the official client's uploads do to a Space, and reading its files back.

The operations behind ``upload_file`` / ``upload_folder`` / ``create_commit`` (the
preupload call, then the commit), and the reads around them (a revision's info, the
tree, a file's content). Like :mod:`~aiospace.emulator.operations` they take the
already-authenticated user (None: anonymous) and validated arguments, and answer
JSON-ready data written by :mod:`~aiospace.emulator.encode`; the files and ids are
:mod:`~aiospace.emulator.repo`'s; what a commit then does over time (the rebuild,
``NO_APP_FILE``, a failure marker) is :mod:`~aiospace.emulator.lifecycle`'s.

* Only the ``main`` branch exists: pushing to another revision is a 404
  (``RevisionNotFound``); pull requests (``create_pr``) are a 400. Reads take what the
  Hub takes: ``HEAD``, ``main`` or a commit's full id (any commit of the Space's history;
  the last :data:`~aiospace.emulator.repo.MAX_REVISIONS` are kept unpacked).
* Every commit is a git commit (:mod:`~aiospace.emulator.gitstore`): an API commit's id
  is the one ``git`` shows, and a ``git push`` (:meth:`Pushes.git_push`) moves the head
  like an API commit does.
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
from .gitstore import TREE_MODE, GitStore, Signature, StoreFull
from .lifecycle import Lifecycle
from .repo import (
    MAX_FILE_BYTES,
    MAX_REVISIONS,
    AddFile,
    CommitRequest,
    DeleteFile,
    apply_operations,
    check_path,
    commit_message,
    file_too_large,
    write_commit,
)
from .state import HubError, Space, not_found

__all__ = ["BRANCH", "HEAD_ALIASES", "Pushes", "revision_not_found", "signature"]

#: The one branch of every Space.
BRANCH = "main"
#: What names the head commit in a read (besides its id), as on the Hub.
HEAD_ALIASES = frozenset({"HEAD", BRANCH, f"refs/heads/{BRANCH}"})
_MAX_MODE_WALK = 20_000  # tree entries walked to find a head's executable files


def signature(user: str | None, when: float) -> Signature:
    """The author and committer of a commit ``user`` makes at the Unix time ``when``."""
    name = user or "aiospace-emulator"
    return Signature(name, f"{name}@users.noreply.huggingface.co", int(when))


def _head_modes(store: GitStore, sha: str) -> dict[str, bytes]:
    """The paths of ``sha``'s tree whose mode isn't a regular file's (executables), tree objects only."""
    if not store.is_commit(sha):
        return {}
    modes: dict[str, bytes] = {}
    stack = [("", store.commit(sha).tree)]
    walked = 0
    while stack and walked < _MAX_MODE_WALK:
        prefix, tree = stack.pop()
        for mode, name, oid in store.tree_entries(tree):
            walked += 1
            if mode == TREE_MODE:
                stack.append((f"{prefix}{name}/", oid))
            elif mode != b"100644":
                modes[f"{prefix}{name}"] = mode
    return modes


def revision_not_found(revision: str) -> HubError:
    """The 404 of a revision the Space doesn't have (``X-Error-Code: RevisionNotFound``)."""
    return HubError(
        404,
        f"Invalid rev id: {revision[:100]} (the emulator's Spaces have one branch, {BRANCH}: "
        f"a revision is HEAD, {BRANCH} or a commit's full id)",
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
        if revision not in (BRANCH, f"refs/heads/{BRANCH}"):
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
        self._move_head(space, files, commit_message(request.summary, request.description), user)
        return space

    def _move_head(self, space: Space, files: dict[str, bytes], message: str, user: str | None) -> None:
        """Make ``files`` the head's, in a new git commit child of the head (by ``user``)."""
        who = signature(user, self.lifecycle.wall(self.lifecycle.now()).timestamp())
        parent = space.sha if space.git.is_commit(space.sha) else None
        try:
            new = write_commit(space.git, files, parent, who, message, _head_modes(space.git, space.sha))
        except StoreFull as err:
            raise HubError(413, f"{space.id}: {err} (the emulator's limit)", "BadRequest") from err
        self._set_head(space, new, files)

    def _set_head(self, space: Space, sha: str, files: dict[str, bytes]) -> None:
        """Move the head to commit ``sha`` (holding ``files``): the Space reacts as to any commit."""
        space.trees.setdefault(space.sha, space.files)
        space.files = files
        space.trees[sha] = files
        while len(space.trees) > MAX_REVISIONS:
            del space.trees[next(iter(space.trees))]
        self.lifecycle.commit(space, sha=sha)

    def git_push(self, user: str | None, repo_id: str, old: str, new: str, *, apply: bool = True) -> Space:
        """``git push`` of ``main`` from ``old`` to ``new`` (a commit whose objects are in the store).

        The head moves like an API commit's (the same file limits, the same reaction);
        ``apply=False`` checks only.
        Refused: a stale ``old`` (the head moved since the pusher fetched: 409), a commit
        whose files the emulator can't keep (a symbolic link, a submodule, a bad path, a
        file over the size limit: 400/413). A force-push (``new`` doesn't descend from
        the head) is accepted, as the Hub accepts it on a Space's ``main``.
        """
        space = self.access.writable(self.lifecycle.find(repo_id), repo_id, user)
        if old != space.sha:
            raise HubError(409, f"the head of {BRANCH} moved since (now {space.sha[:12]}): fetch first")
        if not space.git.is_commit(new):
            raise HubError(400, f"{new[:40]} is not a commit the push sent")
        try:
            tree, _modes = space.git.read_tree(space.git.commit(new).tree)
        except ValueError as err:
            raise HubError(400, f"{err}", "BadRequest") from err
        files = apply_operations({}, [AddFile(path, content) for path, content in tree.items()])
        if apply:
            self._set_head(space, new, files)
        return space

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
        self._move_head(space, new, commit_message(summary), None)
        return space

    # ------------------------------------------------------------------ reading files

    def _files_at(self, user: str | None, repo_id: str, revision: str) -> tuple[Space, str, dict[str, bytes]]:
        space = self.access.readable(self.lifecycle.find(repo_id), repo_id, user)
        if space.protected and not self.access.can_write(space, user):
            raise not_found(repo_id)  # a protected Space's app is public, its files are not
        if revision in HEAD_ALIASES or revision == space.sha:
            return space, space.sha, space.files
        files = space.trees.get(revision)
        if files is None and space.git.is_commit(revision):  # an older commit: unpack its tree
            try:
                files = space.git.read_tree(space.git.commit(revision).tree)[0]
            except ValueError:
                files = None
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

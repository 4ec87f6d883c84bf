"""The access rules: users and their tokens, organizations and their members, who may do what.

* A request's ``Authorization: Bearer <token>`` names a user; no header is an
  anonymous caller; an unknown or malformed token is a 401.
* Public Spaces are readable by anyone; a private Space answers 404 (never 403: the
  Hub hides its existence) to anyone who can't write to it.
* Only the owner, or a member of the owning organization, may change a Space (or
  read its secrets and variables): others get 403, anonymous callers 401.
* Users and organizations share one namespace, and both must be valid repo-id
  namespaces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from .._hub.validate import check_repo_id
from .state import HubError, Space, not_found

__all__ = ["Access", "bearer_token"]


class Access:
    """Users (by token), organizations (with their members), and the rules they grant."""

    def __init__(self) -> None:
        self.users: dict[str, str] = {}  # token -> user name
        self.orgs: dict[str, set[str]] = {}  # org name -> members

    # ------------------------------------------------------------------ users and organizations

    def add_user(self, name: str, token: str | None = None) -> str:
        """Add a user (or give an existing one another token); return the token."""
        _check_namespace(name, "user")
        if name in self.orgs:
            raise ValueError(f"{name!r} is an organization")
        token = token or f"hf_{name}_{hashlib.sha256(name.encode()).hexdigest()[:12]}"
        if token in self.users and self.users[token] != name:
            raise ValueError(f"token already belongs to {self.users[token]!r}")
        self.users[token] = name
        return token

    def token_for(self, user: str) -> str:
        """A token of ``user`` (KeyError if unknown)."""
        for token, name in self.users.items():
            if name == user:
                return token
        raise KeyError(user)

    def add_org(self, name: str, members: Iterable[str]) -> None:
        """Add an organization; its members may write to its Spaces."""
        _check_namespace(name, "organization")
        if name in self.users.values():
            raise ValueError(f"{name!r} is a user: an organization can't take its name")
        people = list(members)
        for member in people:
            _check_namespace(member, "member")
        self.orgs.setdefault(name, set()).update(people)

    def orgs_of(self, user: str) -> list[str]:
        """The organizations ``user`` is a member of."""
        return [org for org, members in self.orgs.items() if user in members]

    # ------------------------------------------------------------------ rules

    def authenticate(self, authorization: str | None) -> str | None:
        """The user behind an ``Authorization`` header (None: anonymous; 401 if invalid)."""
        if authorization is None:
            return None
        token = bearer_token(authorization)
        user = None if token is None else self.users.get(token)
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def known_token(self, authorization: str | None) -> str | None:
        """The token of an ``Authorization`` header if it names a user (None otherwise)."""
        token = None if authorization is None else bearer_token(authorization)
        return token if token is not None and token in self.users else None

    def can_write(self, space: Space, user: str | None) -> bool:
        """The owner, or a member of the owning organization."""
        return user is not None and (user == space.author or user in self.orgs.get(space.author, ()))

    def can_read(self, space: Space, user: str | None) -> bool:
        """Public Spaces to anyone; private ones to those who can write."""
        return not space.private or self.can_write(space, user)

    def readable(self, space: Space | None, repo_id: str, user: str | None) -> Space:
        """``space`` if ``user`` may read it; the 404 of a missing Space otherwise."""
        if space is None or not self.can_read(space, user):
            raise not_found(repo_id)
        return space

    def writable(self, space: Space | None, repo_id: str, user: str | None) -> Space:
        """``space`` if ``user`` may change it; else 404 (hidden), 401 (anonymous) or 403."""
        space = self.readable(space, repo_id, user)
        if user is None:
            raise HubError(401, "You must be authenticated to change a Space")
        if not self.can_write(space, user):
            raise HubError(403, f"You don't have the rights to change spaces/{repo_id}")
        return space

    def check_create(self, namespace: str, user: str | None, action: str = "duplicate a Space") -> str:
        """``user`` if they may create a Space in ``namespace`` (theirs or one of their orgs')."""
        if user is None:
            raise HubError(401, f"You must be authenticated to {action}")
        if namespace != user and user not in self.orgs.get(namespace, ()):
            raise HubError(403, f"You don't have the rights to create a Space in {namespace}")
        return user


def bearer_token(authorization: str) -> str | None:
    """The token of ``Bearer <token>``: the scheme in any case, any whitespace around (None: not one)."""
    parts = authorization.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    token = parts[1].strip()
    return token if token and len(token.split()) == 1 else None


def _check_namespace(name: Any, what: str) -> None:
    """A user or organization name: the first part of a repo id."""
    if not isinstance(name, str):
        raise ValueError(f"a {what} name must be a string")
    try:
        check_repo_id(f"{name}/x", what)
    except ValueError as exc:
        raise ValueError(f"invalid {what} name {name[:100]!r}") from exc

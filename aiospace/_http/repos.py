"""Creating, duplicating and deleting a Space: what the Hub's refusals mean beyond their status
(a busy Hub, a Space that exists already, one that is gone)."""

from __future__ import annotations

import attrs

from .._hub import requests
from .._hub.convert import DuplicatedURL, WhoAmI, structure
from .._hub.requests import Request
from .._hub.validate import check_flag, check_repo_id
from ..errors import ConflictError, HubHTTPError, SpaceNotFoundError
from ..models import CreatedSpace, DuplicatedSpace, SpaceInfo
from .transport import Transport

__all__ = ["CONFLICT_ATTEMPTS", "create", "delete", "duplicate"]

#: Attempts of a create that the Hub refuses with "another conflicting operation is in progress".
CONFLICT_ATTEMPTS = 10
_CONFLICTING_OPERATION = "another conflicting operation is in progress"


def _space_url(transport: Transport, repo_id: str) -> str:
    return f"{transport.endpoint}/spaces/{repo_id}"


async def _url_of(transport: Transport, request: Request) -> DuplicatedURL:
    data, headers, status, _ = await transport.call(request)
    return structure(data, DuplicatedURL, request, status, headers, transport.redact)


async def create(transport: Transport, request: Request, *, exist_ok: bool) -> CreatedSpace:
    """Send a ``create_space`` request; see :meth:`aiospace.SpaceClient.create_space`.

    A 409 "another conflicting operation is in progress" is retried with backoff, up to
    :data:`CONFLICT_ATTEMPTS` attempts. With ``exist_ok``, another 409, or a 401, 402 or 403
    when the Space can be read, means the Space exists: its id and URL are returned.
    """
    check_flag(exist_ok, "exist_ok")
    repo_id = request.repo_id or ""
    attempt = 0
    while True:
        try:
            return CreatedSpace(repo_id=repo_id, url=(await _url_of(transport, request)).url)
        except ConflictError as error:
            if _CONFLICTING_OPERATION not in error.message.lower():
                if not exist_ok:
                    raise
                return CreatedSpace(repo_id=repo_id, url=_space_url(transport, repo_id))
            # Not "it exists": the Hub is busy with another create of this user's.
            if attempt + 1 >= CONFLICT_ATTEMPTS:
                raise
        except HubHTTPError as error:
            if not (exist_ok and error.status in (401, 402, 403)):
                raise
            info = requests.space_info(repo_id)
            try:
                data, headers, status, _ = await transport.call(info)
                structure(data, SpaceInfo, info, status, headers, transport.redact)
            except HubHTTPError:
                raise error from None
            return CreatedSpace(repo_id=repo_id, url=_space_url(transport, repo_id))
        await transport.clock.sleep(transport.backoff(attempt))
        attempt += 1
        transport.stats.retries += 1


async def duplicate(
    transport: Transport, request: Request, to_id: str | None, *, exist_ok: bool
) -> DuplicatedSpace:
    """Send a ``duplicate_space`` request; see :meth:`aiospace.SpaceClient.duplicate_space`.

    For ``to_id=None`` (``request`` was built with the source's id as the target), the copy
    goes to the caller's namespace (one ``whoami`` asks which). With ``exist_ok``, a 409
    means the target exists: ``existed=True``.
    """
    if to_id is None:
        who = requests.whoami()
        data, headers, status, _ = await transport.call(who)
        name = structure(data, WhoAmI, who, status, headers, transport.redact).name
        to_id = check_repo_id(f"{name}/{str(request.repo_id).split('/')[1]}", "to_id")
        request = attrs.evolve(request, json={**request.json, "repository": to_id})
    try:
        answer = await _url_of(transport, request)
    except ConflictError:
        if not exist_ok:
            raise
        return DuplicatedSpace(repo_id=to_id, url=_space_url(transport, to_id), existed=True)
    return DuplicatedSpace(repo_id=to_id, url=answer.url, files_copy_pending=answer.files_copy_pending)


async def delete(transport: Transport, request: Request, *, missing_ok: bool) -> None:
    """Send a ``delete_space`` request; a missing Space is not an error with ``missing_ok``."""
    check_flag(missing_ok, "missing_ok")
    try:
        await transport.call(request, read=False)
    except SpaceNotFoundError:
        if not missing_ok:
            raise

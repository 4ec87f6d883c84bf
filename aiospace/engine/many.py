"""Waiting for many Spaces at once: :func:`wait_for_spaces` and each Space's :class:`WaitOutcome`.

One :func:`~aiospace.engine.wait.wait_for_space` per Space, all in one task group on the
client's one rate budget (every poll of every wait takes its request from it). A wait that
fails doesn't cancel the others: each Space's outcome is its runtime or its typed error,
reported (``on_settled``) as it settles and returned in the order asked. A bug (an error
that isn't an :class:`~aiospace.errors.AiospaceError`, say from a caller's callback) or a
cancellation ends them all and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import anyio
import attrs

from .._hub.validate import check_repo_id, check_seconds
from ..errors import AiospaceError, InvalidArgumentError, SpaceFailedError, WaitError, WaitTimeoutError
from ..models import SpaceRuntime
from ._client import HubClient
from .options import OnTrouble, WaitFor
from .ready import DEFAULT_READY_TIMEOUT
from .transitions import Cadence, Transition
from .wait import wait_for_space

__all__ = ["MAX_SPACES", "WaitOutcome", "wait_for_spaces", "worst"]

#: The most Spaces one call waits for.
MAX_SPACES = 1000


@attrs.frozen
class WaitOutcome:
    """How one Space's wait ended: its ``runtime`` (it reached what was asked) or its ``error``.

    ``elapsed`` is the Hub seconds from the start of the waits to this one's end.
    """

    repo_id: str
    runtime: SpaceRuntime | None = None
    error: AiospaceError | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """The Space reached what was asked."""
        return self.error is None

    @property
    def kind(self) -> str:
        """``"ok"``, ``"failed"`` (a :class:`~aiospace.errors.WaitError` other than a timeout),
        ``"timeout"``, or ``"error"`` (the Hub refused, or could not be read)."""
        if self.error is None:
            return "ok"
        if isinstance(self.error, WaitTimeoutError):
            return "timeout"
        if isinstance(self.error, (SpaceFailedError, WaitError)):
            return "failed"
        return "error"


_RANK = {"ok": 0, "timeout": 1, "failed": 2, "error": 3}


def worst(outcomes: Iterable[WaitOutcome]) -> WaitOutcome | None:
    """The worst outcome (an error over a failure over a timeout over success; the first of equals)."""
    found: WaitOutcome | None = None
    for outcome in outcomes:
        if found is None or _RANK[outcome.kind] > _RANK[found.kind]:
            found = outcome
    return found


async def wait_for_spaces(
    client: HubClient,
    repo_ids: Iterable[str],
    want: WaitFor | None = None,
    trouble: OnTrouble | None = None,
    *,
    timeout: float | None = None,
    cadence: Cadence | None = None,
    ready_timeout: float = DEFAULT_READY_TIMEOUT,
    on_settled: Callable[[WaitOutcome], None] | None = None,
    on_transition: Callable[[Transition], None] | None = None,
) -> list[WaitOutcome]:
    """Wait for every Space of ``repo_ids`` as :func:`~aiospace.engine.wait.wait_for_space` does,
    all at once; return each one's :class:`WaitOutcome`, in the order asked (a repeated id once).

    The client's door: ``await hub.wait_for_spaces(["alice/a", "alice/b"], WaitFor(ready=True),
    timeout=900)``. ``want`` (:class:`~aiospace.engine.options.WaitFor`) defaults to ``RUNNING``,
    ``trouble`` (:class:`~aiospace.OnTrouble`) to doing nothing about trouble.

    ``timeout`` (Hub seconds) bounds each wait, all started together. ``on_settled`` hears
    each outcome as it settles; ``on_transition`` every transition of every Space.

    Raises :class:`~aiospace.errors.InvalidArgumentError` before any request: a bad id or
    option, no Space, more than :data:`MAX_SPACES`. Nothing else of a Space's wait is raised:
    it is that Space's outcome.
    """
    ids = list(dict.fromkeys(check_repo_id(r) for r in _ids(repo_ids)))
    if not ids:
        raise InvalidArgumentError("repo_ids", "no Space to wait for")
    if len(ids) > MAX_SPACES:
        raise InvalidArgumentError("repo_ids", f"{len(ids)} Spaces: at most {MAX_SPACES} at once")
    check_seconds(timeout, "timeout", optional=True)
    check_seconds(ready_timeout, "ready_timeout")
    for name, hook in (("on_settled", on_settled), ("on_transition", on_transition)):
        if hook is not None and not callable(hook):
            raise InvalidArgumentError(name, f"expected a function, got {type(hook).__name__}")
    want = WaitFor() if want is None else want
    trouble = OnTrouble() if trouble is None else trouble
    clock = client.clock
    start = clock.now()
    outcomes: dict[str, WaitOutcome] = {}

    bugs: list[Exception] = []

    async def one(repo_id: str, scope: anyio.CancelScope) -> None:
        try:
            await settle(repo_id)
        except Exception as bug:  # not a Space's outcome: ends them all, raised as itself
            bugs.append(bug)
            scope.cancel()

    async def settle(repo_id: str) -> None:
        try:
            runtime = await wait_for_space(
                client,
                repo_id,
                want,
                trouble,
                timeout=timeout,
                cadence=cadence,
                on_transition=on_transition,
                ready_timeout=ready_timeout,
            )
            outcome = WaitOutcome(repo_id, runtime=runtime, elapsed=clock.now() - start)
        except AiospaceError as error:
            outcome = WaitOutcome(repo_id, error=error, elapsed=clock.now() - start)
        outcomes[repo_id] = outcome
        if on_settled is not None:
            on_settled(outcome)

    async with anyio.create_task_group() as tg:
        for repo_id in ids:
            tg.start_soon(one, repo_id, tg.cancel_scope)
    if bugs:
        raise bugs[0]
    return [outcomes[repo_id] for repo_id in ids]


def _ids(repo_ids: Iterable[str]) -> list[str]:
    if isinstance(repo_ids, str) or not isinstance(repo_ids, Iterable):
        got = "one str: put it in a list" if isinstance(repo_ids, str) else type(repo_ids).__name__
        raise InvalidArgumentError("repo_ids", f"expected an iterable of repo ids, got {got}")
    return list(repo_ids)

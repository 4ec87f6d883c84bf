"""Waiting for a Space: :func:`wait_for_space` on a :class:`~aiospace.watch.SpaceWatch`.

It returns once the Space reaches what was asked (a stage, a flavor, any predicate),
and raises a typed error when it lands in an error stage (with the tail of its logs)
or when the time is up (with the last runtime seen).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import deque
from collections.abc import Callable

import anyio

from ._validate import check_flavor, check_repo_id
from .errors import AiospaceError, InvalidArgumentError, SpaceFailedError, WaitTimeoutError
from .models import SpaceHardware, SpaceRuntime, SpaceStage
from .session import HubSession
from .transitions import Cadence, Transition
from .watch import SpaceWatch

__all__ = ["log_tail", "wait_for_space"]

log = logging.getLogger("aiospace.watch")


def _target_stage(stage: SpaceStage | str) -> SpaceStage:
    """A known stage, any case (``"running"``); an unknown one would never be reached."""
    if isinstance(stage, str):
        found = SpaceStage.__members__.get(stage.upper())
        if found is not None:
            return found
    raise InvalidArgumentError(
        "stage", f"{stage!r} is not a known stage ({', '.join(SpaceStage.__members__)})"
    )


async def wait_for_space(
    client: HubSession,
    repo_id: str,
    *,
    timeout: float | None = None,
    stage: SpaceStage | str = SpaceStage.RUNNING,
    hardware: SpaceHardware | str | None = None,
    until: Callable[[SpaceRuntime], bool] | None = None,
    cadence: Cadence | None = None,
    log_lines: int = 20,
    log_timeout: float = 30.0,
    on_transition: Callable[[Transition], None] | None = None,
) -> SpaceRuntime:
    """Wait until the Space reaches ``stage`` (``RUNNING``), on ``hardware`` if given.

    ``until`` replaces that test with any predicate on the runtime. Returns the final
    runtime. ``on_transition`` hears every transition seen on the way (for progress).

    Raises:
        SpaceFailedError: the Space landed in an error stage; it carries the runtime and
            the last ``log_lines`` lines of its build or run log (read within
            ``log_timeout`` Hub seconds, even past ``timeout``: the failure wins).
        WaitTimeoutError: ``timeout`` Hub seconds went by; it carries the last runtime.
        InvalidArgumentError: an unknown ``stage``, a bad flavor or timeout (before any request).
        HubHTTPError: the Space is gone or out of reach (404, 401, 403).
        BadAnswerError: ``cadence.max_bad_answers`` answers in a row the client can't
            read (a changed Hub schema): the wait never spins in silence.
    """
    want_stage = _target_stage(stage)
    want_hardware = None if hardware is None else check_flavor(hardware)
    check_repo_id(repo_id)
    for name, value in (("timeout", timeout), ("log_timeout", log_timeout)):
        if value is not None and not (
            isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= math.inf
        ):
            raise InvalidArgumentError(name, f"{value!r} must be a number of seconds >= 0")

    def reached(runtime: SpaceRuntime) -> bool:
        if until is not None:
            return until(runtime)
        if runtime.stage != want_stage:
            return False
        return want_hardware is None or (
            runtime.hardware == want_hardware and runtime.requested_hardware == want_hardware
        )

    clock = client.clock
    failed: SpaceRuntime | None = None
    async with SpaceWatch(client, repo_id, cadence=cadence) as watch:
        with anyio.move_on_after(math.inf if timeout is None else timeout / clock.speed):
            async for transition in watch:
                if on_transition is not None:
                    on_transition(transition)
                runtime = transition.current
                if reached(runtime):
                    return runtime
                if runtime.is_error:
                    failed = runtime
                    break
    if failed is None:
        raise WaitTimeoutError(repo_id, timeout or 0.0, watch.last)
    lines: list[str] = []
    with anyio.move_on_after(log_timeout / clock.speed):
        lines = await log_tail(client, repo_id, failed, log_lines)
    raise SpaceFailedError(repo_id, failed, lines)


async def log_tail(client: HubSession, repo_id: str, runtime: SpaceRuntime, count: int) -> list[str]:
    """The last ``count`` lines of the log that explains ``runtime``'s stage (best effort: [] on failure).

    The build log for a stage of the build (``BUILD_ERROR``, ``CONFIG_ERROR``,
    ``NO_APP_FILE``), the run log otherwise.
    """
    if count <= 0:
        return []
    build = runtime.stage in (SpaceStage.BUILD_ERROR, SpaceStage.CONFIG_ERROR, SpaceStage.NO_APP_FILE)
    tail: deque[str] = deque(maxlen=count)
    try:
        async with contextlib.aclosing(client.fetch_space_logs(repo_id, build=build)) as lines:
            async for line in lines:
                tail.append(line)
    except AiospaceError as exc:
        log.debug("could not read the logs of %s: %s", repo_id, exc)
    return list(tail)

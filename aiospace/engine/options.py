"""What a wait is for (:class:`WaitFor`) and what it may do about trouble (:class:`OnTrouble`).

Two small frozen option objects, each the one home of its options: the client's
:meth:`~aiospace.SpaceClient.wait_for_space` and :meth:`~aiospace.SpaceClient.lease` and the
CLI build them, :func:`aiospace.engine.wait.wait_for_space` takes them. Each field is checked
once, when the object is made: a bad one raises :class:`~aiospace.errors.InvalidArgumentError`
naming it, before any request. Both take keywords only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Literal

import attrs

from .._hub.validate import check_count, check_flavor, check_seconds
from ..errors import InvalidArgumentError
from ..models import SpaceHardware, SpaceRuntime, SpaceStage
from .transitions import StallAfter, stall_limits

__all__ = ["OnStall", "OnTrouble", "WaitFor"]

#: What a wait does when the Space stalls: raise, or rebuild it once without cache.
OnStall = Literal["raise", "factory_reboot"]

_SHA = re.compile(r"[0-9a-f]{40}")


def _stage(stage: SpaceStage | str) -> SpaceStage:
    """A known stage, any case (``"running"``); an unknown one would never be reached."""
    if isinstance(stage, str):
        found = SpaceStage.__members__.get(stage.upper())
        if found is not None:
            return found
    raise InvalidArgumentError(
        "stage", f"{stage!r} is not a known stage ({', '.join(SpaceStage.__members__)})"
    )


def _hardware(hardware: SpaceHardware | str | None) -> SpaceHardware | None:
    return None if hardware is None else check_flavor(hardware)


def _revision(revision: str | None) -> str | None:
    if revision is None:
        return None
    if not isinstance(revision, str) or not _SHA.fullmatch(revision.lower()):
        raise InvalidArgumentError(
            "revision", f"{revision!r} must be a full commit sha (40 hex digits, as CommitInfo.oid)"
        )
    return revision.lower()


#: What ``WaitFor.until`` takes: a predicate on the runtime.
Predicate = Callable[[SpaceRuntime], bool]


def _function(
    instance: object, attribute: attrs.Attribute[Predicate | None], value: Predicate | None
) -> None:
    if value is not None and not callable(value):
        raise InvalidArgumentError(attribute.name, f"expected a function, got {type(value).__name__}")


def _flag(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise InvalidArgumentError(attribute.name, f"expected a bool, got {type(value).__name__}")


@attrs.frozen(kw_only=True)
class WaitFor:
    """What a wait is for: the Space in ``stage``, on ``hardware``, serving ``revision``; or ``until``;
    and (``ready``) its app answering.

    Attributes:
        stage: the stage to reach (a :class:`~aiospace.SpaceStage`, or its name in any case).
        hardware: also the flavor it must run on and have requested (None: any).
        revision: a full commit sha (40 hex digits, as an upload's ``CommitInfo.oid``): only
            once the Space serves that commit, never with a runtime observed before its build
            began. Stored in lower case.
        until: a predicate on the runtime that replaces the ``stage`` and ``hardware`` test
            (``revision`` still applies).
        ready: also until the Space's app answers (a status below 500, at the URL the Hub
            names): see :mod:`aiospace.engine.ready`. Needs a stage in which a container
            serves (``RUNNING``...), or ``until``.

    Raises :class:`~aiospace.errors.InvalidArgumentError` naming the field: an unknown stage,
    a malformed flavor, a revision that is not a full sha, an ``until`` that is not callable,
    ``ready`` with a stage in which no app answers.
    """

    stage: SpaceStage = attrs.field(default=SpaceStage.RUNNING, converter=_stage)
    hardware: SpaceHardware | None = attrs.field(default=None, converter=_hardware)
    revision: str | None = attrs.field(default=None, converter=_revision)
    until: Predicate | None = attrs.field(default=None, validator=_function)
    ready: bool = attrs.field(default=False, validator=_flag)

    def __attrs_post_init__(self) -> None:
        if self.ready and self.until is None and not self.stage.is_serving:
            raise InvalidArgumentError("ready", f"no app answers in {self.stage} (wait for RUNNING)")


def _on_stall(on_stall: str) -> OnStall:
    if on_stall == "raise":
        return "raise"
    if on_stall in ("factory_reboot", "factory-reboot"):  # the CLI's spelling is the library's too
        return "factory_reboot"
    raise InvalidArgumentError("on_stall", f"{on_stall!r} must be 'raise' or 'factory_reboot'")


def _stall_after(stall_after: StallAfter | None) -> StallAfter | None:
    stall_limits(stall_after)  # refuses a bad limit
    if stall_after is None or not isinstance(stall_after, Mapping):
        return stall_after
    return MappingProxyType(dict(stall_after))  # a copy: the caller's dict may change later


def _retry_capacity(retry_capacity: int) -> int:
    return check_count(retry_capacity, "retry_capacity")


def _fallbacks(fallback_hardware: Sequence[SpaceHardware | str]) -> tuple[SpaceHardware, ...]:
    if isinstance(fallback_hardware, str) or not isinstance(fallback_hardware, Sequence):
        raise InvalidArgumentError("fallback_hardware", "expected a sequence of flavors")
    return tuple(check_flavor(flavor, "fallback_hardware") for flavor in fallback_hardware)


def _build_grace(build_grace: float) -> float:
    return check_seconds(build_grace, "build_grace")


@attrs.frozen(kw_only=True)
class OnTrouble:
    """What a wait may do about trouble: stalls, capacity failures, a slow build.

    The defaults do nothing about it: the wait raises.

    Attributes:
        on_stall: ``"raise"`` a :class:`~aiospace.errors.SpaceStalledError`;
            ``"factory_reboot"`` (or ``"factory-reboot"``) rebuilds the Space once without
            cache and raises at a second stall.
        stall_after: a stall limit: seconds for every transitional stage, or limits by stage
            (:func:`~aiospace.engine.transitions.stall_limits`). None (the default): builds
            are not judged, and a start is judged against the Space's own
            ``startup_duration_timeout`` (its README card; the Hub's 30 minutes when unset),
            as is a start a mapping doesn't name (:func:`~aiospace.engine.ready.start_limits`).
        retry_capacity: restarts allowed after a scheduling (capacity) failure, each after a
            backoff (30 Hub seconds, doubling, at most 300). An error stage still shown within
            ``build_grace`` after a retry is the failure it cures, not another.
        fallback_hardware: flavors the capacity retries move through, one per retry (then the
            last); needs ``retry_capacity >= 1``.
        build_grace: Hub seconds allowed, once the head is the awaited revision, for its build
            to show; and after a capacity retry, for the restart to show.

    Raises :class:`~aiospace.errors.InvalidArgumentError` naming the field: an unknown
    ``on_stall``, a bad limit, a negative count, a malformed flavor (or one string instead of a
    sequence), fallbacks without retries, a negative or NaN ``build_grace``.
    """

    on_stall: OnStall = attrs.field(default="raise", converter=_on_stall)
    stall_after: StallAfter | None = attrs.field(default=None, converter=_stall_after)
    retry_capacity: int = attrs.field(default=0, converter=_retry_capacity)
    fallback_hardware: tuple[SpaceHardware, ...] = attrs.field(default=(), converter=_fallbacks)
    build_grace: float = attrs.field(default=120.0, converter=_build_grace)

    def __attrs_post_init__(self) -> None:
        if self.fallback_hardware and self.retry_capacity < 1:
            raise InvalidArgumentError(
                "fallback_hardware", "needs retry_capacity >= 1 (the retries move to them)"
            )

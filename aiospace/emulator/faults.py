"""Fault injection: deterministic, seedable failures of the emulated Hub.

A :class:`Fault` targets one route (a name from :data:`aiospace._hub.routes.ROUTES`) or
all (``"*"``), optionally one Space, fires with probability ``rate`` (drawn from
one ``random.Random(seed)``, so a run is reproducible), and at most ``times``
times (None: unlimited). Kinds:

``error``
    The request is not processed; the answer is ``status`` (500, 502 or 503...)
    with a JSON error body, and ``Retry-After: <retry_after>`` when given.
``latency``
    The answer is delayed by ``latency`` plus a uniform ``[0, jitter)`` draw, in
    *simulated* seconds (real delay = seconds / speed). Latency faults add up and
    combine with one other fault.
``reset``
    The request is processed, then the connection is closed after half the body
    was sent (the client sees a disconnection or a payload error).
``truncate``
    The request is processed; the answer is a 200 whose JSON body is cut in half.
``malformed``
    The request is processed; the answer is a 200 whose body is not JSON.
``sse_cut``
    Log streams only: the stream is cut in the middle of an event, after
    ``after_events`` whole events.

``reset``, ``truncate`` and ``malformed`` apply to JSON routes only, ``sse_cut`` to
the two log routes only; a fault never fires (nor counts) on a route it can't apply to.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import attrs

from .._hub.routes import ROUTES

__all__ = ["FAULT_KINDS", "MAX_FAULTS", "MAX_LATENCY", "Fault", "FaultInjector", "Plan"]

#: Faults active at once: every request checks each, so a loop of adds can't slow the emulator.
MAX_FAULTS = 100
#: The longest latency (and jitter) a fault adds, in simulated seconds: an hour.
MAX_LATENCY = 3600.0
FAULT_KINDS = ("error", "latency", "reset", "truncate", "malformed", "sse_cut")
STREAM_ROUTES = frozenset({"fetch_build_logs", "fetch_run_logs"})
_FIELDS = (
    "kind",
    "route",
    "space",
    "rate",
    "times",
    "status",
    "retry_after",
    "latency",
    "jitter",
    "after_events",
)


@attrs.define
class Fault:
    """One fault spec (see the module docstring)."""

    kind: str
    route: str = "*"
    space: str | None = None
    rate: float = 1.0
    times: int | None = None
    status: int = 503
    retry_after: float | None = None
    latency: float = 0.0
    jitter: float = 0.0
    after_events: int = 1
    id: int = 0
    fired: int = 0

    def applies(self, route: str, space: str | None) -> bool:
        """Could fire on this route and Space (ignoring rate and remaining times)."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.route != "*" and self.route != route:
            return False
        if self.space is not None and self.space != space:
            return False
        streaming = route in STREAM_ROUTES
        if self.kind == "sse_cut":
            return streaming
        if self.kind in ("reset", "truncate", "malformed"):
            return not streaming
        return True

    def to_json(self) -> dict[str, Any]:
        """The spec as the admin API lists it."""
        return attrs.asdict(self)


@attrs.frozen
class Plan:
    """What to do to one request: a delay, and at most one outcome fault."""

    delay: float = 0.0
    outcome: Fault | None = None
    #: The kinds of every fault that fired (latency ones included).
    kinds: tuple[str, ...] = ()


class FaultInjector:
    """The active faults and the seeded RNG deciding when they fire."""

    def __init__(self, seed: int | str | None = 0) -> None:
        self.rng = random.Random(seed)
        self.faults: list[Fault] = []
        self._ids = 0
        self.fired: dict[str, int] = {}

    def add(self, kind: str, **options: Any) -> Fault:
        """Add a fault; ``options`` are :class:`Fault` fields. Raises ``ValueError``."""
        return self.add_spec({"kind": kind, **options})

    def add_spec(self, spec: Mapping[str, Any]) -> Fault:
        """Add a fault from a JSON-like mapping (unknown keys are refused)."""
        if not isinstance(spec, Mapping):
            raise ValueError("a fault spec must be an object")
        unknown = set(spec) - set(_FIELDS)
        if unknown:
            raise ValueError(
                f"unknown fault field(s): {', '.join(sorted(map(repr, map(str, unknown))))[:200]}"
            )
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        route = spec.get("route", "*")
        if route != "*" and (not isinstance(route, str) or route not in ROUTES):
            raise ValueError(f"unknown route {str(route)[:100]!r} (a name from ROUTES, or '*')")
        space = spec.get("space")
        if space is not None and not isinstance(space, str):
            raise ValueError("space must be a 'namespace/name' string")
        rate = _number(spec, "rate", 1.0)
        if not 0 <= rate <= 1:
            raise ValueError("rate must be within [0, 1]")
        times = spec.get("times")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
            raise ValueError("times must be an int >= 0 or null")
        status = spec.get("status", 503)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("status must be an int within [400, 599]")
        retry_after = spec.get("retry_after")
        if retry_after is not None:
            retry_after = _number(spec, "retry_after", 0.0)
        after = spec.get("after_events", 1)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValueError("after_events must be an int >= 0")
        latency, jitter = _number(spec, "latency", 0.0), _number(spec, "jitter", 0.0)
        if latency > MAX_LATENCY or jitter > MAX_LATENCY:
            raise ValueError(f"latency and jitter must be at most {MAX_LATENCY:g} simulated seconds")
        if len(self.faults) >= MAX_FAULTS:
            raise ValueError(f"at most {MAX_FAULTS} faults at once: remove some first")
        self._ids += 1
        fault = Fault(
            kind=kind,
            route=route,
            space=space,
            rate=rate,
            times=times,
            status=status,
            retry_after=retry_after,
            latency=latency,
            jitter=jitter,
            after_events=after,
            id=self._ids,
        )
        self.faults.append(fault)
        return fault

    def remove(self, fault_id: int) -> bool:
        """Remove one fault; False if there was none with this id."""
        before = len(self.faults)
        self.faults = [f for f in self.faults if f.id != fault_id]
        return len(self.faults) != before

    def clear(self) -> None:
        """Remove every fault."""
        self.faults = []

    def reseed(self, seed: int | str | None) -> None:
        """Restart the RNG."""
        self.rng = random.Random(seed)

    def plan(self, route: str, space: str | None) -> Plan:
        """Decide the faults of one request (consuming their remaining ``times``)."""
        delay = 0.0
        outcome: Fault | None = None
        kinds: list[str] = []
        for fault in self.faults:
            if not fault.applies(route, space):
                continue
            if fault.kind != "latency" and outcome is not None:
                continue
            if fault.rate < 1 and self.rng.random() >= fault.rate:
                continue
            fault.fired += 1
            self.fired[fault.kind] = self.fired.get(fault.kind, 0) + 1
            kinds.append(fault.kind)
            if fault.kind == "latency":
                delay += fault.latency + (self.rng.uniform(0, fault.jitter) if fault.jitter else 0)
            else:
                outcome = fault
        return Plan(delay, outcome, tuple(kinds))


def _number(spec: Mapping[str, Any], key: str, default: float) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a finite number >= 0")
    try:
        number = float(value)
    except OverflowError:  # an int too big for a float
        number = math.inf
    if not 0 <= number < math.inf:
        raise ValueError(f"{key} must be a finite number >= 0")
    return number

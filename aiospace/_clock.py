"""The one notion of time: a clock that can run faster than real time.

Every timer in aiospace (poll intervals, backoff, Retry-After, the emulator's
lifecycle) reads :meth:`Clock.now` and waits with :meth:`Clock.sleep`, so the
emulator and a client sharing a :class:`ScaledClock` agree on "Hub time" while
tests run many times faster than real time.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

import anyio

from .errors import InvalidArgumentError

__all__ = ["Clock", "ScaledClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic seconds in Hub time, and a sleep measured in the same seconds."""

    @property
    def speed(self) -> float:
        """How many Hub seconds pass per real second."""

    def now(self) -> float:
        """Seconds since an arbitrary origin, monotonic."""

    def wall(self) -> datetime:
        """The current Hub time as an aware UTC datetime."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of Hub time."""


class ScaledClock:
    """A clock running ``speed`` times faster than real time, starting at 0."""

    def __init__(self, speed: float = 1.0) -> None:
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 < speed < math.inf:
            raise InvalidArgumentError("speed", f"{speed!r} must be a finite number > 0")
        self._speed = float(speed)
        self._real_origin = time.monotonic()
        self._wall_origin = datetime.now(timezone.utc)

    @property
    def speed(self) -> float:
        """Hub seconds per real second."""
        return self._speed

    def now(self) -> float:
        """Hub seconds since this clock was made."""
        return (time.monotonic() - self._real_origin) * self._speed

    def wall(self) -> datetime:
        """Hub time as a UTC datetime (real start time plus scaled elapsed time)."""
        return self._wall_origin + timedelta(seconds=self.now())

    def real_seconds(self, hub_seconds: float) -> float:
        """How long ``hub_seconds`` of Hub time last in real time."""
        return hub_seconds / self._speed

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of Hub time (``seconds / speed`` real seconds)."""
        await anyio.sleep(max(0.0, seconds) / self._speed)

    def __repr__(self) -> str:
        return f"ScaledClock(speed={self._speed:g}, now={self.now():.3f})"


class SystemClock(ScaledClock):
    """Real time: the default clock of a client talking to the real Hub."""

    def __init__(self) -> None:
        super().__init__(1.0)

    def __repr__(self) -> str:
        return "SystemClock()"

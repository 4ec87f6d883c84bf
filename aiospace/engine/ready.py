"""What a wait learns from the Space itself: whether its app answers, and its own start timeout.

* **Readiness** (``wait_for_space(..., ready=True)``): once the runtime holds what the wait
  is for, the wait asks the app itself (:meth:`~aiospace.SpaceClient.app_status`, at the
  URL the Hub names in the Space's info: ``host``, else ``subdomain``) until it answers with
  a status below 500. It asks again after 1 Hub second, then 2, 4, up to
  :data:`READY_PROBE_MAX`, and keeps polling the runtime meanwhile (a crash still ends the
  wait as a failure). Past ``ready_timeout`` Hub seconds since the runtime first held, the
  wait raises :class:`~aiospace.errors.AppNotReadyError` with the last status seen. A
  static Space is ready when its page answers.
* **The Space's start timeout**: the Hub flags a Space unhealthy when it stays starting
  past the ``startup_duration_timeout`` of its ``README.md`` card (``cardData``; 30 minutes
  when unset, :data:`HUB_STARTUP_TIMEOUT`). A wait judges a start (``APP_STARTING``,
  ``RUNNING_APP_STARTING``) stalled past that same limit, unless the caller's
  ``stall_after`` names one (:func:`start_limits`). The Space's info is read once, when a
  start is first seen.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping

from .._hub.retry import backoff
from ..errors import AiospaceError
from ..models import SpaceInfo, SpaceRuntime, SpaceStage
from ._client import HubClient
from .transitions import StallAfter, stall_limits

__all__ = [
    "DEFAULT_READY_TIMEOUT",
    "HUB_STARTUP_TIMEOUT",
    "READY_PROBE_MAX",
    "START_STAGES",
    "Readiness",
    "card_duration",
    "start_limits",
    "startup_timeout",
]

log = logging.getLogger("aiospace.watch")

#: Hub seconds a ready wait gives the app to answer once the runtime holds (5 minutes).
DEFAULT_READY_TIMEOUT = 300.0
#: The longest pause between two requests to the app (Hub seconds).
READY_PROBE_MAX = 10.0
#: The Hub's ``startup_duration_timeout`` when a Space's card sets none (30 minutes).
HUB_STARTUP_TIMEOUT = 1800.0
#: The stages of a start, judged against the Space's own start timeout.
START_STAGES = (SpaceStage.APP_STARTING, SpaceStage.RUNNING_APP_STARTING)

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])", re.IGNORECASE)
_WHOLE = re.compile(r"(\s*\d+(?:\.\d+)?\s*[dhms]\s*)+", re.IGNORECASE)
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def card_duration(value: object) -> float | None:
    """A card's duration in seconds: ``"30m"``, ``"2h"``, ``"1h30m"``, ``"90s"``, ``"1d"``, or a
    number of seconds; None when it is none of these (or not above 0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if 0 < value < math.inf else None
    if not isinstance(value, str) or len(value) > 40 or not _WHOLE.fullmatch(value):
        return None
    seconds = sum(float(n) * _UNITS[unit.lower()] for n, unit in _PART.findall(value))
    return seconds if 0 < seconds < math.inf else None


def startup_timeout(info: SpaceInfo | None) -> float:
    """The Space's ``startup_duration_timeout`` (its card's) in seconds; the Hub's 30 minutes
    when unset or unreadable."""
    card = None if info is None else info.card_data
    found = None if not isinstance(card, Mapping) else card_duration(card.get("startup_duration_timeout"))
    return HUB_STARTUP_TIMEOUT if found is None else found


def start_limits(stall_after: StallAfter | None) -> tuple[dict[SpaceStage | str, float], bool]:
    """A wait's stall limits, and whether its starts take the Space's own timeout.

    None (the default): builds are not judged, starts take the Space's. A number: every
    transitional stage, the starts included. A mapping: the stages it names (the others
    :data:`~aiospace.engine.transitions.DEFAULT_STALL_AFTER`'s), the starts it doesn't name
    the Space's.
    """
    limits: dict[SpaceStage | str, float] = {}
    if stall_after is None:
        limits.update(dict.fromkeys(stall_limits(30.0), math.inf))
        return limits, True
    for stage, limit in stall_limits(stall_after).items():
        limits[stage] = limit
    if not isinstance(stall_after, Mapping):
        return limits, False
    named = {str(stage).upper() for stage in stall_after}
    from_space = False
    for stage in START_STAGES:
        if stage.value not in named:
            limits[stage] = math.inf  # until the Space's own is read
            from_space = True
    return limits, from_space


class Readiness:
    """A ready wait's state: when the runtime first held, the app's last answer, the next ask."""

    def __init__(self, client: HubClient, repo_id: str, ready_timeout: float) -> None:
        self.client = client
        self.repo_id = repo_id
        self.ready_timeout = ready_timeout
        #: When the runtime first held what the wait is for (None: not holding now).
        self.since: float | None = None
        self.info: SpaceInfo | None = None
        #: The last status the app answered (None: no answer yet).
        self.last_status: int | None = None
        self.asked = 0
        self.next_ask = -math.inf
        self.url: str | None = None

    def lost(self) -> None:
        """The runtime no longer holds: the app's deadline starts over when it holds again."""
        self.since = None
        self.asked = 0
        self.next_ask = -math.inf

    def overdue(self, now: float) -> bool:
        """``ready_timeout`` has passed since the runtime first held, with no answer below 500."""
        return self.since is not None and now - self.since >= self.ready_timeout

    def waited(self, now: float) -> float:
        """Hub seconds since the runtime first held."""
        return 0.0 if self.since is None else now - self.since

    async def answers(self, runtime: SpaceRuntime, now: float) -> bool:
        """Ask the app (when due): True once it answers with a status below 500."""
        if self.since is None:
            self.since = now
        if now < self.next_ask:
            return False
        self.next_ask = now + backoff(self.asked, 1.0, READY_PROBE_MAX)
        self.asked += 1
        if self.info is None:
            try:
                self.info = await self.client.space_info(self.repo_id)
            except AiospaceError as exc:  # read again when the app is next due
                log.debug("%s: could not read the Space's info: %s", self.repo_id, exc)
                return False
        status, self.url = await self.client.app_status(self.info)
        if status is not None:
            self.last_status = status
        ready = status is not None and status < 500
        if not ready:
            log.debug("%s is %s; its app answered %s", self.repo_id, runtime.stage, status or "nothing")
        return ready

"""ZeroGPU quotas: what each user may still spend on ZeroGPU Spaces, and when it refills.

A user's quota is a number of GPU-seconds per period (:data:`DEFAULT_BASE` per
:data:`PERIOD` unless an admin sets it). The period starts with the first use: until
then no reset time is reported (``resetsAt: null``, as the official client documents).
Spending past the base quota counts as ``overquotaUsed`` (paid GPU-seconds). Once
simulated time passes the reset time, the quota is whole again. *(assumed: the Hub
documents the fields, not the refill rule; a day after the first use is what its
ZeroGPU docs describe.)*

Plain records over simulated time, no I/O: the answer is written by
:func:`aiospace.emulator.encode.zero_gpu_quota_json`.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

__all__ = ["DEFAULT_BASE", "MAX_AMOUNT", "PERIOD", "ZeroGpuQuotas", "ZeroGpuUsage"]

#: GPU-seconds per period by default (the official client's documented example).
DEFAULT_BASE = 2400.0
#: Simulated seconds from the first use of a period to its refill.
PERIOD = 86400.0


@attrs.define
class ZeroGpuUsage:
    """One user's quota: base and remaining GPU-seconds, reset time, overquota spent."""

    base: float = DEFAULT_BASE
    remaining: float = DEFAULT_BASE
    #: Simulated time of the refill (None: not used since the last one).
    resets_at: float | None = None
    overquota_used: float = 0.0


#: The largest figure an admin may set (GPU-seconds, or simulated seconds for ``resets_in``):
#: sums stay finite, and a reset time stays a date.
MAX_AMOUNT = 1e9


def _amount(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number within [0, {MAX_AMOUNT:.0f}]")
    try:
        amount = float(value)
    except OverflowError:  # an int too big for a float
        amount = math.inf
    if not 0 <= amount <= MAX_AMOUNT:
        raise ValueError(f"{name} must be a number within [0, {MAX_AMOUNT:.0f}]")
    return amount


class ZeroGpuQuotas:
    """Every user's :class:`ZeroGpuUsage`, made whole again once its reset time passes."""

    def __init__(self) -> None:
        self.by_user: dict[str, ZeroGpuUsage] = {}

    def get(self, user: str, now: float) -> ZeroGpuUsage:
        """``user``'s quota at simulated time ``now`` (refilled if its period is over)."""
        usage = self.by_user.get(user)
        if usage is None:
            usage = self.by_user[user] = ZeroGpuUsage()
        if usage.resets_at is not None and now >= usage.resets_at:
            usage.remaining = usage.base
            usage.resets_at = None
            usage.overquota_used = 0.0
        return usage

    def use(self, user: str, now: float, seconds: float) -> ZeroGpuUsage:
        """Spend ``seconds`` GPU-seconds: from what remains, the rest as overquota."""
        spent = _amount(seconds, "use")
        usage = self.get(user, now)
        if usage.resets_at is None and spent > 0:
            usage.resets_at = now + PERIOD
        covered = min(spent, usage.remaining)
        usage.remaining -= covered
        usage.overquota_used += spent - covered
        return usage

    def configure(
        self,
        user: str,
        now: float,
        *,
        base: Any = None,
        remaining: Any = None,
        resets_in: Any = None,
        overquota_used: Any = None,
        use: Any = None,
    ) -> ZeroGpuUsage:
        """Set some of ``user``'s figures (admin); ``use`` spends after the others are set.

        ``remaining`` defaults to the new ``base`` when only ``base`` is given;
        ``resets_in`` is in simulated seconds from ``now``. A bad value raises ``ValueError``.
        """
        values = {
            "base": None if base is None else _amount(base, "base"),
            "remaining": None if remaining is None else _amount(remaining, "remaining"),
            "resets_in": None if resets_in is None else _amount(resets_in, "resets_in"),
            "overquota_used": None if overquota_used is None else _amount(overquota_used, "overquota_used"),
            "use": None if use is None else _amount(use, "use"),
        }
        usage = self.get(user, now)
        if values["base"] is not None:
            usage.base = values["base"]
            if values["remaining"] is None:
                usage.remaining = usage.base
        if values["remaining"] is not None:
            usage.remaining = values["remaining"]
        if values["resets_in"] is not None:
            usage.resets_at = now + values["resets_in"]
        if values["overquota_used"] is not None:
            usage.overquota_used = values["overquota_used"]
        if values["use"] is not None:
            self.use(user, now, values["use"])
        return usage

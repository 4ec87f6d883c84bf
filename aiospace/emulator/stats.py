"""Request counters of the emulated Hub (``GET /_emulator/stats``).

Every API request is counted by route name and by Space, every answer by status;
429s and injected faults are counted apart. Admin routes are never counted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["Stats"]


class Stats:
    """Request counters: by route name, by Space, by status; 429s and injected faults."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.total = 0
        self.by_route: Counter[str] = Counter()
        self.by_space: dict[str, Counter[str]] = {}
        self.by_status: Counter[int] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()

    def count(self, route: str, space: str | None) -> None:
        """One request arrived."""
        self.total += 1
        self.by_route[route] += 1
        if space is not None:
            self.by_space.setdefault(space, Counter())[route] += 1

    def to_json(self) -> dict[str, Any]:
        """The counters as ``GET /_emulator/stats`` answers them."""
        return {
            "requests": self.total,
            "by_route": dict(self.by_route),
            "by_space": {
                space: {"total": sum(c.values()), "by_route": dict(c)} for space, c in self.by_space.items()
            },
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "rate_limited": {"total": sum(self.rate_limited.values()), **self.rate_limited},
            "faults": dict(self.faults),
        }

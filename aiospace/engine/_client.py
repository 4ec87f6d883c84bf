"""What the engine needs of a client: a small typed Protocol, so the engine can be tested against a fake.

:class:`~aiospace.SpaceClient` satisfies it; the engine never builds a request or reads an answer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Iterable
from datetime import datetime, timedelta
from typing import Protocol

from .._clock import Clock
from .._http.budget import Exchange, RateBudget
from ..models import SpaceHardware, SpaceHardwareInfo, SpaceInfo, SpaceRuntime


class HubClient(Protocol):
    """The client members the watch engine, waits and leases use."""

    @property
    def clock(self) -> Clock:
        """The Hub's clock: every delay of the engine is in Hub seconds."""

    @property
    def endpoint(self) -> str:
        """The Hub's base URL (a transition's ``url`` is on its origin)."""

    @property
    def budget(self) -> RateBudget:
        """The client's rate budget: every poll takes one request from it."""

    def redact(self, text: str) -> str:
        """``text`` with the token and the client's other credentials masked."""

    def backoff(self, attempt: int) -> float:
        """The client's retry delay before attempt ``attempt + 1`` (Hub seconds)."""

    def subscribe(self, listener: Callable[[Exchange], None]) -> Callable[[], None]:
        """Hear every exchange of the client; returns the unsubscribe function."""

    async def get_space_runtime(self, repo_id: str, *, retry: bool = True) -> SpaceRuntime:
        """The Space's runtime."""

    async def space_info(
        self, repo_id: str, *, expand: Iterable[str] | None = None, retry: bool = True
    ) -> SpaceInfo:
        """The Space's info."""

    async def app_status(self, info: SpaceInfo) -> tuple[int | None, str | None]:
        """One request to the Space's app: its status (None: no answer) and its URL (None: unnamed)."""

    async def author_runtimes(
        self,
        author: str,
        *,
        spaces: Collection[str] | None = None,
        retry: bool = True,
        before_page: Callable[[], Awaitable[None]] | None = None,
        shas: dict[str, str] | None = None,
    ) -> dict[str, SpaceRuntime]:
        """The runtime of every Space of ``author``, by repo id."""

    async def request_space_hardware(
        self, repo_id: str, hardware: SpaceHardware | str, *, sleep_time: int | None = None
    ) -> SpaceRuntime:
        """Ask for a hardware flavor."""

    async def restart_space(self, repo_id: str, *, factory_reboot: bool = False) -> SpaceRuntime:
        """Restart the Space."""

    async def pause_space(self, repo_id: str) -> SpaceRuntime:
        """Pause the Space."""

    async def list_spaces_hardware(self) -> list[SpaceHardwareInfo]:
        """The hardware catalogue."""

    def fetch_space_logs(
        self,
        repo_id: str,
        *,
        build: bool = False,
        follow: bool = False,
        max_reconnects: int = 5,
        since: datetime | timedelta | None = None,
    ) -> AsyncGenerator[str, None]:
        """The Space's log lines."""

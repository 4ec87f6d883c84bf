"""A local Hugging Face Hub emulator for the Spaces runtime API.

Start one in a test::

    from aiospace.emulator import Emulator

    async with Emulator(speed=100) as hub:      # the demo world: alice, bob, 5 Spaces
        hub.url                                 # http://127.0.0.1:<port>
        hub.token_for("alice")                  # "hf_alice"
        hub.world.configure("alice/demo", fail_build=True)
        hub.world.events_for("alice/demo")      # the ground-truth event log

or from a shell: ``aiospace emulator --port 7860 --speed 10``. Spaces are git repositories
too (``git clone {url}/spaces/alice/demo``, with dulwich installed: the ``emulator`` extra). The pytest plugin
(:mod:`aiospace.pytest_plugin`) provides the ``aiospace_emulator`` and
``aiospace_emulator_factory`` fixtures. See ``docs/emulator.md``.

Its modules, from the state up to HTTP, are listed in ``docs/emulator.md`` (where the code lives).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from .._clock import ScaledClock
from .app import ADMIN_PREFIX, HubApp, HubRunner, make_app
from .context import DEFAULT_READ_TIMEOUT
from .faults import Fault, FaultInjector
from .ratelimit import DEFAULT_QUOTA, DEFAULT_WINDOW, RateLimiter
from .seed import DEMO_SEED, SeedLike, apply_seed
from .world import Behaviour, Event, HubError, Space, World

__all__ = [
    "ADMIN_PREFIX",
    "DEFAULT_QUOTA",
    "DEFAULT_WINDOW",
    "DEMO_SEED",
    "Behaviour",
    "Emulator",
    "Event",
    "Fault",
    "FaultInjector",
    "HubError",
    "RateLimiter",
    "Space",
    "World",
    "serve",
]

#: The Spaces ``serve`` names when it starts (a world of 10,000 is summed up, not listed).
_LISTED = 20


class Emulator:
    """An emulated Hub serving on loopback HTTP, driven by one :class:`ScaledClock`.

    ``speed``: simulated seconds per real second. ``seed``: a dict, a path to a JSON
    seed file, or None for the demo world (:data:`DEMO_SEED`). ``quota`` / ``window``:
    the rate limit (None: 10,000 requests per window). ``rng_seed`` seeds the fault
    injector; ``faults`` are fault specs active from the start. ``keepalive``: the
    simulated seconds between two keep-alives of an idle log stream. ``read_timeout``:
    the real seconds a connection may stay idle or half-sent (request line, headers:
    closed after it) and a request's body may send nothing (a 408, then closed).
    """

    def __init__(
        self,
        *,
        speed: float = 50.0,
        seed: SeedLike = None,
        quota: int | None = None,
        window: float = DEFAULT_WINDOW,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_token: str | None = None,
        rng_seed: int | str | None = 0,
        faults: Iterable[Mapping[str, Any]] = (),
        keepalive: float = 10.0,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.clock = ScaledClock(speed)
        self.world = World(self.clock, rng_seed=rng_seed, quota=quota, window=window)
        self.seed = apply_seed(self.world, seed)
        for spec in faults:
            self.world.faults.add_spec(spec)
        self.hub = HubApp(self.world, admin_token=admin_token, keepalive=keepalive, read_timeout=read_timeout)
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def admin_token(self) -> str:
        """The token of the admin routes (``Authorization: Bearer <admin_token>``)."""
        return self.hub.admin_token

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:<port>``); set once started."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def admin_headers(self) -> dict[str, str]:
        """Headers for the admin routes."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    def token_for(self, user: str) -> str:
        """A token of ``user`` (KeyError if there is no such user)."""
        return self.world.token_for(user)

    def headers_for(self, user: str | None) -> dict[str, str]:
        """``Authorization`` headers for ``user`` (None: anonymous)."""
        return {} if user is None else {"Authorization": f"Bearer {self.token_for(user)}"}

    async def start(self) -> Emulator:
        """Bind and serve (idempotent)."""
        if self._runner is not None:
            return self
        runner = HubRunner(
            make_app(self.hub),
            shutdown_timeout=0.5,
            access_log=None,
            keepalive_timeout=self.hub.read_timeout,  # idle or half-sent requests (aiohttp: 1 hour)
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._runner = runner
        return self

    async def stop(self) -> None:
        """Stop serving (open log streams end)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            self.hub.closing = True
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        where = self.url if self._runner is not None else "stopped"
        return f"Emulator({where}, speed={self.clock.speed:g})"


async def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    speed: float = 1.0,
    seed: SeedLike = None,
    quota: int | None = None,
    window: float = DEFAULT_WINDOW,
    *,
    admin_token: str | None = None,
    rng_seed: int | str | None = 0,
    faults: Iterable[Mapping[str, Any]] = (),
    print_fn: Callable[[str], None] = print,
) -> None:
    """Run an emulator until cancelled, printing its URL, admin token and users' tokens."""
    emulator = Emulator(
        speed=speed,
        seed=seed,
        quota=quota,
        window=window,
        host=host,
        port=port,
        admin_token=admin_token,
        rng_seed=rng_seed,
        faults=faults,
    )
    async with emulator as hub:
        print_fn(f"aiospace Hub emulator on {hub.url} (speed {hub.clock.speed:g}x)")
        print_fn(f"  HF_ENDPOINT={hub.url}")
        print_fn(f"  admin token: {hub.admin_token}")
        for token, user in hub.world.users.items():
            print_fn(f"  user {user}: {token}")
        names = list(itertools.islice(hub.world.spaces, _LISTED))
        more = len(hub.world.spaces) - len(names)
        print_fn(f"  Spaces: {', '.join(names) or '(none)'}" + (f" and {more:,} more" if more > 0 else ""))
        print_fn(f"  git: git clone {hub.url}/spaces/OWNER/NAME (a user's token as the password)")
        await asyncio.Event().wait()

"""pytest fixtures for the Hub emulator (registered through the ``pytest11`` entry point).

``aiospace_emulator``: a running :class:`~aiospace.emulator.Emulator` (demo world, speed
50), one per test. Configure it with the marker::

    @pytest.mark.aiospace_emulator(speed=200, seed={"users": {...}, "spaces": [...]})
    async def test_something(aiospace_emulator):
        ...

``aiospace_emulator_factory``: an async callable taking
:class:`~aiospace.emulator.Emulator`'s keyword arguments and returning a started
emulator; every emulator it made is stopped at teardown::

    async def test_two_hubs(aiospace_emulator_factory):
        hub = await aiospace_emulator_factory(speed=1000, quota=5)

Both need pytest-asyncio (the fixtures are async, function-scoped).

Every pytest run of a project with aiospace installed loads this module, so it imports
only pytest and pytest-asyncio itself: the emulator and ``aiohttp.web`` are
imported when a test asks for one of the fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .emulator import Emulator

try:
    import pytest_asyncio as _pytest_asyncio
except ImportError:  # pragma: no cover - without pytest-asyncio there are no async fixtures
    _pytest_asyncio = None  # type: ignore[assignment]

__all__ = ["aiospace_emulator", "aiospace_emulator_factory", "pytest_configure"]

EmulatorFactory = Callable[..., Awaitable["Emulator"]]
MARKER = "aiospace_emulator"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): options of the aiospace_emulator fixture "
        "(speed, seed, quota, window, rng_seed, faults, ...)",
    )


async def _factory() -> AsyncIterator[EmulatorFactory]:
    from .emulator import Emulator  # here, not at the top: runs that don't use the fixtures never load it

    started: list[Emulator] = []

    async def make(**options: Any) -> Emulator:
        emulator = await Emulator(**options).start()
        started.append(emulator)
        return emulator

    try:
        yield make
    finally:
        for emulator in reversed(started):
            await emulator.stop()


async def _emulator(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    from .emulator import Emulator  # here, not at the top: runs that don't use the fixtures never load it

    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        options.update(marker.kwargs)
    async with Emulator(**options) as hub:
        yield hub


if _pytest_asyncio is not None:
    aiospace_emulator_factory = _pytest_asyncio.fixture(_factory, name="aiospace_emulator_factory")
    aiospace_emulator = _pytest_asyncio.fixture(_emulator, name="aiospace_emulator")
else:  # pragma: no cover

    @pytest.fixture(name="aiospace_emulator_factory")
    def aiospace_emulator_factory() -> None:
        pytest.skip("the aiospace_emulator_factory fixture needs pytest-asyncio")

    @pytest.fixture(name="aiospace_emulator")
    def aiospace_emulator() -> None:
        pytest.skip("the aiospace_emulator fixture needs pytest-asyncio")

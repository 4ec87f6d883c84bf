"""The engine against a fake client: no HTTP, no emulator, only the ``HubClient`` Protocol.

``FakeHub`` implements the members of :class:`aiospace.engine._client.HubClient` and nothing
else; a watch, a watcher, a wait and a lease run on it as on a :class:`~aiospace.SpaceClient`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Iterable
from datetime import datetime, timedelta

import anyio
import pytest

from aiospace import Cadence, Change, OnTrouble, ScaledClock, SpaceFailedError, Transition
from aiospace._http.budget import Exchange, RateBudget
from aiospace.engine._client import HubClient
from aiospace.engine.lease import Leases, lease_space
from aiospace.engine.options import WaitFor
from aiospace.engine.wait import wait_for_space
from aiospace.engine.watch import SpaceWatch
from aiospace.engine.watcher import Watcher
from aiospace.models import SpaceHardware, SpaceHardwareInfo, SpaceInfo, SpaceRuntime, SpaceStage

QUICK = Cadence(fast=1.0, slow=4.0, jitter=0.0, after_write=10.0)
CAPACITY = "Scheduling failure: not enough hardware capacity"


def rt(stage: str, hardware: str = "cpu-basic", requested: str | None = None, **kw: object) -> SpaceRuntime:
    return SpaceRuntime(
        SpaceStage(stage),
        SpaceHardware(hardware),
        SpaceHardware(requested or hardware),
        **kw,  # type: ignore[arg-type]
    )


class FakeHub:
    """A Hub in memory: each Space shows its runtime; a script, if any, is read one runtime per poll."""

    def __init__(self, runtimes: dict[str, SpaceRuntime]) -> None:
        self._clock = ScaledClock(speed=1000.0)
        self._budget = RateBudget(self._clock, quota=100_000, window=300.0)
        self.runtimes = dict(runtimes)
        self.scripts: dict[str, deque[SpaceRuntime]] = {}
        self.after_restart: dict[str, list[SpaceRuntime]] = {}
        self.logs: dict[str, list[str]] = {}
        self.calls: list[tuple[str, str]] = []
        self._listeners: list[Callable[[Exchange], None]] = []

    # ------------------------------------------------------------------ the HubClient Protocol

    @property
    def clock(self) -> ScaledClock:
        return self._clock

    @property
    def budget(self) -> RateBudget:
        return self._budget

    @property
    def endpoint(self) -> str:
        return "https://hub.example"

    def redact(self, text: str) -> str:
        return text.replace("hf_SECRET", "***")

    def backoff(self, attempt: int) -> float:
        return 0.5 * 2.0**attempt

    def subscribe(self, listener: Callable[[Exchange], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def get_space_runtime(self, repo_id: str, *, retry: bool = True) -> SpaceRuntime:
        self.calls.append(("get_space_runtime", repo_id))
        return self._read(repo_id)

    async def space_info(
        self, repo_id: str, *, expand: Iterable[str] | None = None, retry: bool = True
    ) -> SpaceInfo:
        self.calls.append(("space_info", repo_id))  # a wait reads the card of a Space it sees start
        return SpaceInfo(id=repo_id)

    async def app_status(self, info: SpaceInfo) -> tuple[int | None, str | None]:
        raise AssertionError("not asked by these tests")

    async def author_runtimes(
        self,
        author: str,
        *,
        spaces: Collection[str] | None = None,
        retry: bool = True,
        before_page: Callable[[], Awaitable[None]] | None = None,
        shas: dict[str, str] | None = None,
    ) -> dict[str, SpaceRuntime]:
        self.calls.append(("author_runtimes", author))
        return {r: self._read(r) for r in self.runtimes if r.startswith(author + "/")}

    async def request_space_hardware(
        self, repo_id: str, hardware: SpaceHardware | str, *, sleep_time: int | None = None
    ) -> SpaceRuntime:
        self.calls.append(("request_space_hardware", f"{repo_id} {hardware}"))
        flavor = SpaceHardware(hardware)
        return self._write(repo_id, rt("RUNNING", flavor, flavor))

    async def restart_space(self, repo_id: str, *, factory_reboot: bool = False) -> SpaceRuntime:
        self.calls.append(("restart_space", repo_id))
        self.scripts[repo_id] = deque(self.after_restart.get(repo_id, []))
        return self._write(repo_id, rt("BUILDING"))

    async def pause_space(self, repo_id: str) -> SpaceRuntime:
        self.calls.append(("pause_space", repo_id))
        return self._write(repo_id, rt("PAUSED"))

    async def list_spaces_hardware(self) -> list[SpaceHardwareInfo]:
        return []

    async def fetch_space_logs(
        self,
        repo_id: str,
        *,
        build: bool = False,
        follow: bool = False,
        max_reconnects: int = 5,
        since: datetime | timedelta | None = None,
    ) -> AsyncGenerator[str, None]:
        for line in self.logs.get(repo_id, []):
            yield line

    # ------------------------------------------------------------------ the fake's own

    def _read(self, repo_id: str) -> SpaceRuntime:
        script = self.scripts.get(repo_id)
        if script:
            self.runtimes[repo_id] = script.popleft()
        return self.runtimes[repo_id]

    def _write(self, repo_id: str, runtime: SpaceRuntime) -> SpaceRuntime:
        self.runtimes[repo_id] = runtime
        exchange = Exchange("write", "POST", f"/api/spaces/{repo_id}", repo_id, 200, None)
        for listener in list(self._listeners):
            listener(exchange)
        return runtime


def test_the_fake_is_a_hub_client() -> None:
    client: HubClient = FakeHub({})  # mypy checks the Protocol here
    assert client.clock.speed == 1000.0


async def test_a_watch_reports_the_changes_the_fake_shows() -> None:
    hub = FakeHub({"a/b": rt("BUILDING")})
    hub.scripts["a/b"] = deque([rt("BUILDING"), rt("BUILDING"), rt("APP_STARTING"), rt("RUNNING")])
    seen: list[Transition] = []
    with anyio.fail_after(10):
        async with SpaceWatch(hub, "a/b", cadence=QUICK) as watch:
            async for transition in watch:
                seen.append(transition)
                if transition.current.stage == SpaceStage.RUNNING:
                    break
    assert [t.current.stage for t in seen] == ["BUILDING", "APP_STARTING", "RUNNING"]
    assert seen[0].is_initial and watch.stats.requests == 4
    assert hub.calls == [("get_space_runtime", "a/b")] * 4
    assert hub._listeners == []  # closed: its listener went with it


async def test_a_wait_retries_a_capacity_failure_on_the_fake() -> None:
    hub = FakeHub({"a/b": rt("RUNTIME_ERROR", error_message=CAPACITY)})
    hub.after_restart["a/b"] = [rt("BUILDING"), rt("APP_STARTING"), rt("RUNNING")]
    heard: list[Transition] = []
    with anyio.fail_after(10):
        runtime = await wait_for_space(
            hub,
            "a/b",
            WaitFor(),
            OnTrouble(retry_capacity=1),
            timeout=600,
            cadence=QUICK,
            on_transition=heard.append,
        )
    assert runtime.stage == SpaceStage.RUNNING
    assert ("restart_space", "a/b") in hub.calls
    assert [t for t in heard if Change.CAPACITY_RETRY in t.changes]


async def test_a_failed_wait_carries_the_fakes_log_tail_redacted() -> None:
    hub = FakeHub({"a/b": rt("BUILD_ERROR")})
    hub.logs["a/b"] = ["step 1", "step 2", "token hf_SECRET"]
    with anyio.fail_after(10), pytest.raises(SpaceFailedError) as failed:
        await wait_for_space(hub, "a/b", WaitFor(), OnTrouble(), timeout=600, cadence=QUICK, log_lines=2)
    assert failed.value.log_lines == ["step 2", "token ***"]


async def test_a_watcher_lists_an_authors_spaces_in_one_request_on_the_fake() -> None:
    hub = FakeHub({f"a/s{i}": rt("RUNNING") for i in range(3)})
    seen: list[Transition] = []
    with anyio.fail_after(10):
        async with Watcher(hub, cadence=QUICK, batch_min=3) as watcher:
            watcher.add(*hub.runtimes)
            async for transition in watcher:
                seen.append(transition)
                if len(seen) == 3:
                    break
    assert sorted(t.repo_id for t in seen) == ["a/s0", "a/s1", "a/s2"]
    assert hub.calls[0] == ("author_runtimes", "a")
    assert len({t.observed_at for t in seen}) == 1  # the three came from that one listing


async def test_a_lease_on_the_fake_restores_the_flavor_and_leaves_no_queue() -> None:
    hub = FakeHub({"a/b": rt("RUNNING")})
    leases = Leases()
    with anyio.fail_after(10):
        async with lease_space(hub, "a/b", "t4-small", cadence=QUICK, leases=leases) as runtime:
            assert runtime.hardware == "t4-small" and len(leases) == 1
    assert ("request_space_hardware", "a/b t4-small") in hub.calls
    assert hub.calls[-2:] == [("request_space_hardware", "a/b cpu-basic"), ("get_space_runtime", "a/b")]
    assert hub.runtimes["a/b"].requested_hardware == "cpu-basic" and len(leases) == 0

"""The emulator's world, without HTTP: lifecycle, access, faults and rate limits in simulated time.

A hand-driven clock makes every test exact: time moves only when the test says so.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta, timezone

import pytest
from hostile_hub import TOKEN

from aiospace import SpaceClient
from aiospace.emulator import Emulator
from aiospace.emulator.faults import FaultInjector
from aiospace.emulator.ratelimit import RateLimiter
from aiospace.emulator.seed import DEMO_SEED, apply_seed
from aiospace.emulator.world import DEFAULT_FREE_SLEEP, HubError, World


class ManualClock:
    """A clock that moves only when told (duck-types ScaledClock for the world)."""

    speed = 1.0

    def __init__(self) -> None:
        self.t = 0.0
        self._origin = datetime(2025, 3, 7, 12, 0, tzinfo=timezone.utc)

    def now(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return self._origin + timedelta(seconds=self.t)

    def move(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def world(clock: ManualClock) -> World:
    w = World(clock)  # type: ignore[arg-type]
    apply_seed(w, DEMO_SEED)
    return w


def stages(world: World, repo_id: str) -> list[str]:
    return [e.stage for e in world.events_for(repo_id)]


def test_demo_world(world: World) -> None:
    assert set(world.spaces) == {
        "alice/demo",
        "alice/gpu-app",
        "alice/static-site",
        "alice/private-app",
        "bob/tool",
    }
    assert world.token_for("alice") == "hf_alice"
    demo = world.runtime("alice", "alice/demo")
    assert demo["stage"] == "RUNNING"
    assert demo["hardware"] == {"current": "cpu-basic", "requested": "cpu-basic"}
    assert demo["gcTimeout"] == DEFAULT_FREE_SLEEP
    assert demo["replicas"] == {"requested": 1, "current": 1}
    static = world.runtime(None, "alice/static-site")
    assert static == {
        "stage": "RUNNING",
        "hardware": {"current": None, "requested": None},
        "storage": None,
        "replicas": {"requested": 1, "current": 1},
    }
    gpu = world.runtime(None, "alice/gpu-app")
    assert "gcTimeout" not in gpu  # paid hardware never sleeps by default


def test_restart_from_running_walks_running_stages(world: World, clock: ManualClock) -> None:
    answer = world.restart("alice", "alice/demo")
    assert answer["stage"] == "RUNNING_BUILDING"
    assert answer["hardware"]["current"] == "cpu-basic"  # the old container still serves
    clock.move(29)
    assert world.runtime("alice", "alice/demo")["stage"] == "RUNNING_BUILDING"
    clock.move(1)
    assert world.runtime("alice", "alice/demo")["stage"] == "RUNNING_APP_STARTING"
    clock.move(5)
    assert world.runtime("alice", "alice/demo")["stage"] == "RUNNING"
    assert stages(world, "alice/demo") == [
        "RUNNING",
        "RUNNING_BUILDING",
        "RUNNING_APP_STARTING",
        "RUNNING",
    ]
    times = [e.time for e in world.events_for("alice/demo")]
    assert times == [0.0, 0.0, 30.0, 35.0]  # stamped at their scheduled times


def test_events_are_stamped_at_scheduled_time_even_when_applied_late(
    world: World, clock: ManualClock
) -> None:
    world.restart("alice", "alice/demo")
    clock.move(1000)
    world.advance()
    events = world.events_for("alice/demo")
    assert [e.time for e in events[-2:]] == [30.0, 35.0]
    assert events[-1].runtime["stage"] == "RUNNING"
    assert events[-1].at == world.wall(35.0)


def test_restart_from_paused_builds_with_null_current(world: World, clock: ManualClock) -> None:
    paused = world.pause("alice", "alice/demo")
    assert paused["stage"] == "PAUSED"
    assert paused["hardware"] == {"current": None, "requested": "cpu-basic"}
    clock.move(10_000)
    assert world.runtime("alice", "alice/demo")["stage"] == "PAUSED"  # only restart leaves it
    answer = world.restart("alice", "alice/demo")
    assert answer["stage"] == "BUILDING"
    assert answer["hardware"]["current"] is None
    clock.move(35)
    assert world.runtime("alice", "alice/demo")["stage"] == "RUNNING"
    assert stages(world, "alice/demo")[-4:] == ["PAUSED", "BUILDING", "APP_STARTING", "RUNNING"]


def test_hardware_upgrade_converges(world: World, clock: ManualClock) -> None:
    answer = world.request_hardware("alice", "alice/demo", "t4-medium", sleep_time=3600)
    assert answer["hardware"] == {"current": "cpu-basic", "requested": "t4-medium"}
    assert answer["stage"] == "RUNNING_BUILDING"
    assert answer["gcTimeout"] == 3600
    clock.move(30 + 5 + 10 - 0.5)  # build + start + hardware switch
    mid = world.runtime("alice", "alice/demo")
    assert mid["stage"] == "RUNNING_APP_STARTING"
    assert mid["hardware"]["current"] == "cpu-basic"
    clock.move(1)
    done = world.runtime("alice", "alice/demo")
    assert done["stage"] == "RUNNING"
    assert done["hardware"] == {"current": "t4-medium", "requested": "t4-medium"}
    requested = [e.requested for e in world.events_for("alice/demo")]
    assert requested[0] == "cpu-basic"
    assert requested[1:] == ["t4-medium"] * (len(requested) - 1)


def test_hardware_request_while_paused_stays_paused(world: World, clock: ManualClock) -> None:
    world.pause("alice", "alice/demo")
    answer = world.request_hardware("alice", "alice/demo", "a10g-small")
    assert answer["stage"] == "PAUSED"
    assert answer["hardware"] == {"current": None, "requested": "a10g-small"}


def test_failing_build_ends_in_build_error_with_logs(world: World, clock: ManualClock) -> None:
    world.configure("alice/demo", fail_build=True, build_seconds=12)
    world.restart("alice", "alice/demo")
    clock.move(12)
    runtime = world.runtime("alice", "alice/demo")
    assert runtime["stage"] == "BUILD_ERROR"
    assert runtime["hardware"]["current"] is None
    _, log = world.logs("alice", "alice/demo", build=True)
    assert log.closed
    assert any("ERROR" in entry.text for entry in log)


def test_crash_after_ends_in_runtime_error(world: World, clock: ManualClock) -> None:
    world.configure("alice/demo", crash_after=7)
    world.restart("alice", "alice/demo")
    clock.move(35)
    assert world.runtime("alice", "alice/demo")["stage"] == "RUNNING"
    clock.move(7)
    assert world.runtime("alice", "alice/demo")["stage"] == "RUNTIME_ERROR"
    _, log = world.logs("alice", "alice/demo", build=False)
    assert any("RuntimeError" in entry.text for entry in log)
    assert log.closed


def test_stuck_build_never_ends_but_keeps_logging(world: World, clock: ManualClock) -> None:
    world.configure("alice/demo", stuck=True, log_interval=5)
    world.restart("alice", "alice/demo")
    _, log = world.logs("alice", "alice/demo", build=True)
    before = len(log)
    clock.move(5_000)
    assert world.runtime("alice", "alice/demo")["stage"] == "RUNNING_BUILDING"
    assert len(log) > before
    assert not log.closed


def test_factory_reboot_takes_longer(world: World, clock: ManualClock) -> None:
    world.restart("alice", "alice/demo", factory=True)
    clock.move(35)
    assert world.runtime("alice", "alice/demo")["stage"] == "RUNNING_BUILDING"
    clock.move(30)
    assert world.runtime("alice", "alice/demo")["stage"] == "RUNNING"
    assert world.events_for("alice/demo")[1].reason == "factory reboot"
    _, log = world.logs("alice", "alice/demo", build=True)
    assert any("Factory reboot" in entry.text for entry in log)


def test_sleep_and_wake(clock: ManualClock) -> None:
    world = World(clock)  # type: ignore[arg-type]
    apply_seed(
        world,
        {"users": {"u": "t"}, "spaces": [{"id": "u/s", "hardware": "t4-small", "sleep_time": 60}]},
    )
    clock.move(59)
    world.visit("u/s")  # a visit resets the timer
    clock.move(59)
    assert world.runtime("u", "u/s")["stage"] == "RUNNING"
    clock.move(1)
    slept = world.runtime("u", "u/s")
    assert slept["stage"] == "SLEEPING"
    assert slept["hardware"] == {"current": None, "requested": "t4-small"}
    assert world.events_for("u/s")[-1].time == 119.0  # last visit (59) + sleep time (60)
    world.visit("u/s")
    assert world.runtime("u", "u/s")["stage"] == "APP_STARTING"
    clock.move(5)
    assert world.runtime("u", "u/s")["hardware"]["current"] == "t4-small"
    assert stages(world, "u/s") == ["RUNNING", "SLEEPING", "APP_STARTING", "RUNNING"]


def test_sleep_time_on_free_hardware_is_ignored(world: World) -> None:
    answer = world.set_sleep_time("alice", "alice/demo", 60)
    assert answer["gcTimeout"] == DEFAULT_FREE_SLEEP
    paid = world.set_sleep_time("alice", "alice/gpu-app", 60)
    assert paid["gcTimeout"] == 60


def test_static_space_refuses_runtime_changes(world: World) -> None:
    for call in (
        lambda: world.pause("alice", "alice/static-site"),
        lambda: world.restart("alice", "alice/static-site"),
        lambda: world.request_hardware("alice", "alice/static-site", "t4-small"),
        lambda: world.set_sleep_time("alice", "alice/static-site", 60),
    ):
        with pytest.raises(HubError) as info:
            call()
        assert info.value.status == 400
    assert world.runtime(None, "alice/static-site")["stage"] == "RUNNING"


def test_access_rules(world: World) -> None:
    with pytest.raises(HubError) as info:
        world.runtime(None, "alice/private-app")
    assert (info.value.status, info.value.code) == (404, "RepoNotFound")
    with pytest.raises(HubError) as info:
        world.runtime("bob", "alice/private-app")
    assert info.value.status == 404  # never 403 for a private Space
    with pytest.raises(HubError) as info:
        world.pause("bob", "alice/demo")
    assert info.value.status == 403
    with pytest.raises(HubError) as info:
        world.pause(None, "alice/demo")
    assert info.value.status == 401
    with pytest.raises(HubError) as info:
        world.authenticate("Bearer nope")
    assert info.value.message == "Invalid credentials in Authorization header"
    assert world.authenticate(None) is None
    assert world.authenticate("Bearer hf_bob") == "bob"
    assert world.runtime("alice", "alice/private-app")["stage"] == "RUNNING"


def test_org_members_may_write(clock: ManualClock) -> None:
    world = World(clock)  # type: ignore[arg-type]
    apply_seed(
        world,
        {
            "users": {"a": "ta", "b": "tb"},
            "orgs": {"acme": ["a"]},
            "spaces": [{"id": "acme/app", "private": True}],
        },
    )
    assert world.pause("a", "acme/app")["stage"] == "PAUSED"
    with pytest.raises(HubError) as info:
        world.pause("b", "acme/app")
    assert info.value.status == 404


def test_secrets_and_variables_rebuild_and_never_leak_values(world: World, clock: ManualClock) -> None:
    assert world.add_secret("alice", "alice/demo", "TOKEN", "s3cret", "desc") == {}
    assert world.runtime("alice", "alice/demo")["stage"] == "RUNNING_BUILDING"
    secrets = world.get_secrets("alice", "alice/demo")
    assert set(secrets) == {"TOKEN"}
    assert secrets["TOKEN"]["description"] == "desc"
    assert "s3cret" not in repr(secrets)
    variables = world.add_variable("alice", "alice/demo", "MODEL", "gpt2", None)
    assert variables["MODEL"]["value"] == "gpt2"
    assert "updatedAt" in variables["MODEL"]
    assert world.delete_variable("alice", "alice/demo", "MISSING") == variables
    assert world.delete_variable("alice", "alice/demo", "MODEL") == {}
    assert world.delete_secret("alice", "alice/demo", "MISSING") == {}
    with pytest.raises(HubError) as info:
        world.get_secrets("bob", "alice/demo")
    assert info.value.status == 403


def test_storage_rules(world: World) -> None:
    with pytest.raises(HubError):
        world.delete_storage("alice", "alice/demo")
    assert world.request_storage("alice", "alice/demo", "medium")["storage"] == "medium"
    with pytest.raises(HubError) as info:
        world.request_storage("alice", "alice/demo", "small")
    assert info.value.status == 400
    assert world.request_storage("alice", "alice/demo", "large")["storage"] == "large"
    assert world.delete_storage("alice", "alice/demo")["storage"] is None


def test_duplicate(world: World, clock: ManualClock) -> None:
    world.add_variable("bob", "bob/tool", "V", "1", None)
    space = world.duplicate(
        "alice",
        "bob/tool",
        "alice/tool",
        private=True,
        hardware="t4-small",
        secrets=[{"key": "S", "value": "x"}],
    )
    assert space.author == "alice"
    assert space.private
    assert space.stage.value == "BUILDING"
    assert set(space.variables) == {"V"}
    assert set(space.secrets) == {"S"}
    clock.move(50)
    assert world.runtime("alice", "alice/tool")["hardware"]["current"] == "t4-small"
    with pytest.raises(HubError) as info:
        world.duplicate("alice", "bob/tool", "alice/tool")
    assert info.value.status == 409
    assert "url" in info.value.extra
    with pytest.raises(HubError) as info:
        world.duplicate("alice", "bob/tool", "bob/other")
    assert info.value.status == 403
    with pytest.raises(HubError) as info:
        world.duplicate("bob", "alice/private-app", "bob/copy")
    assert info.value.status == 404


def test_list_and_info(world: World) -> None:
    ids = [item["id"] for item in world.list_spaces(None)]
    assert "alice/private-app" not in ids
    assert "alice/private-app" in [item["id"] for item in world.list_spaces("alice")]
    assert [item["id"] for item in world.list_spaces(None, author="bob")] == ["bob/tool"]
    assert [item["id"] for item in world.list_spaces(None, search="GPU")] == ["alice/gpu-app"]
    expanded = world.list_spaces(None, expand=["runtime"])
    assert all(set(item) == {"_id", "id", "runtime"} for item in expanded)
    info = world.space_info(None, "alice/demo")
    assert info["runtime"]["stage"] == "RUNNING"
    assert info["author"] == "alice"
    with pytest.raises(HubError):
        world.space_info(None, "alice/demo", ["nonsense"])


def test_seed_is_validated(clock: ManualClock) -> None:
    world = World(clock)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        apply_seed(world, {"spaces": [{"id": "a/b", "bild_seconds": 3}]})
    with pytest.raises(ValueError):
        apply_seed(world, {"nope": 1})
    with pytest.raises(ValueError):
        apply_seed(World(clock), {"spaces": [{"id": "c/d", "log_interval": 0}]})  # type: ignore[arg-type]


def test_seeded_stages(clock: ManualClock) -> None:
    world = World(clock)  # type: ignore[arg-type]
    apply_seed(
        world,
        {
            "users": {"u": "t"},
            "spaces": [
                {"id": "u/b", "stage": "BUILDING", "build_seconds": 3, "start_seconds": 1},
                {"id": "u/p", "stage": "PAUSED"},
                {"id": "u/e", "stage": "BUILD_ERROR"},
            ],
        },
    )
    assert world.runtime("u", "u/b")["stage"] == "BUILDING"
    assert world.runtime("u", "u/p")["stage"] == "PAUSED"
    assert world.runtime("u", "u/e")["stage"] == "BUILD_ERROR"
    clock.move(4)
    assert world.runtime("u", "u/b")["stage"] == "RUNNING"


def test_rate_limiter_fixed_windows(clock: ManualClock) -> None:
    limiter = RateLimiter(clock, quota=2, window=10)  # type: ignore[arg-type]
    clock.move(3)
    assert limiter.hit("k").remaining == 1
    assert limiter.hit("k").remaining == 0
    refused = limiter.hit("k")
    assert not refused.allowed
    assert refused.headers["Retry-After"] == "7"
    assert refused.headers["RateLimit"] == '"api";r=0;t=7'
    assert refused.headers["RateLimit-Policy"] == '"fixed window";"api";q=2;w=10'
    assert limiter.hit("other").allowed  # counted per key
    clock.move(7)
    assert limiter.hit("k").allowed  # a new window


def test_fault_injector_is_deterministic_and_counted() -> None:
    def fired(seed: int) -> list[bool]:
        faults = FaultInjector(seed)
        faults.add("error", rate=0.5)
        return [faults.plan("get_space_runtime", "a/b").outcome is not None for _ in range(50)]

    assert fired(7) == fired(7)
    assert 5 < sum(fired(7)) < 45
    faults = FaultInjector(0)
    faults.add("error", route="pause_space", times=2)
    faults.add("sse_cut")
    assert faults.plan("get_space_runtime", None).outcome is None
    outcomes = [faults.plan("pause_space", None).outcome for _ in range(3)]
    assert [o is not None for o in outcomes] == [True, True, False]
    cut = faults.plan("fetch_run_logs", "a/b").outcome
    assert cut is not None
    assert cut.kind == "sse_cut"
    for bad in ({"kind": "nope"}, {"kind": "error", "route": "nope"}, {"kind": "error", "x": 1}):
        with pytest.raises(ValueError):
            faults.add_spec(bad)


def test_an_organization_cannot_shadow_a_user_or_have_a_bad_name() -> None:
    from aiospace._clock import ScaledClock
    from aiospace.emulator import World

    world = World(ScaledClock(1.0))
    world.add_user("alice", "hf_alice")
    with pytest.raises(ValueError, match="is a user"):
        world.add_org("alice", ["mallory"])
    for bad in ("", "a/b", "..", "-x"):
        with pytest.raises(ValueError, match="invalid organization name"):
            world.add_org(bad, ["alice"])
    world.add_org("acme", ["alice"])
    with pytest.raises(ValueError, match="is an organization"):
        world.add_user("acme")
    assert world.orgs == {"acme": {"alice"}}


# --------------------------------------------------------------------------- the event log, secrets in a repr


@pytest.mark.hostile
@pytest.mark.aiospace_emulator(speed=1000)
async def test_the_event_log_keeps_the_newest_events_and_counts_on(
    aiospace_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = aiospace_emulator
    monkeypatch.setattr(hub.world.lifecycle, "events", deque(maxlen=5))  # MAX_EVENTS, made small
    for _ in range(4):  # each restart logs two or more events (its stages)
        hub.world.restart("alice", "alice/demo")
        await hub.clock.sleep(60)
    kept = list(hub.world.events)
    assert len(kept) == 5  # a loop of restarts can't grow the log without end
    seqs = [e.seq for e in kept]
    assert seqs == list(range(seqs[0], seqs[0] + 5)) and seqs[0] > 0  # numbers keep counting
    assert [e.seq for e in hub.world.lifecycle.events_for(after=seqs[2])] == seqs[3:]


async def test_the_emulators_space_repr_never_shows_a_secret_value() -> None:
    value = "emulated-SECRET-value-1234"
    seed = {"users": {"alice": TOKEN}, "spaces": [{"id": "alice/app", "secrets": {"SEEDED": value}}]}
    async with Emulator(speed=200, seed=seed) as hub:
        async with SpaceClient(endpoint=hub.url, token=TOKEN, clock=hub.clock) as client:
            await client.add_space_secret("alice/app", "ADDED", value + "-added")
        space = hub.world.space("alice/app")
        assert {k: s.value for k, s in space.secrets.items()} == {"SEEDED": value, "ADDED": value + "-added"}
        shown = [repr(hub), repr(space), repr(space.secrets), str(space)]
    assert "SEEDED" in shown[1] and all(value not in text for text in shown)

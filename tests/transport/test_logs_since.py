"""``fetch_space_logs(since=...)`` and ``aiospace logs --since``: the lines stamped since a time.

Against the emulator, whose log lines carry the Hub-time stamp they were written at;
the truth is the emulator's own log (``world.space(...).run_log``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from helpers import client_for

from aiospace import InvalidArgumentError, SpaceClient
from aiospace.cli import app as cli
from aiospace.emulator import Emulator

pytestmark = pytest.mark.aiospace_emulator(speed=400)


class NoOffset(tzinfo):
    """A time zone that knows no offset: the datetime is naive all the same (comparing it fails)."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


async def collect(client: SpaceClient, **kwargs: Any) -> list[str]:
    return [line async for line in client.fetch_space_logs("alice/demo", **kwargs)]


def stamp_of(hub: Emulator, hub_seconds: float) -> datetime:
    """The wall time of Hub time ``hub_seconds`` (as the emulator stamps its lines)."""
    return hub.clock.wall() - timedelta(seconds=hub.clock.now() - hub_seconds)


async def test_since_skips_the_lines_stamped_earlier(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    await hub.clock.sleep(60)  # a dozen run log lines, 5 Hub seconds apart
    entries = list(hub.world.space("alice/demo").run_log)
    assert len(entries) >= 8
    middle = (entries[3].time + entries[4].time) / 2  # between two lines: no rounding at stake
    async with client_for(hub, "alice") as client:
        every = await collect(client)
        since_middle = await collect(client, since=stamp_of(hub, middle))
        since_long_ago = await collect(client, since=timedelta(days=1))
        since_now = await collect(client, since=hub.clock.wall() + timedelta(hours=1))
    later = [e.text for e in hub.world.space("alice/demo").run_log if e.time > middle]
    assert since_middle == later[: len(since_middle)]  # lines written meanwhile may follow
    assert since_middle[:4] == [e.text for e in entries[4:8]]
    assert since_long_ago[: len(every)] == every
    assert since_now == []


@pytest.mark.parametrize(
    ("since", "problem"),
    [
        (timedelta(seconds=-1), "must be >= 0"),
        (datetime(2026, 1, 1), "must be aware"),
        (datetime(2026, 1, 1, tzinfo=NoOffset()), "must be aware"),  # a tzinfo that gives no offset
        ("10m", "expected a datetime or a timedelta, got str"),
        (600, "expected a datetime or a timedelta, got int"),
    ],
)
async def test_a_since_that_means_nothing_is_refused(
    aiospace_emulator: Emulator, since: Any, problem: str
) -> None:
    async with client_for(aiospace_emulator, "alice") as client:
        with pytest.raises(InvalidArgumentError) as info:
            await collect(client, since=since)
        assert client.stats.requests == 0
    assert info.value.argument == "since" and problem in str(info.value)


async def test_an_aware_datetime_in_any_zone_is_the_same_instant(aiospace_emulator: Emulator) -> None:
    hub = aiospace_emulator
    await hub.clock.sleep(30)
    cutoff = hub.clock.wall() - timedelta(seconds=12)
    elsewhere = cutoff.astimezone(timezone(timedelta(hours=-5)))
    async with client_for(hub, "alice") as client:
        assert await collect(client, since=cutoff) == await collect(client, since=elsewhere)


@pytest.mark.aiospace_emulator(speed=50)
async def test_cli_logs_since(aiospace_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    hub = aiospace_emulator
    hub.world.configure("alice/demo", log_interval=1)
    await hub.clock.sleep(20)
    # Then a quiet log (the line already planned comes, then none for a long while).
    hub.world.configure("alice/demo", log_interval=86_400)
    await hub.clock.sleep(2)
    truth = list(hub.world.space("alice/demo").run_log)
    argv = ["--endpoint", hub.url, "--token", "hf_alice", "logs", "alice/demo"]
    assert await cli.amain([*argv, "--since", "1d"], clock=hub.clock) == 0
    assert capsys.readouterr().out.splitlines() == [e.text for e in truth]
    before = hub.clock.now()
    assert await cli.amain([*argv, "--since", "10s"], clock=hub.clock) == 0
    after = hub.clock.now()
    recent = capsys.readouterr().out.splitlines()
    # The command's cutoff is 10 Hub seconds before some moment of its run: the tail of
    # the log from there (lines 1 Hub second apart).
    assert recent == [e.text for e in truth][len(truth) - len(recent) :]
    assert all(e.time >= before - 10 for e in truth[len(truth) - len(recent) :])
    assert all(e.text in recent for e in truth if e.time >= after - 10)
    assert await cli.amain([*argv, "--since", "1h", "-n", "2"], clock=hub.clock) == 0
    assert capsys.readouterr().out.splitlines() == [e.text for e in truth[-2:]]
    # Nothing stamped since: said, and still exit 0 (an empty answer is not an error).
    assert await cli.amain([*argv, "--since", "0s"], clock=hub.clock) == 0
    out, err = capsys.readouterr()
    assert out == "" and "alice/demo: nothing to show, no line of its run log in the last 0.0s" in err

"""The turn to pick (``Turn`` in ``aiospace/engine/schedule.py``): one worker at a time, no convoy.

A ``Watcher``'s workers take their request and their Space in turn (``Schedule.pick``). A
worker that finds the turn free takes it at once, even while others wait: with a lock
served first come first served, workers running flat out kept handing it on at a task
wake-up per poll, for good, once they had queued for it (as at start-up, before any Space
was added). The cases marked ``careless`` cancel a waiting worker at the worst moment.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import pytest

from aiospace import Cadence
from aiospace._http.budget import BudgetShare, RateBudget
from aiospace.engine.schedule import Schedule, Turn
from aiospace.engine.transitions import SpaceTracker

WORKERS = 8
ROUNDS = 40


class FrozenClock:
    """A clock that never moves: every Space added at 0 stays due."""

    speed = 1.0

    def now(self) -> float:
        return 0.0

    def wall(self) -> datetime:
        return datetime.fromtimestamp(0, timezone.utc)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


async def settle() -> None:
    """Let every task that can run, run."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_free_turn_is_taken_at_once_even_while_a_worker_waits() -> None:
    turn = Turn()
    assert turn.take()
    waiter = asyncio.create_task(turn.wait())
    await settle()
    assert not waiter.done() and not turn.take()
    turn.give_back()  # the waiter is woken, but has not run yet
    assert turn.take(), "a worker back for its next turn takes it without waiting in line"
    await settle()
    assert not waiter.done(), "the woken waiter found the turn taken: it waits again"
    turn.give_back()
    await settle()
    assert waiter.done() and turn.busy
    turn.give_back()
    assert not turn.busy and turn.take()


@pytest.mark.careless
async def test_a_waiter_cancelled_once_woken_hands_the_turn_to_the_next() -> None:
    turn = Turn()
    assert turn.take()
    first = asyncio.create_task(turn.wait())
    second = asyncio.create_task(turn.wait())
    await settle()
    turn.give_back()  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    await settle()
    assert first.cancelled()
    assert second.done() and turn.busy, "the wake-up went to the next in line"


@pytest.mark.careless
async def test_a_waiter_cancelled_while_waiting_leaves_the_line_as_it_was() -> None:
    turn = Turn()
    assert turn.take()
    gone = asyncio.create_task(turn.wait())
    kept = asyncio.create_task(turn.wait())
    await settle()
    gone.cancel()
    await settle()
    assert gone.cancelled() and not kept.done()
    turn.give_back()
    await settle()
    assert kept.done() and turn.busy


async def test_workers_flat_out_stop_waiting_for_the_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queued for the turn at start-up, workers polling flat out soon take it without waiting."""
    waits_by_round: list[int] = []
    wait: Callable[[Turn], Awaitable[None]] = Turn.wait

    async def counted_wait(self: Turn) -> None:
        waits_by_round[-1] += 1
        await wait(self)

    monkeypatch.setattr(Turn, "wait", counted_wait)
    clock = FrozenClock()
    cadence = Cadence(fast=1.0, slow=1.0, jitter=0.0)
    schedule = Schedule(clock, cadence, eager=False, batch=False, batch_min=3)
    budget = BudgetShare(RateBudget(clock, quota=10**6, window=300.0), 1.0)
    picks = 0

    async def worker() -> None:
        nonlocal picks
        for _ in range(ROUNDS):
            _, group = await schedule.pick(budget)
            picks += 1
            await asyncio.sleep(0)  # the poll
            schedule.done(group)

    waits_by_round.append(0)
    workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
    await settle()  # one waits for a Space in pick, the others for the turn
    assert waits_by_round == [WORKERS - 1]
    rng = random.Random(0)
    for i in range(2 * WORKERS):
        schedule.add(SpaceTracker(f"bench/space-{i}", cadence, rng, next_due=0.0))
    while not all(w.done() for w in workers):
        waits_by_round.append(0)
        await asyncio.sleep(0)
    assert picks == WORKERS * ROUNDS
    assert sum(waits_by_round[1:]) <= WORKERS, "the line drains"
    assert sum(waits_by_round[len(waits_by_round) // 4 :]) == 0, "and stays empty"


async def test_by_the_cadence_a_due_changing_space_is_picked_before_resting_ones() -> None:
    """Urgent Spaces wait apart from resting ones (``Schedule.push``): among those due, they go first."""
    from aiospace.models import SpaceHardware, SpaceRuntime, SpaceStage

    clock = FrozenClock()
    cadence = Cadence(fast=1.0, slow=4.0, jitter=0.0)
    schedule = Schedule(clock, cadence, eager=False, batch=False, batch_min=3)
    budget = BudgetShare(RateBudget(clock, quota=10**6, window=300.0), 1.0)
    rng = random.Random(0)
    cpu = SpaceHardware("cpu-basic")
    resting = [SpaceTracker(f"bench/rest-{i}", cadence, rng, next_due=-2.0 + i / 10) for i in range(3)]
    for tracker in resting:
        tracker.last, tracker.interval = SpaceRuntime(SpaceStage("RUNNING"), cpu, cpu), cadence.slow
        assert not tracker.urgent
        schedule.add(tracker)
    fresh = SpaceTracker("bench/fresh", cadence, rng, next_due=-1.0)  # never seen: urgent
    assert fresh.urgent
    schedule.add(fresh)
    later = SpaceTracker("bench/later", cadence, rng, next_due=5.0)  # urgent, but not due yet
    schedule.add(later)
    picked = [(await schedule.pick(budget))[1][0].repo_id for _ in range(4)]
    assert picked == ["bench/fresh", "bench/rest-0", "bench/rest-1", "bench/rest-2"]

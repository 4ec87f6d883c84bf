"""``aiospace demo``: a Space restarting and changing hardware, live, on an embedded emulator.

Everything runs in-process: an :class:`~aiospace.emulator.Emulator` at high speed, a
:class:`~aiospace.SpaceClient` sharing its clock, and :meth:`~aiospace.SpaceClient.watch`
(the real watch engine) printing each transition as it is observed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import anyio

from ..._hub.validate import check_flavor, check_repo_id
from ...client import SpaceClient
from ...engine.transitions import Transition
from ...engine.watch import SpaceWatch
from ...models import SpaceRuntime, SpaceStage
from ..command import LocalCommand
from ..options import positive

__all__ = ["DEMO", "run_demo"]

_COLUMNS = f"{'hub s':>7} {'real s':>7}  {'stage':<21} {'hardware':<11} {'requested':<11} changes"


def _row(t: Transition, hub_start: float, real_start: float) -> str:
    cur = t.current
    changes = ", ".join(sorted(c.value for c in t.changes))
    return (
        f"{t.observed_at - hub_start:7.1f} {time.monotonic() - real_start:7.2f}  {cur.stage.value:<21} "
        f"{cur.hardware or '-':<11} {cur.requested_hardware or '-':<11} {changes}"
    )


async def _until(
    watch: SpaceWatch,
    done: Callable[[SpaceRuntime], bool],
    show: Callable[[Transition], None],
) -> Transition:
    async for transition in watch:
        show(transition)
        if done(transition.current):
            return transition
    raise RuntimeError("the watch ended")  # pragma: no cover - a watch only ends by raising


async def run_demo(
    *,
    speed: float = 25.0,
    space: str = "alice/demo",
    hardware: str = "t4-small",
    print_fn: Callable[[str], None] = print,
) -> int:
    """Restart ``space``, then move it to ``hardware``, printing every transition; 0 on success."""
    from ...emulator import Emulator

    async with Emulator(speed=speed) as hub:
        owner = space.split("/")[0]
        async with SpaceClient(endpoint=hub.url, token=hub.token_for(owner), clock=hub.clock) as client:
            print_fn(f"aiospace demo: a Hub emulator on {hub.url}, running {speed:g}x faster than real time.")
            print_fn(f"Restarting {space}, then moving it to {hardware}; every change as it is observed:")
            print_fn("")
            print_fn(_COLUMNS)
            hub_start, real_start = client.clock.now(), time.monotonic()

            def show(t: Transition) -> None:
                print_fn(_row(t, hub_start, real_start))

            # A generous real-time guard: the whole demo takes a few seconds.
            with anyio.fail_after(25):
                async with client.watch(space) as watch:
                    show(await watch.__anext__())  # the initial state
                    await client.restart_space(space)
                    restarted = await _until(
                        watch, lambda r: r.stage == SpaceStage.RUNNING and watch.tracker.transitions > 1, show
                    )
                    running_at = restarted.observed_at - hub_start
                    running_real = time.monotonic() - real_start
                    print_fn(f"{'':16}-- {space} is RUNNING again; requesting {hardware} --")
                    asked_at = client.clock.now() - hub_start
                    await client.request_space_hardware(space, hardware)
                    converged = await _until(
                        watch,
                        lambda r: (
                            r.stage == SpaceStage.RUNNING
                            and r.hardware is not None
                            and r.hardware.value == hardware
                            and r.is_converged
                        ),
                        show,
                    )
            hub_total = converged.observed_at - hub_start
            real_total = time.monotonic() - real_start
            print_fn("")
            print_fn("Summary:")
            print_fn(f"  requests sent:           {client.stats.requests} ({client.stats.retries} retried)")
            print_fn(f"  transitions observed:    {watch.stats.transitions}")
            print_fn(f"  restart -> RUNNING:      {running_at:.1f} Hub s ({running_real:.2f} s real)")
            print_fn(
                f"  {f'{hardware} -> converged:':<25}{hub_total - asked_at:.1f} Hub s "
                f"({real_total - running_real:.2f} s real)"
            )
            print_fn(f"  whole demo:              {hub_total:.1f} Hub s ({real_total:.2f} s real)")
            print_fn("")
            print_fn("Try it on your own emulator: `aiospace emulator --speed 10`, then in another shell:")
            print_fn("  export HF_ENDPOINT=http://127.0.0.1:7860 HF_TOKEN=hf_alice")
            print_fn("  aiospace --hub-speed 10 restart alice/demo --wait")
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    """Restart a Space and change its hardware on an embedded emulator, showing each transition."""
    return await run_demo(
        speed=args.speed,
        space=check_repo_id(args.space),
        hardware=check_flavor(args.hardware).value,
        print_fn=lambda line: print(line, flush=True),
    )


def _arguments(p: argparse.ArgumentParser) -> None:
    """The emulator's speed, the Space and the flavor to move it to."""
    p.add_argument("--speed", type=positive, default=25.0, help="the emulator's speed (default 25x)")
    p.add_argument("--space", default="alice/demo", help="the demo Space (default alice/demo)")
    p.add_argument("--hardware", default="t4-small", help="the flavor to move it to (default t4-small)")


DEMO = LocalCommand(
    name="demo",
    help="watch a Space restart and change hardware on an embedded emulator",
    example="aiospace demo",
    run=cmd_demo,
    arguments=_arguments,
)

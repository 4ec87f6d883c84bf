"""Commands that change (or show) a Space's runtime: ``runtime``, ``pause``, ``restart``,
``hardware``, ``sleep-time``, ``dev-mode``, ``storage``."""

from __future__ import annotations

import argparse

from ...client import SpaceClient
from ...models import SpaceRuntime
from ..command import HubCommand
from ..options import space_argument, wait_options
from ..render.answers import format_sleep_time, print_runtime, runtime_line, show_runtime
from ..util import EXIT_OK, UsageError, parse_sleep_time
from .names import hub_flavor, known_tier
from .wait import wait_for

__all__ = ["DEV_MODE", "HARDWARE", "PAUSE", "RESTART", "RUNTIME", "SLEEP_TIME", "STORAGE"]


async def _then_wait(
    args: argparse.Namespace, hub: SpaceClient, space: str, runtime: SpaceRuntime, note: str, hw: str | None
) -> int:
    """Show the runtime a change answered; with ``--wait``, then wait for the Space to run (on ``hw``)."""
    if not args.wait:
        show_runtime(space, runtime, note, as_json=args.json)
        return EXIT_OK
    if not args.json:
        print(f"{runtime_line(space, runtime)} -- {note}; waiting...", flush=True)
    return await wait_for(args, hub, space, hardware=hw, timeout=args.timeout)


async def cmd_runtime(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Show a Space's runtime."""
    print_runtime(args.space, await hub.get_space_runtime(args.space), as_json=args.json)
    return EXIT_OK


async def cmd_pause(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Pause a Space (not billed; only a restart leaves the pause)."""
    show_runtime(args.space, await hub.pause_space(args.space), "paused", as_json=args.json)
    return EXIT_OK


async def cmd_restart(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Restart a Space (``--factory-reboot``: rebuild without cache), optionally waiting for it."""
    runtime = await hub.restart_space(args.space, factory_reboot=args.factory_reboot)
    note = "factory reboot requested" if args.factory_reboot else "restart requested"
    return await _then_wait(args, hub, args.space, runtime, note, None)


async def cmd_hardware(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Request a hardware flavor, optionally waiting until the Space runs on it."""
    flavor = await hub_flavor(hub, args.flavor, "FLAVOR")
    runtime = await hub.request_space_hardware(args.space, flavor, sleep_time=args.sleep_time)
    return await _then_wait(args, hub, args.space, runtime, f"{flavor} requested", flavor)


#: How long a Space on free hardware may stay idle before it sleeps (not settable).
FREE_SLEEP_TIME = 48 * 3600


async def cmd_sleep_time(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Set the seconds without visits before the Space sleeps (-1 or never: never sleep)."""
    runtime = await hub.set_space_sleep_time(args.space, args.seconds)
    note = "never sleeps" if args.seconds == -1 else f"sleeps after {format_sleep_time(args.seconds)} idle"
    if runtime.requested_hardware is not None and runtime.requested_hardware.is_free:
        note += f" (ignored on free hardware: it sleeps after {format_sleep_time(FREE_SLEEP_TIME)})"
    show_runtime(args.space, runtime, note, as_json=args.json)
    return EXIT_OK


async def cmd_dev_mode(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Turn dev mode on or off."""
    on = args.state == "on"
    runtime = await (hub.enable_space_dev_mode if on else hub.disable_space_dev_mode)(args.space)
    show_runtime(args.space, runtime, f"dev mode {args.state}", as_json=args.json)
    return EXIT_OK


async def cmd_storage(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Attach persistent storage of a tier, or delete it."""
    if args.delete and args.tier is not None:
        raise UsageError("give a TIER or --delete, not both")
    if args.delete:
        runtime = await hub.delete_space_storage(args.space)
        note = "storage deleted"
    elif args.tier is None:
        raise UsageError("missing TIER: small, medium or large (or --delete to delete the storage)")
    else:
        tier = known_tier(args.tier)
        runtime = await hub.request_space_storage(args.space, tier)
        note = f"{tier} storage requested"
    show_runtime(args.space, runtime, note, as_json=args.json)
    return EXIT_OK


RUNTIME = HubCommand(
    name="runtime",
    help="show a Space's runtime",
    example="aiospace runtime me/my-space --json",
    run=cmd_runtime,
    arguments=space_argument,
    json=True,
)

PAUSE = HubCommand(
    name="pause",
    help="pause a Space",
    example="aiospace pause me/my-space",
    run=cmd_pause,
    arguments=space_argument,
    json=True,
)


#: The exit codes of a change that may be waited for (``--wait``: ``wait``'s, without its options).
CHANGE_EXIT_CODES = {
    0: "the change was accepted (with --wait: the Space is up, on the requested hardware)",
    1: "with --wait: the Space landed in an error stage (BUILD_ERROR, RUNTIME_ERROR...) or "
    "stalled: the stage and the tail of its logs are printed; or it is PAUSED, STOPPED or "
    "SLEEPING and won't move on its own: what would move it is printed",
    3: "with --wait: timed out (--timeout)",
}


def _restart_arguments(p: argparse.ArgumentParser) -> None:
    """SPACE, --factory-reboot, and the wait options."""
    space_argument(p)
    p.add_argument(
        "--factory-reboot",
        "--factory",  # the name before hf's; kept
        dest="factory_reboot",
        action="store_true",
        help="rebuild without cache (as `hf spaces restart --factory-reboot`)",
    )
    wait_options(p, flag=True)


RESTART = HubCommand(
    name="restart",
    help="restart a Space",
    example="aiospace restart me/my-space --factory-reboot --wait",
    run=cmd_restart,
    arguments=_restart_arguments,
    json=True,
    exit_codes=CHANGE_EXIT_CODES,
)


def _hardware_arguments(p: argparse.ArgumentParser) -> None:
    """SPACE, FLAVOR, --sleep-time, and the wait options."""
    space_argument(p)
    p.add_argument("flavor", metavar="FLAVOR", help="e.g. cpu-basic, t4-small (see `aiospace hardware-list`)")
    p.add_argument("--sleep-time", type=parse_sleep_time, metavar="DURATION", help="also set the sleep time")
    wait_options(p, flag=True)


HARDWARE = HubCommand(
    name="hardware",
    help="request a hardware flavor",
    example="aiospace hardware me/my-space t4-small --sleep-time 1h --wait",
    run=cmd_hardware,
    arguments=_hardware_arguments,
    json=True,
    exit_codes=CHANGE_EXIT_CODES,
)


def _sleep_time_arguments(p: argparse.ArgumentParser) -> None:
    """SPACE and the sleep time."""
    space_argument(p)
    p.add_argument("seconds", type=parse_sleep_time, metavar="DURATION", help="3600, 1h... or -1 / never")


SLEEP_TIME = HubCommand(
    name="sleep-time",
    help="set the idle time before a Space sleeps",
    example="aiospace sleep-time me/my-space 1h",
    run=cmd_sleep_time,
    arguments=_sleep_time_arguments,
    json=True,
)


def _dev_mode_arguments(p: argparse.ArgumentParser) -> None:
    """SPACE and on or off."""
    space_argument(p)
    p.add_argument("state", choices=("on", "off"))


DEV_MODE = HubCommand(
    name="dev-mode",
    help="turn dev mode on or off",
    example="aiospace dev-mode me/my-space on",
    run=cmd_dev_mode,
    arguments=_dev_mode_arguments,
    json=True,
)


def _storage_arguments(p: argparse.ArgumentParser) -> None:
    """SPACE and a TIER, or --delete."""
    space_argument(p)
    p.add_argument("tier", nargs="?", metavar="TIER", help="small, medium or large")
    p.add_argument("--delete", action="store_true", help="delete the Space's storage")


STORAGE = HubCommand(
    name="storage",
    help="attach or delete persistent storage",
    example="aiospace storage me/my-space small   |   aiospace storage me/my-space --delete",
    run=cmd_storage,
    arguments=_storage_arguments,
    json=True,
)

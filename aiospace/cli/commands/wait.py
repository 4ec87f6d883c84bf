"""``aiospace wait``: wait until a Space runs; :func:`wait_for` is also the ``--wait`` of other commands,
and :func:`wait_settings` the one place a command's flags become a wait's options."""

from __future__ import annotations

import argparse
import sys

import anyio
import attrs

from ..._hub.validate import check_flavor
from ...client import SpaceClient
from ...engine.options import OnTrouble, WaitFor
from ...engine.transitions import Transition
from ...errors import (
    AiospaceError,
    RevisionSupersededError,
    SpaceFailedError,
    SpaceNotStartingError,
    WaitTimeoutError,
)
from ...models import SpaceRuntime
from ..command import HubCommand
from ..options import EXIT_CODES_HELP, count, space_argument, wait_options
from ..render.progress import HubHealth, WaitProgress
from ..util import EXIT_OK, UsageError, exit_code_for, parse_duration
from .names import hub_flavor

__all__ = ["WAIT", "cmd_wait", "wait_for", "wait_settings"]


async def wait_settings(
    args: argparse.Namespace, hub: SpaceClient, *, hardware: str | None
) -> tuple[WaitFor, OnTrouble]:
    """What a command's wait is for (``hardware``, ``--revision``) and what it may do about trouble.

    Every :class:`~aiospace.OnTrouble` field has the flag of its name (``stall_after``:
    ``--stall-after``); a command without that flag leaves the field's default, so a new
    option is a field and a flag. Flavors are checked against the Hub's catalogue
    (:func:`~aiospace.cli.commands.names.hub_flavor`). Raises
    :class:`~aiospace.cli.util.UsageError` or :class:`~aiospace.errors.InvalidArgumentError`
    for a bad one, before the wait.
    """
    given = {
        field.name: getattr(args, field.name)
        for field in attrs.fields(OnTrouble)
        if getattr(args, field.name, None) is not None
    }
    if given.get("on_stall", "raise") != "raise" and "stall_after" not in given:
        raise UsageError("--on-stall needs --stall-after (how long a stage may last)")
    if "fallback_hardware" in given:  # repeated, or separated by commas
        fallbacks = [f.strip() for item in given["fallback_hardware"] for f in item.split(",") if f.strip()]
        if given.get("retry_capacity"):  # only capacity retries use them (else OnTrouble refuses them)
            fallbacks = [await hub_flavor(hub, f, "--fallback-hardware") for f in fallbacks]
        given["fallback_hardware"] = fallbacks
    trouble = OnTrouble(**given)
    want = WaitFor(
        hardware=None if hardware is None else check_flavor(await hub_flavor(hub, hardware, "--hardware")),
        revision=getattr(args, "revision", None),
    )
    return want, trouble


async def wait_for(
    args: argparse.Namespace, hub: SpaceClient, space: str, *, hardware: str | None, timeout: float | None
) -> int:
    """Wait for ``space`` to run (on ``hardware``; the rest as :func:`wait_settings` reads ``args``);
    report it, return the exit code."""
    want, trouble = await wait_settings(args, hub, hardware=hardware)
    progress = WaitProgress(
        args.command,
        space,
        hub.clock,
        tty=sys.stderr.isatty(),
        enabled=not getattr(args, "quiet", False),
        as_json=getattr(args, "json", False),
    )
    outcome: SpaceRuntime | AiospaceError

    def heard(transition: Transition) -> None:
        progress.update(transition.current)
        progress.action(transition)

    health = HubHealth(args.command, hub.endpoint, before=progress.clear)
    unsubscribe = hub.subscribe(health) if progress.enabled else (lambda: None)
    async with anyio.create_task_group() as tg:
        if progress.tty and progress.enabled:
            tg.start_soon(progress.tick)
        try:
            outcome = await hub.wait_for_space(
                space,
                timeout=timeout,
                stage=want.stage,
                hardware=want.hardware,
                revision=want.revision,
                trouble=trouble,
                on_transition=heard,
            )
        except AiospaceError as error:
            outcome = error
        finally:
            unsubscribe()
            tg.cancel_scope.cancel()
            progress.clear()
    progress.report(outcome)
    if isinstance(
        outcome, (SpaceFailedError, WaitTimeoutError, RevisionSupersededError, SpaceNotStartingError)
    ):
        return exit_code_for(outcome)
    if isinstance(outcome, AiospaceError):
        raise outcome
    return EXIT_OK


async def cmd_wait(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Wait until a Space runs (on a hardware flavor, serving a commit); exit codes say how it went."""
    return await wait_for(args, hub, args.space, hardware=args.hardware, timeout=args.timeout)


def _arguments(p: argparse.ArgumentParser) -> None:
    """SPACE, what to wait for, how long, and what a deploy may do about trouble."""
    space_argument(p, help="namespace/name")
    p.add_argument("--hardware", metavar="FLAVOR", help="also wait until it runs on this flavor")
    wait_options(p, flag=False)
    deploy = p.add_argument_group("deploys")
    deploy.add_argument(
        "--revision",
        metavar="SHA",
        help="a full commit sha (40 hex digits): wait until the Space serves that commit",
    )
    deploy.add_argument(
        "--build-grace",
        type=parse_duration,
        default=120.0,
        metavar="DURATION",
        help="with --revision: how long its build may take to begin once the head is it (default 2m)",
    )
    deploy.add_argument(
        "--stall-after",
        type=parse_duration,
        metavar="DURATION",
        help="fail (or --on-stall) when a building or starting stage lasts longer than this",
    )
    deploy.add_argument(
        "--on-stall",
        choices=("raise", "factory-reboot"),
        default="raise",
        help="on a stall: fail (raise, the default), or rebuild once without cache and fail at a "
        "second stall (factory-reboot)",
    )
    deploy.add_argument(
        "--retry-capacity",
        type=count,
        default=0,
        metavar="N",
        help="restart up to N times after a scheduling failure (no hardware capacity), with backoff",
    )
    deploy.add_argument(
        "--fallback-hardware",
        action="append",
        metavar="FLAVOR",
        help="a flavor the capacity retries move to, in order (repeat it, or separate with commas)",
    )


WAIT = HubCommand(
    name="wait",
    help="wait until a Space runs (on a hardware flavor, serving a commit)",
    example="aiospace wait me/my-space --revision $(git rev-parse HEAD) --stall-after 20m --timeout 30m",
    run=cmd_wait,
    arguments=_arguments,
    json=True,
    epilog=EXIT_CODES_HELP,
)

"""``aiospace wait``: wait until a Space (or many) runs; :func:`wait_for` is also the ``--wait`` of other
commands, and :func:`wait_settings` the one place a command's flags become a wait's options.

Many Spaces (``aiospace wait A B C``, ``--author NAME``) are waited for at once on the run's one
client (one rate budget): one line per Space as each settles (``--json``: one object per Space),
and the exit code of the worst outcome (an error over a failure over a timeout over success)."""

from __future__ import annotations

import argparse
import sys

import anyio
import attrs

from ..._hub.validate import check_flavor, check_repo_id
from ...client import SpaceClient
from ...engine.many import MAX_SPACES, WaitOutcome, worst
from ...engine.options import OnTrouble, WaitFor
from ...engine.ready import DEFAULT_READY_TIMEOUT
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
from ..options import EXIT_CODES_HELP, count, wait_options
from ..render.progress import HubHealth, WaitProgress
from ..render.streams import print_error
from ..util import EXIT_OK, UsageError, describe_error, exit_code_for, parse_duration
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
        ready=getattr(args, "ready", False),
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
    progress.revision, progress.ready = want.revision, want.ready
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
                ready=want.ready,
                ready_timeout=getattr(args, "ready_timeout", DEFAULT_READY_TIMEOUT),
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
    """Wait until a Space (or many) runs: on a flavor, serving a commit, its app answering (--ready).

    Exit codes say how it went."""
    spaces = list(dict.fromkeys(args.spaces))
    if args.author is not None:
        async for info in hub.list_spaces(author=args.author, limit=MAX_SPACES + 1):
            spaces.append(info.id)
        spaces = list(dict.fromkeys(spaces))
        if not spaces:
            raise UsageError(f"{args.author} has no Space this token can see")
        if len(spaces) > MAX_SPACES:
            raise UsageError(f"more than {MAX_SPACES} Spaces to wait for: name them, or fewer")
    if len(spaces) == 1 and args.author is None:
        return await wait_for(args, hub, spaces[0], hardware=args.hardware, timeout=args.timeout)
    return await _wait_for_many(args, hub, spaces)


async def _wait_for_many(args: argparse.Namespace, hub: SpaceClient, spaces: list[str]) -> int:
    """Wait for every Space at once: one line (or JSON object) per Space as it settles; the worst exit."""
    want, trouble = await wait_settings(args, hub, hardware=args.hardware)
    quiet, as_json = args.quiet, args.json
    progress = {
        space: WaitProgress(args.command, space, hub.clock, tty=False, enabled=not quiet, as_json=as_json)
        for space in spaces
    }
    for each in progress.values():
        each.revision, each.ready = want.revision, want.ready

    def heard(transition: Transition) -> None:
        each = progress[transition.repo_id]
        each.update(transition.current)
        each.action(transition)

    def settled(outcome: WaitOutcome) -> None:
        each = progress[outcome.repo_id]
        if outcome.error is None:
            assert outcome.runtime is not None
            each.report(outcome.runtime)
            return
        each.report(outcome.error)
        if not as_json and outcome.kind == "error":  # not a wait's verdict: the error itself
            said = describe_error(outcome.error)  # names the Space already, for a Hub error
            named = said.startswith(f"{outcome.repo_id}:") or said.startswith(f"{outcome.repo_id} ")
            print_error(args.command, said if named else f"{outcome.repo_id}: {said}")

    health = HubHealth(args.command, hub.endpoint)
    unsubscribe = hub.subscribe(health) if not quiet else (lambda: None)
    try:
        outcomes = await hub.wait_for_spaces(
            spaces,
            want,
            trouble,
            timeout=args.timeout,
            ready_timeout=args.ready_timeout,
            on_settled=settled,
            on_transition=heard,
        )
    finally:
        unsubscribe()
    bad = worst(outcomes)
    return EXIT_OK if bad is None or bad.error is None else exit_code_for(bad.error)


def _check(args: argparse.Namespace) -> None:
    """At least one Space (or ``--author``); every name well formed."""
    if not args.spaces and args.author is None:
        raise UsageError("name a Space (or more), or --author NAME")
    for space in args.spaces:
        check_repo_id(space, "SPACE")


def _arguments(p: argparse.ArgumentParser) -> None:
    """SPACE..., what to wait for, how long, and what a deploy may do about trouble."""
    p.add_argument(
        "spaces", metavar="SPACE", nargs="*", help="namespace/name; several are waited for at once"
    )
    p.add_argument("--author", metavar="NAME", help="also every Space of this user or organization")
    p.add_argument("--hardware", metavar="FLAVOR", help="also wait until it runs on this flavor")
    wait_options(p, flag=False)
    ready = p.add_argument_group("readiness")
    ready.add_argument(
        "--ready",
        action="store_true",
        help="also wait until the Space's app answers (a status below 500, at the URL the Hub names)",
    )
    ready.add_argument(
        "--ready-timeout",
        type=parse_duration,
        default=DEFAULT_READY_TIMEOUT,
        metavar="DURATION",
        help="with --ready: how long the app may take to answer once the Space runs (default 5m)",
    )
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
        help="fail (or --on-stall) when a building or starting stage lasts longer than this "
        "(default: a start may last the Space's own startup_duration_timeout, 30m unless its README "
        "sets it; builds are not judged)",
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
    help="wait until a Space (or many) runs (on a hardware flavor, serving a commit, its app answering)",
    example="aiospace wait me/my-space --revision $(git rev-parse HEAD) --ready --timeout 30m",
    run=cmd_wait,
    arguments=_arguments,
    json=True,
    epilog=EXIT_CODES_HELP
    + """
with --ready, exit 1 also when the Space runs but its app never answered within
--ready-timeout (the last status it answered is printed)

many Spaces (SPACE SPACE..., --author NAME): waited for at once, one line (--json: one
object) per Space as it settles; the exit code is the worst outcome's (4 or 5 over 1 over
3 over 0)
""",
    check=_check,
)

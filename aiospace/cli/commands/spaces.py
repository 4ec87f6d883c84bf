"""A Space's life: ``create``, ``duplicate`` and ``delete`` it; set its ``volumes``."""

from __future__ import annotations

import argparse
import sys

from ..._hub.validate import SDKS
from ...client import SpaceClient
from ...errors import ConflictError
from ..command import HubCommand
from ..options import EXIT_CODES_HELP, space_argument, wait_options
from ..render.answers import print_json, print_volumes, volume_json
from ..render.streams import print_error
from ..util import (
    EXIT_OK,
    EXIT_USAGE,
    VOLUME_FORMAT,
    UsageError,
    describe_error,
    exit_code_for,
    parse_sleep_time,
    parse_volume,
)
from .names import hub_flavor, known_tier
from .wait import wait_for

__all__ = ["CREATE", "DELETE", "DUPLICATE", "VOLUMES"]


async def cmd_create(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Create a Space with an SDK (and hardware, visibility, volumes), optionally waiting for it to run."""
    volumes = [parse_volume(spec) for spec in args.volume or ()]
    visibility = "private" if args.private else "protected" if args.protected else None
    hardware = None if args.hardware is None else await hub_flavor(hub, args.hardware, "--hardware")
    created = await hub.create_space(
        args.space,
        sdk=args.sdk,
        visibility=visibility,
        hardware=hardware,
        sleep_time=args.sleep_time,
        volumes=volumes or None,
        exist_ok=args.exist_ok,
    )
    if args.json and not args.wait:
        print_json({"space": created.repo_id, "url": created.url})
        return EXIT_OK
    if not args.json:
        print(f"{created.repo_id} created: {created.url}", flush=True)
    if not args.wait:
        return EXIT_OK
    hardware = None if args.sdk == "static" else args.hardware
    return await wait_for(args, hub, created.repo_id, hardware=hardware, timeout=args.timeout)


def _create_arguments(p: argparse.ArgumentParser) -> None:
    """SPACE, its SDK, hardware, sleep time, visibility and volumes; the wait options."""
    space_argument(p, help="namespace/name (yours, or an organization's)")
    p.add_argument(
        "--sdk", required=True, choices=SDKS, help="the Space's SDK (static Spaces run no hardware)"
    )
    p.add_argument("--hardware", metavar="FLAVOR", help="e.g. cpu-basic, t4-small (default: the Hub's)")
    p.add_argument(
        "--sleep-time", type=parse_sleep_time, metavar="DURATION", help="idle time before it sleeps"
    )
    created_visibility = p.add_mutually_exclusive_group()
    created_visibility.add_argument("--private", action="store_true", help="only you (and your org) see it")
    created_visibility.add_argument(
        "--protected", action="store_true", help="a public app, its files private"
    )
    p.add_argument(
        "--volume",
        action="append",
        metavar=VOLUME_FORMAT,
        help="mount a bucket, model, dataset or Space (repeatable)",
    )
    p.add_argument("--exist-ok", action="store_true", help="an existing Space is not an error")
    wait_options(p, flag=True)


CREATE = HubCommand(
    name="create",
    help="create a Space",
    example="aiospace create me/my-space --sdk gradio --hardware t4-small --private --wait",
    run=cmd_create,
    arguments=_create_arguments,
    json=True,
    epilog="Without --wait: exit 0, or 2, 4, 5 as every command (409: the Space exists).\n" + EXIT_CODES_HELP,
)


async def cmd_duplicate(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Copy a Space (to your namespace by default), optionally waiting for the copy to run."""
    hardware = None if args.hardware is None else await hub_flavor(hub, args.hardware, "--hardware")
    storage = None if args.storage is None else known_tier(args.storage, "--storage")
    try:
        duplicated = await hub.duplicate_space(
            args.source,
            args.target,
            private=args.private,
            hardware=hardware,
            storage=storage,
            sleep_time=args.sleep_time,
            exist_ok=args.exist_ok,
        )
    except ConflictError as error:
        print_error(args.command, f"{describe_error(error)}; --exist-ok accepts the existing Space")
        return exit_code_for(error)
    if args.json and not args.wait:
        document = {"space": duplicated.repo_id, "url": duplicated.url, "existed": duplicated.existed}
        print_json(document)
        return EXIT_OK
    if not args.json:
        if duplicated.existed:
            print(f"{duplicated.repo_id} already existed: nothing copied ({duplicated.url})", flush=True)
        else:
            print(f"{args.source} duplicated to {duplicated.repo_id}: {duplicated.url}", flush=True)
    if not args.wait:
        return EXIT_OK
    return await wait_for(args, hub, duplicated.repo_id, hardware=args.hardware, timeout=args.timeout)


def _duplicate_arguments(p: argparse.ArgumentParser) -> None:
    """FROM, TO, the copy's settings; the wait options."""
    p.add_argument("source", metavar="FROM")
    p.add_argument("target", nargs="?", metavar="TO", help="default: your namespace, same name")
    p.add_argument("--hardware", metavar="FLAVOR")
    p.add_argument("--storage", metavar="TIER")
    p.add_argument("--sleep-time", type=parse_sleep_time, metavar="DURATION")
    visibility = p.add_mutually_exclusive_group()
    visibility.add_argument("--private", action="store_true", default=None, help="make the copy private")
    visibility.add_argument("--public", dest="private", action="store_false", help="make the copy public")
    p.add_argument("--exist-ok", action="store_true", help="an existing target is not an error")
    wait_options(p, flag=True)


DUPLICATE = HubCommand(
    name="duplicate",
    help="copy a Space",
    example="aiospace duplicate someone/app me/app --hardware t4-small --private --wait",
    run=cmd_duplicate,
    arguments=_duplicate_arguments,
    json=True,
    epilog=EXIT_CODES_HELP,
)


def _confirm(question: str) -> bool:
    """Ask ``question [y/N]`` on the terminal; True only for yes."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


async def cmd_delete(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Delete a Space for good (asks first on a terminal; ``--yes`` otherwise)."""
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("stdin is not a terminal: confirm with --yes to delete")
        if not _confirm(f"Delete the Space {args.space} and everything in it? This can't be undone."):
            print_error(args.command, f"{args.space} not deleted")
            return EXIT_USAGE
    await hub.delete_space(args.space, missing_ok=args.missing_ok)
    if args.json:
        print_json({"space": args.space, "deleted": True})
    else:
        print(f"{args.space} deleted", flush=True)
    return EXIT_OK


def _delete_arguments(p: argparse.ArgumentParser) -> None:
    """SPACE, --yes, --missing-ok."""
    space_argument(p)
    p.add_argument("-y", "--yes", action="store_true", help="delete without asking")
    p.add_argument("--missing-ok", action="store_true", help="a Space that does not exist is not an error")


DELETE = HubCommand(
    name="delete",
    help="delete a Space for good",
    example="aiospace delete me/old-space --yes",
    run=cmd_delete,
    arguments=_delete_arguments,
    json=True,
    epilog="On a terminal it asks first (not confirmed: nothing is deleted, exit 2);\n"
    "otherwise --yes is required. Watches of the Space end: it is not found any more.",
)


async def cmd_volumes(args: argparse.Namespace, hub: SpaceClient) -> int:
    """List, set or remove the volumes mounted in a Space (buckets, models, datasets, Spaces)."""
    if args.action == "ls":
        if args.volumes:
            raise UsageError("`volumes ls` takes no volume")
        runtime = await hub.get_space_runtime(args.space)
        print_volumes(args.space, runtime.volumes, as_json=args.json)
        return EXIT_OK
    if args.action == "rm":
        if args.volumes:
            raise UsageError("`volumes rm` removes every volume: it takes none")
        await hub.delete_space_volumes(args.space)
        if args.json:
            print_json({"space": args.space, "volumes": []})
        else:
            print(f"{args.space}: volumes removed (the Space rebuilds)", flush=True)
        return EXIT_OK
    if not args.volumes:
        raise UsageError(
            "`volumes set` needs at least one TYPE:SOURCE:/MOUNT (`volumes rm` removes them all)"
        )
    volumes = [parse_volume(spec) for spec in args.volumes]
    await hub.set_space_volumes(args.space, volumes)
    if args.json:
        print_json({"space": args.space, "volumes": [volume_json(v) for v in volumes]})
    else:
        count = f"{len(volumes)} volume{'s' if len(volumes) > 1 else ''}"
        print(f"{args.space}: {count} set (the Space rebuilds)", flush=True)
    return EXIT_OK


def _volumes_arguments(p: argparse.ArgumentParser) -> None:
    """The action, SPACE and the volumes (for ``set``)."""
    p.add_argument("action", choices=("ls", "set", "rm"))
    space_argument(p)
    p.add_argument("volumes", nargs="*", metavar="VOLUME", help=f"{VOLUME_FORMAT} (for `set`)")


VOLUMES = HubCommand(
    name="volumes",
    help="list, set or remove the volumes mounted in a Space",
    example="aiospace volumes set me/my-space model:me/my-model:/models bucket:me/data:/data:rw",
    run=cmd_volumes,
    arguments=_volumes_arguments,
    json=True,
    epilog=f"A volume is {VOLUME_FORMAT}: TYPE is bucket, model, dataset or space;\n"
    "SOURCE its id (a repository's revision after @); MOUNT an absolute path in the\n"
    "container; :ro or :rw its access (repositories are always read-only).\n"
    "`set` replaces every volume of the Space and `rm` removes them all; both rebuild it.\n"
    "Volumes replace persistent storage (`aiospace storage`).",
)

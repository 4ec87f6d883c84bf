"""CI deploy: push a folder, then wait until the Space serves *that* commit; fail the job with its logs.

Right after a push the Hub still shows the old container RUNNING for a few seconds: a
plain "wait until RUNNING" would pass for code that never ran. The folder goes up with
the official client (``HfApi.upload_folder``), and ``wait_for_space(revision=commit.oid,
ready=True)`` returns only once the pushed commit's build ran and its app answers.

Run it with no setup (an embedded Hub emulator is started when no endpoint or token is
given, and the bundled ``examples/space_app`` folder is deployed)::

    python examples/ci_deploy.py alice/demo                  # exit 0: the new commit serves
    python examples/ci_deploy.py alice/demo --break-build    # exit 1: BUILD_ERROR and its log tail
    python examples/ci_deploy.py alice/demo --git            # the same, pushed with git

Against the Hub, in a CI job (push a folder, creating the Space on the first deploy, or
name a commit you pushed yourself, e.g. with ``git push``)::

    HF_TOKEN=${{ secrets.HF_TOKEN }} python examples/ci_deploy.py me/my-space --folder ./app --create
    HF_TOKEN=${{ secrets.HF_TOKEN }} python examples/ci_deploy.py me/my-space --revision $(git rev-parse HEAD)

``--git`` deploys the way the Hub's guide for GitHub Actions does: clone the Space, copy the
folder over, commit, ``git push``, then wait for ``git rev-parse HEAD`` (the shell version is
``git push`` then ``aiospace wait me/my-space --revision "$(git rev-parse HEAD)"``). The token
goes to git as an HTTP header in git's environment, never in a URL, a command line or
``.git/config``::

    HF_TOKEN=${{ secrets.HF_TOKEN }} python examples/ci_deploy.py me/my-space --folder ./app --git

``--break-build`` (embedded emulator only) pushes the folder with the emulator's failure
marker in its app file (``# aiospace-emulator: build-error``): the build of that very
push fails, as a broken commit's would.

Exit codes: 0 the commit serves; 1 the Space failed, stalled, won't start on its own, or
a newer push superseded the commit; 3 timed out; 4 no access; 5 other Hub error.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiospace import (
    AiospaceError,
    AuthenticationError,
    OnTrouble,
    PermissionDeniedError,
    RevisionSupersededError,
    SpaceClient,
    SpaceFailedError,
    SpaceNotFoundError,
    SpaceNotStartingError,
    SpaceStalledError,
    Transition,
    WaitTimeoutError,
)
from aiospace.emulator import Emulator
from aiospace.errors import AppNotReadyError

#: What the embedded emulator deploys when no --folder is given.
SAMPLE_APP = Path(__file__).resolve().parent / "space_app"
#: Each SDK's app file, and how a comment is written in it.
APP_FILES = {"app.py": "# {}", "Dockerfile": "# {}", "index.html": "<!-- {} -->"}


@asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[tuple[SpaceClient, Emulator | None, str | None]]:
    """A client for --endpoint/--token (or HF_ENDPOINT/HF_TOKEN), else for an embedded emulator.

    Also yields the emulator (None on the Hub) and the token the push will use.
    """
    endpoint = args.endpoint or os.environ.get("HF_ENDPOINT")
    token = args.token or os.environ.get("HF_TOKEN")
    if endpoint or token:
        async with SpaceClient(endpoint=endpoint, token=token) as hub:
            yield hub, None, token
        return
    async with Emulator(speed=args.speed) as emulator:
        owner = emulator.token_for(args.space.split("/")[0])
        print(f"(no endpoint or token given: using an embedded Hub emulator at {args.speed:g}x)")
        async with SpaceClient(endpoint=emulator.url, token=owner, clock=emulator.clock) as hub:
            yield hub, emulator, owner


def broken_copy(folder: Path, scratch: Path) -> Path:
    """A copy of ``folder`` whose app file carries the emulator's build-failure marker."""
    copy = scratch / folder.name
    shutil.copytree(folder, copy)
    app = next((name for name in APP_FILES if (copy / name).exists()), "app.py")
    with (copy / app).open("a", encoding="utf-8") as file:
        file.write("\n" + APP_FILES[app].format("aiospace-emulator: build-error") + "\n")
    return copy


def upload(args: argparse.Namespace, endpoint: str, token: str | None) -> str:
    """Push the folder with the official client (creating the Space first with --create).

    Returns the commit's sha, ``CommitInfo.oid`` (the current head if nothing changed).
    """
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    if args.create:
        api.create_repo(args.space, repo_type="space", space_sdk=args.sdk, exist_ok=True)
    folder = Path(args.folder) if args.folder else SAMPLE_APP
    with tempfile.TemporaryDirectory() as scratch:
        if args.break_build:
            folder = broken_copy(folder, Path(scratch))
        info = api.upload_folder(
            repo_id=args.space,
            repo_type="space",
            folder_path=folder,
            commit_message=args.message,
            delete_patterns=args.delete or None,
        )
    return str(info.oid)


class GitError(Exception):
    """A git command failed; ``status`` is the HTTP status git reported (None: another failure)."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


def git(argv: list[str], cwd: Path | None, env: dict[str, str]) -> str:
    """Run ``git ARGV``; its stdout (GitError with git's last lines if it fails)."""
    done = subprocess.run(["git", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[-3:]
        status = next((code for code in (401, 403, 404) if f"error: {code}" in done.stderr), None)
        if "Authentication failed" in done.stderr or "could not read Username" in done.stderr:
            status = 401
        raise GitError(f"git {argv[0]} failed: {' / '.join(said)}", status)
    return done.stdout


def git_env(space: str, token: str | None) -> dict[str, str]:
    """git's environment: the token as an ``Authorization`` header (basic auth, the owner as the
    user name, as the Hub's guide has it), a fixed identity, no prompt."""
    owner = space.split("/")[0]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    settings = {"user.name": owner, "user.email": f"{owner}@users.noreply.huggingface.co"}
    if token:
        basic = base64.b64encode(f"{owner}:{token}".encode()).decode()
        settings["http.extraHeader"] = f"Authorization: Basic {basic}"
    env["GIT_CONFIG_COUNT"] = str(len(settings))
    for i, (key, value) in enumerate(settings.items()):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    return env


def git_push(args: argparse.Namespace, endpoint: str, token: str | None) -> str:
    """Clone the Space, copy the folder over, commit, ``git push``: the sha of ``git rev-parse HEAD``."""
    if args.create:
        from huggingface_hub import HfApi

        HfApi(endpoint=endpoint, token=token).create_repo(
            args.space, repo_type="space", space_sdk=args.sdk, exist_ok=True
        )
    env = git_env(args.space, token)
    folder = Path(args.folder) if args.folder else SAMPLE_APP
    with tempfile.TemporaryDirectory() as scratch:
        if args.break_build:
            folder = broken_copy(folder, Path(scratch))
        work = Path(scratch) / "clone"
        git(["clone", "--quiet", f"{endpoint.rstrip('/')}/spaces/{args.space}", str(work)], None, env)
        shutil.copytree(folder, work, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git"))
        git(["add", "-A"], work, env)
        if git(["status", "--porcelain"], work, env).strip():  # else: nothing new, wait for the head
            git(["commit", "--quiet", "-m", args.message], work, env)
            git(["push", "--quiet", "origin", "HEAD:main"], work, env)
        return git(["rev-parse", "HEAD"], work, env).strip()


async def push(
    args: argparse.Namespace, hub: SpaceClient, emulator: Emulator | None, token: str | None
) -> str:
    """Push the new code; return the commit's sha."""
    if args.revision:
        return str(args.revision)  # pushed by someone else (git push, another job)
    if emulator is None and not args.folder:
        raise SystemExit("against the Hub, give --folder DIR to push, or --revision SHA you pushed")
    if args.git:
        return await asyncio.to_thread(git_push, args, hub.endpoint, token)
    return await asyncio.to_thread(upload, args, hub.endpoint, token)


def annotate(message: str) -> None:
    """An error line; on GitHub Actions, also an annotation on the job."""
    print(message, file=sys.stderr)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::error title=Space deployment failed::{message}")


def print_tail(lines: list[str]) -> None:
    print(f"--- last {len(lines)} log lines ---", file=sys.stderr)
    for line in lines:
        print(line.rstrip(), file=sys.stderr)


def progress(transition: Transition) -> None:
    """What the wait saw and did, one line each."""
    changes = ", ".join(sorted(c.value for c in transition.changes))
    print(f"  {transition.current.stage} ({changes})", flush=True)


async def deploy(args: argparse.Namespace) -> int:
    async with connect(args) as (hub, emulator, token):
        if args.break_build and emulator is None:
            raise SystemExit("--break-build only works on the embedded emulator")
        try:
            if args.create and not args.revision:
                before_sha = "(new)"
            else:
                before_sha = str((await hub.space_info(args.space, expand=["sha"])).sha)[:12]  # 404 first
            sha = await push(args, hub, emulator, token)
            if args.hardware:
                await hub.request_space_hardware(args.space, args.hardware)
            print(f"{args.space}: pushed {sha[:12]} (was {before_sha}), waiting up to {args.timeout:g}s")
            runtime = await hub.wait_for_space(
                args.space,
                revision=sha,
                hardware=args.hardware,
                timeout=args.timeout,
                log_lines=args.log_lines,
                ready=True,  # and its app answers (a RUNNING Space can still not serve)
                ready_timeout=args.ready_timeout,
                trouble=OnTrouble(
                    stall_after=args.stall_after,
                    on_stall="factory_reboot" if args.factory_reboot_on_stall else "raise",
                    retry_capacity=args.retry_capacity,
                    fallback_hardware=args.fallback_hardware or (),
                ),
                on_transition=progress,
            )
        except AppNotReadyError as silent:
            last = "no answer" if silent.last_status is None else f"status {silent.last_status}"
            annotate(f"{args.space} runs but its app never answered ({last} after {silent.waited:.0f}s)")
            print_tail(silent.log_lines)
            return 1
        except SpaceStalledError as stall:
            annotate(f"{args.space} stalled in {stall.runtime.stage} for {stall.stalled_for:.0f}s")
            print_tail(stall.log_lines)
            return 1
        except SpaceFailedError as failure:
            why = f" ({failure.runtime.error_message})" if failure.runtime.error_message else ""
            annotate(f"{args.space} failed: {failure.runtime.stage}{why}")
            print_tail(failure.log_lines)
            return 1
        except RevisionSupersededError as superseded:
            annotate(f"{args.space}: {superseded.revision[:12]} was superseded by {superseded.head[:12]}")
            return 1
        except SpaceNotStartingError as idle:
            annotate(f"{args.space} is {idle.runtime.stage}: {idle.hint}")
            return 1
        except WaitTimeoutError as timeout:
            stage = timeout.runtime.stage if timeout.runtime else "unknown"
            why = f": {timeout.reason}" if timeout.reason else ""
            annotate(f"{args.space} still {stage} after {timeout.timeout:g}s{why}")
            return 3
        except (SpaceNotFoundError, AuthenticationError, PermissionDeniedError) as denied:
            annotate(f"no access to {args.space}: {denied.message}")
            return 4
        except AiospaceError as error:
            annotate(f"{args.space}: {error}")
            return 5
        except Exception as error:  # the official client's or git's errors (the push)
            status = getattr(getattr(error, "response", None), "status_code", getattr(error, "status", None))
            annotate(f"{args.space}: the push failed: {type(error).__name__}: {str(error).splitlines()[0]}")
            return 4 if status in (401, 403, 404) else 5
        print(f"{args.space} serves {sha[:12]}: {runtime.stage} on {runtime.hardware}")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("space", nargs="?", default="alice/demo", help="namespace/name (default alice/demo)")
    parser.add_argument(
        "--folder",
        help="push this folder with huggingface_hub's upload_folder (emulator: examples/space_app)",
    )
    parser.add_argument("--create", action="store_true", help="create the Space first if it doesn't exist")
    parser.add_argument(
        "--git", action="store_true", help="push with git (clone, commit, git push) instead of upload_folder"
    )
    parser.add_argument("--sdk", default="gradio", help="the SDK of a Space --create makes (default gradio)")
    parser.add_argument("--message", default="Deploy from CI", help="the commit message")
    parser.add_argument(
        "--delete",
        action="append",
        help="remote files the folder lacks to delete (glob; repeatable, e.g. '*')",
    )
    parser.add_argument("--revision", help="wait for this commit (full sha) instead of pushing")
    parser.add_argument("--hardware", help="also move the Space to this flavor")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default 900)")
    parser.add_argument("--log-lines", type=int, default=30, help="log lines to show on failure")
    parser.add_argument(
        "--ready-timeout", type=float, default=300.0, help="seconds the app may take to answer once running"
    )
    parser.add_argument("--stall-after", type=float, help="fail if a build or start lasts longer (seconds)")
    parser.add_argument(
        "--factory-reboot-on-stall", action="store_true", help="on a stall, rebuild once without cache"
    )
    parser.add_argument("--retry-capacity", type=int, default=0, help="restarts after a capacity failure")
    parser.add_argument("--fallback-hardware", action="append", help="flavors those restarts move to")
    parser.add_argument("--endpoint", help="the Hub's URL (default: $HF_ENDPOINT)")
    parser.add_argument("--token", help="a Hub token (default: $HF_TOKEN)")
    parser.add_argument("--speed", type=float, default=20.0, help="speed of the embedded emulator")
    parser.add_argument(
        "--break-build", action="store_true", help="embedded emulator only: push a build-failure marker"
    )
    return asyncio.run(deploy(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

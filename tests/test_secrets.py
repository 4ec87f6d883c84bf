"""The token and secret values never show, through the whole library.

tests/client/test_client.py checks a token kept out of a repr and of two errors' messages,
tests/hub/test_redact.py secrets echoed back by a hostile Hub. Here, marked ``hostile`` (the
session meets faults of every kind):

* a full session on the emulator -- every SpaceClient method, secrets added,
  duplicated and seeded, the watch engine, errors of every kind (4xx, 429, 5xx,
  reset, truncated, malformed, timeout, refused, refused arguments) -- with every
  log record at DEBUG (root logger: the emulator's side included), every exception's
  message, repr, attributes and traceback, every result's repr, and every byte the
  client received captured, then scanned for the token and the secret values;
* the same for the CLI's outputs (``-v`` debug log included).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import anyio
import pytest

from aiospace import AiospaceError, Cadence, RetryPolicy, SpaceClient, SpaceStage, Volume
from aiospace.emulator import Emulator

TOKEN = "hf_Tok3nThatMustNeverShow0123456789"


BOB_TOKEN = "hf_B0bTokenThatMustNeverShow98765"


WRONG_TOKEN = "hf_WrongTokenThatMustNeverShow555"


SECRETS = {
    "seeded": "s33ded-SECRET-value-7f1c",
    "added": "added-SECRET-value-93ab",
    "duplicated": "dup-SECRET-value-c0ffee",
    "refused": "refused-SECRET-value-dead",
    "cli": "cli-SECRET-value-beef",
    "created": "created-SECRET-value-5eed",
}


NEEDLES = [TOKEN, BOB_TOKEN, WRONG_TOKEN, *SECRETS.values()]


FAST = Cadence(fast=1.0, slow=5.0, after_write=10.0, error_max=5.0)


SEED = {
    "users": {"alice": TOKEN, "bob": BOB_TOKEN},
    "spaces": [
        {
            "id": "alice/app",
            "hardware": "t4-small",
            "secrets": {"SEEDED": {"value": SECRETS["seeded"], "description": "seeded"}},
            "variables": {"MODEL": {"value": "gpt2", "description": "the model"}},
            "build_seconds": 4,
            "start_seconds": 2,
            "hardware_seconds": 2,
        },
        {"id": "alice/private", "private": True, "build_seconds": 4, "start_seconds": 2},
        {"id": "alice/site", "sdk": "static"},
        {"id": "bob/tool", "sdk": "docker"},
    ],
}


class Capture(logging.Handler):
    """Every record, formatted with its traceback, and its raw args."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(record.args))


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def hub() -> AsyncIterator[Emulator]:
    async with Emulator(speed=200, seed=SEED, rng_seed=3) as emulator:
        yield emulator


def _error_texts(error: BaseException) -> list[str]:
    return [
        str(error),
        repr(error),
        repr(vars(error)),
        "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    ]


def _leaks(texts: list[str]) -> list[tuple[str, str]]:
    return [(needle, text[:300]) for text in texts for needle in NEEDLES if needle in text]


class Session:
    """Runs calls, keeps every text that could reach a user: results, errors, reprs."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.errors: dict[str, type[BaseException]] = {}

    async def ok(self, call: Awaitable[Any]) -> Any:
        result = await call
        self.texts += [repr(result), str(result)]
        return result

    async def fails(self, label: str, call: Callable[[], Awaitable[Any]]) -> BaseException:
        try:
            await call()
        except AiospaceError as error:
            self.texts += _error_texts(error)
            self.errors[label] = type(error)
            return error
        raise AssertionError(f"{label}: no error")


async def _collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


def _tracing_session(received: list[bytes]) -> aiohttp.ClientSession:
    async def on_chunk(_: Any, __: SimpleNamespace, params: Any) -> None:
        received.append(bytes(params.chunk))

    trace = aiohttp.TraceConfig()
    trace.on_response_chunk_received.append(on_chunk)
    return aiohttp.ClientSession(trace_configs=[trace])


@pytest.mark.hostile
async def test_a_full_session_never_shows_the_token_or_a_secret_value(
    hub: Emulator, capture: Capture
) -> None:
    received: list[bytes] = []
    s = Session()
    repo = "alice/app"
    policy = RetryPolicy(read_attempts=2, write_attempts=2, base_delay=0.1, max_retry_after=30)
    async with _tracing_session(received) as http:
        alice = SpaceClient(endpoint=hub.url, token=TOKEN, clock=hub.clock, session=http, retry=policy)
        bob = SpaceClient(endpoint=hub.url, token=BOB_TOKEN, clock=hub.clock, session=http, retry=policy)
        wrong = SpaceClient(endpoint=hub.url, token=WRONG_TOKEN, clock=hub.clock, session=http)
        quick = SpaceClient(endpoint=hub.url, token=TOKEN, clock=hub.clock, session=http, timeout=0.2)
        async with alice, bob, wrong, quick:
            s.texts += [repr(alice), repr(bob), repr(wrong), repr(quick)]
            # Every method, successfully.
            await s.ok(alice.get_space_runtime(repo))
            await s.ok(alice.request_space_hardware(repo, "a10g-small", sleep_time=3600))
            await s.ok(alice.set_space_sleep_time(repo, 7200))
            await s.ok(alice.enable_space_dev_mode(repo))
            await s.ok(alice.disable_space_dev_mode(repo))
            await s.ok(alice.add_space_secret(repo, "ADDED", SECRETS["added"], description="added"))
            secrets = await s.ok(alice.get_space_secrets(repo))
            assert set(secrets) == {"SEEDED", "ADDED"}
            await s.ok(alice.delete_space_secret(repo, "ADDED"))
            await s.ok(alice.add_space_variable(repo, "LEVEL", "3", description="a level"))
            await s.ok(alice.get_space_variables(repo))
            await s.ok(alice.delete_space_variable(repo, "LEVEL"))
            await s.ok(alice.request_space_storage(repo, "small"))
            await s.ok(alice.delete_space_storage(repo))
            secret_items = [{"key": "DUP", "value": SECRETS["duplicated"]}]
            await s.ok(alice.duplicate_space(repo, "alice/copy", secrets=secret_items, hardware="cpu-basic"))
            await s.ok(alice.duplicate_space("bob/tool", secrets=secret_items))  # default target: whoami
            await s.ok(alice.duplicate_space(repo, "alice/copy", secrets=secret_items, exist_ok=True))
            assert await s.ok(alice.whoami()) == "alice"
            created_secrets = [{"key": "NEW", "value": SECRETS["created"]}]
            mount = [Volume("model", "alice/model", "/m")]
            await s.ok(alice.create_space("alice/made", sdk="docker", secrets=created_secrets, volumes=mount))
            await s.ok(alice.set_space_volumes("alice/made", [Volume("bucket", "alice/bucket", "/b")]))
            await s.ok(alice.delete_space_volumes("alice/made"))
            await s.ok(alice.duplicate_space("alice/made", "alice/made-copy", visibility="protected"))
            await s.ok(alice.get_zero_gpu_quota())
            made_secret = hub.world.space("alice/made").secrets["NEW"].value
            await s.ok(alice.delete_space("alice/made"))
            await s.ok(alice.list_spaces_hardware())
            await s.ok(alice.space_info(repo, expand=["runtime", "sdk"]))
            await s.ok(_collect(alice.list_spaces(author="alice", expand=["runtime"])))
            await s.ok(_collect(alice.fetch_space_logs(repo)))
            await s.ok(_collect(alice.fetch_space_logs(repo, build=True)))
            await s.ok(alice.restart_space(repo, factory_reboot=True))
            runtime = await s.ok(alice.wait_for_space(repo, timeout=600, cadence=FAST))
            assert runtime.stage == SpaceStage.RUNNING
            async for transition in alice.watch(repo, cadence=FAST):
                s.texts += [repr(transition), str(transition.to_json())]
                break
            async with alice.watcher(cadence=FAST, batch=False) as watcher:
                watcher.add(repo, "alice/private")
                for _ in range(2):
                    transition = await watcher.__anext__()
                    s.texts += [repr(transition), str(transition.to_json())]
                s.texts += [repr(watcher.stats), repr(watcher.tracker(repo))]
            await s.ok(alice.pause_space(repo))

            # Errors of every kind.
            await s.fails("404", lambda: alice.get_space_runtime("alice/nope"))
            await s.fails("404-private", lambda: bob.get_space_runtime("alice/private"))
            await s.fails(
                "404-private-secret", lambda: bob.add_space_secret("alice/private", "K", SECRETS["refused"])
            )
            await s.fails("403", lambda: alice.add_space_secret("bob/tool", "K", SECRETS["refused"]))
            await s.fails("403-read", lambda: bob.get_space_secrets(repo))
            await s.fails("401", lambda: wrong.add_space_secret(repo, "K", SECRETS["refused"]))
            await s.fails("400", lambda: alice.pause_space("alice/site"))
            await s.fails("409", lambda: alice.duplicate_space(repo, "alice/copy", secrets=secret_items))
            await s.fails(
                "409-create",
                lambda: alice.create_space(
                    repo, sdk="gradio", secrets=[{"key": "K", "value": SECRETS["refused"]}]
                ),
            )
            await s.fails("404-delete", lambda: bob.delete_space("alice/private"))
            await s.fails(
                "refused-value", lambda: alice.add_space_secret(repo, "K", SECRETS["refused"] * 5000)
            )
            await s.fails("refused-key", lambda: alice.add_space_secret(repo, "1BAD", SECRETS["refused"]))
            await s.fails(
                "refused-dup",
                lambda: alice.duplicate_space(repo, "alice/c2", secrets=[{"value": SECRETS["refused"]}]),
            )
            world = hub.world
            for label, kind, options in [
                ("429", "error", {"status": 429, "retry_after": 3600}),
                ("500", "error", {"status": 500}),
                ("503", "error", {"status": 503}),
                ("reset", "reset", {}),
                ("truncate", "truncate", {}),
                ("malformed", "malformed", {}),
            ]:
                fault = world.add_fault(kind, route="add_space_secret", **options)
                await s.fails(label, lambda: alice.add_space_secret(repo, "K", SECRETS["refused"]))
                world.faults.remove(fault.id)
                world.add_fault(kind, route="get_space_runtime", times=2, **options)
                await s.fails(label + "-read", lambda: alice.get_space_runtime(repo))
            fault = world.add_fault("latency", route="add_space_secret", latency=200)
            await s.fails("timeout", lambda: quick.add_space_secret(repo, "K", SECRETS["refused"]))
            world.faults.remove(fault.id)
            hub.world.configure(repo, fail_build=True)
            await s.ok(alice.restart_space(repo))
            await s.fails("build-error", lambda: alice.wait_for_space(repo, timeout=600, cadence=FAST))
            hub.world.configure(repo, fail_build=False, stuck=True)
            await s.ok(alice.restart_space(repo))
            await s.fails("wait-timeout", lambda: alice.wait_for_space(repo, timeout=30, cadence=FAST))
            s.texts += [repr(c.stats) for c in (alice, bob, wrong, quick)] + [repr(alice.rate_limit)]
    async with SpaceClient(
        endpoint="http://127.0.0.1:9", token=TOKEN, retry=RetryPolicy(read_attempts=1)
    ) as gone:
        await s.fails("refused", lambda: gone.get_space_runtime(repo))

    assert set(s.errors) >= {"404", "403", "401", "400", "409", "429", "500", "reset", "timeout", "refused"}
    assert "retrying" in "\n".join(capture.texts), "the DEBUG log was captured"
    assert _leaks(s.texts) == []
    assert _leaks(capture.texts) == []
    wire = b"".join(received).decode("utf-8", "replace")
    assert "SEEDED" in wire and "ADDED" in wire  # keys are answered...
    assert [needle for needle in NEEDLES if needle in wire] == []  # ...values and tokens never
    # The secrets really were stored (so their absence above means something).
    assert world.space(repo).secrets["SEEDED"].value == SECRETS["seeded"]
    assert world.space("alice/copy").secrets["DUP"].value == SECRETS["duplicated"]
    assert made_secret == SECRETS["created"]


@pytest.mark.hostile
async def test_cli_outputs_never_show_the_token_or_a_secret_value(
    hub: Emulator, capture: Capture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from aiospace.cli.app import amain

    value_file = tmp_path / "value"
    value_file.write_text(SECRETS["cli"] + "\n")
    common = ["--endpoint", hub.url, "--token", TOKEN, "-v"]
    runs = [
        ["runtime", "alice/app"],
        ["runtime", "alice/app", "--json"],
        ["secrets", "add", "alice/app", "CLI_KEY", "--value-file", str(value_file)],
        ["secrets", "ls", "alice/app"],
        ["secrets", "ls", "alice/app", "--json"],
        ["duplicate", "alice/app", "alice/cli-copy"],
        ["runtime", "alice/nope"],
        ["secrets", "add", "bob/tool", "CLI_KEY", "--value-file", str(value_file)],
        ["hardware-list", "--json"],
    ]
    codes = []
    for args in runs:
        with anyio.fail_after(30):
            codes.append(await amain([*common, *args], clock=hub.clock))
    out = capsys.readouterr()
    assert codes[:6] == [0] * 6 and codes[6] == codes[7] == 4 and codes[8] == 0, codes
    assert hub.world.space("alice/app").secrets["CLI_KEY"].value == SECRETS["cli"]
    assert "CLI_KEY" in out.out
    assert _leaks([out.out, out.err, *capture.texts]) == []

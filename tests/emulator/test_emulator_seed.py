"""Seeds (``aiospace/emulator/seed.py``): the users, organizations and Spaces an emulator starts
with, and the Spaces the admin route adds from the same spec.

A seed is right, or refused whole: one line on stderr and exit code 1 from ``aiospace emulator
--seed`` (marked ``careless``), a ``ValueError`` from Python, a JSON 400 from the admin route
(marked ``hostile``: non-finite, too big or unknown values), never a traceback.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from raw_http import admin_headers, assert_json_error, exchange, request_bytes

from aiospace.cli import app as cli
from aiospace.emulator import Emulator, World
from aiospace.emulator.seed import apply_seed


@pytest.mark.hostile
@pytest.mark.parametrize(
    "spec",
    [
        b'{"id": "alice/x", "likes": NaN}',
        b'{"id": "alice/x", "likes": Infinity}',
        b'{"id": "alice/x", "likes": 1.5}',
        b'{"id": "alice/x", "likes": -1}',
        b'{"id": "alice/x", "sleep_time": Infinity}',
        b'{"id": "alice/x", "sleep_time": 1e999}',
        b'{"id": "alice/x", "sleep_time": 100000000000000000000000}',
        b'{"id": "alice/x", "sleep_time": 60.5}',
        b'{"id": "alice/x", "build_seconds": 100000000000000000000000000000000000000000000000000000000'
        + b"0" * 400
        + b"}",
        b'{"id": "alice/x", "log_interval": 1e-300}',
        b'{"id": "alice/x", "stage": "GARBAGE"}',
        b'{"id": "alice/x", "stage": "APP_STARTING"}',
        b'{"id": "alice/x", "stage": 5}',
        b'{"id": "alice/x", "hardware": ["t4-small"]}',
        b'{"id": "alice/x", "storage": {"a": 1}}',
        b'{"id": "alice/x", "sdk": ""}',
        b'{"id": "alice/x", "secrets": {"1BAD": "v"}}',
        b'{"id": "alice/x", "secrets": {"K": 5}}',
        b'{"id": "alice/x", "variables": {"K": {"value": "v", "oops": 1}}}',
        b'{"id": "alice/x", "variables": {"K": {"value": "v", "description": 5}}}',
    ],
)
async def test_a_seeded_space_with_a_non_finite_or_unknown_value_is_refused(
    aiospace_emulator: Emulator, spec: bytes
) -> None:
    """``likes: NaN`` was accepted and then answered as invalid JSON; ``stage: "GARBAGE"`` accepted."""
    hub = aiospace_emulator
    assert_json_error(
        await exchange(hub.port, request_bytes("POST", "/_emulator/spaces", spec, admin_headers(hub))), 400
    )
    assert "alice/x" not in hub.world.spaces
    # Every answer the emulator gives stays strict JSON.
    for target in ("/api/spaces?expand=likes", "/api/spaces/alice/demo"):
        answer = await exchange(hub.port, request_bytes("GET", target))
        assert answer.status == 200
        answer.json()


@pytest.mark.careless
@pytest.mark.parametrize(
    "seed",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"spaces": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"spaces": [{"id": "a/b"}, {"id": "a/b"}]}',
        '{"spaces": [{"id": "a/b", "hardware": []}]}',
        '{"spaces": [{"id": "a/b", "likes": NaN}]}',
        '{"spaces": [{"id": "a/b", "stage": "GARBAGE"}]}',
        '{"orgs": ["acme"]}',
        '{"users": {"a b": "tok"}}',
        "{not json",
        '{"spaces": [{"id": "a/b", "hardware": "no\\nsuch"}]}',
        '{"spaces": [{"id": "a/b", "typo\\nkey": 1}]}',
    ],
    ids=[
        "nested",
        "nested-spaces",
        "duplicate",
        "hardware-list",
        "nan",
        "garbage-stage",
        "orgs-list",
        "user-name",
        "not-json",
        "newline-in-flavor",
        "newline-in-key",
    ],
)
def test_a_bad_seed_file_is_one_line_on_stderr_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: str
) -> None:
    """A deeply nested seed file crashed ``aiospace emulator --seed`` with a traceback."""
    path = tmp_path / "seed.json"
    path.write_text(seed, encoding="utf-8")
    assert cli.main(["emulator", "--port", "0", "--seed", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("aiospace emulator: "), err[:500]
    assert err.count("\n") == 1 and "Traceback" not in err, err[:500]
    assert len(err) < 600


@pytest.mark.careless
def test_a_bad_seed_dict_is_a_value_error() -> None:
    """From Python too: a seed is right, or a ``ValueError`` (never a TypeError, a RecursionError...)."""
    from aiospace._clock import ScaledClock

    nested: Any = []
    for _ in range(100_000):
        nested = [nested]
    for seed in (
        {"spaces": nested},
        {"orgs": ["acme"]},
        {"spaces": [{"id": "a/b", "hardware": []}]},
        {"spaces": [{"id": "a/b", "sleep_time": math.inf}]},
        {"spaces": [{"id": "a/b"}, {"id": "a/b"}]},
    ):
        with pytest.raises(ValueError):
            apply_seed(World(ScaledClock(1)), seed)

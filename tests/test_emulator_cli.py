"""The ``aiospace emulator`` command and the ``serve`` function."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from aiospace.cli import app as cli
from aiospace.cli.commands import command_named
from aiospace.emulator import serve


def test_parser_defaults_and_options() -> None:
    args = cli.build_parser().parse_args(["emulator"])
    assert (args.host, args.port, args.speed, args.seed) == ("127.0.0.1", 7860, 1.0, None)
    assert (args.quota, args.window) == (None, 300.0)
    assert args.subcommand is command_named("emulator")
    args = cli.build_parser().parse_args(
        ["emulator", "--port", "0", "--speed", "20", "--seed", "s.json", "--quota", "5", "--window", "60"]
    )
    assert (args.port, args.speed, args.seed, args.quota, args.window) == (0, 20.0, "s.json", 5, 60.0)


@pytest.mark.parametrize("argv", [["emulator", "--speed", "0"], ["emulator", "--quota", "0"], ["nope"]])
def test_parser_refuses_bad_values(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(argv)
    assert info.value.code == 2


def test_main_without_a_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "emulator" in capsys.readouterr().out


def test_main_reports_a_bad_seed_file(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["emulator", "--port", "0", "--seed", "/nonexistent/seed.json"]) == 1
    assert "aiospace emulator" in capsys.readouterr().err


async def test_serve_prints_url_and_tokens_and_serves() -> None:
    lines: list[str] = []
    task = asyncio.create_task(serve(port=0, speed=10, admin_token="adm", print_fn=lines.append))
    for _ in range(500):
        if any(line.startswith("  HF_ENDPOINT=") for line in lines):
            break
        await asyncio.sleep(0.01)
    url = next(line.split("=", 1)[1] for line in lines if line.startswith("  HF_ENDPOINT="))
    assert url.startswith("http://127.0.0.1:")
    assert "  admin token: adm" in lines
    assert "  user alice: hf_alice" in lines
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + "/api/spaces/alice/demo/runtime") as resp,
    ):
        assert resp.status == 200
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

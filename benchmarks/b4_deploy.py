"""B4, one deployment: restart a running Space and wait for it to be RUNNING again.

On a fresh emulator (child process, speed ``SPEED``) one running Space (build 30 s,
start 5 s). Each client restarts it and waits:

* aiospace: ``restart_space`` then ``wait_for_space`` (default cadence);
* huggingface_hub: ``HfApi.restart_space`` then ``HfApi.wait_for_space`` with
  ``poll_interval = 1.0 / SPEED`` real seconds (its default 1.0 s, in Hub time).

Requests used: the emulator's count, restart included. Detection lag: when the wait
returned (Hub time) minus the ground-truth time of the ``RUNNING`` event.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from ._common import Emu, cell, emulator, ratio, running_transitions

NAME = "B4"
TITLE = "B4: one deployment (restart to RUNNING)"
SPACE = "deploy/app"
TOKEN = "hf_deploy"
SPEED = 20.0
CLIENTS = ("aiospace", "huggingface_hub")


def _seed(build: float, start: float) -> dict[str, Any]:
    return {
        "users": {"deploy": TOKEN},
        "spaces": [{"id": SPACE, "sdk": "gradio", "build_seconds": build, "start_seconds": start}],
    }


async def _aiospace(emu: Emu) -> tuple[float, float]:
    from aiospace import SpaceClient

    async with SpaceClient(endpoint=emu.url, token=TOKEN, clock=emu.clock) as client:
        began = emu.clock.now()
        await client.restart_space(SPACE)
        await client.wait_for_space(SPACE, timeout=3600)
        return began, emu.clock.now()


def _hf(emu: Emu) -> tuple[float, float]:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=emu.url, token=TOKEN)
    began = emu.clock.now()
    api.restart_space(SPACE)
    runtime = api.wait_for_space(SPACE, timeout=3600 / emu.clock.speed, poll_interval=1.0 / emu.clock.speed)
    done = emu.hub_time(time.monotonic())
    if str(runtime.stage) != "RUNNING":
        raise RuntimeError(f"the Space ended {runtime.stage}")
    return began, done


async def _ground_truth(emu: Emu) -> tuple[float, dict[str, Any]]:
    async with aiohttp.ClientSession() as admin:
        events = await emu.events(admin)
        stats = await emu.stats(admin)
    truth = running_transitions(events)
    return truth[-1][1], stats


def _measure(client: str, build: float, start: float, speed: float) -> dict[str, float]:
    with emulator(speed=speed, seed=_seed(build, start)) as emu:
        began, done = asyncio.run(_aiospace(emu)) if client == "aiospace" else _hf(emu)
        running_at, stats = asyncio.run(_ground_truth(emu))
    return {
        "requests": stats["requests"],
        "lag": done - running_at,
        "total": done - began,
        "deploy": running_at - began,
    }


def run(*, runs: int, quick: bool) -> dict[str, Any]:
    build, start, speed = (5.0, 1.0, 100.0) if quick else (30.0, 5.0, SPEED)
    out: dict[str, Any] = {"runs": runs, "build": build, "start": start, "speed": speed}
    for client in CLIENTS:
        results = [_measure(client, build, start, speed) for _ in range(runs)]
        out[client] = {k: [r[k] for r in results] for k in results[0]}
    return out


def report(r: dict[str, Any]) -> list[str]:
    ours, hf = r["aiospace"], r["huggingface_hub"]
    lines = [
        f"## {TITLE}",
        "",
        f"One Space (build {r['build']:g} s, start {r['start']:g} s), emulator speed {r['speed']:g}, "
        f"{r['runs']} runs, median (min-max); times in Hub seconds. huggingface_hub's `wait_for_space` "
        f"runs with `poll_interval = 1.0 / {r['speed']:g}` real seconds (its 1 s default in Hub time).",
        "",
        "| client | requests (restart included) | detection lag (s) | restart to RUNNING seen (s) |",
        "| --- | --- | --- | --- |",
    ]
    for name, row in (("aiospace wait_for_space", ours), ("huggingface_hub wait_for_space", hf)):
        lines.append(
            f"| {name} | {cell(row['requests'], 0)} | {cell(row['lag'], 2)} | {cell(row['total'], 1)} |"
        )
    lines += [
        "",
        f"- requests, huggingface_hub / aiospace: {ratio(hf['requests'], ours['requests'])}; "
        f"detection lag, aiospace / huggingface_hub: {ratio(ours['lag'], hf['lag'])}",
        "",
    ]
    return lines

"""E1, the emulator at fleet scale: ``aiospace emulator --seed`` with 10,000 Spaces at ``--speed 100``.

The command runs as a user runs it, in a child process, seeded with ``SPACES`` settled
(RUNNING) Spaces on free hardware (each writes a heartbeat line every 5 Hub seconds).

* start: real seconds from the process's start to its last startup line (it listens);
* idle CPU: the child's CPU over ``IDLE`` real seconds with no request, as a share of one core;
* memory: its resident set once listening, and after the idle time (flat: no growth);
* a request after the idle time: one runtime read and one whole run log (replayed, not
  followed), real milliseconds each (the log's lines are made when it is read).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from ._common import ROOT, cell, fleet_seed, fmt, reap

NAME = "E1"
TITLE = "E1: the emulator at fleet scale (10,000 Spaces, speed 100)"
SPACES = 10_000
SPEED = 100.0
IDLE = 20.0
#: The issue's targets: listening within 10 s, idle under 10% of a core.
START_TARGET = 10.0
CPU_TARGET = 0.10


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) * 1024
    return float("nan")


async def _requests(url: str, author: str) -> tuple[float, float]:
    headers = {"Authorization": f"Bearer hf_{author}"}
    space = f"{url}/api/spaces/{author}/space-00000"
    async with aiohttp.ClientSession(headers=headers) as session:
        t = time.perf_counter()
        async with session.get(f"{space}/runtime") as r:
            await r.read()
        runtime_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        async with session.get(f"{url}/api/spaces/{author}/space-00000/logs/run") as r:
            # Past the replay comes a keep-alive (an empty data line): the log so far has been sent.
            async for line in r.content:
                if line == b"data: \n":
                    break
        log_ms = (time.perf_counter() - t) * 1000
    return runtime_ms, log_ms


def _measure(spaces: int, speed: float, idle: float) -> dict[str, float]:
    import asyncio

    author = "fleet"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(fleet_seed(author, spaces), f)
        seed = f.name
    args = [
        sys.executable,
        "-m",
        "aiospace.cli",
        "emulator",
        "--seed",
        seed,
        "--speed",
        f"{speed:g}",
        "--port",
        "0",
    ]
    began = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            if line.startswith("aiospace Hub emulator on "):
                url = line.split()[4]
            if line.lstrip().startswith("Spaces:"):
                break
        if not url:
            raise RuntimeError(f"the emulator did not start (exit code {proc.wait(timeout=10)})")
        start = time.perf_counter() - began
        rss0, cpu0, t0 = _proc_rss(proc.pid), _proc_cpu(proc.pid), time.perf_counter()
        time.sleep(idle)
        cpu = (_proc_cpu(proc.pid) - cpu0) / (time.perf_counter() - t0)
        rss1 = _proc_rss(proc.pid)
        runtime_ms, log_ms = asyncio.run(_requests(url, author))
        return {
            "start": start,
            "idle_cpu": cpu,
            "rss_start_mb": rss0 / 2**20,
            "rss_end_mb": rss1 / 2**20,
            "runtime_ms": runtime_ms,
            "log_ms": log_ms,
        }
    finally:
        proc.terminate()
        reap(proc)
        os.unlink(seed)


def run(*, runs: int, quick: bool) -> dict[str, Any]:
    spaces, idle = (200, 1.0) if quick else (SPACES, IDLE)
    results = [_measure(spaces, SPEED, idle) for _ in range(runs)]
    out: dict[str, Any] = {"runs": runs, "spaces": spaces, "speed": SPEED, "idle": idle}
    out.update({k: [r[k] for r in results] for k in results[0]})
    return out


def summary_rows(r: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """E1's rows of the summary: start time, idle CPU, memory growth while idle."""
    n = f"{r['spaces']:,}"
    start, cpu = max(r["start"]), max(r["idle_cpu"])
    growth = max(b - a for a, b in zip(r["rss_start_mb"], r["rss_end_mb"], strict=True))
    return [
        (
            f"E1 emulator start with {n} Spaces at speed {r['speed']:g} (worst run)",
            "<= 10 s",
            f"{fmt(start, 1)} s",
            start <= START_TARGET,
        ),
        (f"E1 emulator idle CPU, {n} Spaces (worst run)", "< 10% of a core", f"{cpu:.1%}", cpu < CPU_TARGET),
        (
            f"E1 emulator memory growth over {r['idle']:g} s idle (worst run)",
            "flat",
            f"{fmt(growth, 1)} MB",
            None,
        ),
    ]


def report(r: dict[str, Any]) -> list[str]:
    return [
        f"## {TITLE}",
        "",
        f"`python -m aiospace.cli emulator --seed FILE --speed {r['speed']:g} --port 0` in a child process, "
        f"seeded with {r['spaces']:,} RUNNING Spaces (cpu-basic, a heartbeat line every 5 Hub seconds); "
        f"{r['runs']} run(s), median (min-max). Idle: {r['idle']:g} real s with no request.",
        "",
        "| figure | measured |",
        "| --- | --- |",
        f"| start: process start to listening (s) | {cell(r['start'], 2)} |",
        f"| idle CPU (share of one core) | {cell([100 * c for c in r['idle_cpu']], 1)} % |",
        f"| resident memory once listening (MB) | {cell(r['rss_start_mb'], 1)} |",
        f"| resident memory after the idle time (MB) | {cell(r['rss_end_mb'], 1)} |",
        f"| a runtime read after the idle time (ms) | {cell(r['runtime_ms'], 1)} |",
        f"| a whole run log after the idle time (ms) | {cell(r['log_ms'], 1)} |",
        "",
    ]

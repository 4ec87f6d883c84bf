"""Shared helpers: child-process servers, a clock in step with the emulator, statistics."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from aiospace._clock import ScaledClock

# The CPU and memory readings, shared with the child processes' probe (which imports nothing of ours).
from ._probe import cpu_seconds as cpu_seconds
from ._probe import rss_bytes as rss_bytes

ROOT = Path(__file__).resolve().parent.parent


class Server:
    """A server running in a child process (see :mod:`benchmarks._serve`)."""

    def __init__(self, proc: subprocess.Popen[str], info: dict[str, Any]) -> None:
        self.proc = proc
        self.info = info
        self.url: str = info["url"]

    def cpu_seconds(self) -> float:
        """User + system CPU time the child has used so far (from /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(kind: str, options: Mapping[str, Any] | None = None) -> Iterator[Server]:
    """Start ``python -m benchmarks._serve kind [options]``; stop it on exit."""
    args = [sys.executable, "-m", "benchmarks._serve", kind]
    if options is not None:
        args.append(json.dumps(dict(options)))
    proc = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} server did not start (exit code {proc.wait()})")
        yield Server(proc, json.loads(line))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        reap(proc)


@contextmanager
def emulator(
    *, speed: float, seed: Mapping[str, Any], quota: int | None = None, window: float = 300.0
) -> Iterator[Emu]:
    """An emulator in a child process, seeded from a temporary file."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(seed, f)
        path = f.name
    try:
        with serve("emulator", {"speed": speed, "seed": path, "quota": quota, "window": window}) as srv:
            yield Emu(srv, speed)
    finally:
        os.unlink(path)


class Emu:
    """A child-process emulator: its URL, a clock in step with its own, its admin routes."""

    def __init__(self, server: Server, speed: float) -> None:
        self.server = server
        self.url = server.url
        self.clock = ScaledClock(speed)
        # Both processes read the same CLOCK_MONOTONIC: share the origin, share Hub time.
        self.clock._real_origin = float(server.info["origin"])
        self.admin = {"Authorization": f"Bearer {server.info['admin_token']}"}

    def hub_time(self, monotonic: float) -> float:
        """A ``time.monotonic()`` reading in the emulator's Hub seconds."""
        return (monotonic - self.clock._real_origin) * self.clock.speed

    async def call(self, session: aiohttp.ClientSession, method: str, path: str) -> Any:
        async with session.request(method, f"{self.url}/_emulator{path}", headers=self.admin) as r:
            r.raise_for_status()
            return await r.json()

    async def events(self, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        return list(await self.call(session, "GET", "/events"))

    async def stats(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        return dict(await self.call(session, "GET", "/stats"))

    async def reset_stats(self, session: aiohttp.ClientSession) -> None:
        await self.call(session, "DELETE", "/stats")

    async def commit(self, session: aiohttp.ClientSession, repo_id: str) -> None:
        await self.call(session, "POST", f"/spaces/{repo_id}/commit")


def fleet_seed(author: str, count: int, **space: Any) -> dict[str, Any]:
    """A seed: one user and ``count`` settled (RUNNING) Spaces of theirs."""
    return {
        "users": {author: f"hf_{author}"},
        "spaces": [{"id": f"{author}/space-{i:05d}", **space} for i in range(count)],
    }


def running_transitions(events: Iterable[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """(space, Hub time) of every ground-truth event that brought a Space to RUNNING."""
    last: dict[str, str] = {}
    out = []
    for event in sorted(events, key=lambda e: e["seq"]):
        space, stage = event["space"], event["stage"]
        if stage == "RUNNING" and space in last and last[space] != "RUNNING":
            out.append((space, float(event["time"])))
        last[space] = stage
    return out


def match_lags(
    truth: Sequence[tuple[str, float]], observed: Mapping[str, Sequence[float]], until: float
) -> tuple[list[float], int]:
    """Detection lags (first observation at or after each true transition) and how many were missed."""
    lags: list[float] = []
    missed = 0
    for space, t in truth:
        if t > until:
            continue
        seen = [o for o in observed.get(space, ()) if o >= t - 1e-6]
        if seen:
            lags.append(max(0.0, min(seen) - t))
        else:
            missed += 1
    return lags, missed


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1), linear between ranks; NaN when empty."""
    if not values:
        return math.nan
    data = sorted(values)
    pos = (len(data) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    if lo == hi or math.isinf(data[hi]):
        return data[hi] if pos > lo else data[lo]
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max), NaN-safe."""
    data = [v for v in values if not math.isnan(v)]
    if not data:
        return (math.nan, math.nan, math.nan)
    return (statistics.median(data), min(data), max(data))


def fmt(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:,.{digits}f}"


def cell(values: Sequence[float], digits: int = 1) -> str:
    """``median (min-max)`` over runs."""
    med, lo, hi = spread(values)
    if math.isnan(med):
        return "n/a"
    if len(values) == 1 or lo == hi:
        return fmt(med, digits)
    return f"{fmt(med, digits)} ({fmt(lo, digits)}-{fmt(hi, digits)})"


def ratio(a: Sequence[float], b: Sequence[float], digits: int = 2) -> str:
    """The ratio of the medians of ``a`` and ``b``."""
    ma, mb = spread(a)[0], spread(b)[0]
    if math.isnan(ma) or math.isnan(mb) or mb == 0:
        return "n/a"
    return f"{ma / mb:.{digits}f}x"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    import aiohttp as _aiohttp
    import huggingface_hub

    import aiospace

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB"
    except (ValueError, OSError):
        mem = "?"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": f"{cpu}, {os.cpu_count()} CPUs, {mem} RAM, {platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": (
            f"aiospace {aiospace.__version__}, aiohttp {_aiohttp.__version__}, "
            f"huggingface_hub {huggingface_hub.__version__}"
        ),
    }


def reap(proc: subprocess.Popen[str], grace: float = 10.0) -> None:
    """Wait ``grace`` seconds for a child told to end (its stdin closed, or a SIGTERM), then kill it;
    close its stdout."""
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()

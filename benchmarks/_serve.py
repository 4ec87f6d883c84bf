"""Servers the benchmarks start in a child process, so that their CPU is not the client's.

``python -m benchmarks._serve canned ['{"rate_headers": false}']`` serves a canned runtime answer;
``python -m benchmarks._serve emulator '<json options>'`` serves a Hub emulator.
Each prints one JSON line (its URL, and for the emulator the admin token and the
``time.monotonic()`` origin of its clock), then serves until its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aiohttp import web

#: What ``GET /api/spaces/{id}/runtime`` answers on the canned server (a real Hub shape).
CANNED_RUNTIME: dict[str, Any] = {
    "stage": "RUNNING",
    "hardware": {"current": "cpu-basic", "requested": "cpu-basic"},
    "storage": None,
    "gcTimeout": 172800,
    "replicas": {"current": 1, "requested": 1},
    "devMode": False,
    "domains": [{"domain": "bench-space.hf.space", "stage": "READY"}],
    "sha": "0123456789abcdef0123456789abcdef01234567",
}
CANNED_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "RateLimit": '"api";r=999;t=300',
    "RateLimit-Policy": '"fixed window";"api";q=1000;w=300',
}


async def _until_stdin_closes() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


async def _canned(options: dict[str, Any] | None = None) -> None:
    body = json.dumps(CANNED_RUNTIME).encode()
    # Without the Hub's rate-limit headers, a client's budget keeps the quota it was given.
    headers = (
        CANNED_HEADERS if (options or {}).get("rate_headers", True) else {"Content-Type": "application/json"}
    )

    async def runtime(request: web.Request) -> web.Response:
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_get("/api/spaces/{namespace}/{name}/runtime", runtime)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(json.dumps({"url": f"http://127.0.0.1:{port}"}), flush=True)
    try:
        await _until_stdin_closes()
    finally:
        await runner.cleanup()


async def _emulator(options: dict[str, Any]) -> None:
    from aiospace.emulator import Emulator

    hub = Emulator(
        speed=options["speed"],
        seed=options.get("seed"),
        quota=options.get("quota"),
        window=options.get("window", 300.0),
        admin_token="bench-admin",
    )
    async with hub:
        origin = hub.clock._real_origin
        print(json.dumps({"url": hub.url, "admin_token": hub.admin_token, "origin": origin}), flush=True)
        await _until_stdin_closes()


def main(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "canned":
        asyncio.run(_canned(json.loads(argv[1]) if len(argv) > 1 else None))
    elif kind == "emulator":
        asyncio.run(_emulator(json.loads(argv[1])))
    else:
        raise SystemExit(f"unknown server {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

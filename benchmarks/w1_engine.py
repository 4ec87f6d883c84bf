"""W1, engine cost: a Watcher's CPU per poll next to the client's own read, in one process.

A canned server in a child process answers every ``GET /api/spaces/{id}/runtime`` with
the same JSON (no rate-limit headers, so the client keeps the quota it is given). In one
fresh child process of its own (nothing freed earlier to reuse), for ``N`` Space ids:

* the client's own read: ``concurrency`` tasks calling
  ``SpaceClient.get_space_runtime(id, retry=False)`` over the ids in turn (the same URLs
  the watcher asks for), CPU per read;
* the engine: one ``Watcher`` over the ``N`` Spaces, ``batch=False`` (every Space polled
  on its own), a cadence that asks for more polls than can be sent (every Space is
  always due, so it runs flat out like the read loop), ``concurrency`` polls in flight;
  after the first sweep, process CPU over the steady state divided by the polls made.
  The ratio of the two is the engine's own cost.
* resident memory per watched Space: the process's RSS growth from before the watcher
  existed to after it had observed every Space once, divided by ``N``.

The client process runs :mod:`benchmarks._probe` with this checkout's ``aiospace`` first on
its path. With ``--baseline REF``, every round also runs the same probe with ``REF``'s
``aiospace`` (:mod:`benchmarks._baseline`), the two taking turns at going first, each with
a canned server of its own started the same way.
"""

from __future__ import annotations

from typing import Any

from ._baseline import CURRENT, Tree, count_run, describe, probe, tolerance_text, valgrind_available, versus
from ._common import cell, fmt, ratio, serve, spread

NAME = "W1"
TITLE = "W1: engine cost (Watcher CPU per poll vs the client's own read, 10,000 Spaces)"
#: ``run`` takes ``baseline=``: an earlier aiospace measured beside this one.
TAKES_BASELINE = True
TOKEN = "hf_bench"
#: Polls per real second the cadence asks for: more than a client can send, so that the
#: watcher, like the client's own read loop, runs flat out (both CPU figures are then
#: per request at full speed, not diluted by an idle event loop's wake-ups).
RATE = 100_000.0
CONCURRENCY = 8
#: Targets (issue 27): a Watcher's poll at most this many times the client's own read, and
#: at most this many bytes of resident memory per watched Space.
TARGET_VS_READ = 1.25
TARGET_BYTES = 1536


KEYS = ("client_us", "client_per_s", "engine_us", "engine_per_s", "rss_per_space")


def _one(tree: Tree, n: int, steady: float) -> dict[str, float]:
    """One measurement of ``tree``'s aiospace, in a fresh child process, against a fresh server."""
    with serve("canned", {"rate_headers": False}) as srv:
        job = {"kind": "engine", "url": srv.url, "token": TOKEN, "n": n, "steady": steady}
        out = probe(tree, {**job, "concurrency": CONCURRENCY, "rate": RATE})
    return {k: float(out[k]) for k in KEYS}


#: Under callgrind (about 50 times slower): Spaces watched and seconds of each steady state.
COUNTED_SPACES = 2000
COUNTED_SECONDS = 6.0


def instructions(tree: Tree) -> dict[str, float]:
    """Instructions per client read and per Watcher poll (callgrind, each steady state alone)."""
    with serve("canned", {"rate_headers": False}) as srv:
        job = {"kind": "engine", "url": srv.url, "token": TOKEN, "n": COUNTED_SPACES}
        job.update(steady=COUNTED_SECONDS, concurrency=CONCURRENCY, rate=RATE)
        (client, engine), out = count_run(tree, job)
    read, poll = client / max(1, out["client_reads"]), engine / max(1, out["polls"])
    return {"read": read, "poll": poll, "reads": out["client_reads"], "polls": out["polls"]}


def run(*, runs: int, quick: bool, baseline: Tree | None = None) -> dict[str, Any]:
    n = 200 if quick else 10_000
    steady = 0.5 if quick else 8.0
    rows: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    for i in range(runs):
        if baseline is None:
            rows.append(_one(CURRENT, n, steady))
            continue
        for tree in (CURRENT, baseline) if i % 2 == 0 else (baseline, CURRENT):
            (rows if tree is CURRENT else base).append(_one(tree, n, steady))
    result: dict[str, Any] = {"runs": runs, "n": n, "rate": RATE, **{k: [r[k] for r in rows] for k in KEYS}}
    if baseline is not None:
        result["baseline"] = {
            **describe(baseline),
            **{k: [r[k] for r in base] for k in KEYS},
        }
    if valgrind_available() and not quick:
        result["instructions"] = instructions(CURRENT)
        if baseline is not None:
            result["baseline"]["instructions"] = instructions(baseline)
    return result


def engine_vs_read(r: dict[str, Any]) -> float:
    """The Watcher's CPU per poll over the client's per read (medians over runs)."""
    engine, client = spread(r["engine_us"])[0], spread(r["client_us"])[0]
    return engine / client if client else float("nan")


def baseline_verdict(r: dict[str, Any]) -> tuple[float, float, float, bool | None]:
    """(Watcher / read now, Watcher / read baseline, now / baseline, no worse)."""
    now, then = engine_vs_read(r), engine_vs_read(r["baseline"])
    vs, ok = versus(now, then)
    return now, then, vs, ok


def report(r: dict[str, Any]) -> list[str]:
    base = r.get("baseline")
    rows = [("", r)]
    if base:
        rows = [(" (now)", r), (f" (baseline {base['sha'][:7]})", base)]
    lines = [
        f"## {TITLE}",
        "",
        f"Canned server in a child process; in one fresh client process, {CONCURRENCY} reads in flight "
        f"over {r['n']:,} Space ids, then one `Watcher` over the same {r['n']:,} Spaces (`batch=False`, "
        f"cadence asking for {r['rate']:g} polls per real second, {CONCURRENCY} polls in "
        f"flight, every Space always due); {r['runs']} runs, median (min-max). CPU is the whole client "
        "process's (user + system)."
        + (
            f" With `--baseline {base['ref']}`, each round measures both versions, each in a fresh "
            "process with a fresh server, taking turns at going first."
            if base
            else ""
        ),
        "",
        "| | CPU per request (us) | requests/s |",
        "| --- | --- | --- |",
    ]
    for suffix, row in rows:
        lines += [
            f"| client's own read{suffix} | {cell(row['client_us'])} | {cell(row['client_per_s'], 0)} |",
            f"| Watcher poll{suffix} | {cell(row['engine_us'])} | {cell(row['engine_per_s'], 0)} |",
        ]
    lines += [
        "",
        f"- Watcher poll / client read: **{ratio(r['engine_us'], r['client_us'])}** "
        f"(target at most {TARGET_VS_READ:.2f}x)",
    ]
    if base:
        short = base["sha"][:7]
        now, then, vs, ok = baseline_verdict(r)
        verdict = "no worse" if ok else ("n/a" if ok is None else "**COSTLIER than the baseline**")
        lines += [
            f"- Watcher poll / client read: {fmt(now, 2)}x now, {fmt(then, 2)}x with the baseline {short}; "
            f"now / baseline: **{fmt(vs, 2)}x**, {verdict} ({tolerance_text()})",
            f"- Watcher poll CPU now / baseline: {ratio(r['engine_us'], base['engine_us'])}; "
            f"client read CPU now / baseline: {ratio(r['client_us'], base['client_us'])}",
        ]
    counted = r.get("instructions")
    if counted:
        lines += [
            "",
            f"Instructions (callgrind; {COUNTED_SPACES:,} Spaces, {COUNTED_SECONDS:g} s of each steady state "
            "under valgrind, the steady states alone):",
            "",
            "| | per client read | per Watcher poll | poll / read |",
            "| --- | --- | --- | --- |",
        ]
        shown = [("now", counted)]
        if base:
            shown.append((f"baseline {base['sha'][:7]}", base.get("instructions")))
        for label, row in shown:
            if row:
                lines.append(
                    f"| {label} | {row['read'] / 1000:,.1f}k ({row['reads']:,} reads) "
                    f"| {row['poll'] / 1000:,.1f}k ({row['polls']:,} polls) "
                    f"| {row['poll'] / row['read']:.3f}x |"
                )
        lines.append("")
    lines += [
        f"- resident memory per watched Space at {r['n']:,}: **{cell(r['rss_per_space'], 0)} bytes** "
        f"(target at most {TARGET_BYTES:,})"
        + (f"; baseline {base['sha'][:7]}: {cell(base['rss_per_space'], 0)} bytes" if base else ""),
        "",
    ]
    return lines

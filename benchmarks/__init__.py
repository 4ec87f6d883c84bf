"""Side-by-side benchmarks of aiospace (``python -m benchmarks`` or ``nox -s bench``).

One module per benchmark, each with ``run(runs=..., quick=...)`` (the measurements)
and ``report(result)`` (its section of ``benchmarks/RESULTS.md``):

* :mod:`benchmarks.b1_poll_cost`: client CPU per runtime read against a canned server;
* :mod:`benchmarks.b2_scale`: one Watcher over 1,000 and 10,000 Spaces;
* :mod:`benchmarks.b3_fleet`: 200 Spaces inside 1,000 requests per 5 minutes;
* :mod:`benchmarks.b4_deploy`: one restart, waited for;
* :mod:`benchmarks.w1_engine`: the Watcher's CPU per poll next to the client's own read;
* :mod:`benchmarks.w2_share`: B3's fleet with a budget share, and unannounced crashes;
* :mod:`benchmarks.w3_limit`: 10,000 Spaces across 100 authors on the free tier;
* :mod:`benchmarks.e1_emulator`: the emulator itself with 10,000 Spaces at speed 100.

Servers (a canned answer, the Hub emulator) run in child processes started by
:mod:`benchmarks._serve`, on 127.0.0.1 only. B1's aiospace client and W1 run in a fresh
child process per measurement (:mod:`benchmarks._probe`); with ``--baseline [REF]``
(:mod:`benchmarks._baseline`) they also measure an earlier commit's ``aiospace``, round by
round in the same run.
"""

from __future__ import annotations

from . import b1_poll_cost, b2_scale, b3_fleet, b4_deploy, e1_emulator, w1_engine, w2_share, w3_limit

BENCHMARKS = (b1_poll_cost, b2_scale, b3_fleet, b4_deploy, w1_engine, w2_share, w3_limit, e1_emulator)
#: Runs per benchmark in a full run (each figure: median, min and max over them).
RUNS = {"B1": 5, "B2": 3, "B3": 3, "B4": 5, "W1": 3, "W2": 3, "W3": 1, "E1": 3}

__all__ = ["BENCHMARKS", "RUNS"]

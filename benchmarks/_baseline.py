"""Trees of aiospace to measure: this checkout's, and a baseline commit's beside it in the same run.

``python -m benchmarks --baseline [REF]`` (``nox -s bench`` passes ``--baseline``) copies
the ``aiospace/`` package of ``REF`` (any git ref; :data:`PINNED` without a value) out of
git into ``.bench-baseline/<sha>/`` (gitignored, reused by later runs), and B1 and W1
measure it round by round with this checkout's, each measurement in a fresh child
process (:func:`probe`, running :mod:`benchmarks._probe`) whose ``PYTHONPATH`` puts the
tree first: this checkout and the baseline are started the same way.

"No worse" is judged as ``now <= baseline x`` :data:`TOLERANCE` on the medians over runs.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The last commit before the package's reorganisation (issues 21 and 27): the default baseline.
PINNED = "c20bed7015163ff5829b53f7ffe6677e72c3a076"
#: Where baseline trees are kept, one directory per commit (listed in ``.gitignore``).
CACHE = ROOT / ".bench-baseline"
#: "No worse": a figure of this checkout is at most the baseline's times this.
TOLERANCE = 1.05
PROBE = Path(__file__).resolve().with_name("_probe.py")


@dataclass(frozen=True)
class Tree:
    """A directory holding an ``aiospace/`` package, and which commit it is (None: this checkout)."""

    path: Path
    sha: str | None = None
    ref: str | None = None
    #: This checkout's ``aiospace/`` is the same as this tree's (any difference measured is noise).
    identical: bool = False

    @property
    def short(self) -> str:
        return self.sha[:7] if self.sha else "now"

    @property
    def shown_ref(self) -> str:
        """The ref as given, a commit id shortened to 7 characters."""
        if self.sha and (self.ref is None or self.sha.startswith(self.ref)):
            return self.sha[:7]
        return self.ref or "HEAD"

    @property
    def label(self) -> str:
        """How a table names this tree's aiospace."""
        return f"aiospace (baseline {self.short})" if self.sha else "aiospace"


CURRENT = Tree(ROOT)


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


def checkout(ref: str = PINNED, cache: Path = CACHE) -> Tree:
    """``REF``'s ``aiospace/`` package, extracted by ``git archive`` under ``cache/<sha>/`` (reused)."""
    try:
        sha = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except RuntimeError as exc:
        raise RuntimeError(f"--baseline {ref}: not a commit of the repository at {ROOT} ({exc})") from None
    dest = cache / sha
    if not (dest / "aiospace" / "__init__.py").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{sha[:7]}-", dir=cache))
        tmp.chmod(0o755)
        try:
            archive = subprocess.Popen(
                ["git", "-C", str(ROOT), "archive", "--format=tar", sha, "aiospace"], stdout=subprocess.PIPE
            )
            assert archive.stdout is not None
            tar = subprocess.run(["tar", "-x", "-C", str(tmp)], stdin=archive.stdout)
            archive.stdout.close()
            if archive.wait() != 0 or tar.returncode != 0:
                raise RuntimeError(f"could not extract aiospace/ of {ref} ({sha}) with git archive")
            if not (tmp / "aiospace" / "__init__.py").is_file():
                raise RuntimeError(f"{ref} ({sha}) has no aiospace/__init__.py")
            shutil.rmtree(dest, ignore_errors=True)  # a partial copy left by an interrupted run
            try:
                tmp.rename(dest)
            except OSError:  # another run extracted it meanwhile
                if not (dest / "aiospace" / "__init__.py").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return Tree(dest, sha, ref, _identical(sha))


def _identical(sha: str) -> bool:
    """Whether this checkout's ``aiospace/`` (its files as they are now, none untracked) is ``sha``'s."""
    same = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", sha, "--", "aiospace"]).returncode == 0
    return same and not _git("ls-files", "--others", "--exclude-standard", "--", "aiospace")


def describe(tree: Tree) -> dict[str, Any]:
    """What a benchmark's result keeps of the baseline it measured."""
    return {"sha": tree.sha, "ref": tree.shown_ref, "identical": tree.identical}


def probe(tree: Tree, job: dict[str, Any], timeout: float = 900.0) -> dict[str, Any]:
    """Run ``job`` (see :mod:`benchmarks._probe`) in a fresh process importing ``tree``'s aiospace."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree.path), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, str(PROBE), str(tree.path), json.dumps(job)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {tree.label} probe failed (exit code {done.returncode})")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def valgrind_available() -> bool:
    """Whether ``valgrind`` (callgrind) can count instructions here."""
    return shutil.which("valgrind") is not None


def count_instructions(tree: Tree, job: dict[str, Any], timeout: float = 1800.0) -> float:
    """Instructions (valgrind's callgrind) the probe of ``job`` ran between its marks."""
    return count_regions(tree, job, timeout)[0]


def count_regions(tree: Tree, job: dict[str, Any], timeout: float = 1800.0) -> list[float]:
    """Instructions (callgrind) between each pair of the probe's marks; see :func:`count_run`."""
    return count_run(tree, job, timeout)[0]


def count_run(tree: Tree, job: dict[str, Any], timeout: float = 1800.0) -> tuple[list[float], dict[str, Any]]:
    """Instructions (valgrind's callgrind) the probe of ``job`` ran between each pair of its marks.

    The probe calls ``os.getppid()`` where its measured loop starts and ``os.getpgrp()`` where
    it ends (:func:`benchmarks._probe.mark_start`); callgrind dumps its counts before each, so
    the second dump holds the measured loop alone: no start-up, import or warm-up. The count
    repeats within a fraction of a percent whatever else the machine runs (unlike CPU time).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree.path), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="aiospace-cg-") as tmp:
        out = Path(tmp) / "cg.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--dump-before=getppid",
            "--dump-before=getpgrp",
            "--dump-instr=no",
            "--compress-strings=no",
            sys.executable,
            str(PROBE),
            str(tree.path),
            json.dumps(job),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"the {tree.label} probe under callgrind failed: {done.stderr[-500:]}")
        dumps = sorted(Path(tmp).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        if len(dumps) < 2:
            raise RuntimeError(f"callgrind wrote {len(dumps)} dumps, expected the measured loop's")
        # Dump 1 is everything before the first mark; then a region, a gap, a region...
        out = json.loads(done.stdout.strip().splitlines()[-1])
        return [_total(dump) for dump in dumps[1::2]], dict(out)


def _total(dump: Path) -> float:
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return float(line.split()[1])
    raise RuntimeError(f"callgrind's dump {dump.name} holds no total")


def _median(values: Sequence[float]) -> float:
    data = [v for v in values if not math.isnan(v)]
    return statistics.median(data) if data else math.nan


def versus(now: float, base: float) -> tuple[float, bool | None]:
    """(now / baseline, no worse within :data:`TOLERANCE`); (NaN, None) when either is missing."""
    if math.isnan(now) or math.isnan(base) or base <= 0:
        return math.nan, None
    return now / base, now <= base * TOLERANCE


def versus_medians(now: Sequence[float], base: Sequence[float]) -> tuple[float, bool | None]:
    """:func:`versus` of the medians over runs."""
    return versus(_median(now), _median(base))


def tolerance_text() -> str:
    return f"now <= baseline x {TOLERANCE:.2f}"

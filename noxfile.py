"""Development sessions: ``nox -s lint typecheck tests`` (and ``docs``, ``bench``, ``soak``)."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, against the embedded emulator over loopback HTTP."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[test]", "mypy")
    session.run("mypy", "--strict", "aiospace")


@nox.session
def docs(session: nox.Session) -> None:
    """The docs site, built with ``--strict`` into ``site/`` (``mkdocs serve`` previews it); then the
    package: ``python -m build`` and ``twine check`` of its long description (``-- --no-dist``: the
    site only)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")
    if "--no-dist" not in session.posargs:
        out = session.create_tmp()
        session.run("python", "-m", "build", "--outdir", out)
        session.run("twine", "check", "--strict", f"{out}/*")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks; writes benchmarks/RESULTS.md (``nox -s bench -- --quick``: a smoke run).

    B1 and W1 also measure the pinned commit before the package's reorganisation, in the same
    run (``--baseline``; ``-- --baseline REF`` picks another git ref, ``-- --no-baseline`` none):
    B1's rounds interleave raw aiohttp, this checkout's aiospace, the baseline's and
    huggingface_hub. Where ``valgrind`` is installed, B1 and W1 also count instructions per
    read and per poll (callgrind), steady whatever else the machine runs. ``-- --only B1,W1``
    rewrites only those sections of RESULTS.md.
    """
    session.install("-e", ".[test]")
    session.run("python", "-m", "benchmarks", "--baseline", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """The fault soak at full size: 200 Spaces, ~1 min (``AIOSPACE_SOAK=small`` is the suite's run).

    Writes the figures to ``.nox/soak-report.json`` (or ``AIOSPACE_SOAK_REPORT``).
    """
    session.install("-e", ".[test]")
    env = {
        "AIOSPACE_SOAK": os.environ.get("AIOSPACE_SOAK", "large"),
        "AIOSPACE_SOAK_REPORT": os.environ.get("AIOSPACE_SOAK_REPORT", ".nox/soak-report.json"),
    }
    session.run("pytest", "tests/test_soak.py", "-q", "-s", "--timeout=900", *session.posargs, env=env)

"""The ``aiospace`` command: ``app`` parses and runs, ``commands`` does each command's work,
``render`` draws, ``util`` holds exit codes, durations and the output redactor."""

from .app import main

__all__ = ["main"]

"""The ``aiospace`` command: :func:`main` (the console script), :func:`amain` (the same
inside a running event loop, with a Hub clock of your choice).

``app`` builds the parser, parses and runs (exit codes, Ctrl-C); ``command`` says what a
subcommand is; ``commands/`` holds each subcommand's arguments next to what it does;
``options`` the arguments several commands share; ``render/`` what is drawn; ``util``
exit codes, durations and the output redactor.
"""

from .app import amain, main

__all__ = ["amain", "main"]

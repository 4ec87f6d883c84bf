"""What the ``aiospace`` command line draws, for a person or for a pipeline; nothing here talks to the Hub.

- :mod:`~aiospace.cli.render.answers`: the Hub's answers as text, tables or ``--json`` documents;
- :mod:`~aiospace.cli.render.streams`: the redacted stdout and stderr, error and note lines, log lines;
- :mod:`~aiospace.cli.render.progress`: a wait's progress and verdict, the Hub's health while waiting;
- :mod:`~aiospace.cli.render.watch`: a watch's transitions (JSON lines, rows, the live table).
"""

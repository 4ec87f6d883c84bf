"""A partial run (``--only``) written over an existing report keeps what it did not measure.

``merge(old, new, names)``: the old report with the sections and summary rows of the
benchmarks ``names`` replaced by the new run's (added when new), and one line in the
header saying which were re-measured, when, and by which command. Without it, a run of
one benchmark would wipe every other figure of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import re

__all__ = ["merge"]

_ROW_NAME = re.compile(r"^\| ([A-Z]\d+) ")


def _blocks(text: str) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(header lines, summary lines, sections by benchmark name in order) of a report."""
    header: list[str] = []
    summary: list[str] = []
    sections: dict[str, list[str]] = {}
    current = header
    for line in text.splitlines():
        if line.startswith("## "):
            title = line[3:]
            if title.strip() == "Summary":
                current = summary
            else:
                current = sections.setdefault(title.split(":", 1)[0].strip(), [])
        current.append(line)
    return header, summary, sections


def _summary_parts(lines: list[str]) -> tuple[list[str], list[str]]:
    """(table rows, the paragraphs after the table) of a summary block (its title and table head dropped)."""
    rows = [line for line in lines if _ROW_NAME.match(line)]
    table_end = max((i for i, line in enumerate(lines) if line.startswith("|")), default=0)
    return rows, lines[table_end + 1 :]


def merge(old: str, new: str, names: set[str]) -> str:
    """``old`` with the benchmarks ``names`` as ``new`` measured them (see the module docstring)."""
    old_header, old_summary, old_sections = _blocks(old)
    new_header, new_summary, new_sections = _blocks(new)
    if not old_summary:  # not a report: nothing to keep
        return new
    produced = re.search(r"Produced by (`[^`]+`)", "\n".join(new_header))
    date = next((line[len("- date: ") :] for line in new_header if line.startswith("- date: ")), "?")
    shown = ", ".join(sorted(names))
    note = f"- {shown} re-measured on {date} by {produced.group(1) if produced else 'a partial run'}"
    note += " (section and summary rows; everything else is from the run above)."
    tag = f"- {shown} re-measured on "
    header = [line for line in old_header if not line.startswith(tag)]
    while header and not header[-1].strip():
        header.pop()
    header += [note, ""]
    old_rows, old_after = _summary_parts(old_summary)
    new_rows, new_after = _summary_parts(new_summary)
    rows = [r for r in old_rows if _ROW_NAME.match(r).group(1) not in names]  # type: ignore[union-attr]
    rows += new_rows
    after = new_after if names & {"B1", "W1"} else old_after
    summary = [
        "## Summary",
        "",
        "| figure | target | measured (median of runs) | met |",
        "| --- | --- | --- | --- |",
        *rows,
        *after,
    ]
    sections = dict(old_sections)
    for name in names:
        if name in new_sections:
            sections[name] = new_sections[name]
    body: list[str] = []
    for block in sections.values():
        while block and not block[-1].strip():
            block = block[:-1]
        body += [*block, ""]
    return "\n".join([*header, *summary, *body]).rstrip() + "\n"

"""Secret values kept out of every message: which a request carries, and masking them in text."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable

from .requests import Request

_REDACTED = "<redacted>"


def secrets_of(request: Request) -> tuple[str, ...]:
    """The secret values a request carries (never to be shown, even echoed back by the Hub)."""
    if not request.sensitive or not isinstance(request.json, dict):
        return ()
    body = request.json
    found = [body["value"]] if isinstance(body.get("value"), str) else []
    for item in body.get("secrets") or ():
        if isinstance(item, dict) and isinstance(item.get("value"), str):
            found.append(item["value"])
    return tuple(found)


#: A needle shorter than this is masked only where it stands alone (not inside a longer
#: run of letters and digits): a one-letter secret value must not eat every "a" of an
#: error message (masking those would hide the error and protect nothing).
SHORT_NEEDLE = 8


@functools.lru_cache(maxsize=64)
def _spellings(needle: str) -> frozenset[str]:
    """``needle`` as is, JSON-escaped (ASCII-only or not: the client's own bodies keep
    non-ASCII letters), and escaped once more (a Hub nesting an echoed body in JSON)."""
    once = {json.dumps(needle, ensure_ascii=ascii_only)[1:-1] for ascii_only in (True, False)}
    twice = {json.dumps(form, ensure_ascii=ascii_only)[1:-1] for form in once for ascii_only in (True, False)}
    return frozenset({needle, *once, *twice})


def mask(text: str, needles: Iterable[str], mark: str = _REDACTED) -> str:
    """``text`` with every needle (token, secret value) replaced by ``mark``: as is and in
    each JSON spelling (see :func:`_spellings`), the longest first (a secret value holding
    the token goes whole). A needle shorter than :data:`SHORT_NEEDLE` is masked only where
    it stands alone."""
    return mask_spellings(text, spellings_of(needles), mark)


def spellings_of(needles: Iterable[str]) -> tuple[str, ...]:
    """Every spelling :func:`mask` looks for, longest first (worth keeping when the needles
    stay the same over many texts, as the CLI's redactor does)."""
    forms = {form for needle in needles if needle for form in _spellings(needle)}
    return tuple(sorted(forms, key=len, reverse=True))


def mask_spellings(text: str, spellings: Iterable[str], mark: str = _REDACTED) -> str:
    """:func:`mask` with the spellings made already (:func:`spellings_of`)."""
    for form in spellings:
        if len(form) >= SHORT_NEEDLE:
            text = text.replace(form, mark)
        elif form in text:
            alone = r"(?<![^\W_])" + re.escape(form) + r"(?![^\W_])"
            text = re.sub(alone, lambda _: mark, text)
    return text


def scrub(text: str, needles: Iterable[str], limit: int) -> str:
    """``text`` with every needle masked (:func:`mask`), then cut to ``limit``.

    Masks before cutting, so that no prefix of a needle survives the cut.
    """
    text = mask(text, needles)
    if len(text) > limit:
        text = text[:limit] + "..."
    return text

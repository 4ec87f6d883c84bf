"""Secret values kept out of every message: which a request carries, and one object that masks them."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable

from .requests import Request

__all__ = ["NOTHING", "REDACTED", "SHORT_NEEDLE", "Redactor", "secrets_of"]

#: What a masked value becomes in an error.
REDACTED = "<redacted>"

#: A value shorter than this is masked only where it stands alone (not inside a longer run
#: of letters and digits): a one-letter secret value must not eat every "a" of an error
#: message (masking those would hide the error and protect nothing).
SHORT_NEEDLE = 8


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


@functools.lru_cache(maxsize=64)
def _spellings(needle: str) -> frozenset[str]:
    """``needle`` as is, JSON-escaped (ASCII-only or not: the client's own bodies keep
    non-ASCII letters), and escaped once more (a Hub nesting an echoed body in JSON)."""
    once = {json.dumps(needle, ensure_ascii=ascii_only)[1:-1] for ascii_only in (True, False)}
    twice = {json.dumps(form, ensure_ascii=ascii_only)[1:-1] for form in once for ascii_only in (True, False)}
    return frozenset({needle, *once, *twice})


class Redactor:
    """The secret values (a token, credentials, secret values) no text may show, and :meth:`mask`.

    Immutable: :meth:`plus` gives a new one. Every spelling of the values (as is, and each
    JSON escaping of them) is worked out once, when the redactor is made. A value shorter than
    :data:`SHORT_NEEDLE` is masked only where it stands alone; a longer spelling first (a
    secret value holding the token goes whole).
    """

    __slots__ = ("_spellings", "mark", "values")

    def __init__(self, values: Iterable[str | None] = (), *, mark: str = REDACTED) -> None:
        #: The values masked, each once, in the order given (empty ones are left out).
        self.values: tuple[str, ...] = tuple(dict.fromkeys(v for v in values if v))
        #: What each value becomes.
        self.mark = mark
        forms = {form for value in self.values for form in _spellings(value)}
        self._spellings = tuple(sorted(forms, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self.values)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self.values)} values>)"  # never the values themselves

    def plus(self, values: Iterable[str | None]) -> Redactor:
        """A redactor that masks ``values`` too (this one when they add nothing)."""
        added = [v for v in values if v and v not in self.values]
        return Redactor((*self.values, *added), mark=self.mark) if added else self

    def for_request(self, request: Request) -> Redactor:
        """This redactor plus the secret values ``request`` carries (:func:`secrets_of`)."""
        return self.plus(secrets_of(request)) if request.sensitive else self

    def mask(self, text: str) -> str:
        """``text`` with every spelling of every value replaced by :attr:`mark`."""
        mark = self.mark
        for form in self._spellings:
            if len(form) >= SHORT_NEEDLE:
                text = text.replace(form, mark)
            elif form in text:
                alone = r"(?<![^\W_])" + re.escape(form) + r"(?![^\W_])"
                text = re.sub(alone, lambda _: mark, text)
        return text

    def scrub(self, text: str, limit: int) -> str:
        """``text`` masked (:meth:`mask`), then cut to ``limit`` characters (and ``...``).

        Masks before cutting, so that no prefix of a value survives the cut.
        """
        text = self.mask(text)
        if len(text) > limit:
            text = text[:limit] + "..."
        return text


#: The redactor that masks nothing (the default of the decoders).
NOTHING = Redactor()

"""Which unit a person means when they name one: the one rule for staff chat commands
(``/tralai Hương Vinh: thiếu số liệu``) and the CLI (``formbot invite "huong vinh"``).

Pure: it matches over the units it is given (read through storage by the caller). Accepted, in
this order:
- ``12`` or ``#12``: the unit with that number (as ``formbot units list`` and ``/danhsach``
  show it), the rest of the text after it;
- the full name, with or without diacritics and in any case, at the start of the text: the
  longest such name wins, and what follows (after an optional colon) is the rest;
- ``name: rest`` with a unique part of a name before the colon;
- otherwise the whole text as a unique part of a name (no rest: without a colon a reason
  cannot be told from a partial name, so a caller that needs one is told to add a colon).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

from dialogs.text import fold

Problem = Literal["empty", "not_found", "ambiguous", "needs_colon"]


class NamedUnit(Protocol):
    id: int | None
    name: str


U = TypeVar("U", bound=NamedUnit)


@dataclass(frozen=True)
class UnitMatch(Generic[U]):
    """The unit meant and what followed its name; or, when no single unit is meant, the
    ``problem``, the ``name`` as typed and the ``candidates`` (for "ambiguous")."""

    unit: U | None = None
    rest: str = ""
    problem: Problem | None = None
    name: str = ""
    candidates: list[U] = field(default_factory=list)


def match_unit(units: Sequence[U], text: str, *, with_rest: bool = False) -> UnitMatch[U]:
    """The unit of ``units`` that ``text`` names (see the module's rules). ``with_rest``: the
    caller needs what follows the name (a reason): a bare partial name then matches with an
    empty rest, and one that names no single unit is "needs_colon" (how to add a reason)."""
    text = text.strip()
    if not text:
        return UnitMatch(problem="empty")
    words = text.replace("|", ":").split()
    number = words[0].lstrip("#").rstrip(":")
    # isascii: str.isdigit() is also true for "²", which int() refuses; ids are short.
    if number.isascii() and number.isdigit() and len(number) <= 9:
        by_id = next((u for u in units if u.id == int(number)), None)
        if by_id is None:
            return UnitMatch(problem="not_found", name=words[0])
        return UnitMatch(by_id, _rest(words[1:]))
    best: tuple[U, int] | None = None
    for unit in units:
        name = fold(unit.name).split()
        typed = [fold(w) for w in words[: len(name)]]
        if typed and typed[-1].endswith(":"):
            typed[-1] = typed[-1][:-1]
        if typed == name and (best is None or len(name) > best[1]):
            best = (unit, len(name))
    if best is not None:
        return UnitMatch(best[0], _rest(words[best[1] :]))
    if ":" in text or "|" in text:
        name, _, rest = text.replace("|", ":").partition(":")
        return _unique_part(units, name.strip(), rest.strip())
    found = _unique_part(units, text, "")
    if with_rest and found.unit is None:
        return UnitMatch(problem="needs_colon", name=text)
    return found


def _rest(words: list[str]) -> str:
    return " ".join(words).lstrip(":").strip()


def _unique_part(units: Sequence[U], name: str, rest: str) -> UnitMatch[U]:
    """The one unit whose folded name contains ``name`` folded (an exact name wins among
    several)."""
    wanted = fold(name)
    matches = [u for u in units if wanted and wanted in fold(u.name)]
    exact = [u for u in matches if fold(u.name) == wanted]
    if len(exact) == 1:
        return UnitMatch(exact[0], rest)
    if len(matches) == 1:
        return UnitMatch(matches[0], rest)
    if not matches:
        return UnitMatch(problem="not_found", name=name)
    return UnitMatch(problem="ambiguous", name=name, candidates=matches)

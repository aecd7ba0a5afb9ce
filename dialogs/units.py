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


# Units from a CSV file (``formbot units import``, the web console's upload) --------------------

UNIT_COLUMNS = ("name", "type", "parent", "contact")


def decode_csv(data: bytes) -> str:
    """The text of an uploaded CSV as spreadsheets save it: UTF-8 (with or without BOM),
    UTF-16 with its BOM (Excel's "Unicode text"), else Windows-1258 (Vietnamese Windows);
    composed (NFC) so that a name matches however it was typed."""
    import codecs
    import unicodedata

    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Windows-1258 writes Vietnamese with combining tone marks; NFC joins them.
            text = data.decode("cp1258", errors="replace")
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class CsvProblem:
    """One bad line of a units CSV: ``kind`` names the wording (``units_csv_<kind>``)."""

    line: int
    kind: Literal["fields", "no_name", "unknown_type"]
    fields: int = 0
    header: int = 0
    name: str = ""
    type: str = ""

    def english(self, forms: Sequence[str]) -> str:
        if self.kind == "fields":
            return f"line {self.line}: {self.fields} fields, the header has {self.header}"
        if self.kind == "no_name":
            return f"line {self.line}: the name is empty"
        shown = self.type or "(empty)"
        return (
            f"line {self.line}: unknown type {shown!r} for {self.name!r} "
            f"(one of {', '.join(sorted(forms))})"
        )


class CsvHeaderError(ValueError):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"the header lacks {', '.join(missing)} (columns: {', '.join(UNIT_COLUMNS)})"
        )
        self.missing = missing


def parse_units_csv(text: str, forms: set[str]) -> tuple[list[tuple[int, dict]], list[CsvProblem]]:
    """The good rows (with their line numbers) and the bad lines; ``CsvHeaderError`` when
    the header lacks a needed column. Comma, semicolon or tab separated."""
    import csv

    try:
        dialect = csv.Sniffer().sniff(text.partition("\n")[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(keepends=True), dialect)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in ("name", "type") if c not in header]
    if missing:
        raise CsvHeaderError(missing)
    rows: list[tuple[int, dict]] = []
    problems: list[CsvProblem] = []
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) > len(header):
            problems.append(CsvProblem(line, "fields", fields=len(fields), header=len(header)))
            continue
        row = {h: (fields[i].strip() if i < len(fields) else "") for i, h in enumerate(header)}
        name, kind = " ".join(row.get("name", "").split()), row.get("type", "").strip().lower()
        if not name:
            problems.append(CsvProblem(line, "no_name"))
        elif kind not in forms:
            problems.append(CsvProblem(line, "unknown_type", name=name, type=kind))
        else:
            rows.append(
                (
                    line,
                    {
                        "name": name,
                        "form_id": kind,
                        "parent": row.get("parent") or None,
                        "contact": row.get("contact") or None,
                    },
                )
            )
    return rows, problems

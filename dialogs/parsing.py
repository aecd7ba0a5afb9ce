"""Turning what a person typed into an answer value, or a refusal that says what is expected.

People answer on phone keyboards, with or without diacritics, with Vietnamese number
separators ("1.234", "2,5"), sometimes with the unit ("100 Mbps", "50 tr.đ").
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from dialogs.expressions import FractionValue
from dialogs.text import clean, fold


class NumberItem(Protocol):
    """What reading a number needs of an item: its unit (a typed unit is accepted) and
    bounds."""

    unit: str | None
    min: float | None
    max: float | None


class Refusal(ValueError):
    """The answer cannot be accepted; ``key`` names the message template to show."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


YES = {"co", "c", "yes", "y", "1", "x", "roi", "da co", "co a", "dung", "ok", "da trien khai"}
NO = {"khong", "k", "ko", "kg", "no", "n", "0", "chua", "chua co", "khong co", "chua trien khai"}
ZERO_WORDS = {"khong", "khong co", "ko", "k", "0", "chua co", "chua"}

# Spellings of units people add after a number, beyond the unit's own name.
UNIT_ALIASES = {
    "tr.d": ("tr.d", "trd", "tr", "trieu", "trieu dong", "tr dong", "tr.dong", "tr. d"),
    "mbps": ("mbps", "mb", "mb/s", "mbit", "mbit/s"),
    "nguoi": ("nguoi", "ng", "cb", "can bo"),
    "may": ("may", "may tinh", "cai", "chiec"),
    "%": ("%", "phan tram"),
}

_THOUSANDS_DOT = re.compile(r"^\d{1,3}(?:\.\d{3})+$")
_THOUSANDS_SPACE = re.compile(r"^\d{1,3}(?: \d{3})+")
_PLAIN_INT = re.compile(r"^\d+$")
_VN_DECIMAL = re.compile(r"^(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?$")
_DOT_DECIMAL = re.compile(r"^\d+\.\d+$")
_EN_DECIMAL = re.compile(r"^\d{1,3}(?:,\d{3})+\.\d+$")
_NUMBER_HEAD = re.compile(r"^[-+]?[\d][\d., ]*")


def _strip_unit(item: NumberItem, folded: str) -> str:
    """Remove a trailing unit that matches the item ("100 mbps" → "100")."""
    head = _NUMBER_HEAD.match(folded)
    if not head:
        return folded
    number, rest = head.group(0).strip(), folded[head.end() :].strip()
    if not rest:
        return number
    unit = fold(item.unit or "")
    accepted = {unit, *UNIT_ALIASES.get(unit, ())} - {""}
    if rest in accepted or rest.rstrip(".") in accepted:
        return number
    raise Refusal("not_a_number", unit=item.unit)


def _integer_text(text: str) -> int | None:
    if _THOUSANDS_SPACE.match(text):
        text = text.replace(" ", "")
    if _PLAIN_INT.match(text):
        return int(text)
    if _THOUSANDS_DOT.match(text):
        return int(text.replace(".", ""))
    return None


def _check_bounds(item: NumberItem, number: float) -> None:
    low = item.min if item.min is not None else 0
    if number < low:
        raise Refusal("negative" if low == 0 else "too_small", min=low, unit=item.unit)
    if item.max is not None and number > item.max:
        raise Refusal("too_large", max=item.max, unit=item.unit)


def _number_text(item: NumberItem, text: str) -> str | None:
    """The typed number, folded and without its unit; None for a word meaning zero ("không").
    A negative number is refused."""
    folded = fold(text)
    if folded in ZERO_WORDS:
        return None
    if folded.startswith("-") and _NUMBER_HEAD.match(folded):
        raise Refusal("negative", unit=item.unit)
    return _strip_unit(item, folded)


def parse_integer(item: NumberItem, text: str) -> int:
    folded = _number_text(item, text)
    if folded is None:
        return 0
    number = _integer_text(folded)
    if number is None:
        if _VN_DECIMAL.match(folded) or _DOT_DECIMAL.match(folded):
            raise Refusal("not_whole", unit=item.unit)
        raise Refusal("not_a_number", unit=item.unit)
    _check_bounds(item, number)
    return number


def parse_decimal(item: NumberItem, text: str) -> float | int:
    folded = _number_text(item, text)
    if folded is None:
        return 0
    if _THOUSANDS_SPACE.match(folded):
        folded = re.sub(r"(?<=\d) (?=\d{3})", "", folded)
    if match := _VN_DECIMAL.match(folded):
        whole = int(match.group(1).replace(".", ""))
        number: float | int = float(f"{whole}.{match.group(2)}") if match.group(2) else whole
    elif _DOT_DECIMAL.match(folded):
        number = float(folded)
    elif _EN_DECIMAL.match(folded):
        number = float(folded.replace(",", ""))
    else:
        raise Refusal("not_a_decimal", unit=item.unit)
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    _check_bounds(item, number)
    return number


def parse_fraction(item: NumberItem, text: str) -> FractionValue:
    folded = fold(text)
    parts = re.split(r"\s*/\s*|\s+tren\s+", folded)
    if len(parts) != 2:
        raise Refusal("not_a_fraction", unit=item.unit)
    numbers = []
    for part in parts:
        part = _strip_unit(item, part.strip()) if part.strip() else ""
        number = _integer_text(part)
        if number is None:
            raise Refusal("not_a_fraction", unit=item.unit)
        numbers.append(number)
    part_value, whole_value = numbers
    if part_value > whole_value:
        raise Refusal("fraction_over", part=part_value, whole=whole_value, unit=item.unit)
    return FractionValue(part_value, whole_value)


def parse_yes_no(text: str) -> bool:
    folded = fold(text).rstrip(".!")
    if folded in YES:
        return True
    if folded in NO or folded == "2":
        # "2" is the number of "Không" in a numbered menu (1. Có  2. Không).
        return False
    raise Refusal("not_yes_no")


def match_option(options: list[tuple[Any, str]], text: str) -> Any:
    """The value of the option ``text`` names: its number in the menu, its label or value
    (with or without diacritics), or a unique part of its label."""
    folded = fold(text).rstrip(".")
    if folded.isascii() and folded.isdigit():
        index = int(folded) if len(folded) <= 3 else 0
        if 1 <= index <= len(options):
            return options[index - 1][0]
        raise Refusal("no_such_option", count=len(options))
    for value, label in options:
        if folded == fold(label) or folded == fold(str(value)).replace("_", " "):
            return value
    if len(folded) >= 3:
        found = [value for value, label in options if folded in fold(label)]
        if len(found) == 1:
            return found[0]
    raise Refusal("not_an_option", options=[label for _, label in options])


def match_options(options: list[tuple[Any, str]], text: str) -> list[Any]:
    """Several options ("1, 3", "1 3", "file và phần mềm"), in menu order; a word meaning
    none ("không") chooses none."""
    folded = fold(text)
    if folded in ZERO_WORDS:
        return []
    pieces = [p for p in re.split(r"\s*[,;]\s*|\s+va\s+", folded) if p]
    if len(pieces) == 1 and re.fullmatch(r"\d+(?:\s+\d+)+", pieces[0]):
        pieces = pieces[0].split()
    chosen: list[Any] = []
    for piece in pieces:
        value = match_option(options, piece)
        if value not in chosen:
            chosen.append(value)
    order = [value for value, _ in options]
    return sorted(chosen, key=order.index)


def parse_text(text: str, max_length: int) -> str:
    value = clean(text)
    if not value:
        raise Refusal("empty_text")
    if len(value) > max_length:
        raise Refusal("too_long", limit=max_length, length=len(value))
    return value

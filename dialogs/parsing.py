"""Turning what a person typed into an answer value, or a refusal that says what is expected.

People answer on phone keyboards, with or without diacritics, with Vietnamese number
separators ("1.234", "2,5"), sometimes with the unit ("100 Mbps", "50 tr.đ").
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction
from typing import Any, Protocol

from dialogs import measures, number_words
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


YES = {
    "co",
    "c",
    "yes",
    "y",
    "1",
    "x",
    "roi",
    "da co",
    "co a",
    "co roi",
    "dung",
    "ok",
    "vang",
    "da trien khai",
}
NO = {
    "khong",
    "k",
    "ko",
    "kg",
    "khg",
    "kh",
    "hok",
    "hong",
    "no",
    "n",
    "0",
    "chua",
    "chua co",
    "khong co",
    "ko co",
    "k co",
    "chua trien khai",
}
ZERO_WORDS = {"khong", "khong co", "ko", "k", "kg", "khg", "hok", "ko co", "k co", "0"}
ZERO_WORDS |= {"chua co", "chua"}
ALL_WORDS = {"tat ca", "ca hai", "ca ba", "tat ca cac muc", "all", "het", "chon het"}
NONE_WORDS = ZERO_WORDS | {"khong chon", "none", "khong co gi"}
GREETINGS = ("chao", "xin chao", "hello", "hi", "alo", "a lo", "hey", "cam on", "thanks")

# Numbers are read in ASCII digits only: str.isdigit() is also true for "²", which int()
# refuses, and int() refuses numbers of more than 4,300 digits.
MAX_DIGITS = 15
# No count, amount or bandwidth of these forms comes near this; larger is a typing accident.
CEILING = 10**12

_THOUSANDS_DOT = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{3})+$")
_THOUSANDS_SPACE = re.compile(r"(?<![0-9.,])[0-9]{1,3}(?: [0-9]{3})+(?![0-9])")
_PLAIN_INT = re.compile(r"^[0-9]+$")
_VN_DECIMAL = re.compile(r"^([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(?:,([0-9]+))?$")
_DOT_DECIMAL = re.compile(r"^[0-9]+\.[0-9]+$")
_EN_DECIMAL = re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+$")
_DIGIT_RUN = re.compile(r"[0-9]+")
_NUMBER_HEAD = re.compile(r"^[-+]?[0-9][0-9., ]*")


def ascii_digits(text: str) -> str:
    """Decimal digits of any script ("٣", "３") as ASCII; other characters unchanged ("²"
    is not a decimal digit and stays)."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def is_greeting(text: str, folded: str | None = None) -> bool:
    """A greeting ("chào bạn", "xin chào", "alo"), not an answer; ``folded``: ``text``
    already folded."""
    folded = (fold(text) if folded is None else folded).rstrip(".!?")
    return any(folded == word or folded.startswith(word + " ") for word in GREETINGS)


def _digits_value(token: str) -> Fraction | None:
    """A number written with digits the Vietnamese way ("1.234", "2,5", "1.234,5") or
    the English way ("2.5", "1,234.5"); None when ``token`` is not one."""
    if _PLAIN_INT.match(token):
        return Fraction(int(token))
    if _THOUSANDS_DOT.match(token):
        return Fraction(int(token.replace(".", "")))
    if match := _VN_DECIMAL.match(token):
        whole = match.group(1).replace(".", "")
        return Fraction(f"{whole}.{match.group(2)}") if match.group(2) else Fraction(int(whole))
    if _DOT_DECIMAL.match(token):
        return Fraction(token)
    if _EN_DECIMAL.match(token):
        return Fraction(token.replace(",", ""))
    return None


def _integer_text(text: str) -> int | None:
    """A whole number in digits ("1234", "1.234", "1 234"); None otherwise."""
    text = _THOUSANDS_SPACE.sub(lambda m: m.group(0).replace(" ", ""), text)
    if _PLAIN_INT.match(text) or _THOUSANDS_DOT.match(text):
        return int(text.replace(".", ""))
    return None


def _check_bounds(item: NumberItem, number: Fraction | int) -> None:
    low = item.min if item.min is not None else 0
    if number < low:
        raise Refusal("negative" if low == 0 else "too_small", min=low, unit=item.unit)
    high = item.max if item.max is not None else CEILING
    if number > high:
        raise Refusal("too_large", max=high, unit=item.unit)


def _check_digits(folded: str, item: NumberItem) -> None:
    if any(len(run) > MAX_DIGITS for run in _DIGIT_RUN.findall(folded)):
        raise Refusal("too_large", max=item.max if item.max is not None else CEILING)


def _tokens(folded: str) -> list[str]:
    folded = _THOUSANDS_SPACE.sub(lambda m: m.group(0).replace(" ", ""), folded)
    folded = re.sub(r"(?<=[0-9])(?=[a-z%])|(?<=[a-z%])(?=[0-9])", " ", folded)
    folded = folded.rstrip("!?")
    if re.search(r"[0-9]\.$", folded):
        folded = folded[:-1]
    return folded.split()


def read_number(item: NumberItem, text: str, refusal: str = "not_a_number") -> Fraction:
    """The number typed for ``item``, in the item's unit, within its bounds: digits the
    Vietnamese way, number words ("hai mươi lăm", "1 tỷ 2"), a unit or counting word after it
    ("12 người", "3 lượt", "2 cái"), money and bandwidth converted ("15.000.000 đồng" → 15
    Tr.đ, "1 Gbps" → 1.000 Mbps). A word meaning none ("không") is 0. Raises ``Refusal``."""
    folded = fold(ascii_digits(text))
    if folded.rstrip(".!") in ZERO_WORDS:
        _check_bounds(item, 0)
        return Fraction(0)
    if folded.startswith("-") and _NUMBER_HEAD.match(folded):
        raise Refusal("negative", unit=item.unit)
    _check_digits(folded, item)
    tokens = _tokens(folded)
    prefix: list[Fraction | str] = []
    for token in tokens:
        number = _digits_value(token)
        if number is not None:
            prefix.append(number)
        elif token in number_words.WORDS and (token != "k" or prefix):
            prefix.append(token)
        else:
            break
    rest = " ".join(tokens[len(prefix) :])
    if not prefix:
        if not any(ch.isdigit() for ch in folded) and len(folded.split()) >= 2:
            raise Refusal("unrelated", unit=item.unit)
        raise Refusal(refusal, unit=item.unit)
    try:
        value, scaled = number_words.value_of(prefix)
    except number_words.NotANumber:
        raise Refusal(refusal, unit=item.unit) from None
    if rest:
        factor = measures.factor(item.unit, getattr(item, "unit_words", ()), rest)
        if factor is None:
            raise Refusal(refusal, unit=item.unit)
        value *= factor
    elif scaled and measures.is_money(item.unit):
        value /= 10**6  # "15 triệu", "1 tỷ 2": đồng, in Tr.đ
    _check_bounds(item, value)
    return value


def parse_integer(item: NumberItem, text: str) -> int:
    value = read_number(item, text)
    if value.denominator != 1:
        raise Refusal("not_whole", unit=item.unit)
    return int(value)


def parse_decimal(item: NumberItem, text: str) -> float | int:
    value = read_number(item, text, "not_a_decimal")
    if value.denominator == 1:
        return int(value)
    return float(value)


def parse_fraction(item: NumberItem, text: str) -> FractionValue:
    folded = fold(ascii_digits(text))
    _check_digits(folded, item)
    parts = re.split(r"\s*/\s*|\s+tren\s+", folded)
    if len(parts) != 2:
        raise Refusal("not_a_fraction", unit=item.unit)
    numbers = []
    for part in parts:
        match = re.match(r"^([0-9][0-9. ]*[0-9]|[0-9])\s*(.*)$", part.strip())
        number = _integer_text(match.group(1).strip()) if match else None
        if match and match.group(2):
            if measures.factor(item.unit, getattr(item, "unit_words", ()), match.group(2)) is None:
                number = None
        if number is None:
            raise Refusal("not_a_fraction", unit=item.unit)
        numbers.append(number)
    part_value, whole_value = numbers
    if part_value > whole_value:
        raise Refusal("fraction_over", part=part_value, whole=whole_value, unit=item.unit)
    if whole_value > CEILING:
        raise Refusal("too_large", max=CEILING, unit=item.unit)
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
    """Several options ("1, 3", "1 3", "file và phần mềm", "tất cả"), in menu order; a word
    meaning none ("không có") chooses none."""
    folded = fold(text).rstrip(".!")
    if folded in NONE_WORDS:
        return []
    if folded in ALL_WORDS:
        return [value for value, _ in options]
    pieces = [p for p in re.split(r"\s*[,;+]\s*|\s+va\s+", folded) if p]
    if len(pieces) == 1 and re.fullmatch(r"[0-9]+(?:\s+[0-9]+)+", pieces[0]):
        pieces = pieces[0].split()
    chosen: list[Any] = []
    for piece in pieces:
        try:
            value = match_option(options, piece)
        except Refusal as refusal:
            labels = [label for _, label in options]
            raise Refusal("not_options", options=labels, count=len(options)) from refusal
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

"""Numbers as Vietnamese speak and type them: "hai mươi lăm", "một trăm linh năm", "ba nghìn",
"15 triệu", "1 tỷ 2" (1,2 tỷ), "2 triệu rưỡi". Works on folded text (no diacritics, lower
case) split into tokens; digit tokens are read by the caller and passed in as numbers.
"""

from __future__ import annotations

from fractions import Fraction

DIGITS = {
    "khong": 0,
    "mot": 1,
    "mots": 1,
    "hai": 2,
    "ba": 3,
    "bon": 4,
    "tu": 4,  # "hai mươi tư"
    "nam": 5,
    "lam": 5,  # "hai mươi lăm"
    "nham": 5,
    "sau": 6,
    "bay": 7,
    "tam": 8,
    "chin": 9,
}
TEN = "muoi"  # mười (10) and mươi (tens): the same once folded
HUNDRED = "tram"
ZERO_PLACE = ("linh", "le")  # "một trăm linh năm" = 105
HALF = "ruoi"  # "hai triệu rưỡi" = 2,5 triệu
SCALES = {"nghin": 1000, "ngan": 1000, "k": 1000, "trieu": 10**6, "ty": 10**9, "ti": 10**9}
WORDS = frozenset({*DIGITS, TEN, HUNDRED, *ZERO_PLACE, HALF, "chuc", *SCALES})


class NotANumber(ValueError):
    """The tokens do not make one number."""


def value_of(tokens: list[Fraction | str]) -> tuple[Fraction, bool]:
    """The number ``tokens`` spell (digit tokens already numbers, the rest folded words) and
    whether a scale word (nghìn, triệu, tỷ) was used; ``NotANumber`` otherwise."""
    if not tokens:
        raise NotANumber("empty")
    total = Fraction(0)  # finished groups (thousands, millions …)
    group = Fraction(0)  # the group below the last scale being built
    last: Fraction | None = None  # the last plain number added to the group
    previous: str | None = None  # the last word, for "mươi", "rưỡi" and "linh"
    last_scale: int | None = None
    for position, token in enumerate(tokens):
        if isinstance(token, Fraction) or token in DIGITS:
            number = token if isinstance(token, Fraction) else Fraction(DIGITS[token])
            if last_scale is not None and previous in SCALES and position == len(tokens) - 1:
                # "1 tỷ 2" = 1,2 tỷ; "2 triệu 50" = 2 triệu 50 nghìn.
                digits = len(str(int(number))) if number.denominator == 1 else 3
                group += number * last_scale / (10 if digits == 1 else 1000)
                last, previous = None, "shorthand"
                continue
            if last is not None and previous not in (TEN, HUNDRED, *ZERO_PLACE, "chuc"):
                raise NotANumber("two numbers in a row")
            group += number
            last, previous = number, "number"
        elif token == TEN:
            if last is not None and previous == "number" and last < 10:
                group += last * 9  # "hai mươi" = 2 × 10
            else:
                group += 10
            last, previous = None, TEN
        elif token == "chuc":
            if last is None or previous != "number":
                raise NotANumber("chục without a number")
            group += last * 9
            last, previous = None, "chuc"
        elif token == HUNDRED:
            group = (group or 1) * 100
            last, previous = None, HUNDRED
        elif token in ZERO_PLACE:
            if previous != HUNDRED:
                raise NotANumber("linh after no hundred")
            previous = token
        elif token == HALF:
            unit = {HUNDRED: 100, TEN: 10}.get(
                previous or "", last_scale if previous in SCALES else None
            )
            if unit is None:
                raise NotANumber("rưỡi after nothing")
            if previous in SCALES:
                total += Fraction(unit, 2)
            else:
                group += Fraction(unit, 2)
            previous = HALF
        elif token in SCALES:
            scale = SCALES[token]
            if token == "k" and previous != "number":
                raise NotANumber("k without a number")
            if group == 0:
                group = Fraction(1)
            if last_scale is None or scale < last_scale:
                total += group * scale
            else:
                total = (total + group) * scale
            group, last, previous, last_scale = Fraction(0), None, token, scale
        else:
            raise NotANumber(f"not a number word: {token}")
    return total + group, last_scale is not None

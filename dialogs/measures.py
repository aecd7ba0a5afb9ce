"""The words people put after a number, and what they mean in the item's unit.

An item's unit ("tin bài", "máy", "Tr.đ", "Mbps") is accepted after the number in any of its
usual spellings, one word of it ("3 tin" for "tin bài") or the counting words that go with it
("2 cái" for "máy"); money and bandwidth are converted ("15.000.000 đồng" → 15 Tr.đ,
"1 Gbps" → 1.000 Mbps). Works on folded text (``dialogs.text.fold``).
"""

from __future__ import annotations

import re
from fractions import Fraction

from dialogs.text import fold

MONEY = "tr.d"  # the forms' money unit: triệu đồng
# Unit (folded) → {what people write: how many of the unit it is}.
CONVERSIONS: dict[str, dict[str, Fraction]] = {
    MONEY: {
        "dong": Fraction(1, 10**6),
        "d": Fraction(1, 10**6),
        "vnd": Fraction(1, 10**6),
        "nghin dong": Fraction(1, 1000),
        "ngan dong": Fraction(1, 1000),
        "tr.d": Fraction(1),
        "trd": Fraction(1),
        "tr d": Fraction(1),
        "tr": Fraction(1),
        "tr.": Fraction(1),
        "tr.dong": Fraction(1),
        "tr dong": Fraction(1),
        "trieu": Fraction(1),
        "trieu dong": Fraction(1),
        "ty dong": Fraction(1000),
        "ti dong": Fraction(1000),
    },
    "mbps": {
        "kbps": Fraction(1, 1000),
        "kb/s": Fraction(1, 1000),
        "kbit/s": Fraction(1, 1000),
        "mbps": Fraction(1),
        "mb/s": Fraction(1),
        "mb": Fraction(1),
        "m": Fraction(1),
        "mbit": Fraction(1),
        "mbit/s": Fraction(1),
        "gbps": Fraction(1000),
        "gb/s": Fraction(1000),
        "gb": Fraction(1000),
        "g": Fraction(1000),
        "gbit/s": Fraction(1000),
    },
    "%": {"%": Fraction(1), "phan tram": Fraction(1)},
}
# Counting words that go with a unit's words (folded).
COUNTING_WORDS: dict[str, tuple[str, ...]] = {
    "may": ("may tinh", "may vi tinh", "cai", "chiec", "bo"),
    "thiet bi": ("cai", "chiec", "bo", "tb"),
    "he thong": ("cai", "bo", "ht"),
    "nguoi": ("ng", "cb", "can bo", "cbcc", "cong chuc", "vien chuc", "thanh vien", "dong chi"),
    "van ban": ("vb", "ban", "file"),
    "ho so": ("hs", "bo"),
    "thu tuc": ("tthc", "tt"),
    "don vi": ("dv", "co quan"),
    "tin bai": ("tin", "bai", "bai viet"),
    "phong, ban": ("phong", "ban", "phong ban"),
    "xa": ("xa", "phuong", "xa phuong", "ubnd xa"),
    "cks": ("chu ky so", "chu ky"),
    "cuoc hop": ("cuoc", "buoi"),
    "luot nguoi": ("luot", "nguoi"),
    "hop thu": ("hop", "tai khoan"),
    "kien nghi": ("kn", "phan anh"),
    "y kien": ("y",),
    "lan": ("lan dang nhap",),
}


def accepted_units(unit: str | None, extra: tuple[str, ...] = ()) -> dict[str, Fraction]:
    """What may follow a number for an item of ``unit``, each with its factor to the unit."""
    folded = fold(unit or "")
    accepted: dict[str, Fraction] = dict(CONVERSIONS.get(folded, {}))
    words: list[str] = []
    if folded:
        words.append(folded)
        parts = [p.strip() for p in re.split(r"[,/]", folded) if p.strip()]
        words += parts
        for part in parts:
            words += part.split()
        for key, aliases in COUNTING_WORDS.items():
            if key == folded or key in parts:
                words += aliases
    words += [fold(word) for word in extra]
    for word in words:
        accepted.setdefault(word, Fraction(1))
    return accepted


def factor(unit: str | None, extra: tuple[str, ...], written: str) -> Fraction | None:
    """How many of the item's unit one ``written`` (folded, as typed after the number) is;
    None when it is not a unit of the item."""
    accepted = accepted_units(unit, extra)
    written = written.strip()
    for candidate in (written, written.rstrip("."), written.replace(" ", "")):
        if candidate in accepted:
            return accepted[candidate]
    return None


def is_money(unit: str | None) -> bool:
    return fold(unit or "") == MONEY

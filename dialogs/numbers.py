"""Numbers written the Vietnamese way: "." between thousands, "," before decimals."""

from __future__ import annotations


def format_number(number: float | int, decimals: int = 2) -> str:
    """1234 → "1.234"; 2.5 → "2,5"; 1234.5 → "1.234,5"."""
    if isinstance(number, float) and not number.is_integer():
        text = f"{number:,.{decimals}f}".rstrip("0").rstrip(".")
    else:
        text = f"{int(round(number)):,}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")

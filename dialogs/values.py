"""Answer values: to and from JSON for storage, and written the Vietnamese way for people."""

from __future__ import annotations

from typing import Any

from dialogs.expressions import FractionValue
from dialogs.spec import TRI_STATE_OPTIONS, YES_NO_OPTIONS, Item
from templates.messages import say

_TRI_STATE_LABELS = dict(TRI_STATE_OPTIONS)
_YES_NO_LABELS = dict(YES_NO_OPTIONS)


def to_json(item: Item, value: Any) -> Any:
    if isinstance(value, FractionValue):
        return {"part": value.part, "whole": value.whole}
    return value


def from_json(item: Item, stored: Any) -> Any:
    if stored is None:
        return None
    if item.kind == "fraction" and isinstance(stored, dict):
        return FractionValue(int(stored["part"]), int(stored["whole"]))
    if item.kind == "multi_choice" and isinstance(stored, list):
        return list(stored)
    return stored


def format_number(number: float | int, decimals: int = 2) -> str:
    """1234 → "1.234"; 2.5 → "2,5"; 1234.5 → "1.234,5" (Vietnamese separators)."""
    if isinstance(number, bool):
        return _YES_NO_LABELS[number]
    if isinstance(number, float) and not number.is_integer():
        text = f"{number:,.{decimals}f}".rstrip("0").rstrip(".")
    else:
        text = f"{int(round(number)):,}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def format_value(item: Item, value: Any, *, with_unit: bool = True) -> str:
    """A stored value as a person reads it; "" when there is none."""
    if value is None:
        return ""
    unit = f" {item.unit}" if with_unit and item.unit else ""
    if item.kind == "yes_no":
        return _YES_NO_LABELS[bool(value)]
    if item.kind == "tri_state":
        return _TRI_STATE_LABELS.get(value, str(value))
    if item.kind == "choice":
        return dict(item.choices()).get(value, str(value))
    if item.kind == "multi_choice":
        labels = dict(item.choices())
        return "; ".join(labels.get(v, str(v)) for v in value) or say("value_none_chosen")
    if isinstance(value, FractionValue):
        return f"{format_number(value.part)}/{format_number(value.whole)}{unit}"
    if isinstance(value, int | float) and item.percent:
        return f"{format_number(value * 100)} %"  # a ratio the form states in percent
    if isinstance(value, int | float):
        return f"{value if item.plain else format_number(value)}{unit}"
    return str(value)

"""Answers the bot knows before anyone types them (``fill`` in a spec): the report year from
the campaign, the unit's name and contact from the unit record. They are filled when a
submission starts, shown with the others and corrected with /sua like any answer."""

from __future__ import annotations

from typing import Any

from dialogs import formats
from dialogs.spec import FormSpec, Item
from dialogs.state import FormState, Stored


def known_answers(
    spec: FormSpec, *, year: int, unit_name: str, unit_contact: str | None
) -> list[tuple[Item, Any]]:
    """(item, value) for every item the bot can fill, in form order; an item whose source is
    missing or does not fit its format (a contact without a phone number) is left out."""
    found = []
    for item in spec.memo("_filled_items", _filled_items):
        value: Any = None
        if item.fill == "year":
            value = year
        elif item.fill == "unit_name":
            value = unit_name.strip() or None
        elif item.fill == "unit_contact" and unit_contact:
            value = formats.found_in(item.format, unit_contact) if item.format else unit_contact
        if value is not None:
            found.append((item, value))
    return found


def fill(state: FormState, known: list[tuple[Item, Any]]) -> list[tuple[Item, FormState]]:
    """The known answers ``state`` does not have yet, each with the state after it."""
    steps = []
    for item, value in known:
        if item.code in state.stored:
            continue
        state = state.with_answer(item.code, Stored(value, False, None))
        steps.append((item, state))
    return steps


def _filled_items(spec: FormSpec) -> list[Item]:
    return [item for item in spec.items if item.fill]

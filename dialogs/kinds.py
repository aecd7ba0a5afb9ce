"""Item kinds: everything that depends on what kind of answer an item takes, one class each.

A form spec gives every item a ``kind`` (``integer``, ``yes_no``, ``fraction`` …). What that
means — how a typed answer is read, stored as JSON, written for people, offered as buttons,
put in a spreadsheet cell, scored — lives here and nowhere else: every other module asks
``kind_of(item)``. A new kind is one class below, registered in ``KINDS``, plus its wording in
``templates/messages.vi.yaml``.

Kinds take the item as data (code, unit, bounds, options …) and never import the spec module,
so the spec can validate ``kind`` names against ``KINDS``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Protocol

from dialogs import formats, parsing
from dialogs.expressions import FractionValue
from dialogs.numbers import format_number
from dialogs.parsing import Refusal
from templates.messages import say

# The three answers of a website-function row, as printed in the official form.
TRI_STATE_OPTIONS = (
    ("hoan_chinh", "Hoàn chỉnh"),
    ("dang_thu_nghiem", "Đang thử nghiệm"),
    ("chua_co", "Chưa có"),
)
YES_NO_OPTIONS = ((True, "Có"), (False, "Không"))
# Rubric rules (dialogs/scoring.py) that read a number from the answer.
NUMBER_RULES = frozenset({"ratio", "target", "relative", "met"})


class ItemFields(Protocol):
    """What a kind reads of an item (``dialogs.spec.Item`` has all of it)."""

    code: str
    kind: str
    unit: str | None
    required: bool
    min: float | None
    max: float | None
    max_length: int
    plain: bool
    percent: bool
    single_box: bool
    options: Any
    calculate: str | None
    format: str | None


class Kind:
    """The behaviour shared by most kinds; each kind overrides what differs."""

    name: ClassVar[str]
    asked: ClassVar[bool] = True  # computed items are shown, never asked
    is_number: ClassVar[bool] = False  # a number in sums, ratios and the ranking sheet
    multiple: ClassVar[bool] = False  # several options may be chosen at once
    needs_options: ClassVar[bool] = False  # the spec must list the options
    ticks_a_box: ClassVar[bool] = False  # printed in a table as ☒ in the column of its answer
    single_box: ClassVar[bool] = False  # may be printed as one tick box before its label
    free_text: ClassVar[bool] = False  # words the person wrote (printed as they wrote them)
    sheet_columns: ClassVar[int] = 1  # spreadsheet cells an answer takes
    sheet_number: ClassVar[str | None] = None  # "count" or "decimal": its numbers in a sheet
    # Last year's answer may be kept with one tap (facts that stay: names, systems in
    # place); a spec's ``carry`` overrides it per item.
    carried: ClassVar[bool] = True
    # Rubric rules that can score an answer of this kind without a ``value`` expression.
    scored_by: ClassVar[frozenset[str]] = frozenset({"met"})

    # Reading ---------------------------------------------------------------------------------

    def parse(self, item: ItemFields, text: str) -> Any:
        """The value of what a person typed; raises ``Refusal`` (with the message key and
        what it needs) when it cannot be accepted."""
        raise NotImplementedError

    def choices(self, item: ItemFields) -> list[tuple[Any, str]]:
        """(value, label) pairs a person may pick from; empty for kinds without options."""
        return []

    def picked(self, item: ItemFields, index: int) -> Any:
        """The value stored when the ``index``-th option button is pressed."""
        return self.choices(item)[index][0]

    # Storing ---------------------------------------------------------------------------------

    def to_json(self, value: Any) -> Any:
        return value

    def from_json(self, stored: Any) -> Any:
        return stored

    # Writing for people ----------------------------------------------------------------------

    def format(self, item: ItemFields, value: Any, *, with_unit: bool = True) -> str:
        """The value as a person reads it, in chat and in documents; "" when there is none."""
        if value is None:
            return ""
        labels = dict(self.choices(item))
        if labels:
            return labels.get(value, str(value))
        return str(value)

    def example(self, item: ItemFields) -> str | None:
        """How to answer, with an example, shown under the question."""
        return None

    def cells(self, item: ItemFields, value: Any) -> list[Any]:
        """The value in the cells of a spreadsheet (``sheet_columns`` of them): numbers stay
        numbers, so the sheet can sum and sort; the rest is text."""
        return [None if value is None else self.format(item, value, with_unit=False)]

    def number(self, value: Any) -> float | None:
        """The value as a number for scoring; None when it is not one."""
        return None

    # Specs, tests and benchmarks -------------------------------------------------------------

    def spec_problems(self, item: ItemFields) -> list[str]:
        """What is wrong with an item of this kind in a spec (one line each)."""
        problems = []
        if self.needs_options and not item.options:
            problems.append(f"{self.name} has no options")
        if item.calculate and self.asked:
            problems.append("only computed items may calculate")
        if item.single_box and not self.single_box:
            problems.append("single_box is for yes_no items")
        if item.percent and not self.is_number:
            problems.append("percent is for numbers")
        return problems

    def sample(self, item: ItemFields, year: int) -> str:
        """A plausible typed answer (the form walks in tests and the benchmarks)."""
        return "1"

    def smaller_sample(self, item: ItemFields) -> str | None:
        """A retry after a part-larger-than-whole refusal; None when there is none."""
        return None


# Numbers ---------------------------------------------------------------------------------------


class _NumberKind(Kind):
    is_number = True
    scored_by = NUMBER_RULES
    carried = False  # counts and budgets are of the year

    def format(self, item: ItemFields, value: Any, *, with_unit: bool = True) -> str:
        if value is None:
            return ""
        unit = f" {item.unit}" if with_unit and item.unit else ""
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int | float) and item.percent:
            return f"{format_number(value * 100)} %"  # a ratio the form states in percent
        if isinstance(value, int | float):
            return f"{value if item.plain else format_number(value)}{unit}"
        return f"{value}{unit}"

    def cells(self, item: ItemFields, value: Any) -> list[Any]:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return [value if number else None]

    def number(self, value: Any) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        number = float(value)
        return number if math.isfinite(number) else None


class IntegerKind(_NumberKind):
    name = "integer"
    sheet_number = "count"

    def parse(self, item: ItemFields, text: str) -> int:
        return parsing.parse_integer(item, text)

    def example(self, item: ItemFields) -> str:
        if item.plain:
            return say("example_plain", low=item.min, high=item.max)
        return say("example_integer", unit=item.unit)

    def sample(self, item: ItemFields, year: int) -> str:
        if item.plain:  # a year
            return str(year)
        high = int(item.max) if item.max is not None else 5
        return str(min(max(int(item.min or 0), 5), high))

    def smaller_sample(self, item: ItemFields) -> str | None:
        return str(int(item.min or 0))


class DecimalKind(_NumberKind):
    name = "decimal"
    sheet_number = "decimal"

    def parse(self, item: ItemFields, text: str) -> float | int:
        return parsing.parse_decimal(item, text)

    def example(self, item: ItemFields) -> str:
        return say("example_decimal", unit=item.unit)

    def sample(self, item: ItemFields, year: int) -> str:
        return "2,5"


class FractionKind(_NumberKind):
    """x / y: ``part`` of ``whole`` (documents signed digitally of all documents …)."""

    name = "fraction"
    sheet_columns = 2  # the part and the whole, each a number
    sheet_number = "count"

    def parse(self, item: ItemFields, text: str) -> FractionValue:
        return parsing.parse_fraction(item, text)

    def to_json(self, value: Any) -> Any:
        if isinstance(value, FractionValue):
            return {"part": value.part, "whole": value.whole}
        return value

    def from_json(self, stored: Any) -> Any:
        if isinstance(stored, dict):
            return FractionValue(int(stored["part"]), int(stored["whole"]))
        return stored

    def format(self, item: ItemFields, value: Any, *, with_unit: bool = True) -> str:
        if not isinstance(value, FractionValue):
            return super().format(item, value, with_unit=with_unit)
        unit = f" {item.unit}" if with_unit and item.unit else ""
        return f"{format_number(value.part)}/{format_number(value.whole)}{unit}"

    def cells(self, item: ItemFields, value: Any) -> list[Any]:
        if isinstance(value, FractionValue):
            return [value.part, value.whole]
        return [None, None]

    def number(self, value: Any) -> float | None:
        if isinstance(value, FractionValue):
            return value.part / value.whole if value.whole else None
        return None

    def example(self, item: ItemFields) -> str:
        return say("example_fraction", unit=item.unit)

    def sample(self, item: ItemFields, year: int) -> str:
        return "5/5"

    def smaller_sample(self, item: ItemFields) -> str | None:
        return "0/5"


class ComputedKind(_NumberKind):
    """Calculated from other answers (``calculate``); shown with the form, never asked."""

    name = "computed"
    asked = False
    sheet_number = "decimal"

    def parse(self, item: ItemFields, text: str) -> Any:
        raise Refusal("computed")

    def spec_problems(self, item: ItemFields) -> list[str]:
        problems = super().spec_problems(item)
        return problems if item.calculate else [*problems, "computed item has no calculate"]


# Options ---------------------------------------------------------------------------------------


class YesNoKind(Kind):
    name = "yes_no"
    scored_by = frozenset({"yes_no", "met"})
    ticks_a_box = True
    single_box = True

    def parse(self, item: ItemFields, text: str) -> bool:
        return parsing.parse_yes_no(text)

    def choices(self, item: ItemFields) -> list[tuple[Any, str]]:
        return list(YES_NO_OPTIONS)

    def format(self, item: ItemFields, value: Any, *, with_unit: bool = True) -> str:
        return "" if value is None else dict(YES_NO_OPTIONS)[bool(value)]


class TriStateKind(Kind):
    """Hoàn chỉnh / Đang thử nghiệm / Chưa có (the website-function rows)."""

    name = "tri_state"
    scored_by = frozenset({"tri_state", "met"})
    ticks_a_box = True

    def parse(self, item: ItemFields, text: str) -> str:
        return parsing.match_option(self.choices(item), text)

    def choices(self, item: ItemFields) -> list[tuple[Any, str]]:
        return list(TRI_STATE_OPTIONS)


class ChoiceKind(Kind):
    name = "choice"
    needs_options = True
    scored_by = frozenset({"choice", "met"})
    ticks_a_box = True

    def parse(self, item: ItemFields, text: str) -> str:
        return parsing.match_option(self.choices(item), text)

    def choices(self, item: ItemFields) -> list[tuple[Any, str]]:
        return [(option.value, option.label) for option in item.options or ()]


class MultiChoiceKind(ChoiceKind):
    name = "multi_choice"
    multiple = True
    scored_by = frozenset({"choice"})
    ticks_a_box = False  # several answers: printed as a list of boxes, not in one column

    def parse(self, item: ItemFields, text: str) -> list[str]:
        return parsing.match_options(self.choices(item), text)

    def picked(self, item: ItemFields, index: int) -> list[Any]:
        return [self.choices(item)[index][0]]

    def from_json(self, stored: Any) -> Any:
        return list(stored) if isinstance(stored, list) else stored

    def format(self, item: ItemFields, value: Any, *, with_unit: bool = True) -> str:
        if value is None:
            return ""
        labels = dict(self.choices(item))
        return "; ".join(labels.get(v, str(v)) for v in value) or say("value_none_chosen")

    def example(self, item: ItemFields) -> str:
        return say("example_multi_choice")

    def sample(self, item: ItemFields, year: int) -> str:
        return "1, 2" if len(self.choices(item)) > 1 else "1"


# Text ------------------------------------------------------------------------------------------


# A plausible answer per text format (form walks, benchmarks).
FORMAT_SAMPLES = {
    "email": "vanthu@huongvinh.gov.vn",
    "phone": "0234 3551 234",
    "url": "huongvinh.huongtra.gov.vn",
    "doc_ref": "12/QĐ-UBND ngày 05/3/2020",
    "date": "05/03/2020",
}


class TextKind(Kind):
    name = "text"
    free_text = True

    def parse(self, item: ItemFields, text: str) -> str:
        value = parsing.parse_text(text, item.max_length)
        return formats.check(item.format, value) if item.format else value

    def example(self, item: ItemFields) -> str:
        if item.format:
            return say(f"example_{item.format}")
        return say("example_text", limit=item.max_length)

    def sample(self, item: ItemFields, year: int) -> str:
        return FORMAT_SAMPLES.get(item.format or "", "Nội dung trả lời & <thử>")


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        IntegerKind(),
        DecimalKind(),
        FractionKind(),
        ComputedKind(),
        YesNoKind(),
        TriStateKind(),
        ChoiceKind(),
        MultiChoiceKind(),
        TextKind(),
    )
}


def kind_of(item: ItemFields) -> Kind:
    return KINDS[item.kind]


def parse_answer(item: ItemFields, text: str) -> Any:
    """The value of what a person typed for ``item``; raises ``Refusal`` when it cannot be
    accepted (the refusal's key and parameters say why and what to type)."""
    kind = kind_of(item)
    if kind.asked and not text.strip():
        raise Refusal("empty_text")
    return kind.parse(item, text)


def format_value(item: ItemFields, value: Any, *, with_unit: bool = True) -> str:
    """A value of ``item`` as a person reads it; "" when there is none."""
    return kind_of(item).format(item, value, with_unit=with_unit)


def sample_answer(item: ItemFields, year: int) -> str:
    """What a person might type for ``item`` (the form walks in tests, the benchmarks)."""
    return kind_of(item).sample(item, year)


def smaller_answer(item: ItemFields) -> str | None:
    """The retry after a part-larger-than-whole refusal, or None."""
    return kind_of(item).smaller_sample(item)

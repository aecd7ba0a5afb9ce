"""Item kinds: each kind's reading, storing, wording, spreadsheet cell and score number."""

from __future__ import annotations

import pytest

from dialogs.expressions import FractionValue
from dialogs.kinds import KINDS, format_value, kind_of, parse_answer, sample_answer
from dialogs.parsing import Refusal
from dialogs.spec import Item, Option, SpecError, all_forms, parse_spec

OPTIONS = (Option(value="a", label="Phương án A"), Option(value="b", label="Phương án B"))
ITEMS = {
    "integer": Item(code="1", kind="integer", label="Số", unit="người"),
    "decimal": Item(code="2", kind="decimal", label="Băng thông", unit="Mbps"),
    "fraction": Item(code="3", kind="fraction", label="Tỷ lệ", unit="văn bản"),
    "computed": Item(code="4", kind="computed", label="Tổng", calculate="${1} + 1"),
    "yes_no": Item(code="5", kind="yes_no", label="Có WAN"),
    "tri_state": Item(code="6", kind="tri_state", label="Chức năng"),
    "choice": Item(code="7", kind="choice", label="Loại", options=OPTIONS),
    "multi_choice": Item(code="8", kind="multi_choice", label="Các loại", options=OPTIONS),
    "text": Item(code="9", kind="text", label="Ghi chú"),
}
# (what a person types, the stored JSON, how people read it, the spreadsheet cells, the number)
EXAMPLES = {
    "integer": ("1.234 người", 1234, "1.234 người", [1234], 1234.0),
    "decimal": ("2,5", 2.5, "2,5 Mbps", [2.5], 2.5),
    "fraction": ("12/30", {"part": 12, "whole": 30}, "12/30 văn bản", [12, 30], 0.4),
    "yes_no": ("có", True, "Có", ["Có"], None),
    "tri_state": (
        "dang thu nghiem",
        "dang_thu_nghiem",
        "Đang thử nghiệm",
        ["Đang thử nghiệm"],
        None,
    ),
    "choice": ("2", "b", "Phương án B", ["Phương án B"], None),
    "multi_choice": (
        "1, 2",
        ["a", "b"],
        "Phương án A; Phương án B",
        ["Phương án A; Phương án B"],
        None,
    ),
    "text": (
        "  Mạng  chuyên dùng ",
        "Mạng  chuyên dùng",
        "Mạng  chuyên dùng",
        ["Mạng  chuyên dùng"],
        None,
    ),
}


def test_every_kind_the_forms_use_is_registered_and_every_registered_kind_is_tested():
    used = {item.kind for spec in all_forms().values() for item in spec.items}
    assert used <= set(KINDS)
    assert set(ITEMS) == set(KINDS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_typed_answer_is_stored_written_and_counted_by_its_kind(name):
    item = ITEMS[name]
    typed, stored, shown, cells, number = EXAMPLES[name]
    kind = kind_of(item)
    value = parse_answer(item, typed)
    assert kind.to_json(value) == stored
    assert kind.from_json(stored) == value
    assert format_value(item, value) == shown
    assert kind.cells(item, value) == cells
    assert len(cells) == kind.sheet_columns
    assert kind.number(value) == number


def test_a_computed_item_is_shown_never_asked_and_refuses_typing():
    item = ITEMS["computed"]
    assert not item.asked and all(other.asked for other in ITEMS.values() if other is not item)
    with pytest.raises(Refusal) as refused:
        parse_answer(item, "5")
    assert refused.value.key == "computed"


@pytest.mark.parametrize("name", sorted(set(KINDS) - {"computed"}))
def test_an_empty_answer_is_refused_by_every_asked_kind(name):
    with pytest.raises(Refusal) as refused:
        parse_answer(ITEMS[name], "   ")
    assert refused.value.key == "empty_text"


def test_one_pressed_option_of_a_multi_choice_is_a_list():
    assert ITEMS["multi_choice"].type.picked(ITEMS["multi_choice"], 1) == ["b"]
    assert ITEMS["choice"].type.picked(ITEMS["choice"], 1) == "b"


def test_fractions_read_back_from_json_as_fractions():
    assert KINDS["fraction"].from_json({"part": 1, "whole": 2}) == FractionValue(1, 2)


def test_kinds_say_how_to_answer():
    assert "12" in ITEMS["integer"].type.example(ITEMS["integer"])
    assert "x/y" in ITEMS["fraction"].type.example(ITEMS["fraction"])
    assert ITEMS["yes_no"].type.example(ITEMS["yes_no"]) is None  # the buttons say it


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"code": "1", "kind": "choice", "label": "x"}, "choice has no options"),
        ({"code": "1", "kind": "computed", "label": "x"}, "computed item has no calculate"),
        (
            {"code": "1", "kind": "integer", "label": "x", "calculate": "1"},
            "only computed items may calculate",
        ),
    ],
)
def test_a_kind_checks_its_items_in_a_spec(raw, problem):
    data = {"id": "t", "title": "T", "sections": [{"number": 1, "title": "A", "items": [raw]}]}
    with pytest.raises(SpecError) as error:
        parse_spec(data, "t.yaml")
    assert any(problem in line for line in error.value.problems)


@pytest.mark.parametrize("name", sorted(set(KINDS) - {"computed"}))
def test_the_sample_answer_of_every_kind_is_accepted(name):
    item = ITEMS[name]
    assert parse_answer(item, sample_answer(item, 2020)) is not None

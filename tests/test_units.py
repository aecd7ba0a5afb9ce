"""Naming a unit, as staff type it in chat (``/tralai``, ``/taiphieu``) and the IT team on the
command line (``formbot invite``): one rule for both (``dialogs.units.match_unit``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dialogs.units import match_unit


@dataclass(frozen=True)
class Unit:
    id: int
    name: str


UNITS = [
    Unit(1, "UBND xã Hương Vinh"),
    Unit(2, "UBND xã Hương Chữ"),
    Unit(3, "UBND phường Hương Sơ"),
    Unit(4, "Sở Y tế"),
    Unit(5, "Sở Y tế dự phòng"),
    Unit(6, "Phòng Văn hóa"),
    Unit(7, "Phòng Văn hóa và Thông tin"),
]

# text typed → (unit id, rest) for the unit meant, or the problem when none.
CASES = [
    # By number, as `formbot units list` and /danhsach show it.
    ("3", False, (3, "")),
    ("#3", False, (3, "")),
    ("#3: thiếu số liệu", True, (3, "thiếu số liệu")),
    ("3 thiếu số liệu", True, (3, "thiếu số liệu")),
    ("99", False, "not_found"),
    # The full name, with or without diacritics, any case, extra spaces.
    ("UBND xã Hương Vinh", False, (1, "")),
    ("ubnd xa huong vinh", False, (1, "")),
    ("  UBND   xã Hương   Vinh ", False, (1, "")),
    # The full name followed by a reason, with or without a colon.
    ("UBND xã Hương Vinh thiếu mục 3", True, (1, "thiếu mục 3")),
    ("ubnd xa huong vinh: thiếu mục 3", True, (1, "thiếu mục 3")),
    # The longest full name wins: "Sở Y tế dự phòng" is not "Sở Y tế" + "dự phòng".
    ("Sở Y tế dự phòng", False, (5, "")),
    ("So y te du phong: chưa ký", True, (5, "chưa ký")),
    ("Sở Y tế: chưa ký", True, (4, "chưa ký")),
    # A name that is also part of a longer one is still that unit.
    ("Phòng Văn hóa", False, (6, "")),
    ("phong van hoa", False, (6, "")),
    # A unique part of a name, before a colon or alone.
    ("Hương Vinh", False, (1, "")),
    ("huong so", False, (3, "")),
    ("Hương Chữ: thiếu số liệu mục 3", True, (2, "thiếu số liệu mục 3")),
    ("thong tin", False, (7, "")),
    # Without a colon a reason cannot be told from a partial name: the part alone must name
    # one unit (the caller then asks for the reason) …
    ("Hương Vinh", True, (1, "")),
    # … and a part followed by words is refused with how to write it.
    ("Hương Vinh thiếu số liệu", True, "needs_colon"),
    ("UBND", True, "needs_colon"),
    # Nothing, several, none.
    ("", False, "empty"),
    ("   ", True, "empty"),
    ("UBND", False, "ambiguous"),
    ("huong", False, "ambiguous"),
    ("Hương: lý do", True, "ambiguous"),
    ("Hà Nội", False, "not_found"),
    ("Hà Nội: lý do", True, "not_found"),
]


@pytest.mark.parametrize(("text", "with_rest", "expected"), CASES)
def test_a_unit_is_found_by_number_name_or_unique_part(text, with_rest, expected):
    match = match_unit(UNITS, text, with_rest=with_rest)
    if isinstance(expected, tuple):
        assert match.problem is None
        assert (match.unit.id, match.rest) == expected
    else:
        assert match.unit is None
        assert match.problem == expected


def test_an_ambiguous_part_lists_the_candidates_and_an_unknown_name_is_named():
    match = match_unit(UNITS, "huong")
    assert [u.id for u in match.candidates] == [1, 2, 3]
    assert match.name == "huong"
    assert match_unit(UNITS, "#42").name == "#42"
    assert match_unit(UNITS, "Hà Nội: lý do").name == "Hà Nội"

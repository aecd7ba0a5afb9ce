"""Answers as people type them on phones: accepted values and refusals."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.expressions import FractionValue
from dialogs.kinds import parse_answer
from dialogs.numbers import format_number
from dialogs.parsing import Refusal
from dialogs.spec import Item, Option

COUNT = Item(code="1.2", kind="integer", label="Số CBCC", unit="người")
MACHINES = Item(code="3.2.a", kind="integer", label="Số máy", unit="máy")
BANDWIDTH = Item(code="3.2.b.1", kind="decimal", label="Leased line", unit="Mbps")
MONEY = Item(code="4.2.1.curr", kind="decimal", label="Chi", unit="Tr.đ")
DOCS = Item(code="5.1.c", kind="fraction", label="VB điện tử / tổng", unit="văn bản")
GATE = Item(code="3.6", kind="yes_no", label="Có WAN")
FUNCTION = Item(code="6.2.1.a", kind="tri_state", label="Tiếp nhận")
SIGNATURE = Item(
    code="5.2",
    kind="choice",
    label="Chữ ký số",
    options=(
        Option(value="chuyen_dung", label="Chữ ký số chuyên dùng"),
        Option(value="cong_cong", label="Chữ ký số công cộng"),
    ),
)
SIGNED_ON = Item(
    code="5.3",
    kind="multi_choice",
    label="Ký trên",
    options=(
        Option(value="file", label="Ký trên file"),
        Option(value="phan_mem", label="Ký trên phần mềm"),
        Option(value="khac", label="Khác"),
    ),
)
NOTE = Item(code="3.6.1", kind="text", label="Công nghệ", required=False)


@pytest.mark.parametrize(
    ("item", "typed", "expected"),
    [
        (COUNT, "1234", 1234),
        (COUNT, "1.234", 1234),
        (COUNT, "1 234", 1234),
        (COUNT, "12 người", 12),
        (COUNT, "12 nguoi", 12),
        (COUNT, "không", 0),
        (COUNT, "Không có", 0),
        (COUNT, "0", 0),
        (MACHINES, "  25 máy ", 25),
        (BANDWIDTH, "2,5", 2.5),
        (BANDWIDTH, "2.5", 2.5),
        (BANDWIDTH, "1.234,5", 1234.5),
        (BANDWIDTH, "100 Mbps", 100),
        (BANDWIDTH, "100mbps", 100),
        (MONEY, "50 triệu", 50),
        (MONEY, "50 tr.đ", 50),
        (MONEY, "50 Tr.đ", 50),
        (DOCS, "12/30", FractionValue(12, 30)),
        (DOCS, "12 / 30", FractionValue(12, 30)),
        (DOCS, "12 trên 30", FractionValue(12, 30)),
        (DOCS, "1.200/3.000", FractionValue(1200, 3000)),
        (GATE, "có", True),
        (GATE, "Co", True),
        (GATE, "C", True),
        (GATE, "yes", True),
        (GATE, "y", True),
        (GATE, "1", True),
        (GATE, "x", True),
        (GATE, "rồi", True),
        (GATE, "đã có", True),
        (GATE, "KHÔNG", False),
        (GATE, "khong", False),
        (GATE, "k", False),
        (GATE, "ko", False),
        (GATE, "no", False),
        (GATE, "n", False),
        (GATE, "0", False),
        (GATE, "chưa", False),
        (GATE, "2", False),
        (FUNCTION, "1", "hoan_chinh"),
        (FUNCTION, "Đang thử nghiệm", "dang_thu_nghiem"),
        (FUNCTION, "dang thu nghiem", "dang_thu_nghiem"),
        (FUNCTION, "chua co", "chua_co"),
        (FUNCTION, "3", "chua_co"),
        (SIGNATURE, "2", "cong_cong"),
        (SIGNATURE, "chu ky so chuyen dung", "chuyen_dung"),
        (SIGNATURE, "công cộng", "cong_cong"),
        (SIGNED_ON, "1, 2", ["file", "phan_mem"]),
        (SIGNED_ON, "2 1", ["file", "phan_mem"]),
        (SIGNED_ON, "ký trên phần mềm; khac", ["phan_mem", "khac"]),
        (NOTE, "  Mạng truyền số liệu chuyên dùng \x07 ", "Mạng truyền số liệu chuyên dùng"),
    ],
)
def test_accepted(item, typed, expected):
    assert parse_answer(item, typed) == expected


@pytest.mark.parametrize(
    ("item", "typed", "key"),
    [
        (COUNT, "-3", "negative"),
        (COUNT, "nhiều", "not_a_number"),
        (COUNT, "12 Mbps", "not_a_number"),
        (COUNT, "2,5", "not_whole"),
        (COUNT, "", "empty_text"),
        (BANDWIDTH, "-1,5", "negative"),
        (BANDWIDTH, "nhanh", "not_a_decimal"),
        (DOCS, "31/30", "fraction_over"),
        (DOCS, "12", "not_a_fraction"),
        (DOCS, "a/b", "not_a_fraction"),
        (GATE, "có lẽ", "not_yes_no"),
        (FUNCTION, "4", "no_such_option"),
        (FUNCTION, "tốt", "not_an_option"),
        (SIGNATURE, "chữ", "not_an_option"),
        (NOTE, "   ", "empty_text"),
        (NOTE, "x" * 1001, "too_long"),
    ],
)
def test_refused(item, typed, key):
    with pytest.raises(Refusal) as info:
        parse_answer(item, typed)
    assert info.value.key == key


def test_too_long_names_the_limit():
    with pytest.raises(Refusal) as info:
        parse_answer(NOTE, "x" * 1500)
    assert info.value.params == {"limit": 1000, "length": 1500}


@given(st.integers(min_value=0, max_value=10**12))
def test_any_count_written_the_vietnamese_way_parses_back(number):
    assert parse_answer(COUNT, format_number(number)) == number
    assert parse_answer(COUNT, format_number(number).replace(".", " ")) == number


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=99))
def test_any_decimal_written_the_vietnamese_way_parses_back(whole, hundredths):
    number = whole + hundredths / 100
    assert parse_answer(BANDWIDTH, format_number(number)) == pytest.approx(number)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_fractions_keep_part_at_most_whole(a, b):
    part, whole = min(a, b), max(a, b)
    assert parse_answer(DOCS, f"{format_number(part)} / {format_number(whole)}") == (
        FractionValue(part, whole)
    )

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


VISITS = Item(code="4.3", kind="integer", label="Lượt tập huấn", unit="lượt người")
ARTICLES = Item(code="6.6", kind="integer", label="Tin bài", unit="tin bài")
YEAR = Item(code="1.1", kind="integer", label="Năm", min=2000, max=2100, plain=True)
DEVICES = Item(code="3.7.a.sl", kind="integer", label="Số lượng", unit="thiết bị", min=1)


@pytest.mark.parametrize(
    ("item", "typed", "expected"),
    [
        (COUNT, "mười hai", 12),
        (COUNT, "hai mươi lăm", 25),
        (COUNT, "hai mươi mốt người", 21),
        (COUNT, "một trăm linh năm", 105),
        (COUNT, "ba trăm hai mươi", 320),
        (COUNT, "ba nghìn", 3000),
        (COUNT, "2 ngàn", 2000),
        (COUNT, "2 triệu", 2_000_000),
        (MONEY, "15.000.000 đồng", 15),
        (MONEY, "15000000 dong", 15),
        (MONEY, "15 triệu", 15),
        (MONEY, "15 triệu đồng", 15),
        (MONEY, "1 tỷ 2", 1200),
        (MONEY, "1,5 tỷ", 1500),
        (MONEY, "2 triệu rưỡi", 2.5),
        (MONEY, "500 nghìn", 0.5),
        (MONEY, "500k", 0.5),
        (BANDWIDTH, "1 Gbps", 1000),
        (BANDWIDTH, "512 Kbps", 0.512),
        (VISITS, "3 lượt", 3),
        (ARTICLES, "3 tin", 3),
        (ARTICLES, "4 bài", 4),
        (MACHINES, "2 cái", 2),
        (COUNT, "khg", 0),
        (COUNT, "hok", 0),
        (GATE, "khg", False),
        (GATE, "hok", False),
        (COUNT, "١٢", 12),  # Arabic-Indic digits are digits
        (COUNT, "１２", 12),  # so are full-width ones
    ],
)
def test_numbers_as_people_say_them(item, typed, expected):
    assert parse_answer(item, typed) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("item", "typed", "key"),
    [
        (COUNT, "²", "not_a_number"),  # str.isdigit() is true, int() refuses it
        (COUNT, "1" * 5000, "too_large"),  # over int()'s 4,300-digit limit
        (BANDWIDTH, "1" * 400 + ",5", "too_large"),  # would be inf as a float
        (MONEY, "1" * 14, "too_large"),  # above any amount of these forms
        (YEAR, "0", "too_small"),  # zero words and digits meet the minimum too
        (YEAR, "không", "too_small"),
        (DEVICES, "khong", "too_small"),
        (DOCS, "1" * 30 + "/" + "2" * 30, "too_large"),
        (COUNT, "năm 2020", "not_a_number"),
        (COUNT, "chào bạn nhé", "unrelated"),
        (SIGNED_ON, "xyz", "not_options"),
    ],
)
def test_what_cannot_be_a_number_is_refused_not_crashed(item, typed, key):
    with pytest.raises(Refusal) as info:
        parse_answer(item, typed)
    assert info.value.key == key


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("tất cả", ["file", "phan_mem", "khac"]), ("không có", []), ("1 va 3", ["file", "khac"])],
)
def test_several_options_in_words(typed, expected):
    assert parse_answer(SIGNED_ON, typed) == expected


@given(st.text(max_size=60))
def test_any_text_is_an_answer_or_a_refusal_for_every_kind(text):
    for item in (COUNT, BANDWIDTH, MONEY, DOCS, GATE, FUNCTION, SIGNATURE, SIGNED_ON, NOTE, YEAR):
        try:
            value = parse_answer(item, text)
        except Refusal:
            continue
        if item.type.is_number and item.kind != "fraction":
            assert value >= (item.min or 0) and value <= (item.max or 10**12)

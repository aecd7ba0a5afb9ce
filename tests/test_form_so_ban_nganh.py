"""Phụ lục I of Quyết định 3871/QĐ-UBND (sở, ban, ngành) transcribed into a form spec.

The expected counts below come from counting the seed text
(shared/seeds/000_0d8df6d0f4ccb949.txt, Phụ lục I = lines 27-340), not from the spec.
"""

from collections import Counter
from pathlib import Path

import pytest

from dialogs.expressions import FractionValue
from dialogs.spec import load_spec

SPEC_PATH = Path(__file__).resolve().parents[1] / "dialogs" / "forms" / "so-ban-nganh.yaml"

# Per MỤC, how many items of each kind the printed form asks for.
EXPECTED_KINDS = {
    # seed 000 lines 29-37: Năm báo cáo, 3 counts; tên, địa chỉ, ĐT/Fax, website, thư điện tử
    1: {"integer": 4, "text": 5},
    # seed 000 lines 38-42: 5 lines, line 41 has two blanks (cố định, di động)
    2: {"text": 6},
    # seed 000 lines 43-82: 3.1 total + 3.2.b/3.2.c computed, 4 bandwidth parts,
    # counts 3.1.a-b, 3.2.a, 3.3-3.5, 3.7.đ, firewall/IPS số lượng, 6 data-safety số lượng;
    # Có/Không 3.6, 3.7.a-d, 3.8 and 5 data-safety rows; WAN technology, giải pháp khác
    3: {"computed": 3, "decimal": 4, "integer": 15, "yes_no": 11, "text": 2},
    # seed 000 lines 83-120: chuyên trách/kiêm nhiệm, ĐVSN, 6 degrees, certificates 1+4,
    # tập huấn, chứng chỉ ứng dụng; investment table 6 rows x 2 years
    4: {"integer": 16, "decimal": 12},
    # seed 000 lines 121-181: VPĐT choice + "gồm" text, 2 counts, 2 fractions; CKS choice,
    # provider multi-choice + name, số CKS, ký trên file / phần mềm, 2 counts, fraction + 2;
    # thư điện tử Có/Không + 2 counts; apps table 6 rows (name, provider, SL, features),
    # row 6 also names the other applications
    5: {
        "choice": 2,
        "multi_choice": 1,
        "text": 23,
        "integer": 15,
        "fraction": 3,
        "yes_no": 1,
    },
    # seed 000 lines 182-302: 6.1.a 11 counts, 6.1.b 4 + 6.1.c 14 Có/Không, 6.2 13 functions,
    # 6.3 quy chế/link, người phụ trách Có/Không + họ tên + chức vụ, Ban Biên tập 5 counts +
    # quyết định; 6.4.a 10 counts, 6.4.b 6 counts
    6: {"integer": 32, "yes_no": 19, "tri_state": 13, "text": 4},
    # seed 000 lines 303-311: 7 Có/Không rows
    7: {"yes_no": 7},
    # seed 000 lines 312-340: 8.1-8.4, 8.6.a-b, 8.7, quarterly report row Có/Không;
    # 5 "Nếu có, ghi rõ số văn bản" + 8.5 + số hiệu báo cáo quý
    8: {"yes_no": 8, "text": 7},
}

WEBSITE_FUNCTION_ROWS = [
    "6.2.1.a",
    "6.2.1.b",
    "6.2.1.c",
    "6.2.1.d",
    "6.2.1.đ",
    "6.2.1.e",
    "6.2.2.a",
    "6.2.2.b",
    "6.2.2.c",
    "6.2.2.d",
    "6.2.2.đ",
    "6.2.2.e",
    "6.2.3",
]


@pytest.fixture(scope="module")
def spec():
    return load_spec(SPEC_PATH)


def evaluate(spec, source, values):
    return spec.expressions[source].evaluate(values)


def test_header(spec):
    assert spec.id == "so-ban-nganh"
    assert spec.title == (
        "MẪU PHIẾU ĐÁNH GIÁ SỐ LIỆU XÂY DỰNG CHÍNH QUYỀN ĐIỆN TỬ CỦA CÁC SỞ, BAN, NGÀNH "
        "TỈNH BÌNH ĐỊNH"
    )
    assert spec.issued_by == (
        "(Ban hành kèm theo Quyết định số 3871/QĐ-UBND ngày 25/10/2019 của UBND tỉnh Bình Định)"
    )
    assert spec.unit_label == "Tên cơ quan"
    assert [s.number for s in spec.sections] == list(range(1, 9))
    assert spec.section(1).title == "THÔNG TIN CHUNG VỀ CƠ QUAN"
    assert spec.section(2).title == "THÔNG TIN VỀ NGƯỜI ĐIỀN PHIẾU"
    assert spec.section(3).title == "HẠ TẦNG KỸ THUẬT CÔNG NGHỆ THÔNG TIN"
    assert spec.section(6).title == "CỔNG THÔNG TIN ĐIỆN TỬ (WEBSITE)"


@pytest.mark.parametrize("number", sorted(EXPECTED_KINDS))
def test_every_printed_item_is_there(spec, number):
    found = Counter(item.kind for item in spec.section(number).items)
    assert dict(found) == EXPECTED_KINDS[number]


def test_total_item_count(spec):
    assert len(spec.items) == sum(sum(kinds.values()) for kinds in EXPECTED_KINDS.values())


def test_every_item_starts_with_its_section_number(spec):
    for item in spec.items:
        assert item.code.split(".")[0] == str(item.section), item.code
    for heading in spec.headings:
        assert heading.code.split(".")[0] == str(heading.section), heading.code


def test_reporting_year(spec):
    year = spec.item("1.1")
    assert year.kind == "integer"
    assert (year.min, year.max) == (2000, 2100)


def test_website_function_rows_are_tri_state(spec):
    rows = [item for item in spec.items if item.table == "chuc-nang"]
    assert [item.code for item in rows] == WEBSITE_FUNCTION_ROWS
    assert all(item.kind == "tri_state" for item in rows)
    assert all(item.row for item in rows)


def test_bonus_exactly_when_printed(spec):
    marked = {item.code for item in spec.items if "cộng điểm khuyến khích" in item.label}
    bonus = {item.code for item in spec.items if item.bonus}
    assert marked == bonus
    assert marked == {"6.1.b.2.a", "6.1.b.2.b", "6.1.c.6", "6.1.c.8", "6.2.1.e", "7.2", "7.3"}


def test_neu_co_follow_ups_depend_on_their_gate(spec):
    follow_ups = [item for item in spec.items if item.label.startswith("Nếu có")]
    assert [item.code for item in follow_ups] == [
        "3.6.1",
        "6.3.b.1",
        "8.1.1",
        "8.2.1",
        "8.3.1",
        "8.4.1",
        "8.7.1",
    ]
    for item in follow_ups:
        gate = next(
            earlier
            for earlier in reversed(spec.items[: item.index])
            if earlier.kind in ("yes_no", "choice")
        )
        assert not item.required, item.code
        assert item.relevant is not None, item.code
        assert spec.expressions[item.relevant].refs == (gate.code,), item.code
        assert evaluate(spec, item.relevant, {gate.code: True}) is True
        assert evaluate(spec, item.relevant, {gate.code: False}) is False


def test_digital_signature_follow_ups_only_when_deployed(spec):
    follow_ups = [i for i in spec.items if i.code.startswith("5.2.") and i.code != "5.2.a.1"]
    assert len(follow_ups) == 9
    for item in follow_ups:
        assert evaluate(spec, item.relevant, {"5.2": "da_trien_khai"}) is True, item.code
        assert evaluate(spec, item.relevant, {"5.2": "chua_trien_khai"}) is False, item.code
    public_provider = spec.item("5.2.a.1")
    assert evaluate(spec, public_provider.relevant, {"5.2.a": ["cong_cong"]}) is True
    assert evaluate(spec, public_provider.relevant, {"5.2.a": ["chuyen_dung"]}) is False


def test_quantities_only_when_the_row_is_co(spec):
    for code in ("3.7.a", "3.7.b", "3.8.1", "3.8.2", "3.8.3", "3.8.4", "3.8.5"):
        quantity = spec.item(f"{code}.sl")
        assert quantity.kind == "integer"
        assert spec.expressions[quantity.relevant].refs == (code,)
        assert evaluate(spec, quantity.relevant, {code: True}) is True
        assert evaluate(spec, quantity.relevant, {code: False}) is False


def test_bandwidth_worked_example(spec):
    answers = {"3.2.b.1": 10, "3.2.b.2": 20, "3.2.b.3": 8, "3.2.b.4": 2, "1.8": 30, "1.9": 10}
    total = spec.item("3.2.b")
    assert total.kind == "computed"
    assert total.formula
    answers["3.2.b"] = evaluate(spec, total.calculate, answers)
    assert answers["3.2.b"] == 160
    per_person = spec.item("3.2.c")
    assert per_person.formula
    assert evaluate(spec, per_person.calculate, answers) == pytest.approx(4.0)
    # No staff declared yet: the ratio stays empty instead of dividing by zero.
    assert evaluate(spec, per_person.calculate, {**answers, "1.8": 0, "1.9": 0}) is None


def test_computers_total_is_the_sum_of_its_parts(spec):
    total = spec.item("3.1")
    assert evaluate(spec, total.calculate, {"3.1.a": 25, "3.1.b": 12}) == 37


def test_internet_computers_cannot_exceed_equipped_staff(spec):
    (constraint,) = spec.item("3.2.a").constraints
    assert evaluate(spec, constraint.rule, {"3.2.a": 21, "3.1": 20}) is False
    assert evaluate(spec, constraint.rule, {"3.2.a": 20, "3.1": 20}) is True
    assert evaluate(spec, constraint.rule, {"3.2.a": 5, "3.1": 20}) is True
    assert "${3.2.a}" in constraint.message and "${3.1}" in constraint.message


def test_investment_rows_cannot_exceed_the_total_of_the_same_year(spec):
    for row in range(1, 7):
        assert spec.item(f"4.2.{row}.prev").year_offset == -1
        assert spec.item(f"4.2.{row}.curr").year_offset == 0
        for suffix in ("prev", "curr"):
            item = spec.item(f"4.2.{row}.{suffix}")
            assert (item.kind, item.unit, item.table, item.row) == (
                "decimal",
                "Tr.đ",
                "dau-tu",
                str(row),
            )
            assert "2018" not in item.label and "2019" not in item.label
            if row == 1:
                continue
            (constraint,) = item.constraints
            total = f"4.2.1.{suffix}"
            assert evaluate(spec, constraint.rule, {item.code: 120.5, total: 100}) is False
            assert evaluate(spec, constraint.rule, {item.code: 100, total: 100}) is True


@pytest.mark.parametrize(
    ("code", "whole", "too_many", "fine"),
    [
        ("3.1.a", "1.8", {"3.1.a": 31, "1.8": 30}, {"3.1.a": 30, "1.8": 30}),
        ("3.1.b", "1.9", {"3.1.b": 11, "1.9": 10}, {"3.1.b": 9, "1.9": 10}),
        (
            "3.7.đ",
            "3.3",
            {"3.7.đ": 26, "3.2.a": 20, "3.3": 5},
            {"3.7.đ": 25, "3.2.a": 20, "3.3": 5},
        ),
        ("5.1.a", "1.7", {"5.1.a": 4, "1.7": 3}, {"5.1.a": 3, "1.7": 3}),
        ("5.1.b", "5.1.a", {"5.1.b": 4, "5.1.a": 3}, {"5.1.b": 2, "5.1.a": 3}),
        (
            "5.2.g.1",
            "5.2.g",
            {"5.2.g.1": 11, "5.2.g": FractionValue(10, 40)},
            {"5.2.g.1": 10, "5.2.g": FractionValue(10, 40)},
        ),
        (
            "5.2.g.2",
            "5.2.g",
            {"5.2.g.2": 11, "5.2.g": FractionValue(10, 40)},
            {"5.2.g.2": 3, "5.2.g": FractionValue(10, 40)},
        ),
        (
            "5.3.b",
            "1.9",
            {"5.3.b": 41, "1.8": 30, "1.9": 10},
            {"5.3.b": 40, "1.8": 30, "1.9": 10},
        ),
        ("5.3.c", "5.3.b", {"5.3.c": 41, "5.3.b": 40}, {"5.3.c": 40, "5.3.b": 40}),
        ("6.3.c.3", "6.3.c.1", {"6.3.c.3": 8, "6.3.c.1": 7}, {"6.3.c.3": 2, "6.3.c.1": 7}),
        ("6.4.a.3", "6.4.a.1", {"6.4.a.3": 5, "6.4.a.1": 4}, {"6.4.a.3": 4, "6.4.a.1": 4}),
        ("6.4.a.6.2", "6.4.a.6", {"6.4.a.6.2": 9, "6.4.a.6": 8}, {"6.4.a.6.2": 8, "6.4.a.6": 8}),
        ("6.4.b.6", "6.4.b.5", {"6.4.b.6": 3, "6.4.b.5": 2}, {"6.4.b.6": 2, "6.4.b.5": 2}),
        ("5.4.3.sl", "1.7", {"5.4.3.sl": 6, "1.7": 5}, {"5.4.3.sl": 5, "1.7": 5}),
        (
            "4.1.a.2",
            "1.8",
            {"4.1.a.1": 2, "4.1.a.2": 2, "1.8": 3},
            {"4.1.a.1": 1, "4.1.a.2": 2, "1.8": 3},
        ),
        (
            "4.1.d.1",
            "4.1.d",
            {"4.1.d.1": 3, "4.1.d": 2},
            {"4.1.d.1": 2, "4.1.d": 2},
        ),
    ],
)
def test_part_cannot_exceed_whole(spec, code, whole, too_many, fine):
    constraints = spec.item(code).constraints
    assert constraints, code
    rules = [c.rule for c in constraints if whole in spec.expressions[c.rule].refs]
    assert rules, f"{code} has no constraint against {whole}"
    assert any(evaluate(spec, rule, too_many) is False for rule in rules)
    assert all(evaluate(spec, rule, fine) is True for rule in rules)


def test_required_constraint_pairs_exist(spec):
    pairs = {
        ("3.1.a", "1.8"),
        ("3.1.b", "1.9"),
        ("3.2.a", "3.1"),
        ("3.7.đ", "3.2.a"),
        ("3.7.đ", "3.3"),
        ("5.1.a", "1.7"),
        ("5.1.b", "5.1.a"),
        ("5.2.g.1", "5.2.g"),
        ("5.2.g.2", "5.2.g"),
        ("5.3.b", "1.8"),
        ("5.3.b", "1.9"),
        ("5.3.c", "5.3.b"),
        ("6.3.c.2", "6.3.c.1"),
        ("6.3.c.3", "6.3.c.1"),
        ("6.3.c.4", "6.3.c.1"),
        ("6.4.a.3", "6.4.a.1"),
        ("6.4.a.4", "6.4.a.2"),
        ("6.4.a.5.1", "6.4.a.5"),
        ("6.4.a.5.2", "6.4.a.5"),
        ("6.4.a.6.1", "6.4.a.6"),
        ("6.4.a.6.2", "6.4.a.6"),
        ("6.4.b.2", "6.4.b.1"),
        ("6.4.b.4", "6.4.b.3"),
        ("6.4.b.5", "6.4.b.3"),
        ("6.4.b.6", "6.4.b.5"),
    } | {(f"5.4.{row}.sl", "1.7") for row in range(1, 7)}
    for code, whole in pairs:
        refs = {ref for c in spec.item(code).constraints for ref in spec.expressions[c.rule].refs}
        assert whole in refs, f"{code} is not checked against {whole}"


def test_constraint_messages_name_every_item_they_check(spec):
    for item in spec.items:
        for constraint in item.constraints:
            for ref in spec.expressions[constraint.rule].refs:
                assert f"${{{ref}}}" in constraint.message, (item.code, ref)
                assert "kiểm tra lại" in constraint.message, item.code


def test_free_text_notes_and_links_are_optional(spec):
    optional = {item.code for item in spec.items if not item.required}
    for code in ("1.5", "3.6.1", "3.8.6", "5.2.a.1", "6.3.a", "6.3.c.6", "8.5", "8.8.1.vb"):
        assert code in optional, code
    for item in spec.items:
        if item.kind in ("integer", "decimal", "yes_no", "tri_state", "fraction"):
            assert item.required, item.code


def test_every_table_is_declared_and_used(spec):
    used = {item.table for item in spec.items if item.table}
    assert used == set(spec.tables)
    assert {
        "dau-tu",
        "an-toan-du-lieu",
        "ung-dung",
        "tin-bai",
        "muc-thong-tin",
        "cap-nhat",
        "chuc-nang",
        "dvc-truc-tuyen",
        "bcci",
        "an-toan-thong-tin",
        "bao-cao",
    } == set(spec.tables)
    for item in spec.items:
        if item.table:
            assert item.row, item.code

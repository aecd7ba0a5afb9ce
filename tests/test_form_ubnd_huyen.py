"""The ubnd-huyen form is Phụ lục II of Quyết định 3871/QĐ-UBND (Bình Định, 25/10/2019).

Line numbers refer to ``shared/seeds/000_0d8df6d0f4ccb949.txt`` (Phụ lục II: lines 342–691).
"""

import re
from collections import Counter
from pathlib import Path

import pytest

from dialogs.expressions import FractionValue
from dialogs.spec import FormSpec, Item, load_spec

SPEC_PATH = Path(__file__).resolve().parents[1] / "dialogs" / "forms" / "ubnd-huyen.yaml"

# Items per MỤC and kind, from my own count of the printed lines.
EXPECTED_KINDS: dict[int, dict[str, int]] = {
    # Lines 344–353: năm báo cáo, 4 counts (phòng ban, xã, CBCC huyện, CBCC xã); name, address,
    # phone, website, email.
    1: {"integer": 5, "text": 5},
    # Lines 354–358: name, bộ phận, chức vụ, phone (cố định + di động), email.
    2: {"text": 6},
    # Lines 359–405: 3.1 total (computed) + a, b; 3.2.a; 4 bandwidth parts + 3.2.b, 3.2.c
    # computed; 3.3 – 3.5; LAN + 2 sub-questions; WAN + technology; 3.8 a–d (+ 2 Số lượng);
    # 3.8.đ total (computed) + 2 sub-counts; 3.9 + 6 solution rows (Có + Số lượng, "khác" name).
    3: {"computed": 4, "integer": 16, "decimal": 4, "yes_no": 15, "text": 2},
    # Lines 406–449: chuyên trách/kiêm nhiệm, đơn vị sự nghiệp, cấp xã, 6 degrees, chứng chỉ
    # quốc tế + 4 kinds, tập huấn, chuẩn kỹ năng total (computed) + huyện/xã;
    # investment table 6 rows × 2 years.
    4: {"integer": 18, "computed": 1, "decimal": 12},
    # Lines 450–525: văn phòng điện tử (3 boxes, 2 Số lượng, 2 counts, 2 fractions); chữ ký số
    # (multi-choice + provider name, count, 2 texts, 2 counts, fraction + 2 sub-counts);
    # thư điện tử (domain, 3 counts, tỷ lệ); một cửa (gate, count, box, 2 counts, fraction);
    # ứng dụng chuyên ngành (6 rows × tên, nhà cung cấp, SL, tính năng + "khác" name);
    # truyền hình (2 counts); giao ban (gate, điểm, kinh phí); trang TTĐT cấp xã (gate, tỷ lệ).
    5: {
        "yes_no": 7,
        "integer": 24,
        "fraction": 6,
        "multi_choice": 1,
        "text": 23,
        "decimal": 1,
    },
    # Lines 526–647: 6.1.a 11 count rows; 6.1.b 4 rows; 6.1.c 15 rows; 6.2 13 function rows;
    # 6.3 quy chế link, người phụ trách (+ họ tên, chức vụ), Ban Biên tập 5 counts + văn bản;
    # 6.4.a 10 rows; 6.4.b 6 rows.
    6: {"integer": 32, "yes_no": 20, "tri_state": 13, "text": 4},
    # Lines 648–657: 8 Có/Không rows.
    7: {"yes_no": 8},
    # Lines 658–691: 6 documents with "Nếu có" link (8.1–8.5, 8.8), 8.6 free text, 8.7 a/b,
    # quarterly report row + số hiệu.
    8: {"yes_no": 9, "text": 8},
}

EXPECTED_TITLES = {
    1: "THÔNG TIN CHUNG VỀ CƠ QUAN",
    2: "THÔNG TIN VỀ NGƯỜI ĐIỀN PHIẾU",
    3: "HẠ TẦNG KỸ THUẬT CÔNG NGHỆ THÔNG TIN",
    4: "NHÂN LỰC VÀ ĐẦU TƯ CHO ỨNG DỤNG CNTT",
    5: "ỨNG DỤNG CNTT TRONG HOẠT ĐỘNG CỦA CƠ QUAN NHÀ NƯỚC",
    6: "TRANG THÔNG TIN ĐIỆN TỬ (WEBSITE)",
    7: "CÔNG TÁC ĐẢM BẢO AN TOÀN THÔNG TIN",
    8: "CƠ CHẾ, CHÍNH SÁCH VÀ CÁC QUY ĐỊNH THÚC ĐẨY ỨNG DỤNG CÔNG NGHỆ THÔNG TIN",
}

# Follow-up → its relevance. "Nếu có, …" lines, lines under a "Nếu có:" block, and the
# "Số lượng" of a Có/Không row.
FOLLOW_UPS = {
    "3.6.1": "${3.6}",
    "3.6.2": "${3.6}",
    "3.7.1": "${3.7}",
    "3.8.a.sl": "${3.8.a}",
    "3.8.b.sl": "${3.8.b}",
    **{f"3.9.{n}.sl": f"${{3.9.{n}}}" for n in range(1, 7)},
    "3.9.6.ten": "${3.9.6}",
    "5.1.b.1": "${5.1.b}",
    "5.1.c.1": "${5.1.c}",
    "5.2.a.1": "selected(${5.2.a}, 'cong_cong')",
    "5.4.a": "${5.4}",
    "5.4.b": "${5.4}",
    "5.4.c": "${5.4}",
    "5.4.d": "${5.4}",
    "5.4.e": "${5.4}",
    "5.7.1": "${5.7}",
    "5.7.2": "${5.7}",
    "5.8.1": "${5.8}",
    "6.3.b.1": "${6.3.b}",
    "6.3.b.2": "${6.3.b}",
    "8.1.1": "${8.1}",
    "8.2.1": "${8.2}",
    "8.3.1": "${8.3}",
    "8.4.1": "${8.4}",
    "8.5.1": "${8.5}",
    "8.8.1": "${8.8}",
    "8.9.a.vb": "${8.9.a}",
}

BONUS = {"6.1.b.2.a", "6.1.b.2.b", "6.1.c.6", "6.1.c.8", "6.2.1.e", "7.2", "7.3"}

# What Phụ lục II asks and Phụ lục I (sở, ban, ngành) does not: code → label substring.
PHU_LUC_II_ONLY = {
    "1.8": "Tổng số UBND các xã, phường, thị trấn (cấp xã)",
    "1.10": "Tổng số CBCC của UBND cấp xã",
    "3.1.b": "được trang bị máy tính tại UBND cấp xã",
    "3.5": "máy quét (Scan)",
    "3.6": "có mạng cục bộ (LAN",
    "3.6.1": "Mạng LAN có kết nối tất cả phòng, ban trong khuôn viên",
    "3.6.2": "nằm ngoài khuôn viên trụ sở UBND huyện",
    "3.8.đ.1": "máy tính của UBND cấp huyện được cài đặt",
    "3.8.đ.2": "máy tính của UBND cấp xã được cài đặt",
    "4.1.c": "đơn vị cấp xã, phường, thị trấn",
    "4.1.g.2": "UBND cấp xã có chứng chỉ",
    "5.1.c": "Triển khai cho UBND các xã, phường, thị trấn",
    "5.3.b": "Số UBND các xã, phường, thị trấn triển khai",
    "5.4": "(Phần mềm một cửa điện tử)",
    "5.4.b": "Triển khai tại bộ phận một cửa",
    "5.6.a": "truyền hình trực tuyến giữa UBND huyện và UBND tỉnh",
    "5.6.b": "truyền hình trực tuyến giữa UBND huyện và các cơ quan khác",
    "5.7": "hệ thống giao ban trực tuyến",
    "5.8": "Trang thông tin điện tử cho UBND xã, phường, thị trấn",
    "5.8.1": "tỷ lệ xã, phường, thị trấn được đầu tư, nâng cấp",
    "6.1.c.1.e": "Lịch làm việc của UBND cấp huyện",
    "7.7": "Tổ chức tuyên truyền về an toàn thông tin tại địa phương",
    "8.4": "nhuận bút cho người cung cấp thông tin",
}


@pytest.fixture(scope="module")
def spec() -> FormSpec:
    return load_spec(SPEC_PATH)


def evaluate(spec: FormSpec, source: str, values: dict):
    return spec.expressions[source].evaluate(values)


def holds(spec: FormSpec, item: Item, values: dict) -> list[bool]:
    return [evaluate(spec, c.rule, values) for c in item.constraints]


def test_header(spec):
    assert spec.id == "ubnd-huyen"
    assert spec.title == (
        "MẪU PHIẾU ĐÁNH GIÁ SỐ LIỆU XÂY DỰNG CHÍNH QUYỀN ĐIỆN TỬ CỦA UBND CÁC HUYỆN, "
        "THỊ XÃ, THÀNH PHỐ"
    )
    assert spec.issued_by == (
        "(Ban hành kèm theo Quyết định số 3871/QĐ-UBND ngày 25/10/2019 của UBND tỉnh Bình Định)"
    )
    assert spec.unit_label == "Tên huyện, thị xã, thành phố"


def test_sections_and_titles(spec):
    assert {s.number: s.title for s in spec.sections} == EXPECTED_TITLES


@pytest.mark.parametrize("number", sorted(EXPECTED_KINDS))
def test_completeness_per_section(spec, number):
    counted = Counter(item.kind for item in spec.section(number).items)
    assert dict(counted) == EXPECTED_KINDS[number]


def test_total_items(spec):
    assert len(spec.items) == sum(sum(k.values()) for k in EXPECTED_KINDS.values()) == 244


def test_codes_start_with_their_section(spec):
    for section in spec.sections:
        for entry in section.entries:
            assert entry.code.split(".")[0] == str(section.number), entry.code


def test_tables_declared_and_used(spec):
    assert set(spec.tables) == {
        "an-toan-du-lieu",
        "dau-tu",
        "ung-dung",
        "tin-bai",
        "thong-tin-khac",
        "cap-nhat",
        "chuc-nang",
        "dvc",
        "bcci",
        "attt",
        "bao-cao",
    }
    used = {item.table for item in spec.items if item.table}
    assert used == set(spec.tables)


def test_website_functions_are_tri_state(spec):
    rows = [item for item in spec.items if item.table == "chuc-nang"]
    assert len(rows) == 13
    assert all(item.kind == "tri_state" for item in rows)
    assert {i.code for i in spec.items if i.kind == "tri_state"} == {i.code for i in rows}
    assert [i.row for i in rows] == [
        *(f"1.{x}" for x in "abcdđe"),
        *(f"2.{x}" for x in "abcdđe"),
        "3",
    ]


def test_bonus_rows(spec):
    marked = {i.code for i in spec.items if "cộng điểm khuyến khích" in i.label}
    flagged = {i.code for i in spec.items if i.bonus}
    assert marked == flagged == BONUS


def test_follow_ups_are_gated(spec):
    for code, gate in FOLLOW_UPS.items():
        assert spec.item(code).relevant == gate, code
    gated = {i.code for i in spec.items if i.relevant}
    # Besides the follow-ups: the data-safety rows (on 3.9), 5.1.b (only when not 5.1.a),
    # and the extra columns of the specialised-applications table.
    others = {f"3.9.{n}" for n in range(1, 7)} | {"5.1.b"}
    others |= {c for c in gated if c.startswith("5.5.")}
    assert gated == set(FOLLOW_UPS) | others


def test_neu_co_lines_are_optional(spec):
    neu_co = [i for i in spec.items if i.label.startswith("Nếu có")]
    assert [i.code for i in neu_co] == [
        "3.7.1",
        "5.7.2",
        "5.8.1",
        "6.3.b.1",
        *(f"8.{n}.1" for n in (1, 2, 3, 4, 5, 8)),
    ]
    for item in neu_co:
        assert item.code in FOLLOW_UPS, item.code
        assert not item.required, item.code
    for code in FOLLOW_UPS:
        if spec.item(code).kind == "text":
            assert not spec.item(code).required, code


def test_follow_up_relevance_follows_its_gate(spec):
    relevant = spec.item("3.6.1").relevant
    assert evaluate(spec, relevant, {"3.6": True}) is True
    assert not evaluate(spec, relevant, {"3.6": False})
    assert evaluate(spec, relevant, {}) is None
    company = spec.item("5.2.a.1").relevant
    assert evaluate(spec, company, {"5.2.a": ["chuyen_dung", "cong_cong"]}) is True
    assert evaluate(spec, company, {"5.2.a": ["chuyen_dung"]}) is False
    some = spec.item("5.1.b").relevant
    assert evaluate(spec, some, {"5.1.a": False}) is True
    assert evaluate(spec, some, {"5.1.a": True}) is False
    vendor = spec.item("5.5.1.ncc").relevant
    assert evaluate(spec, vendor, {"5.5.1.ten": "HRM"}) is True
    assert not evaluate(spec, vendor, {})


def test_section_5_renumbered(spec):
    top = [e.code for e in spec.section(5).entries if re.fullmatch(r"5\.\d+", e.code)]
    assert top == [f"5.{n}" for n in range(1, 9)]


def test_phu_luc_ii_specific_items(spec):
    for code, text in PHU_LUC_II_ONLY.items():
        assert text in spec.item(code).label, code
    assert spec.item("3.6.1").kind == spec.item("3.6.2").kind == "yes_no"
    assert spec.item("5.4").kind == "yes_no"
    assert spec.item("3.5").unit == "máy"


def test_group_headings(spec):
    headings = {h.code: h.heading for h in spec.headings}
    assert headings["6.1.a.2"] == "Thông tin chỉ đạo, điều hành"
    assert headings["6.2.1"] == "Chức năng hỗ trợ khai thác thông tin"
    assert headings["6.1.b.2"].startswith("Thông tin chương trình nghiên cứu")
    assert "4.1.a" in headings and "4.1.d" in headings


def test_year_and_kinds(spec):
    year = spec.item("1.1")
    assert (year.kind, year.min, year.max) == ("integer", 2000, 2100)
    assert spec.item("5.1.f").kind == spec.item("5.1.g").kind == "fraction"
    assert spec.item("5.2.a").kind == "multi_choice"
    assert {o.value for o in spec.item("5.2.a").options} == {"chuyen_dung", "cong_cong"}


def test_investment_table_by_year(spec):
    for row in range(1, 7):
        prev, curr = spec.item(f"4.2.{row}.prev"), spec.item(f"4.2.{row}.curr")
        assert prev.label == curr.label
        assert not re.search(r"20\d\d", prev.label)
        assert (prev.year_offset, curr.year_offset) == (-1, 0)
        assert prev.kind == curr.kind == "decimal" and prev.unit == "Tr.đ"
        assert prev.table == curr.table == "dau-tu" and prev.row == curr.row == str(row)
        if row > 1:
            for year in ("prev", "curr"):
                item = spec.item(f"4.2.{row}.{year}")
                values = {f"4.2.1.{year}": 100.0, item.code: 150.0}
                assert holds(spec, item, values) == [False]
                values[item.code] = 100.0
                assert holds(spec, item, values) == [True]


def test_bandwidth_worked_example(spec):
    total = spec.item("3.2.b")
    assert total.kind == "computed"
    assert total.formula and "Leased Line" in total.formula
    parts = {"3.2.b.1": 10, "3.2.b.2": 20, "3.2.b.3": 8.5, "3.2.b.4": 1.5}
    assert evaluate(spec, total.calculate, parts) == 10 * 5 + 20 * 5 + 8.5 + 1.5 == 160
    per_staff = spec.item("3.2.c")
    assert per_staff.formula
    values = {"3.2.b": 160, "1.9": 40, "1.10": 160}
    assert evaluate(spec, per_staff.calculate, values) == pytest.approx(0.8)
    assert evaluate(spec, per_staff.calculate, {"3.2.b": 160, "1.9": 0, "1.10": 0}) is None


def test_computed_totals(spec):
    assert evaluate(spec, spec.item("3.1").calculate, {"3.1.a": 40, "3.1.b": 150}) == 190
    antivirus = spec.item("3.8.đ").calculate
    assert evaluate(spec, antivirus, {"3.8.đ.1": 35, "3.8.đ.2": 140}) == 175


def test_constraint_refused_and_accepted(spec):
    item = spec.item("3.1.a")
    assert holds(spec, item, {"1.9": 30, "3.1.a": 31}) == [False]
    assert holds(spec, item, {"1.9": 30, "3.1.a": 30}) == [True]
    message = item.constraints[0].message
    assert "${3.1.a}" in message and "${1.9}" in message


def test_fraction_constraint(spec):
    item = spec.item("5.8.1")
    assert holds(spec, item, {"5.8.1": FractionValue(12, 15), "1.8": 15}) == [True, True]
    assert holds(spec, item, {"5.8.1": FractionValue(16, 15), "1.8": 15}) == [False, False]


CONSTRAINED = {
    "3.1.a": {"1.9"},
    "3.1.b": {"1.10"},
    "3.2.a": {"3.1"},
    "3.8.đ.2": {"3.8.đ.1", "3.2.a", "3.3"},
    "5.1.b.1": {"1.7"},
    "5.1.c.1": {"1.8"},
    "5.2.g.1": {"5.2.g"},
    "5.2.g.2": {"5.2.g", "5.2.g.1"},
    "5.3.a": {"1.7"},
    "5.3.b": {"1.8"},
    "5.3.c": {"1.9", "1.10"},
    "5.8.1": {"1.8"},
    "6.3.c.2": {"6.3.c.1"},
    "6.3.c.3": {"6.3.c.1"},
    "6.3.c.4": {"6.3.c.1"},
    "6.4.a.3": {"6.4.a.1"},
    "6.4.a.4": {"6.4.a.2"},
    "6.4.a.5.1": {"6.4.a.5"},
    "6.4.a.5.2": {"6.4.a.5"},
    "6.4.a.6.1": {"6.4.a.6"},
    "6.4.a.6.2": {"6.4.a.6"},
    "6.4.b.2": {"6.4.b.1"},
    "6.4.b.4": {"6.4.b.3"},
    "6.4.b.5": {"6.4.b.3"},
    "6.4.b.6": {"6.4.b.5"},
}


@pytest.mark.parametrize("code", sorted(CONSTRAINED))
def test_required_constraints_exist(spec, code):
    refs = set()
    for constraint in spec.item(code).constraints:
        refs |= set(spec.expressions[constraint.rule].refs)
    assert CONSTRAINED[code] | {code} <= refs


def test_constraint_messages_name_their_items(spec):
    for item in spec.items:
        for constraint in item.constraints:
            for ref in spec.expressions[constraint.rule].refs:
                assert ref in constraint.message, (item.code, ref)


def test_required_defaults(spec):
    for item in spec.items:
        if item.kind in ("yes_no", "tri_state", "integer", "decimal"):
            if item.code not in FOLLOW_UPS:
                # Only the "Khác" counts are optional among the answered numbers.
                assert item.required or item.label == "Khác", item.code
        if item.kind == "text" and "link" in item.label:
            assert not item.required, item.code

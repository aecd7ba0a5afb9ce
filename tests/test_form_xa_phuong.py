"""The xa-phuong form follows Kế hoạch 655/KH-UBND (Hương Trà, 2020), mục II.

Line numbers refer to ``shared/seeds/002_adb7c532ff6e679e.txt``.
"""

from collections import Counter
from pathlib import Path

import pytest

from dialogs.spec import FormSpec, Item, load_spec

SPEC_PATH = Path(__file__).resolve().parents[1] / "dialogs" / "forms" / "xa-phuong.yaml"

MEASURABLE_KINDS = {"integer", "decimal", "yes_no", "computed", "fraction"}

# Items per section and kind, from my own count of the obligations in mục II.
EXPECTED_KINDS: dict[int, dict[str, int]] = {
    # Thông tin chung: year, name, address, phone, website, email, total CBCC.
    1: {"integer": 2, "text": 5},
    # Người điền phiếu: name, position, phone, email.
    2: {"text": 4},
    # II.1.1, lines 99–108: 4 bullets. 01 máy/01 CBCC (count + ratio); hạ tầng (no figure);
    # kiện toàn bộ phận một cửa (+ số hiệu) and its equipment (multi-choice); lấy ý kiến hài lòng.
    3: {"integer": 1, "computed": 1, "yes_no": 3, "text": 1, "multi_choice": 1},
    # II.1.2, lines 110–116: Quyết định cử phụ trách CNTT (+ số hiệu); đào tạo chuẩn kỹ năng
    # and tập huấn (counts, no figure).
    4: {"yes_no": 1, "text": 1, "integer": 2},
    # II.1.3, lines 118–130: 7 documents to issue (each + số hiệu): phân công, kế hoạch CNTT,
    # phần mềm dùng chung, ATTT nội bộ, văn bản điện tử/chữ ký số/thư, Quy chế Ban biên tập,
    # quản lý trang TTĐT; kinh phí ATTT and CNTT (no figure); 100 % diệt vi rút (count + ratio).
    5: {"yes_no": 7, "text": 7, "decimal": 2, "integer": 1, "computed": 1},
    # II.2.1, lines 134–190: a) 2 and b) 2 posting obligations (yes/no), c) 8, d) 2, e) 2,
    # f) 5 counted obligations.
    6: {"yes_no": 4, "integer": 17},
    # II.2.2, lines 192–216: software in use; số hóa VB đến, VB đi, xử lý trong hạn (2 inputs +
    # ratio each); ký số cơ quan/tháng (1 input + ratio) and lãnh đạo/tháng (2 inputs + ratio);
    # thư cơ quan 4 lần/ngày and cá nhân 2 lần/ngày (2 inputs + ratio each); mật khẩu 90 ngày;
    # báo thay đổi CBCC (2 inputs + ratio). Line 214 repeats line 202.
    7: {"multi_choice": 1, "integer": 15, "computed": 8, "yes_no": 1},
    # II.2.3, lines 218–226: total dossiers; online level 3–4; đúng hạn, kiến nghị, số hóa
    # (inputs + ratio each).
    8: {"integer": 7, "computed": 3},
    # II.2.4, lines 228–234: liên thông 3 cấp (2 inputs + ratio); "tăng cường hướng dẫn" skipped.
    9: {"integer": 2, "computed": 1},
    # II.3.1, lines 238–248: máy soạn văn bản mật, wifi, proof of antivirus before 20/9/2020
    # (the 100 % itself is 5.8).
    10: {"yes_no": 3},
    # II.3.2, lines 250–254: văn bản khuyến khích ứng dụng CNTT (+ số hiệu).
    11: {"yes_no": 1, "text": 1},
    # II.3.3, lines 256–260: software in use; ý kiến chỉ đạo kịp thời and dữ liệu CBCC
    # (inputs + ratio each).
    12: {"multi_choice": 1, "integer": 3, "computed": 2},
    # II.3.4, lines 262–268: ≥ 24 tin gửi trang thị xã, ≥ 48 tin trên trang xã, phường.
    13: {"integer": 2},
}

EXPECTED_TITLES = {
    1: "THÔNG TIN CHUNG",
    2: "THÔNG TIN VỀ NGƯỜI ĐIỀN PHIẾU",
    3: "Tiêu chí về cơ sở hạ tầng thông tin",
    4: "Tiêu chí về nhân lực",
    5: "Tiêu chí về môi trường chính sách",
    6: "Tiêu chí đánh giá mức độ hiện diện",
    7: "Tiêu chí đánh giá mức độ tương tác",
    8: "Tiêu chí đánh giá mức độ giao dịch (dịch vụ công)",
    9: "Đánh giá mức độ chuyển đổi",
    10: "Tiêu chí về cơ sở hạ tầng thông tin (bổ sung)",
    11: "Tiêu chí về môi trường chính sách (bổ sung)",
    12: "Tiêu chí đánh giá mức độ tương tác (bổ sung)",
    13: "Tiêu chí đánh giá mức độ hiện diện",
}

# Every obligation with its target: code -> (min, max, equals).
YES = (None, None, True)
EXPECTED_TARGETS: dict[str, tuple[float | None, float | None, bool | None]] = {
    "3.1": (1, None, None),
    "3.3": YES,
    "3.5": YES,
    "4.1": YES,
    "5.1": YES,
    "5.2": YES,
    "5.3": YES,
    "5.4": YES,
    "5.5": YES,
    "5.8": (1, None, None),
    "5.9": YES,
    "5.10": YES,
    "6.1": YES,
    "6.2": YES,
    "6.3": YES,
    "6.4": YES,
    "6.5": (8, 12, None),
    "6.6": (4, None, None),
    "6.7": (4, None, None),
    "6.8": (2, None, None),
    "6.9": (2, None, None),
    "6.10": (10, None, None),
    "6.11": (10, None, None),
    "6.12": (4, None, None),
    "6.13": (1, None, None),
    "6.14": (1, None, None),
    "6.15": (1, None, None),
    "6.16": (1, None, None),
    "6.17": (1, None, None),
    "6.18": (4, None, None),
    "6.19": (1, None, None),
    "6.20": (4, None, None),
    "6.21": (1, None, None),
    "7.2": (1, None, None),
    "7.3": (1, None, None),
    "7.4": (1, None, None),
    "7.5": (1, None, None),
    "7.6": (1, None, None),
    "7.7": (4, None, None),
    "7.8": (2, None, None),
    "7.9": YES,
    "7.10": (1, None, None),
    "8.2": (1, None, None),
    "8.3": (1, None, None),
    "8.4": (1, None, None),
    "8.5": (1, None, None),
    "9.1": (1, None, None),
    "10.1": YES,
    "10.2": YES,
    "10.3": YES,
    "11.1": YES,
    "12.2": (1, None, None),
    "12.3": (1, None, None),
    "13.1": (24, None, None),
    "13.2": (48, None, None),
}

# Numeric / yes-no items of sections 3+ that deliberately carry no target: inputs of a computed
# ratio, denominators, and obligations the plan states without any measurable figure.
UNTARGETED = {
    "3.1.1",
    "3.2",
    "4.2",
    "4.3",
    "5.6",
    "5.7",
    "5.8.1",
    "7.2.1",
    "7.2.2",
    "7.3.1",
    "7.3.2",
    "7.4.1",
    "7.4.2",
    "7.5.1",
    "7.6.1",
    "7.6.2",
    "7.7.1",
    "7.7.2",
    "7.8.1",
    "7.8.2",
    "7.10.1",
    "7.10.2",
    "8.1",
    "8.3.1",
    "8.3.2",
    "8.4.1",
    "8.4.2",
    "8.5.1",
    "9.1.1",
    "9.1.2",
    "12.2.1",
    "12.2.2",
    "12.3.1",
}


@pytest.fixture(scope="module")
def spec() -> FormSpec:
    return load_spec(SPEC_PATH)


def by_label(spec: FormSpec, fragment: str) -> Item:
    found = [i for i in spec.items if fragment in i.label]
    assert len(found) == 1, f"{fragment!r} matches {[i.code for i in found]}"
    return found[0]


def test_header(spec):
    assert spec.id == "xa-phuong"
    assert spec.title == "PHIẾU TỰ ĐÁNH GIÁ MỨC ĐỘ CHÍNH QUYỀN ĐIỆN TỬ CỦA UBND XÃ, PHƯỜNG"
    assert spec.issued_by == (
        "(Xây dựng theo Kế hoạch số 655/KH-UBND ngày 03/3/2020 của UBND thị xã Hương Trà)"
    )
    assert spec.unit_label == "Tên xã, phường"


def test_sections_and_titles(spec):
    assert {s.number: s.title for s in spec.sections} == EXPECTED_TITLES


@pytest.mark.parametrize("number", sorted(EXPECTED_KINDS))
def test_completeness_per_section(spec, number):
    found = Counter(item.kind for item in spec.section(number).items)
    assert dict(found) == EXPECTED_KINDS[number]


def test_codes_follow_section_numbers(spec):
    for section in spec.sections:
        for entry in section.entries:
            assert entry.code.startswith(f"{section.number}."), entry.code


def test_general_information(spec):
    year = spec.item("1.1")
    assert (year.kind, year.min, year.max) == ("integer", 2000, 2100)
    cbcc = spec.item("1.7")
    assert cbcc.kind == "integer"
    assert "cán bộ, công chức" in cbcc.label
    assert [spec.item(f"2.{n}").kind for n in range(1, 5)] == ["text"] * 4


def test_every_target_with_its_figures(spec):
    targeted = {i.code: i.target for i in spec.items if i.target}
    assert set(targeted) == set(EXPECTED_TARGETS)
    for code, (low, high, equals) in EXPECTED_TARGETS.items():
        target = targeted[code]
        assert (target.min, target.max, target.equals) == (low, high, equals), code
        assert target.text.strip(), code


def test_every_measurable_item_has_a_target(spec):
    for item in spec.items:
        if item.section < 3 or item.kind not in MEASURABLE_KINDS:
            continue
        if item.code in UNTARGETED:
            assert item.target is None, item.code
        else:
            assert item.target is not None and item.target.text.strip(), item.code


@pytest.mark.parametrize(
    ("fragment", "low", "high"),
    [
        ("được đăng tải ít nhất 48 tin, bài", 48, None),
        ("ít nhất 24 tin", 24, None),
        ("thực hiện pháp luật nói chung đăng tải từ 8-12 tin bài", 8, 12),
        ("vệ sinh môi trường, rác thải đăng tải ít nhất 10", 10, None),
        ("an toàn vệ sinh thực phẩm đăng tải ít nhất 10", 10, None),
        ("chính sách lao động đăng tải ít nhất 4", 4, None),
        ("người có công đăng tải ít nhất 4", 4, None),
        ("01 cán bộ, công chức/01 máy tính", 1, None),
        ("100% máy vi tính", 1, None),
        ("thực phẩm, môi trường hàng quý: 4 tin/4 quý", 4, None),
        ("đất đai, dân số, lao động hàng quý: 4 tin/4 quý", 4, None),
        ("1 văn bản ký số cơ quan/1 tháng", 1, None),
        ("1 đồng chí lãnh đạo/1 tháng", 1, None),
        ("đăng nhập tối thiểu 4 lần/ngày", 4, None),
        ("đăng nhập tối thiểu 2 lần/ngày", 2, None),
    ],
)
def test_named_targets(spec, fragment, low, high):
    item = by_label(spec, fragment)
    assert item.target is not None
    assert (item.target.min, item.target.max) == (low, high)


@pytest.mark.parametrize(
    "fragment",
    [
        "Ban hành Quyết định cử đại diện lãnh đạo",
        "Ban hành kế hoạch CNTT hàng năm",
        "Ban hành Quy chế hoạt động của Ban biên tập",
        "Ban hành các văn bản khuyến khích đẩy mạnh ứng dụng CNTT",
    ],
)
def test_documents_to_issue_are_yes_no_with_a_follow_up(spec, fragment):
    gate = by_label(spec, fragment)
    assert gate.kind == "yes_no"
    assert (gate.target.equals, gate.target.text) == (True, "Có")
    follow_up = spec.item(f"{gate.code}.1")
    assert follow_up.kind == "text"
    assert follow_up.required is False
    assert follow_up.relevant == f"${{{gate.code}}}"


def test_per_month_and_per_leader_ratios(spec):
    unit = by_label(spec, "1 văn bản ký số cơ quan/1 tháng")
    assert spec.expressions[unit.calculate].evaluate({"7.5.1": 12}) == 1
    assert unit.target.met(spec.expressions[unit.calculate].evaluate({"7.5.1": 11})) is False
    leaders = by_label(spec, "1 đồng chí lãnh đạo/1 tháng")
    assert leaders.kind == "computed"
    ratio = spec.expressions[leaders.calculate].evaluate({"7.6.1": 3, "7.6.2": 36})
    assert ratio == 1
    assert leaders.target.met(ratio) is True
    short = spec.expressions[leaders.calculate].evaluate({"7.6.1": 3, "7.6.2": 30})
    assert leaders.target.met(short) is False


def test_target_met_on_articles(spec):
    commune_site = by_label(spec, "được đăng tải ít nhất 48 tin, bài").target
    assert commune_site.met(47) is False
    assert commune_site.met(48) is True
    assert commune_site.met(None) is None
    law = by_label(spec, "thực hiện pháp luật nói chung").target
    assert law.met(7) is False
    assert law.met(13) is False
    assert law.met(10) is True
    assert law.met(8) is True and law.met(12) is True


def test_yes_no_target_met(spec):
    plan = by_label(spec, "Ban hành kế hoạch CNTT hàng năm").target
    assert plan.met(True) is True
    assert plan.met(False) is False


def test_computers_per_cbcc_ratio(spec):
    item = by_label(spec, "01 cán bộ, công chức/01 máy tính")
    assert item.kind == "computed"
    expression = spec.expressions[item.calculate]
    assert set(expression.refs) == {"3.1.1", "1.7"}
    assert expression.evaluate({"3.1.1": 20, "1.7": 25}) == pytest.approx(0.8)
    assert item.target.met(expression.evaluate({"3.1.1": 20, "1.7": 25})) is False
    assert item.target.met(expression.evaluate({"3.1.1": 26, "1.7": 25})) is True
    assert expression.evaluate({"3.1.1": 20}) is None


def test_antivirus_ratio_and_constraint(spec):
    item = spec.item("5.8")
    assert item.target.met(spec.expressions[item.calculate].evaluate({"5.8.1": 20, "3.1.1": 20}))
    assert not item.target.met(
        spec.expressions[item.calculate].evaluate({"5.8.1": 19, "3.1.1": 20})
    )
    (constraint,) = spec.item("5.8.1").constraints
    rule = spec.expressions[constraint.rule]
    assert rule.evaluate({"5.8.1": 21, "3.1.1": 20}) is False
    assert rule.evaluate({"5.8.1": 20, "3.1.1": 20}) is True
    assert "${5.8.1}" in constraint.message and "${3.1.1}" in constraint.message


def test_part_whole_constraints_name_both_codes(spec):
    for item in spec.items:
        for constraint in item.constraints:
            refs = spec.expressions[constraint.rule].refs
            assert item.code in refs
            for code in refs:
                assert f"${{{code}}}" in constraint.message, (item.code, code)
    constrained = {i.code for i in spec.items if i.constraints}
    assert {"5.8.1", "8.2", "8.3.2", "8.5.1", "9.1.2"} <= constrained


def test_counts_have_units(spec):
    for item in spec.items:
        if item.kind == "integer" and item.code != "1.1":
            assert item.unit, item.code

"""What a provincial reviewer checks on a finished form before accepting it, on the real files:
the PDF read back with pdfplumber (fonts, sizes, margins, page numbers, the header block, every
note of the seed, nothing orphaned or split) and the DOCX with python-docx (Nghị định
30/2020/NĐ-CP page, fonts, language, rows kept whole)."""

from __future__ import annotations

import re
from collections import Counter
from io import BytesIO

import docx
import pdfplumber
import pytest
from complete_forms import MM, complete_forms, squeeze
from docx.oxml.ns import qn
from docx.shared import Pt

from dialogs.spec import all_forms

FORMS = ["so-ban-nganh", "ubnd-huyen", "xa-phuong"]
NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
# The notes of the seed documents, copied verbatim from them (shared/seeds/000_…txt, Phụ lục I
# and II of Quyết định 3871), with how many times each appendix prints them.
WAN = (
    "Ghi chú: Mạng diện rộng (WAN) của tỉnh là một hệ thống mạng kết nối các mạng cục bộ (LAN - "
    "Local Area Network) của các cơ quan nhà nước của tỉnh với nhau (trong trường hợp {} có "
    "mạng kết nối các cơ quan với nhau thì cũng được tính tương tự)."
)
FULL_TIME = (
    "(Cán bộ làm công tác Quản trị mạng được hỗ trợ với hệ số phụ cấp theo Quyết định số "
    "16/2011/QĐ-UBND ngày 15/7/2011 của UBND {} và cán bộ đảm nhận công tác kiêm nhiệm nhưng "
    "thời gian phục vụ công tác CNTT nhiều hơn thì được xem là Chuyên trách)"
)
PART_TIME = "(Bao gồm những đơn vị có cán bộ kiêm nhiệm về CNTT)"
SOFTWARE = "(liệt kê tên các phần mềm đã áp dụng CKS tại đơn vị)"
TICK = "Nếu có đánh dấu X vào ô □"
SEED_NOTES = {
    # note: how many times the appendix prints it
    "so-ban-nganh": {
        WAN.format("Tỉnh"): 1,
        FULL_TIME.format("tỉnh"): 1,
        PART_TIME: 1,
        SOFTWARE: 1,
        TICK: 1,
        "Nếu đã triển khai:": 1,
        "Trong đó:": 2,
    },
    "ubnd-huyen": {
        WAN.format("tỉnh"): 1,
        FULL_TIME.format("Tỉnh"): 1,
        PART_TIME: 2,
        SOFTWARE: 1,
        TICK: 2,
        "Nếu có:": 2,
        "Trong đó:": 3,
    },
}


@pytest.fixture(scope="module")
def forms():
    return complete_forms()


def pdf_pages(data: bytes) -> list[dict]:
    """Per page: its characters and its text lines (top to bottom, with their top in mm)."""
    pages = []
    with pdfplumber.open(BytesIO(data)) as pdf:
        for page in pdf.pages:
            chars = list(page.chars)
            lines = [(line["top"] / MM, line["text"]) for line in page.extract_text_lines()]
            pages.append(
                {"chars": chars, "lines": lines, "height": page.height, "rects": page.rects}
            )
    return pages


def pdf_text(data: bytes) -> str:
    with pdfplumber.open(BytesIO(data)) as pdf:
        return squeeze(" ".join(page.extract_text() or "" for page in pdf.pages))


@pytest.mark.parametrize("form", FORMS)
def test_pdf_uses_only_the_shipped_fonts_at_the_decree_sizes(forms, form):
    pages = pdf_pages(forms[form].pdf)
    fonts = Counter(c["fontname"].split("+")[-1] for p in pages for c in p["chars"])
    # Embedded from templates/fonts: the PDF does not depend on the machine's fonts.
    assert set(fonts) <= {
        "Formbot-Serif",
        "Formbot-Serif-Bold",
        "Formbot-Serif-Italic",
        "Formbot-Serif-BoldItalic",
        "Formbot-Boxes",
    }
    sizes = Counter(round(c["size"]) for p in pages for c in p["chars"])
    assert min(sizes) >= 12  # tables 12 pt, nothing smaller
    assert max(sizes) <= 14  # the title
    # The lines of the form start at the left margin (table cells start after their padding):
    # body text, 13 pt.
    body = [c for p in pages for c in p["chars"] if c["top"] > 20 * MM and c["x0"] < 30.5 * MM]
    assert len(body) > 20
    assert {round(c["size"]) for c in body} == {13}


@pytest.mark.parametrize("form", FORMS)
def test_pdf_text_stays_inside_the_decree_margins(forms, form):
    pages = pdf_pages(forms[form].pdf)
    for number, page in enumerate(pages, start=1):
        for char in page["chars"]:
            assert char["x0"] >= 30 * MM - 0.5, (number, char["text"])  # left margin 30 mm
            assert char["x1"] <= (210 - 15) * MM + 1.5, (number, char["text"])  # right 15 mm
            assert char["bottom"] <= page["height"] - 20 * MM + 1, (number, char["text"])


@pytest.mark.parametrize("form", FORMS)
def test_page_numbers_at_the_top_centre_from_page_two(forms, form):
    pages = pdf_pages(forms[form].pdf)
    assert len(pages) > 2
    top_of_first = [text for top, text in pages[0]["lines"] if top < 20]
    assert top_of_first == []  # no number on page 1
    for number, page in enumerate(pages[1:], start=2):
        top, text = page["lines"][0]
        assert text == str(number) and top < 20, (number, page["lines"][:2])
        digits = [c for c in page["chars"] if c["top"] < 20 * MM]
        middle = (min(c["x0"] for c in digits) + max(c["x1"] for c in digits)) / 2
        assert abs(middle - (30 + 165 / 2) * MM) < 2 * MM  # centred on the text block
        assert round(digits[0]["size"]) == 13


@pytest.mark.parametrize("form", FORMS)
def test_header_block_as_the_decree_prints_it(forms, form):
    page = pdf_pages(forms[form].pdf)[0]
    lines = [text for _, text in page["lines"]]
    title = min(c["top"] for c in page["chars"] if round(c["size"]) == 14)
    header = [c for c in page["chars"] if c["top"] < title]
    # Quốc hiệu on one line, Tiêu ngữ on the next, each whole.
    assert any(NATION in line for line in lines)
    assert any(MOTTO in line for line in lines)
    motto_chars = [c for c in header if round(c["size"]) == 13]
    assert "".join(c["text"] for c in motto_chars) == MOTTO
    motto_width = max(c["x1"] for c in motto_chars) - min(c["x0"] for c in motto_chars)
    # The rule under the motto is as long as the motto.
    rules = [r for r in page["rects"] if r["top"] < title]
    assert any(abs(r["width"] - motto_width) < 1 * MM for r in rules), (motto_width, rules)
    unit = {
        "so-ban-nganh": ["UBND TỈNH BÌNH ĐỊNH", "SỞ THÔNG TIN", "VÀ TRUYỀN THÔNG"],
        "ubnd-huyen": ["ỦY BAN NHÂN DÂN", "THÀNH PHỐ QUY NHƠN"],
        "xa-phuong": ["ỦY BAN NHÂN DÂN", "PHƯỜNG HƯƠNG XUÂN"],
    }[form]
    left = [
        "".join(c["text"] for c in sorted(row, key=lambda c: c["x0"]))
        for row in _rows([c for c in header if c["x1"] < 100 * MM])
    ]
    assert left == unit  # the parent body over the unit's full name, broken between phrases
    assert "UBND THÀNH PHỐ" not in " ".join(lines)


def _rows(chars: list[dict]) -> list[list[dict]]:
    rows: dict[int, list[dict]] = {}
    for char in chars:
        rows.setdefault(round(char["top"]), []).append(char)
    return [rows[top] for top in sorted(rows)]


@pytest.mark.parametrize("form", ["so-ban-nganh", "ubnd-huyen"])
def test_every_note_of_the_seed_is_printed_where_the_seed_has_it(forms, form):
    text = pdf_text(forms[form].pdf)
    for note, times in SEED_NOTES[form].items():
        assert text.count(note) >= times, note
    # And the spec holds them as data the conversation can show too.
    spec = all_forms()[form]
    spec_notes = " ".join(n.note for n in spec.notes) + " ".join(
        i.note for i in spec.items if i.note
    )
    for note in SEED_NOTES[form]:
        assert (
            note in spec_notes
            or any(note in h.heading for h in spec.headings)
            or any(note in i.label for i in spec.items)
        ), note


def test_notes_stand_where_the_seed_puts_them(forms):
    text = pdf_text(forms["so-ban-nganh"].pdf)
    # After the data-safety table, before MỤC 4.
    assert text.index("Giải pháp khác") < text.index(WAN.format("Tỉnh")) < text.index("MỤC 4.")
    # Under the full-time / part-time line, before 4.1.b.
    assert text.index("Kiêm nhiệm") < text.index("(Cán bộ làm công tác Quản trị mạng")
    assert text.index("(Cán bộ làm công tác Quản trị mạng") < text.index(
        "Số cán bộ phụ trách về CNTT tại đơn vị sự nghiệp"
    )
    # Between the label of 5.1 and its boxes.
    assert (
        text.index("trên môi trường mạng)")
        < text.index(TICK)
        < text.index("Triển khai tất cả các phòng, ban")
    )


@pytest.mark.parametrize("form", FORMS)
def test_no_heading_ends_a_page(forms, form):
    """A MỤC heading or a line that introduces what follows is never the last line of a
    page: it moves to the next page with what it introduces."""
    context = forms[form].context
    leads = {
        squeeze(f"{b['marker']} {b['label']}")
        for s in context["sections"]
        for b in s["blocks"]
        if b["kind"] == "heading"
    }
    pages = pdf_pages(forms[form].pdf)
    for number, page in enumerate(pages[:-1], start=1):
        last = squeeze(page["lines"][-1][1])
        assert not last.startswith("MỤC "), (number, last)
        assert last not in leads, (number, last)


def test_table_rows_and_score_rows_are_never_split(forms):
    pages = pdf_pages(forms["so-ban-nganh"].pdf)
    texts = [squeeze(" ".join(t for _, t in p["lines"])) for p in pages]

    def page_of(fragment: str) -> int:
        found = [n for n, t in enumerate(texts) if fragment in t]
        assert found, fragment
        return found[0]

    # The longest row of the form (6.2.1.đ): its first and last words on one page.
    assert page_of("Hỗ trợ truy cập từ các thiết bị di động cầm tay") == page_of(
        "các phiên bản WCAG cập nhật nếu có."
    )
    # Every rule row of the score summary: its code, its points and the whole of how they
    # were computed on one page.
    summary = next(n for n, t in enumerate(texts) if "TỔNG HỢP ĐIỂM ĐÁNH GIÁ" in t)
    for rule in forms["so-ban-nganh"].context["score"]["rules"]:
        found = [
            n
            for n in range(summary, len(pages))
            if any(line.startswith(rule["code"] + " ") for _, line in pages[n]["lines"])
            or any(
                line.startswith(rule["code"].split(" ")[0] + " ") for _, line in pages[n]["lines"]
            )
        ]
        assert found, rule["code"]
        assert rule["points"] in texts[found[0]], rule["code"]
        assert squeeze(rule["why"]) in texts[found[0]], rule["code"]


@pytest.mark.parametrize("form", FORMS)
def test_stt_and_column_titles_do_not_break_inside_a_word(forms, form):
    pages = pdf_pages(forms[form].pdf)
    lines = [t for p in pages for _, t in p["lines"]]
    assert not any(line.strip() in ("ST", "T", "STT T") for line in lines)
    if form != "xa-phuong":
        assert any(line.startswith("STT ") or line.startswith("TT ") for line in lines)


def test_structure_as_printed_in_the_seed(forms):
    text = pdf_text(forms["so-ban-nganh"].pdf)
    # A single tick box, not a Có / Không pair.
    assert "a. ☒ Chương trình, kế hoạch cải cách hành chính có bao gồm ứng dụng CNTT." in text
    # Dash bullets, not letters.
    assert "- Số cán bộ phụ trách về CNTT tại đơn vị sự nghiệp trực thuộc" in text
    assert "b. Số cán bộ phụ trách" not in text
    assert "+ Khác: 5 người" in text
    # The bandwidth parts under 3.2.b, after its total and formula.
    assert (
        text.index("b. Tổng băng thông kết nối Internet quy đổi")
        < text.index("- ∑ Băng thông Leased Line")
        < text.index("c. Tỷ lệ băng thông")
    )
    # The investment table's merged header: "Năm" over the two years.
    assert re.search(r"Năm.{0,40}2019 2020", text)
    # Formulas in words, no internal codes.
    assert "(Công thức: Tổng số tại điểm a và điểm b)" in text
    assert "3.1.a + 3.1.b" not in text
    # An item that does not apply says so instead of a blank.
    assert "Triển khai một số phòng, ban gồm: không áp dụng" in text
    # The closing lines for remarks (Phụ lục I prints four).
    document = docx.Document(BytesIO(forms["so-ban-nganh"].docx))
    assert sum(1 for p in document.paragraphs if p.text.startswith("………………")) == 4


def test_signatures_the_unit_type_requires(forms):
    def signatures(form: str) -> list[str]:
        document = docx.Document(BytesIO(forms[form].docx))
        table = next(t for t in document.tables if "NGƯỜI ĐIỀN PHIẾU" in t.rows[0].cells[0].text)
        return [cell.text for cell in table.rows[0].cells]

    left, right = signatures("so-ban-nganh")
    assert "NGƯỜI ĐIỀN PHIẾU" in left and "GIÁM ĐỐC" in right  # a Sở: its Giám đốc
    for form in ("ubnd-huyen", "xa-phuong"):
        assert "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH" in signatures(form)[1]
        text = pdf_text(forms[form].pdf)
        assert "TM. ỦY BAN NHÂN DÂN" in text and "CHỦ TỊCH UBND" not in text
    # Dated on the submission, the place of the unit (Nghị định 30: "ngày 05 tháng 3").
    assert "Bình Định, ngày 05 tháng 3 năm 2020" in pdf_text(forms["so-ban-nganh"].pdf)
    assert "Quy Nhơn, ngày 05 tháng 3 năm 2020" in pdf_text(forms["ubnd-huyen"].pdf)
    assert "Hương Xuân, ngày 05 tháng 3 năm 2020" in pdf_text(forms["xa-phuong"].pdf)
    # In italics.
    for page in pdf_pages(forms["so-ban-nganh"].pdf):
        for row in _rows(page["chars"]):
            text = "".join(c["text"] for c in sorted(row, key=lambda c: c["x0"]))
            if "ngày 05 tháng 3 năm 2020" in text:
                assert all("Italic" in c["fontname"] for c in row if c["text"].strip())


def test_commune_ratios_are_percentages_next_to_percentage_targets(forms):
    document = docx.Document(BytesIO(forms["xa-phuong"].docx))
    rows = {
        row.cells[0].text: [c.text for c in row.cells]
        for table in document.tables
        for row in table.rows
        if len(row.cells) == 5
    }
    assert rows["5.8"][2:4] == ["100 %", "100 % máy vi tính"]
    assert rows["7.2"][2].endswith(" %") and rows["7.2"][3] == "100 % văn bản đến"


@pytest.mark.parametrize("form", FORMS)
def test_score_page_names_its_rubric_bands_and_date(forms, form):
    text = pdf_text(forms[form].pdf)
    summary = text[text.index("TỔNG HỢP ĐIỂM ĐÁNH GIÁ") :]
    assert "rubric.yaml" not in summary and "dialogs/" not in summary
    assert "không phải điểm chính thức" not in summary
    assert "Chấm theo Bộ tiêu chí chấm điểm" in summary and "phiên bản 1.0 (2020)" in summary
    assert "Tốt: từ 85 % trở lên; Khá: từ 70 % đến dưới 85 %" in summary
    assert "Yếu: dưới 50 %" in summary
    if form != "xa-phuong":  # the commune rubric has no rule compared across units
        assert re.search(
            r"3\.2\.c\) tính theo số liệu các đơn vị đã nộp đến ngày \d\d/\d\d/\d{4}", summary
        )
        assert re.search(r"cao nhất trong đợt đánh giá tính đến ngày \d\d/\d\d/\d{4}", summary)


# DOCX ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_docx_page_fonts_and_language_follow_the_decree(forms, form):
    document = docx.Document(BytesIO(forms[form].docx))
    section = document.sections[0]
    measures = [
        section.page_width,
        section.page_height,
        section.top_margin,
        section.bottom_margin,
        section.left_margin,
        section.right_margin,
    ]
    assert [round(m.mm) for m in measures] == [210, 297, 20, 20, 30, 15]
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(13)
    assert document.styles["Table Text"].font.size == Pt(12)
    assert document.styles["Form Title"].font.size == Pt(14)
    fonts = normal.element.rPr.rFonts
    assert {fonts.get(qn(f"w:{a}")) for a in ("ascii", "hAnsi", "cs")} == {"Times New Roman"}
    # Vietnamese, so Word checks the spelling of Vietnamese words, not English ones.
    defaults = document.styles.element.find(qn("w:docDefaults"))
    lang = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr")).find(qn("w:lang"))
    assert lang.get(qn("w:val")) == "vi-VN"
    assert normal.element.rPr.find(qn("w:lang")).get(qn("w:val")) == "vi-VN"
    # Page numbers at the top, from page 2.
    assert section.different_first_page_header_footer
    assert "PAGE" in section.header._element.xml
    assert "PAGE" not in section.first_page_header._element.xml
    assert "PAGE" not in section.footer._element.xml


@pytest.mark.parametrize("form", FORMS)
def test_docx_rows_are_kept_whole_headers_repeat_and_cells_have_padding(forms, form):
    document = docx.Document(BytesIO(forms[form].docx))
    grids = [t for t in document.tables if t.style is not None and t.style.name == "Table Grid"]
    assert grids
    for table in grids:
        assert table._tbl.tblPr.find(qn("w:tblCellMar")) is not None
        for row in table.rows:
            properties = row._tr.trPr
            assert properties is not None and properties.find(qn("w:cantSplit")) is not None
        first = table.rows[0]._tr.trPr
        assert first.find(qn("w:tblHeader")) is not None
    if form == "xa-phuong":
        return
    # The investment table: "Năm" over the two years, the other titles merged down.
    money = next(t for t in grids if [c.text for c in t.rows[1].cells][-2:] == ["2019", "2020"])
    assert [c.text for c in money.rows[0].cells][-2:] == ["Năm", "Năm"]
    assert money.rows[1]._tr.trPr.find(qn("w:tblHeader")) is not None


def test_docx_header_names_the_parent_and_the_unit_and_rules_the_motto(forms):
    document = docx.Document(BytesIO(forms["so-ban-nganh"].docx))
    left, right = document.tables[0].rows[0].cells
    assert [p.text for p in left.paragraphs if p.text] == [
        "UBND TỈNH BÌNH ĐỊNH",
        "SỞ THÔNG TIN\nVÀ TRUYỀN THÔNG",
    ]
    assert [p.text for p in right.paragraphs if p.text] == [NATION, MOTTO]
    rule = right.paragraphs[-1]
    assert rule._p.pPr.find(qn("w:pBdr")) is not None
    width = 100 - rule.paragraph_format.left_indent.mm - rule.paragraph_format.right_indent.mm
    assert abs(width - 56.1) < 1.5  # as long as the motto


@pytest.mark.parametrize("form", ["so-ban-nganh", "ubnd-huyen"])
def test_a_group_row_stays_with_the_row_after_it(forms, form):
    """ "2 | Thông tin chỉ đạo, điều hành" is never the last row of a page with its rows on
    the next (unless it opens its table, right under the table's header)."""
    pages = pdf_pages(forms[form].pdf)

    def page_of(row: dict) -> int:
        start = squeeze(f"{row['cells'][0]} {row['cells'][1]}")[:40]
        found = [n for n, p in enumerate(pages) if any(t.startswith(start) for _, t in p["lines"])]
        assert found, start
        return found[0]

    checked = 0
    for section in forms[form].context["sections"]:
        for block in section["blocks"]:
            if block["kind"] != "table" or block["roles"][0] != "index":
                continue
            rows = block["rows"]
            for position, row in enumerate(rows[1:-1], start=1):
                if row["group"]:
                    assert page_of(row) == page_of(rows[position + 1]), row["cells"][1]
                    checked += 1
    assert checked >= 5

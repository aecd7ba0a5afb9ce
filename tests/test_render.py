"""The documents a reviewer receives: DOCX opened with python-docx, PDF text extracted with
pdfplumber, HTML as text; the engine sends them after a submission is confirmed; the CLI writes
them. (Page layout against Nghị định 30/2020: tests/test_document_layout.py.)"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from io import BytesIO

import docx
import pdfplumber
import pytest
from sqlalchemy import update

from bot.cli import main
from dialogs import Engine
from dialogs.filling import fill_answers
from dialogs.messages import Inbound
from dialogs.payloads import Confirm
from dialogs.spec import all_forms
from dialogs.state import FormState
from storage.models import Submission
from templates.context import section_blocks, vietnam_today
from templates.render import (
    render_docx,
    render_html,
    render_pdf,
    submission_context,
    submission_documents,
)

UNIT = "Sở Khoa học và Công nghệ"
# 20:00 UTC is 03:00 the next morning in Vietnam: the form is dated the 15th.
SUBMITTED_AT = datetime(2020, 12, 14, 20, 0, tzinfo=UTC)
HOSTILE = 'Số 1 <script>alert("x")</script> & Cty <TNHH> A&B'
ANSWERS = {
    "1.1": "2020",
    "1.2": UNIT,
    "1.3": HOSTILE,
    "1.8": "1234",
    "1.9": "16",
    "2.1": "Nguyễn Thị Hằng",
    "3.1.a": "1200",
    "3.1.b": "10",
    "3.2.a": "1100",
    "3.2.b.1": "2,5",
    "3.2.b.2": "100",
    "3.2.b.3": "0",
    "3.2.b.4": "0",
    "3.3": "20",
    "3.6": "có",
    "3.8": "có",
    "3.8.1": "có",
    "3.8.1.sl": "3",
    "3.8.2": "không",
    "4.2.1.prev": "1500",
    "4.2.1.curr": "2500,5",
    "5.1.c": "120/200",
    "6.1.a.1": "1234",
    "6.2.1.a": "hoàn chỉnh",
    "6.2.1.b": "đang thử nghiệm",
    "6.2.1.c": "chưa có",
    "7.1": "có",
    "7.2": "có",
}


async def submitted(database, form_id="so-ban-nganh", unit=UNIT, answers=None) -> int:
    engine = Engine(database)
    results = await fill_answers(
        engine.db,
        engine.forms,
        unit_name=unit,
        form_id=form_id,
        year=2020,
        answers=ANSWERS if answers is None else answers,
    )
    refused = [(code, why) for code, ok, why in results if not ok]
    assert not refused
    async with database.session() as session, session.begin():
        await session.execute(
            update(Submission)
            .where(Submission.form_id == form_id)
            .values(status="submitted", submitted_at=SUBMITTED_AT)
        )
        submission = (await session.execute(Submission.__table__.select())).first()
    return submission.id


def docx_of(data: bytes) -> docx.Document:
    return docx.Document(BytesIO(data))


def paragraphs(document) -> list[str]:
    return [p.text for p in document.paragraphs]


def table_with(document, header: list[str]):
    return next(t for t in document.tables if [c.text for c in t.rows[0].cells] == header)


def row_of(table, label_start: str) -> list[str]:
    for row in table.rows:
        cells = [c.text for c in row.cells]
        if any(cell.startswith(label_start) for cell in cells):
            return cells
    raise AssertionError(f"no row {label_start!r}")


def signatures(document) -> list[str]:
    table = next(t for t in document.tables if "NGƯỜI ĐIỀN PHIẾU" in t.rows[0].cells[0].text)
    return [cell.text for cell in table.rows[0].cells]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text)


async def test_docx_shows_the_unit_the_numbers_and_ticked_boxes_in_the_right_cells(database):
    context = await submission_context(database, await submitted(database))
    document = docx_of(render_docx(context))
    header = document.tables[0].rows[0].cells
    # The parent body over the unit's name in capitals, broken between phrases.
    assert header[0].text.startswith("UBND TỈNH BÌNH ĐỊNH\nSỞ KHOA HỌC\nVÀ CÔNG NGHỆ")
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in header[1].text
    assert "Độc lập - Tự do - Hạnh phúc" in header[1].text
    lines = paragraphs(document)
    assert (
        "(Ban hành kèm theo Quyết định số 3871/QĐ-UBND ngày 25/10/2019 của UBND tỉnh Bình Định)"
        in [squeeze(line) for line in lines]
    )
    assert "1. Năm báo cáo: 2020" in lines
    assert "8. Tổng số cán bộ, công chức (CBCC) của khối Văn phòng: 1.234 người" in lines
    assert "- ∑ Băng thông Leased Line: 2,5 Mbps" in lines
    # computed, with the printed formula underneath
    total = "b. Tổng băng thông kết nối Internet quy đổi của sở, ban, ngành: 512,5 Mbps"
    assert total in lines
    assert lines[lines.index(total) + 1].startswith("(Công thức: ∑ Băng thông kết nối Internet")
    assert (
        "6. Cơ quan có mạng diện rộng (WAN) kết nối các đơn vị trực thuộc: ☒ Có    ☐ Không" in lines
    )
    # unanswered: a dotted blank with the unit
    assert (
        "4. Tổng số máy chủ/Server (kể cả máy chủ/Server thuê dịch vụ CNTT): …………………… máy" in lines
    )

    safety = table_with(document, ["STT", "Giải pháp", "Có", "Số lượng"])
    assert row_of(safety, "Băng từ") == ["1", "Băng từ", "☒", "3"]
    assert row_of(safety, "Tủ đĩa") == ["2", "Tủ đĩa", "☐", ""]
    # "Năm" printed over the two year columns, as in the seed.
    money = table_with(document, ["TT", "Nội dung", "ĐVT", "Năm", "Năm"])
    assert [c.text for c in money.rows[1].cells] == ["TT", "Nội dung", "ĐVT", "2019", "2020"]
    assert row_of(money, "Tổng chi ngân sách")[2:] == ["Tr.đ", "1.500", "2.500,5"]
    news = table_with(
        document, ["TT", "Tiêu chí", "Số lượng tin, bài, văn bản đã đăng tải trong năm"]
    )
    assert row_of(news, "Tin tức, sự kiện")[2] == "1.234"
    assert row_of(news, "Thông tin chỉ đạo, điều hành")[0] == "2"  # a printed group row
    functions = table_with(
        document, ["TT", "Tên chức năng", "Hoàn chỉnh", "Đang thử nghiệm", "Chưa có"]
    )
    assert row_of(functions, "Tiếp nhận, phản hồi")[2:] == ["☒", "☐", "☐"]
    assert row_of(functions, "Đăng các câu hỏi")[2:] == ["☐", "☒", "☐"]
    assert row_of(functions, "Các chức năng hỗ trợ người khuyết tật")[2:] == ["☐", "☐", "☒"]
    assert row_of(functions, "Công cụ đếm số lần truy cập")[2:] == ["☐", "☐", "☐"]
    security = table_with(document, ["TT", "Nội dung", "Có", "Không"])
    assert row_of(security, "Xây dựng Quy chế bảo đảm an toàn thông tin")[2:] == ["☒", "☐"]
    assert row_of(security, "Giải pháp quản lý truy cập")[2:] == ["☐", "☐"]

    # place–date line and signatures
    left, right = signatures(document)
    assert "Bình Định, ngày 15 tháng 12 năm 2020" in left
    assert "Nguyễn Thị Hằng" in left
    assert "GIÁM ĐỐC" in right  # the head of a Sở signs as its Giám đốc


NUMBER = r"([\d.,]+)"
ARITHMETIC = re.compile(
    rf"(min\()?(?:{NUMBER} ÷ )?{NUMBER}(?:; 1\))? × {NUMBER} (?:= {NUMBER} )?(?:≈ {NUMBER} )?điểm"
)


def check_arithmetic(why: str, points: Decimal) -> None:
    """ "x ÷ y × m = e ≈ p điểm" (and "min(x ÷ y; 1) × m", "r × m") holds for the printed
    numbers: e is exactly the product, p is e rounded half up to 2 decimals, p the points."""
    found = ARITHMETIC.search(why)
    if found is None:
        return
    capped, x, y, m, exact, rounded = found.groups()
    factor = Fraction(number(x)) / Fraction(number(y)) if x else Fraction(number(y))
    product = (min(factor, Fraction(1)) if capped else factor) * Fraction(number(m))
    if exact:
        assert Fraction(number(exact)) == product, why
    shown = number(rounded or exact)
    expected = Decimal(product.numerator) / Decimal(product.denominator)
    assert shown == expected.quantize(Decimal("0.01"), "ROUND_HALF_UP"), why
    assert shown == points, why


def number(text: str) -> Decimal:
    """A number as the documents write it: "1.234,5" → 1234.5."""
    return Decimal(text.replace(".", "").replace(",", ".")) if text else Decimal(0)


async def test_the_score_summary_is_the_last_page_and_names_its_rubric_bands_and_date(database):
    context = await submission_context(database, await submitted(database))
    document = docx_of(render_docx(context))
    lines = paragraphs(document)
    start = lines.index("TỔNG HỢP ĐIỂM ĐÁNH GIÁ")
    assert document.paragraphs[start].paragraph_format.page_break_before
    summary = "\n".join(lines[start:])
    # The rubric in words, with its version; no repository path, no disclaimer.
    assert (
        "Chấm theo Bộ tiêu chí chấm điểm số liệu xây dựng chính quyền điện tử của các sở" in summary
    )
    assert "phiên bản 1.0 (2020)" in summary
    assert "rubric.yaml" not in summary and "không phải điểm chính thức" not in summary
    # The grading bands behind the class.
    assert (
        "Tốt: từ 85 % trở lên; Khá: từ 70 % đến dưới 85 %; Trung bình: từ 50 % đến dưới 70 %; "
        "Yếu: dưới 50 %"
    ) in summary
    # The relative criterion says as of when.
    today = vietnam_today().strftime("%d/%m/%Y")
    assert f"(3.2.c) tính theo số liệu các đơn vị đã nộp đến ngày {today}" in summary
    assert f"Tổng điểm: {context['score']['total']}/100" in summary
    groups = table_with(
        document, ["MỤC", "Nhóm tiêu chí", "Điểm", "Tối đa", "Trong đó điểm khuyến khích"]
    )
    assert [row.cells[0].text for row in groups.rows[1:7]] == ["3", "4", "5", "6", "7", "8"]
    # MỤC 7: 7.1 (2 points) + bonus 7.2 (1 point)
    assert [c.text for c in groups.rows[5].cells][2:] == ["3", "10", "1"]
    rules = table_with(document, ["Mã", "Nội dung", "Cách tính (số liệu đã khai)", "Điểm"])
    assert row_of(rules, "7.2")[3] == "1/1"
    assert "(cộng điểm khuyến khích)" in row_of(rules, "7.2")[2]
    # The year column's row is shown as printed: row 1 of table 4.2, year 2020.
    assert row_of(rules, "4.2.1 (2020)")[2].startswith("4.2.1 (2020) = 2.500,5 Tr.đ")


async def test_the_printed_arithmetic_adds_up(database):
    """What a reviewer checks with a calculator: each group is the sum of its printed rule
    points (up to its maximum), the total the sum of the groups, and every "a × b = c" holds
    for the numbers as printed."""
    context = await submission_context(database, await submitted(database))
    document = docx_of(render_docx(context))
    groups = table_with(
        document, ["MỤC", "Nhóm tiêu chí", "Điểm", "Tối đa", "Trong đó điểm khuyến khích"]
    )
    rules = table_with(document, ["Mã", "Nội dung", "Cách tính (số liệu đã khai)", "Điểm"])
    printed: dict[str, Decimal] = {}
    for row in rules.rows[1:]:
        code, why, points = row.cells[0].text, row.cells[2].text, row.cells[3].text
        got = number(points.split("/")[0])
        printed[code] = got
        check_arithmetic(why, got)
    rule_groups = {r["code"]: r["group"] for r in context["score"]["rules"]}
    total = Decimal(0)
    for row in groups.rows[1:-1]:
        code, points, top = row.cells[0].text, number(row.cells[2].text), number(row.cells[3].text)
        summed = sum(p for c, p in printed.items() if rule_groups[c] == code)
        assert points == min(summed, top), code
        total += points
    assert number(groups.rows[-1].cells[2].text) == total
    total_line = f"Tổng điểm: {squeeze(groups.rows[-1].cells[2].text)}/100 — "
    assert any(line.startswith(total_line) for line in paragraphs(document))


async def test_pdf_text_keeps_the_vietnamese_and_the_values(database):
    context = await submission_context(database, await submitted(database))
    data = render_pdf(context)
    assert data.startswith(b"%PDF")
    with pdfplumber.open(BytesIO(data)) as pdf:
        pages = [page.extract_text() or "" for page in pdf.pages]
    text = squeeze("\n".join(pages))
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert "MẪU PHIẾU ĐÁNH GIÁ SỐ LIỆU XÂY DỰNG CHÍNH QUYỀN ĐIỆN TỬ" in text
    assert "Nguyễn Thị Hằng" in text
    assert "1.234 người" in text
    assert "512,5 Mbps" in text
    assert "MỤC 8. CƠ CHẾ, CHÍNH SÁCH" in text
    assert "TỔNG HỢP ĐIỂM ĐÁNH GIÁ" in text
    assert "phiên bản 1.0 (2020)" in text
    assert "không phải điểm chính thức" not in text
    assert "PHỤ LỤC. DANH MỤC TÀI LIỆU KIỂM CHỨNG" in pages[-1]  # the annex ends it
    last = squeeze(pages[-2] + pages[-3])
    assert "7.2" in last  # the rules of the summary come just before the annex


async def test_user_text_is_escaped_in_html_and_intact_in_docx(database):
    context = await submission_context(database, await submitted(database))
    html = render_html(context)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Cty &lt;TNHH&gt; A&amp;B" in html
    document = docx_of(render_docx(context))
    assert f"3. Địa chỉ: {HOSTILE}" in paragraphs(document)


async def test_an_empty_submission_renders_all_blanks(database):
    engine = Engine(database)
    await fill_answers(
        engine.db,
        engine.forms,
        unit_name="UBND huyện Vân Canh",
        form_id="ubnd-huyen",
        year=2020,
        answers={},
    )
    context = await submission_context(database, 1)
    html = render_html(context)
    document = docx_of(render_docx(context))
    assert render_pdf(context).startswith(b"%PDF")
    lines = paragraphs(document)
    assert "☒" not in html and not any("☒" in line for line in lines)
    assert not any("☒" in cell.text for t in document.tables for r in t.rows for cell in r.cells)
    # (the dotted lines for remarks at the end are no answers)
    blanks = [line for line in lines if ": ……………………" in line]
    asked = [
        b
        for s in context["sections"]
        for b in s["blocks"]
        if b["kind"] == "line" and b["show_value"]
    ]
    assert len(blanks) == len(asked) > 50
    assert "1. Năm báo cáo: ……………………" in lines
    # A district dates its forms at its own place (Nghị định 30/2020), not the province's.
    assert "Vân Canh, ngày ….. tháng ….. năm ……" in signatures(document)[0]
    assert context["score"]["total"] == "0" and context["score"]["class"] == "Yếu"


async def test_xa_phuong_renders_as_a_checklist_of_targets(database):
    answers = {"1.7": "10", "3.1.1": "12", "3.3": "không", "6.5": "15", "6.6": "4"}
    context = await submission_context(
        database, await submitted(database, "xa-phuong", "UBND phường Hương Xuân", answers)
    )
    document = docx_of(render_docx(context))
    header = ["Mã", "Nghĩa vụ", "Giá trị", "Chỉ tiêu", "Đánh giá"]
    checklists = [t for t in document.tables if [c.text for c in t.rows[0].cells] == header]
    rows: dict[str, list[str]] = {}  # the form's checklist first, then the summary's targets
    for row in (r for t in checklists for r in t.rows[1:]):
        rows.setdefault(row.cells[0].text, [c.text for c in row.cells])
    assert rows["3.1"][2:] == ["1,2 máy/CBCC", "≥ 01 máy tính/01 CBCC", "Đạt"]
    assert rows["3.1"][1].endswith("(Công thức: Số máy vi tính (3.1.1) ÷ tổng số CBCC (1.7))")
    assert rows["3.3"][2:] == ["☐ Có\n☒ Không", "Có", "Chưa đạt"]
    assert rows["6.5"][2:] == ["15 tin bài", "8–12 tin bài/năm", "Chưa đạt"]
    assert rows["6.6"][2:] == ["4 tin bài", "≥ 4 tin bài/năm", "Đạt"]
    assert rows["5.2"][4] == ""  # unanswered: neither
    # A commune's place–date line names the commune (Nghị định 30/2020).
    assert "Hương Xuân, ngày 15 tháng 12 năm 2020" in signatures(document)[0]
    assert "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH" in signatures(document)[1]


async def test_the_engine_sends_docx_and_pdf_when_a_submission_is_confirmed(database, mini_spec):
    forms = {"mini": mini_spec}
    engine = Engine(database, forms, render_documents=submission_documents(database, forms))
    await engine.bind("console", "u1", unit_name="Phòng Thử nghiệm", form_id="mini", year=2020)
    answers = {i.code: "1" for i in mini_spec.items if i.asked and i.required}
    answers.update({"1.1": "Phòng Thử nghiệm", "5.1": "1/2", "6.2.1.a": "1", "6.2.1.e": "1"})
    await fill_answers(
        engine.db,
        engine.forms,
        unit_name="Phòng Thử nghiệm",
        form_id="mini",
        year=2020,
        answers=answers,
    )
    await engine.handle(Inbound("console", "u1", text="/nop", message_id="m1"))
    replies = await engine.handle(Inbound("console", "u1", payload=Confirm(True), message_id="m2"))
    documents = [r.document for r in replies if r.document is not None]
    assert [d.mime_type for d in documents] == [
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/pdf",
    ]
    assert documents[0].filename == "phieu-mini-2020-phong-thu-nghiem.docx"
    document = docx_of(documents[0].data)
    lines = paragraphs(document)
    assert "1. Tên cơ quan: Phòng Thử nghiệm" in lines
    # dated the day it is confirmed, not left blank
    assert re.search(r"Bình Định, ngày \d\d tháng \d{1,2} năm \d{4}", signatures(document)[0])
    assert "Phiếu này chưa có bộ tiêu chí chấm điểm." in lines
    assert documents[1].data.startswith(b"%PDF")
    assert await submission_documents(database, forms)(999) == []


@pytest.fixture
def cli_database(database, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database.url)
    return database


async def test_cli_render_and_score(cli_database, tmp_path, capsys):
    submission_id = await submitted(cli_database)
    target = tmp_path / "phieu.docx"

    def run(*argv: str) -> int:
        return main(list(argv))

    import asyncio

    code = await asyncio.to_thread(
        run, "render", str(submission_id), "--format", "docx", "-o", str(target)
    )
    assert code == 0
    assert "8. Tổng số cán bộ, công chức (CBCC) của khối Văn phòng: 1.234 người" in paragraphs(
        docx_of(target.read_bytes())
    )
    capsys.readouterr()
    assert await asyncio.to_thread(run, "score", str(submission_id), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert {"groups", "total", "max", "index", "class", "bonus", "rules"} <= set(data)
    assert data["max"] == 100 and [g["code"] for g in data["groups"]] == list("345678")
    assert {"code", "title", "points", "max"} <= set(data["groups"][0])
    assert {"code", "points", "max", "why"} <= set(data["rules"][0])
    assert sum(g["points"] for g in data["groups"]) == pytest.approx(data["total"], abs=0.001)
    assert data["note"].startswith("Chấm theo Bộ tiêu chí chấm điểm")
    assert data["rubric_version"] == "1.0 (2020)" and data["percent"] == data["total"]
    assert await asyncio.to_thread(run, "score", str(submission_id)) == 0
    text = capsys.readouterr().out
    assert "MỤC 7. Công tác đảm bảo an toàn thông tin: 3/10 (trong đó khuyến khích 1)" in text
    assert await asyncio.to_thread(run, "render", "999", "--format", "pdf", "-o", "x.pdf") == 2
    assert "no submission 999" in capsys.readouterr().err


@pytest.mark.parametrize("form_id", ["so-ban-nganh", "ubnd-huyen", "xa-phuong"])
def test_every_item_of_the_form_is_printed_once_in_order(form_id):
    spec = all_forms()[form_id]
    state = FormState(spec, {})
    printed = []
    for section in spec.sections:
        for block in section_blocks(spec, state, section, 2020):
            if block["kind"] == "table":
                printed += [code for row in block["rows"] for code in row["codes"]]
            elif block["kind"] == "line":
                printed.append(block["code"])
    assert printed == [item.code for item in spec.items]


def test_the_cli_offers_exactly_the_formats_the_renderer_knows():
    from bot.commands import documents
    from templates import render as renderer

    assert documents.FORMATS == renderer.FORMATS

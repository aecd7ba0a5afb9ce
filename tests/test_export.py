"""The ranking spreadsheet, opened with openpyxl: a print-ready ranking sheet (title row, frozen
header, number formats, A4 landscape one page wide, filters) and a sheet with every answer;
typed text that looks like a formula stays inert."""

from __future__ import annotations

import asyncio
import zipfile
from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from bot.cli import main
from dialogs import Engine
from dialogs.filling import fill_answers
from dialogs.spec import all_forms
from dialogs.state import FormState
from storage.models import Submission, Unit
from templates.export import export_campaign, rank_rows, write_xlsx

# Free-text items (no format): phone, web and email items only take what fits their format.
FORMULAS = {
    "1.3": '=HYPERLINK("http://x.invalid","bấm")',
    "2.1": "+84 256 382 2222",
    "2.2": "-cmd|' /C calc'!A0",
    "2.3": "@SUM(1+1)*cmd|' /C calc'!A0",
}
HEADER = 3  # ranking sheet: rows 1–2 the title, row 3 the header
CODES, LABELS = 3, 4  # answers sheet: the item codes and labels


async def campaign(database) -> None:
    """Three units of so-ban-nganh 2020 (two submitted, one draft) and one of 2019."""
    engine = Engine(database)
    units = {
        # unit: (staff, computers, WAN, 7.1, status, year)
        "Sở Tư pháp": ("100", "100", "có", "có", "submitted", 2020),
        "Sở Xây dựng": ("100", "50", "không", "có", "submitted", 2020),
        "Sở Y tế": ("100", "50", "không", "có", "draft", 2020),
        "Sở Nội vụ": ("100", "100", "có", "có", "submitted", 2019),
    }
    for name, (staff, computers, wan, rules, status, year) in units.items():
        answers = {"1.8": staff, "1.9": "0", "3.1.a": computers, "3.1.b": "0"}
        answers.update({"3.6": wan, "7.1": rules, "5.1.c": "6550/6800"})
        if name == "Sở Tư pháp":
            answers.update(FORMULAS)
            answers.update({"3.2.b.1": "10", "3.2.b.2": "0", "3.2.b.3": "0", "3.2.b.4": "0"})
        results = await fill_answers(
            engine.db,
            engine.forms,
            unit_name=name,
            form_id="so-ban-nganh",
            year=year,
            answers=answers,
        )
        assert all(ok for _, ok, _ in results), results
        async with database.session() as session, session.begin():
            unit_id = (
                (await session.execute(Unit.__table__.select().where(Unit.name == name))).first().id
            )
            await session.execute(
                update(Submission).where(Submission.unit_id == unit_id).values(status=status)
            )


async def workbook_of(database):
    data, units = await export_campaign(database, all_forms()["so-ban-nganh"], 2020)
    return load_workbook(BytesIO(data)), data, units


def ranking_rows(sheet) -> dict[str, list]:
    return {row[1].value: row for row in sheet.iter_rows(min_row=HEADER + 1) if row[1].value}


async def test_one_ranked_row_per_unit_with_its_scores(database):
    await campaign(database)
    book, _data, units = await workbook_of(database)
    assert book.sheetnames == ["Xếp hạng", "Số liệu"]
    sheet = book["Xếp hạng"]
    assert units == 3
    header = [c.value for c in sheet[HEADER]]
    assert header[:8] == [
        "Hạng",
        "Đơn vị",
        "Trạng thái",
        "Tổng điểm",
        "Điểm tối đa",
        "Chỉ số",
        "Xếp loại",
        "Điểm khuyến khích",
    ]
    assert [h.split("\n")[0] for h in header[8:]] == ["MỤC 3", "MỤC 4", "MỤC 5", "MỤC 6"] + [
        "MỤC 7",
        "MỤC 8",
        "Tự đánh giá",  # both totals side by side; "Tổng điểm" is the one ranked by
        "Thẩm định",
    ]
    assert header[8].endswith("Hạ tầng kỹ thuật công nghệ thông tin")
    rows = ranking_rows(sheet)
    assert list(rows) == ["Sở Tư pháp", "Sở Xây dựng", "Sở Y tế"]  # best first
    best, second, draft = ([c.value for c in row] for row in rows.values())
    assert best[0] == 1 and second[0] == 2 and draft[0] == 2  # equal totals share a rank
    assert best[2] == "Đã nộp" and draft[2] == "Đang điền"
    # Sở Tư pháp: 3.1 full (5), its bandwidth the best (4), WAN (1), 7.1 (2), 5.1.c 0,9632 × 4
    # = 3,85; Sở Xây dựng: 3.1 half (2,5), 7.1 (2), 5.1.c (3,85).
    assert best[3] == pytest.approx(15.85) and second[3] == pytest.approx(8.35)
    assert best[4] == 100 and best[5] == pytest.approx(0.1585)
    assert best[8] == pytest.approx(10.0) and best[12] == pytest.approx(2.0)


async def test_numbers_are_formatted_for_people(database):
    await campaign(database)
    book, _data, _units = await workbook_of(database)
    sheet = book["Xếp hạng"]
    row = next(iter(ranking_rows(sheet).values()))
    formats = {sheet.cell(HEADER, c.column).value.split("\n")[0]: c.number_format for c in row}
    assert formats["Chỉ số"] == "0.00%"  # the index in percent: 15,85 %
    assert formats["Tổng điểm"] == formats["MỤC 3"] == formats["Điểm khuyến khích"] == "0.00"
    assert formats["Hạng"] == "0"
    answers = book["Số liệu"]
    codes = [c.value for c in answers[CODES]]
    tu_phap = next(r for r in answers.iter_rows(min_row=LABELS + 1) if r[1].value == "Sở Tư pháp")
    staff = tu_phap[codes.index("1.8")]
    assert staff.value == 100 and staff.number_format == "#,##0"  # a count
    bandwidth = tu_phap[codes.index("3.2.c")]
    assert bandwidth.value == pytest.approx(0.5) and bandwidth.number_format == "#,##0.00"
    # A fraction is its two numbers, under one code and label.
    column = codes.index("5.1.c")
    assert (tu_phap[column].value, tu_phap[column + 1].value) == (6550, 6800)
    assert codes[column + 1] is None
    assert any(
        str(r) == f"{answers.cell(CODES, column + 1).coordinate}:"
        f"{answers.cell(CODES, column + 2).coordinate}"
        for r in answers.merged_cells.ranges
    )
    assert tu_phap[column].number_format == "#,##0"


async def test_the_ranking_prints_on_a4_landscape_one_page_wide(database):
    await campaign(database)
    book, _data, _units = await workbook_of(database)
    sheet = book["Xếp hạng"]
    title = sheet["A1"].value
    assert "BẢNG XẾP HẠNG" in title and "NĂM 2020" in title
    assert all_forms()["so-ban-nganh"].title in title
    made = sheet["A2"].value
    assert made.startswith("Lập ngày ") and "phiên bản 1.0 (2020)" in made
    assert sheet.freeze_panes == f"C{HEADER + 1}"
    assert sheet.auto_filter.ref == f"A{HEADER}:P{HEADER + 3}"
    assert sheet.page_setup.orientation == "landscape"
    assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.print_title_rows == f"${HEADER}:${HEADER}"
    # Widths that fit: the unit's name and the section titles are not clipped.
    assert sheet.column_dimensions["B"].width >= 30
    assert sheet.cell(HEADER, 9).alignment.wrap_text
    answers = book["Số liệu"]
    assert answers.freeze_panes == f"C{LABELS + 1}"
    assert answers.print_title_rows == f"${CODES}:${LABELS}"
    assert answers.auto_filter.ref.startswith(f"A{LABELS}:")


async def test_every_answer_is_on_the_answers_sheet(database):
    await campaign(database)
    book, _data, _units = await workbook_of(database)
    answers = book["Số liệu"]
    spec = all_forms()["so-ban-nganh"]
    codes = [c.value for c in answers[CODES]]
    assert codes[:2] == ["Hạng", "Đơn vị"]
    assert [c for c in codes[2:] if c is not None] == [item.code for item in spec.items]
    labels = [c.value for c in answers[LABELS]]
    assert labels[codes.index("3.2.b")] == spec.by_code["3.2.b"].label
    rows = {r[1].value: [c.value for c in r] for r in answers.iter_rows(min_row=LABELS + 1)}
    best, second = rows["Sở Tư pháp"], rows["Sở Xây dựng"]
    assert best[codes.index("1.8")] == 100  # numbers stay numbers
    assert best[codes.index("3.1")] == 100  # computed values too
    assert best[codes.index("3.6")] == "Có" and second[codes.index("3.6")] == "Không"
    assert best[codes.index("3.2.a")] is None  # unanswered: empty


async def test_typed_text_that_looks_like_a_formula_is_inert(database):
    await campaign(database)
    book, data, _units = await workbook_of(database)
    sheet = book["Số liệu"]
    codes = [c.value for c in sheet[CODES]]
    row = next(r for r in sheet.iter_rows(min_row=LABELS + 1) if r[1].value == "Sở Tư pháp")
    for code, typed in FORMULAS.items():
        cell = row[codes.index(code)]
        assert cell.value == typed
        assert cell.data_type == "s"
        assert cell.quotePrefix
    with zipfile.ZipFile(BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                xml = archive.read(name).decode()
                assert "<f>" not in xml and "<f " not in xml


async def test_an_empty_campaign_still_has_its_headers(database):
    book, _data, units = await workbook_of(database)
    assert units == 0
    assert book["Xếp hạng"].cell(HEADER, 9).value.startswith("MỤC 3")
    assert book["Số liệu"].cell(CODES, 3).value == "1.1"


def test_a_unit_name_that_looks_like_a_formula_is_inert():
    spec = all_forms()["so-ban-nganh"]
    rows = rank_rows(spec, [("=1+1", "submitted", FormState(spec, {}))])
    book = load_workbook(BytesIO(write_xlsx(spec, 2020, rows, made=date(2021, 1, 5))))
    cell = book["Xếp hạng"].cell(HEADER + 1, 2)
    assert cell.value == "=1+1" and cell.data_type == "s"
    assert book["Xếp hạng"]["A2"].value.startswith("Lập ngày 05/01/2021")


async def test_cli_export(database, tmp_path, monkeypatch, capsys):
    await campaign(database)
    monkeypatch.setenv("DATABASE_URL", database.url)
    target = tmp_path / "xep-hang.xlsx"
    argv = ["export", "--form", "so-ban-nganh", "--year", "2020", "--xlsx", str(target)]
    assert await asyncio.to_thread(main, argv) == 0
    assert "3 units" in capsys.readouterr().out
    assert load_workbook(target)["Xếp hạng"].cell(HEADER + 1, 2).value == "Sở Tư pháp"
    argv[2] = "khong-co"
    assert await asyncio.to_thread(main, argv) == 2
    assert "unknown form 'khong-co'" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["export", "--form", "so-ban-nganh", "--year", "1"]) == 2
    assert "give --xlsx FILE, --zip FILE or both" in capsys.readouterr().err

"""The ranking spreadsheet: one row per unit, ranked, every answer, and typed text that looks
like a formula stays inert."""

from __future__ import annotations

import asyncio
import zipfile
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
        answers.update({"3.6": wan, "7.1": rules})
        if name == "Sở Tư pháp":
            answers.update(FORMULAS)
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


async def test_one_ranked_row_per_unit_with_every_answer(database):
    await campaign(database)
    book, _data, units = await workbook_of(database)
    sheet = book.active
    assert units == 3
    codes = [c.value for c in sheet[1]]
    labels = [c.value for c in sheet[2]]
    spec = all_forms()["so-ban-nganh"]
    assert codes[:8] == [
        "Hạng",
        "Đơn vị",
        "Trạng thái",
        "Tổng điểm",
        "Điểm tối đa",
        "Chỉ số",
        "Xếp loại",
        "Điểm khuyến khích",
    ]
    assert codes[8:14] == ["MỤC 3", "MỤC 4", "MỤC 5", "MỤC 6", "MỤC 7", "MỤC 8"]
    assert codes[14:] == [item.code for item in spec.items]
    assert labels[codes.index("3.2.b")] == spec.by_code["3.2.b"].label
    assert sheet.freeze_panes == "C3"
    rows = {row[1].value: [c.value for c in row] for row in sheet.iter_rows(min_row=3)}
    assert list(rows) == ["Sở Tư pháp", "Sở Xây dựng", "Sở Y tế"]  # best first
    best, second, draft = rows.values()
    assert best[0] == 1 and second[0] == 2 and draft[0] == 2  # equal totals share a rank
    assert best[2] == "Đã nộp" and draft[2] == "Đang điền"
    # Sở Tư pháp: 3.1 full (5), WAN (1), 7.1 (2); Sở Xây dựng: 3.1 half (2,5), 7.1 (2)
    assert best[3] == pytest.approx(8.0) and second[3] == pytest.approx(4.5)
    assert best[4] == 100 and best[5] == pytest.approx(0.08)
    assert best[8] == pytest.approx(6.0) and best[12] == pytest.approx(2.0)
    assert best[codes.index("1.8")] == 100  # numbers stay numbers
    assert best[codes.index("3.1")] == 100  # computed values too
    assert best[codes.index("3.6")] == "Có" and second[codes.index("3.6")] == "Không"
    assert best[codes.index("3.2.a")] is None  # unanswered: empty


async def test_typed_text_that_looks_like_a_formula_is_inert(database):
    await campaign(database)
    book, data, _units = await workbook_of(database)
    sheet = book.active
    codes = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=3) if r[1].value == "Sở Tư pháp")
    for code, typed in FORMULAS.items():
        cell = row[codes.index(code)]
        assert cell.value == typed
        assert cell.data_type == "s"
        assert cell.quotePrefix
    xml = zipfile.ZipFile(BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml


async def test_an_empty_campaign_still_has_its_headers(database):
    book, _data, units = await workbook_of(database)
    assert units == 0
    assert [c.value for c in book.active[1]][8] == "MỤC 3"


def test_a_unit_name_that_looks_like_a_formula_is_inert():
    spec = all_forms()["so-ban-nganh"]
    rows = rank_rows(spec, [("=1+1", "submitted", FormState(spec, {}))])
    sheet = load_workbook(BytesIO(write_xlsx(spec, 2020, rows))).active
    assert sheet["B3"].value == "=1+1" and sheet["B3"].data_type == "s"


async def test_cli_export(database, tmp_path, monkeypatch, capsys):
    await campaign(database)
    monkeypatch.setenv("DATABASE_URL", database.url)
    target = tmp_path / "xep-hang.xlsx"
    argv = ["export", "--form", "so-ban-nganh", "--year", "2020", "--xlsx", str(target)]
    assert await asyncio.to_thread(main, argv) == 0
    assert "3 units" in capsys.readouterr().out
    assert load_workbook(target).active["B3"].value == "Sở Tư pháp"
    argv[2] = "khong-co"
    assert await asyncio.to_thread(main, argv) == 2
    assert "unknown form 'khong-co'" in capsys.readouterr().err

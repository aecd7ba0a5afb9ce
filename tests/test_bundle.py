"""All the documents of a campaign in one ZIP (``formbot export --zip``): a folder per submitted
or approved unit with its DOCX and PDF, the ranking at the top, drafts left out."""

from __future__ import annotations

import asyncio
import zipfile
from io import BytesIO

import docx
import pdfplumber
from openpyxl import load_workbook
from sqlalchemy import update

from bot.cli import main
from dialogs import Engine
from dialogs.filling import fill_answers
from dialogs.spec import all_forms
from storage.models import Submission, Unit
from templates.bundle import export_bundle

UNITS = {
    # unit: status; the two Sở Y tế fold to the same ASCII name
    "Sở Y tế": "submitted",
    "Sở Ý Tế": "approved",
    "Sở Tài chính": "draft",
    "Sở Nội vụ": "returned",
}


async def campaign(database) -> None:
    engine = Engine(database)
    for name, status in UNITS.items():
        answers = {"1.8": "40", "1.9": "0", "2.1": f"Người điền của {name}", "7.1": "có"}
        results = await fill_answers(
            engine.db,
            engine.forms,
            unit_name=name,
            form_id="so-ban-nganh",
            year=2020,
            answers=answers,
        )
        assert all(ok for _, ok, _ in results), results
        async with database.session() as session, session.begin():
            unit = (await session.execute(Unit.__table__.select().where(Unit.name == name))).first()
            await session.execute(
                update(Submission).where(Submission.unit_id == unit.id).values(status=status)
            )


async def test_a_folder_per_submitted_unit_and_the_ranking(database):
    await campaign(database)
    seen = []
    target = BytesIO()
    report = await export_bundle(
        database,
        all_forms()["so-ban-nganh"],
        2020,
        target,
        progress=lambda done, total, unit: seen.append((done, total, unit)),
        workers=1,
    )
    assert (report.units, report.ranked, report.files) == (2, 4, 5)
    with zipfile.ZipFile(BytesIO(target.getvalue())) as archive:
        names = sorted(archive.namelist())
        assert names == [
            "so-y-te-2/phieu-so-ban-nganh-2020-so-y-te.docx",
            "so-y-te-2/phieu-so-ban-nganh-2020-so-y-te.pdf",
            "so-y-te/phieu-so-ban-nganh-2020-so-y-te.docx",
            "so-y-te/phieu-so-ban-nganh-2020-so-y-te.pdf",
            "xep-hang-so-ban-nganh-2020.xlsx",
        ]
        folders = {}
        for folder in ("so-y-te", "so-y-te-2"):
            pdf = archive.read(f"{folder}/phieu-so-ban-nganh-2020-so-y-te.pdf")
            with pdfplumber.open(BytesIO(pdf)) as document:
                text = " ".join(page.extract_text() or "" for page in document.pages)
            form = docx.Document(
                BytesIO(archive.read(f"{folder}/phieu-so-ban-nganh-2020-so-y-te.docx"))
            )
            unit = next(n for n in ("Sở Y tế", "Sở Ý Tế") if f"Người điền của {n}" in text)
            assert unit.upper() in form.tables[0].rows[0].cells[0].text.replace("\n", " ")
            assert f"Người điền của {unit}" in "\n".join(
                c.text for t in form.tables for r in t.rows for c in r.cells
            )
            folders[unit] = folder
        assert set(folders) == {"Sở Y tế", "Sở Ý Tế"}  # each unit its own folder
        ranking = load_workbook(BytesIO(archive.read("xep-hang-so-ban-nganh-2020.xlsx")))
        listed = [r[1].value for r in ranking["Xếp hạng"].iter_rows(min_row=4)]
        assert sorted(listed) == sorted(UNITS)  # the ranking lists every unit
    # Progress: one step per unit written, out of the units with documents.
    assert [(done, total) for done, total, _ in seen] == [(1, 2), (2, 2)]
    assert {unit for *_, unit in seen} == {"Sở Y tế", "Sở Ý Tế"}


async def test_cli_writes_the_zip_with_pdfs_from_worker_processes(
    database, tmp_path, monkeypatch, capsys
):
    await campaign(database)
    monkeypatch.setenv("DATABASE_URL", database.url)
    target = tmp_path / "dot-2020.zip"
    argv = ["export", "--form", "so-ban-nganh", "--year", "2020", "--zip", str(target)]
    assert await asyncio.to_thread(main, argv) == 0
    out = capsys.readouterr().out
    assert f"{target}: documents of 2 submitted units of so-ban-nganh 2020" in out
    assert "ranking of 4 units, 5 files" in out
    with zipfile.ZipFile(target) as archive:
        pdfs = [n for n in archive.namelist() if n.endswith(".pdf")]
        assert len(pdfs) == 2 and all(archive.read(n).startswith(b"%PDF") for n in pdfs)
    assert not (tmp_path / "dot-2020.zip.part").exists()
    argv[-1] = str(tmp_path / "no-such-folder" / "x.zip")
    assert await asyncio.to_thread(main, argv) == 1
    assert "cannot write" in capsys.readouterr().err

"""The reviewers' appraisal beside the self-assessment: recorded per item, scored side by side,
shown on the score page and the ranking workbook, and the ranking ordered by it; evidence in
the documents' annex and the campaign ZIP."""

from __future__ import annotations

import asyncio
import json
import zipfile
from io import BytesIO

import evidence_files as files
import pdfplumber
import pytest
from docx import Document as Docx
from openpyxl import load_workbook
from sqlalchemy import select
from test_export import HEADER, campaign
from test_operations import cli_db  # noqa: F401  the formbot commands' database

from bot.cli import main
from dialogs import reviewing
from dialogs.scoring import rubric_for, score_both
from dialogs.spec import all_forms
from dialogs.state import FormState
from storage.db import Database
from storage.models import Blob, Evidence, Submission, Unit
from templates.bundle import export_bundle
from templates.export import export_campaign
from templates.render import render_docx, render_pdf, render_score_text, submission_context


async def submission_id(database, unit: str, year: int = 2020) -> int:
    async with database.session() as session:
        stmt = (
            select(Submission.id)
            .join(Unit, Unit.id == Submission.unit_id)
            .where(Unit.name == unit, Submission.year == year)
        )
        return (await session.execute(stmt)).scalar_one()


async def appraise(database, sid: int, code: str, typed: str, note: str | None = None):
    async with database.session() as session, session.begin():
        return await reviewing.appraise(session, sid, code, typed, note, reviewer="telegram:99")


def ranking(book) -> dict[str, list]:
    sheet = book["Xếp hạng"]
    return {row[1].value: [c.value for c in row] for row in sheet.iter_rows(min_row=HEADER + 1)}


def test_without_an_appraisal_the_self_score_is_the_one_ranked():
    spec = all_forms()["so-ban-nganh"]
    pair = score_both(spec, FormState(spec, {}), {}, rubric_for(spec))
    assert pair.appraised is None and pair.ranked is pair.own


async def test_the_appraised_score_stands_beside_the_own_and_orders_the_ranking(database):
    await campaign(database)
    justice = await submission_id(database, "Sở Tư pháp")
    before = ranking(
        load_workbook(
            BytesIO((await export_campaign(database, all_forms()["so-ban-nganh"], 2020))[0])
        )
    )
    assert list(before)[:2] == ["Sở Tư pháp", "Sở Xây dựng"]
    # The reviewer finds 30 computers, not 100, no leased line, and no Quy chế (7.1) nor WAN.
    assert (await appraise(database, justice, "3.1.a", "30")).refusal is None
    assert (await appraise(database, justice, "3.2.b.1", "0")).refusal is None
    assert (await appraise(database, justice, "3.6", "không")).refusal is None
    note = "Chưa có quyết định ban hành Quy chế"
    assert (await appraise(database, justice, "7.1", "không", note)).shown == "Không"

    async with database.session() as session:
        pair = await reviewing.scores(session, justice)
    assert pair.own.total == pytest.approx(15.85)
    assert pair.appraised.total < 8.35 < pair.own.total

    data, _units = await export_campaign(database, all_forms()["so-ban-nganh"], 2020)
    after = ranking(load_workbook(BytesIO(data)))
    assert list(after) == ["Sở Xây dựng", "Sở Y tế", "Sở Tư pháp"]  # by the appraised total
    header = [c.value for c in load_workbook(BytesIO(data))["Xếp hạng"][HEADER]]
    own, appraised = header.index("Tự đánh giá"), header.index("Thẩm định")
    justice_row, works_row = after["Sở Tư pháp"], after["Sở Xây dựng"]
    assert justice_row[own] == pytest.approx(15.85)
    assert justice_row[appraised] == pytest.approx(pair.appraised.total, abs=0.005)
    assert justice_row[3] == justice_row[appraised]  # "Tổng điểm" is the ranked one
    assert works_row[own] == pytest.approx(8.35) and works_row[appraised] is None

    text = render_score_text(await submission_context(database, justice))
    assert "Điểm thẩm định:" in text and "(đơn vị tự đánh giá: 15,85)" in text
    assert f"7.1: Có → Không — {note}" in text

    async with database.session() as session, session.begin():
        assert await reviewing.withdraw_appraisal(session, justice, "3.1.a")
        assert await reviewing.withdraw_appraisal(session, justice, "3.2.b.1")
        assert await reviewing.withdraw_appraisal(session, justice, "3.6")
        assert await reviewing.withdraw_appraisal(session, justice, "7.1")
    data, _units = await export_campaign(database, all_forms()["so-ban-nganh"], 2020)
    assert list(ranking(load_workbook(BytesIO(data))))[:2] == ["Sở Tư pháp", "Sở Xây dựng"]


async def test_an_appraisal_that_cannot_be_read_is_refused_and_not_stored(database):
    await campaign(database)
    justice = await submission_id(database, "Sở Tư pháp")
    refused = await appraise(database, justice, "3.1.a", "nhiều lắm")
    assert refused.refusal and "3.1.a" not in (refused.shown or "")
    assert (await appraise(database, justice, "9.9.9", "1")).refusal.startswith("9.9.9 không")
    async with database.session() as session:
        assert await reviewing.appraised_values(session, all_forms()["so-ban-nganh"], justice) == {}
        assert (await reviewing.scores(session, justice)).appraised is None


async def store_evidence(database, sid: int, code: str, name: str, data: bytes, mime: str):
    """Evidence as a turn stores it (the bytes once, a row per item)."""
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    async with database.session() as session, session.begin():
        if await session.get(Blob, digest) is None:
            session.add(Blob(digest=digest, data=data, mime_type=mime, size=len(data)))
            await session.flush()
        session.add(
            Evidence(
                submission_id=sid,
                code=code,
                kind="file",
                digest=digest,
                filename=name,
                mime_type=mime,
                size=len(data),
            )
        )


async def test_the_documents_end_with_the_evidence_annex_and_the_zip_holds_the_files(
    database, tmp_path
):
    await campaign(database)
    justice = await submission_id(database, "Sở Tư pháp")
    scan = files.pdf(b"quyet dinh 12")
    await store_evidence(
        database, justice, "7.1", "quyet-dinh-quy-che.pdf", scan, "application/pdf"
    )
    await store_evidence(database, justice, "8.1", "ke-hoach.pdf", scan, "application/pdf")
    async with database.session() as session, session.begin():
        session.add(
            Evidence(
                submission_id=justice, code="8.1", kind="link", url="https://stp.gov.vn/kh", size=0
            )
        )
    context = await submission_context(database, justice)
    annex = context["annex"]["rows"]
    assert [(r["code"], r["name"]) for r in annex] == [
        ("7.1", "quyet-dinh-quy-che.pdf"),
        ("8.1", "ke-hoach.pdf"),
        ("8.1", "https://stp.gov.vn/kh"),
    ]

    document = Docx(BytesIO(render_docx(context)))
    table = document.tables[-1]
    assert [c.text for c in table.rows[0].cells] == [
        "STT",
        "Mã",
        "Nội dung",
        "Tài liệu",
        "Dung lượng",
        "Ngày nhận",
    ]
    first = [c.text for c in table.rows[1].cells]
    assert first[1] == "7.1" and first[3] == "quyet-dinh-quy-che.pdf" and first[4] == "1 KB"
    assert first[5].count("/") == 2  # dd/mm/yyyy
    assert [c.text for c in table.rows[3].cells][4] == "đường link"
    assert "PHỤ LỤC. DANH MỤC TÀI LIỆU KIỂM CHỨNG" in [p.text for p in document.paragraphs]

    with pdfplumber.open(BytesIO(render_pdf(context))) as pdf:
        last = pdf.pages[-1].extract_text()
    assert "PHỤ LỤC. DANH MỤC TÀI LIỆU KIỂM CHỨNG" in last
    assert "quyet-dinh-quy-che.pdf" in last and first[5] in last

    target = tmp_path / "campaign.zip"
    await export_bundle(database, all_forms()["so-ban-nganh"], 2020, target, workers=1)
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert archive.read("so-tu-phap/bang-chung/7.1-1-quyet-dinh-quy-che.pdf") == scan
        assert archive.read("so-tu-phap/bang-chung/8.1-1-ke-hoach.pdf") == scan
        links = archive.read("so-tu-phap/bang-chung/lien-ket.txt").decode()
    assert links == "8.1\thttps://stp.gov.vn/kh\n"
    assert not [n for n in names if n.startswith("so-xay-dung/bang-chung/")]


def test_operators_appraise_and_read_evidence_from_the_command_line(cli_db, tmp_path, capsys):  # noqa: F811
    async def prepare() -> int:
        database = Database(cli_db)
        try:
            await campaign(database)
            sid = await submission_id(database, "Sở Tư pháp")
            await store_evidence(database, sid, "7.1", "qd.pdf", files.pdf(), "application/pdf")
            return sid
        finally:
            await database.dispose()

    sid = str(asyncio.run(prepare()))
    capsys.readouterr()
    assert main(["appraise", sid, "7.1", "không", "--note", "Chưa có QĐ"]) == 0
    assert capsys.readouterr().out == "7.1: Không\n"
    assert main(["appraise", sid, "3.1.a", "nhiều"]) == 1
    assert "không phải là một số" in capsys.readouterr().err
    assert main(["evidence", sid]) == 0
    out = capsys.readouterr().out
    assert "7.1: Có\n" in out and "thẩm định: Không — Chưa có QĐ" in out
    evidence_id = out.split("] qd.pdf")[0].rsplit("[", 1)[1]
    target = tmp_path / "qd.pdf"
    assert main(["evidence", sid, "--get", evidence_id, "-o", str(target)]) == 0
    assert target.read_bytes() == files.pdf()
    assert main(["score", sid]) == 0
    assert "Điểm thẩm định:" in capsys.readouterr().out
    assert main(["score", sid, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["appraised"]["total"] < data["total"]
    assert main(["appraise", sid, "7.1", "--withdraw"]) == 0

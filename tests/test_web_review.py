"""The web console's review of a submission, on SQLite and PostgreSQL: the evidence per item
(listed, downloaded as sent, 404 for another submission's), the reviewers' appraisal beside
the unit's own answer (recorded, refused, withdrawn, the two scores side by side) and the
reviewers' scopes (a campaign they were not invited to is refused, 403)."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

import evidence_files as files
import pytest
import test_web_console as web
from sqlalchemy import select
from test_export import campaign as so_ban_nganh_campaign
from test_operations_support import open_campaign, outbox, submission
from test_web_console import BASE, Browser, heading, link_for, signed_in, submitted_unit

from bot.web import web_app
from bot.web.console import console_routes
from storage import repo
from storage.models import Appraisal, Blob, Evidence, Submission, Unit

# The console's fixtures, shared with its other tests.
browser, browser_for_forms, console = web.browser, web.browser_for_forms, web.console

INVOICE = "Hóa đơn mua phần mềm diệt virus.pdf"


async def store_evidence(database, sid: int, code: str, *, name=None, data=None, url=None):
    """Evidence as a turn stores it (the bytes once, a row per item); its id."""
    async with database.session() as session, session.begin():
        if data is not None:
            digest = hashlib.sha256(data).hexdigest()
            if await session.get(Blob, digest) is None:
                session.add(
                    Blob(digest=digest, data=data, mime_type="application/pdf", size=len(data))
                )
                await session.flush()
            row = Evidence(
                submission_id=sid,
                code=code,
                kind="file",
                digest=digest,
                filename=name,
                mime_type="application/pdf",
                size=len(data),
                channel="telegram",
            )
        else:
            row = Evidence(submission_id=sid, code=code, kind="link", url=url, channel="zalo")
        session.add(row)
        await session.flush()
        return row.id


def item_block(page: str, code: str) -> str:
    """The part of the page about one item."""
    found = re.search(
        rf'<div class="answer[^"]*" id="i-{re.escape(code)}">(.*?)\n    </div>', page, re.S
    )
    assert found, f"no item {code} on the page"
    return found.group(1)


def section_open(page: str, code: str) -> bool:
    """Whether the section holding the item is open."""
    before = page[: page.index(f'id="i-{code}"')]
    return (
        before[before.rindex('<details class="card section"') :].split(">", 1)[0].endswith(" open")
    )


async def appraisals(database) -> list[tuple[int, str, str]]:
    async with database.session() as session:
        rows = (await session.execute(select(Appraisal))).scalars().all()
        return sorted((r.submission_id, r.code, r.note) for r in rows)


@pytest.fixture
async def evidence_browser(engine, monkeypatch):
    """Browsers on a console that reads the mini form with evidence: 1.2 optional, 3.6
    required (answered "có" by ``fill_and_submit``)."""
    monkeypatch.delenv("FORMBOT_ADMINS", raising=False)
    app = web_app(console_routes(engine.db, {"mini": files.evidence_spec()}, public_url=BASE))
    opened = []

    def make() -> Browser:
        opened.append(Browser(app))
        return opened[-1]

    yield make
    for b in opened:
        await b.close()


# Evidence -------------------------------------------------------------------------------------


async def test_evidence_is_listed_per_item_and_downloads_as_sent(engine, evidence_browser):
    await open_campaign(engine.db)
    _unit, form = await submitted_unit(engine, engine.db)
    invoice = files.pdf(b"hoa don 2020")
    file_id = await store_evidence(engine.db, form.id, "1.2", name=INVOICE, data=invoice)
    await store_evidence(engine.db, form.id, "1.2", url="https://huongtra.gov.vn/vb/qd-12.pdf")
    b = await signed_in(evidence_browser, engine.db)
    page = (await b.get(f"/submissions/{form.id}")).text
    staff = item_block(page, "1.2")
    assert f'href="/submissions/{form.id}/evidence/{file_id}"' in staff
    assert INVOICE in staff and "PDF" in staff
    assert '<a href="https://huongtra.gov.vn/vb/qd-12.pdf" rel="noopener noreferrer"' in staff
    # 3.6 was answered "có" and takes required evidence, none sent.
    assert "thiếu tài liệu kiểm chứng" in item_block(page, "3.6")
    assert "thiếu tài liệu kiểm chứng" not in staff

    download = await b.get(f"/submissions/{form.id}/evidence/{file_id}")
    assert download.status_code == 200 and download.content == invoice
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="Hoa don mua phan mem diet virus.pdf"' in disposition
    assert f"filename*=UTF-8''{quote(INVOICE, safe='')}" in disposition


async def test_unknown_evidence_or_another_submissions_is_404(engine, evidence_browser):
    await open_campaign(engine.db)
    _unit, form = await submitted_unit(engine, engine.db)
    _other, other = await submitted_unit(engine, engine.db, name="UBND xã Khác", user="32")
    file_id = await store_evidence(engine.db, form.id, "1.2", name="a.pdf", data=files.pdf())
    link_id = await store_evidence(engine.db, form.id, "1.2", url="https://example.gov.vn/a")
    b = await signed_in(evidence_browser, engine.db)
    assert (await b.get(f"/submissions/{form.id}/evidence/{file_id}")).status_code == 200
    for path in (
        f"/submissions/{other.id}/evidence/{file_id}",  # the file of another submission
        f"/submissions/{form.id}/evidence/{link_id}",  # a link has no bytes
        f"/submissions/{form.id}/evidence/{file_id + link_id + 100}",
        f"/submissions/{form.id}/evidence/abc",
        f"/submissions/999/evidence/{file_id}",
    ):
        response = await b.get(path)
        assert response.status_code == 404, path
        assert heading(response) == "Không tìm thấy"


# Appraisal ------------------------------------------------------------------------------------


async def scored_submission(database) -> int:
    """so-ban-nganh 2020 opened, Sở Tư pháp's submission (own score 15.85)."""
    await so_ban_nganh_campaign(database)
    await open_campaign(database, form="so-ban-nganh")
    async with database.session() as session:
        stmt = (
            select(Submission.id)
            .join(Unit, Unit.id == Submission.unit_id)
            .where(Unit.name == "Sở Tư pháp", Submission.year == 2020)
        )
        return (await session.execute(stmt)).scalar_one()


async def test_an_appraisal_is_recorded_refused_and_withdrawn(database, browser_for_forms):
    sid = await scored_submission(database)
    b = await signed_in(browser_for_forms, database)
    path = f"/submissions/{sid}"
    page = (await b.get(path)).text
    assert "Điểm tự đánh giá: 15.85/" in page and "Điểm thẩm định" not in page
    assert f'action="{path}/appraise"' in item_block(page, "3.1.a")
    assert not section_open(page, "3.1.a")  # a long form reads by section

    note = "Kiểm tra thực tế chỉ có 30 máy"
    csrf = await b.csrf()
    done = await b.post(
        f"{path}/appraise", {"csrf": csrf, "code": "3.1.a", "value": "30", "note": note}
    )
    assert done.status_code == 303 and done.headers["location"] == f"{path}?item=3.1.a#i-3.1.a"
    page = (await b.get(done.headers["location"])).text
    assert section_open(page, "3.1.a")  # back where the reviewer was
    block = item_block(page, "3.1.a")
    assert "Thẩm định: <strong>30" in block and note in block and "telegram:900" in block
    assert "Điểm tự đánh giá: 15.85/" in page
    appraised = re.search(r"Điểm thẩm định: ([\d.]+)/", page)
    assert appraised and float(appraised.group(1)) < 15.85
    assert '<th class="num">Thẩm định</th>' in page
    assert await appraisals(database) == [(sid, "3.1.a", note)]

    refused = await b.post(
        f"{path}/appraise", {"csrf": csrf, "code": "3.1.a", "value": "nhiều lắm", "note": "x"}
    )
    assert refused.status_code == 400
    block = item_block(refused.text, "3.1.a")
    assert 'role="alert"' in block and 'value="nhiều lắm"' in block  # kept to correct
    assert section_open(refused.text, "3.1.a") and '<details class="appraise" open>' in block
    assert 'role="alert"' not in item_block(refused.text, "3.6")
    assert await appraisals(database) == [(sid, "3.1.a", note)]  # nothing changed
    empty = await b.post(f"{path}/appraise", {"csrf": csrf, "code": "3.6", "value": " "})
    assert empty.status_code == 400 and "giá trị thẩm định" in item_block(empty.text, "3.6")
    unknown = await b.post(f"{path}/appraise", {"csrf": csrf, "code": "9.9.9", "value": "1"})
    assert unknown.status_code == 400 and "9.9.9 không" in unknown.text

    withdrawn = await b.post(f"{path}/appraise", {"csrf": csrf, "code": "3.1.a", "withdraw": "1"})
    assert withdrawn.status_code == 303
    page = (await b.get(path)).text
    assert "Điểm thẩm định" not in page and "Thẩm định: <strong>" not in page
    assert await appraisals(database) == []


async def test_an_appraisal_needs_this_sessions_csrf_token(database, browser_for_forms):
    sid = await scored_submission(database)
    b = await signed_in(browser_for_forms, database)
    for data in ({}, {"csrf": "guess"}):
        response = await b.post(
            f"/submissions/{sid}/appraise", {**data, "code": "3.1.a", "value": "30"}
        )
        assert response.status_code == 403 and "CSRF" in response.text
    assert await appraisals(database) == []


async def test_the_campaign_page_shows_the_appraised_total_beside_the_own(
    database, browser_for_forms
):
    sid = await scored_submission(database)
    b = await signed_in(browser_for_forms, database, role="admin")  # admins appraise too
    csrf = await b.csrf()
    response = await b.post(
        f"/submissions/{sid}/appraise", {"csrf": csrf, "code": "7.1", "value": "không"}
    )
    assert response.status_code == 303
    page = (await b.get("/campaigns/so-ban-nganh-2020")).text
    justice = page[page.index("Sở Tư pháp") : page.index("</li>", page.index("Sở Tư pháp"))]
    assert "Điểm 15.85" in justice and "thẩm định" in justice
    building = page[page.index("Sở Xây dựng") : page.index("</li>", page.index("Sở Xây dựng"))]
    assert "Điểm " in building and "thẩm định" not in building


# Scopes ---------------------------------------------------------------------------------------


async def scoped_reviewer(database, user: str, campaigns: list[str]) -> None:
    async with database.session() as session, session.begin():
        person = await repo.set_role(session, channel="telegram", external_id=user, role="reviewer")
        person.scope = {"campaigns": campaigns, "forms": []}


async def test_a_scoped_reviewer_is_refused_campaigns_outside_their_scope(engine, browser):
    database = engine.db
    await open_campaign(database)
    unit, form = await submitted_unit(engine, database)
    await open_campaign(database, year=2021)
    await scoped_reviewer(database, "950", ["mini-2021"])
    b = browser()
    assert (await b.open_link(await link_for(database, "950"))).status_code == 303
    home = (await b.get("/")).text
    assert "mini-2021" in home and "mini-2020" not in home
    assert (await b.get("/campaigns/mini-2021")).status_code == 200
    for path in (
        "/campaigns/mini-2020",
        "/campaigns/mini-2020/documents.zip",
        "/campaigns/mini-2020/ranking.xlsx",
        f"/submissions/{form.id}",
        f"/submissions/{form.id}/form.docx",
        f"/submissions/{form.id}/form.pdf",
        f"/submissions/{form.id}/evidence/1",
    ):
        response = await b.get(path)
        assert response.status_code == 403, path
        assert heading(response) == "Không có quyền" and "mini-2021" in response.text
    csrf = await b.csrf()
    for action, data in (
        ("return", {"reason": "thiếu số liệu"}),
        ("approve", {}),
        ("appraise", {"code": "1.2", "value": "3"}),
    ):
        response = await b.post(f"/submissions/{form.id}/{action}", {"csrf": csrf, **data})
        assert response.status_code == 403, action
    assert (await submission(database, unit)).status == "submitted"
    assert [m for m in await outbox(database) if m.kind in ("returned", "approved")] == []
    assert await appraisals(database) == []
    # Still unknown ids are 404, not 403: nothing is said about what is not there.
    assert (await b.get("/submissions/999")).status_code == 404


async def test_a_reviewer_of_the_form_and_an_admin_see_every_campaign(engine, browser):
    database = engine.db
    await open_campaign(database)
    _unit, form = await submitted_unit(engine, database)
    await open_campaign(database, year=2021)
    async with database.session() as session, session.begin():
        person = await repo.set_role(
            session, channel="telegram", external_id="951", role="reviewer"
        )
        person.scope = {"campaigns": [], "forms": ["mini"]}
    whole_form = browser()
    assert (await whole_form.open_link(await link_for(database, "951"))).status_code == 303
    admin = await signed_in(browser, database, user="952", role="admin")
    for b in (whole_form, admin):
        home = (await b.get("/")).text
        assert "mini-2020" in home and "mini-2021" in home
        assert (await b.get("/campaigns/mini-2020")).status_code == 200
        assert (await b.get(f"/submissions/{form.id}")).status_code == 200

"""The web console in a real browser: Debian's chromium driven by Playwright, against the
console served as ``formbot web`` serves it (``bot.app.App`` with the console, a real uvicorn
server on a free port). A reviewer signs in with a one-time link, opens a campaign, returns a
submission with a reason (the respondent's notice is queued in the outbox), downloads the
campaign's ZIP, signs out and is refused. Phone-sized screenshots are left in /tmp for a
person to look at (web-campaign.png, web-submission.png, web-invites.png).

chromium comes from apt (.ci/run installs it); Playwright never downloads a browser here.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import update

from bot.app import App, WebSettings
from dialogs import Engine, access
from dialogs.filling import fill_answers
from dialogs.spec import all_forms
from storage import outbox as queue
from storage import repo
from storage.db import Database
from storage.models import Submission, utcnow

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)


async def campaign_with_a_submitted_form(database: Database) -> int:
    """so-ban-nganh-2020 with three units: one submitted by telegram:31, one being filled, one
    nobody joined; telegram:900 a reviewer, telegram:901 an admin."""
    engine = Engine(database)
    async with database.session() as session, session.begin():
        await repo.open_campaign(
            session,
            campaign_id="so-ban-nganh-2020",
            form_id="so-ban-nganh",
            year=2020,
            deadline=utcnow().date(),
            reminder_days=[7, 3, 1, 0],
        )
        await repo.upsert_unit(session, "Sở Nội vụ", "so-ban-nganh")
        await repo.set_role(session, channel="telegram", external_id="900", role="reviewer")
        await repo.set_role(session, channel="telegram", external_id="901", role="admin")
    answers = {"1.8": "40", "1.9": "0", "2.1": "Nguyễn Thị Lan", "7.1": "có"}
    for name in ("Sở Y tế", "Sở Tài chính"):
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
        unit = await repo.find_unit(session, "Sở Y tế")
        form = await repo.find_submission(session, unit.id, "so-ban-nganh", 2020)
        await session.execute(
            update(Submission)
            .where(Submission.id == form.id)
            .values(status="submitted", submitted_at=utcnow())
        )
        await repo.bind_respondent(
            session,
            channel="telegram",
            external_id="31",
            unit_id=unit.id,
            submission_id=form.id,
            name="Chị Lan",
        )
        other = await repo.find_unit(session, "Sở Tài chính")
        draft = await repo.find_submission(session, other.id, "so-ban-nganh", 2020)
        await repo.bind_respondent(
            session,
            channel="zalo",
            external_id="z-77",
            unit_id=other.id,
            submission_id=draft.id,
            name="Anh Minh",
        )
    return form.id


EVIDENCE_NAME = "Quyết định ban hành quy chế.pdf"
EVIDENCE = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def add_evidence(database: Database, submission_id: int) -> None:
    """A scan and a link for 7.1 (Quy chế), as the bot stores what a unit sends."""
    import hashlib

    from storage.models import Blob, Evidence

    digest = hashlib.sha256(EVIDENCE).hexdigest()
    async with database.session() as session, session.begin():
        session.add(
            Blob(digest=digest, data=EVIDENCE, mime_type="application/pdf", size=len(EVIDENCE))
        )
        await session.flush()
        session.add(
            Evidence(
                submission_id=submission_id,
                code="7.1",
                kind="file",
                digest=digest,
                filename=EVIDENCE_NAME,
                mime_type="application/pdf",
                size=len(EVIDENCE),
            )
        )
        session.add(
            Evidence(
                submission_id=submission_id,
                code="7.1",
                kind="link",
                url="https://soyte.binhdinh.gov.vn/van-ban/quy-che-attt",
            )
        )


async def sign_in_link(database: Database, user: str, base: str) -> str:
    async with database.session() as session, session.begin():
        return await access.issue_web_login(session, "telegram", user, None, base_url=base)


@pytest.fixture
async def console(tmp_path, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "formbot_binhdinh_bot")
    monkeypatch.delenv("FORMBOT_ADMINS", raising=False)
    monkeypatch.delenv("FORMBOT_PUBLIC_URL", raising=False)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'formbot.db'}")
    await database.upgrade()
    submission_id = await campaign_with_a_submitted_form(database)
    app = App(
        Engine(database, all_forms()),
        web=WebSettings("127.0.0.1", 0),
        console=True,
        delivery=False,
    )
    await app.start()
    try:
        yield database, f"http://127.0.0.1:{app.web.port}", submission_id
    finally:
        await app.stop()


async def test_a_reviewer_returns_a_form_downloads_the_zip_and_signs_out(console):
    from playwright.async_api import async_playwright

    database, base, submission_id = console
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"]
        )
        try:
            context = await browser.new_context(viewport=PHONE, accept_downloads=True)
            page = await context.new_page()

            # Sign in with the one-time link: the campaigns.
            await page.goto(await sign_in_link(database, "900", base))
            assert page.url == f"{base}/"
            assert await page.locator("h1").inner_text() == "Đợt báo cáo"

            # The campaign: every unit with its status.
            await page.click("text=so-ban-nganh-2020")
            assert page.url == f"{base}/campaigns/so-ban-nganh-2020"
            units = await page.locator("ul.units").inner_text()
            for name, status in (
                ("Sở Y tế", "đã nộp"),
                ("Sở Tài chính", "đang điền"),
                ("Sở Nội vụ", "chưa bắt đầu"),
            ):
                assert name in units and status in units
            assert await page.locator("svg.chart").count() == 2
            await page.screenshot(path=str(SHOTS / "web-campaign.png"), full_page=True)

            # The ZIP: a folder with the DOCX and PDF of the submitted unit, and the ranking.
            async with page.expect_download() as download_info:
                await page.click("text=Tải hồ sơ (ZIP)")
            download = await download_info.value
            data = Path(await download.path()).read_bytes()
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = sorted(archive.namelist())
            assert names == [
                "so-y-te/phieu-so-ban-nganh-2020-so-y-te.docx",
                "so-y-te/phieu-so-ban-nganh-2020-so-y-te.pdf",
                "xep-hang-so-ban-nganh-2020.xlsx",
            ]

            # The submission: returned with a reason; the respondent is told.
            await page.click("text=Sở Y tế")
            assert page.url == f"{base}/submissions/{submission_id}"
            assert "Nguyễn Thị Lan" in await page.content()
            await page.screenshot(path=str(SHOTS / "web-submission.png"), full_page=True)

            # Its evidence, and one appraisal recorded beside the unit's own answer.
            await add_evidence(database, submission_id)
            await page.reload()
            item = page.locator("#i-7\\.1")
            await page.click("details.section:has(#i-7\\.1) > summary")
            async with page.expect_download() as download_info:
                await item.locator("a[download]").click()
            download = await download_info.value
            assert download.suggested_filename == EVIDENCE_NAME
            assert Path(await download.path()).read_bytes() == EVIDENCE
            await item.locator("details.appraise > summary").click()
            await item.locator("input[name=value]").fill("không")
            await item.locator("textarea[name=note]").fill("Chưa có quyết định ban hành")
            await item.screenshot(path=str(SHOTS / "web-appraise-form.png"))
            await item.locator("button:has-text('Lưu thẩm định')").click()
            assert "#i-7.1" in page.url
            shown = await page.locator("#i-7\\.1 .appraised").inner_text()
            assert "Thẩm định: Không" in shown and "Chưa có quyết định" in shown
            assert "Điểm thẩm định" in await page.locator("section.score").inner_text()
            await page.locator("#i-7\\.1").scroll_into_view_if_needed()
            await page.screenshot(path=str(SHOTS / "web-submission2.png"))
            await page.screenshot(path=str(SHOTS / "web-submission2-full.png"), full_page=True)
            await page.fill("textarea[name=reason]", "Thiếu số liệu mục 3.2, bổ sung giúp")
            await page.click("button:has-text('Trả lại để sửa')")
            assert "1 người điền phiếu" in await page.locator("main").inner_text()
            async with database.session() as session:
                messages = await queue.outbox_messages(session)
                form = await repo.get_submission(session, submission_id)
            assert form.status == "returned"
            (notice,) = [m for m in messages if m.kind == "returned"]
            assert (notice.channel, notice.external_id) == ("telegram", "31")
            assert "Thiếu số liệu mục 3.2, bổ sung giúp" in notice.text

            # A reviewer cannot open the units page.
            response = await page.goto(f"{base}/units")
            assert response.status == 403

            # Signing out: the next page asks to sign in.
            await page.goto(f"{base}/")
            await page.click("button:has-text('Đăng xuất')")
            assert await page.locator("h1").inner_text() == "Đã đăng xuất"
            response = await page.goto(f"{base}/campaigns/so-ban-nganh-2020")
            assert response.status == 401
            assert await page.locator("h1").inner_text() == "Chưa đăng nhập"

            # An admin makes invites for every unit and prints them.
            admin = await (await browser.new_context(viewport=PHONE)).new_page()
            await admin.goto(await sign_in_link(database, "901", base))
            await admin.goto(f"{base}/campaigns/so-ban-nganh-2020/invites")
            await admin.click("button:has-text('Tạo mã mời')")
            assert "Đã tạo 3 mã mời" in await admin.locator("main").inner_text()
            await admin.click("text=Bản in A4 (mã QR)")
            assert await admin.locator(".invite-card svg").count() == 3
            await admin.screenshot(path=str(SHOTS / "web-invites.png"), full_page=True)
            # Printed: A4 pages (the sheet's CSS @page), every unit's code on them.
            printed = PdfReader(io.BytesIO(await admin.pdf(prefer_css_page_size=True)))
            box = printed.pages[0].mediabox
            assert (round(float(box.width)), round(float(box.height))) == (595, 842)
            text = " ".join(p.extract_text() for p in printed.pages)
            assert text.count("Mã mời:") == 3
        finally:
            await browser.close()

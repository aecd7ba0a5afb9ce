"""The web console (``bot.web.console``) as a browser sees it, on SQLite and PostgreSQL:
one-time sign-in links, sessions, sign-out, roles, CSRF, unknown ids, the pages that change
something (return, approve, reminders, closing, invites, units) and bad input."""

from __future__ import annotations

import asyncio
import codecs
import re
import unicodedata
from datetime import timedelta

import httpx
import pytest
import time_machine
from sqlalchemy import func, select
from test_operations_support import (
    add_unit,
    fill_and_submit,
    join,
    make_invite,
    open_campaign,
    outbox,
    submission,
)

from bot.cli import main as cli
from bot.web import web_app
from bot.web.console import console_routes, pages
from dialogs import access
from dialogs.messages import Inbound
from storage import repo
from storage.models import Campaign, OutboxMessage, Unit, WebLogin, WebSession, utcnow

BASE = "http://console.test"


class Browser:
    """One browser (its own cookies) on the console app."""

    def __init__(self, app) -> None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url=BASE)

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path)

    async def post(self, path: str, data: dict | None = None, **kw) -> httpx.Response:
        return await self.http.post(path, data=data, **kw)

    async def open_link(self, link: str) -> httpx.Response:
        return await self.http.get(link.removeprefix(BASE))

    async def csrf(self) -> str:
        page = (await self.get("/")).text
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    async def close(self) -> None:
        await self.http.aclose()


def heading(response: httpx.Response) -> str:
    found = re.search(r"<h1>(.*?)</h1>", response.text, re.S)
    return found.group(1).strip() if found else ""


@pytest.fixture
def console(engine, monkeypatch):
    monkeypatch.delenv("FORMBOT_ADMINS", raising=False)
    monkeypatch.delenv("TELEGRAM_BOT_USERNAME", raising=False)
    return web_app(console_routes(engine.db, engine.forms, public_url=BASE))


@pytest.fixture
async def browser(console):
    opened = []

    def make() -> Browser:
        opened.append(Browser(console))
        return opened[-1]

    yield make
    for b in opened:
        await b.close()


@pytest.fixture
async def browser_for_forms(database, monkeypatch):
    """Browsers on a console of the built-in forms."""
    monkeypatch.delenv("FORMBOT_ADMINS", raising=False)
    app = web_app(console_routes(database, None, public_url=BASE))
    opened = []

    def make() -> Browser:
        opened.append(Browser(app))
        return opened[-1]

    yield make
    for b in opened:
        await b.close()


async def person(database, user: str, role: str, channel: str = "telegram") -> None:
    async with database.session() as session, session.begin():
        await repo.set_role(session, channel=channel, external_id=user, role=role)


async def link_for(database, user: str, channel: str = "telegram") -> str:
    async with database.session() as session, session.begin():
        return await access.issue_web_login(session, channel, user, None, base_url=BASE)


async def signed_in(browser, database, user="900", role="reviewer") -> Browser:
    await person(database, user, role)
    b = browser()
    response = await b.open_link(await link_for(database, user))
    assert response.status_code == 303, response.text
    return b


async def count(database, table) -> int:
    async with database.session() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def submitted_unit(engine, database, name="UBND xã Đã Nộp", user="31"):
    """A unit whose person (telegram ``user``) filled and submitted the mini form."""
    unit = await add_unit(database, name)
    await fill_and_submit(await join(engine, user, await make_invite(database, unit)))
    return unit, await submission(database, unit)


# Signing in ------------------------------------------------------------------------------------


async def test_a_link_signs_in_once_and_opens_an_http_only_session(engine, browser):
    database = engine.db
    await person(database, "900", "reviewer")
    link = await link_for(database, "900")
    assert link.startswith(f"{BASE}/login/")
    first = browser()
    response = await first.open_link(link)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # the public URL is http here
    assert heading(await first.get("/")) == "Đợt báo cáo"

    again = browser()
    refused = await again.open_link(link)
    assert refused.status_code == 400
    assert "đã được dùng" in refused.text and "/web" in refused.text
    assert (await again.get("/")).status_code == 401
    assert await count(database, WebSession) == 1


async def test_tokens_and_cookies_are_stored_hashed(engine, browser):
    database = engine.db
    b = await signed_in(browser, database)
    cookie = b.http.cookies["formbot_session"]
    async with database.session() as session:
        logins = (await session.execute(select(WebLogin))).scalars().all()
        sessions = (await session.execute(select(WebSession))).scalars().all()
    token = (await link_for(database, "900")).rsplit("/", 1)[1]
    stored = {row.token_hash for row in logins} | {row.token_hash for row in sessions}
    assert token not in stored and cookie not in stored
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in stored)


async def test_an_expired_link_signs_nobody_in(engine, browser):
    database = engine.db
    await person(database, "900", "reviewer")
    link = await link_for(database, "900")
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=False):
        response = await browser().open_link(link)
    assert response.status_code == 400 and "hết hạn" in response.text
    assert await count(database, WebSession) == 0


async def test_a_forged_link_signs_nobody_in(engine, browser):
    await person(engine.db, "900", "reviewer")
    b = browser()
    for forged in ("/login/abc", "/login/" + "A" * 43, "/login/%00%27"):
        response = await b.get(forged)
        assert response.status_code == 400, forged
        assert "không đúng" in response.text
    assert await count(engine.db, WebSession) == 0
    assert (await b.get("/")).status_code == 401


async def test_a_link_preview_does_not_use_up_the_link(engine, browser):
    await person(engine.db, "900", "reviewer")
    link = await link_for(engine.db, "900")
    b = browser()
    preview = await b.http.get(
        link.removeprefix(BASE), headers={"User-Agent": "TelegramBot (like TwitterBot)"}
    )
    assert preview.status_code == 200 and 'method="post"' in preview.text
    assert (await b.open_link(link)).status_code == 303


async def test_the_session_lasts_eight_hours(engine, browser):
    b = await signed_in(browser, engine.db)
    with time_machine.travel(utcnow() + timedelta(hours=7, minutes=50), tick=False):
        assert (await b.get("/")).status_code == 200
    with time_machine.travel(utcnow() + timedelta(hours=8, minutes=1), tick=False):
        response = await b.get("/")
    assert response.status_code == 401 and "formbot web login" in response.text


async def test_the_cookie_is_secure_under_https(engine):
    app = web_app(console_routes(engine.db, engine.forms, public_url="https://bot.example.vn"))
    await person(engine.db, "900", "reviewer")
    b = Browser(app)
    response = await b.open_link(await link_for(engine.db, "900"))
    await b.close()
    assert "Secure" in response.headers["set-cookie"]


async def test_signing_out_ends_the_session(engine, browser):
    b = await signed_in(browser, engine.db)
    cookie = b.http.cookies["formbot_session"]
    response = await b.post("/logout", {"csrf": await b.csrf()})
    assert response.status_code == 200 and heading(response) == "Đã đăng xuất"
    assert (await b.get("/")).status_code == 401
    # The old cookie, kept by someone, no longer works either.
    stolen = browser()
    stolen.http.cookies.set("formbot_session", cookie)
    assert (await stolen.get("/")).status_code == 401


async def test_without_a_session_a_page_says_how_to_sign_in(browser):
    response = await browser().get("/campaigns/mini-2020")
    assert response.status_code == 401
    assert "/web" in response.text and "formbot web login" in response.text


# Roles ------------------------------------------------------------------------------------------


async def test_a_reviewer_is_refused_the_admin_pages(engine, browser):
    await open_campaign(engine.db)
    b = await signed_in(browser, engine.db)
    assert (await b.get("/campaigns/mini-2020")).status_code == 200
    csrf = await b.csrf()
    for path in (
        "/units",
        "/outbox",
        "/campaigns/mini-2020/invites",
        "/campaigns/mini-2020/remind",
    ):
        response = await b.get(path)
        assert response.status_code == 403, path
        assert heading(response) == "Không có quyền"
    assert (await b.post("/campaigns/mini-2020/close", {"csrf": csrf})).status_code == 403
    async with engine.db.session() as session:
        assert (await session.get(Campaign, "mini-2020")).status == "open"


async def test_a_respondent_link_opens_nothing(engine, browser):
    unit = await add_unit(engine.db, "UBND xã A")
    await join(engine, "55", await make_invite(engine.db, unit))
    response = await browser().open_link(await link_for(engine.db, "55"))
    assert response.status_code == 403 and "không có quyền" in response.text
    assert await count(engine.db, WebSession) == 0


async def test_a_role_taken_away_is_refused_at_the_next_click(engine, browser):
    b = await signed_in(browser, engine.db, role="admin")
    assert (await b.get("/units")).status_code == 200
    await person(engine.db, "900", "respondent")
    assert (await b.get("/units")).status_code == 403
    assert (await b.get("/")).status_code == 403


async def test_an_admin_from_the_environment_gets_the_admin_pages(engine, browser, monkeypatch):
    monkeypatch.setenv("FORMBOT_ADMINS", "zalo:abc")
    b = browser()
    assert (await b.open_link(await link_for(engine.db, "abc", channel="zalo"))).status_code == 303
    assert (await b.get("/outbox")).status_code == 200


# Unknown ids, errors -----------------------------------------------------------------------------


async def test_unknown_ids_give_the_404_page(engine, browser):
    b = await signed_in(browser, engine.db)
    for path in (
        "/campaigns/khong-co-2020",
        "/campaigns/khong-co-2020/documents.zip",
        "/submissions/999",
        "/submissions/abc",
        "/submissions/999/form.pdf",
        "/no/such/page",
    ):
        response = await b.get(path)
        assert response.status_code == 404, path
        assert heading(response) == "Không tìm thấy"


async def test_a_failure_shows_a_vietnamese_page_not_a_traceback(engine, browser, monkeypatch):
    b = await signed_in(browser, engine.db)

    async def broken(session):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(pages.repo, "list_campaigns", broken)
    response = await b.get("/")
    assert response.status_code == 500
    assert heading(response) == "Có lỗi xảy ra"
    assert "Traceback" not in response.text and "on fire" not in response.text


# Returning and approving -------------------------------------------------------------------------


async def test_a_return_needs_this_sessions_csrf_token(engine, browser):
    await open_campaign(engine.db)
    unit, form = await submitted_unit(engine, engine.db)
    b = await signed_in(browser, engine.db)
    path = f"/submissions/{form.id}/return"
    for data in ({"reason": "thiếu số liệu"}, {"reason": "thiếu số liệu", "csrf": "guess"}):
        response = await b.post(path, data)
        assert response.status_code == 403 and "CSRF" in response.text
    other = await signed_in(browser, engine.db, user="901")
    response = await b.post(path, {"reason": "x", "csrf": await other.csrf()})
    assert response.status_code == 403
    assert (await submission(engine.db, unit)).status == "submitted"
    assert [m for m in await outbox(engine.db) if m.kind == "returned"] == []


async def test_a_return_without_a_reason_changes_nothing(engine, browser):
    await open_campaign(engine.db)
    unit, form = await submitted_unit(engine, engine.db)
    b = await signed_in(browser, engine.db)
    response = await b.post(
        f"/submissions/{form.id}/return", {"reason": "  ", "csrf": await b.csrf()}
    )
    assert response.status_code == 400 and "lý do" in response.text
    assert (await submission(engine.db, unit)).status == "submitted"
    assert [m for m in await outbox(engine.db) if m.kind == "returned"] == []


async def test_a_returned_form_tells_its_people_through_the_outbox(engine, browser):
    await open_campaign(engine.db)
    unit, form = await submitted_unit(engine, engine.db, user="31")
    b = await signed_in(browser, engine.db)
    page = await b.get(f"/submissions/{form.id}")
    assert page.status_code == 200 and "Trả lại để sửa" in page.text
    assert "Tổng số cán bộ, công chức" in page.text  # labels by section
    response = await b.post(
        f"/submissions/{form.id}/return", {"reason": "Thiếu số liệu mục 3", "csrf": await b.csrf()}
    )
    assert response.status_code == 200 and "1 người điền phiếu" in response.text
    returned = await submission(engine.db, unit)
    assert (returned.status, returned.returned_reason) == ("returned", "Thiếu số liệu mục 3")
    (notice,) = [m for m in await outbox(engine.db) if m.kind == "returned"]
    assert (notice.channel, notice.external_id) == ("telegram", "31")
    assert "Thiếu số liệu mục 3" in notice.text
    # Once returned it cannot be approved until resubmitted.
    again = await b.post(f"/submissions/{form.id}/approve", {"csrf": await b.csrf()})
    assert again.status_code == 409


async def test_an_approved_form_tells_its_people(engine, browser):
    await open_campaign(engine.db)
    unit, form = await submitted_unit(engine, engine.db, user="32")
    b = await signed_in(browser, engine.db)
    response = await b.post(f"/submissions/{form.id}/approve", {"csrf": await b.csrf()})
    assert response.status_code == 200
    assert (await submission(engine.db, unit)).status == "approved"
    assert [m.external_id for m in await outbox(engine.db) if m.kind == "approved"] == ["32"]


async def test_the_submission_page_shows_each_items_history(engine, browser):
    await open_campaign(engine.db)
    unit = await add_unit(engine.db, "UBND xã Sửa")
    chat = await join(engine, "33", await make_invite(engine.db, unit))
    await chat.say("Xã Sửa")
    await chat.say("12")
    await chat.say("/sua 1.2")
    await chat.say("15")
    form = await submission(engine.db, unit)
    b = await signed_in(browser, engine.db)
    page = (await b.get(f"/submissions/{form.id}")).text
    assert "12 người → 15 người" in page or "12 → 15" in page, page
    assert "(telegram)" in page


# Campaign pages ----------------------------------------------------------------------------------


async def test_the_campaign_page_lists_units_by_status_with_charts(engine, browser):
    await open_campaign(engine.db)
    await add_unit(engine.db, "UBND xã Chưa Làm")
    await submitted_unit(engine, engine.db)
    b = await signed_in(browser, engine.db)
    page = (await b.get("/campaigns/mini-2020")).text
    assert "UBND xã Chưa Làm" in page and "UBND xã Đã Nộp" in page
    assert page.count("<svg") == 2 and "chưa bắt đầu" in page
    only = (await b.get("/campaigns/mini-2020?status=submitted")).text
    assert "UBND xã Đã Nộp" in only and "UBND xã Chưa Làm" not in only


async def test_reminders_are_previewed_then_queued_and_units_nobody_joined_named(
    engine, browser, monkeypatch
):
    monkeypatch.setenv("FORMBOT_QUIET_HOURS", "off")
    await open_campaign(engine.db)
    await add_unit(engine.db, "UBND xã Vắng")
    busy = await add_unit(engine.db, "UBND xã Đang Làm")
    chat = await join(engine, "41", await make_invite(engine.db, busy))
    await chat.say("Xã Đang Làm")
    b = await signed_in(browser, engine.db, role="admin")
    preview = await b.get("/campaigns/mini-2020/remind")
    assert preview.status_code == 200
    assert "UBND xã Vắng" in preview.text and "telegram" in preview.text
    assert [m for m in await outbox(engine.db) if m.kind == "reminder"] == []
    done = await b.post("/campaigns/mini-2020/remind", {"csrf": await b.csrf()})
    assert done.status_code == 200 and "Đã xếp 1 tin nhắc" in done.text
    assert [m.external_id for m in await outbox(engine.db) if m.kind == "reminder"] == ["41"]


async def test_closing_a_campaign_from_the_console(engine, browser):
    await open_campaign(engine.db)
    b = await signed_in(browser, engine.db, role="admin")
    assert "Đóng đợt" in (await b.get("/campaigns/mini-2020/close")).text
    response = await b.post("/campaigns/mini-2020/close", {"csrf": await b.csrf()})
    assert response.status_code == 200
    async with engine.db.session() as session:
        assert (await session.get(Campaign, "mini-2020")).status == "closed"


async def test_invites_for_every_unit_with_a_printable_sheet_and_a_csv(
    engine, browser, monkeypatch
):
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@formbot_test_bot")
    await open_campaign(engine.db)
    for name in ("UBND xã A", "UBND xã B", "UBND xã C"):
        await add_unit(engine.db, name)
    b = await signed_in(browser, engine.db, role="admin")
    csrf = await b.csrf()
    bad = await b.post("/campaigns/mini-2020/invites", {"csrf": csrf, "days": "nhiều"})
    assert bad.status_code == 400
    response = await b.post(
        "/campaigns/mini-2020/invites", {"csrf": csrf, "role": "respondent", "uses": "2"}
    )
    assert response.status_code == 200 and "Đã tạo 3 mã mời" in response.text
    sheet = (await b.get("/campaigns/mini-2020/invites/print")).text
    assert sheet.count("<svg") == 3 and "https://t.me/formbot_test_bot?start=" in sheet
    lines = (await b.get("/campaigns/mini-2020/invites.csv")).text.lstrip("\ufeff").splitlines()
    assert len(lines) == 4 and lines[1].startswith("UBND xã A,")
    code = lines[1].split(",")[1]
    async with engine.db.session() as session:
        invite = await repo.get_invite(session, code)
    assert (invite.form_id, invite.year, invite.uses_left) == ("mini", 2020, 2)


# Units ------------------------------------------------------------------------------------------


CSV_TEXT = "name,type,parent,contact\nUBND xã Hương Vinh,mini,UBND TP Huế,0234 3 123 456\n"


def windows_1258(text: str) -> bytes:
    """``text`` as Vietnamese Windows writes it: a base letter it has (â, ư, …) followed by
    combining tone marks."""
    out = b""
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
        for cut in range(len(parts), 0, -1):
            try:
                head = unicodedata.normalize("NFC", parts[:cut]).encode("cp1258")
            except UnicodeEncodeError:
                continue
            out += head + parts[cut:].encode("cp1258")
            break
    return out


@pytest.mark.parametrize(
    "encoded",
    [
        CSV_TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + CSV_TEXT.encode("utf-8"),
        CSV_TEXT.encode("utf-16"),  # with its BOM, as Excel's "Unicode text"
        windows_1258(CSV_TEXT),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "windows-1258"],
)
async def test_a_units_csv_in_any_common_encoding(engine, browser, encoded):
    b = await signed_in(browser, engine.db, role="admin")
    response = await b.post(
        "/units/upload", {"csrf": await b.csrf()}, files={"file": ("don-vi.csv", encoded)}
    )
    assert response.status_code == 200 and "1 mới" in response.text
    async with engine.db.session() as session:
        unit = await repo.find_unit(session, "UBND xã Hương Vinh")
    assert (unit.parent, unit.contact) == ("UBND TP Huế", "0234 3 123 456")


async def test_bad_lines_of_a_units_csv_are_reported_by_line(engine, browser):
    b = await signed_in(browser, engine.db, role="admin")
    text = "name,type\nUBND xã Tốt,mini\n,mini\nUBND xã Lạ,truong-hoc\n"
    response = await b.post(
        "/units/upload", {"csrf": await b.csrf()}, files={"file": ("u.csv", text.encode())}
    )
    assert "Dòng 3: thiếu tên" in response.text and "Dòng 4" in response.text
    assert "truong-hoc" in response.text
    assert await count(engine.db, Unit) == 1


async def test_a_20_mb_upload_is_refused_without_being_read(engine, browser):
    b = await signed_in(browser, engine.db, role="admin")
    csrf = await b.csrf()
    sent = 0

    async def body():
        nonlocal sent
        for _ in range(20):
            sent += 1
            yield b"x" * (1024 * 1024)

    # No Content-Length (chunked): read only until it passes the limit.
    response = await b.http.post(
        "/units/upload", content=body(), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert response.status_code == 413 and "5 MB" in response.text
    assert sent <= 7
    # With a Content-Length: refused before any of it is read.
    response = await b.http.post(
        "/units/upload",
        content=b"",
        headers={"Content-Length": str(20 * 1024 * 1024), "Content-Type": "text/csv"},
    )
    assert response.status_code == 413
    # A file just over the limit inside a well-formed form.
    big = b"name,type\n" + b"x" * (5 * 1024 * 1024)
    response = await b.post("/units/upload", {"csrf": csrf}, files={"file": ("big.csv", big)})
    assert response.status_code == 413
    assert await count(engine.db, Unit) == 0


async def test_editing_a_units_contact(engine, browser):
    unit = await add_unit(engine.db, "UBND xã A")
    b = await signed_in(browser, engine.db, role="admin")
    csrf = await b.csrf()
    response = await b.post(
        f"/units/{unit.id}/contact", {"csrf": csrf, "contact": " Chị Lan  0905 "}
    )
    assert response.status_code == 303
    async with engine.db.session() as session:
        assert (await repo.get_unit(session, unit.id)).contact == "Chị Lan 0905"
    assert (await b.post("/units/999/contact", {"csrf": csrf, "contact": "x"})).status_code == 404


async def test_the_outbox_page_counts_and_lists_failures(engine, browser):
    b = await signed_in(browser, engine.db, role="admin")
    page = await b.get("/outbox")
    assert page.status_code == 200 and "Không có tin nào bị lỗi" in page.text
    async with engine.db.session() as session, session.begin():
        for n, status in enumerate(("sent", "sent", "failed", "queued")):
            session.add(
                OutboxMessage(
                    key=f"k{n}",
                    channel="telegram",
                    external_id=str(70 + n),
                    kind="reminder",
                    text="Nhắc",
                    status=status,
                    reason="Forbidden: bot was blocked" if status == "failed" else None,
                )
            )
    page = (await b.get("/outbox")).text
    counts = dict(
        (label, int(n))
        for n, label in re.findall(r"<strong>(\d+)</strong><span>([^<]+)</span>", page)
    )
    assert counts == {"đang chờ": 1, "đang gửi": 0, "đã gửi": 2, "lỗi": 1, "bị chặn": 0}
    assert "telegram:72: Forbidden: bot was blocked" in page


# Chat /web and formbot web login -----------------------------------------------------------------


async def test_web_in_chat_sends_a_reviewer_a_link_that_signs_in(engine, browser, monkeypatch):
    await person(engine.db, "900", "reviewer")
    monkeypatch.delenv("FORMBOT_PUBLIC_URL", raising=False)
    (reply,) = await engine.handle(Inbound("telegram", "900", text="/web", message_id="w1"))
    assert "FORMBOT_PUBLIC_URL" in reply.text
    monkeypatch.setenv("FORMBOT_PUBLIC_URL", BASE + "/")
    (reply,) = await engine.handle(Inbound("telegram", "900", text="/web", message_id="w2"))
    link = re.search(r"http\S+", reply.text).group(0)
    assert link.startswith(f"{BASE}/login/")
    assert (await browser().open_link(link)).status_code == 303


async def test_web_in_chat_is_refused_to_a_respondent(engine, monkeypatch):
    monkeypatch.setenv("FORMBOT_PUBLIC_URL", BASE)
    unit = await add_unit(engine.db, "UBND xã A")
    chat = await join(engine, "56", await make_invite(engine.db, unit))
    reply = await chat.say("/web")
    assert "/web" in reply and "login" not in reply
    assert await count(engine.db, WebLogin) == 0


def test_formbot_web_login_prints_a_link_for_staff_only(tmp_path, monkeypatch, capsys):
    from storage.db import Database

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FORMBOT_PUBLIC_URL", "https://bot.example.vn")
    monkeypatch.setenv("FORMBOT_ADMINS", "telegram:7")
    assert cli(["web", "login", "telegram:7"]) == 0
    assert capsys.readouterr().out.startswith("https://bot.example.vn/login/")
    assert cli(["web", "login", "Nguyễn Văn An"]) == 0  # an admin at the server's shell
    assert cli(["web", "login", "12345"]) == 2  # which channel's user?
    assert cli(["web", "login", "telegram:8"]) == 1
    assert "not a reviewer or an admin" in capsys.readouterr().err

    async def logins():
        database = Database(url)
        try:
            async with database.session() as session:
                return list((await session.execute(select(WebLogin))).scalars())
        finally:
            await database.dispose()

    rows = asyncio.run(logins())
    assert sorted((r.channel, r.external_id) for r in rows) == [
        ("cli", "Nguyễn Văn An"),
        ("telegram", "7"),
    ]


async def test_the_console_shares_the_server_with_the_webhooks(engine):
    """As ``formbot run … --web`` assembles it: the webhook's route answers its own path, the
    console every other one."""
    from bot.web import telegram_webhook

    async def process(update):
        raise AssertionError("no update without the secret")

    hook = telegram_webhook("/telegram/hook", "secret-1", process)
    app = web_app([hook, *console_routes(engine.db, engine.forms, public_url=BASE)])
    b = Browser(app)
    try:
        assert (await b.post("/telegram/hook", content=b"{}")).status_code == 403
        assert (await b.get("/")).status_code == 401
        assert (await b.get("/console.css")).status_code == 200
    finally:
        await b.close()


async def test_kept_warnings_show_on_the_campaign_and_the_submission(database, browser_for_forms):
    from test_conversation import option, start, walk_to

    from dialogs import Engine
    from templates.messages import say

    engine = Engine(database)
    await open_campaign(database, form="so-ban-nganh")
    chat = await start(engine, "so-ban-nganh")
    await walk_to(chat, "so-ban-nganh", "3.2.a", {"1.8": "212", "1.9": "0", "3.1.a": "212"})
    await chat.say("230")
    await chat.press(option(chat, say("keep_warning")))
    b = await signed_in(browser_for_forms, database)
    campaign = (await b.get("/campaigns/so-ban-nganh-2020")).text
    assert "⚠ 1 cảnh báo được giữ" in campaign
    link = re.search(r'href="(/submissions/\d+)"', campaign).group(1)
    page = (await b.get(link)).text
    assert "230 máy tính có Internet nhưng chỉ có 212 CBCC" in page


async def test_a_submissions_documents_download_as_attachments(engine, browser):
    await open_campaign(engine.db)
    _unit, form = await submitted_unit(engine, engine.db)
    b = await signed_in(browser, engine.db)
    docx = await b.get(f"/submissions/{form.id}/form.docx")
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    assert 'filename="phieu-mini-2020-ubnd-xa-da-nop.docx"' in docx.headers["content-disposition"]
    pdf = await b.get(f"/submissions/{form.id}/form.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert (await b.get(f"/submissions/{form.id}/form.exe")).status_code == 404


# Wording ---------------------------------------------------------------------------------------

# The marks Vietnamese puts on Latin letters (grave, acute, circumflex, tilde, breve, hook above,
# horn, dot below); with đ/Đ they tell Vietnamese wording from code.
VIETNAMESE_MARKS = set("\u0300\u0301\u0302\u0303\u0306\u0309\u031b\u0323")
# Literals that process Vietnamese rather than say it: the ASCII fold of attachment names.
NOT_WORDING = {("pages.py", "đ"), ("pages.py", "Đ")}


def is_vietnamese(text: str) -> bool:
    return any(
        ch in "đĐ" or VIETNAMESE_MARKS & set(unicodedata.normalize("NFD", ch)[1:]) for ch in text
    )


def test_the_console_code_keeps_its_wording_in_the_messages_file():
    """Every Vietnamese text the console shows comes from templates/messages.vi.yaml through
    say(): no string literal of its Python code (docstrings aside) holds Vietnamese."""
    import ast
    from pathlib import Path

    package = Path(pages.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and (path.name, node.value) not in NOT_WORDING
                and is_vietnamese(node.value)
            ):
                found.append(f"{path.relative_to(package)}:{node.lineno}: {node.value!r}")
    assert len(list(package.rglob("*.py"))) >= 4  # the package was found and read
    assert not found, "Vietnamese wording belongs in templates/messages.vi.yaml:\n" + "\n".join(
        found
    )

"""Running a campaign: the CLI of the IT team and the reviewers' chat commands."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, date, datetime

import openpyxl
import pytest
import time_machine
from chatting import Chat
from conftest import BACKENDS, fresh_database
from test_operations_support import (
    add_unit,
    fill_and_submit,
    join,
    make_invite,
    open_campaign,
    outbox,
    submission,
)

from bot.cli import main
from dialogs import Engine
from dialogs.messages import Document
from storage import outbox as queue
from storage import repo
from storage.db import Database

# The CLI ---------------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def cli_db(request, tmp_path, monkeypatch):
    """A fresh database the ``formbot`` commands use (through DATABASE_URL)."""

    async def prepare() -> str:
        database = await fresh_database(request.param, tmp_path)
        await database.dispose()
        return database.url

    url = asyncio.run(prepare())
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("TELEGRAM_BOT_USERNAME", raising=False)
    return url


def query(url: str, function):
    async def run():
        database = Database(url)
        try:
            async with database.session() as session:
                return await function(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


UNITS_CSV = (
    "name,type,parent,contact\n"
    "UBND xã Hương Vinh,xa-phuong,UBND thị xã Hương Trà,0234 3777 001\n"
    "Sở Y tế,so-ban-nganh,,syt@binhdinh.gov.vn\n"
    "UBND xã Hương Toàn,xaphuong,UBND thị xã Hương Trà,\n"
    ",ubnd-huyen,,\n"
    "UBND huyện Tuy Phước,ubnd-huyen,,\n"
)


def test_units_import_reports_bad_rows_and_imports_the_rest(cli_db, tmp_path, capsys):
    path = tmp_path / "units.csv"
    path.write_bytes(b"\xef\xbb\xbf" + UNITS_CSV.encode())  # Excel's UTF-8 with BOM
    assert main(["units", "import", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "line 4: unknown type 'xaphuong' for 'UBND xã Hương Toàn'" in err
    assert "line 5: the name is empty" in err
    assert "3 units imported: 3 new, 0 updated, 0 unchanged; 2 bad rows" in out
    units = query(cli_db, repo.list_units)
    assert {u.name: u.form_id for u in units} == {
        "UBND xã Hương Vinh": "xa-phuong",
        "Sở Y tế": "so-ban-nganh",
        "UBND huyện Tuy Phước": "ubnd-huyen",
    }
    vinh = next(u for u in units if u.name == "UBND xã Hương Vinh")
    assert (vinh.parent, vinh.contact) == ("UBND thị xã Hương Trà", "0234 3777 001")

    # Re-importing (without BOM, one change) updates and never duplicates.
    path.write_text(
        UNITS_CSV.replace("syt@binhdinh.gov.vn", "vanthu.syt@binhdinh.gov.vn"), encoding="utf-8"
    )
    assert main(["units", "import", str(path)]) == 1
    assert "3 units imported: 0 new, 1 updated, 2 unchanged" in capsys.readouterr().out
    units = query(cli_db, repo.list_units)
    assert len(units) == 3
    assert next(u for u in units if u.name == "Sở Y tế").contact == "vanthu.syt@binhdinh.gov.vn"

    assert main(["units", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [u["name"] for u in listed if u["type"] == "xa-phuong"] == ["UBND xã Hương Vinh"]


def test_units_import_without_the_needed_columns_imports_nothing(cli_db, tmp_path, capsys):
    path = tmp_path / "units.csv"
    path.write_text("ten,loai\nUBND xã A,xa-phuong\n", encoding="utf-8")
    assert main(["units", "import", str(path)]) == 2
    assert "the header lacks name, type" in capsys.readouterr().err
    assert query(cli_db, repo.list_units) == []


def test_campaign_open_invite_and_status(cli_db, tmp_path, capsys, monkeypatch):
    path = tmp_path / "units.csv"
    path.write_text(UNITS_CSV, encoding="utf-8")
    main(["units", "import", str(path)])
    assert main(["invite", "Hương Vinh"]) == 2
    assert "no open campaign for xa-phuong" in capsys.readouterr().err

    args = ["campaign", "open", "--form", "xa-phuong", "--year", "2020", "--deadline"]
    assert main([*args, "2020-12-15"]) == 0
    assert "opened campaign xa-phuong-2020: deadline 2020-12-15" in capsys.readouterr().out
    assert main([*args, "2020-12-20", "--remind-days", "5,1"]) == 0  # same form and year
    assert "updated campaign xa-phuong-2020: deadline 2020-12-20" in capsys.readouterr().out
    campaigns = query(cli_db, repo.open_campaigns)
    assert [(c.id, c.deadline, c.reminder_days) for c in campaigns] == [
        ("xa-phuong-2020", date(2020, 12, 20), [5, 1])
    ]

    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@formbot_binhdinh_bot")
    assert main(["invite", "huong vinh", "--uses", "3", "--days", "10"]) == 0
    out = capsys.readouterr().out
    code = out.split("code:", 1)[1].split()[0]
    assert f"https://t.me/formbot_binhdinh_bot?start={code}" in out
    assert f"/start {code}" in out and "UBND xã Hương Vinh" in out  # the Zalo text
    invite = query(cli_db, lambda s: repo.get_invite(s, code))
    assert (invite.form_id, invite.year, invite.role, invite.uses_left) == (
        "xa-phuong",
        2020,
        "respondent",
        3,
    )

    assert main(["invite", "Sở Y tế", "--role", "reviewer"]) == 0
    out = capsys.readouterr().out
    assert "role reviewer" in out and "người duyệt" in out

    assert main(["campaign", "status", "--json"]) == 0
    [status] = json.loads(capsys.readouterr().out)
    assert status["campaign"] == "xa-phuong-2020"
    assert [(u["unit"], u["status"], u["status_label"], u["percent"]) for u in status["units"]] == [
        ("UBND xã Hương Vinh", "not_started", "chưa bắt đầu", 0)
    ]


def test_a_reviewer_invite_names_campaigns_or_a_form_instead_of_a_unit(cli_db, capsys):
    open_args = ["campaign", "open", "--form", "xa-phuong", "--year", "2020"]
    assert main([*open_args, "--deadline", "2020-12-15"]) == 0
    capsys.readouterr()
    assert main(["invite", "--role", "reviewer", "--campaign", "xa-phuong-2020"]) == 0
    out = capsys.readouterr().out
    assert "reviews:  xa-phuong-2020, role reviewer" in out
    assert "quyền người duyệt phiếu xa-phuong-2020" in out
    code = out.split("code:")[1].split()[0]
    invite = query(cli_db, lambda s: repo.get_invite(s, code))
    assert (invite.unit_id, invite.scope, invite.uses_left) == (
        None,
        {"campaigns": ["xa-phuong-2020"], "forms": []},
        1,
    )
    assert main(["invite", "--role", "reviewer", "--form", "so-ban-nganh", "--uses", "3"]) == 0
    assert "reviews:  so-ban-nganh" in capsys.readouterr().out
    # Refused, saying what to type instead.
    assert main(["invite", "--role", "reviewer", "--campaign", "xa-phuong-2019"]) == 2
    assert "no campaign 'xa-phuong-2019'; open ones: xa-phuong-2020" in capsys.readouterr().err
    assert main(["invite", "--campaign", "xa-phuong-2020"]) == 2
    assert "name the unit to invite" in capsys.readouterr().err
    assert main(["invite", "--role", "reviewer"]) == 2
    assert "names a unit, --campaign ID or --form ID" in capsys.readouterr().err


def test_admin_add_and_list(cli_db, capsys, monkeypatch):
    monkeypatch.setenv("FORMBOT_ADMINS", "telegram:7")
    assert main(["admin", "add", "telegram:42"]) == 0
    assert main(["admin", "list"]) == 0
    out = capsys.readouterr().out
    assert "telegram:42" in out and "telegram:7  (FORMBOT_ADMINS)" in out
    person = query(cli_db, lambda s: repo.get_respondent(s, "telegram", "42"))
    assert person.role == "admin"


# Reviewers in chat -----------------------------------------------------------------------------


async def people(engine, database):
    """A campaign with two communes; a respondent in each and a reviewer at the Sở."""
    await open_campaign(database)
    office = await add_unit(database, "Sở Thông tin và Truyền thông", form="so-ban-nganh")
    vinh = await add_unit(database, "UBND xã Hương Vinh")
    toan = await add_unit(database, "UBND xã Hương Toàn")
    alice = await join(engine, "11", await make_invite(database, vinh))
    bob = await join(engine, "12", await make_invite(database, toan))
    reviewer = await join(engine, "90", await make_invite(database, office, role="reviewer"))
    return vinh, toan, alice, bob, reviewer


async def test_return_fix_and_resubmit(engine, database):
    vinh, _toan, alice, _bob, reviewer = await people(engine, database)
    assert "chỉ trả lại được phiếu đã nộp" in await reviewer.say("/tralai UBND xã Hương Vinh: x")
    assert "Đã nộp phiếu" in await fill_and_submit(alice)

    reply = await reviewer.say("/tralai UBND xã Hương Vinh thiếu số liệu mục 3")
    assert "Đã trả lại phiếu của UBND xã Hương Vinh năm 2020" in reply and "1 người" in reply
    returned = await submission(database, vinh)
    assert (returned.status, returned.returned_reason) == ("returned", "thiếu số liệu mục 3")
    [notice] = [m for m in await outbox(database) if m.kind == "returned"]
    assert (notice.external_id, notice.kind, notice.status) == ("11", "returned", "queued")
    assert "trả lại để sửa: thiếu số liệu mục 3" in notice.text

    assert "bị trả lại" in await reviewer.say("/danhsach")
    await alice.say("/sua 3.1")
    assert "✓ Đã lưu 3.1: 9" in await alice.say("9")
    await alice.say("/nop")
    assert "Đã nộp phiếu" in await alice.press("confirm:yes")
    again = await submission(database, vinh)
    assert (again.status, again.returned_reason) == ("submitted", None)
    assert "đã nộp" in await reviewer.say("/danhsach")

    reply = await reviewer.say(f"/duyet {vinh.id}")
    assert "Đã duyệt phiếu của UBND xã Hương Vinh" in reply
    assert (await submission(database, vinh)).status == "approved"
    # The reviewer was told of each submit (dialogs.campaigns.submitted_notices).
    kinds = [(m.kind, m.external_id) for m in await outbox(database)]
    told = [("submitted", "90"), ("returned", "11"), ("submitted", "90"), ("approved", "11")]
    assert kinds == told
    assert "đã được duyệt" in await alice.say("/sua 3.1")
    assert "chỉ duyệt được phiếu đã nộp" in await reviewer.say("/duyet Hương Vinh")


async def test_return_needs_a_reason_and_a_known_unit(engine, database):
    _vinh, _toan, alice, _bob, reviewer = await people(engine, database)
    await fill_and_submit(alice)
    assert "Hãy ghi lý do" in await reviewer.say("/tralai UBND xã Hương Vinh")
    assert "dấu hai chấm" in await reviewer.say("/tralai Hương Vinh thiếu mục 3")
    assert "Không tìm thấy đơn vị «Hương Thủy»" in await reviewer.say("/tralai Hương Thủy: x")
    reply = await reviewer.say("/taiphieu Hương")
    assert "Có nhiều đơn vị khớp" in reply and "UBND xã Hương Toàn" in reply
    reply = await reviewer.say("/tralai huong vinh: sai số máy tính")  # without diacritics
    assert "Đã trả lại phiếu của UBND xã Hương Vinh" in reply


async def test_list_shows_status_and_progress_and_filters(engine, database):
    _vinh, _toan, alice, bob, reviewer = await people(engine, database)
    await fill_and_submit(alice)
    await bob.say("Xã Hương Toàn")
    reply = await reviewer.say("/danhsach")
    assert "#mini-2020" in reply and "hạn nộp 15/12/2020" in reply
    assert "UBND xã Hương Vinh — đã nộp, 100%" in reply
    assert "UBND xã Hương Toàn — đang điền, 6%" in reply
    assert "Sở Thông tin và Truyền thông" not in reply  # other type, not in this campaign
    reply = await reviewer.say("/danhsach #chuanop")
    assert "Hương Toàn" in reply and "UBND xã Hương Vinh —" not in reply
    assert "Không hiểu: #abc" in await reviewer.say("/danhsach #abc")


async def test_documents_of_a_unit(engine, database):
    vinh, _toan, alice, _bob, reviewer = await people(engine, database)
    assert "chưa được bật" in await reviewer.say("/taiphieu Hương Vinh")
    asked = []

    async def render(submission_id: int) -> list[Document]:
        asked.append(submission_id)
        return [
            Document("phieu.docx", b"docx", "application/vnd.openxmlformats"),
            Document("phieu.pdf", b"%PDF", "application/pdf"),
        ]

    await fill_and_submit(alice)
    engine.services.render_documents = render
    await reviewer.say(f"/taiphieu {vinh.id}")
    assert [m.document.filename for m in reviewer.last if m.document] == [
        "phieu.docx",
        "phieu.pdf",
    ]
    assert asked == [(await submission(database, vinh)).id]


async def test_ranking_lists_submitted_units(engine, database):
    _vinh, _toan, alice, _bob, reviewer = await people(engine, database)
    await fill_and_submit(alice)
    reply = await reviewer.say("/xephang")
    assert "1 đơn vị đã nộp" in reply and "1. UBND xã Hương Vinh" in reply
    assert "Hương Toàn" not in reply
    assert "không phải điểm chính thức" in reply
    [sheet] = [m.document for m in reviewer.last if m.document]
    assert sheet.filename == "xep-hang-mini-2020.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(sheet.data))
    cells = {c.value for row in workbook.active.iter_rows() for c in row}
    assert "UBND xã Hương Vinh" in cells


async def test_announcement_to_a_filtered_audience(engine, database, monkeypatch):
    monkeypatch.setenv("FORMBOT_ADMINS", "telegram:1")
    _vinh, _toan, alice, _bob, _reviewer = await people(engine, database)
    await fill_and_submit(alice)
    admin = Chat(engine, user="1", channel="telegram")
    reply = await admin.say("/thongbao #mini-2020 #chuanop Hạn nộp là thứ Sáu 11/12")
    assert "Đã xếp hàng gửi thông báo tới 1 người" in reply and "chưa bắt đầu" in reply
    [message] = await announcements(database)
    assert (message.external_id, message.kind) == ("12", "announcement")
    assert message.text.endswith("Hạn nộp là thứ Sáu 11/12")
    assert "Gõ /thongbao kèm nội dung" in await admin.say("/thongbao #chuanop")
    assert "Không có người nhận" in await admin.say("/thongbao #daduyet Cảm ơn")
    assert len(await announcements(database)) == 1


async def announcements(database):
    return [m for m in await outbox(database) if m.kind == "announcement"]


def test_remind_broadcast_and_outbox_from_the_cli(cli_db, tmp_path, capsys):
    path = tmp_path / "units.csv"
    path.write_text(UNITS_CSV, encoding="utf-8")
    main(["units", "import", str(path)])
    main(["campaign", "open", "--form", "xa-phuong", "--year", "2020", "--deadline", "2020-12-15"])

    async def someone_filling_in() -> None:
        database = Database(cli_db)
        try:
            engine = Engine(database)
            await engine.bind(
                "telegram", "77", unit_name="UBND xã Hương Vinh", form_id="xa-phuong", year=2020
            )
        finally:
            await database.dispose()

    asyncio.run(someone_filling_in())
    capsys.readouterr()
    three_days_before = datetime(2020, 12, 12, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam
    with time_machine.travel(three_days_before, tick=False):
        assert main(["remind", "xa-phuong-2020", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "UBND xã Hương Vinh" in out and "telegram:77" in out and "chưa bắt đầu" in out
        assert "1 recipients for xa-phuong-2020 on 2020-12-12 (dry run" in out
        assert main(["remind", "xa-phuong-2020"]) == 0
        assert "1 reminders queued for xa-phuong-2020 on 2020-12-12" in capsys.readouterr().out
        assert main(["remind", "xa-phuong-2020"]) == 0
        assert "0 reminders queued" in (out := capsys.readouterr().out)
        assert "1 already reminded that day" in out
    assert main(["remind", "xa-phuong-2021"]) == 2

    assert main(["broadcast", "--status", "not-submitted", "--text", "Họp lúc 9h"]) == 0
    assert "1 messages queued" in capsys.readouterr().out
    assert main(["broadcast", "--status", "submitted,approved", "--text", "Cảm ơn"]) == 0
    assert "0 messages queued" in capsys.readouterr().out
    assert main(["broadcast", "--status", "bogus", "--text", "x"]) == 2
    assert main(["outbox", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"queued": 2}
    messages = query(cli_db, queue.outbox_messages)
    assert [(m.kind, m.external_id) for m in messages] == [
        ("reminder", "77"),
        ("announcement", "77"),
    ]
    assert "còn 3 ngày" in messages[0].text and "Họp lúc 9h" in messages[1].text


def test_campaign_close_moves_people_on_with_their_next_message(cli_db, capsys):
    main(["campaign", "open", "--form", "xa-phuong", "--year", "2020", "--deadline", "2020-12-15"])

    async def bind_then(message: str | None) -> str:
        database = Database(cli_db)
        try:
            engine = Engine(database)
            if message is None:
                await engine.bind(
                    "telegram", "88", unit_name="UBND xã Hương Chữ", form_id="xa-phuong", year=2020
                )
                return ""
            chat = Chat(engine, "88", channel="telegram")
            return await chat.say(message)
        finally:
            await database.dispose()

    asyncio.run(bind_then(None))
    main(["campaign", "open", "--form", "xa-phuong", "--year", "2021", "--deadline", "2021-12-15"])
    assert "[Năm 2020 ·" in asyncio.run(bind_then("/tieptuc"))
    capsys.readouterr()
    assert main(["campaign", "close", "xa-phuong-2020"]) == 0
    assert "closed campaign xa-phuong-2020" in capsys.readouterr().out
    reply = asyncio.run(bind_then("chào"))
    assert "Đợt báo cáo năm 2021 đã mở" in reply and "[Năm 2021 ·" in reply
    assert main(["campaign", "close", "xa-phuong-1999"]) == 2


async def test_ranking_names_an_appraised_total_beside_the_units_own(engine, database):
    from dialogs import reviewing

    vinh, _toan, alice, _bob, reviewer = await people(engine, database)
    await fill_and_submit(alice)
    assert "thẩm định" not in await reviewer.say("/xephang")
    sid = (await submission(database, vinh)).id
    async with database.session() as session, session.begin():
        appraised = await reviewing.appraise(session, sid, "1.2", "5", forms=engine.forms)
    assert appraised.refusal is None and appraised.shown == "5 người"
    assert "1. UBND xã Hương Vinh — 0.0/0.0 điểm (0%) — thẩm định; tự đánh giá 0.0" in (
        await reviewer.say("/xephang")
    )


async def test_list_shows_the_warnings_a_unit_kept(database, monkeypatch):
    """A reviewer sees in /danhsach which units kept a warning, before opening any form."""
    from test_conversation import option, start, walk_to

    from dialogs import Engine
    from templates.messages import say

    monkeypatch.setenv("FORMBOT_ADMINS", "telegram:7")
    engine = Engine(database)
    await open_campaign(database, form="so-ban-nganh")
    chat = await start(engine, "so-ban-nganh")
    await walk_to(chat, "so-ban-nganh", "3.2.a", {"1.8": "212", "1.9": "0", "3.1.a": "212"})
    await chat.say("230")  # more computers online than staff with a computer: a warning
    await chat.press(option(chat, say("keep_warning")))
    admin = Chat(engine, user="7", channel="telegram")
    listing = await admin.say("/danhsach")
    assert "Sở Tư pháp — đang điền" in listing and "⚠ 1 cảnh báo đã giữ" in listing

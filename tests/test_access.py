"""Invites, the wrong-code limit and roles, as the people using the bot meet them."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from chatting import Chat
from test_operations_support import (
    add_unit,
    fill_and_submit,
    join,
    make_invite,
    open_campaign,
    outbox,
    respondent,
    submission,
)

from dialogs import Engine
from dialogs.messages import Inbound
from storage import repo
from storage.db import Database

NOW = datetime(2020, 12, 1, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam


async def test_invite_binds_the_user_to_the_unit_and_role(engine, database):
    unit = await add_unit(database, "UBND xã Hương Vinh")
    code = await make_invite(database, unit, uses=2)
    chat = await join(engine, "101", code)
    assert "UBND xã Hương Vinh" in chat.text and "năm 2020" in chat.text
    assert chat.asks == "1.1"
    person = await respondent(database, "101")
    assert (person.unit_id, person.role) == (unit.id, "respondent")
    assert (await submission(database, unit)).id == person.submission_id
    # Opening the same link again costs no use and resumes where they were.
    await chat.say("Sở TT&TT")
    again = await chat.say(f"/start {code}")
    assert "Chào mừng trở lại" in again and chat.asks == "1.2"
    async with database.session() as session:
        assert (await repo.get_invite(session, code)).uses_left == 1


async def test_an_invite_runs_out_of_uses(engine, database):
    unit = await add_unit(database, "UBND xã Hương Toàn")
    code = await make_invite(database, unit, uses=1)
    await join(engine, "201", code)
    late = await join(engine, "202", code)
    assert "đã hết hạn hoặc đã dùng hết lượt" in late.text
    assert await respondent(database, "202") is None


async def test_expired_invite_is_refused_and_binds_nobody(engine, database):
    unit = await add_unit(database, "UBND xã Hương Xuân")
    with time_machine.travel(NOW, tick=False):
        code = await make_invite(database, unit, expires_at=NOW + timedelta(days=1))
    with time_machine.travel(NOW + timedelta(days=1, seconds=1), tick=False):
        chat = await join(engine, "301", code)
    assert f"Mã mời «{code}» đã hết hạn" in chat.text
    assert await respondent(database, "301") is None
    # Before expiry the same code works.
    with time_machine.travel(NOW + timedelta(hours=23), tick=False):
        chat = await join(engine, "302", code)
    assert chat.asks == "1.1"


async def test_codes_are_accepted_in_lower_case(engine, database):
    unit = await add_unit(database, "UBND phường Tứ Hạ")
    code = await make_invite(database, unit)
    chat = await join(engine, "303", code.lower())
    assert chat.asks == "1.1"


async def test_more_than_five_wrong_codes_within_an_hour_are_refused(engine, database):
    unit = await add_unit(database, "UBND xã Hương Phong")
    code = await make_invite(database, unit)
    chat = Chat(engine, user="401", channel="telegram")
    with time_machine.travel(NOW, tick=False) as traveller:
        for n in range(5):
            reply = await chat.say(f"/start WRONG{n}")
            assert "không đúng" in reply
            assert f"còn {4 - n} lần" in reply if n < 4 else "đến 11:00" in reply
            traveller.shift(timedelta(minutes=5))
        # 25 minutes after the first wrong code: locked until the first one is an hour old,
        # even for the right code.
        reply = await chat.say(f"/start {code}")
        assert "nhập sai mã mời quá nhiều lần" in reply and "đến 11:00" in reply
        assert await respondent(database, "401") is None
        # Another person is not affected.
        assert (await join(engine, "402", code)).asks == "1.1"
        traveller.shift(timedelta(minutes=34))  # 10:59
        assert "quá nhiều lần" in await chat.say(f"/start {code}")
        traveller.shift(timedelta(minutes=1, seconds=1))  # 11:00:01, one wrong code left the hour
        reply = await chat.say(f"/start {code}")
    assert "quá nhiều lần" not in reply and chat.asks == "1.1"
    assert (await respondent(database, "401")).unit_id == unit.id


async def test_the_wrong_code_limit_holds_when_two_workers_count_at_once(engine, database):
    """Twelve wrong codes at once, over two workers (two engines with their own connections
    on one database): five are counted and answered as wrong, the rest are locked out."""
    second = Database(database.url)  # another worker process's connections
    try:
        workers = [engine, Engine(second, engine.forms)]
        inbounds = [
            Inbound("telegram", "404", text=f"/start WRONG{n}", message_id=f"w{n}")
            for n in range(12)
        ]
        replies = await asyncio.gather(
            *(workers[n % 2].handle(inbound) for n, inbound in enumerate(inbounds))
        )
    finally:
        await second.dispose()
    texts = [reply[0].text for reply in replies]
    wrong = [text for text in texts if "không đúng" in text]
    locked = [text for text in texts if "không đúng" not in text]
    assert len(wrong) == 5
    assert len(locked) == 12 - 5 and all("quá nhiều lần" in text for text in locked)
    async with database.session() as session:
        counted = await repo.wrong_codes_since(session, "telegram", "404", NOW - timedelta(days=1))
    assert len(counted) == 5


async def test_expired_codes_do_not_count_as_wrong(engine, database):
    unit = await add_unit(database, "UBND xã Bình Tiến")
    with time_machine.travel(NOW, tick=False):
        expired = await make_invite(database, unit, expires_at=NOW - timedelta(days=1))
        good = await make_invite(database, unit)
        chat = Chat(engine, user="403", channel="telegram")
        for _ in range(7):
            assert "đã hết hạn" in await chat.say(f"/start {expired}")
        await chat.say(f"/start {good}")
    assert chat.asks == "1.1"


async def test_reviewer_invite_gives_the_role_without_a_form(engine, database):
    office = await add_unit(database, "Sở Thông tin và Truyền thông")
    code = await make_invite(database, office, role="reviewer", uses=1)
    chat = await join(engine, "501", code)
    assert "quyền người duyệt" in chat.text and "/danhsach" in chat.text
    person = await respondent(database, "501")
    assert (person.role, person.unit_id, person.submission_id) == ("reviewer", office.id, None)
    # Anything else they type gets the reviewer's commands, not a question.
    assert "/tralai" in await chat.say("xin chào")


async def test_opening_a_respondent_invite_never_lowers_a_role(engine, database):
    office = await add_unit(database, "Sở Thông tin và Truyền thông")
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(engine, "502", await make_invite(database, office, role="reviewer"))
    chat = await join(engine, "502", await make_invite(database, unit))
    assert chat.asks == "1.1"
    person = await respondent(database, "502")
    assert (person.role, person.unit_id) == ("reviewer", unit.id)
    assert "/danhsach" in await chat.say("/trogiup")


STAFF_COMMANDS = [
    ("/danhsach", "danhsach"),
    ("/taiphieu UBND xã Hương Vinh", "taiphieu"),
    ("/xephang", "xephang"),
    ("/tralai UBND xã Hương Vinh thiếu số liệu", "tralai"),
    ("/duyet UBND xã Hương Vinh", "duyet"),
    ("/thongbao Hạn nộp là thứ Sáu", "thongbao"),
]


@pytest.mark.parametrize("typed,command", STAFF_COMMANDS)
async def test_a_respondent_is_refused_every_staff_command(
    engine, database, caplog, typed, command
):
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    chat = await join(engine, "601", await make_invite(database, unit))
    await fill_and_submit(chat)
    before = await submission(database, unit)
    with caplog.at_level(logging.WARNING, logger="dialogs.access"):
        reply = await chat.say(typed)
    assert f"lệnh /{command} chỉ dành cho" in reply and "chưa có quyền" in reply
    after = await submission(database, unit)
    assert (after.status, after.version) == (before.status, before.version)
    assert after.status == "submitted"
    assert [m for m in await outbox(database)] == []
    assert "refused" in caplog.text and f"/{command}" in caplog.text and "601" in caplog.text


@pytest.mark.parametrize("typed,command", STAFF_COMMANDS)
async def test_a_stranger_is_refused_every_staff_command(engine, database, caplog, typed, command):
    await open_campaign(database)
    await add_unit(database, "UBND xã Hương Vinh")
    with caplog.at_level(logging.WARNING, logger="dialogs.access"):
        reply = await Chat(engine, user="999", channel="telegram").say(typed)
    assert f"lệnh /{command} chỉ dành cho" in reply
    assert "role none" in caplog.text
    assert await respondent(database, "999") is None


async def test_a_reviewer_may_not_announce(engine, database, caplog):
    await open_campaign(database)
    office = await add_unit(database, "Sở Thông tin và Truyền thông")
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(engine, "701", await make_invite(database, unit))
    reviewer = await join(engine, "702", await make_invite(database, office, role="reviewer"))
    with caplog.at_level(logging.WARNING, logger="dialogs.access"):
        reply = await reviewer.say("/thongbao Hạn nộp là thứ Sáu")
    assert "lệnh /thongbao chỉ dành cho quản trị" in reply
    assert await outbox(database) == []
    assert "refused /thongbao" in caplog.text
    # The reviewer's own commands work.
    assert "UBND xã Hương Vinh" in await reviewer.say("/danhsach")


async def test_admins_from_the_environment_may_announce(engine, database, monkeypatch):
    monkeypatch.setenv("FORMBOT_ADMINS", "telegram:801, zalo:12345 555")
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(engine, "802", await make_invite(database, unit))
    admin = Chat(engine, user="801", channel="telegram")
    reply = await admin.say("/thongbao Hạn nộp là thứ Sáu")
    assert "Đã xếp hàng gửi thông báo tới 1 người" in reply
    [message] = await outbox(database)
    assert (message.external_id, message.kind) == ("802", "announcement")
    assert "Hạn nộp là thứ Sáu" in message.text
    # Each entry names its channel: zalo:12345 is an admin on Zalo only.
    assert "/thongbao" in await Chat(engine, user="12345", channel="zalo").say("/trogiup")
    assert "/thongbao" not in await Chat(engine, user="12345", channel="telegram").say("/trogiup")
    # A bare id names nobody (``formbot run`` refuses to start with one).
    for channel in ("telegram", "zalo"):
        reply = await Chat(engine, user="555", channel=channel).say("/thongbao Họp")
        assert "lệnh /thongbao chỉ dành cho quản trị" in reply


async def test_several_people_fill_one_unit_and_each_answer_records_who(engine, database):
    unit = await add_unit(database, "UBND xã Hương Vinh")
    code = await make_invite(database, unit)
    alice = await join(engine, "801", code)
    bob = await join(engine, "802", code)
    await alice.say("Xã Hương Vinh")  # 1.1
    await bob.say("/sua 3.1")  # another section, at the same time
    assert "✓ Đã lưu 3.1: 0" in await bob.say("0")
    assert "✓ Đã lưu 1.2: 12" in await alice.say("12")
    people = {p: (await respondent(database, p)).id for p in ("801", "802")}
    row = await submission(database, unit)
    async with database.session() as session:
        history = await repo.answer_history(session, row.id)
    assert [(h.code, h.respondent_id) for h in history] == [
        ("1.1", people["801"]),
        ("3.1", people["802"]),
        ("1.2", people["801"]),
    ]

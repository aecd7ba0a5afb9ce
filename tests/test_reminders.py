"""Reminders: who gets one, what it says, when it goes out (frozen time)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

import time_machine
from test_operations_support import (
    RecordingSender,
    add_unit,
    fill_and_submit,
    join,
    make_invite,
    open_campaign,
    outbox,
    submission,
)

from bot.outbox import Dispatcher, QuietHours
from bot.reminders import queue_due_reminders, queue_reminders
from storage import repo

DEADLINE = date(2020, 12, 15)


def vietnam(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A wall-clock time in Vietnam (UTC+7) as UTC."""
    return datetime(2020, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


async def set_status(database, unit, status: str, reason: str | None = None) -> None:
    row = await submission(database, unit)
    async with database.session() as session, session.begin():
        await repo.bump_version(session, row.id, row.version, status=status, returned_reason=reason)


async def campaign_with_every_status(engine, database):
    """Units in each state, each with one person filling its form (two at Hương Vinh)."""
    await open_campaign(database, deadline=DEADLINE)
    names = {
        "vinh": "UBND xã Hương Vinh",  # in progress
        "toan": "UBND xã Hương Toàn",  # submitted
        "xuan": "UBND xã Hương Xuân",  # returned
        "phong": "UBND xã Hương Phong",  # approved
        "thuy": "UBND xã Hương Thủy",  # not started
    }
    units = {key: await add_unit(database, name) for key, name in names.items()}
    await add_unit(database, "UBND xã Hải Dương")  # nobody invited yet
    chats = {}
    for n, key in enumerate(names):
        chats[key] = await join(engine, str(100 + n), await make_invite(database, units[key]))
    chats["vinh2"] = await join(engine, "110", await make_invite(database, units["vinh"]))
    await chats["vinh"].say("Xã Hương Vinh")
    for key in ("toan", "xuan", "phong"):
        await fill_and_submit(chats[key])
    await set_status(database, units["xuan"], "returned", "thiếu số liệu mục 5")
    await set_status(database, units["phong"], "approved")
    return units


async def test_reminder_audience_and_text(engine, database):
    await campaign_with_every_status(engine, database)
    with time_machine.travel(vietnam(8, 9), tick=False):  # 7 days before the deadline
        [run] = await queue_due_reminders(database, forms=engine.forms)
    assert (run.campaign, run.day, run.queued) == ("mini-2020", date(2020, 12, 8), 4)
    texts = {m.external_id: m.text for m in await outbox(database)}
    assert sorted(texts) == ["100", "102", "104", "110"]  # never Hương Toàn (submitted), Phong
    vinh = texts["100"]
    assert "UBND xã Hương Vinh còn 7 ngày nữa là hết hạn (hạn nộp 15/12/2020)" in vinh
    assert "Tiến độ: 1/16 câu (6%)" in vinh and "Gõ /tieptuc để điền tiếp" in vinh
    assert texts["110"] == vinh  # the second person of the same unit
    xuan = texts["102"]
    assert "trả lại để sửa: thiếu số liệu mục 5" in xuan and "/nop để nộp lại" in xuan
    assert "Tiến độ: 0/16 câu (0%)" in texts["104"] and "để bắt đầu điền" in texts["104"]


async def test_reminders_only_on_their_days_and_once_a_day(engine, database):
    await campaign_with_every_status(engine, database)
    queued = {}
    for day in range(6, 17):
        for hour in (0, 9, 20):  # the hourly job looks many times a day
            with time_machine.travel(vietnam(day, hour), tick=False):
                for run in await queue_due_reminders(database, forms=engine.forms):
                    queued[day] = queued.get(day, 0) + run.queued
    assert queued == {8: 4, 12: 4, 14: 4, 15: 4}  # 7, 3 and 1 days before, and the day itself
    last = [
        m.text for m in await outbox(database) if m.key.startswith("reminder:mini-2020:2020-12-15")
    ]
    assert all("hết hạn hôm nay (15/12/2020)" in text for text in last)


async def test_reminder_days_are_set_per_campaign(engine, database):
    await campaign_with_every_status(engine, database)
    await open_campaign(database, deadline=DEADLINE, days=[2])
    with time_machine.travel(vietnam(8, 9), tick=False):
        assert await queue_due_reminders(database, forms=engine.forms) == []
    with time_machine.travel(vietnam(13, 9), tick=False):
        [run] = await queue_due_reminders(database, forms=engine.forms)
    assert run.queued == 4
    assert "còn 2 ngày" in (await outbox(database))[0].text


async def test_manual_reminders_list_the_recipients_and_skip_those_already_reminded(
    engine, database
):
    await campaign_with_every_status(engine, database)
    with time_machine.travel(vietnam(10, 9), tick=False):
        dry = await queue_reminders(database, "mini-2020", forms=engine.forms, dry_run=True)
        assert await outbox(database) == []
        first = await queue_reminders(database, "mini-2020", forms=engine.forms)
        again = await queue_reminders(database, "mini-2020", forms=engine.forms)
    people = sorted((r.row.unit.name, r.respondent.external_id) for r in dry.recipients)
    assert people == [
        ("UBND xã Hương Thủy", "104"),
        ("UBND xã Hương Vinh", "100"),
        ("UBND xã Hương Vinh", "110"),
        ("UBND xã Hương Xuân", "102"),
    ]
    assert (first.queued, again.queued, again.already) == (4, 0, 4)
    # A unit nobody joined is named, so that someone sends it an invite.
    assert [row.unit.name for row in dry.unreached] == ["UBND xã Hải Dương"]
    assert "còn 5 ngày" in (await outbox(database))[0].text


def test_quiet_hours_are_in_vietnam_time():
    quiet = QuietHours()
    assert quiet.contains(vietnam(8, 21)) and quiet.contains(vietnam(8, 6, 59))
    assert not quiet.contains(vietnam(8, 20, 59)) and not quiet.contains(vietnam(8, 7))
    assert quiet.ends_after(vietnam(8, 22, 30)) == vietnam(9, 7)
    assert quiet.ends_after(vietnam(9, 3)) == vietnam(9, 7)
    assert QuietHours(clock_time(0, 0), clock_time(0, 0)).contains(vietnam(8, 23)) is False


async def test_what_falls_in_quiet_hours_waits_for_seven(engine, database):
    await campaign_with_every_status(engine, database)
    sender = RecordingSender()
    dispatcher = Dispatcher(database, {"telegram": sender}, quiet=QuietHours())
    # 22:30 on the 7th: the reminder of the 8th (7 days left) is queued for the morning.
    with time_machine.travel(vietnam(7, 22, 30), tick=False):
        [run] = await queue_due_reminders(database, forms=engine.forms)
        stats = await dispatcher.run()
    assert run.day == date(2020, 12, 8) and run.queued == 4
    assert sender.calls == 0 and stats.quiet_until == vietnam(8, 7)
    with time_machine.travel(vietnam(8, 6, 59), tick=False):
        await dispatcher.run()
    assert sender.calls == 0
    with time_machine.travel(vietnam(8, 7, 0), tick=False):
        stats = await dispatcher.run()
    assert stats.sent == 4 and len(sender.delivered) == 4
    assert all("còn 7 ngày" in text for _, text in sender.delivered)


async def test_a_reminder_that_missed_its_day_expires(engine, database):
    await campaign_with_every_status(engine, database)
    sender = RecordingSender()
    with time_machine.travel(vietnam(8, 9), tick=False):
        await queue_due_reminders(database, forms=engine.forms)
    # The bot was down from 9:00 until the next morning.
    with time_machine.travel(vietnam(9, 7, 30), tick=False):
        stats = await Dispatcher(database, {"telegram": sender}, quiet=QuietHours()).run()
    assert sender.calls == 0 and stats.expired == 4
    assert {(m.status, m.reason) for m in await outbox(database)} == {("failed", "expired")}

"""The running bot's delivery loop (``bot.delivery``): on a reminder day it queues the
reminders and delivers them, and everything else in the outbox, through each channel's own
sender (Telegram's Bot API, Zalo's), in one loop; stopping it leaves nothing running."""

from __future__ import annotations

import asyncio

import time_machine
from telegram import Bot
from test_operations_support import (
    FakeBotApi,
    RecordingSender,
    add_unit,
    join,
    make_invite,
    open_campaign,
    outbox,
)
from test_reminders import DEADLINE, vietnam

from bot.delivery import DeliveryLoop
from bot.outbox import QuietHours, TelegramSender, ZaloSender
from storage import outbox as outbox_store
from storage.db import Database


class FakeZaloApi:
    """``bot.zalo_api.ZaloApi`` as ``ZaloSender`` uses it."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []

    async def send_message(self, chat_id: str, text: str) -> dict:
        self.delivered.append((chat_id, text))
        return {"message_id": str(len(self.delivered))}


async def until(check, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_reminders_are_queued_and_delivered_on_both_channels(engine, database):
    await open_campaign(database, deadline=DEADLINE)
    on_telegram = await add_unit(database, "UBND xã Hương Vinh")
    on_zalo = await add_unit(database, "UBND xã Hương Chữ")
    await join(engine, "100", await make_invite(database, on_telegram))
    await join(engine, "z200", await make_invite(database, on_zalo), channel="zalo")
    bot_api, zalo_api = FakeBotApi(), FakeZaloApi()
    senders = {
        "telegram": TelegramSender(Bot("123456:TEST", request=bot_api), max_rate=1000),
        "zalo": ZaloSender(zalo_api, max_rate=1000),
    }
    loop = DeliveryLoop(
        database, senders, forms=engine.forms, quiet=QuietHours(), deliver_every=0.05
    )
    with time_machine.travel(vietnam(14, 10), tick=True):  # one day before the deadline
        await loop.start()
        await until(lambda: bot_api.delivered and zalo_api.delivered)
        # Something queued later (an announcement) goes out without a new reminder day.
        async with database.session() as session, session.begin():
            await outbox_store.enqueue(
                session,
                [
                    {
                        "key": "announcement:1:zalo:z200",
                        "channel": "zalo",
                        "external_id": "z200",
                        "kind": "announcement",
                        "text": "Thông báo",
                    }
                ],
            )
        loop.wake()
        await until(lambda: len(zalo_api.delivered) == 2)
        await loop.stop()
    assert [chat for chat, _ in bot_api.delivered] == [100]
    assert [chat for chat, _ in zalo_api.delivered] == ["z200", "z200"]
    assert "UBND xã Hương Chữ còn 1 ngày" in zalo_api.delivered[0][1]
    assert "UBND xã Hương Vinh còn 1 ngày" in bot_api.delivered[0][1]
    assert {m.status for m in await outbox(database)} == {"sent"}
    assert all(task.done() for task in asyncio.all_tasks() if task.get_name().startswith("formbot"))


async def test_a_second_check_on_the_same_day_queues_nothing_again(engine, database):
    await open_campaign(database, deadline=DEADLINE)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(engine, "100", await make_invite(database, unit))
    bot_api = FakeBotApi()
    senders = {"telegram": TelegramSender(Bot("123456:TEST", request=bot_api), max_rate=1000)}
    with time_machine.travel(vietnam(14, 10), tick=True):
        for _restart in range(2):  # a restart of the bot on the same day
            loop = DeliveryLoop(
                database, senders, forms=engine.forms, quiet=QuietHours(), deliver_every=0.05
            )
            await loop.start()
            await until(lambda: bot_api.delivered)
            await asyncio.sleep(0.2)
            await loop.stop()
    assert len(bot_api.delivered) == 1


async def test_one_worker_sends_at_a_time_and_another_takes_over_when_it_stops(database):
    """The flood limit is the bot's, not a worker's: on PostgreSQL one worker's loop sends and
    the others stand by; when it stops, another one sends. (SQLite: one process serves it.)"""

    second = Database(database.url)
    first_sender, second_sender = RecordingSender(), RecordingSender()
    loops = [
        DeliveryLoop(db, {"telegram": sender}, quiet=QuietHours.from_env(), deliver_every=0.05)
        for db, sender in ((database, first_sender), (second, second_sender))
    ]

    async def queue(keys: range) -> None:
        rows = [
            {"key": f"n{k}", "channel": "telegram", "external_id": str(k), "kind": "t", "text": "x"}
            for k in keys
        ]
        async with database.session() as session, session.begin():
            await outbox_store.enqueue(session, rows)

    try:
        with time_machine.travel(vietnam(14, 10), tick=True):
            await loops[0].start()
            await until(lambda: loops[0].sender_lock.held)
            await loops[1].start()
            await queue(range(6))
            await until(lambda: len(first_sender.delivered) + len(second_sender.delivered) == 6)
            if not database.is_sqlite:
                assert (len(first_sender.delivered), second_sender.delivered) == (6, [])
                await loops[0].stop()
                await queue(range(6, 9))
                await until(lambda: len(second_sender.delivered) == 3)
    finally:
        for loop in loops:
            await loop.stop()
        await second.dispose()
    delivered = [chat for chat, _ in first_sender.delivered + second_sender.delivered]
    assert sorted(delivered, key=int) == [str(k) for k in range(9 if not database.is_sqlite else 6)]

"""Delivering the outbox: Telegram's 429 and "blocked", crash and resume, pacing, progress."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from datetime import time as clock_time
from datetime import timedelta
from urllib.parse import parse_qs

from chatting import Chat
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram import Bot
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest
from test_operations_support import (
    FakeBotApi,
    RecordingSender,
    add_unit,
    join,
    make_invite,
    open_campaign,
    outbox,
    respondent,
)

from bot.outbox import (
    BLOCKED,
    FAILED,
    RETRY,
    SENT,
    Dispatcher,
    QuietHours,
    TelegramSender,
    ZaloSender,
)
from bot.telegram import RetryingRateLimiter
from bot.web import WebServer, web_app
from storage import outbox as outbox_store
from storage.db import Database

ALWAYS = QuietHours(clock_time(0, 0), clock_time(0, 0))  # no quiet hours


async def queue(database, chats: list[str], kind: str = "reminder", text: str = "Nhắc việc"):
    async with database.session() as session, session.begin():
        return await outbox_store.enqueue(
            session,
            [
                {
                    "key": f"{kind}:test:{chat}",
                    "channel": "telegram",
                    "external_id": chat,
                    "kind": kind,
                    "text": f"{text} {chat}",
                }
                for chat in chats
            ],
        )


def telegram(api: FakeBotApi) -> TelegramSender:
    return TelegramSender(Bot("123456:TEST", request=api), max_rate=1000)


async def test_the_telegram_sender_reads_the_bot_api_errors():
    api = FakeBotApi()
    api.script[1] = [(429, "Too Many Requests: retry after 3", 3)]
    api.script[2] = [(403, "Forbidden: bot was blocked by the user", None)]
    api.script[3] = [(400, "Bad Request: chat not found", None)]
    api.script[4] = [(502, "Bad Gateway", None)]
    sender = telegram(api)
    results = {chat: await sender.send(str(chat), "xin chào") for chat in (1, 2, 3, 4, 5)}
    assert (results[1].status, results[1].retry_after) == (RETRY, 3.0)
    assert (results[2].status, results[2].reason) == (
        BLOCKED,
        "Forbidden: bot was blocked by the user",
    )
    assert (results[3].status, results[3].reason) == (FAILED, "Chat not found")
    assert results[4].status == RETRY
    assert results[5].status == SENT
    assert api.delivered == [(5, "xin chào")]


async def test_retry_after_is_honoured_without_holding_back_other_chats(database):
    api = FakeBotApi()
    api.script[111] = [(429, "Too Many Requests: retry after 1", 1)]
    await queue(database, ["111", "112", "113"])
    stats = await Dispatcher(database, {"telegram": telegram(api)}, quiet=ALWAYS).run()
    assert [chat for chat, _ in api.delivered] == [112, 113, 111]
    assert Counter(chat for _, chat in api.calls) == {111: 2, 112: 1, 113: 1}
    assert (stats.sent, stats.retried, stats.failed) == (3, 1, 0)
    assert {m.external_id: (m.status, m.attempts) for m in await outbox(database)} == {
        "111": ("sent", 2),
        "112": ("sent", 1),
        "113": ("sent", 1),
    }


async def test_a_user_who_blocked_the_bot_is_marked_and_skipped_next_time(
    engine, database, monkeypatch
):
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    code = await make_invite(database, unit)
    for user in ("211", "212"):
        await join(engine, user, code)
    api = FakeBotApi()
    api.script[211] = [(403, "Forbidden: bot was blocked by the user", None)]
    await queue(database, ["211", "212"])
    await queue(database, ["211"], kind="announcement")  # a second message to the same person
    dispatcher = Dispatcher(database, {"telegram": telegram(api)}, quiet=ALWAYS)
    stats = await dispatcher.run()
    assert [chat for chat, _ in api.delivered] == [212]
    assert (stats.sent, stats.blocked) == (1, 1)
    rows = {(m.external_id, m.kind): (m.status, m.reason) for m in await outbox(database)}
    assert rows[("211", "reminder")] == ("blocked", "Forbidden: bot was blocked by the user")
    assert rows[("211", "announcement")] == ("blocked", "blocked the bot")
    assert Counter(chat for _, chat in api.calls)[211] == 1
    assert (await respondent(database, "211")).blocked

    # The next announcement leaves them out.
    monkeypatch.setenv("FORMBOT_ADMINS", "telegram:9")
    reply = await Chat(engine, user="9", channel="telegram").say("/thongbao Hạn nộp là thứ Sáu")
    assert "tới 1 người" in reply
    # Coming back (/start) un-blocks them.
    await Chat(engine, user="211", channel="telegram").say("/start")
    assert not (await respondent(database, "211")).blocked


async def test_a_crash_in_the_middle_resumes_without_sending_anything_twice(database):
    chats = [str(1000 + n) for n in range(20)]
    await queue(database, chats)
    sender = RecordingSender()
    crashed = asyncio.Event()

    async def die_after_eighth(_chat, _text):
        if len(sender.delivered) == 8:
            crashed.set()  # the 8th reached Telegram; the process dies before recording it
            await asyncio.Event().wait()

    sender.hook = die_after_eighth
    # The claimer's lease is what runs out; a zero one has run out by the time anyone looks.
    first = Dispatcher(
        database, {"telegram": sender}, quiet=ALWAYS, concurrency=1, lease=timedelta(0)
    )
    run = asyncio.create_task(first.run())
    await asyncio.wait_for(crashed.wait(), 10)
    for task in [run, *first.in_flight]:
        task.cancel()
    await asyncio.gather(run, *first.in_flight, return_exceptions=True)
    await database.dispose()

    restarted = Database(database.url)  # a new process
    try:
        assert await queue(restarted, chats) == 0  # the same keys are not queued again
        statuses = Counter(m.status for m in await outbox(restarted))
        assert statuses == {"sent": 7, "sending": 1, "queued": 12}
        sender.hook = None
        stats = await Dispatcher(restarted, {"telegram": sender}, quiet=ALWAYS).run()
        assert Counter(chat for chat, _ in sender.delivered) == Counter(chats)  # once each
        assert (stats.sent, stats.interrupted) == (12, 1)
        rows = await outbox(restarted)
        assert Counter(m.status for m in rows) == {"sent": 19, "failed": 1}
        [unknown] = [m for m in rows if m.status == "failed"]
        assert unknown.external_id == sender.delivered[7][0]
        assert unknown.reason == "interrupted: delivery unknown"
    finally:
        await restarted.dispose()


async def test_one_message_per_second_per_chat(database):
    await queue(database, ["301"], kind="reminder")
    await queue(database, ["301"], kind="announcement")
    await queue(database, ["302"], kind="reminder")
    sender = RecordingSender(per_chat_interval=1.0)
    started: list[tuple[str, float]] = []

    async def stamp(chat, _text):
        started.append((chat, time.monotonic()))

    sender.hook = stamp
    await Dispatcher(database, {"telegram": sender}, quiet=ALWAYS).run()
    [first, second] = [t for chat, t in started if chat == "301"]
    assert second - first >= 1.0
    assert [chat for chat, _ in started].index("302") < 2  # the other chat did not wait


async def test_failures_end_with_a_reason(database):
    api = FakeBotApi()
    api.script[401] = [(502, "Bad Gateway", None)]
    api.script[402] = [(400, "Bad Request: chat not found", None)]
    await queue(database, ["401", "402"])
    sender = telegram(api)
    stats = await Dispatcher(database, {"telegram": sender}, quiet=ALWAYS, max_attempts=1).run()
    assert stats.failed == 2 and api.delivered == []
    reasons = {m.external_id: (m.status, m.reason) for m in await outbox(database)}
    assert reasons == {
        "401": ("failed", "Bad Gateway"),
        "402": ("failed", "Chat not found"),
    }


async def test_the_admin_who_started_a_long_broadcast_sees_its_progress(
    engine, database, monkeypatch
):
    monkeypatch.setenv("FORMBOT_ADMINS", "telegram:1")
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    code = await make_invite(database, unit)
    for n in range(60):
        await join(engine, str(500 + n), code)
    reply = await Chat(engine, user="1", channel="telegram").say("/thongbao Họp trực tuyến 9h")
    assert "tới 60 người" in reply
    sender = RecordingSender()
    dispatcher = Dispatcher(
        database, {"telegram": sender}, quiet=ALWAYS, batch=10, progress_every=0
    )
    await dispatcher.run()
    await dispatcher.run()  # the next tick delivers the last note
    notes = [text for chat, text in sender.delivered if chat == "1"]
    assert notes and notes[-1] == "📣 Đã gửi xong: 60/60 tin."
    counts = [int(note.split(": ")[1].split("/")[0]) for note in notes]
    assert counts == sorted(counts)
    assert all("Đang gửi" in note for note in notes[:-1])
    assert len([chat for chat, _ in sender.delivered if chat != "1"]) == 60


async def test_nothing_goes_to_a_channel_without_a_sender(database):
    async with database.session() as session, session.begin():
        await outbox_store.enqueue(
            session,
            [{"key": "z", "channel": "zalo", "external_id": "z1", "kind": "reminder", "text": "x"}],
        )
    sender = RecordingSender()
    stats = await Dispatcher(database, {"telegram": sender}, quiet=ALWAYS).run()
    assert stats.calls == 0
    assert [m.status for m in await outbox(database)] == ["queued"]


async def test_the_zalo_sender_reads_the_zalo_api_errors():
    from bot.zalo_api import ZaloApiError

    class FakeZalo:
        def __init__(self) -> None:
            self.sent: list[tuple[str, str]] = []
            self.errors = {
                "a": ZaloApiError("sendMessage", 429, "Too many requests"),
                # Zalo's reference lists 403 as "Internal server error", 408 as a time-out.
                "b": ZaloApiError("sendMessage", 403, "Internal server error"),
                "c": ZaloApiError("sendMessage", 400, "Invalid chat_id"),
                "d": ZaloApiError("sendMessage", None, "network error (ConnectError)"),
                "f": ZaloApiError("sendMessage", 408, "Request timeout"),
                "g": ZaloApiError(
                    "sendMessage", None, "timed out (ReadTimeout)", delivery_unknown=True
                ),
            }

        async def send_message(self, chat_id: str, text: str) -> dict:
            if chat_id in self.errors:
                raise self.errors[chat_id]
            self.sent.append((chat_id, text))
            return {"message_id": "1"}

    api = FakeZalo()
    sender = ZaloSender(api)
    results = {chat: await sender.send(chat, "xin chào") for chat in "abcdefg"}
    assert {chat: result.status for chat, result in results.items()} == {
        "a": RETRY,
        "b": RETRY,
        "c": FAILED,
        "d": RETRY,
        "e": SENT,
        "f": RETRY,
        "g": FAILED,  # it left and no answer came: never sent again
    }
    assert results["g"].reason.startswith("delivery unknown")
    assert api.sent == [("e", "xin chào")]


# At most once against a real HTTP Bot API that answers late ---------------------------------


class SlowBotApi:
    """A Bot API over HTTP (Starlette on the bot's own web server class) that takes every
    ``sendMessage`` it accepts at once — the person has the message — but answers every
    ``slow_every``-th one after ``delay`` seconds; every ``refuse_every``-th call is refused
    with 502 Bad Gateway and not taken."""

    def __init__(self, *, delay: float, slow_every: int = 4, refuse_every: int = 7) -> None:
        self.delay = delay
        self.delivered: Counter = Counter()  # chat → copies the person got
        self.slow: set[int] = set()  # chats whose message was answered late
        self.calls = 0

        async def bot_api(request: Request) -> JSONResponse:
            method = request.path_params["method"]
            if method == "getMe":
                me = {"id": 1, "is_bot": True, "first_name": "formbot", "username": "f_bot"}
                return JSONResponse({"ok": True, "result": me})
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            chat = int(form["chat_id"])
            self.calls += 1
            if self.calls % refuse_every == 0:
                body = {"ok": False, "error_code": 502, "description": "Bad Gateway"}
                return JSONResponse(body, status_code=502)
            self.delivered[chat] += 1
            if self.calls % slow_every == 0:
                self.slow.add(chat)
                await asyncio.sleep(self.delay)  # the client has given up by now
            message = {"message_id": self.calls, "date": 1, "chat": {"id": chat, "type": "private"}}
            return JSONResponse({"ok": True, "result": {**message, "text": form["text"]}})

        route = Route("/bot{token}/{method}", bot_api, methods=["POST"])
        self.server = WebServer(web_app([route]), listen="127.0.0.1", port=0)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/bot"


def running_bot(base_url: str, read_timeout: float):
    """The bot as the running application has it: PTB's ExtBot with our rate limiter (which
    retries failed requests of the live conversation)."""
    return ExtBot(
        "123456:SLOW",
        base_url=base_url,
        request=HTTPXRequest(connection_pool_size=32, read_timeout=read_timeout),
        rate_limiter=RetryingRateLimiter(retry_delays=(0.05, 0.05)),
    )


async def test_a_send_answered_after_the_time_out_is_never_sent_again(database):
    """Two workers deliver 60 reminders through a Bot API that answers every fourth send
    after the client's time-out and refuses every seventh with 502: each person gets their
    reminder exactly once. The late ones are "delivery unknown"; the refused ones go again."""
    api = SlowBotApi(delay=1.0)
    await api.server.start()
    chats = [str(7000 + n) for n in range(60)]
    await queue(database, chats)
    second = Database(database.url)
    bots = [running_bot(api.base_url, read_timeout=0.3) for _ in range(2)]
    try:
        async with bots[0], bots[1]:
            workers = [
                Dispatcher(db, {"telegram": TelegramSender(bot, max_rate=1000)}, quiet=ALWAYS)
                for db, bot in zip((database, second), bots, strict=True)
            ]
            await asyncio.gather(*(worker.run() for worker in workers))
            await asyncio.sleep(api.delay)  # the late answers of the last sends
    finally:
        await second.dispose()
        await api.server.stop()
    twice = sum(copies - 1 for copies in api.delivered.values())
    late = len(api.slow)
    print(f"\n{len(chats)} messages, {api.calls} sends, {late} answered late, {twice} twice")
    assert api.slow and api.calls > len(chats)  # some were late, some refused and sent again
    assert api.delivered == Counter({int(chat): 1 for chat in chats})  # once each, none lost
    rows = {m.external_id: m for m in await outbox(database)}
    unknown = {chat for chat, m in rows.items() if m.status == "failed"}
    assert unknown == {str(chat) for chat in api.slow}
    assert all(rows[chat].reason.startswith("delivery unknown") for chat in unknown)
    assert {m.status for chat, m in rows.items() if chat not in unknown} == {"sent"}


async def test_a_send_that_never_left_is_tried_again():
    """Nothing listens: the connection was never made, so the reminder certainly did not
    reach anyone and is queued again."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    bot = running_bot(f"http://127.0.0.1:{port}/bot", read_timeout=0.3)
    result = await TelegramSender(bot).send("7001", "Nhắc việc")
    assert (result.status, result.reason.startswith("delivery unknown")) == (RETRY, False)

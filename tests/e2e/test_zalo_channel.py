"""The Zalo channel in-process, against the test Zalo server (``zalo_server.py``) over HTTP:
what a person notices when the engine fails, when Zalo fails for a moment, when a message is
long, when a turn is slow, when messages arrive fast, and a document link that expires."""

from __future__ import annotations

import asyncio
import itertools
import re

import e2e_common
import httpx
import pytest
from bot_process import free_port
from scenario import create_invite, review_value
from zalo_server import MAX_TEXT, ZaloServer, ZaloUser

from bot.links import DocumentLinks, LinkSigner
from bot.web import WebServer, document_routes, web_app, zalo_webhook
from bot.zalo import ZaloChannel, ZaloReceiver
from bot.zalo_api import ZaloApi, ZaloApiError
from dialogs.messages import Document, Inbound, Outbound
from storage import repo
from templates.messages import say

_tokens = itertools.count(3001)
zalo = e2e_common.zalo  # the shared fixture: the Zalo server with the bot of ``bot_token``


@pytest.fixture
def bot_token() -> str:
    return f"{next(_tokens)}:channel-{next(_tokens)}"


@pytest.fixture
async def api(zalo, bot_token):
    client = ZaloApi(bot_token, base_url=zalo.base_url)
    yield client
    await client.close()


def person(zalo: ZaloServer, token: str, user_id: str) -> ZaloUser:
    """A person who has written to the bot (Zalo only lets a bot answer such chats); the
    tests below hand their updates to the channel directly."""
    zalo.bots[token].chats.add(user_id)
    return ZaloUser(zalo, token, user_id)


class ScriptedEngine:
    """Answers every message with ``replies``, or raises ``fail`` once."""

    def __init__(self, replies: list[Outbound]) -> None:
        self.replies = replies
        self.fail: Exception | None = None
        self.seen: list[Inbound] = []
        self.release: asyncio.Event | None = None
        self.asked: dict[str, str] = {}  # user → item last asked, as the database keeps it

    async def position(self, channel: str, user: str) -> str | None:
        return self.asked.get(user)

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        self.seen.append(inbound)
        if self.release is not None:
            await self.release.wait()
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        for reply in self.replies:
            if reply.asks:
                self.asked[inbound.user] = reply.asks
        return list(self.replies)


async def test_a_long_reply_is_sent_in_pieces_under_the_limit(zalo, bot_token, api):
    user = person(zalo, bot_token, "5")
    paragraphs = [f"Đoạn {n}: " + "nội dung phiếu " * 60 for n in range(6)]  # ~5.4k characters
    engine = ScriptedEngine([Outbound("\n\n".join(paragraphs))])
    channel = ZaloChannel(engine, api, retry_delays=())
    # The server refuses what the platform would: one message over the limit.
    with pytest.raises(ZaloApiError) as refused:
        await api.send_message(user.user_id, "x" * (MAX_TEXT + 1))
    assert refused.value.error_code == 400

    await channel.handle_update(user.text_update("/xem"))
    sent = [message.text for message in user.unread()]
    assert len(sent) >= 3
    assert all(len(text) <= MAX_TEXT for text in sent)
    assert "".join("".join(sent).split()) == "".join("".join(paragraphs).split())
    assert all(text.startswith("Đoạn") for text in sent)  # cut between paragraphs


async def test_an_engine_failure_is_apologised_for_and_the_bot_goes_on(zalo, bot_token, api):
    user = person(zalo, bot_token, "6")
    engine = ScriptedEngine([Outbound("3.1. Câu hỏi", asks="3.1")])
    channel = ZaloChannel(engine, api, retry_delays=())
    await channel.handle_update(user.text_update("15"))
    engine.fail = RuntimeError("database went away")
    await channel.handle_update(user.text_update("16"))
    await channel.handle_update(user.text_update("17"))
    texts = [message.text for message in user.unread()]
    assert texts == ["3.1. Câu hỏi", say("zalo_handler_error", current="3.1"), "3.1. Câu hỏi"]
    assert [inbound.text for inbound in engine.seen] == ["15", "16", "17"]


async def test_a_failed_send_is_retried_and_a_refused_one_is_apologised_for(zalo, bot_token, api):
    user = person(zalo, bot_token, "7")
    engine = ScriptedEngine([Outbound("Câu trả lời")])
    channel = ZaloChannel(engine, api, retry_delays=(0.01, 0.01))
    zalo.fail_next(bot_token, "sendMessage", 503, 429)
    await channel.handle_update(user.text_update("a"))
    assert [m.text for m in user.unread()] == ["Câu trả lời"]  # delivered once, after 2 retries
    # A refusal that retrying cannot fix: the person hears that their answer is saved.
    zalo.fail_next(bot_token, "sendMessage", 400)
    await channel.handle_update(user.text_update("b"))
    assert [m.text for m in user.unread()] == [say("zalo_handler_error", current=None)]
    # Everything failing: logged, nothing raised, the next message is served.
    zalo.fail_next(bot_token, "sendMessage", 400, 400)
    await channel.handle_update(user.text_update("c"))
    await channel.handle_update(user.text_update("d"))
    assert [m.text for m in user.unread()] == ["Câu trả lời"]


async def test_a_slow_turn_shows_typing(zalo, bot_token, api):
    user = person(zalo, bot_token, "8")
    engine = ScriptedEngine([Outbound("Xong")])
    engine.release = asyncio.Event()
    channel = ZaloChannel(engine, api, typing_after=0.0)
    turn = asyncio.create_task(channel.handle_update(user.text_update("/nop")))

    async def typing_shown():
        while not zalo.bots[bot_token].actions:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(typing_shown(), 30)
    assert zalo.bots[bot_token].actions == [(user.user_id, "typing")]
    assert user.unread() == []  # the turn is still under way
    engine.release.set()
    await turn
    await channel.drain()
    assert [m.text for m in user.unread()] == ["Xong"]


async def test_group_chats_are_ignored(zalo, bot_token, api):
    user = ZaloUser(zalo, bot_token, "9")
    engine = ScriptedEngine([Outbound("Không được gửi")])
    handled = []
    channel = ZaloChannel(engine, api, on_handled=handled.append)
    update = user.text_update("/start ABC")
    update["message"]["chat"] = {"id": "g1", "chat_type": "GROUP"}
    zalo.bots[bot_token].chats.add("g1")
    await channel.handle_update(update)
    assert engine.seen == [] and zalo.bots[bot_token].sent == [] and handled == ["g1"]


# The service: polling and the web server --------------------------------------------------------


async def test_polling_survives_a_failing_get_updates_and_keeps_one_chats_order(
    zalo, bot_token, api, engine
):
    code = await create_invite(engine.db, "ORDER1")
    zalo.fail_next(bot_token, "getUpdates", 502)
    handled = asyncio.Queue()
    channel = ZaloChannel(engine, api, on_handled=handled.put_nowait)
    service = ZaloReceiver(channel, poll_timeout=5)
    await service.start()
    try:
        user = ZaloUser(zalo, bot_token, "10")
        await user.send(f"/start {code}")
        await asyncio.wait_for(handled.get(), 30)
        # Three answers typed fast: queued together, handled in the order they were typed.
        for text in ["Xã Hương Vinh", "20", "15"]:
            await user.send(text)
        for _ in range(3):
            await asyncio.wait_for(handled.get(), 30)
    finally:
        await service.stop()
    texts = [message.text for message in user.unread()]
    assert say("saved", code="1.1", value="Xã Hương Vinh") in texts[1]
    assert say("saved", code="1.2", value="20 người") in texts[2]
    assert say("saved", code="3.1", value="15 người") in texts[3]
    calls = [method for method, _ in zalo.bots[bot_token].calls]
    assert calls[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert calls.count("getUpdates") >= 3  # it went on polling after the failure


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_the_web_server_serves_a_link_until_it_expires(zalo, bot_token, api, database):
    clock = Clock()
    port = free_port()
    signer = LinkSigner("a-secret-of-sixteen-chars", 3600, clock)
    links = DocumentLinks(f"http://127.0.0.1:{port}", signer).with_database(database)
    pdf = Document("phieu-xa-a.pdf", b"%PDF-1.4 the form", "application/pdf")
    handled = asyncio.Queue()
    engine = ScriptedEngine([Outbound(pdf.filename, document=pdf)])
    channel = ZaloChannel(engine, api, links=links, on_handled=handled.put_nowait)
    service = ZaloReceiver(channel, poll_timeout=5)  # polling, and the links on the server
    server = WebServer(web_app(document_routes(links)), listen="127.0.0.1", port=port)
    await server.start()
    await service.start()
    try:
        user = ZaloUser(zalo, bot_token, "11")
        await user.send("/taiphieu 1")
        await asyncio.wait_for(handled.get(), 30)
        (message,) = user.unread()
        assert message.text.startswith(say("zalo_documents_links", links=[], hours="1"))
        (url,) = re.findall(r"http://\S+", message.text)
        async with httpx.AsyncClient(timeout=10) as http:
            download = await http.get(url)
            assert download.status_code == 200 and download.content == pdf.data
            assert download.headers["content-type"] == "application/pdf"
            assert 'filename="phieu-xa-a.pdf"' in download.headers["content-disposition"]
            assert download.headers["cache-control"] == "no-store"
            clock.now += 3601
            assert (await http.get(url)).status_code == 403
            assert (await http.get(f"http://127.0.0.1:{port}/other")).status_code == 404
    finally:
        await service.stop()
        await server.stop()


async def test_the_webhook_reads_only_json_posts_with_the_secret(zalo, bot_token, api):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook/zalo"
    engine = ScriptedEngine([Outbound("Chào")])
    channel = ZaloChannel(engine, api)
    route = zalo_webhook("/hook/zalo", "right_secret", channel.handle_update)
    server = WebServer(web_app([route]), listen="127.0.0.1", port=port)
    service = ZaloReceiver(channel, webhook_url=url, secret="right_secret")
    await server.start()
    await service.start()
    try:
        header = {"X-Bot-Api-Secret-Token": "right_secret"}
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(url, headers=header)).status_code == 405
            bad = await http.post(url, content=b"{not json", headers=header)
            assert bad.status_code == 400
            other = await http.post(url, json={"event_name": "user.follow"}, headers=header)
            assert other.status_code == 200
            wrong = await http.post(
                url, content=b"{not json", headers={"X-Bot-Api-Secret-Token": "x"}
            )
            assert wrong.status_code == 403
        assert engine.seen == []
        user = ZaloUser(zalo, bot_token, "12")
        assert await user.send("xin chào") == 200
        assert [m.text for m in user.unread()] == ["Chào"]
        assert zalo.bots[bot_token].webhook_url == url
        # A turn that failed stored nothing: not acknowledged, the person told.
        engine.fail = RuntimeError("database went away")
        assert await user.send("lần hai") == 500
        assert [m.text for m in user.unread()] == [say("zalo_handler_error", current=None)]
        assert await user.send("lần ba") == 200
    finally:
        await service.stop()
        await server.stop()


async def test_people_on_zalo_and_telegram_share_a_units_submission(zalo, bot_token, api, engine):
    """Bound on different channels by one invite, they answer the same form."""
    async with engine.db.session() as session, session.begin():
        unit = await repo.get_or_create_unit(session, "UBND xã Hương Vinh", "mini")
        await repo.create_invite(
            session, code="TWO", unit_id=unit.id, form_id="mini", year=2024, uses_left=2
        )
    channel = ZaloChannel(engine, api)
    user = person(zalo, bot_token, "13")
    await channel.handle_update(user.text_update("/start TWO"))
    await channel.handle_update(user.text_update("Xã Hương Vinh"))
    on_telegram = await engine.handle(Inbound("telegram", "555", text="/start TWO"))
    assert any("1.2. " in reply.text for reply in on_telegram)  # 1.1 is already answered
    await engine.handle(Inbound("telegram", "555", text="25"))
    await channel.handle_update(user.text_update("/xem 1"))
    review = user.unread()[-1].text
    assert review_value(review, "1.1") == "Xã Hương Vinh"
    assert review_value(review, "1.2") == "25 người"


async def test_images_reach_the_engine_as_evidence_and_other_events_never_do(zalo, bot_token, api):
    user = person(zalo, bot_token, "14")
    engine = ScriptedEngine([Outbound("đã nhận ảnh")])
    channel = ZaloChannel(engine, api)
    image = user.text_update("20")  # an image whose caption reads like an answer
    image["event_name"] = "message.image.received"
    image["message"]["photo_url"] = "https://example.org/p.jpg"
    unknown = user.text_update("25")
    unknown["event_name"] = "message.voice.received"
    for update in (image, unknown):
        await channel.handle_update(update)
    (inbound,) = engine.seen  # the image, with its photo to download; never the voice
    assert inbound.attachment is not None and inbound.attachment.fetch is not None
    assert [m.text for m in user.unread()] == ["đã nhận ảnh", say("zalo_text_only")]


async def test_a_slow_turn_holds_back_the_next_message_of_its_chat_only(zalo, bot_token, api):
    """Replies come in the order the messages were typed, even when the first turn is slow;
    another chat is served meanwhile."""
    release = asyncio.Event()

    class Engine:
        async def handle(self, inbound: Inbound) -> list[Outbound]:
            if inbound.text == "chậm":
                await release.wait()
            return [Outbound(f"đã nhận {inbound.text}")]

    handled = asyncio.Queue()
    channel = ZaloChannel(Engine(), api, on_handled=handled.put_nowait, typing_after=None)
    service = ZaloReceiver(channel, poll_timeout=5)
    await service.start()
    try:
        first, other = ZaloUser(zalo, bot_token, "15"), ZaloUser(zalo, bot_token, "16")
        await first.send("chậm")
        await first.send("nhanh")
        await other.send("xin chào")
        assert await asyncio.wait_for(handled.get(), 30) == other.user_id
        with pytest.raises(TimeoutError):  # "nhanh" waits for "chậm"
            await asyncio.wait_for(handled.get(), 0.5)
        release.set()
        assert [await asyncio.wait_for(handled.get(), 30) for _ in range(2)] == ["15", "15"]
    finally:
        await service.stop()
    assert [m.text for m in first.unread()] == ["đã nhận chậm", "đã nhận nhanh"]
    assert [m.text for m in other.unread()] == ["đã nhận xin chào"]


async def test_the_app_runs_polling_links_pages_and_delivery_on_one_server(
    zalo, bot_token, engine, tmp_path, monkeypatch
):
    """``bot.app.App`` for Zalo: polling, one web server for the document links and any other
    page, and the delivery loop sending what the outbox holds through Zalo."""
    monkeypatch.setenv("FORMBOT_QUIET_HOURS", "off")  # whatever the hour in Vietnam
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from bot.app import App, WebSettings, ZaloSettings
    from storage import outbox as outbox_store

    port = free_port()
    links = DocumentLinks(f"http://127.0.0.1:{port}", LinkSigner("a-secret-of-sixteen-chars", 3600))
    page = Route("/health", lambda _request: PlainTextResponse("ok"))
    handled = asyncio.Queue()
    app = App(
        engine,
        zalo=ZaloSettings(bot_token, base_url=zalo.base_url, links=links, retry_delays=()),
        web=WebSettings("127.0.0.1", port),
        on_handled=handled.put_nowait,
        web_routes=[page],
    )
    user = ZaloUser(zalo, bot_token, "17")
    zalo.bots[bot_token].chats.add(user.user_id)
    async with engine.db.session() as session, session.begin():
        await outbox_store.enqueue(
            session,
            [{"key": "t:17", "channel": "zalo", "external_id": "17", "kind": "t", "text": "Nhắc"}],
        )
    await app.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"http://127.0.0.1:{port}/health")).text == "ok"
            # The app keeps the linked documents in its database.
            document = Document("a.pdf", b"%PDF", "application/pdf")
            await app.zalo.links.keep([document])
            url = app.zalo.links.link(document).url
            assert (await http.get(url)).content == b"%PDF"
        await user.send("/start NOSUCH")
        assert await asyncio.wait_for(handled.get(), 30) == "17"

        async def delivered():
            while "Nhắc" not in [m.text for m in zalo.bots[bot_token].sent]:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(delivered(), 30)
    finally:
        await app.stop()
    texts = [m.text for m in user.unread()]
    assert "Nhắc" in texts
    assert any(say("invite_unknown", code="NOSUCH") in text for text in texts)

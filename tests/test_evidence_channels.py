"""Evidence end to end through the channels, with test doubles of the platforms: a Bot API
that answers getFile and serves the file download (python-telegram-bot driven as in
``test_telegram``), and a Zalo API whose image messages carry a photo URL served by an httpx
``MockTransport``. SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import time

import evidence_files as files
import httpx
from sqlalchemy import func, select
from telegram import Update
from test_telegram import Harness, RecordingBotApi

from bot.zalo import ZaloChannel
from bot.zalo_api import ZaloApi
from dialogs import Engine
from storage import evidence as store
from storage.models import Evidence
from templates.messages import say

_ids = itertools.count(10_000)
UNIT = "UBND xã Hương Vinh"


class FileBotApi(RecordingBotApi):
    """The recording Bot API, plus getFile and the file download (``/file/bot<token>/…``)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id → (file_path, bytes)
        self.downloads: list[str] = []

    def add(self, file_id: str, path: str, data: bytes) -> None:
        self.files[file_id] = (path, data)

    async def do_request(self, url, method, request_data=None, **timeouts):
        if "/file/bot" in url:
            path = url.split("/file/bot", 1)[1].split("/", 1)[1]
            self.downloads.append(path)
            data = next((d for p, d in self.files.values() if p == path), None)
            return (200, data) if data is not None else (404, b"")
        return await super().do_request(url, method, request_data, **timeouts)

    def _result(self, endpoint: str, params: dict):
        if endpoint == "getFile":
            path, data = self.files[params["file_id"]]
            file_id = params["file_id"]
            return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(data)} | {
                "file_path": path
            }
        return super()._result(endpoint, params)


def file_update(bot, user_id: int, **content) -> Update:
    number = next(_ids)
    message = {
        "message_id": number,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Lan"},
        **content,
    }
    return Update.de_json({"update_id": number, "message": message}, bot)


def photo(file_id: str, size: int) -> dict:
    return {"file_id": file_id, "file_unique_id": file_id, "width": 90, "height": 60} | {
        "file_size": size
    }


async def evidence_rows(database) -> list[Evidence]:
    async with database.session() as session:
        return list((await session.execute(select(Evidence).order_by(Evidence.id))).scalars())


async def test_telegram_photos_and_documents_become_evidence(database):
    engine = Engine(database, {"mini": files.evidence_spec()})
    await engine.bind("telegram", "11", unit_name=UNIT, form_id="mini", year=2020)
    api = FileBotApi()
    big = files.jpeg(size=(800, 600))
    api.add("small", "photos/small.jpg", files.jpeg(size=(90, 60)))
    api.add("large", "photos/large.jpg", big)
    api.add("doc", "documents/hoa-don.pdf", files.pdf())
    api.add("exe", "documents/setup.pdf", files.EXE)
    async with Harness(engine, api) as harness:
        bot = harness.app.bot
        await harness.send(11, "Sở A")
        await harness.send(11, "10")
        assert "📎 Tài liệu kiểm chứng cho 1.2" in api.texts(11)[-1]
        sizes = [photo("small", 900), photo("large", len(big))]
        await harness.app.process_update(file_update(bot, 11, photo=sizes, caption="máy 1"))
        assert api.downloads == ["photos/large.jpg"]  # the largest size only
        document = {"file_id": "doc", "file_unique_id": "doc", "file_name": "hoa đơn.pdf"}
        await harness.app.process_update(file_update(bot, 11, document=document))
        assert "Đã nhận hoa đơn.pdf" in api.texts(11)[-1] and "2 tài liệu" in api.texts(11)[-1]
        too_big = {"file_id": "huge", "file_unique_id": "huge", "file_name": "scan.pdf"} | {
            "file_size": 25 * 1024 * 1024
        }
        await harness.app.process_update(file_update(bot, 11, document=too_big))
        assert api.texts(11)[-1].startswith("Tệp quá lớn (25,0 MB)")
        assert [c.params["file_id"] for c in api.sent("getFile")] == ["large", "doc"]
        renamed = {"file_id": "exe", "file_unique_id": "exe", "file_name": "setup.pdf"}
        await harness.app.process_update(file_update(bot, 11, document=renamed))
        assert api.texts(11)[-1] == say("evidence_executable")
        await harness.press(11, say("evidence_done_button"))
        assert "Đã lưu 2 tài liệu kiểm chứng cho 1.2" in api.texts(11)[-1]
        assert "3.1" in api.texts(11)[-1]  # the next question
    rows = await evidence_rows(database)
    assert [(r.code, r.mime_type, r.filename) for r in rows] == [
        ("1.2", "image/jpeg", "anh-1.2-1.jpg"),
        ("1.2", "application/pdf", "hoa đơn.pdf"),
    ]
    assert rows[0].size == len(big) and rows[0].channel == "telegram"


class FakeZalo:
    """The Zalo Bot API's sendMessage and a photo host, behind one httpx MockTransport."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.photos: dict[str, bytes] = {}
        self.fetched: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "photos.zalo.test":
            self.fetched.append(request.url.path)
            data = self.photos.get(request.url.path)
            return httpx.Response(200, content=data) if data is not None else httpx.Response(404)
        method = request.url.path.rsplit("/", 1)[-1]
        if method == "sendMessage":
            self.texts.append(json.loads(request.content)["text"])
        return httpx.Response(200, json={"ok": True, "result": {"message_id": "m", "date": 1}})


def zalo_update(event: str, **message) -> dict:
    number = next(_ids)
    body = {
        "message_id": f"z{number}",
        "date": 1_700_000_000_000 + number,
        "chat": {"id": "u1", "chat_type": "PRIVATE"},
        "from": {"id": "u1", "display_name": "Lan", "is_bot": False},
        **message,
    }
    return {"event_name": event, "message": body}


async def test_zalo_image_messages_and_links_become_evidence(database):
    engine = Engine(database, {"mini": files.evidence_spec()})
    await engine.bind("zalo", "u1", unit_name=UNIT, form_id="mini", year=2020)
    zalo = FakeZalo()
    zalo.photos["/p/man-hinh.jpg"] = files.jpeg("white")
    zalo.photos["/p/hong.jpg"] = files.broken_jpeg()
    client = httpx.AsyncClient(transport=httpx.MockTransport(zalo.handle))
    api = ZaloApi("1:zalo", base_url="http://zalo.test", client=client)
    channel = ZaloChannel(engine, api, typing_after=None, retry_delays=())
    text = "message.text.received"
    image = "message.image.received"
    try:
        await channel.handle_update(zalo_update(text, text="Sở A"))
        await channel.handle_update(zalo_update(text, text="10"))
        assert "📎 Tài liệu kiểm chứng cho 1.2" in zalo.texts[-1]
        await channel.handle_update(
            zalo_update(image, photo_url="http://photos.zalo.test/p/man-hinh.jpg", caption="máy")
        )
        assert "Đã nhận" in zalo.texts[-1] and "1 tài liệu" in zalo.texts[-1]
        await channel.handle_update(zalo_update(image, photo="http://photos.zalo.test/p/hong.jpg"))
        assert zalo.texts[-1].startswith(say("evidence_bad_image"))
        await channel.handle_update(zalo_update(image, photo="http://photos.zalo.test/p/none"))
        assert zalo.texts[-1].startswith(say("evidence_download_failed"))
        await channel.handle_update(zalo_update(text, text="file:///etc/passwd"))
        assert zalo.texts[-1].startswith(say("evidence_bad_link", text="file:///etc/passwd"))
        await channel.handle_update(zalo_update(text, text="https://xa.gov.vn/vb/12"))
        assert "2 tài liệu" in zalo.texts[-1]
        await channel.handle_update(zalo_update(text, text="xong"))
        assert "Đã lưu 2 tài liệu kiểm chứng cho 1.2" in zalo.texts[-1]
    finally:
        await client.aclose()
    rows = await evidence_rows(database)
    assert [(r.kind, r.mime_type, r.url) for r in rows] == [
        ("file", "image/jpeg", None),
        ("link", None, "https://xa.gov.vn/vb/12"),
    ]
    assert zalo.fetched == ["/p/man-hinh.jpg", "/p/hong.jpg", "/p/none"]
    async with database.session() as session:
        assert await store.count_blobs(session) == 1
        total = (await session.execute(select(func.sum(Evidence.size)))).scalar_one()
    assert total == len(zalo.photos["/p/man-hinh.jpg"])

"""The respondent's read-only page of their whole form: /xem offers it as a signed link (a
Telegram Mini App on Telegram), the page shows every section, and forged, expired or
borrowed links get a Vietnamese page instead."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
import time_machine
from chatting import Chat
from conftest import FIXTURES

from bot.links import LinkSigner, ReviewLinks
from bot.telegram_render import keyboard
from bot.telegram_webapp import init_data_hash, telegram_user_id, validate_init_data
from bot.web import review_routes, web_app
from dialogs import Engine
from dialogs.messages import text_menu
from dialogs.payloads import OpenPage
from dialogs.spec import load_spec

SECRET = "a-link-secret-of-32-characters!!"
TOKEN = "123456:TEST-token-for-the-mini-app"
PUBLIC = "https://bot.example.gov.vn"


def links(app: bool = False) -> ReviewLinks:
    return ReviewLinks(PUBLIC, LinkSigner(SECRET, 24 * 3600), app=app)


@pytest.fixture
def warned_spec(tmp_path):
    """The mini form, with more computers online than staff with one a warning to keep."""
    text = (FIXTURES / "mini.yaml").read_text(encoding="utf-8")
    rule = "          - rule: ${3.2.a} <= ${3.1}\n"
    assert rule in text
    path = tmp_path / "mini.yaml"
    path.write_text(text.replace(rule, rule + "            severity: warning\n"), "utf-8")
    return load_spec(path)


@pytest.fixture
def review_engine(database, warned_spec):
    engine = Engine(database, {"mini": warned_spec})
    engine.services.review_links = links()
    return engine


def client(engine: Engine, review: ReviewLinks, token: str | None = None) -> httpx.AsyncClient:
    app = web_app(review_routes(engine.db, engine.forms, review, token))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC)


async def partly_answered(engine: Engine, channel: str = "zalo", user: str = "u1") -> Chat:
    """1.1 to 3.2.a answered, a warning kept on 3.2.a (12 computers online, 10 staff with
    one), the rest open."""
    chat = Chat(engine, user=user, channel=channel)
    await chat.start()
    for typed in ("Sở Thông tin và Truyền thông", "10", "10", "12"):
        await chat.say(typed)
    await chat.press("warn:3.2.a")
    assert "Đã giữ 3.2.a" in chat.text, chat.text
    return chat


def whole_form_option(chat: Chat) -> OpenPage:
    pages = [o.payload for m in chat.last for o in m.options if isinstance(o.payload, OpenPage)]
    assert len(pages) == 1, [o.label for m in chat.last for o in m.options]
    return pages[0]


def relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_review_index_offers_the_whole_form_as_a_link(review_engine):
    chat = await partly_answered(review_engine)
    await chat.say("/xem")
    page = whole_form_option(chat)
    assert page.url.startswith(f"{PUBLIC}/review/") and not page.app
    # Zalo and the console show the address itself.
    assert f"Xem toàn bộ phiếu: {page.url}" in text_menu(chat.last[-1])


async def test_the_page_shows_sections_answers_warnings_missing_items_and_edit_codes(
    review_engine,
):
    chat = await partly_answered(review_engine)
    await chat.say("/xem")
    async with client(review_engine, links()) as http:
        response = await http.get(relative(whole_form_option(chat).url))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    text = text_of(response.text)
    assert "Sở Thử nghiệm · năm 2020 · đang điền" in text
    assert "MỤC 3. HẠ TẦNG KỸ THUẬT" in text and "MỤC 5. ỨNG DỤNG CNTT" in text
    assert "3.2.a Tổng số máy tính có kết nối Internet 12 máy" in text
    assert (
        "⚠ Cảnh báo đã giữ: 12 máy tính có Internet nhưng chỉ có 10 CBCC được trang bị máy tính"
        in text
    )
    assert "Để sửa, gõ trong chat: /sua 3.2.a" in text
    # A required item with no answer, and a computed one.
    assert "5.1 Số lượng văn bản điện tử gửi (VB đi)/ Tổng số văn bản đi — Chưa trả lời" in text
    assert re.search(r"3\.2\.b Tổng băng thông kết nối Internet quy đổi .*? Bot tự tính", text)
    assert "/sua 3.2.b " not in text
    # Everything is escaped and nothing comes from elsewhere.
    assert "<script" not in response.text and "http" not in response.text.split("<body>")[1]


async def test_an_expired_link_says_so_in_vietnamese(review_engine):
    chat = await partly_answered(review_engine)
    await chat.say("/xem")
    url = relative(whole_form_option(chat).url)
    with time_machine.travel(time.time() + 24 * 3600 + 60, tick=False):
        async with client(review_engine, links()) as http:
            response = await http.get(url)
    assert response.status_code == 410
    assert "Liên kết đã hết hạn" in response.text and "gõ /xem" in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "change",
    [
        lambda url: url.replace("sig=", "sig=x"),
        lambda url: re.sub(r"expires=(\d+)", lambda m: f"expires={int(m[1]) + 3600}", url),
        lambda url: re.sub(r"/review/(\d+)", lambda m: f"/review/{int(m[1]) + 1}", url),
        lambda url: url.split("?")[0],
    ],
    ids=["signature", "prolonged", "another-form", "unsigned"],
)
async def test_a_forged_link_is_refused_in_vietnamese(review_engine, change):
    chat = await partly_answered(review_engine)
    await chat.say("/xem")
    async with client(review_engine, links()) as http:
        response = await http.get(change(relative(whole_form_option(chat).url)))
    assert response.status_code == 403
    assert "Liên kết không hợp lệ" in response.text and "Xem toàn bộ phiếu" in response.text


async def test_a_signed_link_to_a_form_that_is_gone_is_not_found(review_engine):
    signed = links().page(999, "zalo", "u1")
    async with client(review_engine, links()) as http:
        response = await http.get(relative(signed.url))
    assert response.status_code == 404 and "Không tìm thấy phiếu" in response.text


async def test_without_a_public_url_the_index_offers_no_link(database, mini_spec):
    chat = Chat(Engine(database, {"mini": mini_spec}), channel="zalo")
    await chat.start()
    await chat.say("/xem")
    assert not any(isinstance(o.payload, OpenPage) for m in chat.last for o in m.options)


# Telegram: a Mini App whose initData names the person -----------------------------------------


def init_data(user_id: int, *, token: str = TOKEN, auth_date: int | None = None) -> str:
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": "Lan", "language_code": "vi"}),
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
    }
    fields["hash"] = init_data_hash(fields, token)
    return urlencode(fields)


async def test_on_telegram_the_link_is_a_mini_app_for_that_person_only(database, warned_spec):
    engine = Engine(database, {"mini": warned_spec})
    engine.services.review_links = links(app=True)
    chat = await partly_answered(engine, channel="telegram", user="4242")
    await chat.say("/xem")
    page = whole_form_option(chat)
    assert page.app and "tg=4242" in page.url
    buttons = [b for row in keyboard(chat.last[-1]).inline_keyboard for b in row]
    (button,) = [b for b in buttons if b.web_app is not None]
    assert button.web_app.url == page.url and button.callback_data is None

    url = relative(page.url)
    async with client(engine, links(app=True), TOKEN) as http:
        opened = await http.get(url)  # what Telegram opens: the answers wait for initData
        assert opened.status_code == 200 and "tgWebAppData" in opened.text
        assert "3.2.a" not in text_of(opened.text)
        shown = await http.post(url, data={"init_data": init_data(4242)})
        assert shown.status_code == 200 and "/sua 3.2.a" in shown.text
        borrowed = await http.post(url, data={"init_data": init_data(777)})
        forged = await http.post(url, data={"init_data": init_data(4242, token="1:other")})
        missing = await http.post(url, data={})
    for refused in (borrowed, forged, missing):
        assert refused.status_code == 403
        assert "Không xác nhận được tài khoản Telegram" in refused.text


async def test_zalo_gets_a_plain_link_even_when_telegram_has_mini_apps(database, warned_spec):
    engine = Engine(database, {"mini": warned_spec})
    engine.services.review_links = links(app=True)
    chat = await partly_answered(engine, channel="zalo")
    await chat.say("/xem")
    page = whole_form_option(chat)
    assert not page.app and "tg=" not in page.url


def test_an_http_public_url_gives_no_mini_app():
    assert not ReviewLinks("http://127.0.0.1:8080", LinkSigner(SECRET), app=True).app


# initData, Telegram's HMAC rule ----------------------------------------------------------------


def test_init_data_signed_with_the_bot_token_is_valid():
    now = time.time()
    fields = validate_init_data(init_data(4242, auth_date=int(now) - 60), TOKEN, now=now)
    assert telegram_user_id(fields) == "4242"


def test_init_data_hash_follows_telegrams_rule_step_by_step():
    fields = {"auth_date": "1700000000", "user": '{"id":1}', "query_id": "Q"}
    check = 'auth_date=1700000000\nquery_id=Q\nuser={"id":1}'
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    assert init_data_hash(fields, TOKEN) == expected


def test_tampered_init_data_is_refused():
    now = time.time()
    good = init_data(4242, auth_date=int(now))
    other_user = good.replace("4242", "4243")
    assert validate_init_data(other_user, TOKEN, now=now) is None
    assert validate_init_data(good, "654321:another-bot", now=now) is None
    assert validate_init_data(re.sub(r"hash=\w+", "hash=" + "0" * 64, good), TOKEN, now=now) is None
    assert validate_init_data(re.sub(r"&hash=\w+", "", good), TOKEN, now=now) is None
    assert validate_init_data(good + "&auth_date=1", TOKEN, now=now) is None
    assert validate_init_data("%%%", TOKEN, now=now) is None


def test_stale_init_data_is_refused():
    now = time.time()
    day = timedelta(days=1).total_seconds()
    stale = init_data(4242, auth_date=int(now - day - 60))
    assert validate_init_data(stale, TOKEN, now=now) is None
    fresh_enough = init_data(4242, auth_date=int(now - day + 60))
    assert validate_init_data(fresh_enough, TOKEN, now=now) is not None
    from_the_future = init_data(4242, auth_date=int(now + 3600))
    assert validate_init_data(from_the_future, TOKEN, now=now) is None

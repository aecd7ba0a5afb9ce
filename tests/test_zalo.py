"""The Zalo channel's pure parts: reading updates, rendering replies (numbered menus, pieces
under the text limit, documents as links), signed links that expire, the settings from the
environment, and an API client that never shows its token. The channel against a Zalo
server is in ``tests/e2e/test_zalo_channel.py`` and ``tests/e2e/test_zalo_e2e.py``."""

from __future__ import annotations

import asyncio
import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app import ConfigError, ZaloSettings, webhook_path
from bot.links import (
    DocumentLinks,
    DocumentStore,
    LinkConfigError,
    LinkSigner,
)
from bot.outbox import FAILED, ZaloSender
from bot.splitting import utf16_len
from bot.zalo import parse_update
from bot.zalo_api import ZaloApi, ZaloApiError
from bot.zalo_render import MAX_MESSAGE, render, split_text
from dialogs.messages import Document, Option, Outbound, text_menu
from storage.db import Database
from templates.messages import say

SECRET = "0123456789abcdef-link-secret"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# Updates -------------------------------------------------------------------------------------


def update(event="message.text.received", **message) -> dict:
    base = {
        "message_id": "abc",
        "date": 1,
        "text": "xin chào",
        "chat": {"id": "c1", "chat_type": "PRIVATE"},
        "from": {"id": "u1", "display_name": "Lan", "is_bot": False},
    }
    return {"event_name": event, "message": {**base, **message}}


def test_an_update_is_read_bare_or_in_its_envelope():
    bare = parse_update(update())
    wrapped = parse_update({"ok": True, "result": update()})
    assert bare == wrapped
    assert (bare.chat_id, bare.user_id, bare.text, bare.message_id, bare.name) == (
        "c1",
        "u1",
        "xin chào",
        "abc",
        "Lan",
    )
    assert not bare.group


def test_updates_the_channel_cannot_answer_are_none():
    assert parse_update({"event_name": "message.text.received"}) is None
    assert parse_update({"ok": True, "result": {}}) is None
    assert parse_update([1, 2]) is None
    assert parse_update(update(**{"from": {"id": "b", "is_bot": True}})) is None
    group = parse_update(update(chat={"id": "g", "chat_type": "GROUP"}))
    assert group.group
    sticker = parse_update(update("message.sticker.received", text=None, sticker="s1"))
    assert sticker.event == "message.sticker.received" and sticker.text is None
    named = parse_update(update(**{"from": {"id": 7, "name": "Minh"}}))
    assert (named.user_id, named.name) == ("7", "Minh")
    # Zalo's own getUpdates sample names the sender with ``first_name``.
    documented = parse_update(update(**{"from": {"id": "e4ea", "first_name": "Nguyen Van A"}}))
    assert (documented.user_id, documented.name) == ("e4ea", "Nguyen Van A")


# Rendering -----------------------------------------------------------------------------------


@given(st.text(alphabet=st.sampled_from("ab ơ\n😀x"), max_size=700), st.integers(20, 120))
def test_pieces_fit_the_limit_and_keep_every_character(text, limit):
    pieces = split_text(text, limit)
    assert all(utf16_len(piece) <= limit for piece in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())


def test_text_is_cut_at_paragraphs_then_lines_then_spaces():
    paragraph = "Một đoạn văn khá dài. " * 40
    pieces = split_text(paragraph.strip() + "\n\n" + paragraph.strip(), 1000)
    assert pieces == [paragraph.strip(), paragraph.strip()]
    assert split_text("x" * 2500) == ["x" * MAX_MESSAGE, "x" * 500]
    # A character outside the BMP counts twice (UTF-16), so it never straddles the limit.
    assert split_text("😀" * 1001) == ["😀" * 1000, "😀"]
    assert split_text("ngắn") == ["ngắn"]


def test_options_are_a_numbered_menu_with_the_command_hint():
    question = Outbound(
        "3.6. Có mạng LAN không?",
        options=(Option("Có", "ans:3.6:0", "1"), Option("Không", "ans:3.6:1", "2")),
        nav=(Option("◀ Quay lại", "cmd:quaylai", "/quaylai"),),
        asks="3.6",
    )
    (text,) = render([question], None)
    assert text == text_menu(question, say("text_menu_hint"))
    assert "\n1. Có\n2. Không\n" in text and text.endswith(say("text_menu_hint"))


def test_documents_become_one_message_of_signed_links():
    links = DocumentLinks(
        "https://bot.example.gov.vn/formbot/", LinkSigner(SECRET, 24 * 3600, Clock())
    )
    docx = Document("phieu.docx", b"docx bytes", DOCX)
    pdf = Document("phieu.pdf", b"pdf bytes", "application/pdf")
    replies = [
        Outbound("Đã nộp phiếu."),
        Outbound(docx.filename, document=docx),
        Outbound(pdf.filename, document=pdf),
    ]
    texts = render(replies, links)
    assert texts[0] == "Đã nộp phiếu."
    assert len(texts) == 2
    urls = re.findall(r"https://\S+", texts[1])
    assert len(urls) == 2
    assert urls[0].startswith(
        f"https://bot.example.gov.vn/formbot/documents/{hashlib.sha256(b'docx bytes').hexdigest()}"
        "/phieu.docx?expires="
    )
    assert texts[1].startswith(say("zalo_documents_links", links=[], hours="24"))


def test_without_links_documents_are_a_note_about_reviewers():
    docx = Document("phieu.docx", b"x", DOCX)
    captioned = Outbound("Phiếu của xã A:", document=docx)
    texts = render([captioned], None)
    assert texts == [
        text_menu(captioned, say("text_menu_hint")),
        say("zalo_documents_no_link", names=["phieu.docx"]),
    ]


# Signed links: the documents in the database -------------------------------------------------


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def links(database, clock):
    signer = LinkSigner(SECRET, 24 * 3600, clock)
    return DocumentLinks("https://bot.example.gov.vn", signer).with_database(database)


async def issue(links: DocumentLinks, document: Document) -> str:
    await links.keep([document])
    return links.link(document).url


async def resolve(links: DocumentLinks, url: str):
    path, _, query = url.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&") if part)
    return await links.resolve(path.removeprefix(links.public_url), params)


async def test_a_link_serves_its_document_until_it_expires(links, clock):
    document = Document("phiếu xã A.docx", b"the docx", DOCX)
    await links.keep([document])
    link = links.link(document)
    assert link.expires == int(clock.now) + 24 * 3600
    download = await resolve(links, link.url)
    assert (download.status, download.data, download.filename) == (
        200,
        b"the docx",
        document.filename,
    )
    assert download.mime_type == DOCX
    clock.now = link.expires
    assert (await resolve(links, link.url)).status == 200
    clock.now = link.expires + 1
    assert (await resolve(links, link.url)).status == 403


async def test_any_worker_serves_a_link_another_one_issued(links, database, clock):
    """Workers behind one public URL share nothing but the database."""
    other = Database(database.url)  # another worker's connections
    try:
        elsewhere = DocumentLinks(links.public_url, links.signer).with_database(other)
        url = await issue(links, Document("phieu.pdf", b"%PDF-1.4 xa A", "application/pdf"))
        download = await resolve(elsewhere, url)
    finally:
        await other.dispose()
    assert (download.status, download.data) == (200, b"%PDF-1.4 xa A")


async def test_a_tampered_link_is_refused(links):
    first = await issue(links, Document("a.docx", b"first", DOCX))
    second = await issue(links, Document("b.pdf", b"second", "application/pdf"))
    other_digest = hashlib.sha256(b"second").hexdigest()
    digest = hashlib.sha256(b"first").hexdigest()
    expires = re.search(r"expires=(\d+)", first)[1]
    tampered = [
        first.replace(digest, other_digest),  # another document
        first.replace("/a.docx?", "/a.pdf?"),  # another name
        first.replace(f"expires={expires}", f"expires={int(expires) + 3600}"),  # longer
        re.sub(r"sig=[^&]+", "sig=" + "A" * 43, first),  # forged signature
        re.sub(r"&sig=[^&]+", "", first),  # no signature
        first.replace(f"expires={expires}", "expires=soon"),
        # the signature of one link on another
        second.split("&sig=")[0] + "&sig=" + first.split("&sig=")[1],
    ]
    assert [(await resolve(links, url)).status for url in tampered] == [403] * len(tampered)
    assert (await resolve(links, first)).status == 200
    assert (await resolve(links, second)).status == 200
    assert (await links.resolve("/elsewhere/a.docx", {})).status == 404


async def test_a_valid_link_to_a_document_never_kept_is_not_found(links):
    link = links.link(Document("a.docx", b"bytes", DOCX))
    assert (await resolve(links, link.url)).status == 404


async def test_old_documents_are_purged_as_new_ones_are_stored(database, clock):
    store = DocumentStore(database, 3600, clock)
    old = await store.put(b"old", DOCX)
    clock.now += 3600 + 61
    new = await store.put(b"new", DOCX)
    assert await store.get(old) is None and await store.get(new) == b"new"
    assert await store.get("../etc/passwd") is None
    clock.now -= 3600 + 61  # even seen from before: the old one's row is gone
    assert await store.get(old) is None
    # Stored again, the same bytes are kept for the longer of the two lifetimes.
    assert await store.put(b"new", DOCX) == new
    clock.now += 3600 + 61
    assert await store.get(new) == b"new"


async def test_a_link_through_a_path_prefix_resolves(database, clock):
    links = DocumentLinks("https://gov.vn/formbot", LinkSigner(SECRET, 60, clock))
    links = links.with_database(database)
    url = await issue(links, Document("a.pdf", b"%PDF", "application/pdf"))
    path, _, query = url.removeprefix("https://gov.vn").partition("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    assert (await links.resolve(path, params)).status == 200  # the proxy kept /formbot
    # … or stripped it.
    assert (await links.resolve(path.removeprefix("/formbot"), params)).status == 200


def test_links_come_from_the_environment():
    assert DocumentLinks.from_env({}) is None
    with pytest.raises(LinkConfigError, match="FORMBOT_LINK_SECRET"):
        DocumentLinks.from_env({"FORMBOT_PUBLIC_URL": "https://x.vn"})
    with pytest.raises(LinkConfigError, match="FORMBOT_LINK_SECRET"):
        DocumentLinks.from_env(
            {"FORMBOT_PUBLIC_URL": "https://x.vn", "FORMBOT_LINK_SECRET": "short"}
        )
    with pytest.raises(LinkConfigError, match="http"):
        DocumentLinks.from_env({"FORMBOT_PUBLIC_URL": "x.vn", "FORMBOT_LINK_SECRET": SECRET})
    env = {
        "FORMBOT_PUBLIC_URL": "https://x.vn",
        "FORMBOT_LINK_SECRET": SECRET,
        "FORMBOT_LINK_TTL_HOURS": "2",
    }
    links = DocumentLinks.from_env(env)
    assert links.ttl_hours == 2 and links.store is None  # the running bot gives it its database
    assert DocumentLinks.from_env({**env, "FORMBOT_LINK_TTL_HOURS": ""}).ttl_hours == 24
    with pytest.raises(LinkConfigError):
        DocumentLinks.from_env({**env, "FORMBOT_LINK_TTL_HOURS": "một ngày"})
    with pytest.raises(LinkConfigError):
        DocumentLinks.from_env({**env, "FORMBOT_LINK_TTL_HOURS": "0"})


# Settings and the API client -------------------------------------------------------------------


def test_settings_come_from_the_environment():
    env = {"ZALO_BOT_TOKEN": "1:t", "WEBHOOK_SECRET": "shared_secret"}
    polling = ZaloSettings.from_env(None, env)
    assert (polling.webhook_url, polling.secret, polling.links, polling.base_url) == (
        None,
        None,
        None,
        None,
    )
    hook = ZaloSettings.from_env("https://x.vn/zalo/hook", env)
    assert (hook.secret, webhook_path(hook.webhook_url)) == ("shared_secret", "/zalo/hook")
    own = {**env, "ZALO_WEBHOOK_SECRET": "zalo_only_secret", "ZALO_BASE_URL": "http://127.0.0.1:1"}
    hook = ZaloSettings.from_env("https://x.vn", own)
    assert (hook.secret, webhook_path(hook.webhook_url), hook.base_url) == (
        "zalo_only_secret",
        "/",
        "http://127.0.0.1:1",
    )
    for webhook_url, bad in [
        (None, {}),
        ("https://x.vn/h", {"ZALO_BOT_TOKEN": "1:t"}),
        ("https://x.vn/h", {"ZALO_BOT_TOKEN": "1:t", "WEBHOOK_SECRET": "short"}),
        ("https://x.vn/h", {"ZALO_BOT_TOKEN": "1:t", "WEBHOOK_SECRET": "has space in it"}),
        ("x.vn/h", env),
        (None, {**env, "FORMBOT_PUBLIC_URL": "https://x.vn"}),
    ]:
        with pytest.raises(ConfigError):
            ZaloSettings.from_env(webhook_url, bad)


async def test_api_errors_never_show_the_token():
    token = "123456:very-secret-token"
    api = ZaloApi(token, base_url="http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(ZaloApiError) as refused:
        await api.send_message("c1", "xin chào")
    await api.close()
    assert refused.value.transient and refused.value.error_code is None
    assert not refused.value.delivery_unknown  # no connection: the request never left
    assert token not in str(refused.value) and "very-secret" not in repr(refused.value)
    with pytest.raises(ValueError):
        ZaloApi("")
    assert ZaloApiError("m", 429, "slow down").transient
    assert ZaloApiError("m", 502, "bad gateway").transient
    # Zalo's reference: 408 is a time-out, 403 "Internal server error".
    assert ZaloApiError("m", 408, "Request timeout").transient
    assert ZaloApiError("m", 403, "Internal server error").transient
    assert not ZaloApiError("m", 400, "bad request").transient


async def test_a_request_that_left_and_got_no_answer_is_delivery_unknown():
    """A server that reads the request and never answers: Zalo may have delivered it."""
    received, finished = asyncio.Event(), asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        received.set()
        await finished.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    api = ZaloApi("1:t", base_url=f"http://127.0.0.1:{port}", timeout=0.5)
    try:
        with pytest.raises(ZaloApiError) as unanswered:
            await api.send_message("c1", "xin chào")
        result = await ZaloSender(api).send("c1", "xin chào")
    finally:
        await api.close()
        finished.set()
        server.close()
        await server.wait_closed()
    assert received.is_set()
    assert unanswered.value.delivery_unknown and unanswered.value.transient
    assert (result.status, result.reason.split(":")[0]) == (FAILED, "delivery unknown")

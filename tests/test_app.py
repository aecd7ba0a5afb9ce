"""What ``formbot run`` assembles: the engine of a running bot has its documents and ranking."""

from __future__ import annotations

import io

import httpx
import openpyxl
import pytest

from bot.app import ConfigError, build_engine, review_pages
from bot.web import web_app
from dialogs.spec import all_forms


async def test_a_running_bots_engine_renders_documents_and_ranks(database):
    engine = build_engine(database)
    assert set(engine.forms) == set(all_forms())
    assert await engine.services.render_documents(12345) == []  # no such submission
    ranking = await engine.services.rank(all_forms()["xa-phuong"], 2020)
    assert list(ranking.rows) == []
    book = openpyxl.load_workbook(io.BytesIO(ranking.xlsx))
    assert "Xếp hạng" in book.sheetnames


LINKS_ENV = {
    "FORMBOT_PUBLIC_URL": "https://bot.example.gov.vn",
    "FORMBOT_LINK_SECRET": "a-link-secret-of-32-characters!!",
    "TELEGRAM_BOT_TOKEN": "123456:TEST",
}


async def test_with_a_public_url_notices_link_and_review_pages_are_served(database):
    engine = build_engine(database, LINKS_ENV)
    assert engine.services.public_url == "https://bot.example.gov.vn"
    page = engine.services.review_links.page(1, "telegram", "42")
    assert page.app and page.url.startswith("https://bot.example.gov.vn/review/1?")
    routes = review_pages(engine, LINKS_ENV["TELEGRAM_BOT_TOKEN"])
    transport = httpx.ASGITransport(app=web_app(routes))
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as http:
        response = await http.get("/review/1?expires=9999999999&sig=forged")
    assert response.status_code == 403 and "Liên kết không hợp lệ" in response.text


async def test_a_public_url_without_a_link_secret_is_a_configuration_error(database):
    with pytest.raises(ConfigError, match="FORMBOT_LINK_SECRET"):
        build_engine(database, {"FORMBOT_PUBLIC_URL": "https://bot.example.gov.vn"})
    engine = build_engine(database, {})
    assert engine.services.review_links is None and review_pages(engine, None) == []

"""What ``formbot run`` assembles: the engine of a running bot has its documents and ranking."""

from __future__ import annotations

import io

import openpyxl

from bot.app import build_engine
from dialogs.spec import all_forms


async def test_a_running_bots_engine_renders_documents_and_ranks(database):
    engine = build_engine(database)
    assert set(engine.forms) == set(all_forms())
    assert await engine.services.render_documents(12345) == []  # no such submission
    ranking = await engine.services.rank(all_forms()["xa-phuong"], 2020)
    assert list(ranking.rows) == []
    book = openpyxl.load_workbook(io.BytesIO(ranking.xlsx))
    assert "Xếp hạng" in book.sheetnames

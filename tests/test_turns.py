"""Turns of several workers on one database (two ``Database`` objects: two connection pools, as
two processes have): one person's turns wait for each other, other people's do not; a turn
that fails leaves no trace in any worker's memory."""

from __future__ import annotations

import asyncio
import threading

import pytest
from chatting import Chat

from dialogs import Engine
from dialogs.messages import Inbound
from storage.db import Database
from storage.turns import TurnStatements
from templates.messages import say


@pytest.fixture
async def second(database):
    """Another worker's connections to the same database."""
    other = Database(database.url)
    yield other
    await other.dispose()


async def test_one_persons_turns_wait_for_each_other_across_workers(database, second):
    entered, release = threading.Event(), threading.Event()
    order: list[str] = []

    def holding(_statements: TurnStatements) -> None:
        order.append("first in")
        entered.set()
        release.wait(10)
        order.append("first out")

    def next_turn(_statements: TurnStatements) -> None:
        order.append("second in")

    first = asyncio.ensure_future(database.turns.run(holding, lock_key="telegram:7"))
    await asyncio.to_thread(entered.wait, 10)
    waiting = asyncio.ensure_future(second.turns.run(next_turn, lock_key="telegram:7"))
    if not database.is_sqlite:  # SQLite has one writer: everyone waits; PostgreSQL: only them
        await second.turns.run(lambda _statements: order.append("other person"), "zalo:7")
    await asyncio.sleep(0.2)  # time enough for the second turn to start, were it not held
    assert "second in" not in order
    release.set()
    await asyncio.gather(first, waiting)
    if database.is_sqlite:
        assert order == ["first in", "first out", "second in"]
    else:  # another person's turn ran while the first held its person
        assert order == ["first in", "other person", "first out", "second in"]


async def test_a_failed_turn_leaves_nothing_cached(database, second, mini_spec, monkeypatch):
    """Worker A's turn is rolled back after its handler ran; worker B then stores another
    answer. A must show B's answer, not the one it failed to store."""
    forms = {"mini": mini_spec}
    first, other = Engine(database, forms), Engine(second, forms)
    lan, minh = Chat(first, user="lan"), Chat(other, user="minh")
    await lan.start()
    await minh.start()
    original = TurnStatements.write

    def write_then_fail(self, writes):
        original(self, writes)
        raise RuntimeError("the connection broke before the commit")

    monkeypatch.setattr(TurnStatements, "write", write_then_fail)
    with pytest.raises(RuntimeError):
        await first.handle(Inbound("console", "lan", text="Sở Nội vụ", message_id="a1"))
    monkeypatch.setattr(TurnStatements, "write", original)
    assert "Sở Tài chính" in await minh.say("Sở Tài chính")  # B: the same unit's 1.1
    review = await lan.say("/xem 1")
    assert (
        say("review_line", code="1.1", label="Tên cơ quan", value="Sở Tài chính", mark="") in review
    )
    assert "Sở Nội vụ" not in review

"""The sender's order: one person's messages are applied in the order they were sent, across
workers; a typed message that arrives after a later one is not applied to the current question.
On SQLite and PostgreSQL, with a second engine on its own connections playing another worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from chatting import MINI_ANSWERS, Chat, submission_of

from dialogs import Engine
from dialogs.messages import Inbound
from dialogs.payloads import PickOption
from storage.db import Database
from templates.messages import say

NOW = datetime(2020, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
async def other_worker(database, engine):
    """Another worker process: its own engine, cache and connections on the same database."""
    second = Database(database.url)
    yield Engine(second, engine.forms)
    await second.dispose()


def typed(text: str, order: int, message_id: str) -> Inbound:
    return Inbound("telegram", "7", text=text, message_id=message_id, order=order)


async def answers(engine: Engine) -> dict:
    return (await submission_of(engine)).as_json()["answers"]


async def test_a_typed_message_older_than_one_applied_is_not_applied(engine, other_worker):
    chat = Chat(engine, user="7", channel="telegram")
    await chat.start()
    # Sent as 101 and 102; 102 reached a worker first and was applied to 1.1.
    [saved] = await engine.handle(typed("Sở Thông tin và Truyền thông", 102, "m102"))
    assert saved.asks == "1.2"
    # 101 reaches the other worker afterwards: it was typed for an earlier question.
    replies = await other_worker.handle(typed("25", 101, "m101"))
    text = replies[-1].text
    assert say("arrived_late", text="25") in text
    assert replies[-1].asks == "1.2"  # the current question, asked again
    assert "1.2" not in await answers(engine)
    # The next message in order is applied as usual.
    [saved] = await other_worker.handle(typed("30", 103, "m103"))
    assert say("saved", code="1.2", value="30 người") in saved.text
    assert (await answers(engine))["1.2"] == 30


async def test_equal_orders_are_not_late(engine):
    """Zalo's time stamps are milliseconds: two messages may carry the same one."""
    chat = Chat(engine, user="7", channel="telegram")
    await chat.start()
    await engine.handle(typed("Sở Thông tin và Truyền thông", 5000, "a"))
    [saved] = await engine.handle(typed("30", 5000, "b"))
    assert say("saved", code="1.2", value="30 người") in saved.text


async def test_buttons_and_looks_are_answered_whenever_they_come(engine, other_worker):
    chat = Chat(engine, user="7", channel="telegram")
    await chat.start()
    for order, (_code, text) in enumerate(MINI_ANSWERS[:8], start=100):
        await engine.handle(typed(text, order, f"m{order}"))
    # A press carries its item: 3.6 is answered although it is older than the typed answers.
    press = Inbound("telegram", "7", payload=PickOption("3.6", 0), message_id="p", order=50)
    replies = await other_worker.handle(press)
    assert say("saved", code="3.6", value="Có") in replies[0].text
    # A typed answer as old is late …
    replies = await engine.handle(typed("Mạng truyền số liệu", 60, "t60"))
    assert say("arrived_late", text="Mạng truyền số liệu") in replies[-1].text
    assert replies[-1].asks == "3.6.1"
    # … but a look (/tiendo, /xem) is answered whenever it comes.
    replies = await other_worker.handle(typed("/tiendo", 10, "t10"))
    shown = "\n".join(reply.text for reply in replies)  # the progress, then the question again
    assert say("arrived_late", text="/tiendo") not in shown
    assert "📊 Tiến độ năm 2020: 9/17 câu" in shown
    stored = await answers(engine)
    assert stored["3.6"] is True and "3.6.1" not in stored


async def test_an_order_from_long_ago_is_not_compared(engine):
    """Telegram picks a new, random update_id after a week without updates."""
    chat = Chat(engine, user="7", channel="telegram")
    with time_machine.travel(NOW, tick=False) as traveller:
        await chat.start()
        await engine.handle(typed("Sở Thông tin và Truyền thông", 900_000, "x"))
        traveller.shift(timedelta(days=8))
        [saved] = await engine.handle(typed("30", 17, "y"))
        assert say("saved", code="1.2", value="30 người") in saved.text
        # From then on the new sequence is the one compared with.
        replies = await engine.handle(typed("20", 16, "z"))
        assert say("arrived_late", text="20") in replies[-1].text

"""The outbox queue (``storage.outbox``): a message is queued once per key, claimed by one
worker only, and ends sent, blocked, failed or queued again; what a dead worker left is closed.
Who may send is decided by the database's clock, never a worker's."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from storage import outbox
from storage.models import utcnow


def message(n: int, **extra) -> dict:
    return {
        "key": f"reminder:test:{n}",
        "channel": "telegram",
        "external_id": str(n),
        "kind": "reminder",
        "text": f"Nhắc việc {n}",
        **extra,
    }


async def queue(database, rows: list[dict]) -> int:
    async with database.session() as session, session.begin():
        return await outbox.enqueue(session, rows)


async def statuses(database) -> dict[str, str]:
    async with database.session() as session:
        return {m.external_id: m.status for m in await outbox.outbox_messages(session)}


async def test_a_key_is_queued_once(database):
    assert await queue(database, [message(1), message(2)]) == 2
    assert await queue(database, [message(2), message(3)]) == 1
    async with database.session() as session:
        assert await outbox.existing_keys(session, ["reminder:test:1", "x"]) == {"reminder:test:1"}
        assert await outbox.outbox_counts(session) == {"queued": 3}


async def test_two_workers_claiming_the_same_rows_each_get_different_ones(database):
    await queue(database, [message(n) for n in range(6)])
    async with database.session() as session:
        due = await outbox.due_messages(session, utcnow(), ["telegram"], 10)
    ids = [row.id for row in due]
    async with database.engine.begin() as first:
        won = await outbox.claim_messages(first, ids[:4], utcnow())
    async with database.engine.begin() as second:
        also = await outbox.claim_messages(second, ids, utcnow())
    assert won == set(ids[:4]) and also == set(ids[4:])
    async with database.engine.begin() as third:
        assert not await outbox.claim_message(third, ids[0], utcnow())
    async with database.session() as session:
        assert await outbox.due_messages(session, utcnow(), ["telegram"], 10) == []
        assert await outbox.outbox_counts(session) == {"sending": 6}


async def test_outcomes_and_a_release_after_a_clean_stop(database):
    await queue(database, [message(n) for n in range(4)])
    async with database.session() as session:
        ids = [row.id for row in await outbox.due_messages(session, utcnow(), ["telegram"], 10)]
    now = utcnow()
    async with database.engine.begin() as connection:
        await outbox.claim_messages(connection, ids, now)
        await outbox.finish_messages(connection, ids[:2], "sent", now)
        await outbox.finish_message(
            connection, ids[2], "queued", now, retry_in=timedelta(seconds=30)
        )
        assert await outbox.release_messages(connection, ids, now) == 1  # only the unsent one
    assert await statuses(database) == {"0": "sent", "1": "sent", "2": "queued", "3": "queued"}
    async with database.session() as session:
        due = await outbox.due_messages(session, utcnow(), ["telegram"], 10)
        assert [row.external_id for row in due] == ["3"]  # "2" waits for its retry time
        assert due[0].attempts == 0  # released, not counted as an attempt
        retry_at = await outbox.next_due_time(session, ["telegram"])
        assert now + timedelta(seconds=25) < retry_at < utcnow() + timedelta(seconds=35)
        assert await outbox.next_due_time(session, ["zalo"]) is None


async def test_a_row_queued_again_for_later_is_not_claimed_before_its_time(database):
    """Worker A read the row as due; meanwhile worker B sent it, got a 5xx and queued it again
    for a minute later. A's claim, made from its earlier read, takes nothing."""
    await queue(database, [message(1)])
    async with database.session() as session:
        [row] = await outbox.due_messages(session, utcnow(), ["telegram"], 10)  # worker A's read
    async with database.engine.begin() as connection:  # worker B
        assert await outbox.claim_messages(connection, [row.id], utcnow()) == {row.id}
        await outbox.finish_message(
            connection, row.id, "queued", utcnow(), retry_in=timedelta(minutes=1)
        )
    async with database.engine.begin() as connection:  # worker A
        assert await outbox.claim_messages(connection, [row.id], utcnow()) == set()
    assert await statuses(database) == {"1": "queued"}


async def test_a_lease_runs_out_by_the_databases_clock_not_a_workers(database):
    """A worker whose clock runs an hour ahead does not take a row another worker claimed a
    moment ago (five-minute lease); a lease that has run out is taken by anyone."""
    await queue(database, [message(1), message(2)])
    async with database.session() as session:
        ids = {
            r.external_id: r.id
            for r in await outbox.due_messages(session, utcnow(), ["telegram"], 10)
        }
    async with database.engine.begin() as connection:
        await outbox.claim_messages(connection, [ids["1"]], utcnow(), timedelta(minutes=5))
        await outbox.claim_messages(connection, [ids["2"]], utcnow(), timedelta(0))
    with time_machine.travel(utcnow() + timedelta(hours=1), tick=False):
        async with database.engine.begin() as connection:
            assert await outbox.interrupted_messages(connection, utcnow()) == 1
    assert await statuses(database) == {"1": "sending", "2": "failed"}


async def test_expired_blocked_and_interrupted_messages_are_closed_with_a_reason(database):
    past = utcnow() - timedelta(hours=1)
    await queue(
        database,
        [message(1, expires_at=past), message(2), message(3), message(4, external_id="2")],
    )
    async with database.session() as session:
        rows = {r.key: r.id for r in await outbox.outbox_messages(session)}
    now = utcnow()
    async with database.engine.begin() as connection:
        assert await outbox.expire_messages(connection, now) == 1
        await outbox.claim_messages(connection, [rows["reminder:test:3"]], now, timedelta(0))
        assert (
            await outbox.close_queued_for_chat(
                connection, "telegram", "2", "blocked", "blocked the bot", now
            )
            == 2
        )
    async with database.engine.begin() as connection:
        # Left "sending" after its lease ran out: its worker died.
        assert await outbox.interrupted_messages(connection, utcnow()) == 1
    async with database.session() as session:
        reasons = {
            m.external_id + m.key[-1]: (m.status, m.reason)
            for m in await outbox.outbox_messages(session)
        }
    assert reasons == {
        "11": ("failed", "expired"),
        "22": ("blocked", "blocked the bot"),
        "24": ("blocked", "blocked the bot"),
        "33": ("failed", "interrupted: delivery unknown"),
    }


async def test_broadcasts_until_finished(database):
    async with database.session() as session, session.begin():
        broadcast = await outbox.create_broadcast(session, kind="announcement", text="Xin chào")
        await outbox.enqueue(session, [message(1, broadcast_id=broadcast.id), message(2)])
    async with database.session() as session:
        assert [b.id for b in await outbox.unfinished_broadcasts(session)] == [broadcast.id]
        assert await outbox.outbox_counts(session, broadcast.id) == {"queued": 1}
        assert len(await outbox.outbox_messages(session, broadcast_id=broadcast.id)) == 1

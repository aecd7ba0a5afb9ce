"""The outbox queue: messages to deliver (reminders, announcements, notices) and the broadcasts
they belong to.

A row goes queued → sending → sent / blocked / failed, or back to queued with a time to retry.
``key`` is an idempotency key, so a message is never queued twice; a row is committed as
``sending`` before its request leaves, so a crash never sends it a second time. Callers own the
transaction, as in ``storage.repo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Broadcast, OutboxMessage, utcnow

CHUNK = 500  # rows per INSERT / IN (...) list
_OUTBOX = OutboxMessage.__table__


def _insert_for(executor) -> Any:
    """The dialect's INSERT (for ON CONFLICT DO NOTHING)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = (getattr(executor, "dialect", None) or executor.bind.dialect).name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# Queueing ------------------------------------------------------------------------------------


async def create_broadcast(session: AsyncSession, **fields) -> Broadcast:
    broadcast = Broadcast(**fields)
    session.add(broadcast)
    await session.flush()
    return broadcast


async def enqueue(session: AsyncSession, rows: list[dict], now: datetime | None = None) -> int:
    """Queue messages; a row whose ``key`` is already queued (or sent) is left out. Returns how
    many were queued."""
    now = now or utcnow()
    queued = 0
    for start in range(0, len(rows), CHUNK):
        chunk = [
            {"status": "queued", "attempts": 0, "priority": 10, "created_at": now}
            | row
            | {"updated_at": now}
            for row in rows[start : start + CHUNK]
        ]
        columns = sorted({k for row in chunk for k in row})
        chunk = [{c: row.get(c) for c in columns} for row in chunk]
        stmt = _insert_for(session)(OutboxMessage).values(chunk).on_conflict_do_nothing()
        queued += (await session.execute(stmt)).rowcount
    return queued


async def existing_keys(session: AsyncSession, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        stmt = select(OutboxMessage.key).where(OutboxMessage.key.in_(keys[start : start + CHUNK]))
        found.update((await session.execute(stmt)).scalars())
    return found


# Delivering ----------------------------------------------------------------------------------


async def due_messages(
    session: AsyncSession, now: datetime, channels: list[str], limit: int
) -> list[OutboxMessage]:
    """Queued messages that may go now, most urgent first."""
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == "queued",
            OutboxMessage.channel.in_(channels),
            or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now),
            or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at >= now),
        )
        .order_by(OutboxMessage.priority, OutboxMessage.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def next_due_time(session: AsyncSession, channels: list[str]) -> datetime | None:
    """When the earliest deferred message (retry-after, back-off) may go; None if none."""
    stmt = select(func.min(OutboxMessage.not_before)).where(
        OutboxMessage.status == "queued",
        OutboxMessage.channel.in_(channels),
        or_(
            OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > OutboxMessage.not_before
        ),
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def claim_messages(executor, message_ids: Sequence[int], now: datetime) -> set[int]:
    """queued → sending for the rows of ``message_ids`` still queued, in one statement; the
    ids this caller won (several workers may race for the same rows: each row goes to one)."""
    if not message_ids:
        return set()
    stmt = (
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(list(message_ids)), _OUTBOX.c.status == "queued")
        .values(status="sending", attempts=_OUTBOX.c.attempts + 1, updated_at=now)
        .returning(_OUTBOX.c.id)
    )
    return set((await executor.execute(stmt)).scalars())


async def claim_message(executor, message_id: int, now: datetime) -> bool:
    """queued → sending for one row, by one worker only."""
    return message_id in await claim_messages(executor, [message_id], now)


async def release_messages(executor, message_ids: Sequence[int], now: datetime) -> int:
    """sending → queued for claimed rows whose request never left (a clean stop)."""
    if not message_ids:
        return 0
    stmt = (
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(list(message_ids)), _OUTBOX.c.status == "sending")
        .values(status="queued", attempts=_OUTBOX.c.attempts - 1, updated_at=now)
    )
    return (await executor.execute(stmt)).rowcount


async def finish_message(
    executor,
    message_id: int,
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """Record the outcome of a claimed row: sent, blocked, failed, or queued again."""
    await finish_messages(executor, [message_id], status, now, reason=reason, not_before=not_before)


async def finish_messages(
    executor,
    message_ids: Sequence[int],
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """``finish_message`` for several rows with the same outcome, in one statement."""
    if not message_ids:
        return
    values: dict[str, Any] = {"status": status, "updated_at": now, "reason": reason}
    if status == "sent":
        values["sent_at"] = now
    if status == "queued":
        values["not_before"] = not_before
    await executor.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(list(message_ids)), _OUTBOX.c.status == "sending")
        .values(**values)
    )


async def close_queued_for_chat(
    executor,
    channel: str,
    external_id: str,
    status: str,
    reason: str,
    now: datetime,
) -> int:
    """Close every queued message to one chat (e.g. after the person blocked the bot)."""
    stmt = (
        update(_OUTBOX)
        .where(
            _OUTBOX.c.channel == channel,
            _OUTBOX.c.external_id == external_id,
            _OUTBOX.c.status == "queued",
        )
        .values(status=status, reason=reason, updated_at=now)
    )
    return (await executor.execute(stmt)).rowcount


async def expire_messages(executor, now: datetime) -> int:
    """Queued messages past their expiry become failed ("expired")."""
    stmt = (
        update(_OUTBOX)
        .where(
            _OUTBOX.c.status == "queued",
            _OUTBOX.c.expires_at.is_not(None),
            _OUTBOX.c.expires_at < now,
        )
        .values(status="failed", reason="expired", updated_at=now)
    )
    return (await executor.execute(stmt)).rowcount


async def interrupted_messages(executor, claimed_before: datetime, now: datetime) -> int:
    """Messages left ``sending`` by a worker that died: whether they reached the person is
    unknown, so they are closed as failed ("interrupted") and never sent again."""
    stmt = (
        update(_OUTBOX)
        .where(_OUTBOX.c.status == "sending", _OUTBOX.c.updated_at < claimed_before)
        .values(status="failed", reason="interrupted: delivery unknown", updated_at=now)
    )
    return (await executor.execute(stmt)).rowcount


async def delete_everything(executor) -> None:
    """Empty the outbox and the broadcasts (a benchmark's fresh start; never the bot's)."""
    await executor.execute(_OUTBOX.delete())
    await executor.execute(Broadcast.__table__.delete())


# Reading -------------------------------------------------------------------------------------


async def outbox_counts(session: AsyncSession, broadcast_id: int | None = None) -> dict[str, int]:
    """How many messages are in each status (of one broadcast, or of all)."""
    stmt = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if broadcast_id is not None:
        stmt = stmt.where(OutboxMessage.broadcast_id == broadcast_id)
    return {status: n for status, n in (await session.execute(stmt)).all()}


async def unfinished_broadcasts(session: AsyncSession) -> list[Broadcast]:
    stmt = select(Broadcast).where(Broadcast.finished_at.is_(None)).order_by(Broadcast.id)
    return list((await session.execute(stmt)).scalars())


async def outbox_messages(
    session: AsyncSession, *, broadcast_id: int | None = None, status: str | None = None
) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if broadcast_id is not None:
        stmt = stmt.where(OutboxMessage.broadcast_id == broadcast_id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return list((await session.execute(stmt)).scalars())

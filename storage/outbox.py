"""The outbox queue: messages to deliver (reminders, announcements, notices) and the broadcasts
they belong to.

A row goes queued → sending → sent / blocked / failed, or back to queued with a time to retry.
``key`` is an idempotency key, so a message is never queued twice; a row is committed as
``sending`` before its request leaves, so a crash never sends it a second time. Callers own the
transaction, as in ``storage.repo``.

Time that decides who may send is the database's (``now()`` on PostgreSQL, the file's host clock
on SQLite), never a worker's: a claimed row's lease (``lease_until``) runs out by it, a retry
time (``not_before``) is set and compared by it, so a worker whose clock runs ahead can neither
take a row another worker is still sending nor send a retry early. Expiry (``expires_at``: a
reminder is for one day) is a date on the caller's calendar, like the reminder days themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from storage.models import Broadcast, OutboxMessage, utcnow

CHUNK = 500  # rows per INSERT / IN (...) list
LEASE = timedelta(minutes=5)  # how long a claimed row is its worker's
SENDER_LOCK = 0x6F7574626F78  # the advisory lock of the worker that sends ("outbox")
_OUTBOX = OutboxMessage.__table__
# SQLite keeps times as text the way SQLAlchemy writes them: "YYYY-MM-DD HH:MM:SS.ffffff".
_SQLITE_TIME = "%Y-%m-%d %H:%M:%f000"


def _dialect(executor) -> str:
    return (getattr(executor, "dialect", None) or executor.bind.dialect).name


def _insert_for(executor) -> Any:
    """The dialect's INSERT (for ON CONFLICT DO NOTHING)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if _dialect(executor) == "postgresql" else sqlite.insert


def _clock(executor, after: timedelta = timedelta(0)) -> Any:
    """The database's time (plus ``after``) as an SQL expression."""
    if _dialect(executor) == "postgresql":
        return func.now() + after if after else func.now()
    return func.strftime(_SQLITE_TIME, "now", f"{after.total_seconds():+f} seconds")


# Queueing ------------------------------------------------------------------------------------


async def create_broadcast(session: AsyncSession, **fields) -> Broadcast:
    broadcast = Broadcast(**fields)
    session.add(broadcast)
    await session.flush()
    return broadcast


def queued_row(row: dict, now: datetime) -> dict:
    """A message to queue with the defaults of a new row (also what the hot path's
    ``storage.turns.TurnStatements.enqueue`` writes)."""
    return (
        {"status": "queued", "attempts": 0, "priority": 10, "created_at": now}
        | row
        | {"updated_at": now}
    )


async def enqueue(session: AsyncSession, rows: list[dict], now: datetime | None = None) -> int:
    """Queue messages; a row whose ``key`` is already queued (or sent) is left out. Returns how
    many were queued."""
    now = now or utcnow()
    queued = 0
    for start in range(0, len(rows), CHUNK):
        chunk = [queued_row(row, now) for row in rows[start : start + CHUNK]]
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


def _may_go(executor, now: datetime) -> Any:
    """A queued row whose retry time has come (by the database's clock) and that has not
    expired at ``now``."""
    return and_(
        _OUTBOX.c.status == "queued",
        or_(_OUTBOX.c.not_before.is_(None), _OUTBOX.c.not_before <= _clock(executor)),
        or_(_OUTBOX.c.expires_at.is_(None), _OUTBOX.c.expires_at >= now),
    )


async def due_messages(
    session: AsyncSession, now: datetime, channels: list[str], limit: int
) -> list[OutboxMessage]:
    """Queued messages that may go now, most urgent first."""
    stmt = (
        select(OutboxMessage)
        .where(_may_go(session, now), OutboxMessage.channel.in_(channels))
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


async def claim_messages(
    executor, message_ids: Sequence[int], now: datetime, lease: timedelta = LEASE
) -> set[int]:
    """queued → sending, for ``lease`` by the database's clock, for the rows of
    ``message_ids`` that may still go (queued, their retry time come, not expired), in one
    statement; the ids this caller won (several workers may race for the same rows: each row
    goes to one, and a row queued again for later is not taken before its time)."""
    if not message_ids:
        return set()
    stmt = (
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(list(message_ids)), _may_go(executor, now))
        .values(
            status="sending",
            attempts=_OUTBOX.c.attempts + 1,
            updated_at=now,
            lease_until=_clock(executor, lease),
        )
        .returning(_OUTBOX.c.id)
    )
    return set((await executor.execute(stmt)).scalars())


async def claim_message(executor, message_id: int, now: datetime, lease: timedelta = LEASE) -> bool:
    """queued → sending for one row, by one worker only."""
    return message_id in await claim_messages(executor, [message_id], now, lease)


async def release_messages(executor, message_ids: Sequence[int], now: datetime) -> int:
    """sending → queued for claimed rows whose request never left (a clean stop)."""
    if not message_ids:
        return 0
    stmt = (
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(list(message_ids)), _OUTBOX.c.status == "sending")
        .values(status="queued", attempts=_OUTBOX.c.attempts - 1, updated_at=now, lease_until=None)
    )
    return (await executor.execute(stmt)).rowcount


async def finish_message(
    executor,
    message_id: int,
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    retry_in: timedelta | None = None,
) -> None:
    """Record the outcome of a claimed row: sent, blocked, failed, or queued again to go in
    ``retry_in`` (by the database's clock)."""
    await finish_messages(executor, [message_id], status, now, reason=reason, retry_in=retry_in)


async def finish_messages(
    executor,
    message_ids: Sequence[int],
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    retry_in: timedelta | None = None,
) -> None:
    """``finish_message`` for several rows with the same outcome, in one statement."""
    if not message_ids:
        return
    values: dict[str, Any] = {
        "status": status,
        "updated_at": now,
        "reason": reason,
        "lease_until": None,
    }
    if status == "sent":
        values["sent_at"] = now
    if status == "queued":
        values["not_before"] = _clock(executor, retry_in) if retry_in is not None else None
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


async def interrupted_messages(executor, now: datetime) -> int:
    """Messages left ``sending`` by a worker that died (their lease ran out by the database's
    clock): whether they reached the person is unknown, so they are closed as failed
    ("interrupted") and never sent again."""
    clock = _clock(executor)
    ran_out = or_(
        _OUTBOX.c.lease_until < clock,
        # Claimed before leases were kept (schema 0004): by the claim's own time stamp.
        and_(_OUTBOX.c.lease_until.is_(None), _OUTBOX.c.updated_at < now - LEASE),
    )
    stmt = (
        update(_OUTBOX)
        .where(_OUTBOX.c.status == "sending", ran_out)
        .values(
            status="failed",
            reason="interrupted: delivery unknown",
            updated_at=now,
            lease_until=None,
        )
    )
    return (await executor.execute(stmt)).rowcount


async def delete_everything(executor) -> None:
    """Empty the outbox and the broadcasts (a benchmark's fresh start; never the bot's)."""
    await executor.execute(_OUTBOX.delete())
    await executor.execute(Broadcast.__table__.delete())


# One sender among the workers --------------------------------------------------------------


class SenderLock:
    """PostgreSQL: the session advisory lock that makes one worker the outbox's sender, held
    on a connection of its own (outside any transaction) until ``release``, or until the
    worker dies and its connection with it. SQLite: always held (one process serves it)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._connection: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self.engine.dialect.name != "postgresql"

    async def acquire(self) -> bool:
        """Whether this worker is (now, or still) the sender."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self._connection is not None:
            try:
                await self._connection.execute(text("SELECT 1"))
                return True
            except Exception:  # the connection broke, and the lock went with it
                await self._drop()
        connection = await self.engine.connect()
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            taken = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:n)"), {"n": SENDER_LOCK}
            )
        except Exception:
            await connection.close()
            raise
        if not taken:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def release(self) -> None:
        if self._connection is None:
            return
        try:
            await self._connection.execute(
                text("SELECT pg_advisory_unlock(:n)"), {"n": SENDER_LOCK}
            )
        finally:
            await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        try:
            await connection.invalidate()  # never back to the pool with the lock on it
        finally:
            await connection.close()


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

"""Delivering the outbox: reminders, announcements and notices, paced and crash-safe.

Every message is a row in the ``outbox`` table (``storage.outbox``) with an idempotency key.
The dispatcher claims due rows (as many as it has free slots, in one statement: they are
``sending``, committed, before their requests leave); one launcher per channel sends them on
its pacer's schedule, so the database work never delays a request. The outcome is recorded:
``sent`` (together with the next claim); ``blocked`` (the person blocked the bot: marked,
skipped from then on); ``failed`` with a reason; or back to ``queued`` with a time to retry.

At most once: a Bot API send has no idempotency of its own, and a second copy is worse than a
missing reminder the IT team can see. So only what certainly did not reach the person is tried
again: a 429 retry-after, an error the API answered (5xx), a connection that was never made.
A request that left and got no answer (a read time-out, a dropped connection) is ``failed:
delivery unknown``, never resent, by the outbox or by the bot's rate limiter (the Telegram
sender asks it not to repeat). A worker that dies leaves at most ``concurrency`` rows
``sending``; when their lease runs out (by the database's clock, ``storage.outbox``) they are
closed as ``failed: interrupted`` and never sent again. A clean stop puts claimed rows whose
request never left back in the queue.

Pacing (per channel, from the sender): an overall rate (Telegram: about 30 messages a second;
the default leaves room for the live conversation) kept by ``Pacer``, one message per second
per chat, and a retry-after that holds back only the chat it was about, so one 429 does not
stall a 10,000-message broadcast. When the sender wraps the running application's bot, PTB's
``AIORateLimiter`` on that bot still caps everything the bot sends (replies included).
Nothing is sent in quiet hours (21:00–07:00 Asia/Ho_Chi_Minh by default); what falls in them
waits.

Senders are channel-agnostic: ``send(external_id, text)`` returns a ``SendResult``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time as clock
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Protocol

from dialogs.campaigns import LOCAL_TZ, local_time
from storage import outbox as queue
from storage import repo
from storage.db import Database
from storage.models import Broadcast, utcnow
from templates.messages import say

log = logging.getLogger(__name__)

SENT, BLOCKED, RETRY, FAILED = "sent", "blocked", "retry", "failed"
UNKNOWN = "delivery unknown"  # the reason of a send that left and got no answer
DEFAULT_RATE = 25.0  # Telegram allows about 30/s per bot; the rest is for live replies
LONG_BROADCAST = 50  # broadcasts at least this long report progress at 25, 50 and 75 %
MILESTONES = (25, 50, 75)
CATCH_UP = 1.0  # seconds of schedule a pacer may make up after a stall
# No more than ``rate`` requests within this window: a second, plus room for the few
# milliseconds between the pacer's go and the request leaving (costs 1 % of the rate).
WINDOW = 1.01
SENT_FLUSH_EVERY = 0.05  # seconds a "sent" outcome waits for the next claim to record it


def configured_rate() -> float | None:
    """``FORMBOT_OUTBOX_RATE``: messages per second for every channel (default: the sender's,
    25/s on Telegram)."""
    raw = os.environ.get("FORMBOT_OUTBOX_RATE", "").strip()
    if not raw:
        return None
    rate = float(raw)
    if not 0 < rate <= 30:
        raise ValueError(f"FORMBOT_OUTBOX_RATE must be above 0 and at most 30, not {raw}")
    return rate


@dataclass(frozen=True)
class SendResult:
    status: str  # sent | blocked | retry | failed
    retry_after: float | None = None
    reason: str | None = None


class Sender(Protocol):
    """One channel's way to deliver a text message to a person."""

    channel: str
    max_rate: float  # messages per second overall
    per_chat_interval: float  # seconds between two messages to one chat

    async def send(self, external_id: str, text: str) -> SendResult: ...


class TelegramSender:
    """Sends with a ``telegram.Bot`` (the running application's ``application.bot``, or a
    plain ``Bot`` for the CLI and the benchmark) and turns PTB's errors into outcomes."""

    channel = "telegram"
    per_chat_interval = 1.0

    def __init__(self, bot, max_rate: float = DEFAULT_RATE) -> None:
        self.bot = bot
        self.max_rate = max_rate

    async def send(self, external_id: str, text: str) -> SendResult:
        from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

        from bot.telegram import RetryingRateLimiter, delivery_unknown

        chat_id: int | str = int(external_id) if external_id.lstrip("-").isdigit() else external_id
        options = {}
        if isinstance(getattr(self.bot, "rate_limiter", None), RetryingRateLimiter):
            # The flood limits still apply; the outbox alone decides what is sent again.
            options["rate_limit_args"] = RetryingRateLimiter.NO_REPEAT
        try:
            await self.bot.send_message(chat_id=chat_id, text=text, **options)
        except RetryAfter as error:
            return SendResult(RETRY, _seconds(error.retry_after), "429 retry after")
        except Forbidden as error:  # "bot was blocked by the user", "user is deactivated"
            return SendResult(BLOCKED, reason=str(error))
        except BadRequest as error:  # "chat not found" and the like: trying again won't help
            return SendResult(FAILED, reason=str(error))
        except NetworkError as error:  # 5xx, time-outs, connection errors (TimedOut included)
            reason = str(error) or type(error).__name__
            if delivery_unknown(error):  # it left: Telegram may have delivered it
                return SendResult(FAILED, reason=f"{UNKNOWN}: {reason}")
            return SendResult(RETRY, reason=reason)
        except TelegramError as error:
            return SendResult(FAILED, reason=str(error))
        return SendResult(SENT)


class ZaloSender:
    """Sends with the Zalo channel's API client (``bot.zalo_api.ZaloApi``: ``send_message``
    raising an error with ``error_code``, ``transient`` and ``delivery_unknown``). Zalo
    publishes no broadcast limit; 10 a second and one per second per chat are a cautious guess.
    Zalo documents no error for a person who blocked the bot, so none is read as one."""

    channel = "zalo"
    per_chat_interval = 1.0

    def __init__(self, api, max_rate: float = 10.0) -> None:
        self.api = api
        self.max_rate = max_rate

    async def send(self, external_id: str, text: str) -> SendResult:
        try:
            await self.api.send_message(external_id, text)
        except Exception as error:
            if not hasattr(error, "transient"):
                raise  # not an API error: a bug, logged by the dispatcher
            if getattr(error, "delivery_unknown", False):  # it left: Zalo may have delivered it
                return SendResult(FAILED, reason=f"{UNKNOWN}: {error}")
            if error.transient:
                return SendResult(RETRY, reason=str(error))
            return SendResult(FAILED, reason=str(error))
        return SendResult(SENT)


def _seconds(value) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclass(frozen=True)
class QuietHours:
    """Local hours in which nothing is sent; ``start`` > ``end`` spans midnight."""

    start: time = time(21, 0)
    end: time = time(7, 0)

    @classmethod
    def from_env(cls) -> QuietHours:
        """``FORMBOT_QUIET_HOURS=21:00-07:00`` (``off`` to send at any hour)."""
        raw = os.environ.get("FORMBOT_QUIET_HOURS", "").strip()
        if not raw:
            return cls()
        if raw.lower() in ("off", "none", "0"):
            return cls(time(0, 0), time(0, 0))
        start, _, end = raw.partition("-")
        return cls(time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(LOCAL_TZ).time()
        if self.start == self.end:
            return False
        if self.start > self.end:
            return local >= self.start or local < self.end
        return self.start <= local < self.end

    def ends_after(self, now: datetime) -> datetime:
        """When the quiet hours that contain ``now`` end (UTC)."""
        local = now.astimezone(LOCAL_TZ)
        day = local.date()
        if local.time() >= self.end and self.start > self.end:
            day += timedelta(days=1)
        return local_time(day, self.end)


class Pacer:
    """At most ``rate`` requests a second, evenly spread, without bursts.

    Request k leaves at ``start + k / rate``: a schedule, so a late wake-up or a stall of the
    database (a WAL checkpoint) is made up afterwards instead of being lost, for up to
    ``CATCH_UP`` seconds behind; and never more than ``rate`` requests leave in any one-second
    window, however much is made up.

    Why not ``aiolimiter`` (what PTB's ``AIORateLimiter`` is built on): its waiter sleeps a
    whole interval after any work done between two acquisitions, which cost 10 % of the rate
    in the benchmark at 50/s, and a deeper bucket lets a second hold more than the rate."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.interval = 1.0 / rate
        self._recent: deque[float] = deque(maxlen=max(1, int(rate)))
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = clock.monotonic()
            if self._next < now - CATCH_UP:
                self._next = now - CATCH_UP
            at = self._next
            if len(self._recent) == self._recent.maxlen:
                at = max(at, self._recent[0] + WINDOW)
            if at > now:
                await asyncio.sleep(at - now)
            self._next = at + self.interval
            self._recent.append(clock.monotonic())


@dataclass
class DispatchStats:
    calls: int = 0
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0
    expired: int = 0
    interrupted: int = 0
    quiet_until: datetime | None = None
    started: float = field(default_factory=clock.monotonic)

    @property
    def elapsed(self) -> float:
        return clock.monotonic() - self.started


class Dispatcher:
    """Sends what is due in the outbox through the senders, one pacer per channel.

    Several dispatchers (processes) may run on one PostgreSQL database: a row is claimed by an
    UPDATE that only one of them wins."""

    def __init__(
        self,
        database: Database,
        senders: dict[str, Sender],
        *,
        rate: float | None = None,
        concurrency: int = 16,
        quiet: QuietHours | None = None,
        max_attempts: int = 8,
        lease: timedelta = queue.LEASE,
        batch: int = 200,
        progress_every: float = 5.0,
    ) -> None:
        self.db = database
        self.senders = senders
        rate = rate if rate is not None else configured_rate()
        self.rates = {
            channel: rate if rate is not None else sender.max_rate
            for channel, sender in senders.items()
        }
        self.pacers = {channel: Pacer(r) for channel, r in self.rates.items()}
        self.concurrency = concurrency
        self.quiet = quiet if quiet is not None else QuietHours.from_env()
        self.max_attempts = max_attempts
        self.lease = lease
        self.batch = batch
        self.progress_every = progress_every
        self._chat_ready: dict[tuple[str, str], float] = {}
        self._busy: set[tuple[str, str]] = set()
        self.in_flight: set[asyncio.Task] = set()
        self._running = asyncio.Lock()
        self._stop = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._sent: list[int] = []
        self._flusher: asyncio.Task | None = None
        self._claimed: dict[str, deque] = {}  # channel → claimed rows waiting for the pacer
        self._claimed_count = 0
        self._claimed_ready = {channel: asyncio.Event() for channel in senders}
        self._slot_freed = asyncio.Event()

    def _writing(self):
        """SQLite has one writer at a time and makes the others sleep and retry; in one process
        an asyncio lock queues them instead, without those sleeps (PostgreSQL needs none)."""
        return self._write_lock if self.db.is_sqlite else contextlib.nullcontext()

    @property
    def running(self) -> bool:
        return self._running.locked()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Stop taking new messages (those in flight are finished); for a clean shutdown."""
        self._stop.set()

    async def run(
        self,
        *,
        until_idle: bool = True,
        max_seconds: float | None = None,
        stop: asyncio.Event | None = None,
        on_progress: Callable[[DispatchStats], None] | None = None,
    ) -> DispatchStats:
        """Send until nothing is due (``until_idle``), ``max_seconds`` pass, ``stop`` is set,
        or quiet hours begin. Messages in flight are always finished before returning."""
        async with self._running:
            return await self._run(until_idle, max_seconds, stop, on_progress)

    async def _run(self, until_idle, max_seconds, stop, on_progress) -> DispatchStats:
        stats = DispatchStats()
        tasks = self.in_flight
        channels = list(self.senders)
        await self._housekeeping(stats)
        last_report = clock.monotonic()

        def over() -> bool:
            if self._stop.is_set() or (stop is not None and stop.is_set()):
                return True
            return max_seconds is not None and stats.elapsed >= max_seconds

        # The database work (due rows, claims) runs here; the requests leave from one
        # launcher per channel, on its pacer's schedule, so a query never delays a send.
        launchers = [
            asyncio.create_task(self._launch(channel, stats, over), name=f"outbox-{channel}")
            for channel in channels
        ]
        keeper: asyncio.Task | None = None
        try:
            while not over():
                now = utcnow()
                if self.quiet.contains(now):
                    stats.quiet_until = self.quiet.ends_after(now)
                    break
                async with self.db.session() as session:
                    rows = await queue.due_messages(session, now, channels, self.batch)
                ready = [r for r in rows if self._chat_free((r.channel, r.external_id))]
                if not ready:
                    if tasks or self._claimed_count:
                        await self._slot_freed_or(0.2)
                        continue
                    wait = await self._idle_wait(rows, channels, now)
                    if wait is None and until_idle:
                        break
                    await asyncio.sleep(min(wait if wait is not None else 1.0, 1.0))
                    continue
                await self._claim(ready, over)
                if clock.monotonic() - last_report >= self.progress_every and (
                    keeper is None or keeper.done()
                ):
                    # Alongside the claims: a slow count must not leave the launchers idle.
                    last_report = clock.monotonic()
                    keeper = asyncio.create_task(self._keep(stats, on_progress))
        finally:
            if keeper is not None:
                await asyncio.gather(keeper, return_exceptions=True)
            for launcher in launchers:
                launcher.cancel()
            await asyncio.gather(*launchers, return_exceptions=True)
            unsent = [row for rows in self._claimed.values() for row in rows]
            self._claimed.clear()
            self._claimed_count = 0
            if unsent:
                await self._release(unsent)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._flush_sent()
        await self._housekeeping(stats)
        if on_progress is not None:
            on_progress(stats)
        return stats

    async def _keep(self, stats: DispatchStats, on_progress) -> None:
        """Record, close what expired or was interrupted, report progress."""
        try:
            await self._flush_sent()
            await self._housekeeping(stats)
        except Exception:
            log.exception("outbox housekeeping failed; it runs again shortly")
        if on_progress is not None:
            on_progress(stats)

    async def _slot_freed_or(self, timeout: float) -> None:
        self._slot_freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._slot_freed.wait(), timeout)

    async def _claim(self, rows: list, over: Callable[[], bool]) -> None:
        """Claim ``rows`` (due, oldest first) for the launchers: as many as there are free
        slots, in one statement each time. At most ``concurrency`` rows are ever
        ``sending`` (claimed and waiting, under way, or sent and not yet recorded)."""
        pending = list(rows)
        while pending:
            if over() or self.quiet.contains(utcnow()):
                return
            free = self.concurrency - len(self.in_flight) - self._claimed_count
            # Claim in chunks (one transaction per several rows), unless the launchers are
            # about to run dry.
            if free <= 0 or (free < self.concurrency // 2 and self._claimed_count > 0):
                await self._slot_freed_or(1.0)
                continue
            chunk, rest, chats = [], [], set()
            now = utcnow()
            for row in pending:
                chat = (row.channel, row.external_id)
                if not self._chat_free(chat) or chat in chats:
                    continue  # resting or busy: a later query brings it back
                if row.expires_at is not None and row.expires_at < now:
                    continue  # closed by the next housekeeping
                if len(chunk) < free:
                    chunk.append(row)
                    chats.add(chat)
                else:
                    rest.append(row)
            pending = rest
            if not chunk:
                return
            sent, self._sent = self._sent, []
            try:
                async with self._writing(), self.db.engine.begin() as connection:
                    now = utcnow()
                    await queue.finish_messages(connection, sent, "sent", now)
                    ids = [r.id for r in chunk]
                    won = await queue.claim_messages(connection, ids, now, self.lease)
            except BaseException:
                self._sent = sent + self._sent  # recorded with the next claim or flush
                raise
            for row in chunk:
                if row.id in won:  # the others went to another worker
                    self._busy.add((row.channel, row.external_id))
                    self._claimed.setdefault(row.channel, deque()).append(row)
                    self._claimed_count += 1
                    self._claimed_ready[row.channel].set()

    async def _launch(self, channel: str, stats: DispatchStats, over: Callable[[], bool]) -> None:
        """Send the claimed rows of ``channel`` one by one, on its pacer's schedule."""
        ready = self._claimed_ready[channel]
        while True:
            waiting = self._claimed.get(channel)
            if not waiting:
                ready.clear()
                await ready.wait()
                continue
            await self.pacers[channel].wait()
            if over() or self.quiet.contains(utcnow()):
                return  # what is still claimed goes back to the queue
            row = waiting.popleft()
            self._claimed_count -= 1
            # The claim is committed; the request leaves now.
            task = asyncio.create_task(self._deliver(row, stats))
            self.in_flight.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self.in_flight.discard(task)
        self._slot_freed.set()

    async def _release(self, rows: list) -> None:
        """Claimed rows whose request never left go back to the queue."""
        async with self._writing(), self.db.engine.begin() as connection:
            await queue.release_messages(connection, [row.id for row in rows], utcnow())
        for row in rows:
            self._busy.discard((row.channel, row.external_id))

    def _chat_free(self, chat: tuple[str, str]) -> bool:
        return chat not in self._busy and self._chat_ready.get(chat, 0.0) <= clock.monotonic()

    async def _idle_wait(self, rows, channels, now: datetime) -> float | None:
        """Seconds until something may be due again; None when nothing is waiting."""
        if rows:  # due, but their chats are resting (one message per second per chat)
            soonest = min(self._chat_ready.get((r.channel, r.external_id), 0.0) for r in rows)
            return max(0.05, soonest - clock.monotonic())
        async with self.db.session() as session:
            upcoming = await queue.next_due_time(session, channels)
        if upcoming is None:
            return None
        return max(0.05, (upcoming - now).total_seconds())

    async def _deliver(self, row, stats: DispatchStats) -> None:
        chat = (row.channel, row.external_id)
        sender = self.senders[row.channel]
        result = SendResult(RETRY)
        try:
            stats.calls += 1
            try:
                result = await sender.send(row.external_id, row.text)
            except Exception as error:  # a sender bug must not kill the dispatcher
                log.exception("sender %s failed on outbox %s", row.channel, row.id)
                result = SendResult(RETRY, reason=f"{type(error).__name__}: {error}")
            try:
                await self._record(row, result, stats)
            except Exception:  # the row stays "sending" and is closed as interrupted later
                log.exception("recording the outcome of outbox %s failed", row.id)
        finally:
            self._busy.discard(chat)
            ready = clock.monotonic() + sender.per_chat_interval
            if result.status == RETRY and result.retry_after:
                ready = clock.monotonic() + result.retry_after
            self._chat_ready[chat] = max(self._chat_ready.get(chat, 0.0), ready)

    async def _record(self, row, result: SendResult, stats: DispatchStats) -> None:
        if result.status == SENT:
            # Most outcomes are "sent": they are recorded together, in the transaction of the
            # next claim (or after SENT_FLUSH_EVERY when nothing is claimed), instead of one
            # transaction each. Until then the row stays "sending": still at most
            # ``concurrency`` rows are, and a crash closes them as "interrupted".
            stats.sent += 1
            self._sent.append(row.id)
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush_soon())
            return
        now = utcnow()
        async with self._writing(), self.db.engine.begin() as session:
            if result.status == BLOCKED:
                stats.blocked += 1
                log.info("%s:%s blocked the bot", row.channel, row.external_id)
                await queue.finish_message(session, row.id, "blocked", now, reason=result.reason)
                await repo.set_blocked(session, row.channel, row.external_id, True)
                await queue.close_queued_for_chat(
                    session, row.channel, row.external_id, "blocked", "blocked the bot", now
                )
            elif result.status == RETRY and row.attempts + 1 < self.max_attempts:
                stats.retried += 1
                delay = result.retry_after or min(2.0**row.attempts, 300.0)  # 1 s, 2 s, 4 s…
                await queue.finish_message(
                    session,
                    row.id,
                    "queued",
                    now,
                    reason=result.reason,
                    retry_in=timedelta(seconds=delay),
                )
            else:
                stats.failed += 1
                log.warning("outbox %s to %s failed: %s", row.id, row.external_id, result.reason)
                await queue.finish_message(session, row.id, "failed", now, reason=result.reason)

    async def _flush_soon(self) -> None:
        await asyncio.sleep(SENT_FLUSH_EVERY)
        await self._flush_sent()

    async def _flush_sent(self) -> None:
        """Record the "sent" outcomes collected so far."""
        ids, self._sent = self._sent, []
        if not ids:
            return
        try:
            async with self._writing(), self.db.engine.begin() as connection:
                await queue.finish_messages(connection, ids, "sent", utcnow())
        except Exception:  # the rows stay "sending" and are closed as interrupted later
            log.exception("recording %d sent outbox messages failed", len(ids))

    async def _housekeeping(self, stats: DispatchStats) -> None:
        """Close expired and interrupted messages; report broadcast progress."""
        now = utcnow()
        async with self._writing(), self.db.session() as session, session.begin():
            stats.expired += await queue.expire_messages(session, now)
            stats.interrupted += await queue.interrupted_messages(session, now)
            for broadcast in await queue.unfinished_broadcasts(session):
                await self._report(session, broadcast, now)

    async def _report(self, session, broadcast: Broadcast, now: datetime) -> None:
        """Progress (sent / total) to whoever started a long broadcast, and a last word."""
        counts = await queue.outbox_counts(session, broadcast.id)
        pending = counts.get("queued", 0) + counts.get("sending", 0)
        figures = {
            "sent": counts.get("sent", 0),
            "total": broadcast.total,
            "blocked": counts.get("blocked", 0),
            "failed": counts.get("failed", 0),
        }
        note = None
        if pending == 0:
            broadcast.finished_at = now
            note = ("done", say("broadcast_done", **figures))
        elif broadcast.total >= LONG_BROADCAST and broadcast.total:
            percent = 100 * (broadcast.total - pending) // broadcast.total
            reached = [m for m in MILESTONES if m <= percent and m > broadcast.reported]
            if reached:
                broadcast.reported = reached[-1]
                note = (str(reached[-1]), say("broadcast_progress", **figures))
        if note is not None and broadcast.started_by and broadcast.started_by_channel:
            await queue.enqueue(
                session,
                [
                    {
                        "key": f"progress:{broadcast.id}:{note[0]}",
                        "channel": broadcast.started_by_channel,
                        "external_id": broadcast.started_by,
                        "kind": "progress",
                        "text": note[1],
                        "priority": 0,
                    }
                ],
            )
        await session.flush()

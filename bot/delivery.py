"""The running bot's one delivery loop: the reminder check and the outbox delivery, on plain
asyncio tasks in the bot's event loop, for every channel the process serves (each channel's
sender is handed in). ``start`` and ``stop`` fit the app's start-up and shutdown.

Every worker on one PostgreSQL database runs one. The reminders of a day are queued once (one
key per campaign, day and person), and each outbox row is claimed by one worker only
(``storage.outbox``), so nothing is sent twice whoever sends. Sending is still left to one
worker at a time (``storage.outbox.SenderLock``, taken again by another when it stops or
dies): the bot's flood limit (about 30 messages a second) is one for the whole bot, and the
pacer of one process is what keeps to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.outbox import Dispatcher, DispatchStats, QuietHours, Sender
from bot.reminders import queue_due_reminders
from dialogs.spec import FormSpec
from storage.db import Database
from storage.outbox import SenderLock

log = logging.getLogger(__name__)

CHECK_EVERY = 3600.0  # seconds between two looks at the campaigns' reminder days
DELIVER_EVERY = 5.0  # seconds between two looks at the outbox when it is idle
DELIVER_SLICE = 30.0  # one delivery round runs at most this long, then looks again at once


class DeliveryLoop:
    """The hourly reminder check and the outbox delivery through ``senders`` (channel name →
    sender)."""

    def __init__(
        self,
        database: Database,
        senders: dict[str, Sender],
        *,
        forms: dict[str, FormSpec] | None = None,
        rate: float | None = None,
        quiet: QuietHours | None = None,
        check_every: float = CHECK_EVERY,
        deliver_every: float = DELIVER_EVERY,
    ) -> None:
        self.database = database
        self.forms = forms
        self.quiet = quiet
        self.dispatcher = Dispatcher(database, senders, rate=rate, quiet=quiet)
        self.check_every = check_every
        self.deliver_every = deliver_every
        self.sender_lock = SenderLock(database.engine)
        self._tasks: list[asyncio.Task] = []
        self._wake = asyncio.Event()

    @property
    def senders(self) -> dict[str, Sender]:
        return self.dispatcher.senders

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._check(), name="formbot-reminders"),
            asyncio.create_task(self._deliver(), name="formbot-outbox"),
        ]

    async def stop(self) -> None:
        """Stop taking new messages; those in flight are finished first."""
        self.dispatcher.stop()
        self._wake.set()
        for task in self._tasks:
            if task.get_name() == "formbot-reminders":
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            await self.sender_lock.release()  # another worker sends from now on
        except Exception:
            log.exception("releasing the outbox's sender lock failed (it goes with the process)")

    def wake(self) -> None:
        """Look at the outbox now (e.g. something was just queued)."""
        self._wake.set()

    async def _check(self) -> None:
        while True:
            try:
                runs = await queue_due_reminders(self.database, forms=self.forms, quiet=self.quiet)
                for run in runs:
                    log.info("reminders %s %s: %d queued", run.campaign, run.day, run.queued)
                    if run.queued:
                        self.wake()
            except Exception:
                log.exception("the reminder check failed; it runs again later")
            await asyncio.sleep(self.check_every)

    async def _deliver(self) -> None:
        while not self.dispatcher.stopped:
            stats: DispatchStats | None = None
            try:
                if await self.sender_lock.acquire():
                    stats = await self.dispatcher.run(until_idle=True, max_seconds=DELIVER_SLICE)
            except Exception:
                log.exception("outbox delivery failed; it runs again shortly")
            if stats is not None and stats.calls:
                log.info(
                    "outbox: %d sent, %d blocked, %d failed, %d to retry in %.0f s",
                    stats.sent,
                    stats.blocked,
                    stats.failed,
                    stats.retried,
                    stats.elapsed,
                )
            if stats is None or stats.elapsed < DELIVER_SLICE:  # idle: look again later
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.deliver_every)

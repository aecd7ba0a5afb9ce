"""Reminders before a campaign's deadline, on python-telegram-bot's JobQueue.

By default 7, 3 and 1 days before the deadline and on the deadline day (per campaign:
``formbot campaign open … --remind-days``), the people filling the forms of units that have not
submitted get a reminder naming the unit, its progress and the days left. Reminders are queued
in the outbox with one key per campaign, day and person, so the hourly check, a restart or
``formbot remind`` on the same day never queue a second one; the outbox job delivers them,
outside quiet hours. A reminder that could not go out on its day expires rather than arrive
with a wrong count of days.

The running Telegram app calls ``schedule_reminders(application, database)`` once at start-up;
a process without Telegram (``formbot run zalo``) runs the same two jobs in a ``DeliveryLoop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime

from bot.outbox import Dispatcher, QuietHours, Sender, TelegramSender
from dialogs import campaigns as camp
from dialogs.spec import FormSpec, all_forms
from storage import repo
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)

CHECK_EVERY = 3600.0  # seconds between two looks at the campaigns' reminder days
DELIVER_EVERY = 5.0  # seconds between two looks at the outbox when it is idle
DELIVER_SLICE = 30.0  # one outbox job runs at most this long, then hands over to the next


@dataclass
class ReminderRun:
    campaign: str
    day: date
    recipients: list[camp.Recipient]
    queued: int
    already: int  # reminded earlier that day


def sending_day(now: datetime, quiet: QuietHours) -> date:
    """The local day a message queued ``now`` goes out: after 21:00 it is tomorrow."""
    if quiet.contains(now):
        return camp.local_today(quiet.ends_after(now))
    return camp.local_today(now)


async def queue_reminders(
    database: Database,
    campaign_id: str,
    *,
    now: datetime | None = None,
    forms: dict[str, FormSpec] | None = None,
    dry_run: bool = False,
    quiet: QuietHours | None = None,
) -> ReminderRun:
    """Queue today's reminders of one campaign (``formbot remind``; the job calls it on the
    reminder days). ``dry_run`` only computes the recipients."""
    now = now or utcnow()
    forms = forms if forms is not None else all_forms()
    quiet = quiet if quiet is not None else QuietHours.from_env()
    day = sending_day(now, quiet)
    async with database.session() as session, session.begin():
        campaign = await repo.get_campaign(session, campaign_id)
        if campaign is None:
            raise LookupError(campaign_id)
        recipients = await camp.reminder_recipients(session, campaign, forms, day)
        if dry_run:
            return ReminderRun(campaign.id, day, recipients, 0, 0)
        _broadcast, queued = await camp.queue_broadcast(
            session,
            kind="reminder",
            recipients=recipients,
            campaign_id=campaign.id,
            audience_filter={"statuses": list(camp.NOT_SUBMITTED), "day": day.isoformat()},
            expires_at=camp.local_time(day, quiet.start) if quiet.start != quiet.end else None,
        )
    log.info("queued %d reminders for %s (%s)", queued, campaign_id, day)
    return ReminderRun(campaign_id, day, recipients, queued, len(recipients) - queued)


async def queue_due_reminders(
    database: Database,
    *,
    now: datetime | None = None,
    forms: dict[str, FormSpec] | None = None,
    quiet: QuietHours | None = None,
) -> list[ReminderRun]:
    """Queue the reminders of every open campaign whose reminder day it is."""
    now = now or utcnow()
    forms = forms if forms is not None else all_forms()
    quiet = quiet if quiet is not None else QuietHours.from_env()
    day = sending_day(now, quiet)
    async with database.session() as session:
        due = [
            c.id
            for c in await repo.open_campaigns(session)
            if c.form_id in forms and camp.reminder_due(c, day)
        ]
    return [await queue_reminders(database, cid, now=now, forms=forms, quiet=quiet) for cid in due]


# The JobQueue --------------------------------------------------------------------------------


def schedule_reminders(
    application,
    database: Database,
    *,
    senders: dict[str, Sender] | None = None,
    forms: dict[str, FormSpec] | None = None,
    rate: float | None = None,
    check_every: float = CHECK_EVERY,
    deliver_every: float = DELIVER_EVERY,
) -> Dispatcher:
    """Schedule on ``application.job_queue``: the hourly reminder check and the outbox
    delivery. Messages go out through ``application.bot`` unless ``senders`` says otherwise
    (add the Zalo sender there when that channel runs in the same process). Returns the
    dispatcher; ``dispatcher.stop()`` (e.g. in ``post_stop``) ends a running delivery at once
    instead of letting the job queue wait for its slice."""
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("the JobQueue is missing: install python-telegram-bot[job-queue]")
    if senders is None:
        senders = {"telegram": TelegramSender(application.bot)}
    dispatcher = Dispatcher(database, senders, rate=rate)
    job_options = {"max_instances": 4, "coalesce": True}
    job_queue.run_repeating(
        _reminder_job,
        interval=check_every,
        first=1.0,
        name="formbot-reminders",
        data=(database, forms),
        job_kwargs=job_options,
    )
    job_queue.run_repeating(
        _outbox_job,
        interval=deliver_every,
        first=2.0,
        name="formbot-outbox",
        data=dispatcher,
        job_kwargs=job_options,
    )
    return dispatcher


async def _reminder_job(context) -> None:
    database, forms = context.job.data
    try:
        for run in await queue_due_reminders(database, forms=forms):
            log.info("reminders %s %s: %d queued", run.campaign, run.day, run.queued)
    except Exception:
        log.exception("the reminder check failed; it runs again within the hour")


async def _outbox_job(context) -> None:
    dispatcher: Dispatcher = context.job.data
    if dispatcher.running:
        return
    try:
        stats = await dispatcher.run(until_idle=True, max_seconds=DELIVER_SLICE)
    except Exception:
        log.exception("outbox delivery failed; it runs again shortly")
        return
    if stats.calls:
        log.info(
            "outbox: %d sent, %d blocked, %d failed, %d to retry in %.0f s",
            stats.sent,
            stats.blocked,
            stats.failed,
            stats.retried,
            stats.elapsed,
        )
    if stats.elapsed >= DELIVER_SLICE and not dispatcher.stopped:
        # More is due: carry on at once rather than at the next tick.
        context.job_queue.run_once(_outbox_job, 0, data=dispatcher, name="formbot-outbox-more")


class DeliveryLoop:
    """The reminder check and the outbox delivery on plain asyncio tasks, for a process that
    has no python-telegram-bot JobQueue (``formbot run zalo``). ``start`` and ``stop`` fit the
    channel service's start-up and shutdown hooks."""

    def __init__(
        self,
        database: Database,
        senders: dict[str, Sender],
        *,
        forms: dict[str, FormSpec] | None = None,
        rate: float | None = None,
        check_every: float = CHECK_EVERY,
        deliver_every: float = DELIVER_EVERY,
    ) -> None:
        self.database = database
        self.forms = forms
        self.dispatcher = Dispatcher(database, senders, rate=rate)
        self.check_every = check_every
        self.deliver_every = deliver_every
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._check(), name="formbot-reminders"),
            asyncio.create_task(self._deliver(), name="formbot-outbox"),
        ]

    async def stop(self) -> None:
        self.dispatcher.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _check(self) -> None:
        while True:
            try:
                for run in await queue_due_reminders(self.database, forms=self.forms):
                    log.info("reminders %s %s: %d queued", run.campaign, run.day, run.queued)
            except Exception:
                log.exception("the reminder check failed; it runs again later")
            await asyncio.sleep(self.check_every)

    async def _deliver(self) -> None:
        while not self.dispatcher.stopped:
            try:
                stats = await self.dispatcher.run(until_idle=True, max_seconds=DELIVER_SLICE)
            except Exception:
                log.exception("outbox delivery failed; it runs again shortly")
                stats = None
            if stats is None or stats.elapsed < DELIVER_SLICE:  # idle: look again later
                await asyncio.sleep(self.deliver_every)

"""Reminders before a campaign's deadline.

By default 7, 3 and 1 days before the deadline and on the deadline day (per campaign:
``formbot campaign open … --remind-days``), the people filling the forms of units that have not
submitted get a reminder naming the unit, its progress and the days left. Reminders are queued
in the outbox with one key per campaign, day and person, so the hourly check, a restart or
``formbot remind`` on the same day never queue a second one; the outbox job delivers them,
outside quiet hours. A reminder that could not go out on its day expires rather than arrive
with a wrong count of days.

The running bot checks the reminder days in its delivery loop (``bot.delivery``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from bot.outbox import QuietHours
from dialogs import campaigns as camp
from dialogs.spec import FormSpec, all_forms
from storage import repo
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)


@dataclass
class ReminderRun:
    campaign: str
    day: date
    recipients: list[camp.Recipient]
    queued: int
    already: int  # reminded earlier that day
    unreached: list[camp.UnitProgress]  # not submitted and nobody joined: needs an invite


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
        rows = await camp.campaign_progress(session, campaign, forms)
        recipients = camp.reminder_recipients(campaign, forms[campaign.form_id], rows, day)
        unreached = camp.unreached(rows)
        if dry_run:
            return ReminderRun(campaign.id, day, recipients, 0, 0, unreached)
        _broadcast, queued = await camp.queue_broadcast(
            session,
            kind="reminder",
            recipients=recipients,
            campaign_id=campaign.id,
            audience_filter={"statuses": list(camp.NOT_SUBMITTED), "day": day.isoformat()},
            expires_at=camp.local_time(day, quiet.start) if quiet.start != quiet.end else None,
        )
    log.info("queued %d reminders for %s (%s)", queued, campaign_id, day)
    return ReminderRun(campaign_id, day, recipients, queued, len(recipients) - queued, unreached)


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

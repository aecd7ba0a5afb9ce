"""Campaigns as the province IT team sees them: which units report, how far each has got, who
gets a reminder and with which text. Shared by the reviewer chat commands, the reminder job and
the CLI; no channel code here.

Dates that people see (deadline, "3 days left", quiet hours) are in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialogs.numbers import format_number
from dialogs.snapshot import parse_answer_rows
from dialogs.spec import FormSpec
from dialogs.state import FormState
from dialogs.text import fold
from storage import campaigns as campaign_reads
from storage import outbox as queue
from storage import repo
from storage.models import Broadcast, Campaign, Respondent, Submission, Unit, utcnow
from templates.messages import say

if TYPE_CHECKING:
    from dialogs.scoring import Rubric

try:
    LOCAL_TZ: timezone | ZoneInfo = ZoneInfo("Asia/Ho_Chi_Minh")
except ZoneInfoNotFoundError:  # no tz database: Vietnam has kept UTC+7 without DST since 1975
    LOCAL_TZ = timezone(timedelta(hours=7))

DEFAULT_REMINDER_DAYS = (7, 3, 1, 0)
UNIT_STATUSES = ("not_started", "in_progress", "submitted", "returned", "approved")
NOT_SUBMITTED = ("not_started", "in_progress", "returned")
# What people may type to filter by status (CLI --status, chat "#chuanop"): folded, without
# spaces, dashes or underscores.
STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "notstarted": ("not_started",),
    "chuabatdau": ("not_started",),
    "inprogress": ("in_progress",),
    "draft": ("not_started", "in_progress"),
    "dangdien": ("in_progress",),
    "submitted": ("submitted",),
    "danop": ("submitted",),
    "returned": ("returned",),
    "bitralai": ("returned",),
    "tralai": ("returned",),
    "approved": ("approved",),
    "daduyet": ("approved",),
    "notsubmitted": NOT_SUBMITTED,
    "chuanop": NOT_SUBMITTED,
    "all": UNIT_STATUSES,
    "tatca": UNIT_STATUSES,
}


def campaign_id(form_id: str, year: int) -> str:
    return f"{form_id}-{year}"


def local_now(now: datetime | None = None) -> datetime:
    return (now or utcnow()).astimezone(LOCAL_TZ)


def local_today(now: datetime | None = None) -> date:
    return local_now(now).date()


def local_time(day: date, at: time) -> datetime:
    """A wall-clock time in Vietnam as an aware UTC datetime."""
    return datetime.combine(day, at, tzinfo=LOCAL_TZ).astimezone(UTC)


def parse_statuses(words: list[str]) -> tuple[set[str], list[str]]:
    """Status filter words → unit statuses; also returns the words that are not statuses."""
    statuses: set[str] = set()
    unknown = []
    for word in words:
        key = fold(word).replace(" ", "").replace("-", "").replace("_", "").lstrip("#")
        if key in STATUS_WORDS:
            statuses.update(STATUS_WORDS[key])
        else:
            unknown.append(word)
    return statuses, unknown


def status_label(status: str) -> str:
    return say(f"unit_status_{status}")


def unit_status(submission: Submission | None, answered: int) -> str:
    if submission is None or (submission.status == "draft" and answered == 0):
        return "not_started"
    if submission.status == "draft":
        return "in_progress"
    return submission.status


@dataclass
class UnitProgress:
    """One unit in one campaign."""

    unit: Unit
    submission: Submission | None
    status: str
    done: int
    total: int
    last_activity: datetime | None
    respondents: list[Respondent] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    def as_json(self) -> dict:
        return {
            "unit": self.unit.name,
            "unit_id": self.unit.id,
            "type": self.unit.form_id,
            "submission_id": self.submission.id if self.submission else None,
            "status": self.status,
            "status_label": status_label(self.status),
            "answered": self.done,
            "total": self.total,
            "percent": self.percent,
            "last_activity": self.last_activity.isoformat() if self.last_activity else None,
            "respondents": [
                {
                    "channel": r.channel,
                    "user": r.external_id,
                    "name": r.name,
                    "role": r.role,
                    "blocked": r.blocked,
                }
                for r in self.respondents
            ],
        }

    @property
    def bound(self) -> list[Respondent]:
        """The people filling this unit's form of the campaign (not blocked)."""
        if self.submission is None:
            return []
        return [
            r for r in self.respondents if r.submission_id == self.submission.id and not r.blocked
        ]


async def campaign_progress(
    session, campaign: Campaign, forms: dict[str, FormSpec]
) -> list[UnitProgress]:
    """Every unit of the campaign's type (and any other unit that has this form and year), with
    its status, progress, last activity and respondents."""
    spec = forms[campaign.form_id]
    data = await campaign_reads.load_campaign(
        session, spec.id, campaign.year, units_of_type=True, activity=True
    )
    return progress_rows(spec, data)


def progress_rows(spec: FormSpec, data: campaign_reads.CampaignData) -> list[UnitProgress]:
    """``campaign_progress`` from what storage read: one row per unit, by folded name."""
    submissions = {s.unit_id: s for s in data.submissions}
    by_submission = parse_answer_rows(spec, data.answers)
    people: dict[int, list[Respondent]] = {}
    for respondent in data.respondents:
        people.setdefault(respondent.unit_id, []).append(respondent)
    rows = []
    for unit in sorted(data.units.values(), key=lambda u: fold(u.name)):
        submission = submissions.get(unit.id)
        if submission is None and _staff_office(people.get(unit.id, [])):
            continue
        stored = by_submission.get(submission.id, {}) if submission else {}
        done, total = FormState(spec, stored, data.year).totals()
        # Answers the bot filled in itself (year, unit name) do not make a unit "started".
        given = sum(1 for code, a in stored.items() if a.raw is not None or a.skipped)
        respondents = people.get(unit.id, [])
        times = [t for t in (data.last_answers.get(submission.id) if submission else None,) if t]
        times += [
            r.last_seen_at
            for r in respondents
            if submission is not None and r.submission_id == submission.id
        ]
        rows.append(
            UnitProgress(
                unit=unit,
                submission=submission,
                status=unit_status(submission, given),
                done=done,
                total=total,
                last_activity=max(times, default=None),
                respondents=respondents,
            )
        )
    return rows


def _staff_office(people: list[Respondent]) -> bool:
    """A unit only reviewers and admins belong to (the office reviewers were invited to before
    invites could name campaigns): not a unit that reports."""
    return bool(people) and all(r.role in ("reviewer", "admin") for r in people)


async def campaign_best(
    session, spec: FormSpec, year: int, rubric: Rubric | None = None
) -> dict[str, float]:
    """The best value of each ``relative`` scoring rule among the submitted and approved
    submissions of ``spec`` for ``year`` (what ``dialogs.scoring.score`` compares with)."""
    from dialogs import scoring  # only documents and rankings score: not on every CLI start

    rubric = rubric if rubric is not None else scoring.rubric_for(spec)
    if rubric is None or not rubric.relative_rules:
        return {}
    data = await campaign_reads.load_campaign(
        session,
        spec.id,
        year,
        statuses=scoring.CAMPAIGN_STATUSES,
        codes=scoring.needed_codes(spec, rubric),
    )
    stored = parse_answer_rows(spec, data.answers)
    return scoring.best_of(spec, rubric, [FormState(spec, answers) for answers in stored.values()])


# Reminders -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    respondent: Respondent
    row: UnitProgress | None
    text: str
    key: str | None = None  # None: one per broadcast and person


def days_left(campaign: Campaign, today: date) -> int:
    return (campaign.deadline - today).days


def reminder_due(campaign: Campaign, today: date) -> bool:
    days = campaign.reminder_days if campaign.reminder_days is not None else DEFAULT_REMINDER_DAYS
    return campaign.status == "open" and days_left(campaign, today) in set(days)


def reminder_text(campaign: Campaign, spec: FormSpec, row: UnitProgress, today: date) -> str:
    submission = row.submission
    return say(
        "reminder",
        title=spec.title,
        unit=row.unit.name,
        year=campaign.year,
        deadline=campaign.deadline.strftime("%d/%m/%Y"),
        days_left=days_left(campaign, today),
        done=row.done,
        total=row.total,
        percent=row.percent,
        returned=row.status == "returned",
        reason=submission.returned_reason if submission else None,
    )


def reminder_key(campaign: Campaign, today: date, respondent: Respondent) -> str:
    """One reminder per campaign, day and person, however often the job or the CLI runs."""
    return (
        f"reminder:{campaign.id}:{today.isoformat()}:{respondent.channel}:{respondent.external_id}"
    )


def reminder_recipients(
    campaign: Campaign, spec: FormSpec, rows: list[UnitProgress], today: date
) -> list[Recipient]:
    """The people filling the forms of units that have not submitted (``rows``: the
    campaign's progress), with their text."""
    recipients = []
    for row in rows:
        if row.status not in NOT_SUBMITTED:
            continue
        text = reminder_text(campaign, spec, row, today)
        for respondent in row.bound:
            recipients.append(
                Recipient(respondent, row, text, reminder_key(campaign, today, respondent))
            )
    return recipients


def unreached(rows: list[UnitProgress]) -> list[UnitProgress]:
    """Units that have not submitted and that nobody has joined: no reminder reaches them,
    they need an invite."""
    return [row for row in rows if row.status in NOT_SUBMITTED and not row.bound]


async def audience(
    session,
    campaigns: list[Campaign],
    statuses: set[str],
    forms: dict[str, FormSpec],
) -> list[tuple[Respondent, UnitProgress]]:
    """The people filling the forms of the given campaigns' units whose status is in
    ``statuses`` (every status when empty)."""
    people = []
    for campaign in campaigns:
        for row in await campaign_progress(session, campaign, forms):
            if statuses and row.status not in statuses:
                continue
            people.extend((respondent, row) for respondent in row.bound)
    return people


# Queueing ------------------------------------------------------------------------------------


async def queue_broadcast(
    session,
    *,
    kind: str,
    recipients: list[Recipient],
    campaign_id: str | None = None,
    audience_filter: dict | None = None,
    text: str | None = None,
    started_by: tuple[str, str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[Broadcast, int]:
    """One broadcast row and its messages in the outbox. A recipient whose key was queued
    before is left out; returns the broadcast and how many messages were queued."""
    seen = await queue.existing_keys(session, [r.key for r in recipients if r.key])
    recipients = [r for r in recipients if r.key not in seen]
    broadcast = await queue.create_broadcast(
        session,
        kind=kind,
        campaign_id=campaign_id,
        audience=audience_filter or {},
        text=text,
        started_by_channel=started_by[0] if started_by else None,
        started_by=started_by[1] if started_by else None,
    )
    rows = []
    for r in recipients:
        person = f"{r.respondent.channel}:{r.respondent.external_id}"
        rows.append(
            {
                "key": r.key or f"{kind}:{broadcast.id}:{person}",
                "channel": r.respondent.channel,
                "external_id": r.respondent.external_id,
                "respondent_id": r.respondent.id,
                "broadcast_id": broadcast.id,
                "kind": kind,
                "text": r.text,
                "expires_at": expires_at,
            }
        )
    broadcast.total = await queue.enqueue(session, rows)
    if broadcast.total == 0:
        broadcast.finished_at = utcnow()
    await session.flush()
    return broadcast, broadcast.total


def notice_score(spec: FormSpec, state: FormState, campaign_answers) -> dict | None:
    """The score of a submission as the reviewers' notice shows it (None when its form has no
    rubric); ``campaign_answers(codes)`` reads the campaign's submitted answers to ``codes``,
    for the rules that compare units (this submission's own included)."""
    from dialogs import scoring  # only documents, rankings and notices score

    rubric = scoring.rubric_for(spec)
    if rubric is None:
        return None
    best = {}
    if rubric.relative_rules:
        rows = campaign_answers(sorted(scoring.needed_codes(spec, rubric)))
        states = [FormState(spec, a) for a in parse_answer_rows(spec, rows).values()]
        best = scoring.best_of(spec, rubric, [*states, state])
    card = scoring.score(spec, state, rubric, best)
    return {
        "total": format_number(card.total),
        "max": format_number(card.max),
        "percent": format_number(card.percent),
        "klass": card.klass,
    }


def submitted_notices(
    *,
    spec: FormSpec,
    unit: str,
    year: int,
    submission_id: int,
    version: int,
    again: bool,
    score: dict | None,
    reviewers: list,
    public_url: str | None,
) -> list[dict]:
    """The outbox rows that tell each reviewer (``storage.turns.Reviewer``) that a unit
    submitted (``again``: resubmitted after a return): one per reviewer and submit, keyed by
    the submission's version, so a submit queues them once however often it is retried."""
    link = f"{public_url.rstrip('/')}/submissions/{submission_id}" if public_url else None
    text = say(
        "reviewer_submitted_notice",
        unit=unit,
        title=spec.title,
        year=year,
        again=again,
        score=score,
        link=link,
    )
    return [
        {
            "key": f"submitted:{submission_id}:{version}:{r.channel}:{r.external_id}",
            "channel": r.channel,
            "external_id": r.external_id,
            "respondent_id": r.respondent_id,
            "kind": "submitted",
            "text": text,
            "priority": 5,
        }
        for r in reviewers
    ]


async def notify_unit(
    session, submission: Submission, kind: str, text: str, *, priority: int = 5
) -> int:
    """Tell everyone filling a submission (e.g. it was returned for fixes); one message per
    person and submission version."""
    people = [
        r
        for r in await repo.respondents_of_unit(session, submission.unit_id)
        if r.submission_id == submission.id and not r.blocked
    ]
    return await queue.enqueue(
        session,
        [
            {
                "key": f"{kind}:{submission.id}:{submission.version}:{r.channel}:{r.external_id}",
                "channel": r.channel,
                "external_id": r.external_id,
                "respondent_id": r.id,
                "kind": kind,
                "text": text,
                "priority": priority,
            }
            for r in people
        ],
    )


async def kept_warning_counts(session, spec: FormSpec, rows: list[UnitProgress]) -> dict[int, int]:
    """How many warnings each submission's people kept ("Vẫn giữ"), by submission id."""
    ids = [row.submission.id for row in rows if row.submission is not None]
    stored = parse_answer_rows(spec, await repo.answers_of(session, ids))
    years = {row.submission.id: row.submission.year for row in rows if row.submission}
    return {
        submission_id: len(FormState(spec, answers, years[submission_id]).kept_warnings())
        for submission_id, answers in stored.items()
    }

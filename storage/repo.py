"""Repository functions on an async session: units, submissions, people, invites, campaigns.
(A conversation turn's own statements are in ``storage.turns``.)

Callers own the transaction (``async with session.begin()``); nothing here commits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Answer,
    AnswerHistory,
    Campaign,
    Invite,
    InviteAttempt,
    ProcessedMessage,
    Respondent,
    Submission,
    Unit,
    utcnow,
)
from storage.turns import StaleVersion, lock_number


def _dialect_name(executor) -> str:
    """For an AsyncSession or an AsyncConnection."""
    return (getattr(executor, "dialect", None) or executor.bind.dialect).name


def _insert_for(executor) -> Any:
    """The dialect's INSERT (for ON CONFLICT)."""
    return postgresql.insert if _dialect_name(executor) == "postgresql" else sqlite.insert


async def lock_person(session: AsyncSession, channel: str, external_id: str) -> None:
    """Hold this person until the transaction ends, as their conversation turns do
    (``storage.turns``), so that what this transaction reads of them (their wrong invite codes,
    their binding) stays true until it commits. PostgreSQL: the same advisory lock as the
    turns. SQLite: a write first, which takes the database's one write lock for the whole
    transaction (a read first would let another writer in between)."""
    if _dialect_name(session) == "postgresql":
        number = lock_number(f"{channel}:{external_id}")
        await session.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": number})
        return
    await session.execute(
        update(Respondent)
        .where(Respondent.channel == channel, Respondent.external_id == external_id)
        .values(blocked=Respondent.blocked)
    )


async def mark_processed(session: AsyncSession, channel: str, chat: str, message_id: str) -> bool:
    """Record a message as handled; False when it was handled before (a re-delivery). For
    the messages that are not conversation turns (invites, staff commands)."""
    row = {"channel": channel, "chat": chat, "message_id": message_id, "at": utcnow()}
    stmt = _insert_for(session)(ProcessedMessage).values(**row).on_conflict_do_nothing()
    return (await session.execute(stmt)).rowcount == 1


# Units ---------------------------------------------------------------------------------------


async def get_unit(session: AsyncSession, unit_id: int) -> Unit | None:
    return await session.get(Unit, unit_id)


async def find_unit(session: AsyncSession, name: str) -> Unit | None:
    return (await session.execute(select(Unit).where(Unit.name == name))).scalar_one_or_none()


async def get_or_create_unit(session: AsyncSession, name: str, form_id: str) -> Unit:
    unit = await find_unit(session, name)
    if unit is None:
        unit = Unit(name=name, form_id=form_id)
        session.add(unit)
        await session.flush()
    return unit


# Submissions ---------------------------------------------------------------------------------


async def get_submission(session: AsyncSession, submission_id: int) -> Submission | None:
    return await session.get(Submission, submission_id)


async def get_or_create_submission(
    session: AsyncSession, unit_id: int, form_id: str, year: int
) -> Submission:
    stmt = select(Submission).where(
        Submission.unit_id == unit_id, Submission.form_id == form_id, Submission.year == year
    )
    submission = (await session.execute(stmt)).scalar_one_or_none()
    if submission is None:
        submission = Submission(unit_id=unit_id, form_id=form_id, year=year)
        session.add(submission)
        await session.flush()
    return submission


async def bump_version(session: AsyncSession, submission_id: int, expected: int, **changes) -> int:
    """Change a submission (status, return reason …) if nobody wrote since ``expected``;
    raises StaleVersion otherwise. Returns the new version."""
    stmt = (
        update(Submission)
        .where(Submission.id == submission_id, Submission.version == expected)
        .values(version=expected + 1, updated_at=utcnow(), **changes)
    )
    if (await session.execute(stmt)).rowcount != 1:
        raise StaleVersion(submission_id)
    return expected + 1


async def previous_submission(session, unit_id: int, form_id: str, year: int) -> Submission | None:
    stmt = select(Submission).where(
        Submission.unit_id == unit_id,
        Submission.form_id == form_id,
        Submission.year == year - 1,
        Submission.status.in_(("submitted", "approved")),
    )
    return (await session.execute(stmt)).scalars().first()


async def list_submissions(session: AsyncSession) -> list[tuple[Submission, Unit]]:
    stmt = select(Submission, Unit).join(Unit).order_by(Submission.id)
    return [(s, u) for s, u in (await session.execute(stmt)).all()]


# Answers -------------------------------------------------------------------------------------


_ANSWER_COLUMNS = (
    Answer.submission_id,
    Answer.code,
    Answer.value,
    Answer.skipped,
    Answer.raw,
    Answer.warnings,
)


async def load_answers(executor, submission_id: int) -> list[Any]:
    """Rows with ``submission_id``, ``code``, ``value``, ``skipped``, ``raw`` and
    ``warnings``."""
    stmt = select(*_ANSWER_COLUMNS).where(Answer.submission_id == submission_id)
    return list((await executor.execute(stmt)).all())


async def answer_history(session: AsyncSession, submission_id: int) -> list[AnswerHistory]:
    stmt = (
        select(AnswerHistory)
        .where(AnswerHistory.submission_id == submission_id)
        .order_by(AnswerHistory.id)
    )
    return list((await session.execute(stmt)).scalars())


async def count_answers(session: AsyncSession, submission_id: int) -> int:
    stmt = select(func.count()).select_from(Answer).where(Answer.submission_id == submission_id)
    return int((await session.execute(stmt)).scalar_one())


# Respondents ---------------------------------------------------------------------------------


async def get_respondent(
    session: AsyncSession, channel: str, external_id: str
) -> Respondent | None:
    stmt = select(Respondent).where(
        Respondent.channel == channel, Respondent.external_id == external_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def bind_respondent(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    unit_id: int,
    submission_id: int,
    role: str = "respondent",
    name: str | None = None,
) -> Respondent:
    respondent = await get_respondent(session, channel, external_id)
    if respondent is None:
        respondent = Respondent(channel=channel, external_id=external_id)
        session.add(respondent)
    if respondent.submission_id != submission_id:  # another form: start at its first question
        respondent.cursor = None
    respondent.unit_id = unit_id
    respondent.submission_id = submission_id
    respondent.role = role
    respondent.name = name or respondent.name
    respondent.phase = "answering"
    respondent.return_to = None
    await session.flush()
    return respondent


async def respondents_of_unit(session: AsyncSession, unit_id: int) -> list[Respondent]:
    stmt = select(Respondent).where(Respondent.unit_id == unit_id).order_by(Respondent.id)
    return list((await session.execute(stmt)).scalars())


# Invites -------------------------------------------------------------------------------------


async def create_invite(
    session: AsyncSession,
    *,
    code: str,
    unit_id: int | None,
    form_id: str,
    year: int,
    role: str = "respondent",
    uses_left: int | None = None,
    expires_at: datetime | None = None,
    scope: dict | None = None,
) -> Invite:
    """``unit_id`` None: a reviewer invite whose ``scope`` names campaigns or forms."""
    invite = Invite(
        code=code,
        unit_id=unit_id,
        form_id=form_id,
        year=year,
        role=role,
        uses_left=uses_left,
        expires_at=expires_at,
        scope=scope,
    )
    session.add(invite)
    await session.flush()
    return invite


async def get_invite(session: AsyncSession, code: str) -> Invite | None:
    return await session.get(Invite, code)


# Operations: units, campaigns, roles --------------------------------------------------------


async def upsert_unit(
    session: AsyncSession,
    name: str,
    form_id: str,
    parent: str | None = None,
    contact: str | None = None,
) -> tuple[Unit, str]:
    """Create or update a unit by name; returns it and "created", "updated" or "unchanged"."""
    unit = await find_unit(session, name)
    if unit is None:
        unit = Unit(name=name, form_id=form_id, parent=parent, contact=contact)
        session.add(unit)
        await session.flush()
        return unit, "created"
    if (unit.form_id, unit.parent, unit.contact) == (form_id, parent, contact):
        return unit, "unchanged"
    unit.form_id, unit.parent, unit.contact = form_id, parent, contact
    await session.flush()
    return unit, "updated"


async def list_units(session: AsyncSession, form_id: str | None = None) -> list[Unit]:
    stmt = select(Unit).order_by(Unit.form_id, Unit.name)
    if form_id is not None:
        stmt = stmt.where(Unit.form_id == form_id)
    return list((await session.execute(stmt)).scalars())


async def get_campaign(session: AsyncSession, campaign_id: str) -> Campaign | None:
    return await session.get(Campaign, campaign_id)


async def open_campaign(
    session: AsyncSession,
    *,
    campaign_id: str,
    form_id: str,
    year: int,
    deadline: date,
    reminder_days: list[int],
) -> tuple[Campaign, bool]:
    """Open (or re-open with a new deadline) the campaign of a form and year; True if new."""
    campaign = await get_campaign(session, campaign_id)
    created = campaign is None
    if campaign is None:
        campaign = Campaign(id=campaign_id, form_id=form_id, year=year, deadline=deadline)
        session.add(campaign)
    campaign.deadline = deadline
    campaign.reminder_days = list(reminder_days)
    campaign.status = "open"
    await session.flush()
    return campaign, created


async def close_campaign(session: AsyncSession, campaign_id: str) -> Campaign | None:
    """Close a campaign: its people move to the form's next open campaign with their next
    message (``dialogs.turns``); None when there is no such campaign."""
    campaign = await get_campaign(session, campaign_id)
    if campaign is not None:
        campaign.status = "closed"
        await session.flush()
    return campaign


async def open_campaigns(session: AsyncSession, form_id: str | None = None) -> list[Campaign]:
    stmt = select(Campaign).where(Campaign.status == "open")
    if form_id is not None:
        stmt = stmt.where(Campaign.form_id == form_id)
    return list((await session.execute(stmt.order_by(Campaign.year.desc(), Campaign.id))).scalars())


async def find_submission(
    session: AsyncSession, unit_id: int, form_id: str, year: int
) -> Submission | None:
    stmt = select(Submission).where(
        Submission.unit_id == unit_id, Submission.form_id == form_id, Submission.year == year
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def answers_of(session: AsyncSession, submission_ids: list[int]) -> list[Any]:
    """The answer rows (as ``load_answers``) of several submissions at once."""
    if not submission_ids:
        return []
    stmt = select(*_ANSWER_COLUMNS).where(Answer.submission_id.in_(submission_ids))
    return list((await session.execute(stmt)).all())


async def set_role(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    role: str,
    unit_id: int | None = None,
    keep_unit: bool = True,
    name: str | None = None,
) -> Respondent:
    """Give a chat user a role (creating the row if they never wrote). With ``keep_unit`` the
    unit and submission binding stay; otherwise the user moves to ``unit_id`` and keeps the
    submission only if it belongs to that unit."""
    respondent = await get_respondent(session, channel, external_id)
    if respondent is None:
        respondent = Respondent(channel=channel, external_id=external_id, phase="answering")
        session.add(respondent)
    respondent.role = role
    respondent.name = name or respondent.name
    if not keep_unit and respondent.unit_id != unit_id:
        respondent.unit_id = unit_id
        respondent.submission_id = None
        respondent.cursor = None
    await session.flush()
    return respondent


async def respondents_with_role(session: AsyncSession, role: str) -> list[Respondent]:
    stmt = select(Respondent).where(Respondent.role == role).order_by(Respondent.id)
    return list((await session.execute(stmt)).scalars())


async def set_blocked(session: AsyncSession, channel: str, external_id: str, blocked: bool) -> None:
    await session.execute(
        update(Respondent)
        .where(Respondent.channel == channel, Respondent.external_id == external_id)
        .values(blocked=blocked)
    )


# Invites: atomic use, wrong-code attempts ----------------------------------------------------


async def consume_invite(session: AsyncSession, code: str) -> bool:
    """Take one use of an invite; False when none is left (checked and taken in one statement,
    so two people opening the last use at once cannot both get it)."""
    invite = await get_invite(session, code)
    if invite is None:
        return False
    if invite.uses_left is None:
        return True
    result = await session.execute(
        update(Invite)
        .where(Invite.code == code, Invite.uses_left > 0)
        .values(uses_left=Invite.uses_left - 1)
    )
    await session.refresh(invite)
    return result.rowcount == 1


async def record_wrong_code(
    session: AsyncSession, channel: str, external_id: str, code: str, at: datetime
) -> None:
    session.add(InviteAttempt(channel=channel, external_id=external_id, code=code[:64], at=at))
    await session.flush()


async def wrong_codes_since(
    session: AsyncSession, channel: str, external_id: str, since: datetime
) -> list[datetime]:
    stmt = (
        select(InviteAttempt.at)
        .where(
            InviteAttempt.channel == channel,
            InviteAttempt.external_id == external_id,
            InviteAttempt.at > since,
        )
        .order_by(InviteAttempt.at)
    )
    return list((await session.execute(stmt)).scalars())


async def forget_wrong_codes(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(InviteAttempt).where(InviteAttempt.at < before))


# The web console ------------------------------------------------------------------------------


async def live_invites(
    session: AsyncSession, form_id: str, year: int, now: datetime
) -> list[tuple[Invite, Unit]]:
    """The invites of a form and year that still work (not expired, uses left), newest last."""
    stmt = (
        select(Invite, Unit)
        .join(Unit, Unit.id == Invite.unit_id)
        .where(
            Invite.form_id == form_id,
            Invite.year == year,
            (Invite.expires_at.is_(None)) | (Invite.expires_at > now),
            (Invite.uses_left.is_(None)) | (Invite.uses_left > 0),
        )
        .order_by(Invite.created_at, Invite.code)
    )
    return [(i, u) for i, u in (await session.execute(stmt)).all()]


async def set_unit_contact(session: AsyncSession, unit_id: int, contact: str | None) -> Unit | None:
    unit = await session.get(Unit, unit_id)
    if unit is not None:
        unit.contact = contact
        await session.flush()
    return unit


async def submission_times(session: AsyncSession, form_id: str, year: int) -> list[datetime]:
    """When each submission of a form and year that has been submitted was (last) submitted."""
    stmt = select(Submission.submitted_at).where(
        Submission.form_id == form_id,
        Submission.year == year,
        Submission.submitted_at.is_not(None),
    )
    return list((await session.execute(stmt)).scalars())


async def respondents_by_id(session: AsyncSession, ids: list[int]) -> dict[int, Respondent]:
    if not ids:
        return {}
    stmt = select(Respondent).where(Respondent.id.in_(ids))
    return {r.id: r for r in (await session.execute(stmt)).scalars()}


async def list_campaigns(session: AsyncSession) -> list[Campaign]:
    """Every campaign, open ones first, newest year first."""
    stmt = select(Campaign).order_by(Campaign.status.desc(), Campaign.year.desc(), Campaign.id)
    return list((await session.execute(stmt)).scalars())

"""Repository functions: every read and write the engine and the CLI make, on one session.

Callers own the transaction (``async with session.begin()``); nothing here commits, so one
turn of the conversation is one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Answer,
    AnswerHistory,
    Invite,
    ProcessedMessage,
    Respondent,
    Submission,
    Unit,
    utcnow,
)


class StaleVersion(RuntimeError):
    """Another writer changed the submission first; the turn must be retried."""


def _insert_for(session: AsyncSession):
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


async def mark_processed(session: AsyncSession, channel: str, chat: str, message_id: str) -> bool:
    """Record a message as handled; False when it was handled before (a re-delivery)."""
    stmt = (
        _insert_for(session)(ProcessedMessage)
        .values(channel=channel, chat=chat, message_id=message_id, at=utcnow())
        .on_conflict_do_nothing()
    )
    result = await session.execute(stmt)
    return result.rowcount == 1


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


async def submission_version(session: AsyncSession, submission_id: int) -> tuple[int, str]:
    row = (
        await session.execute(
            select(Submission.version, Submission.status).where(Submission.id == submission_id)
        )
    ).one()
    return row.version, row.status


async def bump_version(session: AsyncSession, submission_id: int, expected: int, **changes) -> int:
    """Optimistic write guard: raises StaleVersion if someone else wrote since ``expected``."""
    stmt = (
        update(Submission)
        .where(Submission.id == submission_id, Submission.version == expected)
        .values(version=expected + 1, updated_at=utcnow(), **changes)
    )
    result = await session.execute(stmt)
    if result.rowcount != 1:
        raise StaleVersion(submission_id)
    return expected + 1


async def previous_submission(
    session: AsyncSession, unit_id: int, form_id: str, year: int
) -> Submission | None:
    stmt = select(Submission).where(
        Submission.unit_id == unit_id,
        Submission.form_id == form_id,
        Submission.year == year - 1,
        Submission.status.in_(("submitted", "approved")),
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_submissions(session: AsyncSession) -> list[tuple[Submission, Unit]]:
    stmt = select(Submission, Unit).join(Unit).order_by(Submission.id)
    return [(s, u) for s, u in (await session.execute(stmt)).all()]


# Answers -------------------------------------------------------------------------------------


async def load_answers(session: AsyncSession, submission_id: int) -> list[Answer]:
    stmt = select(Answer).where(Answer.submission_id == submission_id)
    return list((await session.execute(stmt)).scalars())


async def save_answer(
    session: AsyncSession,
    *,
    submission_id: int,
    code: str,
    old_value: Any,
    value: Any,
    raw: str | None,
    skipped: bool,
    respondent_id: int | None,
    channel: str | None,
    message_id: str | None,
) -> None:
    """Upsert the current answer and append the change to the history."""
    now = utcnow()
    row = dict(
        submission_id=submission_id,
        code=code,
        raw=raw,
        value=value,
        skipped=skipped,
        respondent_id=respondent_id,
        channel=channel,
        updated_at=now,
    )
    stmt = _insert_for(session)(Answer).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["submission_id", "code"],
        set_={k: stmt.excluded[k] for k in ("raw", "value", "skipped", "respondent_id")}
        | {"channel": stmt.excluded.channel, "updated_at": stmt.excluded.updated_at},
    )
    await session.execute(stmt)
    await session.execute(
        insert(AnswerHistory).values(
            submission_id=submission_id,
            code=code,
            old_value=old_value,
            new_value=value,
            raw=raw,
            respondent_id=respondent_id,
            channel=channel,
            message_id=message_id,
            at=now,
        )
    )


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
    respondent.unit_id = unit_id
    respondent.submission_id = submission_id
    respondent.role = role
    respondent.name = name or respondent.name
    respondent.phase = "answering"
    respondent.return_to = None
    await session.flush()
    return respondent


async def save_conversation(
    session: AsyncSession,
    respondent_id: int,
    *,
    phase: str,
    cursor: str | None,
    return_to: str | None,
) -> None:
    await session.execute(
        update(Respondent)
        .where(Respondent.id == respondent_id)
        .values(phase=phase, cursor=cursor, return_to=return_to, last_seen_at=utcnow())
    )


async def respondents_of_unit(session: AsyncSession, unit_id: int) -> list[Respondent]:
    stmt = select(Respondent).where(Respondent.unit_id == unit_id).order_by(Respondent.id)
    return list((await session.execute(stmt)).scalars())


# Invites -------------------------------------------------------------------------------------


async def create_invite(
    session: AsyncSession,
    *,
    code: str,
    unit_id: int,
    form_id: str,
    year: int,
    role: str = "respondent",
    uses_left: int | None = None,
    expires_at: datetime | None = None,
) -> Invite:
    invite = Invite(
        code=code,
        unit_id=unit_id,
        form_id=form_id,
        year=year,
        role=role,
        uses_left=uses_left,
        expires_at=expires_at,
    )
    session.add(invite)
    await session.flush()
    return invite


async def get_invite(session: AsyncSession, code: str) -> Invite | None:
    return await session.get(Invite, code)


async def use_invite(session: AsyncSession, invite: Invite) -> None:
    if invite.uses_left is not None:
        invite.uses_left -= 1
        await session.flush()

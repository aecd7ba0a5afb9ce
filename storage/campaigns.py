"""Campaign reads: the submissions of one form and year with their units and answers, the
units that should report, the people filling the forms and when they last worked on them.

What campaign progress (``dialogs.campaigns``), the best values of relative scoring rules and
the ranking export read; they parse and score what this returns. Read-only.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Answer, Respondent, Submission, Unit

ANSWER_COLUMNS = (Answer.submission_id, Answer.code, Answer.value, Answer.skipped, Answer.raw)


@dataclass
class CampaignData:
    """One form and year as stored. ``units`` holds every unit of the form's type (when
    asked for) and the unit of every submission; ``answers`` are rows with
    ``submission_id``, ``code``, ``value``, ``skipped`` and ``raw``."""

    form_id: str
    year: int
    units: dict[int, Unit]
    submissions: list[Submission]
    answers: list[Any]
    last_answers: dict[int, datetime] = field(default_factory=dict)
    respondents: list[Respondent] = field(default_factory=list)


async def load_campaign(
    session: AsyncSession,
    form_id: str,
    year: int,
    *,
    units_of_type: bool = False,
    statuses: Collection[str] | None = None,
    codes: Collection[str] | None = None,
    activity: bool = False,
) -> CampaignData:
    """The submissions of ``form_id`` for ``year`` (only those in ``statuses`` when given)
    with their units and answers (only to ``codes`` when given). ``units_of_type`` adds the
    units of that type without a submission; ``activity`` adds the units' respondents and
    each submission's last answer time."""
    pairs = await submissions_with_units(session, form_id, year, statuses)
    units = (
        {unit.id: unit for unit in await list_units_of_type(session, form_id)}
        if (units_of_type)
        else {}
    )
    for _submission, unit in pairs:
        units.setdefault(unit.id, unit)
    submissions = [submission for submission, _unit in pairs]
    ids = [submission.id for submission in submissions]
    data = CampaignData(form_id, year, units, submissions, await answer_rows(session, ids, codes))
    if activity:
        data.last_answers = await last_answer_times(session, ids)
        data.respondents = await respondents_of_units(session, list(units))
    return data


async def list_units_of_type(session: AsyncSession, form_id: str) -> list[Unit]:
    stmt = select(Unit).where(Unit.form_id == form_id).order_by(Unit.name)
    return list((await session.execute(stmt)).scalars())


async def submissions_with_units(
    session: AsyncSession, form_id: str, year: int, statuses: Collection[str] | None = None
) -> list[tuple[Submission, Unit]]:
    stmt = (
        select(Submission, Unit)
        .join(Unit, Unit.id == Submission.unit_id)
        .where(Submission.form_id == form_id, Submission.year == year)
        .order_by(Submission.id)
    )
    if statuses is not None:
        stmt = stmt.where(Submission.status.in_(list(statuses)))
    return [(submission, unit) for submission, unit in (await session.execute(stmt)).all()]


async def answer_rows(
    session: AsyncSession, submission_ids: Sequence[int], codes: Collection[str] | None = None
) -> list[Any]:
    """The answer rows of several submissions (to ``codes`` only, when given)."""
    if not submission_ids or (codes is not None and not codes):
        return []
    stmt = select(*ANSWER_COLUMNS).where(Answer.submission_id.in_(list(submission_ids)))
    if codes is not None:
        stmt = stmt.where(Answer.code.in_(sorted(codes)))
    return list((await session.execute(stmt)).all())


async def last_answer_times(
    session: AsyncSession, submission_ids: Sequence[int]
) -> dict[int, datetime]:
    """When each submission's answers last changed (submissions without answers left out)."""
    if not submission_ids:
        return {}
    stmt = (
        select(Answer.submission_id, func.max(Answer.updated_at))
        .where(Answer.submission_id.in_(list(submission_ids)))
        .group_by(Answer.submission_id)
    )
    return {sid: at for sid, at in (await session.execute(stmt)).all()}


async def respondents_of_units(session: AsyncSession, unit_ids: Sequence[int]) -> list[Respondent]:
    if not unit_ids:
        return []
    stmt = select(Respondent).where(Respondent.unit_id.in_(list(unit_ids))).order_by(Respondent.id)
    return list((await session.execute(stmt)).scalars())

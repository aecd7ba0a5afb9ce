"""Evidence files and links per item, and the reviewers' appraisals: the reads the documents,
the ZIP export and the web console make, and the appraisal writes. (A respondent's turn
stores evidence on its own transaction: ``storage.turns``.)

The bytes of a file live once in ``blobs`` (named by their SHA-256), whichever items and
submissions point at them. Callers own the transaction, as in ``storage.repo``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Appraisal, Blob, Evidence, utcnow

_APPRAISALS = Appraisal.__table__


@dataclass(frozen=True, slots=True)
class EvidenceInfo:
    """One piece of evidence without its bytes."""

    id: int
    submission_id: int
    code: str
    kind: str  # file | link
    filename: str | None
    url: str | None
    mime_type: str | None
    size: int
    digest: str | None
    received_at: datetime
    channel: str | None


@dataclass(frozen=True, slots=True)
class AppraisalRow:
    submission_id: int
    code: str
    value: Any  # JSON, as ``dialogs.kinds`` stores answers
    raw: str | None
    note: str | None
    reviewer: str | None
    updated_at: datetime


def _info(row: Evidence) -> EvidenceInfo:
    return EvidenceInfo(
        id=row.id,
        submission_id=row.submission_id,
        code=row.code,
        kind=row.kind,
        filename=row.filename,
        url=row.url,
        mime_type=row.mime_type,
        size=row.size,
        digest=row.digest,
        received_at=row.received_at,
        channel=row.channel,
    )


async def list_evidence(
    session: AsyncSession, submission_ids: Iterable[int]
) -> dict[int, list[EvidenceInfo]]:
    """The evidence of each submission, oldest first, without the bytes."""
    ids = list(submission_ids)
    found: dict[int, list[EvidenceInfo]] = {i: [] for i in ids}
    if not ids:
        return found
    stmt = select(Evidence).where(Evidence.submission_id.in_(ids)).order_by(Evidence.id)
    for row in (await session.execute(stmt)).scalars():
        found[row.submission_id].append(_info(row))
    return found


async def evidence_bytes(
    session: AsyncSession, submission_id: int, evidence_id: int
) -> tuple[EvidenceInfo, bytes] | None:
    """One file of a submission with its bytes; None when there is no such file (or it is a
    link, or belongs to another submission)."""
    stmt = (
        select(Evidence, Blob.data)
        .join(Blob, Blob.digest == Evidence.digest)
        .where(Evidence.id == evidence_id, Evidence.submission_id == submission_id)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return _info(row[0]), row[1]


async def blob_data(session: AsyncSession, digests: Iterable[str]) -> dict[str, bytes]:
    """The bytes of the given digests (each once)."""
    wanted = sorted(set(digests))
    if not wanted:
        return {}
    stmt = select(Blob.digest, Blob.data).where(Blob.digest.in_(wanted))
    return {digest: data for digest, data in (await session.execute(stmt)).all()}


async def stored_bytes(session: AsyncSession, submission_id: int) -> int:
    """The bytes a submission's files take, each file counted once."""
    digests = select(Evidence.digest).where(Evidence.submission_id == submission_id)
    stmt = select(func.coalesce(func.sum(Blob.size), 0)).where(Blob.digest.in_(digests))
    return int((await session.execute(stmt)).scalar_one())


async def count_blobs(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Blob))).scalar_one())


# Appraisals ------------------------------------------------------------------------------------


async def save_appraisal(
    session: AsyncSession,
    submission_id: int,
    code: str,
    value: Any,
    raw: str | None,
    note: str | None,
    reviewer: str | None,
) -> None:
    """Record (or replace) the appraised value and note of one item."""
    postgres = session.bind.dialect.name == "postgresql"
    insert = (postgresql if postgres else sqlite).insert(_APPRAISALS)
    row = {
        "submission_id": submission_id,
        "code": code,
        "value": value,
        "raw": raw,
        "note": note,
        "reviewer": reviewer,
        "updated_at": utcnow(),
    }
    changed = {key: insert.excluded[key] for key in ("value", "raw", "note", "reviewer")}
    changed["updated_at"] = insert.excluded.updated_at
    await session.execute(
        insert.values(**row).on_conflict_do_update(
            index_elements=[_APPRAISALS.c.submission_id, _APPRAISALS.c.code], set_=changed
        )
    )


async def delete_appraisal(session: AsyncSession, submission_id: int, code: str) -> bool:
    """Withdraw the appraisal of one item (the unit's own answer counts again)."""
    stmt = _APPRAISALS.delete().where(
        _APPRAISALS.c.submission_id == submission_id, _APPRAISALS.c.code == code
    )
    return (await session.execute(stmt)).rowcount > 0


async def list_appraisals(
    session: AsyncSession, submission_ids: Iterable[int]
) -> dict[int, dict[str, AppraisalRow]]:
    """The appraisals of each submission, by item code."""
    ids = list(submission_ids)
    found: dict[int, dict[str, AppraisalRow]] = {i: {} for i in ids}
    if not ids:
        return found
    stmt = select(Appraisal).where(Appraisal.submission_id.in_(ids))
    for row in (await session.execute(stmt)).scalars():
        found[row.submission_id][row.code] = AppraisalRow(
            row.submission_id, row.code, row.value, row.raw, row.note, row.reviewer, row.updated_at
        )
    return found

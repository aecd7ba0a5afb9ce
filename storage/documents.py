"""Documents offered as signed links (``bot.links``), kept in the database so that any worker
behind the public URL can serve any link: named by the SHA-256 of their bytes, kept until the
last link to them expires. The bytes live in ``blobs``, the one home of stored bytes, shared
with the evidence files (a document whose bytes are also evidence is stored once, and purging
the document keeps them). Callers own the transaction, as in ``storage.repo``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Blob, Evidence, StoredDocument

_DOCUMENTS = StoredDocument.__table__
_BLOBS = Blob.__table__


def _insert(session: AsyncSession, table):
    postgres = session.bind.dialect.name == "postgresql"
    return (postgresql if postgres else sqlite).insert(table), postgres


async def keep_blob(
    session: AsyncSession, digest: str, data: bytes, mime_type: str, now: datetime
) -> None:
    """Store bytes under their digest, once (a second call changes nothing)."""
    insert, _ = _insert(session, _BLOBS)
    row = {"digest": digest, "data": data, "mime_type": mime_type, "size": len(data)}
    await session.execute(
        insert.values(**row, created_at=now).on_conflict_do_nothing(index_elements=["digest"])
    )


async def keep_document(
    session: AsyncSession, digest: str, data: bytes, mime_type: str, now: datetime, until: datetime
) -> None:
    """Store a document (once per digest) until ``until``; a new link to the same bytes keeps it
    for the longer of the two lifetimes."""
    await keep_blob(session, digest, data, mime_type, now)
    insert, postgres = _insert(session, _DOCUMENTS)
    row = {
        "digest": digest,
        "mime_type": mime_type,
        "size": len(data),
        "created_at": now,
        "expires_at": until,
    }
    later = (func.greatest if postgres else func.max)(
        _DOCUMENTS.c.expires_at, insert.excluded.expires_at
    )
    await session.execute(
        insert.values(**row).on_conflict_do_update(
            index_elements=[_DOCUMENTS.c.digest], set_={"expires_at": later}
        )
    )


async def find_document(session: AsyncSession, digest: str, now: datetime) -> bytes | None:
    """The bytes of a document still kept at ``now``; None when there is none."""
    stmt = (
        select(_BLOBS.c.data)
        .join(_DOCUMENTS, _DOCUMENTS.c.digest == _BLOBS.c.digest)
        .where(_DOCUMENTS.c.digest == digest, _DOCUMENTS.c.expires_at >= now)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def purge_documents(session: AsyncSession, before: datetime) -> int:
    """Delete the documents kept until before ``before``, and their bytes unless evidence
    uses them; returns how many documents."""
    expired = select(_DOCUMENTS.c.digest).where(_DOCUMENTS.c.expires_at < before)
    digests = list((await session.execute(expired)).scalars())
    if not digests:
        return 0
    await session.execute(delete(_DOCUMENTS).where(_DOCUMENTS.c.digest.in_(digests)))
    evidence = Evidence.__table__
    used = exists().where(evidence.c.digest == _BLOBS.c.digest)
    await session.execute(delete(_BLOBS).where(_BLOBS.c.digest.in_(digests), ~used))
    return len(digests)

"""Documents offered as signed links (``bot.links``), kept in the database so that any worker
behind the public URL can serve any link: named by the SHA-256 of their bytes, kept until the
last link to them expires. Callers own the transaction, as in ``storage.repo``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import StoredDocument

_DOCUMENTS = StoredDocument.__table__


async def keep_document(
    session: AsyncSession, digest: str, data: bytes, mime_type: str, now: datetime, until: datetime
) -> None:
    """Store a document (once per digest) until ``until``; a new link to the same bytes keeps it
    for the longer of the two lifetimes."""
    postgres = session.bind.dialect.name == "postgresql"
    insert = (postgresql if postgres else sqlite).insert(_DOCUMENTS)
    row = {
        "digest": digest,
        "data": data,
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
    stmt = select(_DOCUMENTS.c.data).where(
        _DOCUMENTS.c.digest == digest, _DOCUMENTS.c.expires_at >= now
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def purge_documents(session: AsyncSession, before: datetime) -> int:
    """Delete the documents kept until before ``before``; returns how many."""
    stmt = delete(_DOCUMENTS).where(_DOCUMENTS.c.expires_at < before)
    return (await session.execute(stmt)).rowcount

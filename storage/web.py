"""The web console's sign-in: one-time login links and browser sessions.

Only the SHA-256 of a token is stored, so a copy of the database does not sign anyone in. A
login link is taken in one statement (``UPDATE … WHERE used_at IS NULL``), so two browsers
opening the same link at once cannot both get a session, whichever workers serve them.
Callers own the transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import WebLogin, WebSession

KEEP_ENDED = timedelta(days=1)  # expired rows are deleted this long after they expire


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


async def create_login(
    session: AsyncSession,
    token: str,
    *,
    channel: str,
    external_id: str,
    name: str | None,
    now: datetime,
    expires_at: datetime,
) -> WebLogin:
    await session.execute(delete(WebLogin).where(WebLogin.expires_at < now - KEEP_ENDED))
    login = WebLogin(
        token_hash=token_hash(token),
        channel=channel,
        external_id=external_id,
        name=name,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(login)
    await session.flush()
    return login


@dataclass(frozen=True)
class LoginUse:
    """What opening a login link gave: the login (None when refused) or why not."""

    login: WebLogin | None
    problem: str | None = None  # "unknown" | "used" | "expired"


async def use_login(session: AsyncSession, token: str, now: datetime) -> LoginUse:
    """Take the login link ``token`` (once)."""
    digest = token_hash(token)
    login = await session.get(WebLogin, digest)
    if login is None:
        return LoginUse(None, "unknown")
    if login.used_at is not None:
        return LoginUse(None, "used")
    if login.expires_at <= now:
        return LoginUse(None, "expired")
    taken = await session.execute(
        update(WebLogin)
        .where(WebLogin.token_hash == digest, WebLogin.used_at.is_(None))
        .values(used_at=now)
    )
    if taken.rowcount != 1:  # another request took it between the read and the write
        return LoginUse(None, "used")
    return LoginUse(login)


async def create_session(
    session: AsyncSession,
    token: str,
    *,
    channel: str,
    external_id: str,
    name: str | None,
    csrf: str,
    now: datetime,
    expires_at: datetime,
) -> WebSession:
    await session.execute(delete(WebSession).where(WebSession.expires_at < now - KEEP_ENDED))
    row = WebSession(
        token_hash=token_hash(token),
        channel=channel,
        external_id=external_id,
        name=name,
        csrf=csrf,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row


async def find_session(session: AsyncSession, token: str, now: datetime) -> WebSession | None:
    """The live session of the cookie ``token``; None when unknown, ended or expired."""
    stmt = select(WebSession).where(
        WebSession.token_hash == token_hash(token),
        WebSession.ended_at.is_(None),
        WebSession.expires_at > now,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def end_session(session: AsyncSession, token: str, now: datetime) -> bool:
    result = await session.execute(
        update(WebSession)
        .where(WebSession.token_hash == token_hash(token), WebSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return result.rowcount == 1

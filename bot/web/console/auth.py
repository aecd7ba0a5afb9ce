"""Who is at the browser: sign-in by one-time link, the session cookie, roles and CSRF.

A one-time link (``/login/<token>``, from ``formbot web login`` or the chat command ``/web``)
opens a session: a random cookie (HttpOnly, SameSite=Lax, Secure under https) whose SHA-256 is
stored with its CSRF token (``storage.web``). The role is read again on every request from the
roles the bot already knows (``dialogs.access``: admins from ``FORMBOT_ADMINS`` or the
database, reviewers bound by invite), so taking a role away takes effect at the next click.
The reviewer's scope (``dialogs.access.Scope``: the campaigns and forms they review) is read
the same way, here only: the pages ask ``Viewer.covers`` before showing a campaign or a form.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from starlette.requests import Request

from dialogs import access
from storage import repo
from storage import web as web_store
from storage.db import Database
from storage.models import utcnow

COOKIE = "formbot_session"
CSRF_FIELD = "csrf"
CLI_CHANNEL = "cli"  # an admin named at the server's shell (`formbot web login NAME`)


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: who, their role now, their session's CSRF token."""

    channel: str
    external_id: str
    name: str | None
    role: str | None
    csrf: str
    token: str
    scope: access.Scope = field(default=access.Scope())  # nothing unless told

    def covers(self, form_id: str, year: int) -> bool:
        """Whether this person may see the campaign ``form_id``-``year`` and its forms."""
        return self.scope.covers(form_id, year)

    @property
    def label(self) -> str:
        if self.channel == CLI_CHANNEL:
            return self.external_id
        return self.name or f"{self.channel}:{self.external_id}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


async def role_of(session, channel: str, external_id: str) -> str | None:
    return (await role_and_scope(session, channel, external_id))[0]


async def role_and_scope(
    session, channel: str, external_id: str
) -> tuple[str | None, access.Scope]:
    """The person's role and what they review, as the chat commands read them."""
    if channel == CLI_CHANNEL:
        return "admin", access.EVERYTHING
    person = await repo.get_respondent(session, channel, external_id)
    return (
        access.role_of(person, channel, external_id),
        access.scope_of(person, channel, external_id),
    )


async def current_viewer(database: Database, request: Request) -> Viewer | None:
    """The session of the request's cookie with the role as it is now; None without one."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 200:
        return None
    async with database.session() as session:
        row = await web_store.find_session(session, token, utcnow())
        if row is None:
            return None
        role, scope = await role_and_scope(session, row.channel, row.external_id)
    return Viewer(row.channel, row.external_id, row.name, role, row.csrf, token, scope)


async def open_session(database: Database, token: str) -> tuple[str | None, str | None]:
    """Take the one-time link ``token``: (the new session's cookie, None), or (None, the
    problem: "unknown", "used", "expired", "role")."""
    now = utcnow()
    async with database.session() as session, session.begin():
        used = await web_store.use_login(session, token, now)
        if used.login is None:
            return None, used.problem
        login = used.login
        if not access.is_staff(await role_of(session, login.channel, login.external_id)):
            return None, "role"
        cookie = secrets.token_urlsafe(32)
        await web_store.create_session(
            session,
            cookie,
            channel=login.channel,
            external_id=login.external_id,
            name=login.name,
            csrf=secrets.token_urlsafe(32),
            now=now,
            expires_at=now + access.WEB_SESSION_TTL,
        )
    return cookie, None


async def close_session(database: Database, token: str) -> None:
    async with database.session() as session, session.begin():
        await web_store.end_session(session, token, utcnow())


def csrf_ok(viewer: Viewer, sent: object) -> bool:
    """Whether a form carried this session's CSRF token (compared in constant time)."""
    if not isinstance(sent, str) or not sent:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "replace"), viewer.csrf.encode())

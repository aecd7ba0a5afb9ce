"""Who may do what: roles, admins, invite codes and the wrong-code limit.

Roles, from least to most: respondent (their own unit's current submission), reviewer (the
units of the campaigns in their ``Scope``: list, documents, ranking, return, approve), admin
(everything, including broadcasts).
Admins are the people in ``FORMBOT_ADMINS`` (``telegram:12345``, ``zalo:abc``, separated by
commas or spaces) or those promoted with ``formbot admin add``. Every entry names its channel:
Telegram and Zalo ids are unrelated, so a bare ``555`` would make two different people admins;
``formbot run`` refuses to start with one (``check_admins``), and the engine ignores it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dialogs.campaigns import LOCAL_TZ
from dialogs.messages import Inbound, Outbound
from storage import repo
from storage import web as web_store
from storage.models import Invite, Respondent, utcnow
from templates.messages import say

log = logging.getLogger(__name__)

ROLES = ("respondent", "reviewer", "admin")
INVITE_ROLES = ("respondent", "reviewer")  # admins are named, never invited
RANK = {role: n for n, role in enumerate(ROLES)}
WRONG_CODE_LIMIT = 5
WRONG_CODE_WINDOW = timedelta(hours=1)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 8


CHANNELS = ("telegram", "zalo", "console")


class AdminsError(ValueError):
    """``FORMBOT_ADMINS`` has entries that do not name their channel."""


def _admin_entries() -> list[str]:
    raw = os.environ.get("FORMBOT_ADMINS", "")
    return [part.strip() for part in raw.replace(",", " ").split() if part.strip()]


def _names_channel(entry: str) -> bool:
    channel, colon, user = entry.partition(":")
    return bool(colon and user) and channel in CHANNELS


def admin_ids() -> set[str]:
    """The ``channel:id`` entries of ``FORMBOT_ADMINS``."""
    return {entry for entry in _admin_entries() if _names_channel(entry)}


def check_admins() -> None:
    """Raise ``AdminsError`` when an entry of ``FORMBOT_ADMINS`` does not name its channel."""
    bad = [entry for entry in _admin_entries() if not _names_channel(entry)]
    if bad:
        examples = ", ".join(f"telegram:{entry} or zalo:{entry}" for entry in bad[:3])
        raise AdminsError(
            f"FORMBOT_ADMINS: {', '.join(bad)} does not name a channel ({', '.join(CHANNELS)});"
            f" write {examples} (a Telegram and a Zalo user may have the same id)"
        )


def is_env_admin(channel: str, user: str) -> bool:
    return f"{channel}:{user}" in admin_ids()


def role_of(respondent: Respondent | None, channel: str, user: str) -> str | None:
    """The user's role; None for someone the bot does not know."""
    if is_env_admin(channel, user):
        return "admin"
    if respondent is None:
        return None
    return respondent.role if respondent.role in RANK else "respondent"


def allowed(role: str | None, needed: str) -> bool:
    """Whether ``role`` is at least ``needed`` (the least role of a command)."""
    return role is not None and RANK[role] >= RANK[needed]


def is_staff(role: str | None) -> bool:
    return role in ("reviewer", "admin")


def higher(current: str | None, offered: str) -> str:
    """Opening an invite never lowers a role (an admin who tests a respondent invite stays
    admin)."""
    if current in RANK and RANK[current] > RANK.get(offered, 0):
        return current
    return offered


def refuse(inbound: Inbound, role: str | None, command: str, needed: str) -> list[Outbound]:
    """A polite refusal of ``/command`` (which needs the role ``needed``) that changes
    nothing, and a log line for the IT team."""
    log.warning(
        "refused /%s for %s:%s with role %s",
        command,
        inbound.channel,
        inbound.user,
        role or "none",
    )
    return [Outbound(say("refused_role", command=command, needed=say(f"role_{needed}")))]


# Scopes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a reviewer reviews: named campaigns (``xa-phuong-2020``) and whole forms (every
    year of ``xa-phuong``), or everything. Kept as JSON on the person and the invite:
    ``{"campaigns": [...], "forms": [...]}``; None is everything (admins, and reviewers
    invited to a unit before invites could name campaigns)."""

    campaigns: frozenset[str] = frozenset()
    forms: frozenset[str] = frozenset()
    everything: bool = False

    @classmethod
    def of(cls, campaigns: Iterable[str] = (), forms: Iterable[str] = ()) -> Scope:
        return cls(frozenset(campaigns), frozenset(forms))

    @classmethod
    def from_json(cls, data: Any) -> Scope:
        if not isinstance(data, dict):
            return EVERYTHING
        return cls.of(data.get("campaigns") or (), data.get("forms") or ())

    def as_json(self) -> dict | None:
        if self.everything:
            return None
        return {"campaigns": sorted(self.campaigns), "forms": sorted(self.forms)}

    def covers(self, form_id: str, year: int) -> bool:
        return self.everything or form_id in self.forms or f"{form_id}-{year}" in self.campaigns

    def includes(self, other: Scope) -> bool:
        """Whether everything ``other`` covers is covered already."""
        if self.everything:
            return True
        if other.everything:
            return False
        spare = {c for c in other.campaigns if c.rpartition("-")[0] not in self.forms}
        return other.forms <= self.forms and spare <= self.campaigns

    def __or__(self, other: Scope) -> Scope:
        if self.everything or other.everything:
            return EVERYTHING
        return Scope(self.campaigns | other.campaigns, self.forms | other.forms)

    def names(self) -> list[str]:
        """The campaigns and forms, for people to read."""
        return sorted(self.forms) + sorted(self.campaigns)


EVERYTHING = Scope(everything=True)


def scope_of(respondent: Respondent | None, channel: str, user: str) -> Scope:
    """What this person may review (everything for admins; nothing for strangers and
    respondents, who are refused staff commands before any scope matters)."""
    role = role_of(respondent, channel, user)
    if role == "admin":
        return EVERYTHING
    if role == "reviewer" and respondent is not None:
        return Scope.from_json(respondent.scope)
    return Scope()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


# Invites -------------------------------------------------------------------------------------


async def lockout_until(session, channel: str, user: str, now: datetime) -> datetime | None:
    """When someone who typed too many wrong codes may try again; None if they may now."""
    wrong = await repo.wrong_codes_since(session, channel, user, now - WRONG_CODE_WINDOW)
    if len(wrong) < WRONG_CODE_LIMIT:
        return None
    # The oldest attempt that still counts leaves the window first.
    return wrong[-WRONG_CODE_LIMIT] + WRONG_CODE_WINDOW


async def check_invite(
    session, inbound: Inbound, code: str
) -> tuple[Invite | None, list[Outbound] | None]:
    """The invite behind ``code``, or the reply that refuses it. A wrong code is counted; more
    than ``WRONG_CODE_LIMIT`` within ``WRONG_CODE_WINDOW`` are refused until the window
    passes, whatever is typed."""
    now = utcnow()
    until = await lockout_until(session, inbound.channel, inbound.user, now)
    if until is not None:
        log.warning("invite lockout for %s:%s until %s", inbound.channel, inbound.user, until)
        when = until.astimezone(LOCAL_TZ).strftime("%H:%M")
        return None, [Outbound(say("invite_locked", until=when))]
    code = code.split()[0] if code.split() else code
    invite = await repo.get_invite(session, code) or await repo.get_invite(session, code.upper())
    if invite is None:
        await repo.record_wrong_code(session, inbound.channel, inbound.user, code, now)
        await repo.forget_wrong_codes(session, now - 24 * WRONG_CODE_WINDOW)
        wrong = await repo.wrong_codes_since(
            session, inbound.channel, inbound.user, now - WRONG_CODE_WINDOW
        )
        left = WRONG_CODE_LIMIT - len(wrong)
        if left > 0:
            hint = say("invite_tries_left", left=left)
        else:
            until = wrong[-WRONG_CODE_LIMIT] + WRONG_CODE_WINDOW
            hint = say("invite_locked", until=until.astimezone(LOCAL_TZ).strftime("%H:%M"))
        return None, [Outbound(say("invite_unknown", code=code) + "\n" + hint)]
    expired = invite.expires_at is not None and invite.expires_at < now
    if expired or (invite.uses_left is not None and invite.uses_left <= 0):
        return None, [Outbound(say("invite_expired", code=code))]
    return invite, None


async def take_invite(session, invite: Invite, existing: Respondent | None) -> bool:
    """Use up one use of the invite, unless the person already holds what it gives (opening
    the same link twice costs nothing). False when the last use went to someone else."""
    if invite.unit_id is None:  # a reviewer invite naming campaigns or forms
        if existing is not None and RANK.get(existing.role, 0) >= RANK.get(invite.role, 0):
            held = scope_of(existing, existing.channel, existing.external_id)
            if held.includes(Scope.from_json(invite.scope)):
                return True
        return await repo.consume_invite(session, invite.code)
    if existing is not None and existing.unit_id == invite.unit_id:
        holds_role = RANK.get(existing.role, 0) >= RANK.get(invite.role, 0)
        if invite.role != "respondent" and holds_role:
            return True
        if invite.role == "respondent" and existing.submission_id is not None:
            submission = await repo.get_submission(session, existing.submission_id)
            if (submission.form_id, submission.year) == (invite.form_id, invite.year):
                return True
    return await repo.consume_invite(session, invite.code)


# The web console's sign-in links --------------------------------------------------------------

WEB_LOGIN_TTL = timedelta(minutes=15)
WEB_SESSION_TTL = timedelta(hours=8)
DEFAULT_WEB_URL = "http://127.0.0.1:8080"  # `formbot web`'s default address


def public_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``FORMBOT_PUBLIC_URL`` without its trailing slash; None when it is not set."""
    env = os.environ if environ is None else environ
    url = env.get("FORMBOT_PUBLIC_URL", "").strip().rstrip("/")
    return url or None


async def issue_web_login(
    session, channel: str, user: str, name: str | None = None, base_url: str | None = None
) -> str:
    """A one-time sign-in link to the web console for ``channel:user`` (whose role is checked
    again on every page): works once, for ``WEB_LOGIN_TTL``; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    await web_store.create_login(
        session,
        token,
        channel=channel,
        external_id=user,
        name=name,
        now=now,
        expires_at=now + WEB_LOGIN_TTL,
    )
    base = base_url or public_url() or DEFAULT_WEB_URL
    return f"{base}/login/{token}"


async def create_invite(
    session,
    *,
    unit_id: int,
    form_id: str,
    year: int,
    role: str = "respondent",
    uses: int | None = None,
    days: int = 30,
) -> Invite:
    """A new invite with a fresh code (``formbot invite``, the web console's invites)."""
    for _attempt in range(10):
        code = new_code()
        if await repo.get_invite(session, code) is None:
            break
    return await repo.create_invite(
        session,
        code=code,
        unit_id=unit_id,
        form_id=form_id,
        year=year,
        role=role,
        uses_left=uses,
        expires_at=utcnow() + timedelta(days=days),
    )


def bot_username() -> str | None:
    """``TELEGRAM_BOT_USERNAME`` without its @; None when it is not set."""
    return os.environ.get("TELEGRAM_BOT_USERNAME", "").strip().lstrip("@") or None


def invite_link(code: str, username: str | None = None) -> str | None:
    """The Telegram deep link that opens the bot with ``code``; None without a bot name."""
    username = username or bot_username()
    return f"https://t.me/{username}?start={code}" if username else None

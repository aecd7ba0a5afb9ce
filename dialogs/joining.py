"""Joining a form: ``/start CODE`` with an invite, or the console binding its operator
directly. Binding changes who fills which submission; the greeting and the first question
then come from an ordinary turn (``dialogs.turns``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dialogs import access
from dialogs.messages import Inbound, Outbound
from dialogs.spec import FormSpec
from storage import repo
from storage.models import Unit
from templates.messages import say

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bound:
    """The person now fills a submission: greet them and ask the first open question."""


@dataclass(frozen=True)
class StaffJoined:
    """The person now has a staff ``role``: welcome them and list their commands."""

    welcome: list[Outbound]
    role: str


async def redeem_invite(
    session, forms: dict[str, FormSpec], inbound: Inbound, code: str
) -> list[Outbound] | Bound | StaffJoined:
    """``/start CODE``: bind the person to the invite's unit and role (the wrong-code limit,
    expiry and uses are checked in ``dialogs.access``). Returns the replies of a refusal,
    ``StaffJoined`` for a reviewer or admin, or ``Bound`` for a respondent."""
    invite, refusal = await access.check_invite(session, inbound, code)
    if refusal is not None:
        return refusal
    if invite.role == "respondent" and (invite.form_id not in forms or invite.unit_id is None):
        log.error("invite %s is for unknown form %s", invite.code, invite.form_id)
        return [Outbound(say("invite_expired", code=invite.code))]
    existing = await repo.get_respondent(session, inbound.channel, inbound.user)
    if not await access.take_invite(session, invite, existing):
        return [Outbound(say("invite_expired", code=invite.code))]
    if invite.role != "respondent":
        if invite.unit_id is None:
            return await _scoped_staff(session, inbound, existing, invite)
        unit = await repo.get_unit(session, invite.unit_id)
        return await _bind_staff(session, inbound, unit, invite.role)
    unit = await repo.get_unit(session, invite.unit_id)
    role = access.higher(existing.role if existing else None, invite.role)
    await _bind(
        session,
        inbound.channel,
        inbound.user,
        unit,
        invite.form_id,
        invite.year,
        role,
        name=inbound.name,
    )
    return Bound()


async def bind_directly(
    session,
    channel: str,
    user: str,
    *,
    unit_name: str,
    form_id: str,
    year: int,
    role: str = "respondent",
) -> Bound:
    """Bind a person to a unit's submission without an invite (the console is a trusted
    operator); creates the unit if needed."""
    unit = await repo.get_or_create_unit(session, unit_name, form_id)
    await _bind(session, channel, user, unit, form_id, year, role)
    return Bound()


async def _bind(
    session, channel, user, unit, form_id: str, year: int, role: str, name: str | None = None
) -> None:
    submission = await repo.get_or_create_submission(session, unit.id, form_id, year)
    await repo.bind_respondent(
        session,
        channel=channel,
        external_id=user,
        unit_id=unit.id,
        submission_id=submission.id,
        role=role,
        name=name,
    )
    await session.flush()


async def _scoped_staff(session, inbound: Inbound, existing, invite) -> StaffJoined:
    """A reviewer invite that names campaigns or forms: the role and what it covers, added to
    what the person reviews already; their unit (if they fill a form too) stays."""
    role = access.higher(existing.role if existing else None, invite.role)
    held = access.scope_of(existing, inbound.channel, inbound.user)
    offered = access.Scope.from_json(invite.scope)
    scope = offered if existing is None or existing.role != "reviewer" else held | offered
    person = await repo.set_role(
        session,
        channel=inbound.channel,
        external_id=inbound.user,
        role=role,
        keep_unit=True,
        name=inbound.name,
    )
    person.scope = scope.as_json()
    await session.flush()
    log.info("%s:%s is now %s of %s", inbound.channel, inbound.user, role, scope.names())
    welcome = say(
        "staff_welcome_scoped", role=say(f"role_{role}"), scope=access.scope_of(person, "", "")
    )
    return StaffJoined([Outbound(welcome)], role)


async def _bind_staff(session, inbound: Inbound, unit: Unit, role: str) -> StaffJoined:
    """A reviewer (or admin) invite of a unit (before invites could name campaigns): the role
    and the unit, no form to fill; they review every campaign."""
    existing = await repo.get_respondent(session, inbound.channel, inbound.user)
    role = access.higher(existing.role if existing else None, role)
    await repo.set_role(
        session,
        channel=inbound.channel,
        external_id=inbound.user,
        role=role,
        unit_id=unit.id,
        keep_unit=False,
        name=inbound.name,
    )
    person = await repo.get_respondent(session, inbound.channel, inbound.user)
    person.scope = None  # every campaign, as unit-bound reviewers always had
    log.info("%s:%s is now %s of %s", inbound.channel, inbound.user, role, unit.name)
    return StaffJoined(
        [Outbound(say("staff_welcome", role=say(f"role_{role}"), unit=unit.name))], role
    )

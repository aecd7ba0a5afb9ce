"""Staff commands in chat: reviewers list units, pull documents, see the ranking, return or
approve a form; admins also announce to a filtered audience.

``/danhsach [#chiến-dịch] [#trạng-thái]``, ``/taiphieu ĐƠN_VỊ``, ``/xephang [#chiến-dịch]``,
``/tralai ĐƠN_VỊ lý do``, ``/duyet ĐƠN_VỊ``, ``/thongbao [#chiến-dịch] [#trạng-thái] nội dung``.
A unit is named by its number in /danhsach, its full name, or any unique part of it
(``/tralai Hương Vinh: thiếu số liệu mục 3`` — a colon ends the name).
Messages to the units go through the outbox; the reply here is only to the staff member.
A reviewer invited to campaigns or forms (``dialogs.access.Scope``) sees and changes only
those.
"""

from __future__ import annotations

import logging

from dialogs import access
from dialogs import campaigns as camp
from dialogs.access import EVERYTHING, Scope
from dialogs.messages import Document, Inbound, Outbound
from dialogs.phases import SUBMISSION
from dialogs.services import Services
from dialogs.units import match_unit
from storage import repo
from storage.models import Campaign, Respondent, Submission, Unit
from templates.messages import say

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 3500  # Telegram allows 4096 characters; Zalo less
ANNOUNCEMENT_LIMIT = 3000
UNIT_CHOICES_SHOWN = 8

RANKED_STATUSES = ("submitted", "approved")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class UnitNotFound(Exception):
    def __init__(self, reply: list[Outbound]) -> None:
        self.reply = reply


# Finding campaigns and units -----------------------------------------------------------------


async def _campaigns(
    session, services: Services, words: list[str], scope: Scope = EVERYTHING
) -> tuple[list[Campaign], list]:
    """The open campaigns in ``scope`` named by ``#form-year`` words (all of them when none is
    named); returns them and the words that named none."""
    known = {
        c.id: c
        for c in await repo.open_campaigns(session)
        if c.form_id in services.forms and scope.covers(c.form_id, c.year)
    }
    chosen, rest = [], []
    for word in words:
        key = word.lstrip("#").lower()
        if key in known:
            chosen.append(known[key])
        else:
            rest.append(word)
    return chosen or list(known.values()), rest


async def find_unit(session, text: str, *, with_rest: bool) -> tuple[Unit, str]:
    """The unit a staff member means, and what follows its name (the reason of /tralai); the
    rules are ``dialogs.units.match_unit``'s."""
    match = match_unit(await repo.list_units(session), text, with_rest=with_rest)
    if match.unit is not None:
        return match.unit, match.rest
    if match.problem == "empty":
        raise UnitNotFound([Outbound(say("unit_usage"))])
    if match.problem == "needs_colon":
        raise UnitNotFound([Outbound(say("unit_with_reason_usage"))])
    if match.problem == "not_found":
        raise UnitNotFound([Outbound(say("unit_not_found", name=match.name))])
    shown = [f"{u.id}. {u.name}" for u in match.candidates[:UNIT_CHOICES_SHOWN]]
    more = max(0, len(match.candidates) - UNIT_CHOICES_SHOWN)
    raise UnitNotFound([Outbound(say("unit_ambiguous", name=match.name, units=shown, more=more))])


async def current_submission(session, unit: Unit, scope: Scope = EVERYTHING) -> Submission | None:
    """The unit's form in its open campaign, else its latest form (in ``scope`` first)."""
    found = []
    for campaign in await repo.open_campaigns(session, unit.form_id):
        submission = await repo.find_submission(session, unit.id, campaign.form_id, campaign.year)
        if submission is not None:
            found.append(submission)
    if not found:  # the latest first
        found = [s for s, owner in await repo.list_submissions(session) if owner.id == unit.id]
        found.sort(key=lambda s: s.year, reverse=True)
    mine = [s for s in found if scope.covers(s.form_id, s.year)]
    return (mine or found or [None])[0]


def _outside(submission: Submission, unit: Unit, scope: Scope) -> list[Outbound] | None:
    """The refusal for a submission the reviewer does not review; None when they do."""
    if scope.covers(submission.form_id, submission.year):
        return None
    text = say(
        "out_of_scope",
        unit=unit.name,
        year=submission.year,
        form=submission.form_id,
        scope=scope.names(),
    )
    return [Outbound(text)]


def _chunks(lines: list[str]) -> list[Outbound]:
    messages, current, size = [], [], 0
    for line in lines:
        if current and size + len(line) + 1 > MESSAGE_LIMIT:
            messages.append(Outbound("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        messages.append(Outbound("\n".join(current)))
    return messages


# The commands --------------------------------------------------------------------------------


async def list_units(
    services: Services, session, inbound: Inbound, argument: str, scope: Scope = EVERYTHING
) -> list[Outbound]:
    campaigns, words = await _campaigns(session, services, argument.split(), scope)
    statuses, unknown = camp.parse_statuses(words)
    if unknown:
        return [Outbound(say("filter_unknown", words=unknown))]
    if not campaigns:
        return [Outbound(say("no_open_campaign"))]
    lines: list[str] = []
    for campaign in campaigns:
        spec = services.forms[campaign.form_id]
        rows = await camp.campaign_progress(session, campaign, services.forms)
        counts = {s: sum(1 for r in rows if r.status == s) for s in camp.UNIT_STATUSES}
        warned = await camp.kept_warning_counts(session, spec, rows)
        if lines:
            lines.append("")
        lines.append(
            say(
                "list_header",
                title=spec.title,
                campaign=campaign.id,
                year=campaign.year,
                deadline=campaign.deadline.strftime("%d/%m/%Y"),
                units=len(rows),
                counts=[(camp.status_label(s), n) for s, n in counts.items() if n],
            )
        )
        for row in rows:
            if statuses and row.status not in statuses:
                continue
            lines.append(
                say(
                    "list_line",
                    id=row.unit.id,
                    unit=row.unit.name,
                    status=camp.status_label(row.status),
                    percent=row.percent,
                    people=len(row.bound),
                    warnings=warned.get(row.submission.id, 0) if row.submission else 0,
                )
            )
    return _chunks(lines)


async def documents(
    services: Services, session, inbound: Inbound, argument: str, scope: Scope = EVERYTHING
) -> list[Outbound]:
    unit, _ = await find_unit(session, argument, with_rest=False)
    submission = await current_submission(session, unit, scope)
    if submission is None:
        return [Outbound(say("no_submission", unit=unit.name))]
    if refusal := _outside(submission, unit, scope):
        return refusal
    if services.render_documents is None:
        return [Outbound(say("documents_unavailable"))]
    try:
        documents = await services.render_documents(submission.id)
    except Exception:
        log.exception("rendering documents of submission %s failed", submission.id)
        return [Outbound(say("documents_failed", unit=unit.name))]
    header = say(
        "documents_header",
        unit=unit.name,
        year=submission.year,
        status=camp.status_label(camp.unit_status(submission, 1)),
    )
    return [Outbound(header)] + [Outbound(d.filename, document=d) for d in documents]


async def ranking(
    services: Services, session, inbound: Inbound, argument: str, scope: Scope = EVERYTHING
) -> list[Outbound]:
    """The ranking of the submitted units (scores from ``dialogs.scoring``) and the XLSX of
    ``formbot export`` for each open campaign."""
    campaigns, words = await _campaigns(session, services, argument.split(), scope)
    if words:
        return [Outbound(say("filter_unknown", words=words))]
    if not campaigns:
        return [Outbound(say("no_open_campaign"))]
    if services.rank is None:
        return [Outbound(say("ranking_unavailable"))]
    replies: list[Outbound] = []
    for campaign in campaigns:
        spec = services.forms[campaign.form_id]
        try:
            ranking = await services.rank(spec, campaign.year)
        except Exception:
            log.exception("ranking %s failed", campaign.id)
            replies.append(Outbound(say("ranking_file_failed")))
            continue
        done = [row for row in ranking.rows if row.status in RANKED_STATUSES]
        lines = [say("ranking_header", title=spec.title, campaign=campaign.id, count=len(done))]
        for row in done:
            lines.append(
                say(
                    "ranking_line",
                    rank=row.rank,
                    unit=row.unit,
                    total=round(row.card.total, 2),
                    max=round(row.card.max, 2),
                    percent=round(100 * row.card.index),
                    klass=row.card.klass,
                    own=round(row.own.total, 2) if getattr(row, "appraised", False) else None,
                )
            )
        if not done:
            lines.append(say("ranking_empty"))
        lines.append(say("ranking_note"))
        replies += _chunks(lines)
        name = f"xep-hang-{campaign.id}.xlsx"
        replies.append(Outbound(name, document=Document(name, ranking.xlsx, XLSX)))
    return replies


async def _change_status(
    services: Services,
    session,
    inbound: Inbound,
    argument: str,
    *,
    trigger: str,
    scope: Scope = EVERYTHING,
) -> list[Outbound]:
    unit, reason = await find_unit(session, argument, with_rest=trigger == "return_for_fixes")
    if trigger == "return_for_fixes" and not reason:
        return [Outbound(say("return_needs_reason", unit=unit.name))]
    submission = await current_submission(session, unit, scope)
    if submission is None:
        return [Outbound(say("no_submission", unit=unit.name))]
    if refusal := _outside(submission, unit, scope):
        return refusal
    _done, text = await change_status(
        session, submission, unit, trigger, reason, by=f"{inbound.channel}:{inbound.user}"
    )
    return [Outbound(text)]


async def change_status(
    session,
    submission: Submission,
    unit: Unit,
    trigger: str,
    reason: str | None = None,
    *,
    by: str,
) -> tuple[bool, str]:
    """Return (``return_for_fixes``, with a reason) or approve (``approve``) a submission and
    queue the notice to the people filling it (the outbox); whether it was done and what to
    tell the reviewer. Chat (/tralai, /duyet) and the web console both come here."""
    if not SUBMISSION.allows(submission.status, trigger):
        status = camp.status_label(camp.unit_status(submission, 1))
        key = "return_not_allowed" if trigger == "return_for_fixes" else "approve_not_allowed"
        return False, say(key, unit=unit.name, year=submission.year, status=status)
    status = SUBMISSION.next(submission.status, trigger)
    changes = {"status": status}
    if trigger == "return_for_fixes":
        changes["returned_reason"] = reason
    submission.version = await repo.bump_version(
        session, submission.id, submission.version, **changes
    )
    submission.status = status
    log.info(
        "%s %s submission %s of %s%s",
        by,
        trigger,
        submission.id,
        unit.name,
        f" ({reason})" if reason else "",
    )
    if trigger == "return_for_fixes":
        submission.returned_reason = reason
        notice = say("returned_notice", unit=unit.name, year=submission.year, reason=reason)
        told = await camp.notify_unit(session, submission, "returned", notice)
        return True, say("return_done", unit=unit.name, year=submission.year, told=told)
    notice = say("approved_notice", unit=unit.name, year=submission.year)
    told = await camp.notify_unit(session, submission, "approved", notice)
    return True, say("approve_done", unit=unit.name, year=submission.year, told=told)


async def return_for_fixes(
    services: Services, session, inbound: Inbound, argument: str, scope: Scope = EVERYTHING
) -> list[Outbound]:
    return await _change_status(
        services, session, inbound, argument, trigger="return_for_fixes", scope=scope
    )


async def approve(
    services: Services, session, inbound: Inbound, argument: str, scope: Scope = EVERYTHING
) -> list[Outbound]:
    return await _change_status(
        services, session, inbound, argument, trigger="approve", scope=scope
    )


async def announce(
    services: Services, session, inbound: Inbound, argument: str, scope: Scope = EVERYTHING
) -> list[Outbound]:
    words = argument.split()
    filters = []
    while words and words[0].startswith("#"):
        filters.append(words.pop(0))
    text = argument
    for word in filters:
        text = text.replace(word, "", 1)
    text = text.strip()
    if not text:
        return [Outbound(say("announce_usage"))]
    if len(text) > ANNOUNCEMENT_LIMIT:
        return [Outbound(say("announce_too_long", length=len(text), limit=ANNOUNCEMENT_LIMIT))]
    campaigns, rest = await _campaigns(session, services, filters, scope)
    statuses, unknown = camp.parse_statuses(rest)
    if unknown:
        return [Outbound(say("filter_unknown", words=unknown))]
    if not campaigns:
        return [Outbound(say("no_open_campaign"))]
    people = await camp.audience(session, campaigns, statuses, services.forms)
    if not people:
        return [Outbound(say("announce_nobody"))]
    broadcast, queued = await queue_announcement(
        session,
        text=text,
        people=people,
        campaign_ids=[c.id for c in campaigns],
        statuses=statuses,
        started_by=(inbound.channel, inbound.user),
    )
    log.info(
        "%s:%s queued announcement %s to %d people",
        inbound.channel,
        inbound.user,
        broadcast.id,
        queued,
    )
    labels = [camp.status_label(s) for s in camp.UNIT_STATUSES if s in statuses]
    return [
        Outbound(
            say(
                "announce_queued",
                count=queued,
                campaigns=[c.id for c in campaigns],
                statuses=labels,
            )
        )
    ]


async def queue_announcement(
    session,
    *,
    text: str,
    people: list[tuple[Respondent, camp.UnitProgress]],
    campaign_ids: list[str],
    statuses: set[str],
    started_by: tuple[str, str] | None,
):
    """Queue a free-text announcement (chat ``/thongbao`` and ``formbot broadcast``)."""
    message = say("announcement", text=text)
    return await camp.queue_broadcast(
        session,
        kind="announcement",
        recipients=[camp.Recipient(person, row, message) for person, row in people],
        campaign_id=campaign_ids[0] if len(campaign_ids) == 1 else None,
        audience_filter={"campaigns": campaign_ids, "statuses": sorted(statuses)},
        text=text,
        started_by=started_by,
    )


async def web_login(
    services: Services, session, inbound: Inbound, argument: str, scope: Scope = EVERYTHING
) -> list[Outbound]:
    """``/web``: a one-time link that signs this reviewer or admin in to the web console."""
    if access.public_url() is None:
        return [Outbound(say("web_unavailable"))]
    person = await repo.get_respondent(session, inbound.channel, inbound.user)
    name = (person.name if person else None) or inbound.name
    link = await access.issue_web_login(session, inbound.channel, inbound.user, name)
    minutes = int(access.WEB_LOGIN_TTL.total_seconds() // 60)
    log.info("%s:%s asked for a web console link", inbound.channel, inbound.user)
    return [Outbound(say("web_link", link=link, minutes=minutes))]


async def run(
    handler,
    services: Services,
    session,
    inbound: Inbound,
    argument: str,
    scope: Scope = EVERYTHING,
) -> list[Outbound]:
    """One staff command (its role already checked by the turn runner), within what the
    person reviews."""
    try:
        return await handler(services, session, inbound, argument, scope=scope)
    except UnitNotFound as problem:
        return problem.reply

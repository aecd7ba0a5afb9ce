"""``formbot units|campaign|invite|admin|remind|broadcast|outbox``: running a campaign.

The province IT team registers units from a CSV file, opens a campaign with a deadline,
invites respondents and reviewers, watches progress, and sends reminders and announcements
(queued in the outbox; the running bot delivers them, or ``--send`` here does).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands.common import known_form, unknown_form, with_database
from dialogs.spec import all_forms

# Each command imports what it uses (SQLAlchemy, the dialogs, PTB): building the parser of
# every command must stay cheap (`formbot forms list` starts in a fraction of a second).
if TYPE_CHECKING:
    from bot.outbox import DispatchStats
    from storage.db import Database
    from storage.models import Respondent, Unit

BOT_PLACEHOLDER = "your_bot"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("units", help="the units that report (import from CSV, list)")
    units = p.add_subparsers(dest="units_command", metavar="ACTION", required=True)
    q = units.add_parser(
        "import", help="add or update units from a CSV file (name, type, parent, contact)"
    )
    q.add_argument("file", type=Path, metavar="FILE.csv")
    q.set_defaults(handler=cmd_units_import)
    q = units.add_parser("list", help="every unit with its type and respondents")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_units_list)

    p = sub.add_parser("campaign", help="reporting campaigns (open, status)")
    campaign = p.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)
    q = campaign.add_parser("open", help="open the campaign of a form and year (id FORM-YEAR)")
    q.add_argument("--form", required=True, metavar="ID")
    q.add_argument("--year", required=True, type=int)
    q.add_argument("--deadline", required=True, type=_date, metavar="YYYY-MM-DD")
    q.add_argument(
        "--remind-days",
        type=_days,
        default=None,
        metavar="7,3,1,0",
        help="days before the deadline with a reminder; 0 is the deadline day (default 7,3,1,0)",
    )
    q.set_defaults(handler=cmd_campaign_open)
    q = campaign.add_parser("close", help="close a campaign (its people move on to the next one)")
    q.add_argument("campaign", metavar="ID", help="e.g. xa-phuong-2020")
    q.set_defaults(handler=cmd_campaign_close)
    q = campaign.add_parser("status", help="per unit: status, progress, last activity, people")
    q.add_argument("campaign", nargs="?", metavar="CAMPAIGN", help="default: every open one")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_campaign_status)

    p = sub.add_parser(
        "invite", help="an invite code and link for a unit, or for reviewers of campaigns"
    )
    p.add_argument(
        "unit",
        metavar="UNIT",
        nargs="?",
        help="unit name (or a unique part of it) or number; a reviewer needs none",
    )
    p.add_argument("--role", choices=("respondent", "reviewer"), default="respondent")
    p.add_argument(
        "--campaign",
        action="append",
        metavar="ID",
        help="reviewer without a unit: the campaign to review (repeatable), e.g. xa-phuong-2020",
    )
    p.add_argument(
        "--uses", type=int, help="how many people may use it (default: no limit; 1 for a reviewer)"
    )
    p.add_argument("--days", type=int, help="valid for D days (default 30; 7 for a reviewer)")
    p.add_argument(
        "--form",
        metavar="ID",
        help="default: the unit's type; a reviewer without a unit reviews every year of it",
    )
    p.add_argument("--year", type=int, help="default: the open campaign's year")
    p.set_defaults(handler=cmd_invite)

    p = sub.add_parser("admin", help="admins (the IT team) besides FORMBOT_ADMINS")
    admin = p.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    for action, text in (("add", "make a chat user an admin"), ("remove", "take it back")):
        q = admin.add_parser(action, help=text)
        q.add_argument("user", metavar="USER", help="chat user id, or CHANNEL:ID")
        q.add_argument("--channel", default="telegram", help="default: telegram")
        q.set_defaults(handler=cmd_admin_add if action == "add" else cmd_admin_remove)
    q = admin.add_parser("list", help="every admin")
    q.set_defaults(handler=cmd_admin_list)

    p = sub.add_parser("remind", help="queue today's reminders of a campaign (and list them)")
    p.add_argument("campaign", metavar="CAMPAIGN", help="e.g. xa-phuong-2020")
    p.add_argument("--dry-run", action="store_true", help="only list the recipients")
    p.add_argument("--send", action="store_true", help="deliver now (TELEGRAM_BOT_TOKEN)")
    p.set_defaults(handler=cmd_remind)

    p = sub.add_parser("broadcast", help="queue an announcement to a filtered audience")
    p.add_argument(
        "--campaign", action="append", metavar="ID", help="repeatable; default: every open one"
    )
    p.add_argument(
        "--status",
        action="append",
        metavar="STATUS",
        help="not-started, in-progress, submitted, returned, approved, not-submitted "
        "(repeatable or comma-separated; default: everyone)",
    )
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text")
    text.add_argument("--text-file", type=Path, metavar="FILE")
    p.add_argument("--dry-run", action="store_true", help="only list the recipients")
    p.add_argument("--send", action="store_true", help="deliver now (TELEGRAM_BOT_TOKEN)")
    p.set_defaults(handler=cmd_broadcast)

    p = sub.add_parser("outbox", help="messages waiting, sent, failed; --send delivers now")
    p.add_argument("--send", action="store_true", help="deliver what is due (TELEGRAM_BOT_TOKEN)")
    p.add_argument("--rate", type=float, help="messages per second (default 25)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_outbox)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _days(text: str) -> list[int]:
    try:
        days = sorted(
            {int(part) for part in text.replace(" ", "").split(",") if part}, reverse=True
        )
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected days like 7,3,1,0: {text!r}") from None
    if any(d < 0 for d in days):
        raise argparse.ArgumentTypeError("days before the deadline cannot be negative")
    return days


def _fail(message: str, code: int = 2) -> int:
    print(message, file=sys.stderr)
    return code


# Units ---------------------------------------------------------------------------------------


def read_units_csv(path: Path, forms: set[str]) -> tuple[list[tuple[int, dict]], list[str]]:
    """The good rows (with their line numbers) and one problem line per bad row
    (``dialogs.units.parse_units_csv``; UTF-8, UTF-16 with BOM or Windows-1258)."""
    from dialogs.units import CsvHeaderError, decode_csv, parse_units_csv

    try:
        rows, problems = parse_units_csv(decode_csv(path.read_bytes()), forms)
    except CsvHeaderError as error:
        raise ValueError(f"{path}: {error}") from None
    return rows, [problem.english(sorted(forms)) for problem in problems]


def cmd_units_import(args: argparse.Namespace) -> int:
    from storage import repo

    try:
        rows, problems = read_units_csv(args.file, set(all_forms()))
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as error:
        return _fail(f"cannot import {args.file}: {error}")

    async def run(database: Database) -> dict[str, int]:
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        async with database.session() as session, session.begin():
            for _line, row in rows:
                _unit, what = await repo.upsert_unit(session, **row)
                counts[what] += 1
        return counts

    counts = with_database(run)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(
        f"{len(rows)} units imported: {counts['created']} new, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged; {len(problems)} bad rows"
        + (" (listed above, not imported)" if problems else "")
    )
    return 1 if problems else 0


def cmd_units_list(args: argparse.Namespace) -> int:
    from storage import campaigns as campaign_reads
    from storage import repo

    async def run(database: Database):
        async with database.session() as session:
            units = await repo.list_units(session)
            people = await campaign_reads.respondents_of_units(session, [u.id for u in units])
        return units, people

    units, people = with_database(run)
    count = {u.id: sum(1 for p in people if p.unit_id == u.id) for u in units}
    data = [
        {
            "id": u.id,
            "name": u.name,
            "type": u.form_id,
            "parent": u.parent,
            "contact": u.contact,
            "respondents": count[u.id],
        }
        for u in units
    ]
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    for row in data:
        print(
            f"{row['id']:>4}  {row['name']:<40} {row['type']:<13} {row['parent'] or '':<30} "
            f"{row['contact'] or '':<25} {row['respondents']} people"
        )
    print(f"{len(data)} units")
    return 0


# Campaigns -----------------------------------------------------------------------------------


def cmd_campaign_open(args: argparse.Namespace) -> int:
    from dialogs import campaigns as camp
    from storage import repo

    if not known_form(args.form):
        return 2
    days = args.remind_days
    if days is None:
        days = list(camp.DEFAULT_REMINDER_DAYS)

    async def run(database: Database):
        async with database.session() as session, session.begin():
            return await repo.open_campaign(
                session,
                campaign_id=camp.campaign_id(args.form, args.year),
                form_id=args.form,
                year=args.year,
                deadline=args.deadline,
                reminder_days=days,
            )

    campaign, created = with_database(run)
    verb = "opened" if created else "updated"
    days = ", ".join(str(d) for d in campaign.reminder_days)
    print(
        f"{verb} campaign {campaign.id}: deadline {campaign.deadline.isoformat()}, "
        f"reminders {days} days before"
    )
    return 0


def cmd_campaign_close(args: argparse.Namespace) -> int:
    from storage import repo

    async def run(database: Database):
        async with database.session() as session, session.begin():
            return await repo.close_campaign(session, args.campaign)

    campaign = with_database(run)
    if campaign is None:
        return _fail(f"no campaign {args.campaign!r}")
    print(
        f"closed campaign {campaign.id}: its respondents begin the next open campaign of "
        f"{campaign.form_id} with their next message"
    )
    return 0


def _local(moment: dt.datetime | None) -> str:
    from dialogs import campaigns as camp

    return camp.local_now(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


def cmd_campaign_status(args: argparse.Namespace) -> int:
    from dialogs import campaigns as camp
    from storage import repo

    forms = all_forms()

    async def run(database: Database):
        async with database.session() as session:
            if args.campaign:
                campaign = await repo.get_campaign(session, args.campaign)
                campaigns = [campaign] if campaign else []
            else:
                campaigns = await repo.open_campaigns(session)
            return [
                (c, await camp.campaign_progress(session, c, forms))
                for c in campaigns
                if c.form_id in forms
            ]

    result = with_database(run)
    if args.campaign and not result:
        return _fail(f"no campaign {args.campaign!r}")
    if args.json:
        data = [
            {
                "campaign": c.id,
                "form": c.form_id,
                "year": c.year,
                "deadline": c.deadline.isoformat(),
                "status": c.status,
                "units": [row.as_json() for row in rows],
            }
            for c, rows in result
        ]
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if not result:
        print(
            "no open campaign; open one with: "
            "formbot campaign open --form ID --year N --deadline YYYY-MM-DD"
        )
    today = camp.local_today()
    for campaign, rows in result:
        left = camp.days_left(campaign, today)
        when = f"{left} days left" if left >= 0 else f"passed {-left} days ago"
        print(
            f"{campaign.id}: deadline {campaign.deadline.isoformat()} ({when}), {len(rows)} units"
        )
        for row in rows:
            people = ", ".join(_person(r) for r in row.respondents) or "—"
            print(
                f"  {row.unit.id:>4}  {row.unit.name:<40} {camp.status_label(row.status):<14} "
                f"{row.percent:>3}%  {_local(row.last_activity):<16}  {people}"
            )
    return 0


def _person(respondent: Respondent) -> str:
    who = respondent.name or f"{respondent.channel}:{respondent.external_id}"
    extra = [] if respondent.role == "respondent" else [respondent.role]
    if respondent.blocked:
        extra.append("blocked the bot")
    return who + (f" ({', '.join(extra)})" if extra else "")


# Invites and admins --------------------------------------------------------------------------


async def resolve_unit(session, text: str) -> Unit | list[Unit]:
    """A unit by number, name or unique part of a name (``dialogs.units.match_unit``); else
    the candidates (none when nothing matches)."""
    from dialogs.units import match_unit
    from storage import repo

    match = match_unit(await repo.list_units(session), text)
    return match.unit if match.unit is not None else match.candidates


def bot_username() -> str:
    from dialogs.access import bot_username as configured

    return configured() or BOT_PLACEHOLDER


def cmd_invite(args: argparse.Namespace) -> int:
    from dialogs import campaigns as camp
    from dialogs.access import create_invite
    from storage import repo
    from storage.models import Unit
    from templates.messages import say

    forms = all_forms()
    reviewer = args.role == "reviewer"
    uses = args.uses if args.uses is not None else (1 if reviewer else None)
    days = args.days if args.days is not None else (7 if reviewer else 30)
    if uses is not None and uses < 1:
        return _fail("--uses must be at least 1")
    if days < 1:
        return _fail("--days must be at least 1")
    if args.unit is None or args.campaign:
        if not reviewer:
            return _fail("name the unit to invite (a reviewer may name --campaign or --form)")
        if args.unit is not None:
            return _fail("a reviewer invite names either a unit or --campaign, not both")
        return _invite_reviewer(args, uses, days)

    async def run(database: Database):
        async with database.session() as session, session.begin():
            unit = await resolve_unit(session, args.unit)
            if not isinstance(unit, Unit):
                names = ", ".join(f"{u.id}. {u.name}" for u in unit[:10])
                return None, f"no single unit matches {args.unit!r}" + (
                    f"; candidates: {names}" if names else "; see formbot units list"
                )
            form_id = args.form or unit.form_id
            if problem := unknown_form(form_id, forms):
                return None, problem
            year = args.year
            if year is None:
                open_ones = await repo.open_campaigns(session, form_id)
                if open_ones:
                    year = open_ones[0].year
                elif reviewer:
                    year = camp.local_today().year
                else:
                    return None, (
                        f"no open campaign for {form_id}: open one with formbot campaign open "
                        f"--form {form_id} --year N --deadline YYYY-MM-DD, or pass --year"
                    )
            invite = await create_invite(
                session,
                unit_id=unit.id,
                form_id=form_id,
                year=year,
                role=args.role,
                uses=uses,
                days=days,
            )
            return (unit, invite), None

    result, problem = with_database(run)
    if problem:
        return _fail(problem)
    unit, invite = result
    username = bot_username()
    link = f"https://t.me/{username}?start={invite.code}"
    expires = _local(invite.expires_at)
    print(f"code:     {invite.code}")
    print(f"unit:     {unit.name} ({invite.form_id}, {invite.year}), role {invite.role}")
    limit = f"{uses} use{'s' if uses != 1 else ''}" if uses else "no use limit"
    print(f"valid:    until {expires} (Asia/Ho_Chi_Minh), {limit}")
    print(f"telegram: {link}")
    print("zalo:")
    print(
        say(
            "invite_zalo_text",
            unit=unit.name,
            title=forms[invite.form_id].title,
            year=invite.year,
            link=link,
            code=invite.code,
            role=invite.role,
            role_label=say(f"role_{invite.role}"),
            expires=camp.local_now(invite.expires_at).strftime("%d/%m/%Y"),
            uses=uses,
        )
    )
    if username == BOT_PLACEHOLDER:
        print(
            f"note: TELEGRAM_BOT_USERNAME is not set; replace {BOT_PLACEHOLDER!r} in the link",
            file=sys.stderr,
        )
    return 0


def _invite_reviewer(args: argparse.Namespace, uses: int | None, days: int) -> int:
    """A reviewer invite that names campaigns (``--campaign``, repeatable) or a form
    (``--form``: every year of it) instead of a unit."""
    from dialogs import campaigns as camp
    from dialogs.access import Scope, new_code
    from storage import repo
    from storage.models import utcnow
    from templates.messages import say

    forms = all_forms()
    if not args.campaign and not args.form:
        return _fail("a reviewer invite names a unit, --campaign ID or --form ID")
    if args.form and (problem := unknown_form(args.form, forms)):
        return _fail(problem)

    async def run(database: Database):
        async with database.session() as session, session.begin():
            campaigns = []
            for campaign_id in args.campaign or ():
                campaign = await repo.get_campaign(session, campaign_id)
                if campaign is None:
                    known = ", ".join(c.id for c in await repo.open_campaigns(session))
                    return None, f"no campaign {campaign_id!r}; open ones: {known or 'none'}"
                campaigns.append(campaign)
            scope = Scope.of([c.id for c in campaigns], [args.form] if args.form else [])
            form_id = args.form or campaigns[0].form_id
            year = campaigns[0].year if campaigns else (args.year or camp.local_today().year)
            for _attempt in range(10):
                code = new_code()
                if await repo.get_invite(session, code) is None:
                    break
            invite = await repo.create_invite(
                session,
                code=code,
                unit_id=None,
                form_id=form_id,
                year=year,
                role="reviewer",
                uses_left=uses,
                expires_at=utcnow() + dt.timedelta(days=days),
                scope=scope.as_json(),
            )
            return (invite, scope), None

    result, problem = with_database(run)
    if problem:
        return _fail(problem)
    invite, scope = result
    link = f"https://t.me/{bot_username()}?start={invite.code}"
    limit = f"{uses} use{'s' if uses != 1 else ''}" if uses else "no use limit"
    print(f"code:     {invite.code}")
    print(f"reviews:  {', '.join(scope.names())}, role reviewer")
    print(f"valid:    until {_local(invite.expires_at)} (Asia/Ho_Chi_Minh), {limit}")
    print(f"telegram: {link}")
    print("zalo:")
    print(
        say(
            "invite_reviewer_text",
            scope=scope.names(),
            link=link,
            code=invite.code,
            expires=camp.local_now(invite.expires_at).strftime("%d/%m/%Y"),
            uses=uses,
        )
    )
    return 0


def _user(args: argparse.Namespace) -> tuple[str, str]:
    channel, sep, user = args.user.partition(":")
    return (channel, user) if sep else (args.channel, args.user)


def cmd_admin_add(args: argparse.Namespace) -> int:
    from storage import repo

    channel, user = _user(args)

    async def run(database: Database):
        async with database.session() as session, session.begin():
            await repo.set_role(session, channel=channel, external_id=user, role="admin")

    with_database(run)
    print(f"{channel}:{user} is an admin")
    return 0


def cmd_admin_remove(args: argparse.Namespace) -> int:
    from dialogs.access import admin_ids
    from storage import repo

    channel, user = _user(args)

    async def run(database: Database):
        async with database.session() as session, session.begin():
            respondent = await repo.get_respondent(session, channel, user)
            if respondent is None or respondent.role != "admin":
                return False
            was_reviewer = respondent.scope or (respondent.unit_id and not respondent.submission_id)
            respondent.role = "reviewer" if was_reviewer else "respondent"
            return True

    if not with_database(run):
        return _fail(f"{channel}:{user} is not an admin in the database")
    print(f"{channel}:{user} is no longer an admin")
    if f"{channel}:{user}" in admin_ids():
        print("note: FORMBOT_ADMINS still lists this user", file=sys.stderr)
    return 0


def cmd_admin_list(args: argparse.Namespace) -> int:
    from dialogs.access import AdminsError, admin_ids, check_admins
    from storage import repo

    async def run(database: Database):
        async with database.session() as session:
            return await repo.respondents_with_role(session, "admin")

    for respondent in with_database(run):
        print(f"{respondent.channel}:{respondent.external_id}  {respondent.name or ''}  (database)")
    for user in sorted(admin_ids()):
        print(f"{user}  (FORMBOT_ADMINS)")
    try:
        check_admins()
    except AdminsError as exc:
        print(f"note: {exc}", file=sys.stderr)
    return 0


# Reminders, broadcasts, the outbox ------------------------------------------------------------


def cmd_remind(args: argparse.Namespace) -> int:
    from bot.reminders import queue_reminders
    from dialogs import campaigns as camp

    forms = all_forms()

    async def run(database: Database):
        try:
            result = await queue_reminders(
                database, args.campaign, forms=forms, dry_run=args.dry_run
            )
        except LookupError:
            return None, None
        stats = None
        if args.send and not args.dry_run:
            stats = await deliver(database)
        return result, stats

    result, stats = with_database(run)
    if result is None:
        return _fail(f"no campaign {args.campaign!r}")
    for r in result.recipients:
        print(
            f"{r.row.unit.name:<40} {r.respondent.channel}:{r.respondent.external_id:<14} "
            f"{r.respondent.name or '':<24} {camp.status_label(r.row.status):<14} "
            f"{r.row.percent:>3}%"
        )
    day = result.day.isoformat()
    if args.dry_run:
        print(
            f"{len(result.recipients)} recipients for {result.campaign} on {day} "
            "(dry run: nothing queued)"
        )
    else:
        print(
            f"{result.queued} reminders queued for {result.campaign} on {day}"
            + (f"; {result.already} already reminded that day" if result.already else "")
        )
    if result.unreached:
        names = ", ".join(row.unit.name for row in result.unreached)
        print(
            f"{len(result.unreached)} units not submitted have nobody to remind (send them an "
            f"invite: formbot invite UNIT): {names}"
        )
    if stats is not None:
        _print_stats(stats)
    elif not args.dry_run and result.queued:
        print("the running bot delivers them (or run: formbot outbox --send)")
    return 0


def cmd_broadcast(args: argparse.Namespace) -> int:
    from dialogs import campaigns as camp
    from dialogs.staff import queue_announcement
    from storage import repo

    forms = all_forms()
    try:
        text = args.text if args.text is not None else args.text_file.read_text(encoding="utf-8")
    except OSError as error:
        return _fail(f"cannot read {args.text_file}: {error}")
    text = text.strip()
    if not text:
        return _fail("the text is empty")
    words = [w for s in args.status or [] for w in s.split(",") if w.strip()]
    statuses, unknown = camp.parse_statuses(words)
    if unknown:
        return _fail(
            f"unknown status {', '.join(unknown)}; "
            f"use {', '.join(camp.UNIT_STATUSES)} or not-submitted"
        )

    async def run(database: Database):
        async with database.session() as session, session.begin():
            if args.campaign:
                campaigns = [await repo.get_campaign(session, c) for c in args.campaign]
                if None in campaigns:
                    missing = [
                        c for c, got in zip(args.campaign, campaigns, strict=True) if got is None
                    ]
                    return None, f"no campaign {', '.join(missing)}", None
            else:
                campaigns = await repo.open_campaigns(session)
            campaigns = [c for c in campaigns if c.form_id in forms]
            if not campaigns:
                return None, "no open campaign", None
            people = await camp.audience(session, campaigns, statuses, forms)
            if args.dry_run:
                return people, None, None
            _broadcast, queued = await queue_announcement(
                session,
                text=text,
                people=people,
                campaign_ids=[c.id for c in campaigns],
                statuses=statuses,
                started_by=None,
            )
        stats = await deliver(database) if args.send else None
        return people, queued, stats

    people, queued, stats = with_database(run)
    if people is None:
        return _fail(queued)
    for respondent, row in people:
        print(
            f"{row.unit.name:<40} {respondent.channel}:{respondent.external_id:<14} "
            f"{respondent.name or '':<24} {camp.status_label(row.status)}"
        )
    if args.dry_run:
        print(f"{len(people)} recipients (dry run: nothing queued)")
        return 0
    print(f"{queued} messages queued")
    if stats is not None:
        _print_stats(stats)
    elif queued:
        print("the running bot delivers them (or run: formbot outbox --send)")
    return 0


def telegram_senders(rate: float | None = None) -> dict:
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.outbox import TelegramSender

    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        raise RuntimeError("TELEGRAM_BOT_TOKEN is not set")
    kwargs = {}
    if os.environ.get("TELEGRAM_BASE_URL"):
        kwargs["base_url"] = os.environ["TELEGRAM_BASE_URL"]
    bot = Bot(token, request=HTTPXRequest(connection_pool_size=32), **kwargs)
    sender = TelegramSender(bot, **({"max_rate": rate} if rate else {}))
    return {"telegram": sender}


async def deliver(database: Database, rate: float | None = None) -> DispatchStats:
    """Send what is due now through Telegram, printing progress as it goes."""
    from bot.outbox import Dispatcher
    from storage import outbox as queue

    senders = telegram_senders(rate)
    bot = senders["telegram"].bot
    async with database.session() as session:
        waiting = (await queue.outbox_counts(session)).get("queued", 0)

    def progress(stats: DispatchStats) -> None:
        print(
            f"  sent {stats.sent} / {waiting} ({stats.blocked} blocked, "
            f"{stats.failed} failed, {stats.retried} retried)",
            flush=True,
        )

    async with bot:
        dispatcher = Dispatcher(database, senders, rate=rate)
        return await dispatcher.run(until_idle=True, on_progress=progress)


def _print_stats(stats: DispatchStats) -> None:
    print(
        f"delivered: {stats.sent} sent, {stats.blocked} blocked, {stats.failed} failed, "
        f"{stats.expired} expired in {stats.elapsed:.0f} s"
    )
    if stats.quiet_until is not None:
        print(f"quiet hours: the rest goes out after {_local(stats.quiet_until)}")


def cmd_outbox(args: argparse.Namespace) -> int:
    from bot.outbox import QuietHours
    from storage import outbox as queue
    from storage.models import utcnow

    async def run(database: Database):
        stats = None
        if args.send:
            stats = await deliver(database, args.rate)
        async with database.session() as session:
            counts = await queue.outbox_counts(session)
            failed = await queue.outbox_messages(session, status="failed")
        return counts, failed, stats

    try:
        counts, failed, stats = with_database(run)
    except RuntimeError as error:
        return _fail(str(error))
    if args.json:
        data = {
            "counts": counts,
            "failed": [
                {
                    "id": m.id,
                    "to": f"{m.channel}:{m.external_id}",
                    "kind": m.kind,
                    "reason": m.reason,
                }
                for m in failed
            ],
        }
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if stats is not None:
        _print_stats(stats)
    for status in ("queued", "sending", "sent", "blocked", "failed"):
        print(f"{status:<8} {counts.get(status, 0)}")
    for message in failed[-20:]:
        print(
            f"  failed #{message.id} {message.kind} "
            f"to {message.channel}:{message.external_id}: {message.reason}"
        )
    quiet = QuietHours.from_env()
    if counts.get("queued") and quiet.contains(utcnow()):
        print(f"quiet hours: nothing is sent until {_local(quiet.ends_after(utcnow()))}")
    return 0

"""``formbot chat|fill|show|submissions|db``: the console conversation and submission data."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands.common import known_form, with_database
from dialogs.spec import all_forms

if TYPE_CHECKING:
    from storage.db import Database

DEFAULT_UNIT = "Đơn vị thử nghiệm"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="the conversation in this terminal (or one message per line)")
    p.add_argument("--unit", default=DEFAULT_UNIT, help=f"unit name (default: {DEFAULT_UNIT})")
    p.add_argument("--form", default="so-ban-nganh", help="form id (default: so-ban-nganh)")
    p.add_argument("--year", type=int, default=datetime.date.today().year)
    p.add_argument("--user", default="local", help="who is typing (default: local)")
    p.set_defaults(handler=cmd_chat)

    p = sub.add_parser("fill", help="answer items from a YAML file of code: answer")
    p.add_argument("form_id", metavar="FORM")
    p.add_argument("--unit", required=True)
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--answers", required=True, type=Path, metavar="FILE.yaml")
    p.set_defaults(handler=cmd_fill)

    p = sub.add_parser("show", help="one submission's answers")
    p.add_argument("submission_id", type=int, metavar="SUBMISSION_ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("submissions", help="every submission with its progress")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_submissions)

    p = sub.add_parser("db", help="database schema")
    db_sub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations (creates the SQLite file if needed)")
    up.set_defaults(handler=cmd_db_upgrade)


def cmd_chat(args: argparse.Namespace) -> int:
    if not known_form(args.form):
        return 2

    from bot.console import run_console
    from dialogs import Engine

    async def run(database: Database) -> None:
        engine = Engine(database, all_forms())
        await run_console(engine, unit=args.unit, form_id=args.form, year=args.year, user=args.user)

    with_database(run)
    return 0


def cmd_fill(args: argparse.Namespace) -> int:
    if not known_form(args.form_id):
        return 2
    import yaml

    from dialogs.filling import fill_answers

    try:
        answers = yaml.safe_load(args.answers.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        print(f"cannot read {args.answers}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(answers, dict):
        print(f"{args.answers}: expected a mapping of item code to answer", file=sys.stderr)
        return 2

    async def run(database: Database):
        return await fill_answers(
            database,
            all_forms(),
            unit_name=args.unit,
            form_id=args.form_id,
            year=args.year,
            answers=answers,
        )

    results = with_database(run)
    for code, accepted, detail in results:
        mark = "accepted" if accepted else "refused"
        print(f"{code}: {mark}: {detail}".replace("\n", " "))
    return 0 if all(ok for _, ok, _ in results) else 2


def cmd_show(args: argparse.Namespace) -> int:
    from dialogs.snapshot import load_snapshot

    async def run(database: Database):
        async with database.session() as session:
            return await load_snapshot(session, args.submission_id, all_forms())

    snap = with_database(run)
    if snap is None:
        print(f"no submission {args.submission_id}", file=sys.stderr)
        return 2
    data = snap.as_json()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(f"#{data['id']} {data['unit']} · {data['form']} {data['year']} · {data['status']}")
    print(f"  {data['progress']['answered']}/{data['progress']['total']}")
    for code, value in {**data["answers"], **data["computed"]}.items():
        print(f"  {code}: {value}")
    for warning in data["warnings"]:
        print(f"  ⚠ {warning['code']}: {warning['message']}")
    return 0


def cmd_submissions(args: argparse.Namespace) -> int:
    from dialogs.snapshot import load_snapshot
    from storage import repo

    async def run(database: Database):
        rows = []
        async with database.session() as session:
            for submission, _unit in await repo.list_submissions(session):
                snap = await load_snapshot(session, submission.id, all_forms())
                data = snap.as_json()
                rows.append({k: data[k] for k in ("id", "unit", "form", "year", "status")})
                rows[-1]["progress"] = data["progress"]
        return rows

    rows = with_database(run)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for row in rows:
        progress = row["progress"]
        print(
            f"#{row['id']:<4} {row['unit']:<30} {row['form']:<13} {row['year']} "
            f"{row['status']:<10} {progress['answered']}/{progress['total']}"
        )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    async def nothing_more(_database: Database) -> None:
        pass

    with_database(nothing_more)  # opening it brings the schema up to date
    print("database schema is up to date")
    return 0

"""``formbot evidence|appraise``: a submission's evidence per item (and one file's bytes), and
a reviewer's appraised value of an item, for operators at the server's shell; the web console
shows and records the same on ``/submissions/<id>``, through the same services
(``dialogs.reviewing``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.commands.common import with_database


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evidence", help="a submission's evidence per item, or one file of it")
    p.add_argument("submission_id", metavar="SUBMISSION_ID", type=int)
    p.add_argument("--get", metavar="EVIDENCE_ID", type=int, help="write this file's bytes")
    p.add_argument("-o", "--output", metavar="FILE", type=Path, help="where --get writes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_evidence)

    p = sub.add_parser("appraise", help="record a reviewer's appraised value of an item")
    p.add_argument("submission_id", metavar="SUBMISSION_ID", type=int)
    p.add_argument("code", metavar="CODE")
    p.add_argument(
        "value", metavar="VALUE", nargs="?", help='as a unit would type it; "-": not counted'
    )
    p.add_argument("--note", metavar="TEXT")
    p.add_argument("--reviewer", metavar="NAME")
    p.add_argument("--withdraw", action="store_true", help="the unit's own answer counts again")
    p.set_defaults(handler=cmd_appraise)


def cmd_evidence(args: argparse.Namespace) -> int:
    from dialogs import reviewing

    async def work(database):
        async with database.session() as session:
            if args.get is not None:
                return await reviewing.evidence_download(session, args.submission_id, args.get)
            return await reviewing.item_evidence(session, args.submission_id)

    found = with_database(work)
    if found is None:
        what = f"file {args.get} of " if args.get is not None else ""
        print(f"no {what}submission {args.submission_id}", file=sys.stderr)
        return 2
    if args.get is not None:
        if args.output is None:
            print("--get needs -o FILE", file=sys.stderr)
            return 2
        args.output.write_bytes(found.data)
        print(f"{args.output}: {found.filename} ({found.mime_type}, {len(found.data)} bytes)")
        return 0
    if args.json:
        rows = [
            {
                "code": i.code,
                "evidence": i.evidence,
                "answer": i.answer,
                "missing": i.missing,
                "appraised": i.appraised,
                "note": i.note,
                "files": [
                    {"id": e.id, "kind": e.kind, "name": e.name, "size": e.size}
                    | {"mime_type": e.mime_type, "received_at": e.received_at.isoformat()}
                    for e in i.entries
                ],
            }
            for i in found
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for item in found:
        flag = " (thiếu, bắt buộc)" if item.missing else ""
        print(f"{item.code}: {item.answer or '…'}{flag}")
        for entry in item.entries:
            size = f", {entry.size_text}" if entry.size_text else ""
            print(f"  [{entry.id}] {entry.name}{size}")
        if item.appraised is not None:
            note = f" — {item.note}" if item.note else ""
            print(f"  thẩm định: {item.appraised}{note}")
    return 0


def cmd_appraise(args: argparse.Namespace) -> int:
    from dialogs import reviewing

    if not args.withdraw and args.value is None:
        print("give VALUE, or --withdraw", file=sys.stderr)
        return 2

    async def work(database):
        async with database.session() as session, session.begin():
            if args.withdraw:
                return await reviewing.withdraw_appraisal(session, args.submission_id, args.code)
            return await reviewing.appraise(
                session, args.submission_id, args.code, args.value, args.note, args.reviewer
            )

    outcome = with_database(work)
    if args.withdraw:
        print("withdrawn" if outcome else f"{args.code} was not appraised")
        return 0 if outcome else 1
    if outcome.refusal:
        print(outcome.refusal, file=sys.stderr)
        return 1
    print(f"{args.code}: {outcome.shown}")
    return 0

"""``formbot render|export|score``: a submission as the official form (HTML, PDF, DOCX), the
ranking spreadsheet of a campaign or all its documents in one ZIP, and a submission's score
summary."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.commands.common import known_form, with_database
from dialogs.spec import all_forms

FORMATS = ("html", "pdf", "docx")  # templates.render.FORMATS, without loading the renderers


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="a submission as the official form: html, pdf or docx")
    p.add_argument("submission_id", metavar="SUBMISSION_ID", type=int)
    p.add_argument("--format", dest="fmt", choices=FORMATS, required=True)
    p.add_argument("-o", "--output", metavar="FILE", required=True, type=Path)
    p.set_defaults(handler=cmd_render)

    p = sub.add_parser(
        "export", help="the ranking spreadsheet of one form and year, or all its documents"
    )
    p.add_argument("--form", dest="form_id", metavar="ID", required=True)
    p.add_argument("--year", type=int, metavar="N", required=True)
    p.add_argument("--xlsx", metavar="FILE", type=Path, help="the ranking spreadsheet")
    p.add_argument(
        "--zip",
        metavar="FILE",
        type=Path,
        help="every submitted or approved unit's DOCX and PDF (a folder each) and the ranking",
    )
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("score", help="a submission's score summary")
    p.add_argument("submission_id", metavar="SUBMISSION_ID", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_score)


def _load(submission_id: int) -> tuple[dict | None, int]:
    """(the submission's context, 0), or (None, exit status) after saying what is wrong."""
    from dialogs.scoring import RubricError
    from templates.render import submission_context

    forms = all_forms()
    try:
        context = with_database(lambda database: submission_context(database, submission_id, forms))
    except RubricError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None, 2
    if context is None:
        print(f"no submission {submission_id}", file=sys.stderr)
        return None, 2
    return context, 0


def _write(path: Path, data: bytes) -> bool:
    try:
        path.write_bytes(data)
    except OSError as exc:
        print(f"cannot write {path}: {exc.strerror}", file=sys.stderr)
        return False
    return True


def cmd_render(args: argparse.Namespace) -> int:
    context, status = _load(args.submission_id)
    if context is None:
        return status
    from templates.render import render

    if not _write(args.output, render(context, args.fmt)):
        return 1
    print(f"{args.output}: {args.fmt} of submission {args.submission_id} ({context['unit']})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.xlsx is None and args.zip is None:
        print("give --xlsx FILE, --zip FILE or both", file=sys.stderr)
        return 2
    if not known_form(args.form_id):
        return 2
    from dialogs.scoring import RubricError

    spec = all_forms()[args.form_id]
    try:
        if args.xlsx is not None and not _export_xlsx(args, spec):
            return 1
        if args.zip is not None and not _export_zip(args, spec):
            return 1
    except RubricError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    return 0


def _export_xlsx(args: argparse.Namespace, spec) -> bool:
    from templates.export import export_campaign

    data, units = with_database(lambda database: export_campaign(database, spec, args.year))
    if not _write(args.xlsx, data):
        return False
    print(f"{args.xlsx}: {units} units of {args.form_id} {args.year}")
    return True


def _export_zip(args: argparse.Namespace, spec) -> bool:
    """The ZIP, with a progress bar on a terminal (tqdm: none when stderr is not one)."""
    from tqdm import tqdm

    from templates.bundle import export_bundle

    bar: tqdm | None = None

    def progress(done: int, total: int, unit: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="unit", disable=None, file=sys.stderr)
        bar.set_postfix_str(unit[:30], refresh=False)
        bar.update(1)

    partial = args.zip.with_name(args.zip.name + ".part")
    try:
        with partial.open("wb") as target:
            report = with_database(
                lambda database: export_bundle(database, spec, args.year, target, progress)
            )
        partial.replace(args.zip)
    except OSError as exc:
        print(f"cannot write {args.zip}: {exc.strerror}", file=sys.stderr)
        partial.unlink(missing_ok=True)
        return False
    finally:
        if bar is not None:
            bar.close()
    print(
        f"{args.zip}: documents of {report.units} submitted units of {args.form_id} "
        f"{args.year}, ranking of {report.ranked} units, {report.files} files"
    )
    return True


def cmd_score(args: argparse.Namespace) -> int:
    context, status = _load(args.submission_id)
    if context is None:
        return status
    if args.json:
        data = {
            "submission": args.submission_id,
            "unit": context["unit"],
            "year": context["year"],
            "note": context["score"]["note"],
            **context["score_json"],
            "appraised": context["appraised_json"],  # the reviewers' score, or null
        }
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        from templates.render import render_score_text

        sys.stdout.write(render_score_text(context))
    return 0

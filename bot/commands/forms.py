"""``formbot forms list|show|check``: what the form specs contain."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands.common import known_form
from dialogs.spec import all_forms

if TYPE_CHECKING:
    from dialogs.spec import FormSpec


def register(sub: argparse._SubParsersAction) -> None:
    forms = sub.add_parser("forms", help="list, show and check form specs")
    forms_sub = forms.add_subparsers(dest="forms_command", metavar="ACTION", required=True)

    p = forms_sub.add_parser("list", help="one line per built-in form")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_list)

    p = forms_sub.add_parser("show", help="every item of one form")
    p.add_argument("form_id", metavar="ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show)

    p = forms_sub.add_parser("check", help="validate a spec file (exit 2 when invalid)")
    p.add_argument("path", metavar="PATH")
    p.set_defaults(handler=cmd_check)


def summary(spec: FormSpec) -> dict:
    return {
        "id": spec.id,
        "title": spec.title,
        "sections": len(spec.sections),
        "items": len(spec.items),
    }


def describe(spec: FormSpec) -> dict:
    return {
        "id": spec.id,
        "title": spec.title,
        "sections": [{"number": s.number, "title": s.title} for s in spec.sections],
        "items": [
            {
                "code": i.code,
                "section": i.section,
                "kind": i.kind,
                "label": i.label,
                "unit": i.unit,
                "required": i.required,
                "relevant": i.relevant,
                "constraints": [c.model_dump() for c in i.constraints] or None,
                "calculate": i.calculate,
                "bonus": i.bonus,
                "target": i.target.model_dump() if i.target else None,
            }
            for i in spec.items
        ],
    }


def cmd_list(args: argparse.Namespace) -> int:
    rows = [summary(spec) for spec in all_forms().values()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            print(f"{row['id']:<14} {row['sections']} mục  {row['items']:>4} câu  {row['title']}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    if not known_form(args.form_id):
        return 2
    data = describe(all_forms()[args.form_id])
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(f"{data['id']}: {data['title']}")
    for item in data["items"]:
        flags = " (khuyến khích)" if item["bonus"] else ""
        unit = f" [{item['unit']}]" if item["unit"] else ""
        print(f"  {item['code']:<12} {item['kind']:<12} {item['label'][:80]}{unit}{flags}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """A spec, with its rubric next to it when there is one; or a rubric, against its spec."""
    from dialogs.scoring import load_rubric
    from dialogs.spec import SpecError, load_spec

    path = Path(args.path)
    is_rubric = path.name.endswith(".rubric.yaml")
    spec_path = (
        path.with_name(path.name.removesuffix(".rubric.yaml") + ".yaml") if is_rubric else path
    )
    rubric_path = path if is_rubric else path.with_name(path.stem + ".rubric.yaml")
    try:
        spec = load_spec(spec_path)
        if rubric_path.exists():
            load_rubric(rubric_path, spec)
    except SpecError as exc:
        for problem in exc.problems:
            print(problem)
        return 2
    print(f"{spec_path}: ok ({len(spec.items)} items in {len(spec.sections)} sections)")
    if rubric_path.exists():
        print(f"{rubric_path}: ok")
    return 0

"""A read-only view of one submission (unit, form, answers, computed values) for the CLI,
documents and scoring."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.spec import FormSpec, all_forms
from dialogs.state import FormState, Stored
from storage import repo
from storage.db import Database
from storage.models import Submission, Unit


@dataclass(frozen=True)
class Snapshot:
    unit: Unit
    submission: Submission
    spec: FormSpec
    state: FormState

    def as_json(self) -> dict:
        """``formbot show --json``: parsed answers, computed values and progress."""
        answers = {}
        computed = {}
        for item in self.spec.items:
            value = self.state.value(item.code)
            if value is None:
                continue
            target = answers if item.asked else computed
            target[item.code] = item.type.to_json(value)
        done, total = self.state.totals()
        required = [
            i for i in self.spec.items if i.required and i.asked and self.state.applies[i.code]
        ]
        return {
            "id": self.submission.id,
            "unit": self.unit.name,
            "form": self.spec.id,
            "year": self.submission.year,
            "status": self.submission.status,
            "answers": answers,
            "computed": computed,
            "warnings": self.warnings(),
            "progress": {
                "answered": done,
                "total": total,
                "required": len(required),
                "required_answered": sum(1 for i in required if i.code in self.state.stored),
            },
        }

    def warnings(self) -> list[dict]:
        """The warnings the respondent kept ("Vẫn giữ"), as the reviewer sees them."""
        return [
            {"code": c.item.code, "message": self.state.message(c.constraint)}
            for c in self.state.kept_warnings()
        ]


async def load_snapshot(
    session, submission_id: int, forms: dict[str, FormSpec] | None = None
) -> Snapshot | None:
    submission = await repo.get_submission(session, submission_id)
    if submission is None:
        return None
    forms = forms if forms is not None else all_forms()
    spec = forms[submission.form_id]
    unit = await repo.get_unit(session, submission.unit_id)
    stored = await stored_answers(session, spec, submission.id)
    return Snapshot(unit, submission, spec, FormState(spec, stored, submission.year))


async def stored_answers(session, spec: FormSpec, submission_id: int) -> dict[str, Stored]:
    """A submission's stored answers, parsed, by code; answers to codes ``spec`` no longer
    has are left out."""
    rows = await repo.load_answers(session, submission_id)
    return parse_answer_rows(spec, rows).get(submission_id, {})


def parse_answer_rows(spec: FormSpec, rows) -> dict[int, dict[str, Stored]]:
    """Answer rows (``submission_id``, ``code``, ``value``, ``skipped``, ``raw``) parsed and
    grouped by submission; answers to codes ``spec`` no longer has are left out."""
    grouped: dict[int, list] = {}
    for row in rows:
        grouped.setdefault(row.submission_id, []).append(row)
    return {submission: parse_answers(spec, group) for submission, group in grouped.items()}


def parse_answers(spec: FormSpec, rows) -> dict[str, Stored]:
    """One submission's answer rows (``code``, ``value``, ``skipped``, ``raw``) by code,
    parsed; answers to codes ``spec`` no longer has are left out."""
    parsed: dict[str, Stored] = {}
    for row in rows:
        item = spec.by_code.get(row.code)
        if item is not None:
            warnings = getattr(row, "warnings", None) or ()
            kept = frozenset(w["rule"] for w in warnings if isinstance(w, dict) and "rule" in w)
            value = item.type.from_json(row.value)
            parsed[row.code] = Stored(value, row.skipped, row.raw, kept)
    return parsed


async def snapshot(database: Database, submission_id: int) -> Snapshot | None:
    async with database.session() as session:
        return await load_snapshot(session, submission_id)

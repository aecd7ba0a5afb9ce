"""``formbot fill``: answer items by code as a person would type them, with the same reading
and constraints as the chat, each answer in its own transaction."""

from __future__ import annotations

from typing import Any

from dialogs.answering import check_answer
from dialogs.kinds import format_value
from dialogs.known import fill, known_answers
from dialogs.snapshot import parse_answers
from dialogs.spec import FormSpec
from dialogs.state import FormState
from dialogs.text import fold_code
from storage import repo
from storage.db import Database
from storage.turns import AnswerWrite, TurnStatements, TurnWrites
from templates.messages import say

CHANNEL = "cli"


async def fill_answers(
    database: Database,
    forms: dict[str, FormSpec],
    *,
    unit_name: str,
    form_id: str,
    year: int,
    answers: dict[Any, Any],
) -> list[tuple[str, bool, str]]:
    """(code, accepted, what happened) for each ``code: typed answer``."""
    spec = forms[form_id]
    async with database.session() as session, session.begin():
        unit = await repo.get_or_create_unit(session, unit_name, spec.id)
        submission = await repo.get_or_create_submission(session, unit.id, spec.id, year)
    codes = {fold_code(item.code): item for item in spec.items}
    facts = known_answers(spec, year=year, unit_name=unit.name, unit_contact=unit.contact)
    results = []
    for code, typed in answers.items():
        item = codes.get(fold_code(str(code)))
        if item is None:
            results.append((str(code), False, say("unknown_code", code=code, suggestions=[])))
            continue

        def one(st: TurnStatements, item=item, typed=str(typed)) -> tuple[str, bool, str]:
            version = st.version(submission.id)
            state = FormState(spec, parse_answers(spec, st.answers(submission.id)), year)
            state_before = state
            known = fill(state, facts) if version == 0 else []  # a new submission: what is known
            if known:
                state = known[-1][1]
            checked = check_answer(spec, state, item, typed)
            if checked.problem:
                return item.code, False, checked.problem
            value, after = checked.value, checked.after
            old = state.stored.get(item.code)
            new = after.stored[item.code]
            writes = [
                AnswerWrite(known.code, None, known.type.to_json(value), None, False)
                for known, value in facts
                if known.code != item.code
                and known.code in after.stored
                and known.code not in state_before.stored
            ]
            writes.append(
                AnswerWrite(
                    item.code,
                    item.type.to_json(old.value) if old else None,
                    item.type.to_json(new.value),
                    new.raw,
                    new.skipped,
                )
            )
            st.write(
                TurnWrites(
                    respondent_id=None,
                    channel=CHANNEL,
                    message_id=None,
                    phase="answering",
                    cursor=None,
                    return_to=None,
                    submission_id=submission.id,
                    expected_version=version,
                    answers=tuple(writes),
                )
            )
            shown = " ".join([format_value(item, value), *(f"⚠ {w}" for w in checked.warnings)])
            return item.code, True, shown

        results.append(await database.turns.run(one))
    return results

"""Taking an answer: read what was typed or pressed, check it against the item and the
form's constraints, record it on the turn, and move on to the next question."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from dialogs.asking import ask_current
from dialogs.expressions import REFERENCE
from dialogs.kinds import format_value, parse_answer
from dialogs.messages import Outbound
from dialogs.numbers import format_number
from dialogs.parsing import Refusal
from dialogs.payloads import KeepPrevious, PickOption
from dialogs.phases import CONVERSATION
from dialogs.spec import FormSpec, Item
from dialogs.state import FormState, Stored
from dialogs.text import fold
from dialogs.turn import Turn
from templates.messages import say

KEEP_WORDS = {"giu", "giu nguyen", "giu nhu nam truoc", "nhu nam truoc"}


def answer(turn: Turn) -> list[Outbound]:
    """The message is an answer to the current question (typed, or a pressed option)."""
    inbound = turn.inbound
    item = turn.item
    if item is None or not turn.state.applies.get(item.code, False):
        turn.cursor = next_code(turn.state, None)
        item = turn.item
        if item is None:
            return [Outbound(say("all_done"))]
    payload = inbound.payload
    after: FormState | None = None
    if isinstance(payload, PickOption | KeepPrevious):
        if payload.code != item.code:
            notice = say("stale_button", pressed=payload.code, current=item.code)
            return ask_current(turn, [notice])
        if isinstance(payload, KeepPrevious):
            typed, value = None, turn.previous_year.get(item.code)
            if value is None:
                return ask_current(turn, [say("no_previous")])
        else:
            choices = item.choices()
            if not 0 <= payload.index < len(choices):
                return ask_current(turn, [say("help_footer")])
            # One press picks one option, also of a multi-choice; typing "1, 3" picks more.
            typed, value = choices[payload.index][1], item.type.picked(item, payload.index)
    else:
        typed = inbound.text or ""
        if fold(typed) in KEEP_WORDS and item.code in turn.previous_year:
            value = turn.previous_year[item.code]
        else:
            value, problem, after = check_answer(turn.spec, turn.state, item, typed)
            if problem:
                return ask_current(turn, [say("refused", reason=problem, code=item.code)])
    if after is None:
        problem, after = constraint_problem(turn.state, item, value, typed)
        if problem:
            return ask_current(turn, [say("refused", reason=problem, code=item.code)])
    return _accept(turn, item, value, after)


def check_answer(
    spec: FormSpec, state: FormState, item: Item, typed: str
) -> tuple[Any, str | None, FormState | None]:
    """(parsed value, None, the state with it), or (None, a Vietnamese sentence saying what
    is wrong, None)."""
    if item.calculate:
        inputs = list(spec.expressions[item.calculate].refs)
        return None, say("computed_item", code=item.code, inputs=inputs), None
    try:
        value = parse_answer(item, typed)
    except Refusal as refusal:
        params = {"unit": item.unit, **refusal.params}
        for bound in ("min", "max"):
            if bound in params:
                params[bound] = format_number(params[bound])
        params.setdefault("text", typed.strip()[:40])
        params.setdefault("optional", not item.required)
        return None, say(refusal.key, **params), None
    problem, after = constraint_problem(state, item, value, typed)
    return value, problem, after


def constraint_problem(
    state: FormState, item: Item, value: Any, typed: str | None
) -> tuple[str | None, FormState]:
    """Whether the answer breaks a constraint, and the state the answer would make (reused
    when it is stored, so each accepted answer builds one state)."""
    candidate = state.with_answer(item.code, Stored(value, value is None, typed))
    broken = candidate.violations(item.code)
    if not broken:
        return None, candidate
    messages = (_constraint_message(state.spec, candidate, c.message) for _, c in broken)
    return "\n".join(messages), candidate


def _constraint_message(spec: FormSpec, state: FormState, message: str) -> str:
    def value_of(match: re.Match) -> str:
        item = spec.by_code.get(match.group(1))
        value = state.value(match.group(1))
        if item is None or value is None:
            return "…"
        return format_value(item, value, with_unit=False)

    return REFERENCE.sub(value_of, message)


def _accept(turn: Turn, item: Item, value: Any, after: FormState) -> list[Outbound]:
    before = turn.state
    turn.record(item, after)
    lines = [say("saved", code=item.code, value=format_value(item, value))]
    lines += _computed_changes(turn.spec, before, turn.state)
    advance(turn, item)
    first, *rest = ask_current(turn, ["\n".join(lines)])
    return [replace(first, accepted=item.code), *rest]


def skip(turn: Turn, argument: str = "") -> list[Outbound]:
    """``/boqua``: leave an optional item unanswered."""
    item = turn.item
    if item is None:
        return ask_current(turn, [])
    if item.required:
        return ask_current(turn, [say("required_item", code=item.code)])
    turn.record(item, turn.state.with_answer(item.code, Stored(None, True, None)))
    advance(turn, item)
    return ask_current(turn, [say("skipped", code=item.code)])


def _computed_changes(spec: FormSpec, before: FormState, after: FormState) -> list[str]:
    lines = []
    for item in spec.computation_order:
        value = after.value(item.code)
        if value is not None and value != before.value(item.code):
            lines.append(
                say(
                    "computed",
                    code=item.code,
                    label=item.label,
                    value=format_value(item, value),
                    formula=item.formula,
                )
            )
    return lines


def advance(turn: Turn, answered: Item) -> None:
    """Move the cursor after an answer: back to where an edit started, else onwards."""
    if turn.phase == "editing":
        turn.phase = CONVERSATION.next(turn.phase, "finish_edit")
        back = turn.spec.by_code.get(turn.return_to or "")
        turn.return_to = None
        if back is not None and turn.state.is_open(back):
            turn.cursor = back.code
            return
        turn.cursor = next_code(turn.state, None)
        return
    turn.cursor = next_code(turn.state, answered)


def next_code(state: FormState, after: Item | None) -> str | None:
    item = state.next_open(after)
    return item.code if item else None

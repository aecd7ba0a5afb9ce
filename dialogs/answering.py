"""Taking an answer: read what was typed or pressed, check it against the item and the
form's rules, record it on the turn, and move on to the next question.

Rules are errors or warnings (``dialogs.spec.Constraint``). An answer that breaks its own
error rule is refused with what to type and which item to correct instead (``/sua 1.8``);
one that breaks its own warning is stored and the person may keep it ("Vẫn giữ") or type
another value. An answer that breaks the rules of *other*, already answered items (an edit of
a total) is stored, and those items are asked again at once, then the person goes back to
where they were.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dialogs import collecting
from dialogs.asking import SECTION_KEEP_MIN, ask_current, section_keep_count, unkept_warnings
from dialogs.kinds import format_value, parse_answer
from dialogs.messages import Outbound
from dialogs.numbers import format_number
from dialogs.parsing import Refusal, is_greeting
from dialogs.payloads import Done, KeepAnswer, KeepPrevious, KeepSection, PickOption, Toggle
from dialogs.phases import CONVERSATION
from dialogs.spec import Constraint, FormSpec, Item
from dialogs.state import Check, FormState, Stored
from dialogs.text import fold
from dialogs.turn import Turn
from templates.messages import say

KEEP_WORDS = {"giu", "giu nguyen", "giu nhu nam truoc", "nhu nam truoc"}
KEEP_WARNING_WORDS = {"van giu", "van giu nguyen", "giu", "giu nguyen", "dung", "dung roi"}
KEEP_WARNING_WORDS |= {"dung vay", "dung the", "van dung"}
KEEP_SECTION_WORDS = {"giu het", "giu tat ca", "giu ca muc", "giu het nhu nam truoc"}


@dataclass(frozen=True)
class Checked:
    """What an answer would do: its value, the refusal (a Vietnamese sentence) if an error
    rule of the item refuses it, the state it makes, and the warnings it raises."""

    value: Any
    problem: str | None
    after: FormState | None
    warnings: tuple[str, ...] = ()


def answer(turn: Turn) -> list[Outbound]:
    """The message is an answer to the current question (typed, or a pressed option)."""
    item = turn.item
    if item is None or not turn.state.applies.get(item.code, False):
        turn.cursor = next_code(turn.state, None)
        item = turn.item
        if item is None:
            return [Outbound(say("all_done"))]
    payload = turn.inbound.payload
    if isinstance(payload, KeepAnswer):
        return keep_warning(turn, payload.code)
    if isinstance(payload, KeepSection):
        return keep_section(turn, payload.section)
    if isinstance(payload, Toggle | Done | PickOption | KeepPrevious) and payload.code != item.code:
        notice = say("stale_button", pressed=payload.code, current=item.code)
        return ask_current(turn, [notice])
    if isinstance(payload, Toggle) or (isinstance(payload, PickOption) and item.type.multiple):
        return _toggle(turn, item, payload.index)
    if isinstance(payload, Done):
        chosen = _chosen(turn, item)
        labels = dict(item.choices())
        return take(turn, item, chosen, "; ".join(labels[v] for v in chosen))
    if isinstance(payload, KeepPrevious):
        value = turn.previous_year.get(item.code) if item.carried else None
        if value is None:
            return ask_current(turn, [say("no_previous")])
        return take(turn, item, value, say("raw_kept_previous"))
    if isinstance(payload, PickOption):
        choices = item.choices()
        if not 0 <= payload.index < len(choices):
            return ask_current(turn, [say("help_footer")])
        return take(turn, item, item.type.picked(item, payload.index), choices[payload.index][1])
    typed = turn.inbound.text or ""
    folded = fold(typed).rstrip(".!")
    if folded in KEEP_WARNING_WORDS and unkept_warnings(turn.state, item):
        return keep_warning(turn, item.code)
    if folded in KEEP_SECTION_WORDS and section_keep_count(turn, item) >= SECTION_KEEP_MIN:
        return keep_section(turn, item.section)
    if folded in KEEP_WORDS and item.carried and item.code in turn.previous_year:
        return take(turn, item, turn.previous_year[item.code], typed)
    if is_greeting(typed, folded):
        return ask_current(turn, [say("nudge_greeting")])
    checked = check_answer(turn.spec, turn.state, item, typed)
    if checked.problem:
        return ask_current(turn, [say("refused", reason=checked.problem, code=item.code)])
    return take(turn, item, checked.value, typed, checked.after)


def check_answer(spec: FormSpec, state: FormState, item: Item, typed: str) -> Checked:
    """Read ``typed`` for ``item`` and check it against the item's own rules."""
    if item.calculate:
        inputs = list(spec.expressions[item.calculate].refs)
        return Checked(None, say("computed_item", code=item.code, inputs=inputs), None)
    try:
        value = parse_answer(item, typed)
    except Refusal as refusal:
        params = {"unit": item.unit, **refusal.params}
        for bound in ("min", "max"):
            if bound in params and params[bound] is not None:
                params[bound] = format_number(params[bound])
        params.setdefault("text", typed.strip()[:40])
        params.setdefault("optional", not item.required)
        return Checked(None, say(refusal.key, **params), None)
    return _checked(state, item, value, typed)


def _checked(state: FormState, item: Item, value: Any, typed: str | None) -> Checked:
    after = state.with_answer(item.code, Stored(value, value is None, typed))
    own = after.broken_rules(item.code)
    errors = [c for c in own if not c.warning]
    if errors:
        lines = [after.message(c.constraint) for c in errors]
        fixes = fix_codes(state.spec, item, errors[0].constraint)
        lines.append(say("refused_fix", fixes=fixes, code=item.code))
        return Checked(value, "\n".join(lines), None)
    warnings = tuple(after.message(c.constraint) for c in own if c.warning)
    return Checked(value, None, after, warnings)


def fix_codes(spec: FormSpec, owner: Item, constraint: Constraint) -> list[str]:
    """The items a person can correct instead of ``owner`` to satisfy ``constraint``: the
    other items it reads, a total replaced by its parts."""
    codes: list[str] = []
    todo = [ref for ref in spec.expressions[constraint.rule].refs if ref != owner.code]
    while todo:
        code = todo.pop(0)
        item = spec.by_code.get(code)
        if item is None or code in codes:
            continue
        if item.calculate:
            todo[:0] = list(spec.expressions[item.calculate].refs)
        else:
            codes.append(code)
    return codes


def take(
    turn: Turn, item: Item, value: Any, typed: str | None, after: FormState | None = None
) -> list[Outbound]:
    """Record ``value`` for ``item`` unless an error rule of the item refuses it; then move
    on, or stay for a warning to be kept."""
    if after is None:
        checked = _checked(turn.state, item, value, typed)
        if checked.problem:
            return ask_current(turn, [say("refused", reason=checked.problem, code=item.code)])
        after = checked.after
    before = turn.state
    conflicts_before = _conflict_keys(before)
    turn.record(item, after)
    turn.pending = None
    lines = [say("saved", code=item.code, value=format_value(item, value))]
    lines += _computed_changes(turn.spec, before, turn.state)
    if unkept_warnings(turn.state, item):
        turn.cursor = item.code  # the warning is shown with the question: keep or retype
    else:
        advance(turn, item, conflicts_before)
        request = collecting.after_answer(turn, item, value, ["\n".join(lines)])
        if request is not None:  # evidence is asked before the next question
            return [replace(request[0], accepted=item.code), *request[1:]]
    first, *rest = ask_current(turn, ["\n".join(lines)])
    return [replace(first, accepted=item.code), *rest]


def keep_warning(turn: Turn, code: str) -> list[Outbound]:
    """ "Vẫn giữ": keep the answer of ``code`` although it raises warnings."""
    item = turn.spec.by_code.get(code)
    warnings = unkept_warnings(turn.state, item) if item else []
    if item is None or not warnings:
        return ask_current(turn, [say("nothing_to_keep")])
    stored = turn.state.stored[item.code]
    kept = stored.kept | {c.constraint.rule for c in warnings}
    conflicts_before = _conflict_keys(turn.state)
    turn.record(item, turn.state.with_answer(item.code, replace(stored, kept=kept)))
    if turn.cursor == item.code:
        advance(turn, item, conflicts_before)
    text = say("kept_warning", code=item.code, value=format_value(item, stored.value))
    first, *rest = ask_current(turn, [text])
    return [replace(first, accepted=item.code), *rest]


def keep_section(turn: Turn, number: int) -> list[Outbound]:
    """Keep last year's answers of every carried open item of MỤC ``number`` that fits this
    year's answers; the others are asked as usual."""
    spec = turn.spec
    if number not in {s.number for s in spec.sections}:
        return ask_current(turn, [say("help_footer")])
    kept = 0
    for item in spec.section(number).items:
        previous = turn.previous_year.get(item.code)
        if previous is None or not item.carried or not turn.state.is_open(item):
            continue
        checked = _checked(turn.state, item, previous, say("raw_kept_previous"))
        if checked.problem or checked.warnings:
            continue
        turn.record(item, checked.after)
        kept += 1
    current = turn.item
    if current is None or not turn.state.is_open(current):
        turn.cursor = next_code(turn.state, None)
    return ask_current(turn, [say("kept_section", count=kept, section=number)])


def _toggle(turn: Turn, item: Item, index: int) -> list[Outbound]:
    """A pressed option of a multi-choice: choose or unchoose it; the same question comes
    back with the chosen options marked, for the channel to show in place."""
    choices = item.choices()
    if not 0 <= index < len(choices):
        return ask_current(turn, [say("help_footer")])
    chosen = _chosen(turn, item)
    value = choices[index][0]
    chosen = [v for v in chosen if v != value] if value in chosen else [*chosen, value]
    order = [v for v, _ in choices]
    turn.pending = {"code": item.code, "chosen": sorted(chosen, key=order.index)}
    first, *rest = ask_current(turn, [])
    return [replace(first, edit_pressed=True), *rest]


def _chosen(turn: Turn, item: Item) -> list[Any]:
    """The options chosen so far: the selection in progress, else the stored answer."""
    pending = turn.row.pending if turn.pending is None else turn.pending
    if isinstance(pending, dict) and pending.get("code") == item.code:
        known = {v for v, _ in item.choices()}
        return [v for v in pending.get("chosen") or () if v in known]
    stored = turn.state.stored.get(item.code)
    return list(stored.value) if stored and isinstance(stored.value, list) else []


def skip(turn: Turn, argument: str = "") -> list[Outbound]:
    """``/boqua``: leave an optional item unanswered."""
    item = turn.item
    if item is None:
        return ask_current(turn, [])
    if item.required:
        return ask_current(turn, [say("required_item", code=item.code)])
    conflicts_before = _conflict_keys(turn.state)
    turn.record(item, turn.state.with_answer(item.code, Stored(None, True, None)))
    advance(turn, item, conflicts_before)
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


def _conflict_keys(state: FormState) -> set[Check]:
    return {c.key for c in state.conflicts()}


def advance(turn: Turn, answered: Item, conflicts_before: set[Check] | None = None) -> None:
    """Move the cursor after an answer: to an answered item whose rules the answer broke
    (asked again at once), else back to where an edit started, else onwards."""
    conflicts = [c for c in turn.state.conflicts() if c.item.code != answered.code]
    if turn.phase != "editing" and conflicts_before is not None:
        conflicts = [
            c for c in conflicts if (c.item.code, c.constraint.rule) not in conflicts_before
        ]
    if conflicts:
        if turn.phase != "editing":
            turn.return_to = next_code(turn.state, answered)
            turn.phase = CONVERSATION.next(turn.phase, "edit")
        turn.cursor = conflicts[0].item.code
        return
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

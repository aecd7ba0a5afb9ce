"""What the bot asks: the current question with its options, why it is asked again (a rule
it breaks), and the greeting. Pure: reads a ``Turn``, writes nothing."""

from __future__ import annotations

from functools import cache
from typing import Any

from dialogs.kinds import format_value
from dialogs.messages import Option, Outbound
from dialogs.payloads import (
    Done,
    KeepAnswer,
    KeepPrevious,
    KeepSection,
    PickOption,
    RunCommand,
    Toggle,
)
from dialogs.spec import FormSpec, Heading, Item
from dialogs.state import Conflict, FormState
from dialogs.turn import Turn
from templates.messages import say

# How many carried items of a section make a "keep all of last year's" button worth it.
SECTION_KEEP_MIN = 2


def ask_current(turn: Turn, before: list[str]) -> list[Outbound]:
    """The notices in ``before`` followed by the current question, as one message."""
    item = turn.item
    if turn.phase == "confirming":
        return [Outbound("\n\n".join([*before, say("confirm_again")]))]
    if item is None:
        return [Outbound("\n\n".join([*before, say("all_done")]))]
    question, options, nav = _question(turn, item)
    return [Outbound("\n\n".join([*before, question]), options, nav, asks=item.code)]


def greeting(turn: Turn, *, first: bool) -> str:
    """Welcome (with what the bot filled in itself), or welcome back with the progress."""
    state = turn.state
    done, total = state.totals()
    filled = [
        item.code
        for item in turn.spec.items
        if item.fill and (a := state.stored.get(item.code)) is not None and a.raw is None
    ]
    given = done - len(filled)
    key = "welcome" if first and not given else "welcome_back"
    return say(
        key,
        title=turn.spec.title,
        unit=turn.unit,
        year=turn.year,
        done=done,
        total=total,
        filled=filled,
    )


def unkept_warnings(state: FormState, item: Item | None) -> list[Conflict]:
    """The warnings ``item``'s stored answer raises that the person has not kept yet."""
    stored = state.stored.get(item.code) if item is not None else None
    if stored is None or stored.skipped:
        return []
    return [
        c
        for c in state.broken_rules(item.code)
        if c.warning and c.constraint.rule not in stored.kept
    ]


def position(state: FormState, item: Item) -> tuple[int, int]:
    """(number, total) of ``item`` among the questions that apply now: the count the header,
    /tiendo and /nop share."""
    asked_before, asked, gated = state.spec.memo("_numbering", _numbering)
    number, total = asked_before[item.index], asked
    applies = state.applies
    for index, code in gated:  # only items with a relevance can stop applying
        if not applies[code]:
            total -= 1
            if index <= item.index:
                number -= 1
    return number, total


def _numbering(spec: FormSpec) -> tuple[list[int], int, tuple[tuple[int, str], ...]]:
    """For each item index, how many asked items come up to it; how many are asked; the asked
    items with a relevance."""
    asked_before, count = [], 0
    for item in spec.items:
        count += item.asked
        asked_before.append(count)
    gated = tuple((i.index, i.code) for i in spec.items if i.asked and i.relevant)
    return asked_before, count, gated


def _example(spec: FormSpec, item: Item) -> str:
    """How to answer ``item``, written once per item."""
    examples = spec.memo("_examples", lambda _spec: {})
    if item.code not in examples:
        lines = [example] if (example := item.type.example(item)) else []
        if not item.required:
            lines.append(say("example_optional"))
        examples[item.code] = " ".join(lines)
    return examples[item.code]


def _question(turn: Turn, item: Item) -> tuple[str, tuple[Option, ...], tuple[Option, ...]]:
    spec, state = turn.spec, turn.state
    stored = state.stored.get(item.code)
    current = None
    if stored is not None:
        current = say("review_skipped") if stored.skipped else format_value(item, stored.value)
    previous = turn.previous_year.get(item.code) if item.carried else None
    previous_text = format_value(item, previous) if previous is not None else None
    year = turn.year + item.year_offset if item.year_offset is not None else None
    conflicts = _conflicts(state, item)
    number, total = position(state, item)
    text = say(
        "question",
        campaign_year=turn.year,
        section=item.section,
        number=number,
        total=total,
        context=context_lines(spec, item),
        code=item.code,
        label=item.label,
        unit=item.unit,
        year=year,
        hint=item.hint,
        current=current,
        previous=previous_text,
        example=_example(spec, item),
        conflicts=[
            say("conflict", message=state.message(c.constraint), warning=c.warning)
            for c in conflicts
        ],
    )
    options = _options(turn, item)
    if any(c.warning for c in conflicts):
        options.insert(0, Option(say("keep_warning"), KeepAnswer(item.code), "vẫn giữ"))
    if previous is not None:
        label = say("keep_previous", value=previous_text)
        options.append(Option(label, KeepPrevious(item.code), "giu"))
    keep_all = section_keep_count(turn, item) if previous is not None else 0
    if keep_all >= SECTION_KEEP_MIN:
        label = say("keep_section", count=keep_all, section=item.section)
        options.append(Option(label, KeepSection(item.section), "giu het"))
    return text, tuple(options), _nav(item.required)


@cache
def _nav(required: bool) -> tuple[Option, ...]:
    """◀ Quay lại · Bỏ qua (optional questions) · Tiến độ: the same under every question."""
    nav = [Option(say("nav_back"), RunCommand("quaylai"), "/quaylai")]
    if not required:
        nav.append(Option(say("nav_skip"), RunCommand("boqua"), "/boqua"))
    nav.append(Option(say("nav_progress"), RunCommand("tiendo"), "/tiendo"))
    return tuple(nav)


def _conflicts(state: FormState, item: Item) -> list[Conflict]:
    stored = state.stored.get(item.code)
    if stored is None or stored.skipped:
        return []
    return [
        c
        for c in state.broken_rules(item.code)
        if not (c.warning and c.constraint.rule in stored.kept)
    ]


def _options(turn: Turn, item: Item) -> list[Option]:
    """The item's options as buttons; a multi-choice gets toggles (✓ on the chosen ones) and
    "Xong", which text channels leave out (people type "1, 3" there)."""
    choices = item.choices()
    if not item.type.multiple:
        return [
            Option(label, PickOption(item.code, n), str(n + 1))
            for n, (_value, label) in enumerate(choices)
        ]
    chosen = set(_chosen_values(turn, item))
    options = [
        Option(
            say("option_chosen", label=label) if value in chosen else label,
            Toggle(item.code, n),
            str(n + 1),
        )
        for n, (value, label) in enumerate(choices)
    ]
    done = say("multi_done", count=len(chosen))
    options.append(Option(done, Done(item.code), "xong", button_only=True))
    return options


def _chosen_values(turn: Turn, item: Item) -> list[Any]:
    pending = turn.pending if turn.pending is not None else turn.row.pending
    if isinstance(pending, dict) and pending.get("code") == item.code:
        return list(pending.get("chosen") or ())
    stored = turn.state.stored.get(item.code)
    return list(stored.value) if stored and isinstance(stored.value, list) else []


def section_keep_count(turn: Turn, item: Item) -> int:
    """How many open carried items of ``item``'s section last year's answers could fill,
    when ``item`` is the section's first open question."""
    state = turn.state
    section = turn.spec.section(item.section)
    count = 0
    first = True
    for other in section.items:
        if not state.is_open(other):
            continue
        if first and other.code != item.code:
            return 0
        first = False
        if other.carried and other.code in turn.previous_year:
            count += 1
    return count


def context_lines(spec: FormSpec, item: Item) -> list[str]:
    """The printed group rows above an item ("Thông tin chỉ đạo, điều hành")."""
    return spec.memo("_context", _heading_context).get(item.code, [])


def _heading_context(spec: FormSpec) -> dict[str, list[str]]:
    """Code → the texts of the headings whose code is a prefix of the item's code."""
    context: dict[str, list[str]] = {}
    for section in spec.sections:
        headings: list[tuple[str, str]] = []  # the open headings, outermost first
        for entry in section.entries:
            headings = [h for h in headings if entry.code.startswith(h[0] + ".")]
            if isinstance(entry, Heading):
                headings.append((entry.code, entry.heading))
            else:
                context[entry.code] = [text for _, text in headings]
    return context

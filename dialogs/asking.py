"""What the bot shows: the current question with its options, the answers so far (/xem),
progress (/tiendo) and greetings. Pure: reads a ``Turn``, writes nothing."""

from __future__ import annotations

from dialogs.kinds import format_value
from dialogs.messages import Option, Outbound
from dialogs.payloads import KeepPrevious, PickOption, RunCommand
from dialogs.spec import FormSpec, Heading, Item
from dialogs.turn import Turn
from templates.messages import say


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
    done, total = turn.state.totals()
    key = "welcome" if first and not done else "welcome_back"
    return say(key, title=turn.spec.title, unit=turn.unit, year=turn.year, done=done, total=total)


def _question(turn: Turn, item: Item) -> tuple[str, tuple[Option, ...], tuple[Option, ...]]:
    spec, state = turn.spec, turn.state
    asked = asked_items(spec)
    stored = state.stored.get(item.code)
    current = None
    if stored is not None:
        current = say("review_skipped") if stored.skipped else format_value(item, stored.value)
    previous = turn.previous_year.get(item.code)
    previous_text = format_value(item, previous) if previous is not None else None
    year = turn.year + item.year_offset if item.year_offset is not None else None
    examples = [example] if (example := item.type.example(item)) else []
    if not item.required:
        examples.append(say("example_optional"))
    text = say(
        "question",
        position=say("position", section=item.section, number=asked[item.code], total=len(asked)),
        context=context_lines(spec, item),
        code=item.code,
        label=item.label,
        unit=item.unit,
        year=year,
        hint=item.hint,
        current=current,
        previous=previous_text,
        example=" ".join(examples),
    )
    options = [
        Option(label, PickOption(item.code, n), str(n + 1))
        for n, (_value, label) in enumerate(item.choices())
    ]
    if previous is not None:
        label = say("keep_previous", value=previous_text)
        options.append(Option(label, KeepPrevious(item.code), "giu"))
    nav = [Option(say("nav_back"), RunCommand("quaylai"), "/quaylai")]
    if not item.required:
        nav.append(Option(say("nav_skip"), RunCommand("boqua"), "/boqua"))
    nav.append(Option(say("nav_progress"), RunCommand("tiendo"), "/tiendo"))
    return text, tuple(options), tuple(nav)


def review(turn: Turn, argument: str) -> list[Outbound]:
    """``/xem [MỤC]``: the answers so far, section by section."""
    spec, state = turn.spec, turn.state
    sections = spec.sections
    if argument:
        wanted = argument.strip().split()[0].upper().removeprefix("MỤC").strip(". ")
        chosen = [s for s in sections if str(s.number) == wanted]
        if not chosen:
            numbers = [str(s.number) for s in sections]
            return [Outbound(say("unknown_section", section=argument, sections=numbers))]
        sections = tuple(chosen)
    lines = [say("review_header", unit=turn.unit, title=spec.title, year=turn.year)]
    for section in sections:
        lines.append("")
        lines.append(say("review_section", number=section.number, title=section.title))
        for item in section.items:
            if not state.applies[item.code]:
                continue
            stored = state.stored.get(item.code)
            if not item.asked:
                shown = format_value(item, state.value(item.code)) or say("review_empty")
            elif stored is None:
                shown = say("review_empty")
            elif stored.skipped:
                shown = say("review_skipped")
            else:
                shown = format_value(item, stored.value)
            lines.append(say("review_line", code=item.code, value=shown))
    return [Outbound("\n".join(lines))]


def progress(turn: Turn, argument: str = "") -> list[Outbound]:
    """``/tiendo``: answered items per section."""
    rows = turn.state.progress()
    done, total = turn.state.totals()
    percent = round(100 * done / total) if total else 100
    text = say("progress", done=done, total=total, percent=percent, sections=rows)
    return [Outbound(text, informational=True)]


def asked_items(spec: FormSpec) -> dict[str, int]:
    """Code → 1-based number among asked items ("câu 37/212")."""
    return spec.memo("_asked_numbers", _number_asked_items)


def _number_asked_items(spec: FormSpec) -> dict[str, int]:
    asked = [item.code for item in spec.items if item.asked]
    return {code: n for n, code in enumerate(asked, start=1)}


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

"""The form at a glance, sized for a phone: /xem (an index of sections with their progress,
then one section at a time, page by page) and /tiendo (progress per section, then the
current question again). Every message stays under ``MAX_CHARS``.

Which page is being read is kept in the person's ``pending`` input (the database), so a typed
section number after the index, or "tiếp" after a page, reaches whichever worker takes it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from dialogs.asking import ask_current
from dialogs.evidence import wants_evidence
from dialogs.kinds import format_value
from dialogs.messages import Option, Outbound
from dialogs.payloads import OpenPage, RunCommand
from dialogs.phases import EDITABLE_STATUSES
from dialogs.spec import FormSpec, Item, Section
from dialogs.state import FormState
from dialogs.text import fold
from dialogs.turn import Turn
from templates.messages import say

MAX_CHARS = 1500
PAGE_CHARS = 1300  # a page's lines; the header and footer fit in the rest
LABEL_CHARS = 60
VALUE_CHARS = 120
TITLE_CHARS = 45
NEXT_PAGE_WORDS = {"tiep", "tiep theo", "trang sau", "xem tiep", "+", ">"}


def review(turn: Turn, argument: str = "") -> list[Outbound]:
    """``/xem``: the index of sections; ``/xem 3``: MỤC 3; ``/xem 3 2``: its second page."""
    words = argument.upper().replace("MỤC", " ").replace("MUC", " ").replace(".", " ").split()
    if not words:
        return _index(turn)
    numbers = {str(s.number): s for s in turn.spec.sections}
    section = numbers.get(words[0])
    if section is None:
        return [Outbound(say("unknown_section", section=argument, sections=list(numbers)))]
    page = int(words[1]) if len(words) > 1 and words[1].isascii() and words[1].isdigit() else 1
    return _section(turn, section, page)


def continue_review(turn: Turn) -> list[Outbound] | None:
    """A typed message right after /xem: a section number after the index, "tiếp" after a
    page; None when it is not (then it is an answer, and the review is over)."""
    pending = turn.row.pending
    if not isinstance(pending, dict) or "review" not in pending or turn.inbound.payload:
        return None
    folded = fold(turn.inbound.text or "").removeprefix("muc").strip(" .")
    where = pending["review"]
    if where == "index" and folded.isascii() and folded.isdigit() and len(folded) <= 3:
        section = {s.number: s for s in turn.spec.sections}.get(int(folded))
        return _section(turn, section, 1) if section else None
    if isinstance(where, list) and len(where) == 2 and folded in NEXT_PAGE_WORDS:
        section = {s.number: s for s in turn.spec.sections}.get(where[0])
        return _section(turn, section, int(where[1]) + 1) if section else None
    return None


def _index(turn: Turn) -> list[Outbound]:
    state = turn.state
    done, total = state.totals()
    options = []
    for section in turn.spec.sections:
        counts = _counts(state, section)
        label = say(
            "review_index_line",
            number=section.number,
            title=_short(section.title, TITLE_CHARS),
            **counts,
        )
        options.append(Option(label, RunCommand("xem", str(section.number)), str(section.number)))
    text = say(
        "review_index",
        unit=turn.unit,
        year=turn.year,
        done=done,
        total=total,
        title=turn.spec.title,
    )
    page = _whole_form(turn)
    if page is not None:
        options.append(Option(say("review_whole_form"), page, "", button_only=False))
    turn.pending = {"review": "index"}
    return [Outbound(text, tuple(options), _nav(turn), informational=True)]


def _whole_form(turn: Turn) -> OpenPage | None:
    """The signed link to the person's whole form (a web page), when the bot has a public
    URL."""
    if turn.links is None:
        return None
    return turn.links.page(turn.submission_id, turn.inbound.channel, turn.inbound.user)


def _section(turn: Turn, section: Section, page: int) -> list[Outbound]:
    state = turn.state
    sent: Counter[str] = Counter()
    if any(item.evidence for item in section.items):  # read only where it is shown
        sent.update(row.code for row in turn.evidence)
    lines = [_line(state, item, sent) for item in section.items if state.applies[item.code]]
    pages = _pages(lines)
    page = min(max(page, 1), len(pages))
    counts = _counts(state, section)
    header = say(
        "review_section_header",
        number=section.number,
        title=section.title,
        year=turn.year,
        page=page,
        pages=len(pages),
        **counts,
    )
    text = "\n".join([header, *pages[page - 1]])
    options = []
    if page < len(pages):
        more = RunCommand("xem", f"{section.number} {page + 1}")
        options.append(Option(say("review_next_page"), more, "tiếp"))
        turn.pending = {"review": [section.number, page]}
    options.append(Option(say("review_back_to_index"), RunCommand("xem"), "/xem"))
    return [Outbound(text, tuple(options), _nav(turn), informational=True)]


def _nav(turn: Turn) -> tuple[Option, ...]:
    if turn.submission_status not in EDITABLE_STATUSES:
        return ()
    return (Option(say("nav_resume"), RunCommand("tieptuc"), "/tieptuc"),)


def _line(state: FormState, item: Item, sent: Counter[str]) -> str:
    stored = state.stored.get(item.code)
    mark = ""
    if not item.asked:
        shown = format_value(item, state.value(item.code)) or say("review_empty")
    elif stored is None:
        shown = say("review_empty")
        mark = say("review_missing") if item.required else ""
    elif stored.skipped:
        shown = say("review_skipped")
    else:
        shown = format_value(item, stored.value)
        broken = state.broken_rules(item.code)
        if any(c.warning and c.constraint.rule in stored.kept for c in broken):
            mark = say("review_kept_warning")
        if any(not (c.warning and c.constraint.rule in stored.kept) for c in broken):
            mark = say("review_conflict")
    if item.evidence and (sent[item.code] or wants_evidence(item, state.value(item.code))):
        evidence = say("review_evidence", count=sent[item.code], required=item.evidence)
        mark = f"{mark} {evidence}".strip()
    return say(
        "review_line",
        code=item.code,
        label=_short(item.label, LABEL_CHARS),
        value=_short(shown, VALUE_CHARS),
        mark=mark,
    )


def _pages(lines: list[str]) -> list[list[str]]:
    pages: list[list[str]] = [[]]
    used = 0
    for line in lines:
        line = _short(line, PAGE_CHARS)
        if pages[-1] and used + len(line) + 1 > PAGE_CHARS:
            pages.append([])
            used = 0
        pages[-1].append(line)
        used += len(line) + 1
    return pages


def _counts(state: FormState, section: Section) -> dict[str, int]:
    done = total = missing = warned = 0
    for item in section.items:
        if not item.asked or not state.applies[item.code]:
            continue
        total += 1
        stored = state.stored.get(item.code)
        if stored is None:
            missing += item.required
            continue
        done += 1
        if any(c.warning for c in state.broken_rules(item.code)):
            warned += 1
    return {"done": done, "total": total, "missing": missing, "warned": warned}


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split()) if "\n" not in text else text
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def progress(turn: Turn, argument: str = "") -> list[Outbound]:
    """``/tiendo``: answered questions per section, then the current question again."""
    state = turn.state
    done, total = state.totals()
    percent = round(100 * done / total) if total else 100
    rows = [
        {"number": row.number, "title": _short(row.title, TITLE_CHARS), "done": row.done}
        | {"total": row.total}
        for row in state.progress()
    ]
    text = say("progress", done=done, total=total, percent=percent, sections=rows, year=turn.year)
    replies = [Outbound(text, informational=True)]
    if turn.submission_status in EDITABLE_STATUSES and turn.phase != "confirming":
        # The same question again, still open: a channel leaves the pressed one as it is.
        replies += [replace(reply, informational=True) for reply in ask_current(turn, [])]
    return replies


# The whole form on one web page (bot.web.review) ---------------------------------------------


@dataclass(frozen=True)
class ItemView:
    """One item of the review page: what it shows and what to type to change it."""

    code: str
    label: str
    value: str  # as the bot writes it; "—" when there is no answer
    computed: bool
    missing: bool  # required and not answered yet
    skipped: bool
    kept: tuple[str, ...]  # warnings the person kept ("Vẫn giữ"), as the reviewer sees them
    conflicts: tuple[str, ...]  # rules the answer breaks that still need a fix
    edit: str | None  # "/sua 3.2.a"; None for computed items


@dataclass(frozen=True)
class SectionView:
    number: int
    title: str
    done: int
    total: int
    missing: int
    warned: int
    items: tuple[ItemView, ...]


def whole_form(spec: FormSpec, state: FormState) -> list[SectionView]:
    """Every section with the items that apply, for the read-only review page."""
    sections = []
    for section in spec.sections:
        items = tuple(_item_view(state, i) for i in section.items if state.applies[i.code])
        sections.append(
            SectionView(section.number, section.title, items=items, **_counts(state, section))
        )
    return sections


def _item_view(state: FormState, item: Item) -> ItemView:
    stored = state.stored.get(item.code)
    kept: list[str] = []
    conflicts: list[str] = []
    if not item.asked:
        shown = format_value(item, state.value(item.code)) or say("review_empty")
    elif stored is None:
        shown = say("review_empty")
    elif stored.skipped:
        shown = say("review_skipped")
    else:
        shown = format_value(item, stored.value)
        for broken in state.broken_rules(item.code):
            keeps = broken.warning and broken.constraint.rule in stored.kept
            (kept if keeps else conflicts).append(state.message(broken.constraint))
    return ItemView(
        code=item.code,
        label=item.label,
        value=shown,
        computed=not item.asked,
        missing=item.asked and item.required and stored is None,
        skipped=stored is not None and stored.skipped,
        kept=tuple(kept),
        conflicts=tuple(conflicts),
        edit=f"/sua {item.code}" if item.asked else None,
    )

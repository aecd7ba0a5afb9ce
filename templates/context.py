"""One context per submission, from which the HTML, PDF and DOCX documents are rendered.

The context is plain data (dicts, lists, strings) in the order of the printed form: the header
block, MỤC 1–8 as blocks (a line per item, a heading, a note, or a printed table), the
place–date line, the signature blocks and the score summary. Values are already written the
Vietnamese way; an empty string is an unanswered item, which the templates print as a dotted
blank; an item that does not apply says so ("không áp dụng").

How a printed table is filled comes from the spec (``tables:`` columns with their roles, and
each item's ``table``, ``row`` and ``column``); see ``dialogs/forms/README.md``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from dialogs.evidence import megabytes
from dialogs.kinds import format_value
from dialogs.numbers import format_number
from dialogs.scoring import ScoreCard
from dialogs.snapshot import Snapshot
from dialogs.spec import Column, FormSpec, Heading, Item, Note, Section, Table
from dialogs.state import FormState
from templates.layout import (
    BODY_PT,
    HEADER_LEFT_MM,
    HEADER_PT,
    TEXT_WIDTH_MM,
    TITLE_PT,
    break_name,
    text_width_mm,
)
from templates.wording import form_settings, phrase, wording

BOX_ON = "☒"
BOX_OFF = "☐"
# Characters that XML 1.0 (DOCX) cannot carry; newlines and tabs stay.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
# The place–date line is in Vietnam's time (UTC+7, no daylight saving); times are stored in UTC.
VIETNAM = timezone(timedelta(hours=7))
# Options printed on one line when their labels are this short together.
INLINE_OPTIONS = 70
# The rule under the issuing body's name: this share of its line (Nghị định 30: 1/3 to 1/2).
UNIT_RULE_SHARE = 0.4


def safe_text(text: Any) -> str:
    """User text as it can go into any of the documents (escaping is the templates' job)."""
    if text is None:
        return ""
    text = unicodedata.normalize("NFC", str(text)).replace("\r\n", "\n").replace("\r", "\n")
    return _NOT_XML.sub("", text).strip()


def _parent(code: str) -> str:
    return code.rsplit(".", 1)[0]


def _depth(code: str) -> int:
    return code.count(".")


def _value(item: Item, state: FormState) -> str:
    return safe_text(format_value(item, state.value(item.code), with_unit=False))


def _box(ticked: bool) -> str:
    return BOX_ON if ticked else BOX_OFF


# Lines ---------------------------------------------------------------------------------------


def _options(item: Item, value: Any) -> list[dict]:
    chosen = value if isinstance(value, list) else [value]
    return [
        {"box": _box(value is not None and option in chosen), "label": label}
        for option, label in item.choices()
    ]


def _marker(entry: Item | Heading) -> str:
    """As printed: the spec's ``marker`` when it has one, else "1." under a MỤC, "a." under
    a numbered line and a dash below that."""
    if entry.marker is not None:
        return entry.marker
    depth, last = _depth(entry.code), entry.code.rsplit(".", 1)[-1]
    if depth == 1 or (depth == 2 and last.isalpha()):
        return f"{last}."
    return "-"


def _line(item: Item, state: FormState) -> dict:
    applies = state.applies[item.code]
    value = state.value(item.code)
    options = _options(item, value) if item.choices() and applies and not item.single_box else []
    inline = sum(len(o["label"]) + 3 for o in options) <= INLINE_OPTIONS
    formula = safe_text(item.formula or "") if item.calculate is not None else ""
    shows_value = applies and not options and not item.single_box
    return {
        "kind": "line",
        "code": item.code,
        "indent": min(_depth(item.code), 3),
        "marker": _marker(item),
        "box": _box(value is True) if item.single_box and applies else "",
        "label": safe_text(item.label),
        "value": _value(item, state) if shows_value else "",
        "unit": safe_text(item.unit) if shows_value and not item.percent else "",
        "show_value": shows_value,
        "na": not applies,
        "options": options,
        "options_text": "    ".join(f"{o['box']} {o['label']}" for o in options) if inline else "",
        "option_lines": [] if inline else [f"{o['box']} {o['label']}" for o in options],
        "note": safe_text(item.note),
        "formula": phrase("formula", formula=formula) if formula else "",
        "bonus": item.bonus,
        # A warning the respondent kept ("Vẫn giữ"): marked for the reviewer.
        "warning": any(c.item.code == item.code for c in state.kept_warnings()),
    }


def _heading(heading: Heading) -> dict:
    return {
        "kind": "heading",
        "code": heading.code,
        "indent": min(_depth(heading.code), 3),
        "marker": _marker(heading),
        "box": "",
        "label": safe_text(heading.heading),
        "value": "",
        "unit": "",
        "show_value": False,
        "na": False,
        "options": [],
        "options_text": "",
        "option_lines": [],
        "note": "",
        "formula": "",
        "bonus": False,
        "warning": False,
    }


def _note(note: Note, indent: int) -> dict:
    return {
        "kind": "note",
        "code": "",
        "indent": indent,
        "text": safe_text(note.note),
        "lines": [wording()["dotted_line"]] * note.lines,
    }


# Tables --------------------------------------------------------------------------------------


def _index_label(row: str) -> str:
    """The printed row number: "a" for row "2.a", "5.1" for row "5.1"."""
    last = row.rsplit(".", 1)[-1]
    return last if "." in row and last.isalpha() else row


def _column_title(column: Column, year: int) -> str:
    if column.year is None:
        return safe_text(column.title)
    if column.group:
        return str(year + column.year)
    return phrase("year_column", year=year + column.year)


def _column_class(spec: FormSpec, name: str, column: Column) -> str:
    """The CSS/DOCX width class of a column: its role, text answers wider than numbers."""
    if column.role != "answer":
        return column.role
    if column.year is not None:
        return "year"
    texts = any(i.type.free_text for i in spec.items if i.table == name and i.column == column.key)
    return "answer-text" if texts else "answer"


def _header(table: Table, year: int) -> tuple[list[str], list[dict]]:
    """(the column titles, the groups printed over them: title, first column, span)."""
    titles = [_column_title(column, year) for column in table.columns]
    groups: list[dict] = []
    for position, column in enumerate(table.columns):
        if column.group is None:
            continue
        if groups and groups[-1]["title"] == column.group and groups[-1]["end"] == position:
            groups[-1]["span"] += 1
            groups[-1]["end"] += 1
        else:
            groups.append(
                {"title": column.group, "start": position, "span": 1, "end": position + 1}
            )
    return titles, groups


def _head_rows(titles: list[str], groups: list[dict]) -> list[list[dict]]:
    """The header rows as printed (HTML): one row, or with groups two, the group titles
    spanning their columns and the other titles spanning both rows."""
    if not groups:
        return [[{"text": t, "colspan": 1, "rowspan": 1} for t in titles]]
    top: list[dict] = []
    bottom: list[dict] = []
    for position, title in enumerate(titles):
        group = next((g for g in groups if g["start"] <= position < g["end"]), None)
        if group is None:
            top.append({"text": title, "colspan": 1, "rowspan": 2})
        else:
            if position == group["start"]:
                top.append({"text": group["title"], "colspan": group["span"], "rowspan": 1})
            bottom.append({"text": title, "colspan": 1, "rowspan": 1})
    return [top, bottom]


def _table(spec: FormSpec, state: FormState, name: str, run: list, year: int) -> dict:
    table = spec.tables[name]
    rows: list[dict] = []
    by_key: dict[str, dict] = {}
    for entry in run:
        key = entry.row or entry.code
        row = by_key.get(key)
        if row is None:
            row = {"key": key, "heading": None, "items": []}
            by_key[key] = row
            rows.append(row)
        if isinstance(entry, Heading):
            row["heading"] = entry
        else:
            row["items"].append(entry)
    titles, groups = _header(table, year)
    return {
        "kind": "table",
        "table": name,
        "columns": titles,
        "groups": groups,
        "head": _head_rows(titles, groups),
        "roles": [_column_class(spec, name, column) for column in table.columns],
        "rows": [_table_row(table, row, state) for row in rows],
    }


def bodies(rows: list[dict]) -> list[dict]:
    """The rows of a printed table in bodies: a group row and the row after it in a body of
    their own (printed on one page, so a group row does not end a page), the others in plain
    bodies that may break between rows. WeasyPrint always places a table's first body under
    its header, so a group row that opens the table stays in a plain body."""
    found: list[dict] = []
    for position, row in enumerate(rows):
        following = rows[position + 1] if position + 1 < len(rows) else None
        if found and found[-1]["keep"] and len(found[-1]["rows"]) == 1:
            found[-1]["rows"].append(row)
        elif row["group"] and following is not None and position > 0:
            found.append({"keep": True, "rows": [row]})
        elif found and not found[-1]["keep"]:
            found[-1]["rows"].append(row)
        else:
            found.append({"keep": False, "rows": [row]})
    return found


def _table_row(table: Table, row: dict, state: FormState) -> dict:
    roles = table.roles()
    heading: Heading | None = row["heading"]
    items: list[Item] = row["items"]
    if not items:  # a printed group row ("2 | Thông tin chỉ đạo, điều hành")
        cells = [_index_label(row["key"]) if r == "index" else "" for r in roles]
        if "label" in roles:
            cells[roles.index("label")] = safe_text(heading.heading if heading else "")
        return {"group": True, "cells": cells, "codes": [], "span": None}
    free = [i for i in items if i.column is None]
    choice = next((i for i in free if i.choices()), None)
    number = next((i for i in free if i.type.is_number), None)
    single_answer = len(table.answer_columns) == 1
    label = safe_text(heading.heading if heading else (free or items)[0].label)
    for item in free:  # typed text without a column of its own goes after the row's text
        if item.type.free_text and state.applies[item.code] and _value(item, state):
            label = f"{label}: {_value(item, state)}"
    cells = []
    for column in table.columns:
        cell = ""
        if column.role == "index":
            cell = _index_label(row["key"])
        elif column.role == "label":
            cell = label
        elif column.role == "unit":
            unit = next((i.unit for i in items if i.unit), None)
            cell = safe_text(unit[:1].upper() + unit[1:]) if unit else ""
        elif column.role == "check" and choice is not None and state.applies[choice.code]:
            value = state.value(choice.code)
            chosen = value if isinstance(value, list) else [value]
            cell = _box(value is not None and column.value in chosen)
        elif column.role == "answer":
            source = next(
                (i for i in items if i.column is not None and i.column == column.key), None
            )
            if source is None and single_answer:
                source = number
            if source is not None and state.applies[source.code]:
                cell = _value(source, state)
        cells.append(cell)
    span = None
    if not any(state.applies[i.code] for i in items):
        # Nothing of the row applies: one cell says so where the answers would be.
        start = next(n for n, r in enumerate(roles) if r in ("check", "answer"))
        span = [start, len(roles) - start]
        cells[start:] = [wording()["not_applicable"]] + [""] * (len(roles) - start - 1)
    warned = {c.item.code for c in state.kept_warnings()}
    if "label" in roles and any(item.code in warned for item in items):
        cells[roles.index("label")] += " ⚠"  # a warning the respondent kept, for the reviewer
    return {"group": False, "cells": cells, "codes": [i.code for i in items], "span": span}


# Checklist (Kế hoạch 655 targets) ------------------------------------------------------------


def _checklist(section: Section, state: FormState) -> dict:
    words = wording()
    rows = []
    for entry in section.entries:
        if isinstance(entry, Heading):
            cells = [entry.code, safe_text(entry.heading), "", "", ""]
            rows.append({"group": True, "cells": cells, "codes": [], "span": None})
            continue
        value = state.value(entry.code)
        applies = state.applies[entry.code]
        shown = safe_text(format_value(entry, value))
        if entry.choices():
            shown = "\n".join(f"{o['box']} {o['label']}" for o in _options(entry, value))
        if not applies:
            shown = words["not_applicable"]
        label = safe_text(entry.label)
        if entry.calculate is not None and entry.formula:
            label = f"{label}\n{phrase('formula', formula=safe_text(entry.formula))}"
        verdict = ""
        if entry.target is not None and applies:
            met = entry.target.met(value)
            verdict = "" if met is None else words["met"] if met else words["not_met"]
        target = safe_text(entry.target.text) if entry.target else ""
        cells = [entry.code, label, shown, target, verdict]
        rows.append({"group": False, "cells": cells, "codes": [entry.code], "span": None})
    return {
        "kind": "table",
        "table": "checklist",
        "columns": [safe_text(c) for c in words["checklist_columns"]],
        "groups": [],
        "head": _head_rows([safe_text(c) for c in words["checklist_columns"]], []),
        "roles": ["code", "label", "value", "target", "verdict"],
        "rows": rows,
    }


# Sections ------------------------------------------------------------------------------------


def section_blocks(spec: FormSpec, state: FormState, section: Section, year: int) -> list[dict]:
    if any(item.target is not None for item in section.items):
        return [_checklist(section, state)]
    printed = section.printed
    blocks: list[dict] = []
    index = 0
    while index < len(printed):
        entry = printed[index]
        table = None if isinstance(entry, Note) else entry.table
        if table and table in spec.tables:
            run = []
            while (
                index < len(printed)
                and not isinstance(printed[index], Note)
                and printed[index].table == table
            ):
                run.append(printed[index])
                index += 1
            blocks.append(_table(spec, state, table, run, year))
            continue
        if isinstance(entry, Note):
            indent = next((b["indent"] for b in reversed(blocks) if b["kind"] != "table"), 1)
            blocks.append(_note(entry, 1 if blocks and blocks[-1]["kind"] == "table" else indent))
        else:
            block = _heading(entry) if isinstance(entry, Heading) else _line(entry, state)
            _adopt(block, section.entries, blocks)
            blocks.append(block)
        index += 1
    for block, following in zip(blocks, [*blocks[1:], None], strict=True):
        block["lead"] = _leads(block, following)
    return blocks


def _leads(block: dict, following: dict | None) -> bool:
    """A heading, or a line that introduces what follows (a deeper line, a table, a note,
    its own options or note), is kept on the page of what follows."""
    if block["kind"] == "table" or following is None:
        return False
    if block["kind"] == "heading" or block.get("note") or block.get("option_lines"):
        return True
    if block["kind"] == "note" and not block["text"]:
        return False
    text = block.get("label") or block.get("text") or ""
    return (
        following["kind"] in ("table", "note")
        or following["indent"] > block["indent"]
        or text.endswith(":")
    )


def _adopt(block: dict, entries: tuple, blocks: list[dict]) -> None:
    """Sub-fields of a printed line that has no entry of its own ("4. Điện thoại cố định: …
    Di động: …" is 2.4.1 and 2.4.2) print at the line's level, the first with its number."""
    code = block["code"]
    parent = _parent(code)
    if _depth(code) < 2 or any(e.code == parent for e in entries):
        return
    first = not any(
        _parent(b["code"]) == parent for b in blocks if b["kind"] in ("line", "heading")
    )
    block["indent"] = max(block["indent"] - 1, 1)
    depth, last = _depth(parent), parent.rsplit(".", 1)[-1]
    numbered = depth == 1 or (depth == 2 and last.isalpha())
    block["marker"] = (f"{last}." if numbered else "-") if first else ""


# The score summary ---------------------------------------------------------------------------


def _short(text: str, limit: int = 90) -> str:
    """A label cut at a word for the summary's rule list (the form itself prints it whole)."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:(") + "…"


def _bands(card: ScoreCard) -> str:
    """ "Tốt: từ 85 % trở lên; Khá: từ 70 % đến dưới 85 %; …; Yếu: dưới 50 %"."""
    n = format_number
    parts = []
    bands = list(card.bands)
    for position, band in enumerate(bands):
        upper = n(bands[position - 1].min) if position else ""
        if position == 0:
            parts.append(phrase("score", "band_top", name=band.name, min=n(band.min)))
        elif band.min <= 0:
            parts.append(phrase("score", "band_bottom", name=band.name, upper=upper))
        else:
            parts.append(
                phrase("score", "band_middle", name=band.name, min=n(band.min), upper=upper)
            )
    return "; ".join(parts)


def score_context(card: ScoreCard) -> dict:
    words = wording()
    n = format_number
    rubric = (
        phrase("score", "rubric", title=card.rubric_title, version=card.rubric_version)
        if card.rubric_title
        else ""
    )
    relative = sorted({r.code for r in card.rules if r.rule == "relative"})
    as_of = ""
    if relative and card.as_of is not None:
        day = card.as_of.strftime("%d/%m/%Y")
        as_of = phrase("score", "as_of", codes=", ".join(relative), day=day)
    return {
        "available": bool(card.groups),
        "title": words["score"]["title"],
        "words": words["score"],
        "rubric": rubric,
        "note": rubric,
        "bands": phrase("score", "bands", bands=_bands(card)) if card.bands else "",
        "as_of": as_of,
        "arithmetic": words["score"]["arithmetic"] if card.groups else "",
        "groups": [
            {
                "code": g.code,
                "title": safe_text(g.title),
                "points": n(g.points),
                "max": n(g.max),
                "bonus": n(g.bonus) if g.bonus else "",
            }
            for g in card.groups
        ],
        "total": n(card.total),
        "max": n(card.max),
        "index": n(round(card.index, 4), 4),
        "percent": n(card.percent),
        "class": card.klass,
        "bonus": n(card.bonus) if card.bonus else "",
        "total_line": phrase(
            "score",
            "total",
            total=n(card.total),
            max=n(card.max),
            percent=n(card.percent),
            klass=card.klass,
        ),
        "rules": [
            {
                "code": r.code,
                "group": r.group,
                "label": _short(safe_text(r.label)),
                "why": safe_text(r.why),
                "points": f"{n(r.points)}/{n(r.max)}"
                if r.counted
                else words["score"]["not_counted"],
                "bonus": r.bonus,
                "na": not r.applies,
            }
            for r in card.rules
        ],
        "targets": [
            {
                "code": t.code,
                "label": safe_text(t.label),
                "value": safe_text(t.value),
                "target": safe_text(t.target),
                "verdict": "" if t.met is None else words["met"] if t.met else words["not_met"],
                "met": t.met,
            }
            for t in card.targets
        ],
    }


# Header, date and signatures -----------------------------------------------------------------


def _local(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(VIETNAM)


def vietnam_today() -> date:
    return datetime.now(VIETNAM).date()


def date_parts(when: datetime | None) -> dict | None:
    """Day, month and year of the place–date line, in Vietnam's time; a day below 10 and the
    months 1 and 2 take a leading zero (Nghị định 30/2020)."""
    local = _local(when)
    if local is None:
        return None
    month = f"{local.month:02d}" if local.month <= 2 else str(local.month)
    return {"day": f"{local.day:02d}", "month": month, "year": str(local.year)}


def _expanded(name: str) -> str:
    """A unit's name in full: "UBND thành phố Quy Nhơn" → "Ủy ban nhân dân thành phố Quy Nhơn"."""
    for short, full in wording()["abbreviations"].items():
        name = re.sub(rf"(?<!\w){re.escape(short)}(?!\w)", full, name)
    return name


def place_of(unit_name: str) -> str:
    """The place of a commune's or a district's place–date line: its name without the words
    of its kind ("UBND phường Hương Xuân" → "Hương Xuân"; "UBND Phường 15" keeps "Phường 15")."""
    name = " ".join(unit_name.split())
    prefixes = sorted(wording()["place_prefixes"], key=len, reverse=True)
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            rest = name[len(prefix) :].strip()
            if name.lower().startswith(prefix.lower() + " ") and not rest.isdigit():
                name, changed = rest, True
    return name


def header_context(spec: FormSpec, unit: Any) -> dict:
    """The header block (Nghị định 30/2020): the parent body, the unit's full name in
    capitals broken where a person would, the rule under it; Quốc hiệu and Tiêu ngữ."""
    settings = form_settings(spec.id)
    words = wording()
    parent = (getattr(unit, "parent", None) or settings["parent"]) if settings["parent"] else ""
    width = HEADER_LEFT_MM - 2
    parent_lines = break_name(safe_text(parent).upper(), width, HEADER_PT, bold=False)
    name = _expanded(safe_text(unit.name)).upper()
    first = next((f for f in words["header_first"] if name.startswith(f + " ")), None)
    unit_lines = break_name(name, width, HEADER_PT, bold=True, first=first)
    widest = max(text_width_mm(line, HEADER_PT, bold=True) for line in unit_lines)
    return {
        "parent_lines": parent_lines if parent else [],
        "unit_lines": unit_lines,
        "rule_mm": round(widest * UNIT_RULE_SHARE, 1),
        "parent_text": "\n".join(parent_lines) if parent else "",
        "unit_text": "\n".join(unit_lines),
        "nation": words["nation"],
        "motto": words["motto"],
    }


def _head_lines(settings: dict, unit_name: str) -> list[str]:
    for head in settings["heads"]:
        if unit_name.startswith(head["starts"]):
            return list(head["lines"])
    return list(settings["head"])


def dated(context: dict, when: datetime | None) -> dict:
    """``context`` with its place–date line dated ``when`` (the submission's time)."""
    context["date"] = date_parts(when)
    if context["date"] is None:
        line = phrase("date_blank", place=context["place"])
    else:
        line = phrase("date_line", place=context["place"], **context["date"])
    for signature in context["signatures"]:
        signature["date"] = line
        signature["title"] = "\n".join(signature["lines"])
    return context


def appraisal_context(
    spec: FormSpec,
    state: FormState,
    own: ScoreCard,
    appraised_card: ScoreCard | None,
    appraisals: dict[str, Any],
) -> dict:
    """The appraised score beside the unit's own, and the appraised items (``appraisals``:
    code → ``storage.evidence.AppraisalRow``)."""
    if appraised_card is None and not appraisals:
        return {"available": False}
    words = wording()["appraisal"]
    n = format_number
    context: dict[str, Any] = {"available": True, "words": words, "total_line": "", "groups": []}
    if appraised_card is not None and appraised_card.groups:
        context["total_line"] = phrase(
            "appraisal",
            "total",
            total=n(appraised_card.total),
            max=n(appraised_card.max),
            percent=n(appraised_card.percent),
            klass=appraised_card.klass,
            own=n(own.total),
        )
        context["groups"] = [
            {
                "code": g.code,
                "title": safe_text(g.title),
                "own": n(g.points),
                "appraised": n(a.points),
            }
            for g, a in zip(own.groups, appraised_card.groups, strict=True)
        ]
    items = []
    for item in spec.items:
        row = appraisals.get(item.code)
        if row is None:
            continue
        value = item.type.from_json(row.value)
        items.append(
            {
                "code": item.code,
                "label": _short(safe_text(item.label)),
                "own": safe_text(format_value(item, state.value(item.code))),
                "appraised": safe_text(format_value(item, value))
                if value is not None
                else words["not_counted"],
                "note": safe_text(row.note),
            }
        )
    context["items"] = items
    return context


def annex_context(spec: FormSpec, evidence: list) -> dict:
    """The annex listing the evidence (item, file, size, date received), in form order;
    ``evidence``: ``storage.evidence.EvidenceInfo`` rows."""
    words = wording()["annex"]
    order = {item.code: item.index for item in spec.items}
    rows = []
    ordered = sorted(evidence, key=lambda e: (order.get(e.code, len(order)), e.id))
    for number, info in enumerate(ordered, start=1):
        item = spec.by_code.get(info.code)
        received = _local(info.received_at)
        rows.append(
            {
                "number": str(number),
                "code": info.code,
                "label": _short(safe_text(item.label if item else ""), 70),
                "name": safe_text(info.filename or info.url),
                "size": megabytes(info.size) if info.kind == "file" else words["link"],
                "date": received.strftime("%d/%m/%Y") if received else "",
            }
        )
    return {
        "title": words["title"],
        "columns": words["columns"],
        "rows": rows,
        "none": words["none"],
    }


def build_context(
    snapshot: Snapshot,
    card: ScoreCard,
    *,
    evidence: list | None = None,
    appraised: ScoreCard | None = None,
    appraisals: dict[str, Any] | None = None,
) -> dict:
    """Everything the three documents print, for one submission: the form, the score page
    (with the appraised score beside the unit's own when reviewers appraised items) and the
    annex of evidence."""
    spec, state = snapshot.spec, snapshot.state
    unit, submission = snapshot.unit, snapshot.submission
    settings = form_settings(spec.id)
    signer_item = spec.by_code.get(settings["signer_item"])
    signer = safe_text(state.value(signer_item.code)) if signer_item is not None else ""
    unit_name = safe_text(unit.name)
    words = wording()
    context = {
        "form": spec.id,
        "title": safe_text(spec.title),
        "title_text": "\n".join(break_name(safe_text(spec.title), TEXT_WIDTH_MM - 1, TITLE_PT)),
        "issued_by": safe_text(spec.issued_by),
        "issued_text": "\n".join(
            break_name(safe_text(spec.issued_by), TEXT_WIDTH_MM - 1, BODY_PT, bold=False)
        )
        if spec.issued_by
        else "",
        "unit": unit_name,
        "unit_upper": unit_name.upper(),
        "unit_label": safe_text(spec.unit_label),
        "header": header_context(spec, unit),
        "year": submission.year,
        "status": submission.status,
        "words": {"blank": words["blank"], "not_applicable": words["not_applicable"]},
        "sections": [
            {
                "number": section.number,
                "title": safe_text(section.title),
                "heading": "\n".join(
                    break_name(
                        phrase("section", number=section.number, title=section.title),
                        TEXT_WIDTH_MM - 1,
                        BODY_PT,
                    )
                ),
                "blocks": section_blocks(spec, state, section, submission.year),
            }
            for section in spec.sections
        ],
        "place": settings["place"] or place_of(unit_name),
        "signatures": [
            {
                "date": "",
                "lines": list(settings["signer"]),
                "note": settings["signer_note"],
                "name": signer,
            },
            {
                "date": "",
                "lines": _head_lines(settings, unit_name),
                "note": settings["head_note"],
                "name": "",
            },
        ],
        "score": score_context(card),
        "score_json": card.as_json(),
        "appraisal": appraisal_context(spec, state, card, appraised, appraisals or {}),
        "appraised_json": appraised.as_json() if appraised is not None else None,
        "annex": annex_context(spec, evidence or []),
    }
    context["score"]["unit_year"] = phrase(
        "score", "unit_year", unit=unit_name, year=submission.year
    )
    _year_codes(spec, context["score"], submission.year)
    return dated(context, submission.submitted_at)


def _year_codes(spec: FormSpec, score: dict, year: int) -> None:
    """Answers in a year column are shown by their row and year ("4.2.1 (2020)"), as the form
    prints them, not by their code ("4.2.1.curr")."""
    shown = {
        item.code: f"{_parent(item.code)} ({year + item.year_offset})"
        for item in spec.items
        if item.year_offset is not None
    }
    for rule in score["rules"]:
        for code, text in shown.items():
            rule["why"] = rule["why"].replace(f"{code} =", f"{text} =")
        rule["code"] = shown.get(rule["code"], rule["code"])

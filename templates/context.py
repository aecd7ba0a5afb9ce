"""One context per submission, from which the HTML, PDF and DOCX documents are rendered.

The context is plain data (dicts, lists, strings) in the order of the printed form: the header,
MỤC 1–8 as blocks (a line per item, a heading, or a printed table), the place–date line, the
signature block and the score summary. Values are already written the Vietnamese way; an empty
string is an unanswered item, which the templates print as a dotted blank.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dialogs.kinds import format_value
from dialogs.numbers import format_number
from dialogs.scoring import ScoreCard
from dialogs.snapshot import Snapshot
from dialogs.spec import FormSpec, Heading, Item, Section
from dialogs.state import FormState
from templates.wording import form_settings, phrase, wording

BOX_ON = "☒"
BOX_OFF = "☐"
# Extra columns of a table row (see dialogs/forms/README.md): not a row of their own.
ROW_SUFFIXES = ("sl", "ten", "ncc", "tinhnang", "vb", "prev", "curr")
# Characters that XML 1.0 (DOCX) cannot carry; newlines and tabs stay.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
# The place–date line is in Vietnam's time (UTC+7, no daylight saving); times are stored in UTC.
VIETNAM = timezone(timedelta(hours=7))
# Options printed on one line when their labels are this short together.
INLINE_OPTIONS = 70


def safe_text(text: Any) -> str:
    """User text as it can go into any of the documents (escaping is the templates' job)."""
    if text is None:
        return ""
    text = unicodedata.normalize("NFC", str(text)).replace("\r\n", "\n").replace("\r", "\n")
    return _NOT_XML.sub("", text).strip()


def _suffix(code: str) -> str | None:
    last = code.rsplit(".", 1)[-1]
    return last if last in ROW_SUFFIXES else None


def _parent(code: str) -> str:
    return code.rsplit(".", 1)[0]


def _depth(code: str) -> int:
    return code.count(".")


def _value(item: Item, state: FormState) -> str:
    return safe_text(format_value(item, state.value(item.code), with_unit=False))


# Lines ---------------------------------------------------------------------------------------


def _options(item: Item, value: Any) -> list[dict]:
    chosen = value if isinstance(value, list) else [value]
    return [
        {"box": BOX_ON if value is not None and option in chosen else BOX_OFF, "label": label}
        for option, label in item.choices()
    ]


def _marker(code: str, suffix: str | None) -> str:
    """As printed: "1." under a MỤC, "a." under a numbered line, a dash below that; the
    codes' extra numbers (follow-ups, sub-fields) and columns were never printed."""
    if suffix:
        return ""
    depth, last = _depth(code), code.rsplit(".", 1)[-1]
    if depth == 1 or (depth == 2 and last.isalpha()):
        return f"{last}."
    return "-"


def _line(item: Item, state: FormState) -> dict:
    suffix = _suffix(item.code)
    value = state.value(item.code)
    options = _options(item, value) if item.choices() else []
    inline = sum(len(o["label"]) + 3 for o in options) <= INLINE_OPTIONS
    formula = safe_text(item.formula or item.calculate) if item.calculate else ""
    return {
        "kind": "line",
        "code": item.code,
        "indent": min(_depth(item.code) + (1 if suffix else 0), 3),
        "marker": _marker(item.code, suffix),
        "label": safe_text(item.label),
        "value": "" if options else _value(item, state),
        "unit": safe_text(item.unit) if not options else "",
        "show_value": not options,
        "options": options,
        "options_text": "    ".join(f"{o['box']} {o['label']}" for o in options) if inline else "",
        "option_lines": [] if inline else [f"{o['box']} {o['label']}" for o in options],
        "formula": formula,
        "bonus": item.bonus,
        # A warning the respondent kept ("Vẫn giữ"): marked for the reviewer.
        "warning": any(c.item.code == item.code for c in state.kept_warnings()),
    }


def _heading(heading: Heading) -> dict:
    return {
        "kind": "heading",
        "code": heading.code,
        "indent": min(_depth(heading.code), 3),
        "marker": _marker(heading.code, None),
        "label": safe_text(heading.heading),
        "value": "",
        "unit": "",
        "show_value": False,
        "options": [],
        "options_text": "",
        "option_lines": [],
        "formula": "",
        "bonus": False,
        "warning": False,
    }


# Tables --------------------------------------------------------------------------------------


def _table_of(entries: tuple, index: int) -> str | None:
    """The printed table an entry belongs to. A heading belongs to the table of the item after
    it when it is that item's parent and either groups sub-rows ("2 | Thông tin chỉ đạo…" over
    rows 2.a, 2.b) or names a row made only of extra columns ("1 | Quản lý nhân sự")."""
    entry = entries[index]
    if isinstance(entry, Item):
        return entry.table
    following = entries[index + 1] if index + 1 < len(entries) else None
    if not isinstance(following, Item) or not following.table:
        return None
    if _parent(following.code) != entry.code:
        return None
    if (following.row and "." in following.row) or _suffix(following.code):
        return following.table
    return None


def _row_key(item: Item) -> str:
    return item.row if item.row else (_parent(item.code) if _suffix(item.code) else item.code)


def _index_label(row: str | None) -> str:
    if not row:
        return ""
    last = row.rsplit(".", 1)[-1]
    return last if "." in row and last.isalpha() else row


def _column_roles(spec: FormSpec, table: str) -> list[str]:
    roles = wording()["columns"]
    return [roles.get(title.strip(), "text") for title in spec.tables[table].columns]


def _column_titles(spec: FormSpec, table: str, year: int) -> list[str]:
    titles = []
    for title, role in zip(spec.tables[table].columns, _column_roles(spec, table), strict=True):
        if role == "prev":
            title = phrase("year_column", year=year - 1)
        elif role == "curr":
            title = phrase("year_column", year=year)
        titles.append(safe_text(title))
    return titles


def _table(spec: FormSpec, state: FormState, table: str, run: list, year: int) -> dict:
    roles = _column_roles(spec, table)
    rows: list[dict] = []
    by_key: dict[str, dict] = {}
    pending_label: str | None = None
    for position, entry in enumerate(run):
        if isinstance(entry, Heading):
            following = run[position + 1]
            if following.row and "." in following.row and not _suffix(following.code):
                group_row = following.row.rsplit(".", 1)[0]
                rows.append({"group": True, "index": group_row, "label": entry.heading})
            else:
                pending_label = entry.heading
            continue
        key = _row_key(entry)
        row = by_key.get(key)
        if row is None:
            row = {"group": False, "index": _index_label(entry.row), "items": [], "label": None}
            by_key[key] = row
            rows.append(row)
        if pending_label is not None:
            row["label"] = pending_label
            pending_label = None
        row["items"].append(entry)
    return {
        "kind": "table",
        "table": table,
        "columns": _column_titles(spec, table, year),
        "roles": roles,
        "rows": [_table_row(row, roles, state) for row in rows],
    }


def _table_row(row: dict, roles: list[str], state: FormState) -> dict:
    if row["group"]:
        cells = [row["index"] if r == "index" else "" for r in roles]
        cells[roles.index("label") if "label" in roles else 0] = safe_text(row["label"])
        return {"group": True, "cells": cells, "codes": []}
    items: list[Item] = row["items"]
    main = next((i for i in items if not _suffix(i.code)), None)
    extra = {_suffix(i.code): i for i in items if _suffix(i.code)}
    used: set[str] = set()
    cells = []
    for role in roles:
        cell = ""
        if role == "index":
            cell = row["index"]
        elif role == "unit":
            unit = next((i.unit for i in items if i.unit), None)
            cell = safe_text(unit[:1].upper() + unit[1:]) if unit else ""
        elif role in ("yes", "no") and main is not None and main.kind == "yes_no":
            value = state.value(main.code)
            ticked = value is (role == "yes")
            cell = BOX_ON if value is not None and ticked else BOX_OFF
            used.add(main.code)
        elif role in ("hoan_chinh", "dang_thu_nghiem", "chua_co") and main is not None:
            cell = BOX_ON if state.value(main.code) == role else BOX_OFF
            used.add(main.code)
        elif role == "quantity":
            source = extra.get("sl") or (main if main is not None and main.kind != "text" else None)
            if source is not None:
                cell = _value(source, state)
                used.add(source.code)
        elif role in ("prev", "curr", "ten", "ncc", "tinhnang", "vb") and role in extra:
            cell = _value(extra[role], state)
            used.add(extra[role].code)
        cells.append(cell)
    if "label" in roles:
        label_item = main or items[0]
        label = safe_text(row["label"] or label_item.label)
        if main is not None and main.code not in used and row["label"] is None:
            used.add(main.code)
            if main.kind == "text" and _value(main, state):
                label = f"{label}: {_value(main, state)}"
        # Answers without a column of their own go next to the row's text.
        for item in items:
            if item.code not in used and item is not main and _value(item, state):
                label = f"{label}: {_value(item, state)}"
        warned = {c.item.code for c in state.kept_warnings()}
        if any(item.code in warned for item in items):
            label += " ⚠"  # a warning the respondent kept, for the reviewer
        cells[roles.index("label")] = label
    return {"group": False, "cells": cells, "codes": [item.code for item in items]}


# Checklist (Kế hoạch 655 targets) ------------------------------------------------------------


def _checklist(section: Section, state: FormState) -> dict:
    words = wording()
    rows = []
    for entry in section.entries:
        if isinstance(entry, Heading):
            cells = [entry.code, safe_text(entry.heading), "", "", ""]
            rows.append({"group": True, "cells": cells, "codes": []})
            continue
        value = state.value(entry.code)
        shown = safe_text(format_value(entry, value))
        if entry.choices():
            shown = "\n".join(f"{o['box']} {o['label']}" for o in _options(entry, value))
        label = safe_text(entry.label)
        if entry.calculate:
            label = f"{label}\n({safe_text(entry.formula or entry.calculate)})"
        verdict = ""
        if entry.target is not None:
            met = entry.target.met(value)
            verdict = "" if met is None else words["met"] if met else words["not_met"]
        target = safe_text(entry.target.text) if entry.target else ""
        cells = [entry.code, label, shown, target, verdict]
        rows.append({"group": False, "cells": cells, "codes": [entry.code]})
    columns = [safe_text(c) for c in words["checklist_columns"]]
    return {
        "kind": "table",
        "table": "checklist",
        "columns": columns,
        "roles": ["code", "label", "value", "text", "verdict"],
        "rows": rows,
    }


# Sections ------------------------------------------------------------------------------------


def section_blocks(spec: FormSpec, state: FormState, section: Section, year: int) -> list[dict]:
    if any(item.target is not None for item in section.items):
        return [_checklist(section, state)]
    entries = section.entries
    blocks: list[dict] = []
    index = 0
    while index < len(entries):
        table = _table_of(entries, index)
        if table and table in spec.tables:
            run = []
            while index < len(entries) and _table_of(entries, index) == table:
                run.append(entries[index])
                index += 1
            blocks.append(_table(spec, state, table, run, year))
            continue
        entry = entries[index]
        block = _heading(entry) if isinstance(entry, Heading) else _line(entry, state)
        _adopt(block, entries, blocks)
        blocks.append(block)
        index += 1
    return blocks


def _adopt(block: dict, entries: tuple, blocks: list[dict]) -> None:
    """Sub-fields of a printed line that has no entry of its own ("4. Điện thoại cố định: …
    Di động: …" is 2.4.1 and 2.4.2) print at the line's level, the first with its number."""
    code = block["code"]
    parent = _parent(code)
    if _depth(code) < 2 or _suffix(code) or any(e.code == parent for e in entries):
        return
    first = not any(_parent(b["code"]) == parent for b in blocks if b["kind"] != "table")
    block["indent"] = max(block["indent"] - 1, 1)
    block["marker"] = _marker(parent, None) if first else ""


def _short(text: str, limit: int = 90) -> str:
    """A label cut at a word for the summary's rule list (the form itself prints it whole)."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:(") + "…"


def score_context(card: ScoreCard) -> dict:
    words = wording()
    n = format_number
    return {
        "available": bool(card.groups),
        "rubric": card.rubric,
        "note": phrase("score_note", rubric=card.rubric),
        "groups": [
            {
                "code": g.code,
                "title": safe_text(g.title),
                "points": n(round(g.points, 2)),
                "max": n(g.max),
                "bonus": n(round(g.bonus, 2)) if g.bonus else "",
            }
            for g in card.groups
        ],
        "total": n(round(card.total, 2)),
        "max": n(card.max),
        "index": n(round(card.index, 4), 4),
        "percent": n(round(card.index * 100, 1), 1),
        "class": card.klass,
        "bonus": n(round(card.bonus, 2)),
        "rules": [
            {
                "code": r.code,
                "group": r.group,
                "label": _short(safe_text(r.label)),
                "why": safe_text(r.why),
                "points": n(round(r.points, 2)),
                "max": n(r.max),
                "bonus": r.bonus,
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


def _local(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(VIETNAM)


def date_parts(when: datetime | None) -> dict | None:
    """Day, month and year of the place–date line, in Vietnam's time."""
    local = _local(when)
    if local is None:
        return None
    return {"day": f"{local.day:02d}", "month": f"{local.month:02d}", "year": str(local.year)}


def build_context(snapshot: Snapshot, card: ScoreCard) -> dict:
    """Everything the three documents print, for one submission."""
    spec, state = snapshot.spec, snapshot.state
    unit, submission = snapshot.unit, snapshot.submission
    settings = form_settings(spec.id)
    signer_item = spec.by_code.get(settings["signer_item"])
    signer = safe_text(state.value(signer_item.code)) if signer_item is not None else ""
    unit_name = safe_text(unit.name)
    return {
        "form": spec.id,
        "title": safe_text(spec.title),
        "issued_by": safe_text(spec.issued_by),
        "unit": unit_name,
        "unit_upper": unit_name.upper(),
        "unit_label": safe_text(spec.unit_label),
        "year": submission.year,
        "status": submission.status,
        "sections": [
            {
                "number": section.number,
                "title": safe_text(section.title),
                "blocks": section_blocks(spec, state, section, submission.year),
            }
            for section in spec.sections
        ],
        "place": settings["place"],
        "date": date_parts(submission.submitted_at),
        "signer": {
            "title": settings["signer_title"],
            "note": settings["signer_note"],
            "name": signer,
        },
        "head": {"title": settings["head_title"], "note": settings["head_note"]},
        "score": score_context(card),
        "score_json": card.as_json(),
    }

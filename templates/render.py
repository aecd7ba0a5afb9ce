"""The documents of a submission: HTML (Jinja), PDF (WeasyPrint from that HTML) and DOCX
(docxtpl from ``form.docx``), all from one context (``templates.context.build_context``).

For the engine: ``submission_documents(database)`` is the ``render_documents`` callable that
sends the DOCX and the PDF after a submission is confirmed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from copy import deepcopy
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Mm
from docxtpl import DocxTemplate, Listing
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from dialogs.campaigns import campaign_best
from dialogs.messages import Document
from dialogs.reviewing import snapshot_scores
from dialogs.scoring import ScoreCard, rubric_for, score
from dialogs.snapshot import Snapshot, load_snapshot
from dialogs.spec import FormSpec
from dialogs.text import fold
from storage import evidence as evidence_store
from storage.db import Database
from templates.context import bodies, build_context, dated, vietnam_today
from templates.layout import HEADER_LEFT_MM, TEXT_WIDTH_MM

TEMPLATES_DIR = Path(__file__).parent
DOCX_TEMPLATE = TEMPLATES_DIR / "form.docx"
FORMATS = ("html", "pdf", "docx")
MIME_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# Column widths (cm) of the printed tables in the DOCX by the column's class (as in form.css);
# the label column takes the rest.
TEXT_WIDTH_CM = TEXT_WIDTH_MM / 10
ROLE_WIDTHS_CM = {
    "index": 1.2,
    "code": 1.8,
    "unit": 2.0,
    "check": 1.8,
    "answer": 2.6,
    "year": 2.2,
    "answer-text": 3.0,
    "value": 3.0,
    "target": 3.2,
    "verdict": 2.0,
}
CENTERED_ROLES = {"index", "code", "unit", "check", "verdict"}
RIGHT_ROLES = {"answer", "year"}
# WeasyPrint shares Pango/fontconfig state: one PDF at a time per process.
_pdf_lock = threading.Lock()


# Loading -------------------------------------------------------------------------------------


async def load_scored(
    session, submission_id: int, forms: dict[str, FormSpec] | None = None
) -> tuple[Snapshot, ScoreCard] | None:
    """The submission and its score card (relative rules against its campaign as it stands
    today, and dated today)."""
    snapshot = await load_snapshot(session, submission_id, forms)
    if snapshot is None:
        return None
    rubric = rubric_for(snapshot.spec)
    best = await campaign_best(session, snapshot.spec, snapshot.submission.year, rubric)
    card = score(snapshot.spec, snapshot.state, rubric, best, as_of=vietnam_today())
    return snapshot, card


async def submission_context(
    database: Database, submission_id: int, forms: dict[str, FormSpec] | None = None
) -> dict | None:
    """The context of one submission; None when there is no such submission. ``forms``: the
    specs to read it with (default: the built-in forms). The score page shows the appraised
    score beside the unit's own when reviewers appraised items; the annex lists the evidence."""
    async with database.session() as session:
        snapshot = await load_snapshot(session, submission_id, forms)
        if snapshot is None:
            return None
        pair, rows = await snapshot_scores(session, snapshot, as_of=vietnam_today())
        evidence = (await evidence_store.list_evidence(session, [submission_id]))[submission_id]
    return build_context(
        snapshot, pair.own, evidence=evidence, appraised=pair.appraised, appraisals=rows
    )


# HTML and PDF --------------------------------------------------------------------------------


def _lines(text: Any) -> Markup:
    """Escaped text with its line breaks kept (``white-space: pre-line`` costs WeasyPrint a
    lot of layout time on every cell)."""
    return Markup("<br>").join(escape(str(text)).split("\n"))


@cache
def _html_environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["lines"] = _lines
    environment.filters["bodies"] = bodies
    return environment


def render_html(context: dict) -> str:
    return _html_environment().get_template("form.html.j2").render(**context)


@cache
def _text_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_score_text(context: dict) -> str:
    """The score summary as plain text (``formbot score``)."""
    return _text_environment().get_template("score.txt.j2").render(**context).rstrip() + "\n"


@cache
def _font_config():
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def render_pdf(context: dict) -> bytes:
    from weasyprint import HTML

    html = render_html(context)
    with _pdf_lock:  # also guards the shared font configuration
        document = HTML(string=html, base_url=str(TEMPLATES_DIR))
        return document.write_pdf(font_config=_font_config())


# DOCX ----------------------------------------------------------------------------------------


@cache
def _docx_template_bytes() -> bytes:
    return DOCX_TEMPLATE.read_bytes()


def _docx_values(value: Any) -> Any:
    """Multi-line text becomes line breaks in Word (docxtpl ``Listing`` escapes it too)."""
    if isinstance(value, str):
        return Listing(value) if "\n" in value else value
    if isinstance(value, dict):
        return {key: _docx_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_docx_values(item) for item in value]
    return value


def render_docx(context: dict) -> bytes:
    template = DocxTemplate(BytesIO(_docx_template_bytes()))
    template.render(_docx_values(context), jinja_env=Environment(), autoescape=True)
    _shape_header(template.docx, context)
    _shape_tables(template.docx, context)
    _append_appraisal(template.docx, context)
    _append_annex(template.docx, context)
    output = BytesIO()
    template.save(output)
    return output.getvalue()


def _grid(document, columns: list[str], rows: list[list[str]], widths_cm: list[float]):
    """A bordered table with a bold header row, added at the end of the document."""
    table = document.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    table.autofit = False
    for cell, text in zip(table.rows[0].cells, columns, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for values in rows:
        for cell, text in zip(table.add_row().cells, values, strict=True):
            cell.text = text
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm, strict=True):
            cell.width = Cm(width)
    return table


def _append_appraisal(document, context: dict) -> None:
    """The appraised score beside the unit's own, after the score page (the Word template
    has no place for it: it is only there when a reviewer appraised items)."""
    appraisal = context["appraisal"]
    if not appraisal["available"]:
        return
    words = appraisal["words"]
    document.add_paragraph(words["title"], style="Section Heading")
    if appraisal["total_line"]:
        rows = [[g["code"], g["title"], g["own"], g["appraised"]] for g in appraisal["groups"]]
        _grid(document, words["groups_columns"], rows, [1.5, 9.0, 2.5, 2.5])
        total = document.add_paragraph()
        total.add_run(appraisal["total_line"]).bold = True
    if appraisal["items"]:
        document.add_paragraph(words["items_title"], style="Section Heading")
        rows = [
            [a["code"], a["label"], a["own"], a["appraised"], a["note"]] for a in appraisal["items"]
        ]
        _grid(document, words["items_columns"], rows, [1.8, 5.7, 2.8, 2.8, 3.4])


def _append_annex(document, context: dict) -> None:
    """The annex listing the evidence (item, file, size, date received), on a page of its
    own at the end."""
    annex = context["annex"]
    heading = document.add_paragraph(annex["title"], style="Form Title")
    heading.paragraph_format.page_break_before = True
    if not annex["rows"]:
        document.add_paragraph(annex["none"]).runs[0].italic = True
        return
    rows = [
        [e["number"], e["code"], e["label"], e["name"], e["size"], e["date"]] for e in annex["rows"]
    ]
    _grid(document, annex["columns"], rows, [1.1, 1.8, 5.0, 4.6, 2.0, 2.3])


def _shape_header(document, context: dict) -> None:
    """The rule under the issuing body's name: centred, as long as the context says."""
    cell = document.tables[0].rows[0].cells[0]
    rule = cell.paragraphs[-1]
    side = max((HEADER_LEFT_MM - context["header"]["rule_mm"]) / 2, 0)
    rule.paragraph_format.left_indent = Mm(side)
    rule.paragraph_format.right_indent = Mm(side)


def _table_blocks(context: dict) -> list[dict]:
    return [b for s in context["sections"] for b in s["blocks"] if b["kind"] == "table"]


def _shape_tables(document, context: dict) -> None:
    """Widths, alignment, bold group rows, merged headers and "không áp dụng" cells of the
    printed tables: the template has one generic table whose columns come from the form, so
    the layout follows the columns' roles."""
    blocks = _table_blocks(context)
    position = 0
    for table in document.tables:
        if position >= len(blocks):
            break
        block = blocks[position]
        if [cell.text for cell in table.rows[0].cells] != block["columns"]:
            continue
        position += 1
        roles = block["roles"]
        fixed = sum(ROLE_WIDTHS_CM.get(role, 2.5) for role in roles if role != "label")
        widths = [
            max(TEXT_WIDTH_CM - fixed, 3.0) if role == "label" else ROLE_WIDTHS_CM.get(role, 2.5)
            for role in roles
        ]
        table.autofit = False
        for column, width in zip(table.columns, widths, strict=False):
            column.width = Cm(width)
        for row in table.rows:
            for cell, width in zip(row.cells, widths, strict=False):
                cell.width = Cm(width)
        for row, data in zip(table.rows[1:], block["rows"], strict=False):
            for cell, role in zip(row.cells, roles, strict=False):
                for paragraph in cell.paragraphs:
                    if role in CENTERED_ROLES:
                        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
                    elif role in RIGHT_ROLES:
                        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
                    if data["group"]:
                        # Word keeps a row with the next when its paragraphs are kept so.
                        paragraph.paragraph_format.keep_with_next = True
                        for run in paragraph.runs:
                            run.bold = True
            if data["span"]:
                _merge_not_applicable(row, *data["span"])
        if block["groups"]:
            _group_header(table, block["groups"])


def _merge_not_applicable(row, start: int, count: int) -> None:
    cells = row.cells
    for cell in cells[start + 1 : start + count]:
        _clear(cell)
    merged = cells[start].merge(cells[start + count - 1])
    _tidy(merged)
    for paragraph in merged.paragraphs:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for run in paragraph.runs:
            run.italic = True


def _group_header(table, groups: list[dict]) -> None:
    """A header row above the titles, with each group's title over its columns ("Năm" over
    "2019 | 2020") and the other titles merged down into it."""
    titles = table.rows[0]
    top = deepcopy(titles._tr)
    titles._tr.addprevious(top)
    upper, lower = table.rows[0], table.rows[1]
    grouped = {c for g in groups for c in range(g["start"], g["end"])}
    for column, (high, low) in enumerate(zip(upper.cells, lower.cells, strict=True)):
        if column in grouped:
            group = next(g for g in groups if g["start"] <= column < g["end"])
            _set_text(high, group["title"] if column == group["start"] else "")
        else:
            _clear(low)
            _tidy(high.merge(low))
    for group in groups:
        if group["span"] > 1:
            cells = table.rows[0].cells
            _tidy(cells[group["start"]].merge(cells[group["end"] - 1]))


def _tidy(cell) -> None:
    """A merged cell keeps the empty paragraphs of the cells merged into it: drop them."""
    for paragraph in cell.paragraphs[1:]:
        if not paragraph.text:
            paragraph._p.getparent().remove(paragraph._p)


def _clear(cell) -> None:
    for paragraph in cell.paragraphs:
        for run in list(paragraph.runs):
            run._r.getparent().remove(run._r)
    for paragraph in cell.paragraphs[1:]:
        paragraph._p.getparent().remove(paragraph._p)


def _set_text(cell, text: str) -> None:
    paragraph = cell.paragraphs[0]
    runs = paragraph.runs
    if runs:
        runs[0].text = text
        for run in runs[1:]:
            run._r.getparent().remove(run._r)
    elif text:
        paragraph.add_run(text)


# Any format ----------------------------------------------------------------------------------


def render(context: dict, fmt: str) -> bytes:
    if fmt == "html":
        return render_html(context).encode("utf-8")
    if fmt == "pdf":
        return render_pdf(context)
    if fmt == "docx":
        return render_docx(context)
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


def unit_slug(name: str) -> str:
    """A unit's name in ASCII for file and folder names: "so-thong-tin-va-truyen-thong"."""
    unit = "-".join("".join(ch if ch.isalnum() else " " for ch in fold(name)).split())
    return unit[:60].rstrip("-") or "don-vi"


def document_filename(context: dict, fmt: str) -> str:
    """ASCII, so every channel and mail client keeps it: phieu-so-ban-nganh-2020-so-tttt.pdf."""
    return f"phieu-{context['form']}-{context['year']}-{unit_slug(context['unit'])}.{fmt}"


async def render_submission(database: Database, submission_id: int, fmt: str) -> bytes | None:
    """One document of one submission (None when there is no such submission)."""
    context = await submission_context(database, submission_id)
    if context is None:
        return None
    return await asyncio.to_thread(render, context, fmt)


def submission_documents(
    database: Database,
    forms: dict[str, FormSpec] | None = None,
    formats: tuple[str, ...] = ("docx", "pdf"),
) -> Callable[[int], Awaitable[list[Document]]]:
    """The engine's ``render_documents``: ``Engine(db, forms, render_documents=
    submission_documents(db, forms))`` sends the DOCX and the PDF after a submission is
    confirmed."""

    async def render_documents(submission_id: int) -> list[Document]:
        context = await submission_context(database, submission_id, forms)
        if context is None:
            return []
        if context["date"] is None:
            # Called as the submission is confirmed, possibly before that is committed: the
            # form is dated today.
            dated(context, datetime.now(UTC))
        documents = []
        for fmt in formats:
            data = await asyncio.to_thread(render, context, fmt)
            documents.append(Document(document_filename(context, fmt), data, MIME_TYPES[fmt]))
        return documents

    return render_documents

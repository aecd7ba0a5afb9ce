"""The documents of a submission: HTML (Jinja), PDF (WeasyPrint from that HTML) and DOCX
(docxtpl from ``form.docx``), all from one context (``templates.context.build_context``).

For the engine: ``submission_documents(database)`` is the ``render_documents`` callable that
sends the DOCX and the PDF after a submission is confirmed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm
from docxtpl import DocxTemplate, Listing
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from dialogs.campaigns import campaign_best
from dialogs.messages import Document
from dialogs.scoring import ScoreCard, rubric_for, score
from dialogs.snapshot import Snapshot, load_snapshot
from dialogs.spec import FormSpec
from dialogs.text import fold
from storage.db import Database
from templates.context import build_context, date_parts

TEMPLATES_DIR = Path(__file__).parent
DOCX_TEMPLATE = TEMPLATES_DIR / "form.docx"
FORMATS = ("html", "pdf", "docx")
MIME_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# Column widths (cm) of the printed tables in the DOCX by role; the label column takes the rest.
TEXT_WIDTH_CM = 17.0
ROLE_WIDTHS_CM = {
    "index": 1.2,
    "code": 1.6,
    "value": 3.4,
    "yes": 1.7,
    "no": 1.7,
    "hoan_chinh": 2.0,
    "dang_thu_nghiem": 2.0,
    "chua_co": 2.0,
    "unit": 1.8,
    "quantity": 2.6,
    "prev": 2.2,
    "curr": 2.2,
    "ten": 2.6,
    "ncc": 2.4,
    "tinhnang": 3.0,
    "vb": 4.5,
    "text": 3.2,
    "verdict": 2.0,
}
CENTERED_ROLES = {
    "index",
    "code",
    "verdict",
    "yes",
    "no",
    "hoan_chinh",
    "dang_thu_nghiem",
    "chua_co",
    "unit",
}
# WeasyPrint shares Pango/fontconfig state: one PDF at a time per process.
_pdf_lock = threading.Lock()


# Loading -------------------------------------------------------------------------------------


async def load_scored(
    session, submission_id: int, forms: dict[str, FormSpec] | None = None
) -> tuple[Snapshot, ScoreCard] | None:
    """The submission and its score card (relative rules against its campaign)."""
    snapshot = await load_snapshot(session, submission_id, forms)
    if snapshot is None:
        return None
    rubric = rubric_for(snapshot.spec)
    best = await campaign_best(session, snapshot.spec, snapshot.submission.year, rubric)
    return snapshot, score(snapshot.spec, snapshot.state, rubric, best)


async def submission_context(
    database: Database, submission_id: int, forms: dict[str, FormSpec] | None = None
) -> dict | None:
    """The context of one submission; None when there is no such submission. ``forms``: the
    specs to read it with (default: the built-in forms)."""
    async with database.session() as session:
        loaded = await load_scored(session, submission_id, forms)
    if loaded is None:
        return None
    return build_context(*loaded)


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
    _shape_tables(template.docx, context)
    output = BytesIO()
    template.save(output)
    return output.getvalue()


def _table_blocks(context: dict) -> list[dict]:
    return [b for s in context["sections"] for b in s["blocks"] if b["kind"] == "table"]


def _shape_tables(document, context: dict) -> None:
    """Widths, alignment and bold group rows of the printed tables: the template has one
    generic table whose columns come from the form, so the layout follows the columns' roles."""
    blocks = _table_blocks(context)
    position = 0
    for table in document.tables:
        if position >= len(blocks):
            break
        block = blocks[position]
        header = [cell.text for cell in table.rows[0].cells]
        if header != block["columns"]:
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
        for row, data in zip(table.rows[1:], block["rows"], strict=False):
            for cell, role, width in zip(row.cells, roles, widths, strict=False):
                cell.width = Cm(width)
                for paragraph in cell.paragraphs:
                    if role in CENTERED_ROLES:
                        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
                    elif role in ("quantity", "prev", "curr"):
                        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
                    if data["group"]:
                        for run in paragraph.runs:
                            run.bold = True
        for cell, width in zip(table.rows[0].cells, widths, strict=False):
            cell.width = Cm(width)


# Any format ----------------------------------------------------------------------------------


def render(context: dict, fmt: str) -> bytes:
    if fmt == "html":
        return render_html(context).encode("utf-8")
    if fmt == "pdf":
        return render_pdf(context)
    if fmt == "docx":
        return render_docx(context)
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


def document_filename(context: dict, fmt: str) -> str:
    """ASCII, so every channel and mail client keeps it: phieu-so-ban-nganh-2020-so-tttt.pdf."""
    unit = "-".join("".join(ch if ch.isalnum() else " " for ch in fold(context["unit"])).split())
    return f"phieu-{context['form']}-{context['year']}-{unit[:60] or 'don-vi'}.{fmt}"


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
            context["date"] = date_parts(datetime.now(UTC))
        documents = []
        for fmt in formats:
            data = await asyncio.to_thread(render, context, fmt)
            documents.append(Document(document_filename(context, fmt), data, MIME_TYPES[fmt]))
        return documents

    return render_documents

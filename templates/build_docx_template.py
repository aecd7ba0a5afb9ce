"""Build ``templates/form.docx``: the Word template (docxtpl: Jinja tags inside Word) from which
the DOCX form is rendered.

Run ``python templates/build_docx_template.py`` after changing this script; the generated file
is committed. The province may also restyle ``form.docx`` directly in Word (fonts, sizes,
indents, the styles "Item Line 1-3", "Form Title", …) without touching code, as long as the
``{{ … }}`` and ``{%… %}`` tags stay where they are. Context: ``templates/context.py``; the
wording comes from the context too (``templates/documents.vi.yaml``).

The page follows Nghị định 30/2020/NĐ-CP: A4, margins from ``templates/layout.py``, Times New
Roman 13 pt (12 pt in tables), text tagged Vietnamese, page numbers at the top centre from the
second page, table rows never split across pages and header rows repeated.
"""

from __future__ import annotations

import sys
from copy import deepcopy
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from templates.layout import (  # noqa: E402
    BODY_PT,
    HEADER_LEFT_MM,
    HEADER_PT,
    HEADER_RIGHT_MM,
    MARGINS_MM,
    MOTTO_PT,
    TABLE_PT,
    text_width_mm,
)
from templates.wording import wording  # noqa: E402

OUTPUT = Path(__file__).parent / "form.docx"
FONT = "Times New Roman"
LANGUAGE = "vi-VN"
# Cell padding of the printed tables, in twentieths of a point.
CELL_MARGINS = {"top": 30, "bottom": 30, "left": 70, "right": 70}


def _font(style, size: float, bold: bool = False, italic: bool = False) -> None:
    style.font.name = FONT
    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.italic = italic
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), FONT)


def _language(document) -> None:
    """Every run is Vietnamese unless it says otherwise, so Word checks Vietnamese spelling."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    for element in rpr.findall(qn("w:lang")):
        rpr.remove(element)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), LANGUAGE)
    lang.set(qn("w:eastAsia"), LANGUAGE)
    lang.set(qn("w:bidi"), "ar-SA")
    rpr.append(lang)
    normal = document.styles["Normal"].element.get_or_add_rPr()
    normal.append(deepcopy(lang))
    settings = document.settings.element
    for element in settings.findall(qn("w:themeFontLang")):
        element.set(qn("w:val"), LANGUAGE)


def _paragraph_style(
    document, name: str, size=BODY_PT, bold=False, italic=False, indent_cm=0.0, keep=False
):
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Normal"]
    _font(style, size, bold, italic)
    style.paragraph_format.left_indent = Cm(indent_cm)
    style.paragraph_format.space_after = Pt(3)
    style.paragraph_format.space_before = Pt(0)
    style.paragraph_format.keep_with_next = keep
    return style


def _styles(document) -> None:
    normal = document.styles["Normal"]
    _font(normal, BODY_PT)
    normal.paragraph_format.space_after = Pt(3)
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.line_spacing = 1.0
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    title = _paragraph_style(document, "Form Title", size=14, bold=True, keep=True)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_before = Pt(6)
    note = _paragraph_style(document, "Form Note", italic=True)
    note.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    note.paragraph_format.space_after = Pt(10)
    section = _paragraph_style(document, "Section Heading", bold=True, keep=True)
    section.paragraph_format.space_before = Pt(10)
    for level, indent in ((1, 0.0), (2, 0.8), (3, 1.6)):
        _paragraph_style(document, f"Item Line {level}", indent_cm=indent)
        _paragraph_style(document, f"Item Lead {level}", indent_cm=indent, keep=True)
        _paragraph_style(document, f"Item Heading {level}", bold=True, indent_cm=indent, keep=True)
        _paragraph_style(document, f"Item Note {level}", italic=True, indent_cm=indent)
        _paragraph_style(document, f"Formula {level}", italic=True, indent_cm=indent + 0.8)
    _paragraph_style(document, "Note", italic=True)
    _paragraph_style(document, "Note Lead", italic=True, keep=True)
    _paragraph_style(document, "Score Note", italic=True)
    _paragraph_style(document, "Score Total", bold=True)
    for name, align, bold in (
        ("Table Text", None, False),
        ("Table Center", WD_ALIGN_PARAGRAPH.CENTER, False),
        ("Table Heading", WD_ALIGN_PARAGRAPH.CENTER, True),
    ):
        style = _paragraph_style(document, name, size=TABLE_PT, bold=bold)
        style.paragraph_format.space_after = Pt(0)
        style.paragraph_format.alignment = align or WD_ALIGN_PARAGRAPH.LEFT
    for name, size, bold, italic in (
        ("Header Parent", HEADER_PT, False, False),
        ("Header Unit", HEADER_PT, True, False),
        ("Header Nation", HEADER_PT, True, False),
        ("Header Motto", MOTTO_PT, True, False),
        ("Signature", BODY_PT, True, False),
        ("Signature Date", BODY_PT, False, True),
        ("Signature Note", BODY_PT, False, True),
    ):
        style = _paragraph_style(document, name, size=size, bold=bold, italic=italic)
        style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
        style.paragraph_format.space_after = Pt(0)
    _paragraph_style(document, "Table Spacer", size=6).paragraph_format.space_after = Pt(0)
    rule = _paragraph_style(document, "Header Rule", size=2)
    rule.paragraph_format.space_after = Pt(0)


def _page(document) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
    section.header_distance = Mm(10)
    section.footer_distance = Mm(10)
    # Page numbers at the top centre, from page 2 (the first page's header stays empty).
    section.different_first_page_header_footer = True
    number = section.header.paragraphs[0]
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _field(number, "PAGE")
    for run in number.runs:
        run.font.name = FONT
        run.font.size = Pt(BODY_PT)
    section.first_page_header.is_linked_to_previous = False


def _field(paragraph, instruction: str) -> None:
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, instruction), ("separate", None), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run._r.append(element)


def _p(container, text: str = "", style: str = "Normal", bold=None, italic=None):
    paragraph = container.add_paragraph(style=style)
    if text:
        run = paragraph.add_run(text)
        run.bold, run.italic = bold, italic
    return paragraph


def _runs(paragraph, *parts: tuple[str, bool | None, bool | None]) -> None:
    for text, bold, italic in parts:
        run = paragraph.add_run(text)
        run.bold, run.italic = bold, italic


def _no_borders(table) -> None:
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{side}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    table._tbl.tblPr.append(borders)


def _cell_margins(table) -> None:
    margins = OxmlElement("w:tblCellMar")
    for side, twips in CELL_MARGINS.items():
        element = OxmlElement(f"w:{side}")
        element.set(qn("w:w"), str(twips))
        element.set(qn("w:type"), "dxa")
        margins.append(element)
    table._tbl.tblPr.append(margins)


def _widths(table, widths_cm: list[float]) -> None:
    table.autofit = False
    for index, width in enumerate(widths_cm):
        table.columns[index].width = Cm(width)
        for cell in table.columns[index].cells:
            cell.width = Cm(width)


def _cell(cell, text: str, style: str = "Table Text") -> None:
    paragraph = cell.paragraphs[0]
    paragraph.style = cell.part.document.styles[style]
    if text:
        paragraph.add_run(text)


def _row_flag(row, name: str) -> None:
    """``tblHeader`` (repeat on every page) or ``cantSplit`` (never split across pages)."""
    properties = row._tr.get_or_add_trPr()
    element = OxmlElement(f"w:{name}")
    element.set(qn("w:val"), "true")
    properties.append(element)


def _rule(paragraph, width_mm: float, cell_mm: float) -> None:
    """A centred rule ``width_mm`` long: the paragraph's bottom border between indents."""
    side = max((cell_mm - width_mm) / 2, 0)
    paragraph.paragraph_format.left_indent = Mm(side)
    paragraph.paragraph_format.right_indent = Mm(side)
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


def _header(document) -> None:
    """The issuing body (left) and Quốc hiệu, Tiêu ngữ (right), Nghị định 30/2020."""
    table = document.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _no_borders(table)
    left, right = table.rows[0].cells
    _cell(left, "{%p if header.parent_text %}", "Header Parent")
    left.add_paragraph("{{ header.parent_text }}", style="Header Parent")
    left.add_paragraph("{%p endif %}", style="Header Parent")
    left.add_paragraph("{{ header.unit_text }}", style="Header Unit")
    left.add_paragraph(style="Header Rule")  # its length is set per unit (render.py)
    words = wording()
    _cell(right, "{{ header.nation }}", "Header Nation")
    right.add_paragraph("{{ header.motto }}", style="Header Motto")
    motto = right.add_paragraph(style="Header Rule")
    _rule(motto, text_width_mm(words["motto"], MOTTO_PT, bold=True), HEADER_RIGHT_MM)
    _rule(left.paragraphs[-1], 20.0, HEADER_LEFT_MM)
    _widths(table, [HEADER_LEFT_MM / 10, HEADER_RIGHT_MM / 10])
    document.add_paragraph(style="Header Rule")


def _dynamic_table(document) -> None:
    """A printed table of the form: columns and rows come from the context."""
    table = document.add_table(rows=4, cols=3)
    table.style = document.styles["Table Grid"]
    _cell_margins(table)
    header, loop, row, end = table.rows
    _cell(header.cells[0], "{%tc for c in b.columns %}", "Table Heading")
    _cell(header.cells[1], "{{ c }}", "Table Heading")
    _cell(header.cells[2], "{%tc endfor %}", "Table Heading")
    _row_flag(header, "tblHeader")
    _row_flag(header, "cantSplit")
    _cell(loop.cells[0], "{%tr for r in b.rows %}")
    _cell(row.cells[0], "{%tc for c in r.cells %}")
    _cell(row.cells[1], "{{ c }}")
    _cell(row.cells[2], "{%tc endfor %}")
    _row_flag(row, "cantSplit")
    _cell(end.cells[0], "{%tr endfor %}")


def _line_runs(paragraph) -> None:
    _runs(
        paragraph,
        (
            "{% if b.marker %}{{ b.marker }} {% endif %}{% if b.box %}{{ b.box }} {% endif %}",
            None,
            None,
        ),
        ("{{ b.label }}", None, None),
        ("{% if b.na %}: {% endif %}", None, None),
        ("{% if b.na %}{{ words.not_applicable }}{% endif %}", None, True),
        ("{% if b.show_value %}: {% endif %}", None, None),
        ("{% if b.show_value %}{% if b.value %}{{ b.value }}{% else %}", True, None),
        ("{{ words.blank }}{% endif %}{% endif %}", True, None),
        ("{% if b.show_value and b.unit %} {{ b.unit }}{% endif %}", None, None),
        ("{% if b.options_text %}: {{ b.options_text }}{% endif %}", None, None),
    )


def _lines(document) -> None:
    """A line of the form at its indent: a heading, a line that leads into what follows (kept
    with it on the page) or a plain line; then its note, options and formula."""
    _p(document, '{%p if b.kind == "heading" %}')
    for level in (1, 2, 3):
        test = "if" if level == 1 else "elif"
        condition = "b.indent <= 1" if level == 1 else f"b.indent == {level}" if level == 2 else ""
        _p(document, f"{{%p {test} {condition} %}}" if condition else "{%p else %}")
        _runs(
            _p(document, style=f"Item Heading {level}"),
            ("{% if b.marker %}{{ b.marker }} {% endif %}{{ b.label }}", True, None),
        )
    _p(document, "{%p endif %}")
    _p(document, "{%p else %}")
    for level in (1, 2, 3):
        for lead in (True, False):
            first = level == 1 and lead
            indent = "b.indent <= 1" if level == 1 else f"b.indent == {level}"
            condition = f"{indent} and {'' if lead else 'not '}b.lead"
            if level == 3:
                condition = "b.lead" if lead else ""
            tag = "if" if first else "elif" if condition else "else"
            _p(document, f"{{%p {tag} {condition} %}}" if condition else "{%p else %}")
            _line_runs(_p(document, style=f"Item {'Lead' if lead else 'Line'} {level}"))
    _p(document, "{%p endif %}")
    _p(document, "{%p if b.note %}")
    _p(document, "{{ b.note }}", "Item Note 2")
    _p(document, "{%p endif %}")
    _p(document, "{%p for o in b.option_lines %}")
    _p(document, "{{ o }}", "Item Line 2")
    _p(document, "{%p endfor %}")
    _p(document, "{%p if b.formula %}")
    _p(document, "{{ b.formula }}", "Formula 1")
    _p(document, "{%p endif %}")
    _p(document, "{%p endif %}")


def _sections(document) -> None:
    _p(document, "{%p for s in sections %}")
    _p(document, "{{ s.heading }}", "Section Heading")
    _p(document, "{%p for b in s.blocks %}")
    _p(document, '{%p if b.kind == "table" %}')
    _dynamic_table(document)
    _p(document, style="Table Spacer")
    _p(document, '{%p elif b.kind == "note" %}')
    _p(document, "{%p if b.text and b.lead %}")
    _p(document, "{{ b.text }}", "Note Lead")
    _p(document, "{%p elif b.text %}")
    _p(document, "{{ b.text }}", "Note")
    _p(document, "{%p endif %}")
    _p(document, "{%p for l in b.lines %}")
    _p(document, "{{ l }}")
    _p(document, "{%p endfor %}")
    _p(document, "{%p else %}")
    _lines(document)
    _p(document, "{%p endif %}")
    _p(document, "{%p endfor %}")
    _p(document, "{%p endfor %}")


def _signatures(document) -> None:
    _p(document)
    table = document.add_table(rows=1, cols=2)
    _no_borders(table)
    _row_flag(table.rows[0], "cantSplit")
    for cell, index in zip(table.rows[0].cells, (0, 1), strict=True):
        who = f"signatures[{index}]"
        _cell(cell, f"{{{{ {who}.date }}}}", "Signature Date")
        cell.add_paragraph(f"{{{{ {who}.title }}}}", style="Signature")
        cell.add_paragraph(f"{{{{ {who}.note }}}}", style="Signature Note")
        for _ in range(4):
            cell.add_paragraph(style="Signature Note")
        cell.add_paragraph(f"{{{{ {who}.name }}}}", style="Signature")
    _widths(table, [8.25, 8.25])


def _fixed_table(document, headings: str, loop: str, cells: list[str], widths, total=None):
    """A table with fixed columns and one row per element of ``loop``: docxtpl replaces the
    rows holding ``{%tr … %}`` by the tag, so the loop opens and closes in rows of their own.
    ``headings``: the context list of the column titles."""
    table = document.add_table(rows=5 if total else 4, cols=len(cells))
    table.style = document.styles["Table Grid"]
    _cell_margins(table)
    for index, cell in enumerate(table.rows[0].cells):
        _cell(cell, f"{{{{ {headings}[{index}] }}}}", "Table Heading")
    _row_flag(table.rows[0], "tblHeader")
    _row_flag(table.rows[0], "cantSplit")
    _cell(table.rows[1].cells[0], f"{{%tr for {loop} %}}")
    for index, (cell, text) in enumerate(zip(table.rows[2].cells, cells, strict=True)):
        _cell(cell, text, "Table Text" if index in (1, 2) else "Table Center")
    _row_flag(table.rows[2], "cantSplit")
    _cell(table.rows[3].cells[0], "{%tr endfor %}")
    if total:
        for cell, text in zip(table.rows[4].cells, total, strict=True):
            _cell(cell, text, "Table Center")
            for run in cell.paragraphs[0].runs:
                run.bold = True
        _row_flag(table.rows[4], "cantSplit")
    _widths(table, widths)
    return table


def _score(document) -> None:
    title = _p(document, "{{ score.title }}", "Form Title")
    title.paragraph_format.page_break_before = True
    _p(document, "{{ score.unit_year }}", "Form Note")
    _p(document, "{%p if score.available %}")
    _p(document, "{%p if score.rubric %}")
    _p(document, "{{ score.rubric }}", "Score Note")
    _p(document, "{%p endif %}")
    _fixed_table(
        document,
        "score.words.groups_columns",
        "g in score.groups",
        ["{{ g.code }}", "{{ g.title }}", "{{ g.points }}", "{{ g.max }}", "{{ g.bonus }}"],
        [1.4, 8.5, 2.0, 2.0, 2.6],
        total=[
            "",
            "{{ score.words.total_row }}",
            "{{ score.total }}",
            "{{ score.max }}",
            "{{ score.bonus }}",
        ],
    )
    _p(document, "{{ score.total_line }}", "Score Total")
    _p(document, "{%p if score.bands %}")
    _p(document, "{{ score.bands }}")
    _p(document, "{%p endif %}")
    _p(document, "{%p if score.as_of %}")
    _p(document, "{{ score.as_of }}", "Score Note")
    _p(document, "{%p endif %}")
    _p(document, "{{ score.arithmetic }}", "Score Note")
    _p(document, "{{ score.words.rules_title }}", "Section Heading")
    _fixed_table(
        document,
        "score.words.docx_rules_columns",
        "r in score.rules",
        ["{{ r.code }}", "{{ r.label }}", "{{ r.why }}", "{{ r.points }}"],
        [1.9, 5.8, 6.8, 2.0],
    )
    _p(document, "{%p else %}")
    _p(document, "{{ score.words.no_rubric }}", "Score Note")
    _p(document, "{%p endif %}")
    _p(document, "{%p if score.targets %}")
    _p(document, "{{ score.words.targets_title }}", "Section Heading")
    _fixed_table(
        document,
        "score.words.targets_columns",
        "t in score.targets",
        ["{{ t.code }}", "{{ t.label }}", "{{ t.value }}", "{{ t.target }}", "{{ t.verdict }}"],
        [1.5, 7.0, 3.0, 3.0, 2.0],
    )
    _p(document, "{%p endif %}")


def build(path: Path = OUTPUT) -> Path:
    document = Document()
    _page(document)
    _styles(document)
    _language(document)
    # The default document starts with one empty paragraph; use it for nothing.
    body = document.element.body
    for paragraph in list(body.iterchildren(qn("w:p"))):
        body.remove(paragraph)
    _header(document)
    _p(document, "{{ title_text }}", "Form Title")
    _p(document, "{{ issued_text }}", "Form Note")
    _sections(document)
    _signatures(document)
    _score(document)
    core = document.core_properties
    core.title = "{{ title }}"
    core.author = "formbot"
    core.language = LANGUAGE
    document.save(path)
    return path


if __name__ == "__main__":
    print(build())

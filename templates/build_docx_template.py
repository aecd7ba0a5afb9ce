"""Build ``templates/form.docx``: the Word template (docxtpl: Jinja tags inside Word) from which
the DOCX form is rendered.

Run ``python templates/build_docx_template.py`` after changing this script; the generated file
is committed. The province may also restyle ``form.docx`` directly in Word (fonts, sizes,
indents, the styles "Item Line 1-3", "Form Title", …) without touching code, as long as the
``{{ … }}`` and ``{%… %}`` tags stay where they are. Context: ``templates/context.py``.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

OUTPUT = Path(__file__).parent / "form.docx"
FONT = "Times New Roman"
BLANK = "……………………"
DATE = (
    "{{ place }}, ngày {% if date %}{{ date.day }}{% else %}…..{% endif %}"
    " tháng {% if date %}{{ date.month }}{% else %}…..{% endif %}"
    " năm {% if date %}{{ date.year }}{% else %}……{% endif %}"
)


def _font(style, size: float, bold: bool = False, italic: bool = False) -> None:
    style.font.name = FONT
    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.italic = italic
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), FONT)


def _paragraph_style(document, name: str, size=12, bold=False, italic=False, indent_cm=0.0):
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Normal"]
    _font(style, size, bold, italic)
    style.paragraph_format.left_indent = Cm(indent_cm)
    style.paragraph_format.space_after = Pt(2)
    style.paragraph_format.space_before = Pt(0)
    return style


def _styles(document) -> None:
    normal = document.styles["Normal"]
    _font(normal, 12)
    normal.paragraph_format.space_after = Pt(2)
    title = _paragraph_style(document, "Form Title", size=13, bold=True)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_before = Pt(10)
    note = _paragraph_style(document, "Form Note", italic=True)
    note.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    note.paragraph_format.space_after = Pt(8)
    section = _paragraph_style(document, "Section Heading", bold=True)
    section.paragraph_format.space_before = Pt(8)
    section.paragraph_format.keep_with_next = True
    for level, indent in ((1, 0.0), (2, 0.8), (3, 1.6)):
        _paragraph_style(document, f"Item Line {level}", indent_cm=indent)
    _paragraph_style(document, "Formula", size=11, italic=True, indent_cm=0.8)
    _paragraph_style(document, "Score Note", italic=True)
    _paragraph_style(document, "Table Text", size=11).paragraph_format.space_after = Pt(0)
    centered = _paragraph_style(document, "Table Center", size=11)
    centered.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    centered.paragraph_format.space_after = Pt(0)
    heading = _paragraph_style(document, "Table Heading", size=11, bold=True)
    heading.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    heading.paragraph_format.space_after = Pt(0)
    signature = _paragraph_style(document, "Signature", bold=True)
    signature.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    signature.paragraph_format.space_after = Pt(0)


def _page(document) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2.0), Cm(2.0)
    section.left_margin, section.right_margin = Cm(2.5), Cm(1.5)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _field(footer, "PAGE")


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


def _runs(paragraph, *parts: tuple[str, bool | None]) -> None:
    for text, bold in parts:
        paragraph.add_run(text).bold = bold


def _no_borders(table) -> None:
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{side}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    table._tbl.tblPr.append(borders)


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


def _repeat_header(row) -> None:
    properties = row._tr.get_or_add_trPr()
    element = OxmlElement("w:tblHeader")
    element.set(qn("w:val"), "true")
    properties.append(element)


def _header(document) -> None:
    table = document.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _no_borders(table)
    left, right = table.rows[0].cells
    _cell(left, "{{ unit_upper }}", "Signature")
    left.add_paragraph("—————", style="Table Center")
    _cell(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Signature")
    right.add_paragraph("Độc lập - Tự do - Hạnh phúc", style="Signature")
    right.add_paragraph("—————————", style="Table Center")
    _widths(table, [6.5, 10.5])


def _dynamic_table(document) -> None:
    """A printed table of the form: columns and rows come from the context."""
    table = document.add_table(rows=4, cols=3)
    table.style = document.styles["Table Grid"]
    header, loop, row, end = table.rows
    _cell(header.cells[0], "{%tc for c in b.columns %}", "Table Heading")
    _cell(header.cells[1], "{{ c }}", "Table Heading")
    _cell(header.cells[2], "{%tc endfor %}", "Table Heading")
    _repeat_header(header)
    _cell(loop.cells[0], "{%tr for r in b.rows %}")
    _cell(row.cells[0], "{%tc for c in r.cells %}")
    _cell(row.cells[1], "{{ c }}")
    _cell(row.cells[2], "{%tc endfor %}")
    _cell(end.cells[0], "{%tr endfor %}")


def _line(document, level: int) -> None:
    paragraph = _p(document, style=f"Item Line {level}")
    _runs(
        paragraph,
        ('{% if b.kind == "heading" %}{% if b.marker %}{{ b.marker }} {% endif %}', True),
        ("{{ b.label }}{% endif %}", True),
        ('{% if b.kind == "line" %}{% if b.marker %}{{ b.marker }} {% endif %}', None),
        ("{{ b.label }}{% endif %}", None),
        ("{% if b.show_value %}: {% endif %}", None),
        (f"{{% if b.show_value %}}{{% if b.value %}}{{{{ b.value }}}}{{% else %}}{BLANK}", True),
        ("{% endif %}{% endif %}", True),
        ("{% if b.show_value and b.unit %} {{ b.unit }}{% endif %}", None),
        ("{% if b.options_text %}: {{ b.options_text }}{% endif %}", None),
    )


def _sections(document) -> None:
    _p(document, "{%p for s in sections %}")
    _p(document, "MỤC {{ s.number }}. {{ s.title }}", "Section Heading")
    _p(document, "{%p for b in s.blocks %}")
    _p(document, '{%p if b.kind == "table" %}')
    _dynamic_table(document)
    _p(document, "{%p else %}")
    _p(document, "{%p if b.indent <= 1 %}")
    _line(document, 1)
    _p(document, "{%p elif b.indent == 2 %}")
    _line(document, 2)
    _p(document, "{%p else %}")
    _line(document, 3)
    _p(document, "{%p endif %}")
    _p(document, "{%p for o in b.option_lines %}")
    _p(document, "{{ o }}", "Item Line 2")
    _p(document, "{%p endfor %}")
    _p(document, "{%p if b.formula %}")
    _p(document, "(Công thức: {{ b.formula }})", "Formula")
    _p(document, "{%p endif %}")
    _p(document, "{%p endif %}")
    _p(document, "{%p endfor %}")
    _p(document, "{%p endfor %}")


def _signatures(document) -> None:
    _p(document)
    table = document.add_table(rows=1, cols=2)
    _no_borders(table)
    for cell, who in zip(table.rows[0].cells, ("signer", "head"), strict=True):
        _cell(cell, DATE, "Table Center")
        cell.paragraphs[0].runs[0].italic = True
        cell.add_paragraph(f"{{{{ {who}.title }}}}", style="Signature")
        note = cell.add_paragraph(style="Table Center")
        note.add_run(f"{{{{ {who}.note }}}}").italic = True
        for _ in range(4):
            cell.add_paragraph(style="Table Center")
        cell.add_paragraph("{{ signer.name }}" if who == "signer" else "", style="Signature")
    _widths(table, [8.5, 8.5])


def _fixed_table(document, headings: list[str], loop: str, cells: list[str], widths, total=None):
    """A table with fixed columns and one row per element of ``loop``: docxtpl replaces the
    rows holding ``{%tr … %}`` by the tag, so the loop opens and closes in rows of their own."""
    table = document.add_table(rows=5 if total else 4, cols=len(headings))
    table.style = document.styles["Table Grid"]
    for cell, text in zip(table.rows[0].cells, headings, strict=True):
        _cell(cell, text, "Table Heading")
    _repeat_header(table.rows[0])
    _cell(table.rows[1].cells[0], f"{{%tr for {loop} %}}")
    for index, (cell, text) in enumerate(zip(table.rows[2].cells, cells, strict=True)):
        _cell(cell, text, "Table Text" if index in (1, 2) else "Table Center")
    _cell(table.rows[3].cells[0], "{%tr endfor %}")
    if total:
        for cell, text in zip(table.rows[4].cells, total, strict=True):
            _cell(cell, text, "Table Center")
            for run in cell.paragraphs[0].runs:
                run.bold = True
    _widths(table, widths)
    return table


def _score(document) -> None:
    title = _p(document, "TỔNG HỢP ĐIỂM ĐÁNH GIÁ", "Form Title")
    title.paragraph_format.page_break_before = True
    _p(document, "{{ unit }} — năm {{ year }}", "Form Note")
    _p(document, "{%p if score.available %}")
    _p(document, "{{ score.note }}", "Score Note")
    _fixed_table(
        document,
        ["MỤC", "Nhóm tiêu chí", "Điểm", "Tối đa", "Trong đó điểm khuyến khích"],
        "g in score.groups",
        ["{{ g.code }}", "{{ g.title }}", "{{ g.points }}", "{{ g.max }}", "{{ g.bonus }}"],
        [1.4, 9.0, 2.0, 2.0, 2.6],
        total=["", "Tổng cộng", "{{ score.total }}", "{{ score.max }}", "{{ score.bonus }}"],
    )
    total = _p(document)
    _runs(
        total,
        ("Tổng điểm: {{ score.total }}/{{ score.max }} — Chỉ số: {{ score.index }}", True),
        (" ({{ score.percent }} %) — Xếp loại: {{ score.class }}", True),
    )
    _p(document, "Chi tiết cách tính điểm", "Section Heading")
    _fixed_table(
        document,
        ["Mã", "Nội dung", "Cách tính (số liệu đã khai)", "Điểm"],
        "r in score.rules",
        ["{{ r.code }}", "{{ r.label }}", "{{ r.why }}", "{{ r.points }}/{{ r.max }}"],
        [2.0, 6.0, 7.0, 2.0],
    )
    _p(document, "{%p else %}")
    _p(document, "Phiếu này chưa có bộ tiêu chí chấm điểm.", "Score Note")
    _p(document, "{%p endif %}")
    _p(document, "{%p if score.targets %}")
    _p(document, "Đối chiếu chỉ tiêu", "Section Heading")
    _fixed_table(
        document,
        ["Mã", "Nghĩa vụ", "Giá trị", "Chỉ tiêu", "Đánh giá"],
        "t in score.targets",
        ["{{ t.code }}", "{{ t.label }}", "{{ t.value }}", "{{ t.target }}", "{{ t.verdict }}"],
        [1.4, 7.6, 2.8, 3.2, 2.0],
    )
    _p(document, "{%p endif %}")


def build(path: Path = OUTPUT) -> Path:
    document = Document()
    _page(document)
    _styles(document)
    # The default document starts with one empty paragraph; use it for nothing.
    body = document.element.body
    for paragraph in list(body.iterchildren(qn("w:p"))):
        body.remove(paragraph)
    _header(document)
    _p(document, "{{ title }}", "Form Title")
    _p(document, "{{ issued_by }}", "Form Note")
    _sections(document)
    _signatures(document)
    _score(document)
    core = document.core_properties
    core.title = "{{ title }}"
    core.author = "formbot"
    document.save(path)
    return path


if __name__ == "__main__":
    print(build())

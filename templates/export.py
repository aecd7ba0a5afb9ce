"""The ranking spreadsheet of a campaign (one form, one year), ``formbot export --xlsx``:

- "Xếp hạng", print-ready: a title row (form, year, the day it was made), one row per unit
  with its rank, score, index and section scores; A4 landscape, one page wide, the header
  row repeated on every page, frozen and filtered;
- "Số liệu": every answer and computed value of every unit, numbers as numbers (a fraction
  x / y as two numbers), frozen and filtered.

Anything a person typed is written as text: a cell that begins with ``=``, ``+``, ``-`` or ``@``
is stored as a string with Excel's quote prefix, so opening the file runs no formula.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from dialogs.reviewing import parsed_appraisals
from dialogs.scoring import CAMPAIGN_STATUSES, ScoreCard, best_of, rubric_for, score, score_both
from dialogs.services import Ranker, Ranking
from dialogs.snapshot import parse_answer_rows
from dialogs.spec import FormSpec, Item
from dialogs.state import FormState
from storage.campaigns import load_campaign
from storage.db import Database
from storage.evidence import list_appraisals
from templates.context import safe_text, vietnam_today
from templates.wording import phrase, wording

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Number formats: points with two decimals, the index in percent, counts as integers.
POINTS = "0.00"
PERCENT = "0.00%"
COUNT = "#,##0"
DECIMAL = "#,##0.00"
# How the kinds' numbers are written (dialogs.kinds.Kind.sheet_number).
SHEET_NUMBER_FORMATS = {"count": COUNT, "decimal": DECIMAL}
THIN = Side(style="thin", color="000000")
BOXED = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
HEAD = Alignment(wrap_text=True, vertical="center", horizontal="center")


@dataclass(frozen=True)
class UnitRow:
    """One unit of a ranking. ``card`` is the score it is ranked by: the appraised one
    (thẩm định) when reviewers appraised some item, else the unit's own (``own``)."""

    unit: str
    status: str
    state: FormState
    card: ScoreCard
    rank: int = 0
    submission_id: int | None = None
    own: ScoreCard | None = None  # the self-assessment's score (None: same as ``card``)
    appraised: bool = False  # ``card`` is the appraised score

    @property
    def own_card(self) -> ScoreCard:
        return self.own if self.own is not None else self.card


async def campaign_rows(session, spec: FormSpec, year: int) -> list[UnitRow]:
    """Every unit's submission of ``spec`` for ``year``, scored and ranked (best first)."""
    data = await load_campaign(session, spec.id, year)
    stored = parse_answer_rows(spec, data.answers)
    states = {s.id: FormState(spec, stored.get(s.id, {})) for s in data.submissions}
    names = {s.id: data.units[s.unit_id].name for s in data.submissions}
    rows = await list_appraisals(session, names)
    appraised = {names[i]: parsed_appraisals(spec, found) for i, found in rows.items() if found}
    units = [(names[s.id], s.status, states[s.id]) for s in data.submissions]
    ranked = rank_rows(spec, units, appraised=appraised)
    ids = {name: submission_id for submission_id, name in names.items()}
    return [dataclasses.replace(row, submission_id=ids.get(row.unit)) for row in ranked]


def rank_rows(
    spec: FormSpec,
    units: list[tuple[str, str, FormState]],
    as_of: date | None = None,
    appraised: dict[str, dict[str, Any]] | None = None,
) -> list[UnitRow]:
    """Score ``(unit, status, state)`` triples of one campaign and rank them by total (equal
    totals share a rank: 1, 2, 2, 4): the appraised total where reviewers appraised the unit
    (``appraised``: unit → code → value), else its own. Relative rules compare with the best
    submitted unit (as of ``as_of``, default today)."""
    appraised = appraised or {}
    rubric = rubric_for(spec)
    best = (
        best_of(spec, rubric, [st for _, status, st in units if status in CAMPAIGN_STATUSES])
        if rubric
        else {}
    )
    as_of = as_of or vietnam_today()
    scored = []
    for name, status, state in units:
        pair = score_both(spec, state, appraised.get(name), rubric, best, as_of=as_of)
        row = UnitRow(name, status, state, pair.ranked, own=pair.own)
        scored.append(dataclasses.replace(row, appraised=pair.appraised is not None))
    scored.sort(key=lambda row: (-round(row.card.total, 6), row.unit))
    ranked: list[UnitRow] = []
    for position, row in enumerate(scored, start=1):
        previous = ranked[-1] if ranked else None
        same = previous is not None and round(previous.card.total, 6) == round(row.card.total, 6)
        ranked.append(dataclasses.replace(row, rank=previous.rank if same else position))
    return ranked


def _number_format(item: Item) -> str | None:
    if item.percent:
        return PERCENT
    if item.plain:
        return "0"
    return SHEET_NUMBER_FORMATS.get(item.type.sheet_number)


def _put(sheet: Worksheet, row: int, column: int, value: Any, number_format: str | None = None):
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
        cell.quotePrefix = True
    if number_format and isinstance(value, int | float) and not isinstance(value, bool):
        cell.number_format = number_format
    return cell


def _title(sheet: Worksheet, spec: FormSpec, year: int, made: date, columns: int) -> None:
    """Rows 1–2: the form and the year, the day the sheet was made and the rubric."""
    rubric = rubric_for(spec)
    scored_by = (
        phrase("score", "rubric", title=rubric.title, version=rubric.version)
        if rubric and rubric.title
        else ""
    )
    title = phrase("export", "title", form=safe_text(spec.title), year=year)
    made_line = phrase("export", "made", day=made.strftime("%d/%m/%Y"), rubric=scored_by)
    for row, text, font in (
        (1, title, Font(bold=True, size=14)),
        (2, made_line, Font(italic=True)),
    ):
        cell = _put(sheet, row, 1, text)
        cell.font = font
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=max(columns, 1))
    sheet.row_dimensions[1].height = 36
    sheet.row_dimensions[2].height = 30


def _print_setup(sheet: Worksheet, header_rows: str, landscape: bool, one_page_wide: bool) -> None:
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    if one_page_wide:
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = header_rows
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.oddFooter.center.text = "&P/&N"
    sheet.print_options.horizontalCentered = True
    # Grid lines on paper rather than a border per cell (which costs openpyxl a style lookup
    # per cell).
    sheet.print_options.gridLines = True


def _ranking_sheet(sheet: Worksheet, spec: FormSpec, year: int, rows: list[UnitRow], made: date):
    words = wording()["export"]
    groups = _groups(spec, rows)
    # Widths (characters) that fit A4 landscape at about 90 %: long texts wrap.
    headers = [
        (words["rank"], 6, "0"),
        (words["unit"], 36, None),
        (words["status"], 11, None),
        (words["total"], 9, POINTS),
        (words["max"], 9, POINTS),
        (words["index"], 9, PERCENT),
        (words["class"], 10, None),
        (words["bonus"], 11, POINTS),
    ] + [
        (f"{phrase('export', 'group', code=g.code)}\n{safe_text(g.title)}", 12, POINTS)
        for g in groups
    ]
    # Both totals, side by side: "Tổng điểm" above is the one the rank is read from.
    headers += [(words["own_total"], 11, POINTS), (words["appraised_total"], 11, POINTS)]
    _title(sheet, spec, year, made, len(headers))
    header = 3
    for column, (text, width, _format) in enumerate(headers, start=1):
        cell = _put(sheet, header, column, text)
        cell.font, cell.alignment, cell.border = BOLD, HEAD, BOXED
        sheet.column_dimensions[get_column_letter(column)].width = width
    longest = max(len(g.title) for g in groups) if groups else 0
    sheet.row_dimensions[header].height = 15 * (2 + longest // 11)
    statuses = words["statuses"]
    for number, row in enumerate(rows, start=header + 1):
        card = row.card
        values: list[Any] = [
            row.rank,
            safe_text(row.unit),
            statuses.get(row.status, row.status),
            round(card.total, 2),
            round(card.max, 2),
            round(card.percent / 100, 4),
            card.klass,
            round(card.bonus, 2),
        ]
        values += [round(g.points, 2) for g in card.groups]
        values += [round(row.own_card.total, 2), round(card.total, 2) if row.appraised else None]
        for column, (value, (_text, _width, number_format)) in enumerate(
            zip(values, headers, strict=False), start=1
        ):
            cell = _put(sheet, number, column, value, number_format)
            if column == 2:
                cell.alignment = WRAP
    last = header + max(len(rows), 1)
    sheet.freeze_panes = sheet.cell(row=header + 1, column=3)
    sheet.auto_filter.ref = f"A{header}:{get_column_letter(len(headers))}{last}"
    _print_setup(sheet, f"{header}:{header}", landscape=True, one_page_wide=True)


def _groups(spec: FormSpec, rows: list[UnitRow]):
    if rows and rows[0].card.groups:
        return rows[0].card.groups
    rubric = rubric_for(spec)
    return score(spec, FormState(spec, {}), rubric).groups if rubric else []


def _data_sheet(sheet: Worksheet, spec: FormSpec, year: int, rows: list[UnitRow], made: date):
    """Every answer: row 3 the item codes, row 4 the labels (a fraction's two columns share
    them), one row per unit below."""
    words = wording()["export"]
    items = spec.items
    widths = [[item, item.type.sheet_columns] for item in items]
    columns = 2 + sum(span for _, span in widths)
    _title(sheet, spec, year, made, min(columns, 12))
    codes, labels = 3, 4
    for column, text in ((1, words["rank"]), (2, words["unit"])):
        for row in (codes, labels):
            cell = _put(sheet, row, column, text if row == codes else "")
            cell.font, cell.alignment, cell.border = BOLD, HEAD, BOXED
    sheet.column_dimensions["A"].width = 7
    sheet.column_dimensions["B"].width = 40
    column = 3
    for item, span in widths:
        for row, text in ((codes, item.code), (labels, safe_text(item.label))):
            cell = _put(sheet, row, column, text)
            cell.font = BOLD if row == codes else Font(size=9)
            cell.alignment = HEAD if row == codes else WRAP
            cell.border = BOXED
            if span > 1:
                sheet.merge_cells(
                    start_row=row, start_column=column, end_row=row, end_column=column + span - 1
                )
        width = 13 if item.type.sheet_number else 30
        for offset in range(span):
            sheet.column_dimensions[get_column_letter(column + offset)].width = width
        column += span
    sheet.row_dimensions[labels].height = 120
    for number, row in enumerate(rows, start=labels + 1):
        _put(sheet, number, 1, row.rank, "0")
        _put(sheet, number, 2, safe_text(row.unit)).alignment = WRAP
        column = 3
        for item, span in widths:
            number_format = _number_format(item)
            for offset, value in enumerate(item.type.cells(item, row.state.value(item.code))):
                if value is not None:
                    value = safe_text(value) if isinstance(value, str) else value
                    _put(sheet, number, column + offset, value, number_format)
            column += span
    last = labels + max(len(rows), 1)
    sheet.freeze_panes = sheet.cell(row=labels + 1, column=3)
    sheet.auto_filter.ref = f"A{labels}:{get_column_letter(columns)}{last}"
    _print_setup(sheet, f"{codes}:{labels}", landscape=True, one_page_wide=False)
    sheet.print_title_cols = "A:B"


def write_xlsx(spec: FormSpec, year: int, rows: list[UnitRow], made: date | None = None) -> bytes:
    """The ranking workbook of ``rows`` (``campaign_rows``); ``made``: the day printed in its
    title (default today)."""
    made = made or vietnam_today()
    words = wording()["export"]
    workbook = Workbook()
    ranking = workbook.active
    ranking.title = words["sheet"]
    _ranking_sheet(ranking, spec, year, rows, made)
    _data_sheet(workbook.create_sheet(words["data_sheet"]), spec, year, rows, made)
    output = BytesIO()
    workbook.save(output)
    return output.getvalue()


async def export_campaign(database: Database, spec: FormSpec, year: int) -> tuple[bytes, int]:
    """(the XLSX file, how many units it lists)."""
    async with database.session() as session:
        rows = await campaign_rows(session, spec, year)
    return write_xlsx(spec, year, rows), len(rows)


def campaign_ranking(database: Database) -> Ranker:
    """The staff services' ranker: every unit of a campaign, scored and ranked, and the
    ranking workbook."""

    async def rank(spec: FormSpec, year: int) -> Ranking:
        async with database.session() as session:
            rows = await campaign_rows(session, spec, year)
        return Ranking(rows, write_xlsx(spec, year, rows))

    return rank

"""The ranking spreadsheet of a campaign (one form, one year): one row per unit with its rank,
score, section scores and every answer and computed value (``formbot export --xlsx``).

Anything a person typed is written as text: a cell that begins with ``=``, ``+``, ``-`` or ``@``
is stored as a string with Excel's quote prefix, so opening the file runs no formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from dialogs.scoring import CAMPAIGN_STATUSES, ScoreCard, best_of, rubric_for, score
from dialogs.snapshot import parse_answer_rows
from dialogs.spec import FormSpec, Item
from dialogs.state import FormState
from storage.campaigns import load_campaign
from storage.db import Database
from templates.context import safe_text
from templates.wording import phrase, wording

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class UnitRow:
    unit: str
    status: str
    state: FormState
    card: ScoreCard
    rank: int = 0


async def campaign_rows(session, spec: FormSpec, year: int) -> list[UnitRow]:
    """Every unit's submission of ``spec`` for ``year``, scored and ranked (best first)."""
    data = await load_campaign(session, spec.id, year)
    stored = parse_answer_rows(spec, data.answers)
    return rank_rows(
        spec,
        [
            (data.units[s.unit_id].name, s.status, FormState(spec, stored.get(s.id, {})))
            for s in data.submissions
        ],
    )


def rank_rows(spec: FormSpec, units: list[tuple[str, str, FormState]]) -> list[UnitRow]:
    """Score ``(unit, status, state)`` triples of one campaign and rank them by total (equal
    totals share a rank: 1, 2, 2, 4). Relative rules compare with the best submitted unit."""
    rubric = rubric_for(spec)
    best = (
        best_of(spec, rubric, [st for _, status, st in units if status in CAMPAIGN_STATUSES])
        if rubric
        else {}
    )
    scored = [
        UnitRow(name, status, state, score(spec, state, rubric, best))
        for name, status, state in units
    ]
    scored.sort(key=lambda row: (-round(row.card.total, 6), row.unit))
    ranked: list[UnitRow] = []
    for position, row in enumerate(scored, start=1):
        previous = ranked[-1] if ranked else None
        same = previous is not None and round(previous.card.total, 6) == round(row.card.total, 6)
        ranked.append(
            UnitRow(row.unit, row.status, row.state, row.card, previous.rank if same else position)
        )
    return ranked


def _cell_value(item: Item, value: Any) -> Any:
    """Numbers stay numbers (so the sheet can sum and sort); everything else is text."""
    cell = item.type.cell(item, value)
    return safe_text(cell) if isinstance(cell, str) else cell


def _put(sheet, row: int, column: int, value: Any) -> None:
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
        cell.quotePrefix = True


def write_xlsx(spec: FormSpec, year: int, rows: list[UnitRow]) -> bytes:
    words = wording()["export"]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = words["sheet"]
    groups = rows[0].card.groups if rows and rows[0].card.groups else []
    if not groups and (rubric := rubric_for(spec)) is not None:
        groups = score(spec, FormState(spec, {}), rubric).groups
    fixed = [
        (words["rank"], ""),
        (words["unit"], ""),
        (words["status"], ""),
        (words["total"], ""),
        (words["max"], ""),
        (words["index"], ""),
        (words["class"], ""),
        (words["bonus"], ""),
    ] + [(phrase("export", "group", code=g.code), g.title) for g in groups]
    items = spec.items
    header_codes = [code for code, _ in fixed] + [item.code for item in items]
    header_labels = [label for _, label in fixed] + [item.label for item in items]
    bold = Font(bold=True)
    for column, (code, label) in enumerate(zip(header_codes, header_labels, strict=True), 1):
        _put(sheet, 1, column, code)
        _put(sheet, 2, column, safe_text(label))
        sheet.cell(row=1, column=column).font = bold
        sheet.cell(row=2, column=column).alignment = Alignment(wrap_text=True, vertical="top")
    statuses = words["statuses"]
    for number, row in enumerate(rows, start=3):
        card = row.card
        values: list[Any] = [
            row.rank,
            safe_text(row.unit),
            statuses.get(row.status, row.status),
            round(card.total, 2),
            round(card.max, 2),
            round(card.index, 4),
            card.klass,
            round(card.bonus, 2),
        ]
        values += [round(g.points, 2) for g in card.groups]
        values += [_cell_value(item, row.state.value(item.code)) for item in items]
        for column, value in enumerate(values, start=1):
            if value is not None:
                _put(sheet, number, column, value)
    sheet.freeze_panes = "C3"
    sheet.column_dimensions["B"].width = 36
    for column in range(3, len(header_codes) + 1):
        sheet.column_dimensions[get_column_letter(column)].width = 14
    sheet.row_dimensions[2].height = 60
    output = BytesIO()
    workbook.save(output)
    return output.getvalue()


async def export_campaign(database: Database, spec: FormSpec, year: int) -> tuple[bytes, int]:
    """(the XLSX file, how many units it lists)."""
    async with database.session() as session:
        rows = await campaign_rows(session, spec, year)
    return write_xlsx(spec, year, rows), len(rows)


def campaign_ranking(database: Database):
    """The staff services' ranker (``dialogs.services.Ranker``): every unit of a campaign,
    scored and ranked, and the ranking sheet."""
    from dialogs.services import Ranking

    async def rank(spec: FormSpec, year: int) -> Ranking:
        async with database.session() as session:
            rows = await campaign_rows(session, spec, year)
        return Ranking(rows, write_xlsx(spec, year, rows))

    return rank

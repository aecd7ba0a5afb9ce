"""Fully answered submissions of the three official forms, and the documents a reviewer gets
from them, built once per test module (the layout does not depend on the database backend).

Every applicable item is answered the way a person might type
(``dialogs.kinds.sample_answer``), as the walk tests and the benchmarks do; a refused count
is answered again with a smaller one.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import select, update

from dialogs import Engine
from dialogs.filling import fill_answers
from dialogs.kinds import sample_answer, smaller_answer
from storage.db import Database
from storage.models import Submission
from templates.render import render, submission_context

UNITS = {
    "so-ban-nganh": "Sở Thông tin và Truyền thông",
    "ubnd-huyen": "UBND thành phố Quy Nhơn",
    "xa-phuong": "UBND phường Hương Xuân",
}
YEAR = 2020
# 03:00 on 5 March 2020 in Vietnam.
SUBMITTED_AT = datetime(2020, 3, 4, 20, 0, tzinfo=UTC)
MM = 72 / 25.4  # PDF points per millimetre


@dataclass(frozen=True)
class Rendered:
    form: str
    context: dict
    pdf: bytes
    docx: bytes
    html: str


async def answer_everything(engine: Engine, form: str, unit: str, year: int = YEAR) -> None:
    spec = engine.forms[form]
    await fill_answers(engine.db, engine.forms, unit_name=unit, form_id=form, year=year, answers={})
    for item in spec.items:
        if not item.asked:
            continue
        answer = {item.code: sample_answer(item, year)}
        results = await fill_answers(
            engine.db, engine.forms, unit_name=unit, form_id=form, year=year, answers=answer
        )
        if not results[0][1] and smaller_answer(item):
            answer = {item.code: smaller_answer(item)}
            await fill_answers(
                engine.db, engine.forms, unit_name=unit, form_id=form, year=year, answers=answer
            )


async def _build(folder: Path, forms: tuple[str, ...]) -> dict[str, Rendered]:
    database = Database(f"sqlite+aiosqlite:///{folder / 'forms.db'}")
    await database.upgrade()
    engine = Engine(database)
    rendered = {}
    try:
        for form in forms:
            await answer_everything(engine, form, UNITS[form])
            async with database.session() as session, session.begin():
                await session.execute(
                    update(Submission)
                    .where(Submission.form_id == form)
                    .values(status="submitted", submitted_at=SUBMITTED_AT)
                )
            async with database.session() as session:
                submission_id = (
                    await session.execute(select(Submission.id).where(Submission.form_id == form))
                ).scalar_one()
            context = await submission_context(database, submission_id)
            assert context is not None and context["form"] == form
            rendered[form] = Rendered(
                form,
                context,
                render(context, "pdf"),
                render(context, "docx"),
                render(context, "html").decode(),
            )
    finally:
        await database.dispose()
    return rendered


@cache
def complete_forms() -> dict[str, Rendered]:
    """The three forms answered in full and rendered, once per test session."""
    return asyncio.run(_build(Path(tempfile.mkdtemp(prefix="formbot-forms-")), tuple(UNITS)))


def squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()

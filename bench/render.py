"""Documents of a complete ``so-ban-nganh`` submission and the ranking spreadsheet of a
campaign.

One complete submission (every applicable item answered, through the engine's parser) is
rendered to HTML, DOCX and PDF repeatedly in one process; the medians are reported (the first
run of each is a warm-up and not counted). Then 200 units with complete submissions are
exported to XLSX (loading, scoring, ranking and writing), also as a median, and once to the ZIP
of ``formbot export --zip`` (every unit's DOCX and PDF and the ranking; PDFs in one worker
process per CPU). Targets: HTML ≤ 50 ms, DOCX ≤ 300 ms, PDF ≤ 2 s, XLSX of 200 units ≤ 3 s; the
ZIP has none (its figure is printed). Last line: one JSON object.

    python bench/render.py
    python bench/render.py --runs 20 --units 200 --zip-units 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialogs import Engine  # noqa: E402
from dialogs.filling import fill_answers  # noqa: E402
from dialogs.kinds import sample_answer, smaller_answer  # noqa: E402
from dialogs.spec import all_forms  # noqa: E402
from storage import repo  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Answer, Submission, Unit, utcnow  # noqa: E402
from templates.bundle import export_bundle  # noqa: E402
from templates.export import export_campaign  # noqa: E402
from templates.render import render_docx, render_html, render_pdf, submission_context  # noqa: E402

FORM = "so-ban-nganh"
YEAR = 2020
TARGETS_MS = {"html": 50, "docx": 300, "pdf": 2000, "xlsx": 3000}


async def complete_submission(database: Database) -> int:
    """Answer every applicable item of the form the way a person might, like the walk tests."""
    engine = Engine(database)
    spec = engine.forms[FORM]
    unit = "Sở Thông tin và Truyền thông"
    await fill_answers(engine.db, engine.forms, unit_name=unit, form_id=FORM, year=YEAR, answers={})
    for item in spec.items:
        if not item.asked:
            continue
        results = await fill_answers(
            engine.db,
            engine.forms,
            unit_name=unit,
            form_id=FORM,
            year=YEAR,
            answers={item.code: sample_answer(item, YEAR)},
        )
        if not results[0][1] and smaller_answer(item):
            await fill_answers(
                engine.db,
                engine.forms,
                unit_name=unit,
                form_id=FORM,
                year=YEAR,
                answers={item.code: smaller_answer(item)},
            )
    async with database.session() as session, session.begin():
        submission = (await repo.list_submissions(session))[0][0]
        await repo.bump_version(
            session, submission.id, submission.version, status="submitted", submitted_at=utcnow()
        )
    return submission.id


async def campaign_of(database: Database, template_id: int, units: int) -> None:
    """``units`` more submitted units, each a copy of the complete submission with its
    bandwidth, staff and a few Có/Không answers varied, written in bulk."""
    rng = random.Random(5)
    async with database.session() as session, session.begin():
        answers = await repo.load_answers(session, template_id)
        for n in range(units - 1):
            unit = Unit(name=f"Đơn vị {n + 2:03d}", form_id=FORM)
            session.add(unit)
            await session.flush()
            submission = Submission(
                unit_id=unit.id, form_id=FORM, year=YEAR, status="submitted", submitted_at=utcnow()
            )
            session.add(submission)
            await session.flush()
            rows = []
            for answer in answers:
                value = answer.value
                if answer.code in ("3.2.b.1", "3.2.b.2"):
                    value = round(rng.uniform(0, 200), 1)
                elif answer.code in ("1.8", "1.9") and isinstance(value, int):
                    value = value + rng.randint(0, 50)
                elif isinstance(value, bool):
                    value = rng.random() < 0.7
                rows.append(
                    {
                        "submission_id": submission.id,
                        "code": answer.code,
                        "raw": answer.raw,
                        "value": value,
                        "skipped": answer.skipped,
                    }
                )
            await session.execute(insert(Answer), rows)


def medians(function, runs: int) -> tuple[float, float]:
    """(wall, CPU) medians in ms. CPU time is this process's own work: on a machine shared with
    other jobs it stays put while wall time grows with the load."""
    function()  # warm-up: template compilation, font loading
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per format")
    parser.add_argument("--pdf-runs", type=int, default=5, help="timed PDF runs")
    parser.add_argument("--units", type=int, default=200, help="units in the XLSX export")
    parser.add_argument("--zip-units", type=int, default=200, help="units in the ZIP (0: no ZIP)")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="formbot-bench-render-")
    database = Database(f"sqlite+aiosqlite:///{folder}/bench.db")
    await database.upgrade()
    submission_id = await complete_submission(database)
    context = await submission_context(database, submission_id)
    async with database.session() as session:
        answered = await repo.count_answers(session, submission_id)

    load = os.getloadavg()[0]
    html, html_cpu = medians(lambda: render_html(context), args.runs)
    docx, docx_cpu = medians(lambda: render_docx(context), args.runs)
    pdf, pdf_cpu = medians(lambda: render_pdf(context), args.pdf_runs)
    sizes = {
        "html_kb": round(len(render_html(context).encode()) / 1024),
        "docx_kb": round(len(render_docx(context)) / 1024),
        "pdf_kb": round(len(render_pdf(context)) / 1024),
    }

    await campaign_of(database, submission_id, args.units)
    spec = all_forms()[FORM]
    xlsx_wall, xlsx_cpu = [], []
    for _ in range(3):
        started, started_cpu = time.perf_counter(), time.process_time()
        data, listed = await export_campaign(database, spec, YEAR)
        xlsx_wall.append((time.perf_counter() - started) * 1000)
        xlsx_cpu.append((time.process_time() - started_cpu) * 1000)
    xlsx, xlsx_cpu_ms = statistics.median(xlsx_wall), statistics.median(xlsx_cpu)
    zip_figures = {}
    if args.zip_units:
        if args.zip_units != args.units:  # the ZIP's campaign: its own number of units
            await database.dispose()
            database = Database(f"sqlite+aiosqlite:///{folder}/bench-zip.db")
            await database.upgrade()
            await campaign_of(database, await complete_submission(database), args.zip_units)
        archive = Path(folder) / "campaign.zip"
        started = time.perf_counter()
        with archive.open("wb") as target:
            report = await export_bundle(database, spec, YEAR, target)
        zip_figures = {
            "zip_units": report.units,
            "zip_files": report.files,
            "zip_s": round(time.perf_counter() - started, 1),
            "zip_mb": round(archive.stat().st_size / 2**20, 1),
            "zip_workers": min(os.cpu_count() or 1, report.units),
        }
    await database.dispose()

    figures = {
        "form": FORM,
        "answers": answered,
        "pdf_pages": len(PdfReader(BytesIO(render_pdf(context))).pages),
        "html_ms": round(html, 1),
        "html_cpu_ms": round(html_cpu, 1),
        "docx_ms": round(docx, 1),
        "docx_cpu_ms": round(docx_cpu, 1),
        "pdf_ms": round(pdf, 1),
        "pdf_cpu_ms": round(pdf_cpu, 1),
        "xlsx_units": listed,
        "xlsx_ms": round(xlsx, 1),
        "xlsx_cpu_ms": round(xlsx_cpu_ms, 1),
        "xlsx_kb": round(len(data) / 1024),
        **zip_figures,
        **sizes,
        "cpus": os.cpu_count(),
        "load_average": round(load, 2),
        "within_targets": html <= TARGETS_MS["html"]
        and docx <= TARGETS_MS["docx"]
        and pdf <= TARGETS_MS["pdf"]
        and xlsx <= TARGETS_MS["xlsx"],
    }
    rows = [("HTML", html, html_cpu, "html"), ("DOCX", docx, docx_cpu, "docx")]
    rows += [("PDF", pdf, pdf_cpu, "pdf"), (f"XLSX {listed} units", xlsx, xlsx_cpu_ms, "xlsx")]
    for name, wall, cpu, key in rows:
        target = TARGETS_MS[key]
        print(f"{name:<16} median {wall:8.1f} ms  (CPU {cpu:8.1f} ms; target ≤ {target} ms)")
    if zip_figures:
        print(
            f"{'ZIP ' + str(zip_figures['zip_units']) + ' units':<16} once   "
            f"{zip_figures['zip_s']:8.1f} s   ({zip_figures['zip_files']} files, "
            f"{zip_figures['zip_mb']} MB, {zip_figures['zip_workers']} PDF workers)"
        )
    print(f"load average {load:.2f} on {os.cpu_count()} CPUs")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())

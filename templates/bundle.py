"""Every document of a campaign in one ZIP (``formbot export --zip``): one folder per submitted
or approved unit with its DOCX and PDF and a ``bang-chung/`` folder of its evidence files (named
by item: ``5.8.1-1-hoa-don.pdf``; links listed in ``lien-ket.txt``), and the ranking
spreadsheet at the top.

PDFs take most of the time (about a second each), so they are rendered in worker processes
(WeasyPrint renders one document at a time per process); the archive is written in the
campaign's ranking order as the documents come back.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import BinaryIO
from zipfile import ZIP_DEFLATED, ZipFile

from dialogs.scoring import CAMPAIGN_STATUSES
from dialogs.spec import FormSpec
from storage import evidence as evidence_store
from storage.db import Database
from templates.export import UnitRow, campaign_rows, write_xlsx
from templates.render import document_filename, render, submission_context, unit_slug
from templates.wording import phrase

# (units done, units in all, the unit just written)
Progress = Callable[[int, int, str], None]
FORMATS = ("docx", "pdf")
EVIDENCE_FOLDER = "bang-chung"
LINKS_FILE = "lien-ket.txt"


@dataclass(frozen=True)
class BundleReport:
    units: int  # units whose documents are in the archive
    ranked: int  # units in the ranking spreadsheet
    files: int  # files in the archive


def render_documents(context: dict) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each document of one submission; runs in a worker process."""
    return [(document_filename(context, fmt), render(context, fmt)) for fmt in FORMATS]


@contextmanager
def _executor(workers: int):
    """Worker processes for the PDFs, or none (rendered in a thread) for one worker. Spawned,
    not forked: the parent holds database connections and an event loop."""
    if workers <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def _folders(rows: list[UnitRow]) -> dict[str, str]:
    """A folder name per unit: its ASCII name, numbered when two names fold alike."""
    folders: dict[str, str] = {}
    taken: set[str] = set()
    for row in rows:
        base = unit_slug(row.unit)
        name, count = base, 1
        while name in taken:
            count += 1
            name = f"{base}-{count}"
        taken.add(name)
        folders[row.unit] = name
    return folders


async def export_bundle(
    database: Database,
    spec: FormSpec,
    year: int,
    target: str | Path | BinaryIO,
    progress: Progress | None = None,
    workers: int | None = None,
    forms: dict[str, FormSpec] | None = None,
) -> BundleReport:
    """Write the campaign's ZIP to ``target``. ``workers``: PDF processes (default: one per
    CPU, at most one per unit); ``forms``: the specs to read the submissions with (default:
    the built-in forms)."""
    async with database.session() as session:
        rows = await campaign_rows(session, spec, year)
    chosen = [r for r in rows if r.status in CAMPAIGN_STATUSES and r.submission_id is not None]
    folders = _folders(chosen)
    workers = workers if workers is not None else min(os.cpu_count() or 1, len(chosen))
    loop = asyncio.get_running_loop()
    files = 0
    with ZipFile(target, "w", ZIP_DEFLATED) as archive, _executor(workers) as pool:
        # The spreadsheet and the compression in a thread: a web request serving the ZIP
        # leaves the event loop free (one write at a time, so the archive sees one writer).
        ranking = await asyncio.to_thread(write_xlsx, spec, year, rows)
        await asyncio.to_thread(
            archive.writestr, phrase("bundle", "ranking", form=spec.id, year=year), ranking
        )
        files += 1
        pending: deque[tuple[UnitRow, asyncio.Future]] = deque()
        done = 0

        def start(context: dict) -> asyncio.Future:
            if pool is None:
                return asyncio.ensure_future(asyncio.to_thread(render_documents, context))
            return loop.run_in_executor(pool, render_documents, context)

        async def finish() -> None:
            nonlocal done, files
            row, future = pending.popleft()
            for name, data in await future:
                await asyncio.to_thread(archive.writestr, f"{folders[row.unit]}/{name}", data)
                files += 1
            done += 1
            if progress is not None:
                progress(done, len(chosen), row.unit)

        for row in chosen:
            files += await _write_evidence(database, archive, folders[row.unit], row.submission_id)
            context = await submission_context(database, row.submission_id, forms)
            if context is None:  # deleted meanwhile
                continue
            pending.append((row, start(context)))
            if len(pending) > 2 * max(workers, 1):
                await finish()
        while pending:
            await finish()
    return BundleReport(units=done, ranked=len(rows), files=files)


async def _write_evidence(
    database: Database, archive: ZipFile, folder: str, submission_id: int
) -> int:
    """The unit's evidence files under ``<folder>/bang-chung/`` and its links in
    ``lien-ket.txt`` there; returns how many files were written. The bytes are read one
    submission at a time (a unit's files are at most 200 MB)."""
    async with database.session() as session:
        found = (await evidence_store.list_evidence(session, [submission_id]))[submission_id]
        data = await evidence_store.blob_data(session, [e.digest for e in found if e.digest])
    written = 0
    counts: dict[str, int] = {}
    links = []
    for info in found:
        counts[info.code] = counts.get(info.code, 0) + 1
        if info.kind == "link" or info.digest not in data:
            links.append(f"{info.code}\t{info.url or ''}")
            continue
        name = f"{info.code}-{counts[info.code]}-{info.filename or info.digest[:12]}"
        archive.writestr(f"{folder}/{EVIDENCE_FOLDER}/{name}", data[info.digest])
        written += 1
    if links:
        archive.writestr(f"{folder}/{EVIDENCE_FOLDER}/{LINKS_FILE}", "\n".join(links) + "\n")
        written += 1
    return written

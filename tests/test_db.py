"""The database's schema: brought to the newest migration once, and recognised as up to date
without loading Alembic (what makes a CLI command start fast)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from alembic.script import ScriptDirectory
from conftest import BACKENDS, fresh_database

from storage.db import HEAD_REVISION, Database, alembic_config


def test_the_head_revision_known_to_storage_is_alembics():
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


async def test_a_new_database_is_upgraded_and_an_upgraded_one_is_left_alone(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    try:
        assert await database.revision() is None
        await database.upgrade()
        assert await database.revision() == HEAD_REVISION
    finally:
        await database.dispose()
    # Up to date: another process opening it runs nothing and does not even load Alembic.
    script = (
        "import asyncio, sys\n"
        "from storage.db import Database\n"
        f"database = Database({database.url!r})\n"
        "asyncio.run(database.upgrade())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


async def test_the_fixture_databases_are_at_the_head(database):
    assert await database.revision() == HEAD_REVISION


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL: set TEST_DATABASE_URL")
async def test_workers_starting_together_on_a_new_database_migrate_it_once(tmp_path):
    """Three workers start at once on an empty PostgreSQL database: none fails, and the
    schema is at the head."""
    empty = await fresh_database("postgresql", tmp_path)
    await empty.reset_schema()
    workers = [Database(empty.url) for _ in range(3)]
    try:
        await asyncio.wait_for(asyncio.gather(*(worker.upgrade() for worker in workers)), 60)
        assert [await worker.revision() for worker in workers] == [HEAD_REVISION] * 3
    finally:
        for database in (empty, *workers):
            await database.dispose()

"""Shared fixtures: a fresh database per test, on SQLite and (when TEST_DATABASE_URL is set,
as .ci/run does) on PostgreSQL too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from dialogs import Engine
from dialogs.spec import load_spec
from storage.db import Database
from templates.export import campaign_ranking

FIXTURES = Path(__file__).parent / "fixtures"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture
def mini_spec():
    return load_spec(FIXTURES / "mini.yaml")


async def fresh_database(backend: str, tmp_path: Path) -> Database:
    if backend == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'formbot.db'}")
    else:
        database = Database(os.environ["TEST_DATABASE_URL"])
        async with database.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    await database.upgrade()
    return database


@pytest.fixture(params=BACKENDS)
async def database(request, tmp_path):
    database = await fresh_database(request.param, tmp_path)
    yield database
    await database.dispose()


@pytest.fixture
async def engine(database, mini_spec):
    return Engine(database, {"mini": mini_spec}, rank=campaign_ranking(database))

"""The async engine: SQLite file by default, PostgreSQL through ``DATABASE_URL``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.turns import TurnThreads

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_URL = "sqlite+aiosqlite:///./formbot.db"
MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration in migrations/versions (a test checks it against Alembic's head): a
# database already there is not upgraded, so Alembic is not even imported (~0.3 s).
HEAD_REVISION = "0005"
MIGRATION_LOCK = 0x666F726D626F74  # the advisory lock number of a running migration ("formbot")


def normalize_url(url: str) -> str:
    """Accept the plain spellings people paste and pick the async drivers."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    return url


def database_url() -> str:
    return normalize_url(os.environ.get("DATABASE_URL") or DEFAULT_URL)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work during a write; NORMAL sync in WAL mode survives a process crash
    # (an fsync happens at checkpoints), which is the failure this bot must not lose answers to.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """One engine and session factory per process."""

    def __init__(self, url: str | None = None) -> None:
        self.url = normalize_url(url) if url else database_url()
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.session: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        self._turns: TurnThreads | None = None

    @property
    def turns(self) -> TurnThreads:
        """The database threads that run conversation turns (``storage.turns``)."""
        if self._turns is None:
            self._turns = TurnThreads(self.url)
        return self._turns

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration (creates the SQLite file on first use).
        PostgreSQL: workers starting together migrate one at a time (an advisory lock held by
        the migration's transaction); the next finds the schema done and changes nothing."""
        if await self.revision() == HEAD_REVISION:
            return
        async with self.engine.begin() as connection:
            if not self.is_sqlite:
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:n)"), {"n": MIGRATION_LOCK}
                )
            await connection.run_sync(_run_upgrade)

    async def revision(self) -> str | None:
        """The schema's migration (Alembic's ``alembic_version``); None for an empty
        database."""
        try:
            async with self.engine.connect() as connection:
                result = await connection.execute(text("SELECT version_num FROM alembic_version"))
                versions = list(result.scalars())
        except DBAPIError:  # no such table: a new database
            return None
        return versions[0] if len(versions) == 1 else None

    async def reset_schema(self) -> None:
        """PostgreSQL only: drop every table (tests and benchmarks start from nothing)."""
        async with self.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))

    async def dispose(self) -> None:
        if self._turns is not None:
            await self._turns.close()
            self._turns = None
        await self.engine.dispose()


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _run_upgrade(connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")

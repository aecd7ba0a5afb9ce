"""The hot path: every statement one conversation turn runs, in one call on a database thread.

A turn (one message of one person) reads that person's position, their form's answers when
they changed, writes the new answer with its history, bumps the submission's version and
moves the cursor — all in one transaction. Going through the async engine, each of those
statements is a hop to the driver's thread and back, and SQLAlchemy's statement machinery
costs more than SQLite itself; measured here, that was ~170 times the cost of the writes.
So a turn runs as one synchronous function on a database thread (``TurnThreads.run``), on a
plain DB-API connection, with the SQL below written once per dialect.

- SQLite: one thread and one connection per process (SQLite has one writer anyway);
  ``BEGIN IMMEDIATE`` takes the write lock first, so the turns of other processes wait.
- PostgreSQL: a few threads, one connection each; the first statement takes a transaction
  advisory lock on the person (``lock_number``), so one person's messages are applied one at
  a time across all workers, while other people's run alongside.

The person's row carries the sender's order of the last message applied (``last_order``,
written with the conversation's position), so the runner can tell a late message from a
current one without another statement.

Values are stored exactly as the async engine (SQLAlchemy) stores them: JSON as text on
SQLite and ``json`` on PostgreSQL, times as UTC.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from storage.models import utcnow
from storage.outbox import queued_row

T = TypeVar("T")
POSTGRES_THREADS = 8
RETRIES = 5


class StaleVersion(RuntimeError):
    """Another writer changed the submission first; the turn must be run again."""


@dataclass(frozen=True, slots=True)
class TurnRow:
    """One person's binding as a turn needs it: who, which form, where they are."""

    respondent_id: int
    role: str
    phase: str
    cursor: str | None
    return_to: str | None
    submission_id: int
    unit_id: int
    form_id: str
    year: int
    status: str
    version: int
    submitted_at: datetime | None
    returned_reason: str | None
    unit_name: str
    unit_form_id: str
    previous_id: int | None  # last year's submitted form of the same unit, if any
    previous_version: int | None
    pending: Any  # input in progress for the current question (JSON), or None
    unit_contact: str | None
    campaign_status: str | None  # of the submission's campaign; None without one
    last_order: int | None = None  # the sender's order of the last message applied
    last_seen_at: datetime | None = None  # when it was applied


@dataclass(frozen=True, slots=True)
class AnswerRow:
    code: str
    value: Any
    skipped: bool
    raw: str | None
    warnings: Any = None  # kept warnings: [{"rule", "message"}]


@dataclass(frozen=True, slots=True)
class CampaignAnswer:
    """An answer of another submission of the same campaign (for the campaign's best values)."""

    submission_id: int
    code: str
    value: Any
    skipped: bool
    raw: str | None


@dataclass(frozen=True, slots=True)
class Reviewer:
    respondent_id: int
    channel: str
    external_id: str
    scope: Any  # JSON: see storage.models.Respondent.scope


@dataclass(frozen=True, slots=True)
class AnswerWrite:
    """One answer to store, with the history line old → new."""

    code: str
    old_value: Any
    value: Any
    raw: str | None
    skipped: bool
    warnings: Any = None  # kept warnings: [{"rule", "message"}], or None
    history: bool = True  # False when only the kept warnings change (the value stays)


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """A piece of evidence already stored for a submission (``storage.models.Evidence``)."""

    id: int
    code: str
    kind: str  # file | link
    digest: str | None
    url: str | None
    filename: str | None
    mime_type: str | None
    size: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class EvidenceWrite:
    """A piece of evidence to store: a file's bytes (kept once per digest) or a link."""

    code: str
    kind: str  # file | link
    filename: str | None
    size: int = 0
    digest: str | None = None
    mime_type: str | None = None
    data: bytes | None = field(default=None, repr=False)
    url: str | None = None


@dataclass(frozen=True, slots=True)
class TurnWrites:
    """Everything a turn changes, written in one go at its end."""

    respondent_id: int | None  # None: written by the CLI, no conversation to move
    channel: str
    message_id: str | None
    phase: str
    cursor: str | None
    return_to: str | None
    submission_id: int
    expected_version: int
    answers: tuple[AnswerWrite, ...] = ()
    status: str | None = None  # a new submission status (submitted), clearing a return reason
    submitted_at: datetime | None = None
    pending: Any = None
    last_order: int | None = None  # the sender's order of the last message applied
    evidence: tuple[EvidenceWrite, ...] = ()


# The SQL, written once. ``?`` placeholders; PostgreSQL's driver gets ``%s``.

_LOAD = """
SELECT r.id, r.role, r.phase, r.cursor, r.return_to,
       s.id, s.unit_id, s.form_id, s.year, s.status, s.version, s.submitted_at,
       s.returned_reason, u.name, u.form_id, p.id, p.version, r.pending, u.contact, c.status,
       r.last_order, r.last_seen_at
FROM respondents r
JOIN submissions s ON s.id = r.submission_id
JOIN units u ON u.id = s.unit_id
LEFT JOIN submissions p ON p.unit_id = s.unit_id AND p.form_id = s.form_id
     AND p.year = s.year - 1 AND p.status IN ('submitted', 'approved')
LEFT JOIN campaigns c ON c.form_id = s.form_id AND c.year = s.year
WHERE r.channel = ? AND r.external_id = ?
"""
_ANSWERS = "SELECT code, value, skipped, raw, warnings FROM answers WHERE submission_id = ?"
_MARK_PROCESSED = """
INSERT INTO processed_messages (channel, chat, message_id, at) VALUES (?, ?, ?, ?)
ON CONFLICT DO NOTHING
"""
_UPSERT_ANSWER = """
INSERT INTO answers
    (submission_id, code, raw, value, skipped, warnings, respondent_id, channel, updated_at)
VALUES (?, ?, ?, {json}, ?, {json}, ?, ?, ?)
ON CONFLICT (submission_id, code) DO UPDATE SET raw = excluded.raw, value = excluded.value,
    skipped = excluded.skipped, warnings = excluded.warnings,
    respondent_id = excluded.respondent_id, channel = excluded.channel,
    updated_at = excluded.updated_at
"""
_HISTORY = """
INSERT INTO answer_history
    (submission_id, code, old_value, new_value, raw, respondent_id, channel, message_id, at)
VALUES (?, ?, {json}, {json}, ?, ?, ?, ?, ?)
"""
_EVIDENCE = """
SELECT id, code, kind, digest, url, filename, mime_type, size, received_at
FROM evidence WHERE submission_id = ? ORDER BY id
"""
# The bytes are stored once however often they are sent (the same scan for two items).
_BLOB = """
INSERT INTO blobs (digest, data, mime_type, size, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (digest) DO NOTHING
"""
_ADD_EVIDENCE = """
INSERT INTO evidence (submission_id, code, kind, digest, url, filename, mime_type, size,
    respondent_id, channel, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_BUMP = "UPDATE submissions SET version = ?, updated_at = ? WHERE id = ? AND version = ?"
_SUBMIT = """
UPDATE submissions SET version = ?, updated_at = ?, status = ?, submitted_at = ?,
    returned_reason = NULL
WHERE id = ? AND version = ?
"""
_CONVERSATION = """
UPDATE respondents SET phase = ?, cursor = ?, return_to = ?, pending = {json}, last_seen_at = ?,
    last_order = ?
WHERE id = ?
"""
_REVIEWERS = """
SELECT id, channel, external_id, scope FROM respondents
WHERE role = 'reviewer' AND blocked = ? ORDER BY id
"""
_CAMPAIGN_ANSWERS = """
SELECT a.submission_id, a.code, a.value, a.skipped, a.raw
FROM answers a JOIN submissions s ON s.id = a.submission_id
WHERE s.form_id = ? AND s.year = ? AND s.status IN ('submitted', 'approved')
    AND a.code IN ({codes})
"""
# The outbox's columns (storage.models.OutboxMessage), a message queued once by its key.
_OUTBOX_COLUMNS = (
    "key",
    "channel",
    "external_id",
    "respondent_id",
    "kind",
    "text",
    "priority",
    "status",
    "attempts",
    "created_at",
    "updated_at",
)
_ENQUEUE = (
    f"INSERT INTO outbox ({', '.join(_OUTBOX_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _OUTBOX_COLUMNS)}) ON CONFLICT DO NOTHING"
)
_UNBLOCK = "UPDATE respondents SET blocked = ? WHERE channel = ? AND external_id = ?"
_VERSION = "SELECT version FROM submissions WHERE id = ?"
_POSITION = "SELECT cursor FROM respondents WHERE channel = ? AND external_id = ?"
_PENDING = "SELECT pending FROM respondents WHERE channel = ? AND external_id = ?"
# The next year: the earliest open campaign of the form after the person's submission's.
_NEWER_CAMPAIGN = """
SELECT year FROM campaigns WHERE form_id = ? AND status = 'open' AND year > ?
ORDER BY year LIMIT 1
"""
_NEW_SUBMISSION = """
INSERT INTO submissions (unit_id, form_id, year, status, version, created_at, updated_at)
VALUES (?, ?, ?, 'draft', 0, ?, ?)
ON CONFLICT (unit_id, form_id, year) DO NOTHING
"""
_SUBMISSION_ID = "SELECT id FROM submissions WHERE unit_id = ? AND form_id = ? AND year = ?"
_REBIND = """
UPDATE respondents SET submission_id = ?, phase = 'answering', cursor = NULL, return_to = NULL,
    pending = NULL
WHERE id = ?
"""


class _Dialect:
    """How SQLite and PostgreSQL differ on the hot path."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def sql(self, text: str) -> str:
        text = text.replace("{json}", "CAST(? AS json)" if self.postgres else "?")
        return text.replace("?", "%s") if self.postgres else text

    def json_in(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value)

    def json_out(self, value: Any) -> Any:
        # SQLite gives the JSON text (or a number, by column affinity); psycopg parses json.
        return json.loads(value) if isinstance(value, str) and not self.postgres else value

    def time_in(self, value: datetime | None) -> Any:
        if value is None or self.postgres:
            return value
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def time_out(self, value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value.astimezone(UTC) if value is not None else None
        return datetime.fromisoformat(value).replace(tzinfo=UTC)


class TurnStatements:
    """The statements of one turn, on one open transaction (``TurnThreads.run`` opens it)."""

    def __init__(self, cursor: Any, dialect: _Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect
        self._sql: dict[str, str] = {}

    def _run(self, text: str, params: tuple) -> Any:
        sql = self._sql.get(text)
        if sql is None:
            sql = self._sql[text] = self._dialect.sql(text)
        self._cursor.execute(sql, params)
        return self._cursor

    def mark_processed(self, channel: str, chat: str, message_id: str) -> bool:
        """Record a message as handled; False when it was handled before (a re-delivery)."""
        now = self._dialect.time_in(utcnow())
        return self._run(_MARK_PROCESSED, (channel, chat, message_id, now)).rowcount == 1

    def load(self, channel: str, user: str) -> TurnRow | None:
        """The person's binding, or None when they are bound to no submission."""
        row = self._run(_LOAD, (channel, user)).fetchone()
        if row is None:
            return None
        values = list(row)
        values[11] = self._dialect.time_out(values[11])
        values[17] = self._dialect.json_out(values[17])
        values[21] = self._dialect.time_out(values[21])
        return TurnRow(*values)

    def answers(self, submission_id: int) -> list[AnswerRow]:
        rows = self._run(_ANSWERS, (submission_id,)).fetchall()
        out = self._dialect.json_out
        return [
            AnswerRow(code, out(value), bool(done), raw, out(warnings))
            for code, value, done, raw, warnings in rows
        ]

    def evidence(self, submission_id: int) -> list[EvidenceRow]:
        """The evidence of a submission, oldest first (read only by turns that need it)."""
        rows = self._run(_EVIDENCE, (submission_id,)).fetchall()
        time_out = self._dialect.time_out
        return [EvidenceRow(*row[:8], time_out(row[8])) for row in rows]

    def newer_campaign(self, form_id: str, year: int) -> int | None:
        """The year of the earliest open campaign of ``form_id`` after ``year``, if any."""
        row = self._run(_NEWER_CAMPAIGN, (form_id, year)).fetchone()
        return row[0] if row else None

    def move_to(self, row: TurnRow, year: int) -> None:
        """Bind the person to their unit's submission of ``year`` (created if needed), at its
        first question."""
        now = self._dialect.time_in(utcnow())
        self._run(_NEW_SUBMISSION, (row.unit_id, row.form_id, year, now, now))
        (submission_id,) = self._run(_SUBMISSION_ID, (row.unit_id, row.form_id, year)).fetchone()
        self._run(_REBIND, (submission_id, row.respondent_id))

    def reviewers(self) -> list[Reviewer]:
        """Everyone with the reviewer role who has not blocked the bot (with their scope)."""
        rows = self._run(_REVIEWERS, (False,)).fetchall()
        out = self._dialect.json_out
        return [Reviewer(rid, channel, user, out(scope)) for rid, channel, user, scope in rows]

    def campaign_answers(self, form_id: str, year: int, codes: list[str]) -> list[CampaignAnswer]:
        """The answers to ``codes`` of every submitted or approved submission of a campaign
        (this transaction's own writes included)."""
        if not codes:
            return []
        text = _CAMPAIGN_ANSWERS.replace("{codes}", ", ".join("?" for _ in codes))
        rows = self._run(text, (form_id, year, *codes)).fetchall()
        out = self._dialect.json_out
        return [CampaignAnswer(sid, code, out(v), bool(d), raw) for sid, code, v, d, raw in rows]

    def enqueue(self, rows: list[dict]) -> int:
        """Queue outbox messages in this turn's transaction (as ``storage.outbox.enqueue``
        does on a session); a row whose ``key`` was queued before is left out. Returns how
        many were queued."""
        now = utcnow()
        queued = 0
        for row in rows:
            values = queued_row(row, now)
            values["created_at"] = self._dialect.time_in(values["created_at"])
            values["updated_at"] = self._dialect.time_in(values["updated_at"])
            params = tuple(values.get(column) for column in _OUTBOX_COLUMNS)
            queued += self._run(_ENQUEUE, params).rowcount
        return queued

    def version(self, submission_id: int) -> int:
        return self._run(_VERSION, (submission_id,)).fetchone()[0]

    def unblock(self, channel: str, user: str) -> None:
        """Someone who blocked the bot wrote again."""
        self._run(_UNBLOCK, (False, channel, user))

    def position(self, channel: str, user: str) -> str | None:
        row = self._run(_POSITION, (channel, user)).fetchone()
        return row[0] if row else None

    def pending(self, channel: str, user: str) -> Any:
        """The person's input in progress (JSON), or None."""
        row = self._run(_PENDING, (channel, user)).fetchone()
        return self._dialect.json_out(row[0]) if row else None

    def write(self, writes: TurnWrites) -> int:
        """Store the turn's changes; returns the submission's new version. Raises
        ``StaleVersion`` when another writer changed the submission since it was read."""
        d = self._dialect
        now = d.time_in(utcnow())
        version = writes.expected_version
        if writes.answers or writes.status or writes.evidence:
            version += 1
            if writes.status:
                params = (version, now, writes.status, d.time_in(writes.submitted_at))
                params += (writes.submission_id, version - 1)
                updated = self._run(_SUBMIT, params).rowcount
            else:
                params = (version, now, writes.submission_id, version - 1)
                updated = self._run(_BUMP, params).rowcount
            if updated != 1:
                raise StaleVersion(writes.submission_id)
        for answer in writes.answers:
            value = d.json_in(answer.value)
            self._run(
                _UPSERT_ANSWER,
                (writes.submission_id, answer.code, answer.raw, value, answer.skipped)
                + (d.json_in(answer.warnings), writes.respondent_id, writes.channel, now),
            )
            if not answer.history:
                continue
            self._run(
                _HISTORY,
                (writes.submission_id, answer.code, d.json_in(answer.old_value), value)
                + (answer.raw, writes.respondent_id, writes.channel, writes.message_id, now),
            )
        for evidence in writes.evidence:
            if evidence.data is not None:
                blob = (evidence.digest, evidence.data, evidence.mime_type, evidence.size, now)
                self._run(_BLOB, blob)
            self._run(
                _ADD_EVIDENCE,
                (writes.submission_id, evidence.code, evidence.kind, evidence.digest)
                + (evidence.url, evidence.filename, evidence.mime_type, evidence.size)
                + (writes.respondent_id, writes.channel, now),
            )
        if writes.respondent_id is not None:
            params = (writes.phase, writes.cursor, writes.return_to, d.json_in(writes.pending))
            self._run(_CONVERSATION, params + (now, writes.last_order, writes.respondent_id))
        return version


class TurnThreads:
    """Runs turns on database threads, each turn one transaction on a plain connection.

    ``lock_key`` (a person) is locked for the transaction: PostgreSQL takes an advisory
    lock on it; SQLite's ``BEGIN IMMEDIATE`` locks the whole database."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.postgres = parsed.get_backend_name() == "postgresql"
        self._url = parsed
        self._dialect = _Dialect(self.postgres)
        threads = POSTGRES_THREADS if self.postgres else 1
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="formbot-turns")
        self._local = threading.local()
        self._connections: list[Any] = []
        self._guard = threading.Lock()

    async def run(self, work: Callable[[TurnStatements], T], lock_key: str | None = None) -> T:
        """``work`` in one transaction on a database thread; committed when it returns,
        rolled back when it raises (the exception is raised here)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, work, lock_key)

    def _transaction(self, work: Callable[[TurnStatements], T], lock_key: str | None) -> T:
        connection = self._connection()
        cursor = connection.cursor()
        try:
            if self.postgres:
                if lock_key is not None:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (lock_number(lock_key),))
            else:
                cursor.execute("BEGIN IMMEDIATE")
            result = work(TurnStatements(cursor, self._dialect))
            if self.postgres:
                connection.commit()
            else:
                cursor.execute("COMMIT")
            return result
        except BaseException as error:
            try:
                if self.postgres:
                    connection.rollback()
                else:
                    cursor.execute("ROLLBACK")
            except Exception:  # the connection itself broke: open a new one next time
                self._forget(connection)
            if _is_connection_error(error):
                self._forget(connection)
            raise
        finally:
            cursor.close()

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open()
            self._local.connection = connection
            with self._guard:
                self._connections.append(connection)
        return connection

    def _open(self) -> Any:
        if self.postgres:
            import psycopg

            url = self._url.set(drivername="postgresql")
            dsn = url.render_as_string(hide_password=False)
            return psycopg.connect(dsn, autocommit=False)
        database = self._url.database or ":memory:"
        # Autocommit mode: the transaction is ours (BEGIN IMMEDIATE … COMMIT).
        connection = sqlite3.connect(
            database, timeout=30, isolation_level=None, check_same_thread=False
        )
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            connection.execute(f"PRAGMA {pragma}")
        connection.execute("PRAGMA busy_timeout=30000")
        return connection

    def _forget(self, connection: Any) -> None:
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
        with self._guard:
            if connection in self._connections:
                self._connections.remove(connection)
        try:
            connection.close()
        except Exception:
            pass

    async def close(self) -> None:
        """Close every connection and stop the threads (the process is shutting down)."""
        self._executor.shutdown(wait=True)
        with self._guard:
            connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.close()
            except Exception:
                pass


def lock_number(key: str) -> int:
    """A signed 64-bit advisory lock number for a key (a person: ``channel:user``); the turns
    and the sessions that change a person (``storage.repo.lock_person``) take the same one."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def _is_connection_error(error: BaseException) -> bool:
    name = type(error).__name__
    return name in ("OperationalError", "InterfaceError")

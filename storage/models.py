"""The tables. Answers are stored as JSON values (see ``dialogs.kinds``) with what was typed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Unit(SQLModel, table=True):
    """An agency, district or commune that reports; ``form_id`` is its unit type."""

    __tablename__ = "units"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    form_id: str
    parent: str | None = None
    contact: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Submission(SQLModel, table=True):
    """One unit's form for one campaign year. ``version`` guards concurrent writers."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("unit_id", "form_id", "year"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="units.id", index=True)
    form_id: str
    year: int
    status: str = "draft"  # draft | submitted | returned | approved
    version: int = 0
    returned_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    submitted_at: datetime | None = None


class Respondent(SQLModel, table=True):
    """A chat user bound to a unit. The conversation state (phase and question cursor)
    lives here, so any process can answer this person's next message."""

    __tablename__ = "respondents"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str
    external_id: str
    name: str | None = None
    role: str = "respondent"  # respondent | reviewer | admin
    unit_id: int | None = Field(default=None, foreign_key="units.id", index=True)
    submission_id: int | None = Field(default=None, foreign_key="submissions.id")
    phase: str = "answering"
    cursor: str | None = None
    return_to: str | None = None
    # Input in progress for the current question, kept between messages so any worker can
    # take the next one: a multi-choice selection, the /xem page being read.
    pending: Any = Field(default=None, sa_column=Column(JSON))
    blocked: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    # The sender's order of the last message applied (Telegram's update_id, Zalo's time stamp),
    # written with ``last_seen_at``: a typed message older than it is not applied.
    last_order: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # What a reviewer reviews: {"campaigns": [ids], "forms": [ids]} (``dialogs.access.Scope``);
    # None: every campaign (admins, and reviewers invited to a unit before scopes existed).
    scope: Any = Field(default=None, sa_column=Column(JSON))


class Answer(SQLModel, table=True):
    """The current answer to one item: as typed and as parsed; who gave it."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("submission_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", index=True)
    code: str
    raw: str | None = None
    value: Any = Field(default=None, sa_column=Column(JSON))
    skipped: bool = False
    # Warnings the person kept ("Vẫn giữ"): [{"rule": …, "message": …}], for the reviewer.
    warnings: Any = Field(default=None, sa_column=Column(JSON))
    respondent_id: int | None = Field(default=None, foreign_key="respondents.id")
    channel: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class AnswerHistory(SQLModel, table=True):
    """Every change of an answer: old → new, who, when, over which channel and message."""

    __tablename__ = "answer_history"
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", index=True)
    code: str
    old_value: Any = Field(default=None, sa_column=Column(JSON))
    new_value: Any = Field(default=None, sa_column=Column(JSON))
    raw: str | None = None
    respondent_id: int | None = Field(default=None, foreign_key="respondents.id")
    channel: str | None = None
    message_id: str | None = None
    at: datetime = Field(default_factory=utcnow)


class ProcessedMessage(SQLModel, table=True):
    """Messages already handled, so a re-delivered update changes nothing."""

    __tablename__ = "processed_messages"
    channel: str = Field(primary_key=True)
    chat: str = Field(primary_key=True)
    message_id: str = Field(primary_key=True)
    at: datetime = Field(default_factory=utcnow)


class Invite(SQLModel, table=True):
    """A code that binds whoever opens it to a unit (and role) for a form and year; a reviewer
    invite may name the campaigns or forms to review (``scope``) instead of a unit."""

    __tablename__ = "invites"
    code: str = Field(primary_key=True)
    unit_id: int | None = Field(default=None, foreign_key="units.id", index=True)
    form_id: str
    year: int
    role: str = "respondent"
    uses_left: int | None = None  # None: unlimited
    expires_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    scope: Any = Field(default=None, sa_column=Column(JSON))  # reviewers: see Respondent.scope


class Campaign(SQLModel, table=True):
    """One reporting round of a form: ``<form>-<year>``, with a deadline and the days before it
    on which reminders go out (0 is the deadline day)."""

    __tablename__ = "campaigns"
    id: str = Field(primary_key=True)
    form_id: str
    year: int
    deadline: date
    reminder_days: list[int] = Field(default_factory=lambda: [7, 3, 1, 0], sa_column=Column(JSON))
    status: str = "open"  # open | closed
    created_at: datetime = Field(default_factory=utcnow)


class InviteAttempt(SQLModel, table=True):
    """A wrong invite code someone typed; too many within an hour locks them out for a while."""

    __tablename__ = "invite_attempts"
    __table_args__ = (Index("ix_invite_attempts_who", "channel", "external_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str
    external_id: str
    code: str
    at: datetime = Field(default_factory=utcnow)


class Broadcast(SQLModel, table=True):
    """One reminder round or announcement: who started it (for progress notes) and how many
    messages it queued."""

    __tablename__ = "broadcasts"
    id: int | None = Field(default=None, primary_key=True)
    kind: str  # reminder | announcement
    campaign_id: str | None = None
    audience: dict = Field(default_factory=dict, sa_column=Column(JSON))
    text: str | None = Field(default=None, sa_column=Column(Text))
    started_by_channel: str | None = None
    started_by: str | None = None
    total: int = 0
    reported: int = 0  # the last progress milestone (percent) told to whoever started it
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class OutboxMessage(SQLModel, table=True):
    """A message to deliver: queued → sending → sent / failed (with reason) / blocked.

    ``key`` is the idempotency key (campaign, reminder and user; broadcast and user; …), so the
    same message is never queued twice; a row is marked ``sending`` before the request leaves,
    so a crash never sends it again. ``lease_until`` (the database's clock) is how long a
    ``sending`` row belongs to the worker that claimed it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "priority", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    channel: str
    external_id: str
    respondent_id: int | None = Field(default=None, foreign_key="respondents.id")
    broadcast_id: int | None = Field(default=None, foreign_key="broadcasts.id", index=True)
    kind: str  # reminder | announcement | returned | approved | progress
    text: str = Field(sa_column=Column(Text, nullable=False))
    priority: int = 10  # lower goes first
    status: str = "queued"  # queued | sending | sent | failed | blocked
    attempts: int = 0
    not_before: datetime | None = None
    expires_at: datetime | None = None
    reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    lease_until: datetime | None = None


class StoredDocument(SQLModel, table=True):
    """A document offered as a signed link (``bot.links``), named by the SHA-256 of its bytes
    (kept in ``blobs``, the one home of stored bytes), kept until the last link to it expires,
    so any worker can serve any link."""

    __tablename__ = "documents"
    digest: str = Field(primary_key=True, foreign_key="blobs.digest")
    mime_type: str
    size: int
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class Blob(SQLModel, table=True):
    """Bytes named by their SHA-256 (hex), stored once however often they are sent or linked:
    the evidence files (``storage.evidence``) and the documents of signed links
    (``storage.documents``). In the database, so every worker reads them."""

    __tablename__ = "blobs"
    digest: str = Field(primary_key=True)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    mime_type: str
    size: int
    created_at: datetime = Field(default_factory=utcnow)


class Evidence(SQLModel, table=True):
    """One piece of evidence (tài liệu kiểm chứng) for one item of a submission: a file
    (``digest`` names its bytes in ``blobs``) or a link (``url``)."""

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_submission_code", "submission_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id")
    code: str
    kind: str  # file | link
    digest: str | None = Field(default=None, foreign_key="blobs.digest")
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    filename: str | None = None
    mime_type: str | None = None
    size: int = 0
    respondent_id: int | None = Field(default=None, foreign_key="respondents.id")
    channel: str | None = None
    received_at: datetime = Field(default_factory=utcnow)


class Appraisal(SQLModel, table=True):
    """A reviewer's appraised value (thẩm định) of one item of a submission, next to the
    unit's own answer, with a note; scoring reads it for the appraised score."""

    __tablename__ = "appraisals"
    __table_args__ = (UniqueConstraint("submission_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", index=True)
    code: str
    value: Any = Field(default=None, sa_column=Column(JSON))
    raw: str | None = None
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reviewer: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class WebLogin(SQLModel, table=True):
    """A one-time sign-in link of the web console (``formbot web login``, chat ``/web``):
    only the SHA-256 of its token is kept; it works once, until ``expires_at``."""

    __tablename__ = "web_logins"
    token_hash: str = Field(primary_key=True)
    channel: str  # telegram | zalo | cli (an admin named at the server's shell)
    external_id: str
    name: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    used_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A signed-in browser of the web console: the SHA-256 of its cookie, whose it is, its
    CSRF token (sent back in every form), until when it works."""

    __tablename__ = "web_sessions"
    token_hash: str = Field(primary_key=True)
    channel: str
    external_id: str
    name: str | None = None
    csrf: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    ended_at: datetime | None = None

"""Signed links that expire: downloads for channels that cannot attach a file (Zalo), and a
respondent's read-only page of their own submission (``ReviewLinks``).

A document is kept in the database under its SHA-256 (``DocumentStore``,
``storage.documents``) and offered as
``{FORMBOT_PUBLIC_URL}/documents/{sha256}/{filename}?expires={unix time}&sig={HMAC}``. The
HMAC-SHA256 (key ``FORMBOT_LINK_SECRET``) covers the digest, the file name and the expiry, so a
link cannot be pointed at another document, renamed or prolonged; it is compared in constant
time. Documents whose links have all expired are deleted as new ones are stored.

The database is what every worker behind the public URL shares, so any worker serves a link
another one issued (a local folder would not be there); the key, ``FORMBOT_LINK_SECRET``, is
in every worker's environment, so any worker checks a link another one signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote, unquote, urlencode, urlsplit

from dialogs import access
from dialogs.messages import Document
from dialogs.payloads import OpenPage
from storage import documents as stored
from storage.db import Database

DEFAULT_TTL_HOURS = 24.0
MIN_SECRET_LENGTH = 16
GRACE_SECONDS = 60  # a document outlives its links by this much (they are signed just after)
PATH_MARKER = "/documents/"
# Anything before the marker is the public URL's own path, which a proxy may or may not strip.
LINK_PATH = re.compile(r"^(?:.*)/documents/(?P<digest>[0-9a-f]{64})/(?P<name>[^/]+)$")
MIME_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}


class LinkConfigError(ValueError):
    """The environment asks for links but does not allow signing them."""


@dataclass(frozen=True)
class Link:
    url: str
    expires: int  # unix time


@dataclass(frozen=True)
class Download:
    """What a link resolves to: an HTTP status and, for 200, the file."""

    status: int
    data: bytes = b""
    filename: str = ""
    mime_type: str = "application/octet-stream"


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LinkSigner:
    """HMAC-SHA256 over (digest, filename, expiry). ``clock`` returns unix time (tests)."""

    def __init__(
        self,
        secret: str | bytes,
        ttl_seconds: float = DEFAULT_TTL_HOURS * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < MIN_SECRET_LENGTH:
            raise LinkConfigError(f"the link secret needs at least {MIN_SECRET_LENGTH} characters")
        if ttl_seconds <= 0:
            raise LinkConfigError("the lifetime of a link must be positive")
        self._key = key
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def signature(self, digest: str, filename: str, expires: int) -> str:
        return self.sign(digest, filename, str(expires))

    def sign(self, *parts: str) -> str:
        """The HMAC of ``parts`` (one per line), URL-safe base64 without padding."""
        mac = hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def check(
        self, parts: tuple[str, ...], expires: str, signature: str
    ) -> Literal["ok", "forged", "expired"]:
        """Whether a link signed over ``parts`` and ``expires`` holds: "forged" when the
        signature does not match (constant time), "expired" when it did but its time is up."""
        if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
            return "forged"
        expected = self.sign(*parts, expires)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return "forged"
        return "ok" if self.clock() <= int(expires) else "expired"

    def expiry(self) -> int:
        return int(self.clock() + self.ttl_seconds)

    def valid(self, digest: str, filename: str, expires: str, signature: str) -> bool:
        """The signature matches (constant time) and the link has not expired."""
        if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
            return False
        expected = self.signature(digest, filename, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return False
        return self.clock() <= int(expires)


class DocumentStore:
    """Documents in the database (``storage.documents``), named by the SHA-256 of their bytes,
    kept for ``ttl_seconds`` after they were last stored. ``clock``: unix time (tests)."""

    def __init__(
        self, database: Database, ttl_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.database = database
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def put(self, data: bytes, mime_type: str) -> str:
        """Keep ``data`` (again) for the lifetime of a link issued now; drop what expired."""
        digest = digest_of(data)
        now = self._now()
        until = datetime.fromtimestamp(self.clock() + self.ttl_seconds + GRACE_SECONDS, UTC)
        async with self.database.session() as session, session.begin():
            await stored.keep_document(session, digest, data, mime_type, now, until)
            await stored.purge_documents(session, now)
        return digest

    async def get(self, digest: str) -> bytes | None:
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            return None
        async with self.database.session() as session:
            return await stored.find_document(session, digest, self._now())


class DocumentLinks:
    """Issues links (``keep`` the documents, then ``link`` each) and serves them (``resolve``).
    ``store`` is None until the running bot gives it its database (``with_database``)."""

    def __init__(
        self, public_url: str, signer: LinkSigner, store: DocumentStore | None = None
    ) -> None:
        if urlsplit(public_url).scheme not in ("http", "https"):
            raise LinkConfigError(f"FORMBOT_PUBLIC_URL is not an http(s) URL: {public_url}")
        self.public_url = public_url.rstrip("/")
        self.signer = signer
        self.store = store

    @property
    def ttl_hours(self) -> float:
        return self.signer.ttl_seconds / 3600

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, clock: Callable[[], float] = time.time
    ) -> DocumentLinks | None:
        """None when ``FORMBOT_PUBLIC_URL`` is not set; ``LinkConfigError`` when it is but
        ``FORMBOT_LINK_SECRET`` or ``FORMBOT_LINK_TTL_HOURS`` is unusable."""
        env = os.environ if environ is None else environ
        public_url = access.public_url(env)
        if public_url is None:
            return None
        secret = env.get("FORMBOT_LINK_SECRET", "")
        if len(secret) < MIN_SECRET_LENGTH:
            raise LinkConfigError(
                f"FORMBOT_PUBLIC_URL is set: set FORMBOT_LINK_SECRET too "
                f"(at least {MIN_SECRET_LENGTH} random characters) to sign document links"
            )
        try:
            hours = float(env.get("FORMBOT_LINK_TTL_HOURS") or DEFAULT_TTL_HOURS)
        except ValueError:
            raise LinkConfigError("FORMBOT_LINK_TTL_HOURS is not a number") from None
        return cls(public_url, LinkSigner(secret, hours * 3600, clock))

    def with_database(self, database: Database) -> DocumentLinks:
        """These links, with their documents kept in ``database``."""
        store = DocumentStore(database, self.signer.ttl_seconds, self.signer.clock)
        return DocumentLinks(self.public_url, self.signer, store)

    async def keep(self, documents: Sequence[Document]) -> None:
        """Store the documents about to be linked (before their links are sent)."""
        if self.store is None:
            raise RuntimeError("document links need a store: DocumentLinks.with_database")
        for document in documents:
            await self.store.put(document.data, document.mime_type)

    def link(self, document: Document) -> Link:
        """The signed link to a document (``keep`` it first)."""
        digest = digest_of(document.data)
        expires = self.signer.expiry()
        signature = self.signer.signature(digest, document.filename, expires)
        name = quote(document.filename, safe="")
        url = f"{self.public_url}{PATH_MARKER}{digest}/{name}?expires={expires}&sig={signature}"
        return Link(url, expires)

    async def resolve(self, path: str, query: dict[str, str]) -> Download:
        """``path`` as requested (percent-encoded), ``query`` its parameters: 200 with the
        file, 403 for a forged, tampered or expired link, 404 for anything else."""
        match = LINK_PATH.match(path)
        if match is None:
            return Download(404)
        digest, filename = match["digest"], unquote(match["name"])
        if not self.signer.valid(digest, filename, query.get("expires", ""), query.get("sig", "")):
            return Download(403)
        data = await self.store.get(digest) if self.store is not None else None
        if data is None:
            return Download(404)
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        mime = MIME_TYPES.get(extension, "application/octet-stream")
        return Download(200, data, filename, mime)


# A respondent's read-only page --------------------------------------------------------------

REVIEW_TTL_HOURS = 24.0
REVIEW_PATH = "/review/"


@dataclass(frozen=True)
class ReviewAccess:
    """What a review link grants: ``status`` 200, 403 (forged) or 410 (expired);
    ``telegram_user``: the Telegram user a Mini App link was issued to (the page then wants
    Telegram's ``initData`` of that user)."""

    status: int
    submission_id: int
    telegram_user: str | None = None


class ReviewLinks:
    """Links to a person's own submission, read-only, for ``REVIEW_TTL_HOURS``
    (``{FORMBOT_PUBLIC_URL}/review/{id}?expires=…&sig=…``, served by ``bot.web.review``). On
    Telegram with an https public URL the link opens as a Mini App (``app``) and names the
    Telegram user (``tg``), whom the page checks against Telegram's signed ``initData``."""

    def __init__(self, public_url: str, signer: LinkSigner, *, app: bool = False) -> None:
        if urlsplit(public_url).scheme not in ("http", "https"):
            raise LinkConfigError(f"FORMBOT_PUBLIC_URL is not an http(s) URL: {public_url}")
        self.public_url = public_url.rstrip("/")
        self.signer = signer
        self.app = app and self.public_url.startswith("https://")

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, clock: Callable[[], float] = time.time
    ) -> ReviewLinks | None:
        """None without ``FORMBOT_PUBLIC_URL``; signed with ``FORMBOT_LINK_SECRET`` (the key
        of the document links); Mini Apps when the URL is https and there is a Telegram bot
        (``TELEGRAM_BOT_TOKEN``, which checks ``initData``)."""
        env = os.environ if environ is None else environ
        documents = DocumentLinks.from_env(dict(env), clock)
        if documents is None:
            return None
        key = env["FORMBOT_LINK_SECRET"]
        signer = LinkSigner(key, REVIEW_TTL_HOURS * 3600, clock)
        app = bool(env.get("TELEGRAM_BOT_TOKEN", "").strip())
        return cls(documents.public_url, signer, app=app)

    def page(self, submission_id: int, channel: str, user: str) -> OpenPage:
        """The signed link for ``channel:user`` to their submission's page."""
        app = self.app and channel == "telegram"
        expires = str(self.signer.expiry())
        who = user if app else ""
        signature = self.signer.sign("review", str(submission_id), who, expires)
        query = {"expires": expires, "sig": signature} | ({"tg": user} if app else {})
        return OpenPage(f"{self.public_url}{REVIEW_PATH}{submission_id}?{urlencode(query)}", app)

    def check(self, submission_id: int, query: dict[str, str]) -> ReviewAccess:
        who = query.get("tg", "")
        parts = ("review", str(submission_id), who)
        verdict = self.signer.check(parts, query.get("expires", ""), query.get("sig", ""))
        status = {"ok": 200, "forged": 403, "expired": 410}[verdict]
        return ReviewAccess(status, submission_id, who or None)

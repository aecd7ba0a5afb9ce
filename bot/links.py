"""Signed download links that expire, for channels that cannot attach a file (Zalo).

A document is kept on disk under its SHA-256 (``DocumentStore``) and offered as
``{FORMBOT_PUBLIC_URL}/documents/{sha256}/{filename}?expires={unix time}&sig={HMAC}``. The
HMAC-SHA256 (key ``FORMBOT_LINK_SECRET``) covers the digest, the file name and the expiry, so
a link cannot be pointed at another document, renamed or prolonged; it is compared in
constant time. Files older than the lifetime of a link are deleted as new ones are stored.

Several bot workers behind one public URL need ``FORMBOT_DOCUMENT_DIR`` on a shared disk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from dialogs.messages import Document

DEFAULT_TTL_HOURS = 24.0
DEFAULT_DIRECTORY = "formbot-documents"
MIN_SECRET_LENGTH = 16
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
        message = f"{digest}\n{filename}\n{expires}".encode()
        mac = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

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
    """Documents on disk, named by the SHA-256 of their bytes."""

    def __init__(self, directory: Path, ttl_seconds: float, clock: Callable[[], float] = time.time):
        self.directory = Path(directory)
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / digest
        now = self.clock()
        if not path.exists():
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".part-")
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        os.utime(path, (now, now))  # a new link to the same bytes keeps the file for its life
        self.purge()
        return digest

    def get(self, digest: str) -> bytes | None:
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            return None
        try:
            return (self.directory / digest).read_bytes()
        except FileNotFoundError:
            return None

    def purge(self) -> int:
        """Delete the files no unexpired link can point to; returns how many."""
        oldest = self.clock() - self.ttl_seconds - 60
        removed = 0
        for path in self.directory.iterdir():
            try:
                if path.stat().st_mtime < oldest:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed


class DocumentLinks:
    """Issues links (``link``) and serves them (``resolve``)."""

    def __init__(self, public_url: str, signer: LinkSigner, store: DocumentStore) -> None:
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
        public_url = env.get("FORMBOT_PUBLIC_URL", "").strip()
        if not public_url:
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
        ttl = hours * 3600
        signer = LinkSigner(secret, ttl, clock)
        directory = Path(env.get("FORMBOT_DOCUMENT_DIR") or DEFAULT_DIRECTORY)
        return cls(public_url, signer, DocumentStore(directory, ttl, clock))

    def link(self, document: Document) -> Link:
        digest = self.store.put(document.data)
        expires = self.signer.expiry()
        signature = self.signer.signature(digest, document.filename, expires)
        name = quote(document.filename, safe="")
        url = f"{self.public_url}{PATH_MARKER}{digest}/{name}?expires={expires}&sig={signature}"
        return Link(url, expires)

    def resolve(self, path: str, query: dict[str, str]) -> Download:
        """``path`` as requested (percent-encoded), ``query`` its parameters: 200 with the
        file, 403 for a forged, tampered or expired link, 404 for anything else."""
        match = LINK_PATH.match(path)
        if match is None:
            return Download(404)
        digest, filename = match["digest"], unquote(match["name"])
        if not self.signer.valid(digest, filename, query.get("expires", ""), query.get("sig", "")):
            return Download(403)
        data = self.store.get(digest)
        if data is None:
            return Download(404)
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        mime = MIME_TYPES.get(extension, "application/octet-stream")
        return Download(200, data, filename, mime)

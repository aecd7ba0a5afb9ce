"""Evidence (tài liệu kiểm chứng): what a file or a link sent for an item must be.

Pure: bytes in, a checked file or a refusal out; no SQL, no network. The engine checks a
file after it is downloaded and before the turn's transaction (``dialogs.turns``), so a slow
check never holds the database; ``dialogs.collecting`` stores what passed.

The type is read from the content (magic bytes, ``filetype``), never from the name or the
MIME type a platform reports: photos (JPEG, PNG, WEBP) that Pillow can decode, PDF without
scripts or launch actions, DOCX and XLSX without macros, the old DOC and XLS. Anything
executable, empty, larger than ``MAX_FILE`` or of another type is refused with a Vietnamese
message that says what to send instead.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import filetype

from templates.messages import say

MAX_FILE = 20 * 1024 * 1024  # per file: also the Telegram Bot API's download limit
MAX_SUBMISSION = 200 * 1024 * 1024  # all the files of one submission (each stored once)
MAX_URL = 2000
# What a file may be, by the type its content shows: (MIME type, extension, what it is).
ACCEPTED = {
    "image/jpeg": ("jpg", "photo"),
    "image/png": ("png", "photo"),
    "image/webp": ("webp", "photo"),
    "application/pdf": ("pdf", "pdf"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx", "docx"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("xlsx", "xlsx"),
    "application/msword": ("doc", "doc"),
    "application/vnd.ms-excel": ("xls", "xls"),
}
# Executables by their first bytes: Windows PE, ELF, Mach-O (both byte orders, fat), scripts.
EXECUTABLE_STARTS = (
    b"MZ",
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"#!",
)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# PDF names that run something when the file is opened (``#4A`` spellings are decoded first).
PDF_ACTIVE = re.compile(rb"/(?:JavaScript|JS|Launch)(?![A-Za-z0-9])")
PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_STREAM = re.compile(rb"(?<!end)stream\r?\n")
PDF_INFLATED_MAX = 100 * 1024 * 1024  # a compressed stream is read up to this (no zip bomb)
MAX_PIXELS = 80_000_000  # a photo with more pixels is a decompression bomb, not a scan
LINK_LIKE = re.compile(r"^[a-z][a-z0-9+.-]{1,15}:\S", re.IGNORECASE)
SCHEMES = ("http", "https")


class EvidenceRefusal(Exception):
    """A file or link that cannot be evidence; ``message`` says why and what to send."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(key)

    @property
    def message(self) -> str:
        return say(self.key, **self.params)


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """A file that passed the checks: its bytes, their SHA-256, the type its content shows
    and a safe name ending with that type's extension."""

    data: bytes
    digest: str
    mime_type: str
    filename: str
    what: str  # photo | pdf | docx | xlsx | doc | xls

    @property
    def size(self) -> int:
        return len(self.data)


def check_file(data: bytes, filename: str | None = None) -> EvidenceFile:
    """``data`` as evidence, or ``EvidenceRefusal``."""
    if not data:
        raise EvidenceRefusal("evidence_empty")
    if len(data) > MAX_FILE:
        raise EvidenceRefusal("evidence_too_large", size=megabytes(len(data)))
    if data.startswith(EXECUTABLE_STARTS):
        raise EvidenceRefusal("evidence_executable")
    mime, found = _content_type(data)
    if mime not in ACCEPTED:
        raise EvidenceRefusal("evidence_wrong_type", found=found or say("evidence_unknown_type"))
    extension, what = ACCEPTED[mime]
    if what == "photo":
        _check_photo(data, mime)
    elif what == "pdf":
        _check_pdf(data)
    elif what in ("docx", "xlsx"):
        _check_office(data, what)
    digest = hashlib.sha256(data).hexdigest()
    return EvidenceFile(data, digest, mime, safe_filename(filename, extension, digest), what)


def _content_type(data: bytes) -> tuple[str | None, str | None]:
    """(MIME type, the type's usual extension in capitals, as people name it: "ZIP", "MP4")
    read from the content; (None, None) when nothing known matches."""
    kind = filetype.guess(data)
    if kind is None and data.startswith(OLE_MAGIC):
        # filetype tells a DOC from an XLS by their directory streams; without one it is
        # some other OLE file (an MSI installer, a macro container): not evidence.
        return "application/x-ole-storage", "OLE"
    if kind is None:
        return None, None
    return kind.mime, kind.extension.upper()


def _check_photo(data: bytes, mime: str) -> None:
    """The whole image is there and decodes (a truncated or forged photo does not). Pillow
    decodes a truncated image without complaint once ``ImageFile.LOAD_TRUNCATED_IMAGES`` is
    set, which WeasyPrint sets for the whole process, so the end of the file is checked
    first: JPEG's end-of-image marker, PNG's IEND chunk, the RIFF size of a WEBP."""
    from PIL import Image

    if not _complete(data, mime):
        raise EvidenceRefusal("evidence_bad_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise EvidenceRefusal("evidence_bad_image")
                image.load()
    except EvidenceRefusal:
        raise
    except Exception:  # Pillow raises many kinds of errors on broken data
        raise EvidenceRefusal("evidence_bad_image") from None


def _complete(data: bytes, mime: str) -> bool:
    if mime == "image/jpeg":
        return data.rfind(b"\xff\xd9") > 2
    if mime == "image/png":
        return data.rfind(b"IEND") > 8
    if mime == "image/webp":
        return len(data) >= 12 and int.from_bytes(data[4:8], "little") + 8 <= len(data)
    return True


def _check_pdf(data: bytes) -> None:
    """No JavaScript and no launch action. Those are names in the PDF's dictionaries, which
    live in the file's text or inside compressed object streams (``/Type /ObjStm``); the other
    streams (page contents, images) are binary and would match by chance, so they are skipped."""
    for chunk in _pdf_dictionaries(data):
        if PDF_ACTIVE.search(PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), chunk)):
            raise EvidenceRefusal("evidence_pdf_script")


def _pdf_dictionaries(data: bytes):
    """The file without its stream bodies, then each object stream inflated."""
    outside = []
    budget = PDF_INFLATED_MAX
    position = 0
    for match in PDF_STREAM.finditer(data):
        start = match.end()
        if start < position:
            continue  # inside a stream already skipped
        end = data.find(b"endstream", start)
        if end < 0:
            break
        head = data[position : match.start()]
        outside.append(head)
        position = end
        dictionary = head[head.rfind(b"obj") :]
        if b"ObjStm" not in PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), dictionary):
            continue
        try:
            inflated = zlib.decompressobj().decompress(data[start:end], budget)
        except zlib.error:
            continue
        budget -= len(inflated)
        if budget <= 0:
            raise EvidenceRefusal("evidence_wrong_type", found="PDF")
        yield inflated
    outside.append(data[position:])
    yield b"".join(outside)


def _check_office(data: bytes, what: str) -> None:
    """A real OOXML package ([Content_Types].xml and its main part) without macros."""
    main = "word/document.xml" if what == "docx" else "xl/workbook.xml"
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        raise EvidenceRefusal("evidence_wrong_type", found=what.upper()) from None
    if "[Content_Types].xml" not in names or main not in names:
        raise EvidenceRefusal("evidence_wrong_type", found=what.upper())
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise EvidenceRefusal("evidence_executable")


def safe_filename(filename: str | None, extension: str, digest: str) -> str:
    """The sender's name without a path or odd characters, ending with the extension of the
    type the content shows (a ``.exe`` renamed ``.jpg`` never keeps its name's claim)."""
    name = unicodedata.normalize("NFC", (filename or "").replace("\\", "/").rsplit("/", 1)[-1])
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = "".join(ch if ch.isalnum() or ch in " -_()" else "_" for ch in stem).strip(" ._")
    return f"{(stem or digest[:12])[:80]}.{extension}"


def check_link(text: str) -> str:
    """An http(s) link as evidence, or ``EvidenceRefusal``."""
    url = text.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES or not parts.netloc or len(url) > MAX_URL:
        raise EvidenceRefusal("evidence_bad_link", text=url[:60])
    if any(ch.isspace() for ch in url):
        raise EvidenceRefusal("evidence_bad_link", text=url[:60])
    return url


def looks_like_link(text: str) -> bool:
    """Whether a typed message is meant as a link (``https://…``, ``ftp://…``, ``file:…``)."""
    text = text.strip()
    return bool(LINK_LIKE.match(text)) or text.lower().startswith("www.")


def wants_evidence(item: Any, value: Any) -> bool:
    """Whether ``item``'s answer ``value`` is something to prove: the item takes evidence
    and the answer is not "Không", 0 or empty."""
    if not getattr(item, "evidence", None) or value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return False
    return not (isinstance(value, str | list) and not value)


def megabytes(size: int) -> str:
    """A size as people read it: "1,5 MB", "320 KB"."""
    if size >= 1024 * 1024:  # rounded up: a file just over the limit never reads "20,0 MB"
        return f"{math.ceil(size * 10 / (1024 * 1024)) / 10:.1f}".replace(".", ",") + " MB"
    return f"{max(math.ceil(size / 1024), 1)} KB"

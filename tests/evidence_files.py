"""Files people send as evidence, good and bad, made in memory for the tests; and the mini form
with items that take evidence."""

from __future__ import annotations

import zlib
from io import BytesIO
from pathlib import Path
from zipfile import ZipFile

import yaml
from docx import Document
from openpyxl import Workbook
from PIL import Image

from dialogs.spec import FormSpec, parse_spec

FIXTURES = Path(__file__).parent / "fixtures"
HINT = "hóa đơn, hợp đồng và ảnh chụp màn hình máy tính có cài phần mềm diệt virus"


def evidence_spec() -> FormSpec:
    """The mini form with 1.2 taking optional evidence and 3.6 (yes/no) required evidence."""
    data = yaml.safe_load((FIXTURES / "mini.yaml").read_text(encoding="utf-8"))
    for section in data["sections"]:
        for item in section["items"]:
            if item.get("code") == "1.2":
                item["evidence"] = "optional"
            if item.get("code") == "3.6":
                item.update(evidence="required", evidence_hint=HINT)
    return parse_spec(data, "mini-evidence")


def jpeg(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def png(color: str = "blue") -> bytes:
    out = BytesIO()
    Image.new("RGB", (32, 32), color).save(out, "PNG")
    return out.getvalue()


def _pdf(body: bytes) -> bytes:
    return b"%PDF-1.4\n1 0 obj\n" + body + b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def pdf(text: bytes = b"hoa don") -> bytes:
    return _pdf(b"<< /Type /Catalog /Title (" + text + b") >>")


def pdf_with_javascript() -> bytes:
    return _pdf(b"<< /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>")


def pdf_with_hidden_launch() -> bytes:
    """``/Launch`` spelled with a hex escape, inside a compressed object stream."""
    hidden = zlib.compress(b"<< /S /L#61unch /F (cmd.exe) >>")
    return _pdf(b"<< /Type /ObjStm /Filter /FlateDecode >>\nstream\n" + hidden + b"\nendstream")


def docx() -> bytes:
    out = BytesIO()
    document = Document()
    document.add_paragraph("Quyết định ban hành Quy chế")
    document.save(out)
    return out.getvalue()


def xlsx() -> bytes:
    out = BytesIO()
    book = Workbook()
    book.active["A1"] = "Hóa đơn"
    book.save(out)
    return out.getvalue()


def docm() -> bytes:
    """A DOCX with a macro project in it."""
    out = BytesIO()
    with ZipFile(BytesIO(docx())) as source, ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, source.read(name))
        target.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0macro")
    return out.getvalue()


def plain_zip() -> bytes:
    out = BytesIO()
    with ZipFile(out, "w") as archive:
        archive.writestr("virus.txt", "x")
    return out.getvalue()


EXE = b"MZ\x90\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 100
SCRIPT = b"#!/bin/sh\nrm -rf /\n"


def broken_jpeg() -> bytes:
    data = jpeg(size=(400, 300))
    return data[: len(data) // 3]


def pdf_with_js_bytes_in_an_image() -> bytes:
    """A scan whose image stream happens to hold the bytes "/JS " (binary data does)."""
    image = b"\xff\xd8\xff\xe0" + b"\x13/JS \x00\x87" * 50 + b"\xff\xd9"
    return _pdf(
        b"<< /Type /XObject /Subtype /Image /Filter /DCTDecode >>\nstream\n"
        + image
        + b"\nendstream"
    )

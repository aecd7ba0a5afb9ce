"""Evidence (tài liệu kiểm chứng): the checks on what people send, the conversation that asks
for it, and what is stored (once, in the database), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import evidence_files as files
import pytest
from chatting import Chat
from sqlalchemy import func, select

from dialogs import Engine, collecting
from dialogs.evidence import MAX_FILE, EvidenceRefusal, check_file, check_link, wants_evidence
from dialogs.spec import SpecError, all_forms, parse_spec
from storage import evidence as store
from storage.models import Blob, Evidence
from templates.messages import say

# Spec ------------------------------------------------------------------------------------------


def test_the_forms_mark_the_items_that_take_evidence():
    forms = all_forms()
    xa = forms["xa-phuong"]
    assert xa.by_code["5.8.1"].evidence == "required"  # KH 655: hóa đơn, hợp đồng, ảnh chụp
    assert "hóa đơn" in xa.by_code["5.8.1"].evidence_hint
    assert xa.by_code["10.3"].evidence == "required"
    for form in ("so-ban-nganh", "ubnd-huyen"):
        spec = forms[form]
        assert spec.by_code["7.1"].evidence  # Quy chế bảo đảm an toàn thông tin
        assert spec.by_code["8.1"].evidence  # Kế hoạch ứng dụng CNTT
        assert all(i.evidence for i in spec.items if i.format == "doc_ref")


def _spec_with(**fields) -> dict:
    item = {"code": "1", "kind": "yes_no", "label": "Có quy chế?", **fields}
    return {"id": "t", "title": "T", "sections": [{"number": 1, "title": "A", "items": [item]}]}


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"evidence": "sometimes"}, "evidence"),
        ({"evidence_hint": "ảnh"}, "evidence_hint without evidence"),
        ({"kind": "computed", "calculate": "1", "evidence": "optional"}, "computed item"),
    ],
)
def test_a_bad_evidence_field_is_named_in_the_spec_check(fields, problem):
    with pytest.raises(SpecError) as error:
        parse_spec(_spec_with(**fields), "t.yaml")
    assert problem in str(error.value) and "item 1" in str(error.value)


# The checks on a file -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "mime", "extension"),
    [
        (files.jpeg, "image/jpeg", "jpg"),
        (files.png, "image/png", "png"),
        (files.pdf, "application/pdf", "pdf"),
        (
            files.docx,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
        (files.xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    ],
)
def test_the_type_comes_from_the_content_not_the_name(make, mime, extension):
    checked = check_file(make(), "../../etc/ảnh chụp.exe")
    assert checked.mime_type == mime
    assert checked.filename == f"ảnh chụp.{extension}"  # no path, the content's extension


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"", "evidence_empty"),
        (b"\0" * (MAX_FILE + 1), "evidence_too_large"),
        (files.EXE, "evidence_executable"),
        (files.ELF, "evidence_executable"),
        (files.SCRIPT, "evidence_executable"),
        (files.docm(), "evidence_executable"),
        (files.plain_zip(), "evidence_wrong_type"),
        (b"just some text", "evidence_wrong_type"),
        (files.pdf_with_javascript(), "evidence_pdf_script"),
        (files.pdf_with_hidden_launch(), "evidence_pdf_script"),
        (files.broken_jpeg(), "evidence_bad_image"),
    ],
)
def test_bad_files_are_refused_with_what_to_send_instead(data, key):
    with pytest.raises(EvidenceRefusal) as refusal:
        check_file(data, "hoa-don.pdf")
    assert refusal.value.key == key
    assert "không" in refusal.value.message and "Hãy" in refusal.value.message


@pytest.mark.parametrize(
    "text", ["ftp://files.gov.vn/a.pdf", "javascript:alert(1)", "file:///C:/x"]
)
def test_only_http_links_are_evidence(text):
    with pytest.raises(EvidenceRefusal) as refusal:
        check_link(text)
    assert refusal.value.key == "evidence_bad_link"
    assert (
        check_link(" https://huongtra.gov.vn/vb/655.pdf ") == "https://huongtra.gov.vn/vb/655.pdf"
    )


def test_evidence_is_asked_only_for_answers_to_prove():
    item = files.evidence_spec().by_code["3.6"]
    assert wants_evidence(item, True)
    assert not wants_evidence(item, False) and not wants_evidence(item, None)
    assert not wants_evidence(files.evidence_spec().by_code["1.1"], "Sở A")


# The conversation ------------------------------------------------------------------------------


Sender = Chat  # a person on the console who can also send files (``Chat.send``)


@pytest.fixture
async def sender(database):
    chat = Sender(Engine(database, {"mini": files.evidence_spec()}))
    await chat.start()
    await chat.say("Sở Thông tin và Truyền thông")
    return chat


async def stored(database) -> tuple[int, int]:
    """(evidence rows, blobs)."""
    async with database.session() as session:
        rows = (await session.execute(select(func.count()).select_from(Evidence))).scalar_one()
        return rows, await store.count_blobs(session)


async def test_after_the_answer_the_bot_asks_for_evidence_and_takes_several_files(sender, database):
    reply = await sender.say("10")
    assert "✓ Đã lưu 1.2" in reply and "📎 Tài liệu kiểm chứng cho 1.2" in reply
    assert say("evidence_hint_default") in reply and "/boqua" in reply
    assert sender.asks is None and sender.last[0].accepted == "1.2"
    reply = await sender.send(files.jpeg(), "man hinh.jpg")
    assert "Đã nhận man hinh.jpg" in reply and "1 tài liệu" in reply
    reply = await sender.send(files.pdf(), "hoa-don.pdf")
    assert "2 tài liệu" in reply
    reply = await sender.say("https://huongtra.gov.vn/vb/quyet-dinh.pdf")
    assert "3 tài liệu" in reply
    reply = await sender.say("xong")
    assert say("evidence_done", code="1.2", count=3) in reply
    assert sender.asks == "3.1"  # on to the next question
    assert await stored(database) == (3, 2)  # a link has no bytes
    listing = await sender.say("/bangchung")
    assert "1.2: 3 tài liệu — man hinh.jpg; hoa-don.pdf; https://huongtra.gov.vn" in listing
    assert "3.6: chưa có" in listing


async def test_bad_files_and_links_are_refused_and_nothing_is_stored(sender, database):
    await sender.say("10")
    for data, key in [
        (b"", "evidence_empty"),
        (files.EXE, "evidence_executable"),
        (files.plain_zip(), "evidence_wrong_type"),
        (files.pdf_with_javascript(), "evidence_pdf_script"),
        (files.broken_jpeg(), "evidence_bad_image"),
    ]:
        reply = await sender.send(data)
        assert reply.startswith(say(key, found="ZIP")[:25]), (key, reply)
    reply = await sender.say("ftp://files.gov.vn/a.pdf")
    assert say("evidence_bad_link", text="ftp://files.gov.vn/a.pdf") in reply
    reply = await sender.send(b"x", size=MAX_FILE + 5_000_000)
    assert "Tệp quá lớn (24,8 MB)" in reply
    assert sender.fetched == 5  # the too large one was never downloaded
    assert await stored(database) == (0, 0)
    assert "chờ tài liệu kiểm chứng cho 1.2" in await sender.say("mười")  # still waiting
    assert "Chưa có tài liệu kiểm chứng cho 1.2" in await sender.say("/boqua")
    assert sender.asks == "3.1"


async def test_the_same_file_is_stored_once(sender, database):
    photo = files.jpeg("green")
    await sender.say("10")
    await sender.send(photo, "a.jpg")
    assert "đã được gửi cho 1.2 rồi" in await sender.send(photo, "a-copy.jpg")
    await sender.say("xong")
    for code, typed in [("3.1", "10"), ("3.2.a", "8")] + [(f"3.2.b.{n}", "1") for n in range(1, 5)]:
        assert sender.asks == code
        await sender.say(typed)
    reply = await sender.say("có")  # 3.6: required evidence
    assert "(bắt buộc)" in reply and files.HINT in reply
    await sender.send(photo, "a.jpg")  # the same photo for another item
    assert await stored(database) == (2, 1)


async def test_required_evidence_holds_until_something_is_sent(sender, database):
    await sender.say("10")
    await sender.say("xong")
    for typed in ["10", "8", "1", "1", "1", "1"]:
        await sender.say(typed)
    await sender.say("có")
    missing = await sender.say("xong")
    assert "bắt buộc có tài liệu kiểm chứng" in missing and "/tieptuc" in missing
    assert "bắt buộc" in await sender.say("/boqua")
    await sender.send(files.docx(), "quy-che.docx")
    await sender.say("xong")
    assert sender.asks == "3.6.1"


async def test_no_evidence_is_asked_for_a_no(sender, database):
    await sender.say("10")
    await sender.say("/boqua")
    for typed in ["10", "8", "1", "1", "1", "1"]:
        await sender.say(typed)
    reply = await sender.say("không")
    assert "Tài liệu kiểm chứng" not in reply and sender.asks == "3.7.đ"


async def test_a_file_nobody_asked_for_is_not_fetched_and_more_comes_later(sender, database):
    reply = await sender.send(files.jpeg())
    assert say("evidence_not_expected", example="1.2") in reply
    assert sender.fetched == 0 and sender.asks == "1.2"
    reply = await sender.say("/bangchung 3.1")
    assert "3.1 không phải câu cần tài liệu kiểm chứng" in reply and "1.2, 3.6" in reply
    await sender.say("/bangchung 1.2")
    await sender.send(files.png(), "scan.png")
    assert say("evidence_done", code="1.2", count=1) in await sender.say("xong")
    assert sender.asks == "1.2"  # back to the question it was at
    assert await stored(database) == (1, 1)


async def test_a_submission_keeps_under_its_total(sender, database, monkeypatch):
    monkeypatch.setattr(collecting, "MAX_SUBMISSION", len(files.jpeg()) + 10)
    await sender.say("10")
    await sender.send(files.jpeg(), "a.jpg")
    reply = await sender.send(files.png(), "b.png")
    assert "tổng tối đa 200 MB" in reply
    assert await stored(database) == (1, 1)


async def test_evidence_bytes_are_read_back_for_the_reviewer(sender, database):
    from dialogs.reviewing import evidence_download, item_evidence

    photo = files.jpeg("yellow")
    await sender.say("10")
    await sender.send(photo, "anh.jpg")
    await sender.say("https://example.gov.vn/a")
    submission_id = sender.last and (await _submission_id(database))
    async with database.session() as session:
        items = await item_evidence(session, submission_id, {"mini": files.evidence_spec()})
        row = next(i for i in items if i.code == "1.2")
        assert [e.name for e in row.entries] == ["anh.jpg", "https://example.gov.vn/a"]
        assert row.answer == "10 người" and not row.missing
        assert next(i for i in items if i.code == "3.6").missing is False  # optional until asked
        download = await evidence_download(session, submission_id, row.entries[0].id)
        assert download.data == photo and download.mime_type == "image/jpeg"
        assert await evidence_download(session, submission_id, row.entries[1].id) is None
        assert await evidence_download(session, submission_id + 1, row.entries[0].id) is None
        blob = (await session.execute(select(Blob))).scalar_one()
        assert blob.size == len(photo) and len(blob.digest) == 64


async def _submission_id(database) -> int:
    async with database.session() as session:
        return (await session.execute(select(Evidence.submission_id))).scalars().first()


def test_a_truncated_photo_is_refused_even_where_weasyprint_lets_pillow_read_it():
    import weasyprint.images  # noqa: F401  sets ImageFile.LOAD_TRUNCATED_IMAGES for the process
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(EvidenceRefusal) as refusal:
        check_file(files.broken_jpeg())
    assert refusal.value.key == "evidence_bad_image"


async def test_submitting_asks_for_the_required_evidence_still_missing(sender, database):
    from chatting import MINI_ANSWERS

    for code, typed in MINI_ANSWERS[1:]:
        assert sender.asks == code, sender.text
        reply = await sender.say(typed)
        if "📎 Tài liệu kiểm chứng" in reply:
            await sender.say("/tieptuc")  # sent later
    reply = await sender.say("/nop")
    assert "còn thiếu tài liệu kiểm chứng bắt buộc cho 3.6" in reply and files.HINT in reply
    await sender.send(files.pdf(), "quyet-dinh.pdf")
    await sender.say("xong")
    assert "Xác nhận nộp phiếu" in await sender.say("/nop")


async def test_the_console_sends_a_file_named_by_its_path(database, tmp_path):
    import io

    from bot.console import run_console

    scan = tmp_path / "hoa don.pdf"
    scan.write_bytes(files.pdf())
    lines = ["Sở A", "10", str(scan), str(tmp_path / "khong-co.pdf"), "xong", "/bangchung"]
    stdout = io.StringIO()
    engine = Engine(database, {"mini": files.evidence_spec()})
    await run_console(
        engine,
        unit="Sở A",
        form_id="mini",
        year=2020,
        user="op",
        stdin=io.StringIO("\n".join(lines) + "\n"),
        stdout=stdout,
    )
    out = stdout.getvalue()
    assert "Đã nhận hoa don.pdf" in out
    assert f"Không tìm thấy tệp {tmp_path / 'khong-co.pdf'}" in out
    assert "1.2: 1 tài liệu — hoa don.pdf" in out


def test_a_scan_whose_image_bytes_spell_a_script_name_is_accepted():
    assert check_file(files.pdf_with_js_bytes_in_an_image()).mime_type == "application/pdf"
    from weasyprint import HTML

    real = HTML(string="<p>Hóa đơn số 12</p>").write_pdf()
    assert check_file(real, "hoa-don.pdf").filename == "hoa-don.pdf"


# The bytes' one home ---------------------------------------------------------------------------


def _migrate(connection, revision: str, down: bool = False) -> None:
    from alembic import command

    from storage.db import alembic_config

    config = alembic_config()
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, revision)


async def test_link_documents_kept_before_the_upgrade_move_into_blobs_and_back(database):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from storage.db import HEAD_REVISION
    from storage.documents import find_document

    until = datetime.now(UTC) + timedelta(hours=1)
    async with database.engine.begin() as connection:
        await connection.run_sync(_migrate, "0004", True)
        await connection.execute(
            text(
                "INSERT INTO documents (digest, data, mime_type, size, created_at, expires_at) "
                "VALUES (:d, :data, 'application/pdf', 4, :now, :until)"
            ),
            {"d": "a" * 64, "data": b"%PDF", "now": datetime.now(UTC), "until": until},
        )
        await connection.run_sync(_migrate, HEAD_REVISION)
    async with database.session() as session:
        assert await find_document(session, "a" * 64, datetime.now(UTC)) == b"%PDF"
    async with database.engine.begin() as connection:
        await connection.run_sync(_migrate, "0004", True)
        data = (await connection.execute(text("SELECT data FROM documents"))).scalar_one()
        await connection.run_sync(_migrate, HEAD_REVISION)
    assert data == b"%PDF"


async def test_a_purged_link_document_keeps_bytes_that_are_also_evidence(sender, database):
    from datetime import UTC, datetime, timedelta

    from storage.documents import find_document, keep_document, purge_documents

    photo = files.jpeg("purple")
    await sender.say("10")
    await sender.send(photo, "a.jpg")
    digest = hashlib.sha256(photo).hexdigest()
    now = datetime.now(UTC)
    async with database.session() as session, session.begin():
        await keep_document(session, digest, photo, "image/jpeg", now, now + timedelta(hours=1))
        await keep_document(session, "b" * 64, b"other", "application/pdf", now, now)
    async with database.session() as session, session.begin():
        assert await purge_documents(session, now + timedelta(hours=2)) == 2
    async with database.session() as session:
        assert await find_document(session, digest, now) is None  # the link expired …
        assert await store.count_blobs(session) == 1  # … the evidence keeps its bytes
        blob = await session.get(Blob, digest)
        assert blob.data == photo


async def test_the_review_shows_the_evidence_per_item(sender, database):
    await sender.say("10")
    await sender.send(files.png(), "scan.png")
    await sender.say("xong")
    review = await sender.say("/xem 1")
    assert "1.2 " in review and "10 người 📎 1" in review
    for typed in ["10", "8", "1", "1", "1", "1", "có"]:
        await sender.say(typed)
    await sender.say("/tieptuc")  # the required evidence of 3.6 comes later
    assert "📎 thiếu tài liệu" in await sender.say("/xem 3")

"""The conversation as a respondent experiences it, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from chatting import MINI_ANSWERS, Chat, answer_all, next_id, submission_of
from sqlalchemy import select

from dialogs import Engine
from dialogs.messages import Document, Inbound
from dialogs.payloads import encode
from storage import repo
from storage.models import AnswerHistory


def shown(review: str, code: str) -> str | None:
    """What /xem shows for ``code`` (after its label)."""
    for line in review.splitlines():
        if line.startswith(f"{code} "):
            return line.split(": ", 1)[1]
    return None


async def test_walk_through_the_form_and_submit(engine):
    chat = Chat(engine)
    greeting = await chat.start()
    assert "PHIẾU THỬ NGHIỆM" in greeting and "Sở Thử nghiệm" in greeting
    assert "[Năm 2020 · MỤC 1 · câu 1/16]" in greeting and "1.1. Tên cơ quan" in greeting
    await answer_all(chat)
    assert "Bạn đã trả lời hết các câu" in chat.text
    reply = await chat.say("/nop")
    assert "Xác nhận nộp phiếu" in reply
    assert [o.label for o in chat.last[-1].options] == ["Nộp phiếu", "Chưa nộp"]
    reply = await chat.press("confirm:yes")
    assert "Đã nộp phiếu của Sở Thử nghiệm năm 2020" in reply
    snapshot = await submission_of(engine)
    data = snapshot.as_json()
    assert data["status"] == "submitted"
    assert data["answers"]["5.1"] == {"part": 12, "whole": 30}
    assert data["answers"]["5.3"] == ["file", "phan_mem"]
    assert data["answers"]["6.2.1.a"] == "dang_thu_nghiem"
    assert data["computed"]["3.2.b"] == 160
    assert data["progress"] == {
        "answered": 17,
        "total": 17,
        "required": 15,
        "required_answered": 15,
    }
    # After submission answers are refused politely and nothing changes.
    reply = await chat.say("12")
    assert "đã được nộp" in reply
    assert (await submission_of(engine)).as_json()["answers"] == data["answers"]


async def test_options_come_with_the_question(engine):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:8])
    question = chat.last[-1]
    assert question.asks == "3.6"
    assert [(o.label, encode(o.payload), o.typed) for o in question.options] == [
        ("Có", "ans:3.6:0", "1"),
        ("Không", "ans:3.6:1", "2"),
    ]
    assert [encode(o.payload) for o in question.nav] == ["cmd:quaylai", "cmd:tiendo"]
    reply = await chat.press("ans:3.6:0")
    assert "✓ Đã lưu 3.6: Có" in reply and chat.asks == "3.6.1"
    assert "cmd:boqua" in [encode(o.payload) for o in chat.last[-1].nav]


async def test_bad_answer_is_explained_and_nothing_is_stored(engine):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:1])
    reply = await chat.say("nhiều")
    assert "«nhiều» không phải là một số" in reply
    assert "ví dụ: 12" in reply
    assert "Vui lòng trả lời lại câu 1.2" in reply
    assert chat.asks == "1.2"
    assert "1.2" not in (await submission_of(engine)).as_json()["answers"]


async def test_constraint_names_both_items_and_stores_nothing(engine):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:3])
    reply = await chat.say("12")
    assert (
        "12 máy tính có Internet nhưng chỉ có 10 CBCC được trang bị máy tính"
        " — kiểm tra lại 3.1 hoặc 3.2.a" in reply
    )
    assert chat.asks == "3.2.a"
    assert "3.2.a" not in (await submission_of(engine)).as_json()["answers"]
    # The other item can be edited instead; then the answer fits.
    await chat.say("/sua 3.1")
    assert chat.asks == "3.1"
    reply = await chat.say("11")
    assert "11 CBCC được trang bị máy tính nhưng cơ quan chỉ có 10 CBCC" in reply


async def test_computed_values_are_shown_as_soon_as_inputs_exist(engine):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:7])
    assert "= 3.2.b" not in chat.text
    reply = await chat.say("2")
    assert "= 3.2.b. Tổng băng thông kết nối Internet quy đổi: 160 Mbps" in reply
    assert "= 3.2.c. Tỷ lệ băng thông kết nối Internet quy đổi/CBCCVC: 16 Mbps" in reply


async def test_resume_after_restart_continues_at_the_next_question(engine, database, mini_spec):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:5])
    restarted = Chat(Engine(database, {"mini": mini_spec}))
    reply = await restarted.say("/tieptuc")
    assert restarted.asks == "3.2.b.2"
    assert "[Năm 2020 · MỤC 3 · câu 6/16]" in reply
    # Binding again (the console's next run) greets with progress and the same question.
    again = Chat(Engine(database, {"mini": mini_spec}))
    greeting = await again.start()
    assert "đã trả lời 5/" in greeting and again.asks == "3.2.b.2"


async def test_redelivered_message_is_ignored(engine):
    chat = Chat(engine)
    await chat.start()
    await chat.say("Sở A", message_id="m-1")
    assert chat.asks == "1.2"
    await chat.say("10", message_id="m-2")
    assert chat.asks == "3.1"
    assert await chat.say("10", message_id="m-2") == ""
    assert chat.last == []
    snapshot = await submission_of(engine)
    assert sorted(snapshot.as_json()["answers"]) == ["1.1", "1.2"]


async def test_two_messages_of_one_person_at_once_do_not_corrupt_the_cursor(engine):
    chat = Chat(engine)
    await chat.start()
    first, second = (Inbound("console", "u1", text=t, message_id=next_id()) for t in "AB")
    await asyncio.gather(engine.handle(first), engine.handle(second))
    # One answered 1.1; the other arrived for 1.2 and was refused as not a number.
    answers = (await submission_of(engine)).as_json()["answers"]
    assert list(answers) == ["1.1"]
    assert (await Chat(engine).say("/tieptuc")) and True
    chat2 = Chat(engine)
    await chat2.say("/tieptuc")
    assert chat2.asks == "1.2"


async def test_two_workers_writing_one_submission_lose_no_answer(database, mini_spec):
    """Two engines (two processes) serve two respondents of the same unit concurrently; the
    optimistic version check makes one retry instead of overwriting the other."""
    worker_a = Engine(database, {"mini": mini_spec})
    worker_b = Engine(database, {"mini": mini_spec})
    alice, bob = Chat(worker_a, "alice"), Chat(worker_b, "bob")
    await alice.start()
    await bob.start()
    await alice.say("Sở A")
    await asyncio.gather(alice.say("/sua 1.2"), bob.say("/sua 3.7.dd"))
    await asyncio.gather(alice.say("10"), bob.say("7"))
    answers = (await submission_of(worker_a)).as_json()["answers"]
    assert answers["1.2"] == 10 and answers["3.7.đ"] == 7
    async with database.session() as session:
        history = (await session.execute(select(AnswerHistory))).scalars().all()
    assert {(h.code, h.new_value) for h in history} == {("1.1", "Sở A"), ("1.2", 10), ("3.7.đ", 7)}


async def test_gate_flip_hides_and_restores_follow_up_answers(engine):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:10])
    await chat.say("/sua 3.6")
    reply = await chat.say("không")
    assert "✓ Đã lưu 3.6: Không" in reply
    review = await chat.say("/xem 3")
    assert shown(review, "3.6") == "Không" and "3.6.1" not in review
    assert "3.6.1" not in (await submission_of(engine)).as_json()["answers"]
    reply = await chat.say("/sua 3.6.1")
    assert "không áp dụng" in reply and "3.6" in reply
    await chat.say("/sua 3.6")
    await chat.say("có")
    review = await chat.say("/xem 3")
    assert shown(review, "3.6.1") == "Mạng truyền số liệu chuyên dùng"


async def test_back_edit_and_return(engine):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:4])
    reply = await chat.say("/quaylai")
    assert chat.asks == "3.2.a" and "Câu trả lời hiện tại: 8 máy" in reply
    await chat.press("cmd:quaylai")
    assert chat.asks == "3.1"
    await chat.say("9")
    assert chat.asks == "3.2.b.1", "after going back, the next unanswered question follows"
    reply = await chat.say("/sua 1.1")
    assert chat.asks == "1.1" and "Câu trả lời hiện tại: Sở Thông tin và Truyền thông" in reply
    await chat.say("Sở TT&TT")
    assert chat.asks == "3.2.b.1", "after an edit, back to where the person was"
    await chat.say("/sua 1.2")
    reply = await chat.say("/huy")
    assert "Đã huỷ sửa câu 1.2" in reply and chat.asks == "3.2.b.1"
    reply = await chat.say("/sua 3.7.DD")
    assert chat.asks == "3.7.đ"


async def test_edit_refusals(engine):
    chat = Chat(engine)
    await chat.start()
    assert "Ví dụ: /sua 3.2.a" in await chat.say("/sua 9.9")
    assert "3.2.b.1" in await chat.say("/sua 3.2.b.")
    reply = await chat.say("/sua 3.2.b")
    assert "được tính tự động từ 3.2.b.1, 3.2.b.2, 3.2.b.3, 3.2.b.4" in reply
    assert "Gõ /sua kèm mã câu" in await chat.say("/sua")


async def test_skip_only_optional_items(engine):
    chat = Chat(engine)
    await chat.start()
    reply = await chat.say("/boqua")
    assert "Câu 1.1 là câu bắt buộc" in reply and chat.asks == "1.1"
    await answer_all(chat, MINI_ANSWERS[:9])
    assert chat.asks == "3.6.1"
    reply = await chat.press("cmd:boqua")
    assert "Đã bỏ qua 3.6.1" in reply and chat.asks == "3.7.đ"
    assert shown(await chat.say("/xem 3"), "3.6.1") == "(bỏ qua)"


async def test_review_progress_help_and_unknown_commands(engine):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:3])
    await chat.say("/xem")
    sections = [option.label for option in chat.last[0].options]
    assert sections[0] == "MỤC 1. THÔNG TIN CHUNG — 2/2"
    assert sections[1] == "MỤC 3. HẠ TẦNG KỸ THUẬT — 1/8 ❗7"
    review = await chat.say("/xem 1")
    assert shown(review, "1.2") == "10 người"
    assert shown(await chat.say("/xem 3"), "3.2.a") == "— ❗ chưa trả lời"
    assert "Không có MỤC 9" in await chat.say("/xem 9")
    progress = await chat.say("/tiendo")
    assert "Tiến độ năm 2020: 3/16 câu (19%)" in progress
    assert "MỤC 3. HẠ TẦNG KỸ THUẬT: 1/8" in progress
    assert chat.asks == "3.2.a", "the current question comes again after the progress"
    assert progress == await chat.say("/progress")
    help_text = await chat.say("/trogiup")
    assert "/sua MÃ_CÂU" in help_text and "/nop" in help_text
    assert await chat.say("/khongcolenh") == help_text
    assert "tạm dừng" in await chat.say("/huy")
    assert chat.asks is None
    await chat.say("/tieptuc")
    assert chat.asks == "3.2.a"


async def test_submit_lists_missing_required_items(engine):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:12])
    reply = await chat.say("/nop")
    assert "còn 4 câu bắt buộc chưa trả lời: 5.2, 5.4, 6.2.1.a, 6.2.1.e" in reply
    assert chat.asks == "5.2", "the first missing question is asked right away"
    await answer_all(chat, MINI_ANSWERS[12:])
    await chat.say("/nop")
    reply = await chat.say("không")
    assert "Chưa nộp" in reply
    await chat.say("/nop")
    reply = await chat.say("có")
    assert "Đã nộp phiếu" in reply


async def test_stale_button_is_answered_gracefully(engine):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:8])
    await chat.press("ans:3.6:0")
    reply = await chat.press("ans:3.6:1")
    assert "Câu 3.6 đã được trả lời; câu hiện tại là 3.6.1" in reply
    assert (await submission_of(engine)).as_json()["answers"]["3.6"] is True


async def test_last_years_answer_is_offered(engine):
    last_year = Chat(engine, "u-last")
    await last_year.start(year=2019)
    await answer_all(last_year)
    await last_year.say("/nop")
    await last_year.say("có")
    chat = Chat(engine)
    await chat.start(year=2020)
    await chat.say("Sở A")
    question = chat.last[-1]
    assert "Năm trước: 10 người" in question.text
    assert [(o.label, o.typed) for o in question.options] == [
        ("Giữ như năm trước: 10 người", "giu")
    ]
    reply = await chat.press(encode(question.options[0].payload))
    assert "✓ Đã lưu 1.2: 10 người" in reply
    reply = await chat.say("giữ")
    assert "✓ Đã lưu 3.1: 10 người" in reply


async def test_history_keeps_old_and_new_with_who_and_how(engine):
    chat = Chat(engine)
    await chat.start()
    await chat.say("Sở A", message_id="t-1")
    await chat.say("/sua 1.1")
    await chat.say("Sở B", message_id="t-3")
    snapshot = await submission_of(engine)
    async with engine.db.session() as session:
        history = await repo.answer_history(session, snapshot.submission.id)
        respondent = await repo.get_respondent(session, "console", "u1")
    assert [(h.code, h.old_value, h.new_value, h.message_id) for h in history] == [
        ("1.1", None, "Sở A", "t-1"),
        ("1.1", "Sở A", "Sở B", "t-3"),
    ]
    assert {h.respondent_id for h in history} == {respondent.id}
    assert {h.channel for h in history} == {"console"}


async def test_unbound_person_is_told_how_to_start(engine):
    reply = await Chat(engine, "stranger").say("xin chào")
    assert "chưa được mời" in reply
    assert "Mã mời «NOPE» không đúng" in await Chat(engine, "s2").say("/start NOPE")


async def test_documents_are_rendered_after_the_submission_is_committed(database, mini_spec):
    seen = []

    async def render(submission_id: int) -> list[Document]:
        async with database.session() as session:
            seen.append((await repo.get_submission(session, submission_id)).status)
        return [Document("phieu.docx", b"PK...", "application/octet-stream")]

    chat = Chat(Engine(database, {"mini": mini_spec}, render_documents=render))
    await chat.start()
    await answer_all(chat)
    await chat.say("/nop")
    await chat.say("có")
    assert seen == ["submitted"], "the renderer sees the committed submission"
    assert [m.document.filename for m in chat.last if m.document] == ["phieu.docx"]
    assert chat.last[0].submitted


async def test_position_is_read_from_the_database(engine, database, mini_spec):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:2])
    other_worker = Engine(database, {"mini": mini_spec})
    assert await other_worker.position("console", "u1") == "3.1"
    assert await other_worker.position("console", "nobody") is None


async def test_a_pressed_multi_choice_option_is_stored_as_a_list(engine):
    chat = Chat(engine)
    await chat.start()
    await answer_all(chat, MINI_ANSWERS[:13])
    assert chat.asks == "5.3"
    await chat.press("ans:5.3:1")  # a button of an older message toggles too
    assert chat.last[0].edit_pressed and chat.asks == "5.3"
    reply = await chat.press("done:5.3")
    assert "✓ Đã lưu 5.3: Ký trên phần mềm" in reply
    assert (await submission_of(engine)).as_json()["answers"]["5.3"] == ["phan_mem"]

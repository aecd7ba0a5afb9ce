"""What a clerk notices on the official forms: warnings they can keep, refusals that say what to
correct, edits that never dead-end, checked formats, known answers, carry-over, multi-choice,
one progress count, and the next year without a new invite."""

from __future__ import annotations

import pytest
from chatting import Chat, submission_of
from test_operations_support import open_campaign

from dialogs import Engine
from dialogs.kinds import sample_answer, smaller_answer
from dialogs.payloads import encode
from dialogs.spec import all_forms
from storage import repo
from templates.messages import say

FORMS = all_forms()


@pytest.fixture
def engine(database):
    return Engine(database, FORMS)


async def start(engine, form: str, *, unit: str = "Sở Tư pháp", year: int = 2020, user="u1"):
    chat = Chat(engine, user)
    await chat.start(unit=unit, form=form, year=year)
    return chat


async def walk_to(
    chat: Chat, form: str, code: str, answers: dict[str, str] | None = None, steps: int = 0
):
    """Answer as a person would (``answers`` by code, else a plausible answer) until the bot
    asks ``code`` (or for ``steps`` questions)."""
    spec = FORMS[form]
    answers = answers or {}
    for _step in range(steps or len(spec.items)):
        if chat.asks == code:
            return
        asked = chat.asks
        assert asked is not None, chat.text
        item = spec.by_code[asked]
        await chat.say(answers.get(asked) or sample_answer(item, 2020))
        await chat.give_evidence()
        if chat.asks == asked and say("keep_warning") in [o.label for o in chat.last[0].options]:
            await chat.say("vẫn giữ")
        elif chat.asks == asked and asked not in answers and smaller_answer(item):
            await chat.say(smaller_answer(item))  # a part larger than its whole: a smaller one
        assert chat.asks != asked, chat.text
    if not steps:
        raise AssertionError(f"{code} was never asked")


def option(chat: Chat, label: str) -> str:
    """The payload of the option labelled ``label`` under the last question."""
    for message in chat.last:
        for choice in message.options:
            if choice.label == label:
                return encode(choice.payload)
    raise AssertionError(f"no option {label!r}: {[o.label for m in chat.last for o in m.options]}")


def review_value(text: str, code: str) -> str | None:
    for line in text.splitlines():
        if line.startswith(f"{code} "):
            return line.split(": ", 1)[1]
    return None


# Warnings and errors ---------------------------------------------------------------------------


async def test_more_computers_than_staff_is_a_warning_the_clerk_can_keep(engine):
    chat = await start(engine, "so-ban-nganh")
    await walk_to(chat, "so-ban-nganh", "3.2.a", {"1.8": "212", "1.9": "0", "3.1.a": "212"})
    reply = await chat.say("230")
    assert "✓ Đã lưu 3.2.a: 230 máy" in reply
    assert "230 máy tính có Internet nhưng chỉ có 212 CBCC được trang bị máy tính" in reply
    assert chat.asks == "3.2.a", "the bot waits for Vẫn giữ or another value"
    await chat.press(option(chat, say("keep_warning")))
    assert "Đã giữ 3.2.a: 230 máy" in chat.text and chat.asks == "3.2.b.1"
    data = (await submission_of(engine, "Sở Tư pháp")).as_json()
    assert data["answers"]["3.2.a"] == 230
    assert data["warnings"] == [
        {
            "code": "3.2.a",
            "message": "230 máy tính có Internet nhưng chỉ có 212 CBCC được trang bị máy tính"
            " — kiểm tra lại 3.1 hoặc 3.2.a",
        }
    ]
    review = await chat.say("/xem 3")
    assert review_value(review, "3.2.a") == "230 máy " + say("review_kept_warning")


async def test_a_warning_is_kept_by_typing_too_or_replaced_by_another_value(engine):
    chat = await start(engine, "xa-phuong", unit="UBND xã Hương Vinh")
    await walk_to(chat, "xa-phuong", "7.8.1", {"1.7": "22"})
    await chat.say("30")  # 30 mailboxes for 22 staff: possible (contract staff, leavers)
    assert chat.asks == "7.8.1" and "30 hộp thư cá nhân nhưng xã, phường chỉ có 22" in chat.text
    await chat.say("đúng")
    assert chat.asks == "7.8.2"
    await chat.say("/sua 5.7")
    await chat.say("15000000")  # in đồng, typed into a Tr.đ question
    assert chat.asks == "5.7" and "Lưu ý đơn vị là triệu đồng" in chat.text
    reply = await chat.say("15.000.000 đồng")
    assert "✓ Đã lưu 5.7: 15 Tr.đ" in reply and chat.asks == "7.8.2"
    assert (await submission_of(engine, "UBND xã Hương Vinh")).as_json()["warnings"] == [
        {
            "code": "7.8.1",
            "message": "30 hộp thư cá nhân nhưng xã, phường chỉ có 22 CBCC"
            " — kiểm tra lại 1.7 hoặc 7.8.1",
        }
    ]


async def test_a_part_larger_than_its_whole_is_refused_with_what_to_correct(engine):
    chat = await start(engine, "so-ban-nganh")
    await walk_to(chat, "so-ban-nganh", "3.1.a", {"1.8": "50"})
    reply = await chat.say("60")
    assert "60 CBCC khối Văn phòng được trang bị máy tính nhưng khối Văn phòng chỉ có 50" in reply
    assert "/sua 1.8" in reply and chat.asks == "3.1.a"
    assert "3.1.a" not in (await submission_of(engine, "Sở Tư pháp")).as_json()["answers"]


async def test_lowering_a_total_is_stored_and_the_answers_it_breaks_are_asked_again(engine):
    """1.8 from 65 to 50 once refused three times; now it is stored, and the later answers
    that no longer fit are asked at once, then the clerk is back where they were."""
    chat = await start(engine, "so-ban-nganh")
    answers = {"1.8": "65", "1.9": "0", "3.1.a": "60", "3.1.b": "0", "3.2.a": "60", "3.3": "0"}
    await walk_to(chat, "so-ban-nganh", "3.5", answers)
    reply = await chat.say("/sua 1.8")
    assert chat.asks == "1.8"
    reply = await chat.say("50")
    assert "✓ Đã lưu 1.8: 50 người" in reply
    assert chat.asks == "3.1.a" and "khối Văn phòng chỉ có 50 CBCC" in reply
    reply = await chat.say("50")
    assert "✓ Đã lưu 3.1.a: 50 người" in reply
    # 60 computers with Internet for 50 equipped staff: possible, asked as a warning.
    assert chat.asks == "3.2.a" and say("keep_warning") in [o.label for o in chat.last[0].options]
    await chat.say("vẫn giữ")
    assert chat.asks == "3.5", "back to where the clerk was"
    data = (await submission_of(engine, "Sở Tư pháp")).as_json()
    assert (data["answers"]["1.8"], data["answers"]["3.1.a"]) == (50, 50)


async def test_conflicts_left_behind_stop_the_submission_until_resolved(engine):
    chat = await start(engine, "xa-phuong", unit="UBND xã Hương Vinh")
    spec = FORMS["xa-phuong"]
    answers = {"1.7": "22", "4.2": "10"}
    while chat.asks is not None:
        await chat.say(answers.get(chat.asks) or sample_answer(spec.by_code[chat.asks], 2020))
        await chat.give_evidence()
    await chat.say("/sua 1.7")
    await chat.say("8")  # 10 trained but only 8 staff: a warning on 4.2, asked at once
    assert chat.asks == "4.2" and "10 người tham gia đào tạo" in chat.text
    await chat.say("/huy")
    reply = await chat.say("/nop")
    assert say("conflicts_left", count=1, codes=["4.2"]) in reply and chat.asks == "4.2"
    await chat.say("vẫn giữ")
    assert "Xác nhận nộp phiếu" in await chat.say("/nop")


# Formats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "typed", "key"),
    [
        ("1.4", "abc", "format_phone"),
        ("1.4", "0905 123 45", "format_phone"),
        ("1.5", "huongvinh gov vn", "format_url"),
        ("1.6", "hoalt@gmail,com", "format_email"),
        ("1.6", "khong co", "format_email"),
        ("5.1.1", "co", "format_doc_ref"),
    ],
)
async def test_text_in_the_wrong_format_is_refused_with_an_example(engine, code, typed, key):
    chat = await start(engine, "xa-phuong", unit="UBND xã Hương Vinh")
    answers = {"5.1": "có"}
    await walk_to(chat, "xa-phuong", code, answers)
    reply = await chat.say(typed)
    assert chat.asks == code, reply
    assert "ví dụ" in reply.lower()
    assert code not in (await submission_of(engine, "UBND xã Hương Vinh")).as_json()["answers"]


async def test_phone_numbers_are_stored_in_one_way(engine):
    chat = await start(engine, "xa-phuong", unit="UBND xã Hương Vinh")
    await walk_to(chat, "xa-phuong", "1.4")
    assert "✓ Đã lưu 1.4: 0234 3551 234" in await chat.say("+84 234.3551.234")
    await walk_to(chat, "xa-phuong", "2.3")
    assert "✓ Đã lưu 2.3: 0905 123 456" in await chat.say("0905-123-456")


# Known answers, carry-over, the next year -------------------------------------------------------


async def test_the_bot_fills_what_it_knows_and_asks_the_rest(engine):
    async with engine.db.session() as session, session.begin():
        await repo.upsert_unit(
            session,
            "UBND xã Hương Vinh",
            "xa-phuong",
            contact="0234 3551 234; ubndhuongvinh@thuathienhue.gov.vn",
        )
    chat = await start(engine, "xa-phuong", unit="UBND xã Hương Vinh", year=2021)
    assert chat.asks == "1.3", "the first question is the first one the bot cannot know"
    assert "[Năm 2021 · MỤC 1 · câu 3/" in chat.text
    await walk_to(chat, "xa-phuong", "1.5", {})
    assert chat.asks == "1.5", "1.4 (phone) came from the unit record"
    review = await chat.say("/xem 1")
    assert review_value(review, "1.1") == "2021"
    assert review_value(review, "1.2") == "UBND xã Hương Vinh"
    assert review_value(review, "1.4") == "0234 3551 234"
    assert review_value(review, "1.6") == "ubndhuongvinh@thuathienhue.gov.vn"
    # Correctable: another year than the campaign's is possible, but warned about.
    await chat.say("/sua 1.1")
    await chat.say("2020")
    assert chat.asks == "1.1" and "khác năm của đợt báo cáo (2021)" in chat.text
    await chat.press(option(chat, say("keep_warning")))
    assert chat.asks == "1.5"


async def test_next_year_begins_with_the_next_message_and_keeps_only_what_stays(engine):
    database = engine.db
    await open_campaign(database, form="xa-phuong", year=2020)
    chat = await start(engine, "xa-phuong", unit="UBND xã Hương Vinh", year=2020)
    await walk_to(chat, "xa-phuong", "3.1.1", {"1.3": "Thôn 3", "1.7": "22"})
    spec = FORMS["xa-phuong"]
    while chat.asks is not None:
        await chat.say(sample_answer(spec.by_code[chat.asks], 2020))
        await chat.give_evidence()
    await chat.say("/nop")
    assert "Đã nộp phiếu" in await chat.say("có")
    assert "đã được nộp" in await chat.say("/start")

    await open_campaign(database, form="xa-phuong", year=2021)
    reply = await chat.say("xin chào")
    assert "Đợt báo cáo năm 2021 đã mở" in reply and "[Năm 2021 · MỤC 1 · câu 3/" in reply
    # The address stays: offered with one tap, and so are the rest of MỤC 1's facts.
    labels = [o.label for o in chat.last[0].options]
    assert say("keep_previous", value="Thôn 3") in labels
    assert any(label.startswith("Giữ tất cả như năm trước") for label in labels)
    keep_all = next(label for label in labels if label.startswith("Giữ tất cả"))
    await chat.press(option(chat, keep_all))
    assert "✓ Đã giữ 5 câu của MỤC 1 như năm trước." in chat.text
    assert chat.asks == "2.1", "every carried answer of MỤC 1 was kept in one tap"
    review = await chat.say("/xem 1")
    assert review_value(review, "1.1") == "2021", "the year is the campaign's, not last year's"
    assert review_value(review, "1.7") == "22 người", "a count that stays was kept"
    # Counts of the year are never offered.
    await chat.say("/tieptuc")
    await walk_to(chat, "xa-phuong", "7.2.1")
    assert not [o for o in chat.last[0].options if o.label.startswith("Giữ")]


async def test_a_closed_campaign_moves_its_people_to_the_next_one(engine):
    database = engine.db
    await open_campaign(database, form="xa-phuong", year=2020)
    chat = await start(engine, "xa-phuong", unit="UBND xã Hương Vinh", year=2020)
    await chat.say("Thôn 3")
    await open_campaign(database, form="xa-phuong", year=2021)
    assert "[Năm 2020 ·" in await chat.say("/tieptuc"), "the 2020 form is still open"
    async with database.session() as session, session.begin():
        await repo.close_campaign(session, "xa-phuong-2020")
    reply = await chat.say("/start")
    assert "Đợt báo cáo năm 2021 đã mở" in reply and chat.asks == "1.3"


# Multi-choice, progress, /xem -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("1, 3", ["qlvb_dh", "chu_ky_so"]),
        ("1 3", ["qlvb_dh", "chu_ky_so"]),
        ("tất cả", ["qlvb_dh", "thu_dien_tu", "chu_ky_so", "tthc"]),
        ("không có", []),
    ],
)
async def test_multi_choice_typed_on_a_text_channel(engine, typed, stored):
    chat = await start(engine, "xa-phuong", unit="UBND xã Hương Vinh")
    await walk_to(chat, "xa-phuong", "7.1")
    assert "✓ Đã lưu 7.1" in await chat.say(typed)
    data = (await submission_of(engine, "UBND xã Hương Vinh")).as_json()
    assert data["answers"]["7.1"] == stored


async def test_a_wrong_multi_choice_never_says_choose_one(engine):
    chat = await start(engine, "xa-phuong", unit="UBND xã Hương Vinh")
    await walk_to(chat, "xa-phuong", "7.1")
    reply = await chat.say("phần mềm kế toán")
    assert chat.asks == "7.1" and "chọn một" not in reply.lower() and "1, 3" in reply


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_one_progress_count_everywhere_and_short_reviews(engine, form):
    chat = await start(engine, form, unit=f"Đơn vị {form}")
    spec = FORMS[form]
    numbers = []
    while chat.asks is not None:
        header = next(line for line in chat.last[-1].text.splitlines() if line.startswith("[Năm"))
        numbers.append(header)
        await walk_to(chat, form, "next", {}, steps=1)
    total = numbers[-1].rsplit("/", 1)[1]  # the questions that apply, once the gates are answered
    # The header never skips a number.
    counted = [int(h.rsplit("câu ", 1)[1].split("/")[0]) for h in numbers]
    assert counted == list(range(counted[0], counted[0] + len(counted)))
    progress = await chat.say("/tiendo")
    assert f"/{total.rstrip(']')} câu" in progress
    data = (await submission_of(engine, f"Đơn vị {form}")).as_json()
    assert str(data["progress"]["total"]) == total.rstrip("]")
    assert f"({data['progress']['answered']}/{data['progress']['total']})" in await chat.say("/nop")
    await chat.say("không")
    # /xem: an index, then every section page by page, each message short.
    await chat.say("/xem")
    assert len(chat.text) <= 1500
    assert len(chat.last[0].options) == len(spec.sections)
    for section in spec.sections:
        page = 1
        while True:
            text = await chat.say(f"/xem {section.number} {page}")
            assert len(text) <= 1500, (section.number, page, len(text))
            if "Trang sau ▶" not in [o.label for o in chat.last[0].options]:
                break
            page += 1

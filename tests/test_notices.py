"""Reviewers are told when a unit submits or resubmits, once per reviewer and submit, with the
score and the link to the submission's page; reviewers invited to campaigns instead of a unit."""

from __future__ import annotations

import asyncio

import pytest
from chatting import Chat, answer_all, next_id
from test_operations_support import (
    add_unit,
    fill_and_submit,
    join,
    make_invite,
    open_campaign,
    outbox,
    respondent,
)

from dialogs import Engine, campaigns
from dialogs.access import Scope, new_code
from dialogs.messages import Inbound
from dialogs.payloads import Confirm
from dialogs.scoring import parse_rubric
from storage import repo
from storage.db import Database
from templates.export import campaign_ranking

MINI_RUBRIC = {
    "form": "mini",
    "groups": [
        {
            "code": "3",
            "title": "Hạ tầng",
            "rules": [
                {"code": "3.6", "rule": "yes_no", "points": 2},
                {"code": "3.2.a", "rule": "relative", "points": 2},
            ],
        },
        {
            "code": "6",
            "title": "Cổng thông tin",
            "rules": [{"code": "6.2.1.a", "rule": "tri_state", "points": 2}],
        },
    ],
}


@pytest.fixture
async def scored(database, mini_spec):
    """The engine on the mini form with a rubric (yes/no 2 + relative 2 + tri-state 2)."""
    mini_spec.memo("_rubric", lambda spec: parse_rubric(MINI_RUBRIC, spec, "mini.rubric.yaml"))
    engine = Engine(database, {"mini": mini_spec}, rank=campaign_ranking(database))
    engine.services.public_url = "https://bot.example.gov.vn/"
    return engine


async def reviewer_invite(database, *, campaigns=(), forms=()) -> str:
    code = new_code()
    async with database.session() as session, session.begin():
        await repo.create_invite(
            session,
            code=code,
            unit_id=None,
            form_id="mini",
            year=2020,
            role="reviewer",
            scope=Scope.of(campaigns, forms).as_json(),
        )
    return code


async def notices(database) -> list:
    return [m for m in await outbox(database) if m.kind == "submitted"]


async def test_a_submit_tells_each_reviewer_of_the_campaign_once(scored, database):
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(scored, "r1", await reviewer_invite(database, campaigns=["mini-2020"]))
    await join(scored, "r2", await reviewer_invite(database, forms=["mini"]), channel="zalo")
    await join(scored, "r3", await reviewer_invite(database, campaigns=["mini-2019"]))
    chat = await join(scored, "101", await make_invite(database, unit))
    await fill_and_submit(chat)
    assert "Đã nộp phiếu của UBND xã Hương Vinh" in chat.text, chat.text

    sent = await notices(database)
    assert sorted((m.channel, m.external_id) for m in sent) == [("telegram", "r1"), ("zalo", "r2")]
    submission_id = (await respondent(database, "101")).submission_id
    for message in sent:
        assert "UBND xã Hương Vinh đã nộp phiếu" in message.text
        # 3.6 Có: 2; 3.2.a is the campaign's best: 2; đang thử nghiệm: 1 → 5 of 6.
        assert "Điểm tạm tính: 5/6 điểm" in message.text, message.text
        assert f"https://bot.example.gov.vn/submissions/{submission_id}" in message.text


async def test_a_redelivered_submit_queues_no_second_notice(scored, database):
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(scored, "r1", await reviewer_invite(database, campaigns=["mini-2020"]))
    chat = await join(scored, "101", await make_invite(database, unit))
    await fill_and_submit(chat)
    # The platform delivers the confirmation again (a lost acknowledgement), and the person
    # presses the button once more: neither submits twice.
    await chat.press("confirm:yes")
    assert "đã được nộp lúc" in chat.text, chat.text
    assert len(await notices(database)) == 1


async def test_the_same_message_delivered_twice_is_applied_once(scored, database):
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(scored, "r1", await reviewer_invite(database, campaigns=["mini-2020"]))
    chat = await join(scored, "101", await make_invite(database, unit))
    await answer_all(chat)
    await chat.say("/nop")
    same = Inbound("telegram", "101", payload=Confirm(True), message_id=next_id())
    first = await scored.handle(same)
    again = await scored.handle(same)
    assert any(m.submitted for m in first) and again == []
    assert len(await notices(database)) == 1


async def test_two_workers_given_the_same_submit_at_once_queue_one_notice(scored, database):
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(scored, "r1", await reviewer_invite(database, campaigns=["mini-2020"]))
    chat = await join(scored, "101", await make_invite(database, unit))
    await answer_all(chat)
    await chat.say("/nop")
    second = Database(database.url)  # another worker: its own engine and connections
    try:
        other = Engine(second, scored.forms)
        other.services.public_url = scored.services.public_url
        same = Inbound("telegram", "101", payload=Confirm(True), message_id=next_id())
        replies = await asyncio.gather(scored.handle(same), other.handle(same))
    finally:
        await second.dispose()
    assert sum(1 for r in replies for m in r if m.submitted) == 1
    assert len(await notices(database)) == 1


async def test_a_resubmit_after_a_return_tells_the_reviewers_again(scored, database):
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    reviewer = await join(scored, "r1", await reviewer_invite(database, campaigns=["mini-2020"]))
    chat = await join(scored, "101", await make_invite(database, unit))
    await fill_and_submit(chat)
    assert "Đã trả lại" in await reviewer.say("/tralai Hương Vinh: thiếu số liệu mục 3")
    await chat.say("/nop")
    await chat.press("confirm:yes")
    sent = await notices(database)
    assert [("đã nộp lại" in m.text) for m in sent] == [False, True]
    assert len({m.key for m in sent}) == 2


async def test_without_a_public_url_the_notice_says_how_to_get_the_form(database, mini_spec):
    engine = Engine(database, {"mini": mini_spec})
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(engine, "r1", await reviewer_invite(database, campaigns=["mini-2020"]))
    await fill_and_submit(await join(engine, "101", await make_invite(database, unit)))
    (message,) = await notices(database)
    assert "http" not in message.text and "/taiphieu UBND xã Hương Vinh" in message.text


async def test_a_reviewer_invited_to_a_unit_before_scopes_reviews_everything(scored, database):
    await open_campaign(database)
    office = await add_unit(database, "Sở Thông tin và Truyền thông")
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(scored, "r1", await make_invite(database, office, role="reviewer"))
    await fill_and_submit(await join(scored, "101", await make_invite(database, unit)))
    assert [m.external_id for m in await notices(database)] == ["r1"]


# Scoped reviewers ----------------------------------------------------------------------------


async def test_a_reviewer_invite_names_a_campaign_and_needs_no_unit(scored, database):
    await open_campaign(database)
    chat = await join(scored, "r1", await reviewer_invite(database, campaigns=["mini-2020"]))
    assert "người duyệt cho mini-2020" in chat.text, chat.text
    person = await respondent(database, "r1")
    assert (person.role, person.unit_id) == ("reviewer", None)
    assert person.scope == {"campaigns": ["mini-2020"], "forms": []}
    # A second invite widens what they review.
    await chat.say(f"/start {await reviewer_invite(database, forms=['so-ban-nganh'])}")
    person = await respondent(database, "r1")
    assert person.scope == {"campaigns": ["mini-2020"], "forms": ["so-ban-nganh"]}


async def test_the_reviewers_office_is_not_a_unit_that_has_not_started(scored, database):
    campaign = await open_campaign(database)
    office = await add_unit(database, "Sở Thông tin và Truyền thông")
    await add_unit(database, "UBND xã Hương Vinh")
    await join(scored, "r1", await make_invite(database, office, role="reviewer"))
    async with database.session() as session:
        rows = await campaigns.campaign_progress(session, campaign, scored.forms)
    assert [(row.unit.name, row.status) for row in rows] == [("UBND xã Hương Vinh", "not_started")]


async def test_a_scoped_reviewer_sees_and_changes_only_their_campaigns(scored, database):
    await open_campaign(database)
    await open_campaign(database, year=2021)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    other = await add_unit(database, "UBND xã Hương Toàn")
    reviewer = await join(scored, "r1", await reviewer_invite(database, campaigns=["mini-2021"]))
    await fill_and_submit(await join(scored, "101", await make_invite(database, unit)))
    await join(scored, "102", await make_invite(database, other, year=2021))

    listing = await reviewer.say("/danhsach")
    assert "mini-2021" in listing and "mini-2020" not in listing, listing
    assert "Không hiểu: #mini-2020" in await reviewer.say("/danhsach #mini-2020")
    refused = await reviewer.say("/tralai Hương Vinh: thiếu số liệu")
    assert "không thuộc các đợt bạn duyệt" in refused, refused
    person = await respondent(database, "101")
    async with database.session() as session:
        assert (await repo.get_submission(session, person.submission_id)).status == "submitted"
    assert "không thuộc các đợt bạn duyệt" in await reviewer.say("/duyet Hương Vinh")


async def test_a_chat_of_a_reviewer_and_a_respondent_in_one(scored, database):
    """Someone who fills their unit's form and is then made a reviewer of a campaign keeps
    their form."""
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    chat: Chat = await join(scored, "101", await make_invite(database, unit))
    await chat.say(f"/start {await reviewer_invite(database, campaigns=['mini-2020'])}")
    person = await respondent(database, "101")
    assert (person.role, person.unit_id) == ("reviewer", unit.id)
    assert person.submission_id is not None


async def test_a_rubric_that_fails_does_not_refuse_the_submit(scored, database, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a rubric bug")

    monkeypatch.setattr(campaigns, "notice_score", broken)
    await open_campaign(database)
    unit = await add_unit(database, "UBND xã Hương Vinh")
    await join(scored, "r1", await reviewer_invite(database, campaigns=["mini-2020"]))
    chat = await join(scored, "101", await make_invite(database, unit))
    assert "Đã nộp phiếu" in await fill_and_submit(chat)
    (message,) = await notices(database)
    assert "UBND xã Hương Vinh đã nộp phiếu" in message.text and "Điểm" not in message.text


async def test_a_respondent_invite_without_a_unit_binds_nobody(scored, database):
    code = new_code()
    async with database.session() as session, session.begin():
        await repo.create_invite(session, code=code, unit_id=None, form_id="mini", year=2020)
    chat = await join(scored, "101", code)
    assert "đã hết hạn hoặc đã dùng hết lượt" in chat.text
    assert await respondent(database, "101") is None

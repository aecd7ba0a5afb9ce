"""Campaigns as the IT team sees them (``dialogs.campaigns``): each unit's status, progress,
last activity and people; who is reminded with which text; the best value of a relative
scoring rule across the campaign."""

from __future__ import annotations

from datetime import date

import pytest
from test_operations_support import add_unit, fill_and_submit, join, make_invite, open_campaign
from test_scoring import MINI_RUBRIC

from dialogs import Engine
from dialogs import campaigns as camp
from dialogs.filling import fill_answers
from dialogs.scoring import load_rubric
from storage import repo


@pytest.fixture
def rubric(tmp_path, mini_spec):
    path = tmp_path / "mini.rubric.yaml"
    path.write_text(MINI_RUBRIC, encoding="utf-8")
    return load_rubric(path, mini_spec)


async def progress(database, engine, campaign):
    async with database.session() as session:
        return {
            row.unit.name: row
            for row in await camp.campaign_progress(session, campaign, engine.forms)
        }


async def test_progress_lists_every_unit_of_the_type_with_its_status(engine, database):
    campaign = await open_campaign(database)
    idle = await add_unit(database, "UBND xã Chưa Làm")
    busy = await add_unit(database, "UBND xã Đang Làm")
    done = await add_unit(database, "UBND xã Đã Nộp")
    await add_unit(database, "Sở Khác", form="other")  # another type: not listed
    chat = await join(engine, "11", await make_invite(database, busy))
    await chat.say("Xã Đang Làm")
    finished = await join(engine, "12", await make_invite(database, done))
    await fill_and_submit(finished)

    rows = await progress(database, engine, campaign)
    assert list(rows) == ["UBND xã Chưa Làm", "UBND xã Đã Nộp", "UBND xã Đang Làm"]
    assert rows["UBND xã Chưa Làm"].status == "not_started"
    assert rows["UBND xã Chưa Làm"].percent == 0
    assert rows["UBND xã Chưa Làm"].last_activity is None
    assert rows["UBND xã Đang Làm"].status == "in_progress"
    assert 0 < rows["UBND xã Đang Làm"].percent < 100
    assert rows["UBND xã Đang Làm"].last_activity is not None
    assert [r.external_id for r in rows["UBND xã Đang Làm"].bound] == ["11"]
    assert rows["UBND xã Đã Nộp"].status == "submitted"
    assert rows["UBND xã Đã Nộp"].percent == 100
    assert idle.id != busy.id


async def test_a_unit_of_another_type_with_this_form_is_listed_too(engine, database):
    campaign = await open_campaign(database)
    stray = await add_unit(database, "Đơn vị lạc", form="other")
    chat = await join(engine, "21", await make_invite(database, stray, form="mini"))
    await chat.say("Tên")
    rows = await progress(database, engine, campaign)
    assert rows["Đơn vị lạc"].status == "in_progress"


async def test_reminders_go_to_the_people_of_units_that_have_not_submitted(engine, database):
    campaign = await open_campaign(database, deadline=date(2020, 12, 15))
    late = await add_unit(database, "UBND xã Chậm")
    done = await add_unit(database, "UBND xã Xong")
    await join(engine, "31", await make_invite(database, late))
    await fill_and_submit(await join(engine, "32", await make_invite(database, done)))
    async with database.session() as session:
        rows = await camp.campaign_progress(session, campaign, engine.forms)
    recipients = camp.reminder_recipients(campaign, engine.forms["mini"], rows, date(2020, 12, 12))
    assert [r.respondent.external_id for r in recipients] == ["31"]
    (reminder,) = recipients
    assert "UBND xã Chậm" in reminder.text and "15/12/2020" in reminder.text
    assert reminder.key == "reminder:mini-2020:2020-12-12:telegram:31"


async def test_campaign_best_counts_submitted_units_of_the_same_year_only(
    database, mini_spec, rubric
):
    engine = Engine(database, {"mini": mini_spec})
    units = {
        "UBND A": ("40", "2", 2020, "submitted"),  # 0,25 Mbps per person
        "UBND B": ("10", "4", 2020, "approved"),  # 2 per person: the best counted
        "UBND C": ("10", "400", 2020, "draft"),  # a draft with a typo does not count
        "UBND D": ("10", "400", 2019, "submitted"),  # another campaign
    }
    for name, (staff, leased, year, status) in units.items():
        answers = {"1.2": staff, "3.2.b.1": leased, "3.2.b.2": "0", "3.2.b.3": "0"}
        answers["3.2.b.4"] = "0"
        results = await fill_answers(
            engine.db, engine.forms, unit_name=name, form_id="mini", year=year, answers=answers
        )
        assert all(ok for _, ok, _ in results)
        if status != "draft":
            async with database.session() as session, session.begin():
                unit = await repo.find_unit(session, name)
                submission = await repo.find_submission(session, unit.id, "mini", year)
                await repo.bump_version(session, submission.id, submission.version, status=status)
    async with database.session() as session:
        best = await camp.campaign_best(session, mini_spec, 2020, rubric)
    assert best == {"3.2.c": pytest.approx(2.0)}


async def test_campaign_best_is_empty_without_relative_rules(database, mini_spec, tmp_path):
    path = tmp_path / "mini.rubric.yaml"
    path.write_text(MINI_RUBRIC.replace("rule: relative", "rule: target, target: 1"), "utf-8")
    rubric = load_rubric(path, mini_spec)
    async with database.session() as session:
        assert await camp.campaign_best(session, mini_spec, 2020, rubric) == {}

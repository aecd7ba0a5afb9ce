"""Campaign reads (``storage.campaigns``): the submissions of one form and year with their
units and answers, filtered by status and item code; the units that should report; activity."""

from __future__ import annotations

from test_operations_support import add_unit, join, make_invite

from storage import campaigns, repo


async def submit_status(database, unit, status: str, year: int = 2020) -> None:
    async with database.session() as session, session.begin():
        submission = await repo.find_submission(session, unit.id, "mini", year)
        await repo.bump_version(session, submission.id, submission.version, status=status)


async def test_a_campaign_is_read_with_its_units_answers_and_people(engine, database):
    waiting = await add_unit(database, "UBND xã Chờ")
    working = await add_unit(database, "UBND xã Làm")
    await add_unit(database, "Sở Khác", form="other")
    chat = await join(engine, "41", await make_invite(database, working))
    await chat.say("Xã Làm")
    await chat.say("25")
    other_year = await join(engine, "42", await make_invite(database, waiting, year=2019))
    await other_year.say("Năm trước")

    async with database.session() as session:
        bare = await campaigns.load_campaign(session, "mini", 2020)
        full = await campaigns.load_campaign(
            session, "mini", 2020, units_of_type=True, activity=True
        )
    assert [s.unit_id for s in bare.submissions] == [working.id]
    assert list(bare.units) == [working.id]
    assert sorted((row.code, row.value) for row in bare.answers) == [("1.1", "Xã Làm"), ("1.2", 25)]
    assert bare.last_answers == {} and bare.respondents == []
    assert sorted(u.name for u in full.units.values()) == ["UBND xã Chờ", "UBND xã Làm"]
    assert list(full.last_answers) == [bare.submissions[0].id]
    assert sorted(r.external_id for r in full.respondents) == ["41", "42"]


async def test_statuses_and_codes_narrow_what_is_read(engine, database):
    first = await add_unit(database, "UBND A")
    second = await add_unit(database, "UBND B")
    for user, unit in (("51", first), ("52", second)):
        chat = await join(engine, user, await make_invite(database, unit))
        await chat.say(f"Xã {user}")
        await chat.say("30")
    await submit_status(database, second, "submitted")
    async with database.session() as session:
        submitted = await campaigns.load_campaign(
            session, "mini", 2020, statuses=("submitted", "approved"), codes={"1.2"}
        )
        nothing = await campaigns.load_campaign(session, "mini", 2020, codes=set())
    assert [s.unit_id for s in submitted.submissions] == [second.id]
    assert [(row.code, row.value) for row in submitted.answers] == [("1.2", 30)]
    assert nothing.answers == [] and len(nothing.submissions) == 2

"""A complete scripted walk through each official form, answering as a person would type."""

from __future__ import annotations

import pytest
from chatting import Chat, submission_of

from dialogs import Engine
from dialogs.kinds import sample_answer, smaller_answer
from dialogs.spec import all_forms


@pytest.mark.parametrize("form_id", ["so-ban-nganh", "ubnd-huyen", "xa-phuong"])
async def test_complete_walk_and_submit(database, form_id):
    engine = Engine(database, all_forms())
    spec = engine.forms[form_id]
    chat = Chat(engine, f"walker-{form_id}")
    await chat.start(unit=f"Đơn vị {form_id}", year=2020, form=form_id)
    # The year and the unit's name are known: never asked.
    assert chat.asks == "1.3", chat.text
    asked, corrections, formats, evidence = [], [], [], []
    while chat.asks is not None:
        item = spec.by_code[chat.asks]
        if item.format:
            # A wrong format first: refused with an example of the right one.
            reply = await chat.say("abc xyz")
            assert chat.asks == item.code and "ví dụ" in reply.lower(), reply
            formats.append(item.code)
        reply = await chat.say(sample_answer(item, 2020))
        if "⚠️" in reply and chat.asks == item.code and smaller_answer(item):
            # A part larger than its whole was refused; answer as a person would after
            # reading the message: a smaller count.
            corrections.append(item.code)
            reply = await chat.say(smaller_answer(item))
        assert f"✓ Đã lưu {item.code}" in reply, reply
        if chat.evidence_for == item.code:
            evidence.append(item.code)
            await chat.give_evidence()
        asked.append(item.code)
        assert len(asked) <= len(spec.items), "the walk must end"
    assert "Bạn đã trả lời hết các câu" in chat.text
    assert len(corrections) < 10, corrections
    assert {"1.4", "1.6"} <= set(formats), formats
    assert evidence, "items that take evidence ask for it"
    assert len(asked) == len(set(asked)), "no question is asked twice"
    await chat.say("/nop")
    assert "Đã nộp phiếu" in await chat.say("có")
    snapshot = await submission_of(engine, f"Đơn vị {form_id}", 2020)
    data = snapshot.as_json()
    assert data["status"] == "submitted"
    assert data["progress"]["required_answered"] == data["progress"]["required"]
    assert (data["answers"]["1.1"], data["answers"]["1.2"]) == (2020, f"Đơn vị {form_id}")
    # Every asked item that applies was answered, in printed order.
    order = [i.code for i in spec.items if i.code in set(asked)]
    assert asked == order
    assert all(snapshot.state.value(code) is not None for code in asked)

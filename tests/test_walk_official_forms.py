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
    asked, corrections = [], []
    while chat.asks is not None:
        item = spec.by_code[chat.asks]
        reply = await chat.say(sample_answer(item, 2020))
        if "⚠️" in reply and smaller_answer(item):
            # A sum-of-parts constraint refused the first guess; answer as a person would
            # after reading the message: a smaller count.
            corrections.append(item.code)
            reply = await chat.say(smaller_answer(item))
        assert f"✓ Đã lưu {item.code}" in reply, reply
        asked.append(item.code)
        assert len(asked) <= len(spec.items), "the walk must end"
    assert "Bạn đã trả lời hết các câu" in chat.text
    assert len(corrections) < 10, corrections
    assert len(asked) == len(set(asked)), "no question is asked twice"
    await chat.say("/nop")
    assert "Đã nộp phiếu" in await chat.say("có")
    snapshot = await submission_of(engine, f"Đơn vị {form_id}", 2020)
    data = snapshot.as_json()
    assert data["status"] == "submitted"
    assert data["progress"]["required_answered"] == data["progress"]["required"]
    # Every asked item that applies was answered, in printed order.
    order = [i.code for i in spec.items if i.code in set(asked)]
    assert asked == order
    assert all(snapshot.state.value(code) is not None for code in asked)

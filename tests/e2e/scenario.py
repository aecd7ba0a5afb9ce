"""The end-to-end conversation every channel must get through, written once.

A channel's test implements ``Driver`` against its real peer (Telegram: the Bot API emulator;
Zalo: its own) and calls ``run_scenario``. The scenario fills the fixture form
``tests/fixtures/mini.yaml`` for ``UNIT``: an invite, typed answers and chosen options, a bad
answer, ``/quaylai``, ``/sua``, a restart of the bot process, ``/tieptuc`` at exactly the next
unanswered question, then the submission and a review of what was stored.

Expected texts are rendered from ``templates/messages.vi.yaml`` with ``say``, so rewording a
message does not break the scenario; changing what the bot does does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from dialogs.spec import FormSpec, load_spec
from storage import repo
from storage.db import Database
from templates.messages import say

MINI_FORM = Path(__file__).resolve().parents[1] / "fixtures" / "mini.yaml"
UNIT = "UBND xã Hương Vinh"
YEAR = 2024
FORM = "mini"


class Driver(Protocol):
    """One person talking to the bot over a real channel."""

    async def send(self, text: str) -> None:
        """Type ``text`` (commands included) and return once the bot has answered it."""

    async def choose(self, label: str) -> None:
        """Pick the option labelled ``label`` of the latest question that offers it (Telegram:
        press its inline button; Zalo: type its number) and return once the bot answered."""

    async def replies(self) -> list[str]:
        """The texts of the bot's messages since the last call, as the person reads them."""

    async def restart_bot(self) -> None:
        """Stop the bot process and start a new one on the same database."""


async def create_invite(database: Database, code: str, *, uses_left: int | None = 1) -> str:
    """The invite the scenario starts with (``formbot invite`` belongs to operations)."""
    async with database.session() as session, session.begin():
        unit = await repo.get_or_create_unit(session, UNIT, FORM)
        await repo.create_invite(
            session,
            code=code,
            unit_id=unit.id,
            form_id=FORM,
            year=YEAR,
            uses_left=uses_left,
        )
    return code


def mini_spec() -> FormSpec:
    return load_spec(MINI_FORM)


def asked(spec: FormSpec, text: str) -> str | None:
    """The code of the question ``text`` ends with: the item whose "CODE. Label" appears last."""
    best, position = None, -1
    for item in spec.items:
        found = text.rfind(f"{item.code}. {item.label}")
        if found > position:
            best, position = item.code, found
    return best


class Conversation:
    """The scenario's view of the chat: one turn at a time, with its replies joined."""

    def __init__(self, driver: Driver, spec: FormSpec) -> None:
        self.driver = driver
        self.spec = spec
        self.turns = 0

    async def send(self, text: str) -> str:
        await self.driver.send(text)
        return await self._reply(text)

    async def choose(self, label: str) -> str:
        await self.driver.choose(label)
        return await self._reply(f"[{label}]")

    async def _reply(self, what: str) -> str:
        self.turns += 1
        replies = await self.driver.replies()
        assert replies, f"the bot did not answer {what!r}"
        return "\n\n".join(replies)

    def expect_question(self, text: str, code: str) -> None:
        found = asked(self.spec, text)
        assert found == code, f"expected question {code}, got {found}:\n{text}"


async def run_scenario(driver: Driver, invite_code: str) -> None:
    spec = mini_spec()
    chat = Conversation(driver, spec)
    label = {item.code: item.label for item in spec.items}

    # An invite binds the person to the unit's form; the first question follows the greeting.
    text = await chat.send(f"/start {invite_code}")
    assert spec.title in text and UNIT in text, text
    chat.expect_question(text, "1.1")

    # Typed text is echoed exactly as typed (markup characters included).
    name = "UBND xã Hương Vinh <Thừa Thiên Huế> & “Phòng Văn hoá”"
    text = await chat.send(name)
    assert say("saved", code="1.1", value=name) in text, text
    chat.expect_question(text, "1.2")

    # A bad answer gets the error, changes nothing, and the same question comes again.
    text = await chat.send("nhiều")
    assert say("not_a_number", text="nhiều", unit="người") in text, text
    chat.expect_question(text, "1.2")

    for typed, next_code in [
        ("20", "3.1"),
        ("15", "3.2.a"),
        ("10", "3.2.b.1"),
        ("1", "3.2.b.2"),
        ("2,5", "3.2.b.3"),
        ("0", "3.2.b.4"),
    ]:
        text = await chat.send(typed)
        chat.expect_question(text, next_code)
    text = await chat.send("0")
    # The computed total appears as soon as its inputs are in: 1 × 5 + 2,5 × 5 = 17,5.
    assert f"3.2.b. {label['3.2.b']}: 17,5" in text, text
    chat.expect_question(text, "3.6")

    # A chosen option (a button on Telegram), then back to it with /quaylai.
    text = await chat.choose("Có")
    assert say("saved", code="3.6", value="Có") in text, text
    chat.expect_question(text, "3.6.1")
    text = await chat.send("/quaylai")
    chat.expect_question(text, "3.6")
    # ... and answered again by typing, without diacritics.
    text = await chat.send("co")
    assert say("saved", code="3.6", value="Có") in text, text
    chat.expect_question(text, "3.6.1")

    text = await chat.send("VPN <IPsec>")
    assert say("saved", code="3.6.1", value="VPN <IPsec>") in text, text
    chat.expect_question(text, "3.7.đ")
    text = await chat.send("12")
    chat.expect_question(text, "5.1")

    # /sua jumps back to an answered item; after the correction the bot returns to 5.1.
    text = await chat.send("/sua 1.2")
    chat.expect_question(text, "1.2")
    text = await chat.send("25")
    assert say("saved", code="1.2", value="25 người") in text, text
    chat.expect_question(text, "5.1")

    text = await chat.send("5/10")
    chat.expect_question(text, "5.2")

    # Stop the bot process and start a new one: /tieptuc continues at exactly the next
    # unanswered question.
    await driver.restart_bot()
    text = await chat.send("/tieptuc")
    chat.expect_question(text, "5.2")
    assert "5.1. " not in text and "5.3. " not in text, text

    text = await chat.choose("Chữ ký số công cộng")
    assert say("saved", code="5.2", value="Chữ ký số công cộng") in text, text
    chat.expect_question(text, "5.3")
    text = await chat.send("1, 2")
    chat.expect_question(text, "5.4")
    text = await chat.send("12,5")
    chat.expect_question(text, "6.2.1.a")
    text = await chat.choose("Hoàn chỉnh")
    chat.expect_question(text, "6.2.1.e")
    text = await chat.choose("Đang thử nghiệm")
    assert say("all_done") in text, text

    # Submit, confirming with the offered option.
    text = await chat.send("/nop")
    answered = sum(1 for item in spec.items if item.asked)  # every item applies here
    confirm = say("confirm_submit", done=answered, total=answered, unit=UNIT, year=YEAR)
    assert confirm in text, text
    text = await chat.choose(say("confirm_yes"))
    assert say("submitted", unit=UNIT, year=YEAR) in text, text

    # What was stored, as the person can review it after submitting: the index of sections,
    # then one section at a time.
    text = await chat.send("/xem")
    assert say("review_index", unit=UNIT, year=YEAR, done=answered, total=answered) in text
    text = "\n".join([await chat.send(f"/xem {n}") for n in (1, 3, 5, 6)])
    for code, value in [
        ("1.1", name),
        ("1.2", "25 người"),
        ("3.6", "Có"),
        ("3.6.1", "VPN <IPsec>"),
        ("5.1", "5/10 văn bản"),
        ("5.2", "Chữ ký số công cộng"),
        ("6.2.1.a", "Hoàn chỉnh"),
        ("6.2.1.e", "Đang thử nghiệm"),
    ]:
        assert review_value(text, code) == value, (code, text)
    assert chat.turns >= 25


def review_value(text: str, code: str) -> str | None:
    """The value /xem shows for ``code`` ("CODE label: value")."""
    for line in text.splitlines():
        if line.startswith(f"{code} "):
            return line.split(": ", 1)[1]
    return None

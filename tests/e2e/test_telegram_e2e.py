"""The Telegram channel end to end: the real python-telegram-bot application, in its own
process, long polling the Bot API emulator (npm ``telegram-test-api``, see ``emulator.js``
for the four answers we correct), while the test acts as the person through the emulator's
client API (send a message or command, press an inline button, read the bot's messages).

Not covered here because the emulator does not implement them: sendDocument and
setMyCommands (the bot logs the refused setMyCommands and goes on, which this run exercises).
``tests/test_telegram.py`` covers both with PTB's request layer swapped for a recording one.

The last test runs ``formbot run telegram --webhook-url`` itself and plays Telegram's part
of a webhook (the emulator cannot: it posts updates without the secret header).

``.ci/run`` installs the emulator and sets ``FORMBOT_E2E_NODE_MODULES``; without it the tests
look in ``.cache/e2e/node_modules`` and fail (never skip) when it is not there, so CI cannot
pass without exercising them. (The fixtures shared with the Zalo tests are in ``e2e_common.py``,
not in a ``tests/e2e/conftest.py``: see there.)
"""

from __future__ import annotations

import asyncio
import itertools
import time

import e2e_common
import httpx
import pytest
from bot_process import ProcessDriver
from e2e_common import formbot_webhook, invite_uses_left, stop_formbot, unit_with_invite
from scenario import FORM, YEAR, create_invite, mini_spec, review_value, run_scenario
from telegram_emulator import BotMessage, TelegramBotProcess, TelegramUser

from dialogs.spec import all_forms
from storage import repo
from templates.messages import say

_tokens = itertools.count(1001)
# The fixtures shared with the Zalo tests.
emulator = e2e_common.emulator
bot_database = e2e_common.bot_database


@pytest.fixture
def bot_token() -> str:
    """A fresh token per test: the emulator keeps each bot's messages apart by token."""
    return f"{next(_tokens)}:E2E-{next(_tokens)}"


class TelegramDriver(ProcessDriver):
    """``scenario.Driver`` on Telegram: typed text and commands go to the emulator's
    sendMessage/sendCommand, ``choose`` presses the inline button with that label, and a
    turn is over when the bot process reports it has handled the update."""

    user: TelegramUser
    bot: TelegramBotProcess
    seen: list[BotMessage]  # every message the bot sent to this chat

    async def _unread(self) -> list[BotMessage]:
        return await self.user.unread()

    def _text(self, message: BotMessage) -> str:
        return message.text

    async def choose(self, label: str) -> None:
        for message in reversed(self.seen):
            for row in message.buttons:
                for button_label, data in row:
                    if button_label == label:
                        await self._turn(self.user.press(message, data))
                        return
        raise AssertionError(f"no button {label!r} in the bot's messages")


@pytest.fixture
async def running_bot(emulator, bot_token, bot_database):
    bot = TelegramBotProcess(
        token=bot_token, bot_api=emulator.bot_api, database_url=bot_database.url
    )
    await bot.start()
    yield bot
    assert await bot.stop() == 0, bot.stderr()


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def test_the_scenario_over_telegram(emulator, running_bot, bot_token, bot_database, client):
    code = await create_invite(bot_database, "HV2024")
    user = TelegramUser(client, emulator, bot_token, user_id=5001)
    driver = TelegramDriver(user, running_bot)

    await run_scenario(driver, code)

    # Telegram specifics, read back from what the emulator stored.
    history = await user.history()
    assert all((message.parse_mode or "").upper() == "HTML" for message in history)
    echo = next(m for m in history if m.text.startswith(say("saved", code="1.1", value="")))
    # The typed name was escaped, so Telegram shows it as typed instead of as markup.
    assert "&lt;Thừa Thiên Huế&gt; &amp;" in echo.raw_text
    # The keyboard of each pressed question was edited to show the press.
    question_36 = [m for m in history if "3.6. " in m.text and m.buttons]
    assert any(m.text.endswith(say("telegram_pressed", label="Có")) for m in question_36)


async def test_a_stale_button_is_answered_with_the_current_question(
    emulator, running_bot, bot_token, bot_database, client
):
    code = await create_invite(bot_database, "STALE1")
    user = TelegramUser(client, emulator, bot_token, user_id=5002)
    driver = TelegramDriver(user, running_bot)
    for text in [f"/start {code}", "Xã A", "20", "15", "10", "1", "1", "0", "0"]:
        await driver.send(text)
    question = driver.seen[-1]
    assert "3.6. " in question.text and question.buttons
    # Answered by typing: the buttons of 3.6 stay under the old message ...
    await driver.send("khong")
    assert "3.7.đ. " in driver.seen[-1].text
    await driver.replies()
    # ... and pressing one later changes nothing and says where the person is.
    await user.press(question, "ans:3.6:0")
    await running_bot.turn_done(user.user_id, running_bot.handled[user.user_id] + 1)
    replies = [m.text for m in await user.unread()]
    assert len(replies) == 1
    assert say("stale_button", pressed="3.6", current="3.7.đ") in replies[0]
    assert "3.7.đ. " in replies[0]
    await driver.send("/xem 3")
    review = (await driver.replies())[-1]
    assert review_value(review, "3.6") == "Không"


async def test_multi_choice_toggles_in_place_and_xem_goes_section_by_section(
    emulator, running_bot, bot_token, bot_database, client
):
    """A multi-choice is a set of toggles: each press marks the option ✓ on the same message
    (no new message), "Xong" stores the set. /xem is an index of sections as buttons, then
    one section with labels and values."""
    code = await create_invite(bot_database, "MULTI1")
    user = TelegramUser(client, emulator, bot_token, user_id=5006)
    driver = TelegramDriver(user, running_bot)
    for text in [f"/start {code}", "Xã A", "20", "15", "10", "1", "1", "0", "0", "khong", "12"]:
        await driver.send(text)
    await driver.send("5/10")
    await driver.choose("Chữ ký số công cộng")
    question = driver.seen[-1]
    assert "5.3. " in question.text
    labels = [label for row in question.buttons for label, _data in row]
    assert "Ký trên file" in labels and say("multi_done", count=0) in labels

    async def press(data: str) -> list[BotMessage]:
        before = running_bot.handled[user.user_id]
        await user.press(question, data)
        await running_bot.turn_done(user.user_id, before + 1)
        return await user.unread()

    assert await press("tog:5.3:0") == []  # edited in place, nothing new sent
    assert await press("tog:5.3:1") == []
    edited = next(m for m in await user.history() if m.message_id == question.message_id)
    labels = [label for row in edited.buttons for label, _data in row]
    assert say("option_chosen", label="Ký trên file") in labels
    assert say("option_chosen", label="Ký trên phần mềm") in labels
    assert say("multi_done", count=2) in labels
    saved = "\n".join(m.text for m in await press("done:5.3"))
    assert say("saved", code="5.3", value="Ký trên file; Ký trên phần mềm") in saved, saved
    assert "5.4. " in saved

    await driver.replies()  # what the walk read so far
    await driver.send("/xem")
    (index,) = await driver.replies()
    assert say("review_index", unit="UBND xã Hương Vinh", year=YEAR, done=13, total=16) in index
    await driver.choose(driver.seen[-1].buttons[2][0][0])  # MỤC 5
    (section,) = await driver.replies()
    assert section.startswith("📋 MỤC 5.")
    assert review_value(section, "5.3") == "Ký trên file; Ký trên phần mềm"
    assert review_value(section, "5.1") == "5/10 văn bản"
    assert len(section) <= 1500


async def test_a_second_person_is_served_while_the_first_is_mid_form(
    emulator, running_bot, bot_token, bot_database, client
):
    """Two people of two units in the same bot, interleaved; neither sees the other's form."""
    first = TelegramDriver(TelegramUser(client, emulator, bot_token, 5003), running_bot)
    second = TelegramDriver(TelegramUser(client, emulator, bot_token, 5004), running_bot)
    await create_invite(bot_database, "FIRST1")
    async with bot_database.session() as session, session.begin():
        unit = await repo.get_or_create_unit(session, "UBND xã Hương Chữ", FORM)
        await repo.create_invite(session, code="SECOND", unit_id=unit.id, form_id=FORM, year=YEAR)
    await first.send("/start FIRST1")
    await second.send("/start SECOND")
    await first.send("Xã Hương Vinh")
    await second.send("/tiendo")
    await second.send("Xã Hương Chữ")
    await first.send("30")
    spec = mini_spec()
    first_text, second_text = await first.replies(), await second.replies()
    assert "UBND xã Hương Chữ" not in "".join(first_text)
    assert say("saved", code="1.2", value="30 người") in first_text[-1]
    assert say("saved", code="1.1", value="Xã Hương Chữ") in second_text[-1]
    assert f"1.2. {spec.by_code['1.2'].label}" in second_text[-1]


async def test_an_unknown_invite_code_is_refused(emulator, running_bot, bot_token, client):
    driver = TelegramDriver(TelegramUser(client, emulator, bot_token, 5005), running_bot)
    await driver.send("/start NOSUCH")
    (reply,) = await driver.replies()
    assert say("invite_unknown", code="NOSUCH") in reply
    await driver.send("12")
    (reply,) = await driver.replies()
    assert say("not_bound") in reply


# Webhook -------------------------------------------------------------------------------------

SECRET = "s3cret_webhook-token"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def start_update(update_id: int, user_id: int, code: str) -> dict:
    person = {"id": user_id, "is_bot": False, "first_name": "Lan"}
    text = f"/start {code}"
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Lan"},
            "from": person,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len("/start")}],
        },
    }


async def test_the_webhook_refuses_requests_without_the_secret(
    emulator, bot_token, bot_database
) -> None:
    await unit_with_invite(bot_database, "ONCE", 1)
    process, url = await formbot_webhook(
        "telegram",
        env={
            "DATABASE_URL": bot_database.url,
            "TELEGRAM_BOT_TOKEN": bot_token,
            "TELEGRAM_BASE_URL": emulator.bot_api,
            "WEBHOOK_SECRET": SECRET,
        },
    )
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            # Wait until the webhook server answers (a refused request is an answer).
            for _attempt in range(300):
                try:
                    await client.post(url, json={})
                    break
                except httpx.TransportError:
                    assert process.returncode is None, await process.stderr.read()
                    await asyncio.sleep(0.1)

            forged = start_update(1, 6001, "ONCE")
            missing = await client.post(url, json=forged)
            wrong = await client.post(url, json=forged, headers={HEADER: "guess"})
            assert (missing.status_code, wrong.status_code) == (403, 403)
            # Nothing changed: the one-use invite is still unused.
            assert await invite_uses_left(bot_database, "ONCE") == 1

            genuine = await client.post(
                url, json=start_update(2, 6001, "ONCE"), headers={HEADER: SECRET}
            )
            assert genuine.status_code == 200
            user = TelegramUser(client, emulator, bot_token, 6001)
            replies = []
            for _attempt in range(300):
                replies = await user.unread()
                if replies:
                    break
                await asyncio.sleep(0.1)
            assert replies, "the bot did not answer the genuine update"
            assert all_forms()["xa-phuong"].title in replies[0].text
            assert say("invite_expired", code="ONCE") not in replies[0].text
            assert await invite_uses_left(bot_database, "ONCE") == 0
    finally:
        code, errors = await stop_formbot(process)
    assert code == 0, errors
    assert bot_token.split(":")[1] not in errors  # the token never reaches the log

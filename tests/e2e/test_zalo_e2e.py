"""The Zalo channel end to end: the real channel and service (``bot.zalo``) in their own
process, on a small Zalo Bot Platform server written for the tests (``zalo_server.py``,
in the test's event loop on a free loopback port), while the test acts as the person in the
Zalo app. The shared scenario (``scenario.py``) runs here by long polling and by webhook.

The CLI tests run ``formbot run zalo`` itself (webhook with the secret check, polling) and
``formbot run telegram zalo`` (both channels in one process, against the Telegram Bot API
emulator too, which they fail without, as the Telegram tests do; they never skip).
"""

from __future__ import annotations

import asyncio
import itertools
import re

import e2e_common
import httpx
import pytest
from bot_process import free_port
from e2e_common import (
    formbot,
    formbot_webhook,
    invite_uses_left,
    stop_formbot,
    unit_with_invite,
)
from scenario import UNIT, create_invite, mini_spec, review_value, run_scenario
from telegram_emulator import TelegramUser
from zalo_process import ZaloBotProcess, ZaloDriver
from zalo_server import MAX_TEXT, SECRET_HEADER, ZaloUser

from dialogs.spec import all_forms
from storage import repo
from templates.messages import say

_tokens = itertools.count(2001)
# The shared fixtures: the Telegram Bot API emulator (for `run telegram zalo`), the Zalo server
# with the bot of ``bot_token``, the bot's database.
emulator = e2e_common.emulator
zalo = e2e_common.zalo
bot_database = e2e_common.bot_database
SECRET = "zalo_Webhook-s3cret"
LINK_SECRET = "link-secret-for-the-tests-0123456789"
LINK = re.compile(r"(https?://\S+/documents/[0-9a-f]{64}/\S+)")


@pytest.fixture
def bot_token() -> str:
    return f"{next(_tokens)}:zalo-e2e-{next(_tokens)}"


def link_env(tmp_path, public_url: str) -> dict[str, str]:
    return {
        "FORMBOT_PUBLIC_URL": public_url,
        "FORMBOT_LINK_SECRET": LINK_SECRET,
    }


async def start_bot(zalo, token, database, tmp_path, *, mode="polling", documents="fake"):
    port = free_port()
    extra = ["--port", str(port), "--documents", documents]
    env = link_env(tmp_path, f"http://127.0.0.1:{port}/formbot")
    if mode == "webhook":
        extra += ["--webhook-url", f"http://127.0.0.1:{port}/zalo/hook"]
        env["ZALO_WEBHOOK_SECRET"] = SECRET
    bot = ZaloBotProcess(token=token, server=zalo, database_url=database.url, extra=extra, env=env)
    return await bot.start()


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_the_scenario_over_zalo(mode, zalo, bot_token, bot_database, tmp_path):
    bot = await start_bot(zalo, bot_token, bot_database, tmp_path, mode=mode)
    try:
        code = await create_invite(bot_database, "HV2024")
        user = ZaloUser(zalo, bot_token, "70001", "Nguyễn Thị Lan")
        driver = ZaloDriver(user, bot)

        await run_scenario(driver, code)

        account = zalo.bots[bot_token]
        if mode == "webhook":
            assert ("setWebhook", {"url": account.webhook_url, "secret_token": SECRET}) in (
                account.calls
            )
        else:
            assert any(method == "deleteWebhook" for method, _ in account.calls)
            assert any(method == "getUpdates" for method, _ in account.calls)
        history = [message.text for message in user.history()]
        assert all(len(text) <= MAX_TEXT for text in history)
        # Options came as a numbered menu with the command hint under it.
        question_36 = next(t for t in history if "3.6. " in t and "\n1. Có" in t)
        assert "\n2. Không" in question_36 and say("text_menu_hint") in question_36
        # The typed name is echoed as typed: plain text, nothing escaped.
        assert any("<Thừa Thiên Huế> & “Phòng Văn hoá”" in text for text in history)

        # After the submission, the documents came as signed links that download them.
        submitted = max(
            i for i, t in enumerate(history) if say("submitted", unit=UNIT, year=2024) in t
        )
        links = LINK.findall("\n".join(history[submitted:]))
        assert len(links) == 2, history[submitted:]
        async with httpx.AsyncClient(timeout=10) as http:
            docx = await http.get(links[0])
            assert docx.status_code == 200
            assert docx.content.startswith(b"PK\x03\x04 docx ")
            assert "attachment" in docx.headers["content-disposition"]
            assert links[0].split("?")[0].endswith(".docx")
            pdf = await http.get(links[1])
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-1.4")
            # A link pointed at another file name, or with its expiry moved, is refused.
            renamed = links[0].replace(".docx?", ".pdf?")
            prolonged = re.sub(r"expires=(\d+)", lambda m: f"expires={int(m[1]) + 86400}", links[0])
            assert (await http.get(renamed)).status_code == 403
            assert (await http.get(prolonged)).status_code == 403
    finally:
        assert await bot.stop() == 0, bot.stderr()


async def test_images_stickers_and_other_messages_change_nothing(
    zalo, bot_token, bot_database, tmp_path
):
    bot = await start_bot(zalo, bot_token, bot_database, tmp_path)
    try:
        code = await create_invite(bot_database, "NONTEXT")
        user = ZaloUser(zalo, bot_token, "70002")
        driver = ZaloDriver(user, bot)
        await driver.send(f"/start {code}")
        await driver.replies()
        await driver._turn(user.send_sticker())
        (reply,) = await driver.replies()
        assert reply == say("zalo_text_only")
        # A photo nobody asked evidence for is not downloaded, and the question comes again.
        await driver._turn(user.send_image())
        (reply,) = await driver.replies()
        assert reply.startswith(say("evidence_not_expected_none")) and "1.1" in reply
        # Zalo carries nothing of an "unsupported" message (a protected account's text, some
        # links): the reply does not ask for text the person may be unable to send.
        await driver._turn(user.send_unsupported())
        (reply,) = await driver.replies()
        assert reply == say("zalo_unsupported") and reply != say("zalo_text_only")
        # Still at the first question: the next text answers 1.1.
        await driver.send("Xã Hương Vinh")
        (reply,) = await driver.replies()
        assert say("saved", code="1.1", value="Xã Hương Vinh") in reply
        assert f"1.2. {mini_spec().by_code['1.2'].label}" in reply
    finally:
        assert await bot.stop() == 0, bot.stderr()


async def test_a_long_review_is_split_under_the_limit(zalo, bot_token, bot_database, tmp_path):
    bot = await start_bot(zalo, bot_token, bot_database, tmp_path)
    try:
        code = await create_invite(bot_database, "LONG01")
        user = ZaloUser(zalo, bot_token, "70003")
        driver = ZaloDriver(user, bot)
        name = " ".join(f"Phòng{n:03d}" for n in range(110))[:1000]
        network = " ".join(f"mạng-{n:03d}" for n in range(120))[:1000]
        for text in [f"/start {code}", name, "20", "15", "10", "1", "1", "0", "0", "co", network]:
            await driver.send(text)
        await driver.replies()
        # /xem shows one section at a time, long answers shortened: every message fits a
        # phone screen, far under Zalo's limit.
        review = []
        for section in ("1", "3"):
            await driver.send(f"/xem {section}")
            review += await driver.replies()
        assert all(len(text) <= min(MAX_TEXT, 1500) for text in review), review
        assert review_value(review[0], "1.2") == "20 người"
        assert review_value(review[0], "1.1").startswith(name[:100])
        assert review_value(review[-1], "3.6.1").startswith(network[:100])
    finally:
        assert await bot.stop() == 0, bot.stderr()


async def test_without_a_public_url_documents_are_for_reviewers(
    zalo, bot_token, bot_database, tmp_path
):
    code = await create_invite(bot_database, "NOLINK")
    bot = ZaloBotProcess(
        token=bot_token,
        server=zalo,
        database_url=bot_database.url,
        extra=["--documents", "fake"],
        env={"FORMBOT_PUBLIC_URL": ""},
    )
    await bot.start()
    try:
        user = ZaloUser(zalo, bot_token, "70004")
        driver = ZaloDriver(user, bot)
        answers = [f"/start {code}", "Xã A", "20", "15", "10", "1", "1", "0", "0", "khong", "3"]
        for text in answers + ["5/10", "1", "1", "2", "1", "1", "/nop"]:
            await driver.send(text)
        await driver.choose(say("confirm_yes"))
        text = "\n".join(await driver.replies())
        assert say("submitted", unit=UNIT, year=2024) in text, text
        # One note for both documents (the first submission of a fresh database is number 1).
        note = say("zalo_documents_no_link", names=["phieu-mini-1.docx", "phieu-mini-1.pdf"])
        assert text.endswith(note), text
        assert "/documents/" not in text and "http" not in text
    finally:
        assert await bot.stop() == 0, bot.stderr()


# The CLI ---------------------------------------------------------------------------------------


async def until(check, what: str, seconds: float = 30.0):
    """Poll ``check`` (async, returning a truthy value when done) with a deadline."""

    async def loop():
        while not (result := await check()):
            await asyncio.sleep(0.05)
        return result

    try:
        return await asyncio.wait_for(loop(), seconds)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_the_webhook_refuses_requests_without_the_secret(
    zalo, bot_token, bot_database
) -> None:
    await unit_with_invite(bot_database, "ONCE", 1)
    process, url = await formbot_webhook(
        "zalo",
        env={
            "DATABASE_URL": bot_database.url,
            "ZALO_BOT_TOKEN": bot_token,
            "ZALO_BASE_URL": zalo.base_url,
            "ZALO_WEBHOOK_SECRET": SECRET,
        },
    )
    account = zalo.bots[bot_token]
    try:

        async def webhook_set():
            assert process.returncode is None, (await process.stderr.read()).decode()
            return account.webhook_url == url and account.webhook_secret == SECRET

        await until(webhook_set, "setWebhook")
        user = ZaloUser(zalo, bot_token, "80001", "Lan")
        account.chats.add(user.user_id)  # so a reply to a forged request could be delivered
        forged = user.text_update("/start ONCE")
        async with httpx.AsyncClient(timeout=30) as http:
            missing = await http.post(url, json=forged)
            wrong = await http.post(url, json=forged, headers={SECRET_HEADER: SECRET + "x"})
            near = await http.post(url, json=forged, headers={SECRET_HEADER: SECRET[:-1]})
        assert (missing.status_code, wrong.status_code, near.status_code) == (403, 403, 403)
        # Nothing was processed: the one-use invite is unused and nobody was answered.
        assert await invite_uses_left(bot_database, "ONCE") == 1
        assert account.sent == []

        # Zalo's own request, with the secret, is handled before it is answered.
        genuine = user.text_update("/start ONCE")
        assert await user.send_update(genuine) == 200
        (reply,) = user.unread()
        assert all_forms()["xa-phuong"].title in reply.text
        assert await invite_uses_left(bot_database, "ONCE") == 0
        # The same update delivered again (Zalo retrying) is recognised and not answered.
        assert await user.send_update(genuine) == 200
        assert user.unread() == []
    finally:
        code, errors = await stop_formbot(process)
    assert code == 0, errors
    assert bot_token not in errors and bot_token.split(":")[1] not in errors
    assert SECRET not in errors


async def test_run_zalo_polls_and_refuses_a_bad_setup(zalo, bot_token, bot_database):
    env = {"DATABASE_URL": bot_database.url, "ZALO_BASE_URL": zalo.base_url}
    # No token; a webhook without a secret; a public URL without a link secret.
    for argv, extra in [
        (["run", "zalo"], {"ZALO_BOT_TOKEN": ""}),
        (["run", "zalo", "--webhook-url", "https://example.org/h"], {"ZALO_BOT_TOKEN": "1:x"}),
        (["run", "zalo"], {"ZALO_BOT_TOKEN": "1:x", "FORMBOT_PUBLIC_URL": "https://e.org"}),
        (["run", "telegram", "viber"], {"TELEGRAM_BOT_TOKEN": "1:x"}),
    ]:
        process = await formbot(
            *argv, env={**env, "WEBHOOK_SECRET": "", "ZALO_WEBHOOK_SECRET": "", **extra}
        )
        code, errors = await stop_formbot(process, signal_it=False)
        assert code == 2, (argv, errors)
        assert errors.strip(), argv
    # A token the API refuses: exit status 1 with the API's answer.
    process = await formbot("run", "zalo", env={**env, "ZALO_BOT_TOKEN": "999:unknown"})
    code, errors = await stop_formbot(process, signal_it=False)
    assert code == 1 and "401" in errors, errors
    assert "999:unknown" not in errors

    await unit_with_invite(bot_database, "POLL", 1)
    process = await formbot("run", "zalo", env={**env, "ZALO_BOT_TOKEN": bot_token})
    try:
        user = ZaloUser(zalo, bot_token, "80002")
        await user.send("/start POLL")

        async def answered():
            assert process.returncode is None, (await process.stderr.read()).decode()
            return user.unread()

        (reply,) = await until(answered, "the answer to /start")
        assert all_forms()["xa-phuong"].title in reply.text
    finally:
        code, errors = await stop_formbot(process)
    assert code == 0, errors
    assert bot_token.split(":")[1] not in errors


async def test_telegram_and_zalo_in_one_process_fill_the_same_submission(
    emulator, zalo, bot_token, bot_database
):
    """One unit, two people: one on Zalo, one on Telegram, both served by `formbot run
    telegram zalo`; each goes on where the other stopped, in the one submission."""
    await unit_with_invite(bot_database, "BOTH", 2, form="xa-phuong")
    label = {item.code: item.label for item in all_forms()["xa-phuong"].items}
    telegram_token = f"{next(_tokens)}:TG-{next(_tokens)}"
    process = await formbot(
        "run",
        "telegram",
        "zalo",
        env={
            "DATABASE_URL": bot_database.url,
            "TELEGRAM_BOT_TOKEN": telegram_token,
            "TELEGRAM_BASE_URL": emulator.bot_api,
            "ZALO_BOT_TOKEN": bot_token,
            "ZALO_BASE_URL": zalo.base_url,
        },
    )
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            on_zalo = ZaloUser(zalo, bot_token, "90001")
            on_telegram = TelegramUser(http, emulator, telegram_token, 90002)

            async def alive():
                assert process.returncode is None, (await process.stderr.read()).decode()
                return True

            async def on_zalo_says():
                await alive()
                return "\n".join(m.text for m in on_zalo.unread())

            async def on_telegram_says():
                await alive()
                return "\n".join(m.text for m in await on_telegram.unread())

            # The year and the unit's name are known: the first question is the address.
            await on_zalo.send("/start BOTH")
            assert f"1.3. {label['1.3']}" in await until(on_zalo_says, "Zalo's greeting")
            await on_zalo.send("Thôn 3")
            assert f"1.4. {label['1.4']}" in await until(on_zalo_says, "Zalo's 1.4")

            await on_telegram.send("/start BOTH")
            text = await until(on_telegram_says, "Telegram's greeting")
            assert f"1.4. {label['1.4']}" in text  # 1.3 was answered on Zalo
            await on_telegram.send("0234.3551.234")
            text = await until(on_telegram_says, "Telegram's 1.5")
            assert say("saved", code="1.4", value="0234 3551 234") in text

            await on_zalo.send("/tieptuc")
            assert f"1.5. {label['1.5']}" in await until(on_zalo_says, "Zalo's /tieptuc")
            await on_zalo.send("/xem 1")
            text = await until(on_zalo_says, "Zalo's /xem")
            assert review_value(text, "1.4") == "0234 3551 234"
            assert review_value(text, "1.2") == UNIT
    finally:
        code, errors = await stop_formbot(process)
    assert code == 0, errors
    assert bot_token.split(":")[1] not in errors
    assert telegram_token.split(":")[1] not in errors
    async with bot_database.session() as session:
        zalo_person = await repo.get_respondent(session, "zalo", "90001")
        telegram_person = await repo.get_respondent(session, "telegram", "90002")
    assert zalo_person.submission_id == telegram_person.submission_id

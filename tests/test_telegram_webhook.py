"""Telegram's webhook on the bot's own web server (``bot.web.hooks``): a request without the
secret is refused and changes nothing; an update is acknowledged only after its turn is
committed; a turn that failed is answered 500 so Telegram delivers it again."""

from __future__ import annotations

import httpx
import pytest
from test_telegram import TOKEN, RecordingBotApi, StubEngine, invite, text_update

from bot import telegram as channel
from bot.web import WebServer, telegram_webhook, web_app
from dialogs import Engine
from storage import repo
from templates.messages import say

SECRET = "webhook_secret-1"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Webhook:
    """The application's webhook route on a real server on a free loopback port."""

    def __init__(self, engine, api: RecordingBotApi | None = None) -> None:
        self.api = api or RecordingBotApi()
        self.app = channel.build_application(engine, TOKEN, request=self.api, retry_delays=(0,))
        route = telegram_webhook("/tg/hook", SECRET, channel.webhook_processor(self.app))
        self.server = WebServer(web_app([route]), listen="127.0.0.1", port=0)

    async def __aenter__(self) -> Webhook:
        await self.app.initialize()
        await self.server.start()
        self.url = f"http://127.0.0.1:{self.server.port}/tg/hook"
        self.http = httpx.AsyncClient(timeout=30)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.aclose()
        await self.server.stop()
        await self.app.shutdown()

    async def post(self, user_id: int, text: str, secret: str | None = SECRET) -> int:
        update = text_update(self.app.bot, user_id, text).to_dict()
        headers = {HEADER: secret} if secret is not None else {}
        return (await self.http.post(self.url, json=update, headers=headers)).status_code


async def bound_submission(engine: Engine, user: str):
    async with engine.db.session() as session:
        respondent = await repo.get_respondent(session, "telegram", user)
        if respondent is None or respondent.submission_id is None:
            return None
        return {
            row.code: row.value
            for row in await repo.load_answers(session, respondent.submission_id)
        }


async def test_without_the_right_secret_nothing_is_read(engine):
    code = await invite(engine, "HOOK1")
    async with Webhook(engine) as hook:
        assert await hook.post(40, f"/start {code}", secret=None) == 403
        assert await hook.post(40, f"/start {code}", secret="guess") == 403
        assert await hook.post(40, f"/start {code}", secret=SECRET[:-1]) == 403
        assert hook.api.sent() == []
        assert await bound_submission(engine, "40") is None
        # Only a POST is a webhook call.
        assert (await hook.http.get(hook.url, headers={HEADER: SECRET})).status_code == 405


async def test_the_answer_is_stored_when_the_update_is_acknowledged(engine):
    async with Webhook(engine) as hook:
        assert await hook.post(41, f"/start {await invite(engine, 'HOOK2')}") == 200
        assert await hook.post(41, "Xã Hương Vinh") == 200
        # Read right after the 200, from another connection: the turn was committed.
        assert await bound_submission(engine, "41") == {"1.1": "Xã Hương Vinh"}
        assert say("saved", code="1.1", value="Xã Hương Vinh") in hook.api.texts(41)[-1]


async def test_a_failed_turn_is_answered_500_and_the_person_told(caplog):
    engine = StubEngine()
    async with Webhook(engine) as hook:
        assert await hook.post(42, "ask") == 200
        assert await hook.post(42, "boom") == 500  # nothing stored: deliver it again
        assert await hook.post(42, "again") == 200
        assert hook.api.texts(42) == [
            "ok ask",
            say("telegram_handler_error", current="1.1"),
            "ok again",
        ]


async def test_a_failed_send_after_a_stored_turn_is_still_acknowledged():
    """The turn was committed: asking for the update again would change nothing."""
    api = RecordingBotApi()
    async with Webhook(StubEngine(), api) as hook:
        api.failures = [400]  # the reply is refused; the apology goes through
        assert await hook.post(43, "hi") == 200
        # The refused reply (recorded as attempted), then the apology.
        assert api.texts(43) == ["ok hi", say("telegram_handler_error", current=None)]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]"])
async def test_a_body_that_is_not_an_update_is_a_bad_request(engine, body):
    async with Webhook(engine) as hook:
        response = await hook.http.post(hook.url, content=body, headers={HEADER: SECRET})
    assert response.status_code == 400

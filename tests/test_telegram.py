"""The Telegram channel in-process, with python-telegram-bot's request layer swapped for a
recording fake Bot API (``RecordingBotApi``). This covers what the emulator used by
``tests/e2e`` does not implement (sendDocument, setMyCommands) and what it cannot show
(answered callback queries, removed keyboards, failures and retries)."""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import logging
import time
from dataclasses import dataclass, field

import pytest
from telegram import Update
from telegram.error import BadRequest, NetworkError
from telegram.request import BaseRequest, RequestData

from bot import telegram as channel
from bot.cli import main
from bot.splitting import utf16_len
from bot.telegram_render import MAX_MESSAGE, split_text
from dialogs import Engine
from dialogs.commands import COMMANDS
from dialogs.filling import fill_answers
from dialogs.messages import Document, Inbound, Option, Outbound
from dialogs.payloads import KeepPrevious, PickOption, decode, encode
from dialogs.spec import all_forms
from storage import repo
from templates.messages import say

TOKEN = "4242:TEST"
_ids = itertools.count(1)


@dataclass
class Call:
    endpoint: str
    params: dict
    files: dict = field(default_factory=dict)


class RecordingBotApi(BaseRequest):
    """Answers like the Bot API and records every call. ``refuse`` maps an endpoint to the
    HTTP status it fails with; ``failures`` is a list of statuses the next calls of any
    endpoint fail with before they succeed again (transient errors)."""

    def __init__(self, refuse: dict[str, int] | None = None) -> None:
        self.calls: list[Call] = []
        self.refuse = refuse or {}
        self.failures: list[int] = []
        self._message_ids = itertools.count(100)
        self.changed = asyncio.Event()

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **_timeouts
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files = {}
        if request_data is not None and request_data.contains_files:
            files = {name: value for name, value in request_data.multipart_data.items()}
        self.calls.append(Call(endpoint, params, files))
        self.changed.set()
        status = self.refuse.get(endpoint) or (self.failures.pop(0) if self.failures else 200)
        if status != 200:
            body = {"ok": False, "error_code": status, "description": f"refused ({status})"}
            return status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self._result(endpoint, params)}).encode()

    def _result(self, endpoint: str, params: dict):
        if endpoint == "getMe":
            return {"id": 4242, "is_bot": True, "first_name": "formbot", "username": "formbot_bot"}
        if endpoint == "getUpdates":
            return []
        if endpoint in ("sendMessage", "sendDocument"):
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
            }
            if endpoint == "sendMessage":
                message["text"] = params["text"]
            else:
                message["document"] = {"file_id": "f", "file_unique_id": "u"}
            return message
        return True

    def sent(self, endpoint: str = "sendMessage", chat_id: int | None = None) -> list[Call]:
        return [
            call
            for call in self.calls
            if call.endpoint == endpoint
            and (chat_id is None or int(call.params.get("chat_id", 0)) == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """What the person reads (the bot sends escaped text and no tags)."""
        return [html.unescape(call.params["text"]) for call in self.sent("sendMessage", chat_id)]


def text_update(bot, user_id: int, text: str, chat_type: str = "private") -> Update:
    number = next(_ids)
    person = {"id": user_id, "is_bot": False, "first_name": "Lan"}
    chat_id = user_id if chat_type == "private" else -user_id
    message = {
        "message_id": number,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": chat_type},
        "from": person,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return Update.de_json({"update_id": number, "message": message}, bot)


def press_update(bot, user_id: int, sent: Call, data: str) -> Update:
    """A press of the button carrying ``data`` under the message recorded as ``sent``."""
    number = next(_ids)
    person = {"id": user_id, "is_bot": False, "first_name": "Lan"}
    message = {
        "message_id": 100 + number,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private"},
        "text": sent.params["text"],
        "reply_markup": sent.params.get("reply_markup"),
    }
    query = {
        "id": f"q{number}",
        "from": person,
        "chat_instance": str(user_id),
        "message": message,
        "data": data,
    }
    return Update.de_json({"update_id": number, "callback_query": query}, bot)


def photo_update(bot, user_id: int) -> Update:
    number = next(_ids)
    message = {
        "message_id": number,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Lan"},
        "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
    }
    return Update.de_json({"update_id": number, "message": message}, bot)


class Harness:
    """The application with the recording API; ``say``/``press`` process one update."""

    def __init__(self, engine, api: RecordingBotApi | None = None) -> None:
        self.api = api or RecordingBotApi()
        self.app = channel.build_application(
            engine, TOKEN, request=self.api, get_updates_request=self.api, retry_delays=(0, 0)
        )

    async def __aenter__(self) -> Harness:
        await self.app.initialize()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.app.shutdown()

    async def send(self, user_id: int, text: str, chat_type: str = "private") -> None:
        await self.app.process_update(text_update(self.app.bot, user_id, text, chat_type))

    async def press(self, user_id: int, label: str) -> Call:
        """Press the button labelled ``label`` under the latest message that has it."""
        for call in reversed(self.api.sent("sendMessage", user_id)):
            for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label:
                        update = press_update(self.app.bot, user_id, call, button["callback_data"])
                        await self.app.process_update(update)
                        return call
        raise AssertionError(f"no button {label!r}")


async def invite(engine: Engine, code: str, unit: str = "UBND xã Hương Vinh") -> str:
    async with engine.db.session() as session, session.begin():
        unit_row = await repo.get_or_create_unit(session, unit, "mini")
        await repo.create_invite(session, code=code, unit_id=unit_row.id, form_id="mini", year=2024)
    return code


def keyboard_of(call: Call) -> list[list[tuple[str, str]]]:
    markup = call.params.get("reply_markup") or {}
    return [
        [(button["text"], button["callback_data"]) for button in row]
        for row in markup.get("inline_keyboard", [])
    ]


async def walk_to_3_6(harness: Harness, user_id: int, code: str) -> None:
    for text in [f"/start {code}", "Xã A", "20", "15", "10", "1", "1", "0", "0"]:
        await harness.send(user_id, text)


# Rendering -------------------------------------------------------------------------------------


def test_long_text_is_split_under_the_limit_at_line_breaks():
    lines = [f"{n:04d} " + "Tổng số máy tính có kết nối Internet 😀" * 3 for n in range(400)]
    text = "\n".join(lines)
    chunks = split_text(text)
    assert len(chunks) > 1
    assert all(utf16_len(chunk) <= MAX_MESSAGE for chunk in chunks)
    # Cut at line breaks: nothing lost, nothing reordered, no line broken in two.
    assert "\n".join(chunks).split("\n") == lines


def test_text_without_spaces_is_cut_hard_and_nothing_is_lost():
    text = "😀" * 5000  # 10,000 UTF-16 units
    chunks = split_text(text)
    assert all(utf16_len(chunk) <= MAX_MESSAGE for chunk in chunks)
    assert "".join(chunks) == text


def test_every_button_payload_of_the_built_in_forms_fits_telegrams_64_bytes():
    for spec in all_forms().values():
        for item in spec.items:
            last = max(len(item.choices()) - 1, 0)
            for payload in (KeepPrevious(item.code), PickOption(item.code, last)):
                assert decode(encode(payload)) == payload, (spec.id, payload)


# Conversation ----------------------------------------------------------------------------------


async def test_typed_text_is_escaped_when_echoed(engine):
    async with Harness(engine) as harness:
        await harness.send(7, f"/start {await invite(engine, 'ESC1')}")
        await harness.send(7, "<b>Xã A</b> & <i>B</i>")
        call = harness.api.sent("sendMessage", 7)[-1]
    assert call.params["parse_mode"] == "HTML"
    assert "&lt;b&gt;Xã A&lt;/b&gt; &amp; &lt;i&gt;B&lt;/i&gt;" in call.params["text"]
    assert "<b>" not in call.params["text"]


async def test_options_become_buttons_with_a_navigation_row(engine):
    async with Harness(engine) as harness:
        await walk_to_3_6(harness, 8, await invite(engine, "KB1"))
        question = harness.api.sent("sendMessage", 8)[-1]
    assert keyboard_of(question) == [
        [("Có", "ans:3.6:0"), ("Không", "ans:3.6:1")],
        [(say("nav_back"), "cmd:quaylai"), (say("nav_progress"), "cmd:tiendo")],
    ]


async def test_a_press_is_answered_and_the_keyboard_shows_the_choice(engine):
    async with Harness(engine) as harness:
        await walk_to_3_6(harness, 9, await invite(engine, "PRESS1"))
        question = await harness.press(9, "Có")
        calls = harness.api.calls
    endpoints = [call.endpoint for call in calls]
    answered = endpoints.index("answerCallbackQuery")
    edit = calls[endpoints.index("editMessageText")]
    assert answered < endpoints.index("editMessageText") < len(endpoints) - 1
    assert edit.params["text"].endswith(say("telegram_pressed", label="Có"))
    assert edit.params["text"].startswith(question.params["text"])
    assert "reply_markup" not in edit.params  # the keyboard is gone
    assert say("saved", code="3.6", value="Có") in calls[-1].params["text"]


async def test_a_press_that_stored_nothing_is_not_shown_as_chosen(engine):
    """A second press on an answered question's old keyboard: the keyboard goes, but no
    "👉 Không" is written under it, since "Không" was not stored."""
    async with Harness(engine) as harness:
        await walk_to_3_6(harness, 13, await invite(engine, "STALE1"))
        question = await harness.press(13, "Có")
        before = len(harness.api.calls)
        stale = press_update(harness.app.bot, 13, question, "ans:3.6:1")
        await harness.app.process_update(stale)
        calls = harness.api.calls[before:]
    endpoints = [call.endpoint for call in calls]
    assert "answerCallbackQuery" in endpoints
    assert "editMessageText" not in endpoints
    assert "editMessageReplyMarkup" in endpoints
    notice = say("stale_button", pressed="3.6", current="3.6.1")
    assert notice in calls[-1].params["text"]


async def test_progress_keeps_the_question_keyboard(engine):
    async with Harness(engine) as harness:
        await walk_to_3_6(harness, 10, await invite(engine, "PROG1"))
        await harness.press(10, say("nav_progress"))
        endpoints = [call.endpoint for call in harness.api.calls]
    assert "answerCallbackQuery" in endpoints
    assert "editMessageText" not in endpoints and "editMessageReplyMarkup" not in endpoints
    progress, question = harness.api.texts(10)[-2:]
    assert "📊" in progress and "❓ 3.6." in question


async def test_a_photo_from_a_stranger_is_not_fetched_and_group_chats_are_ignored(engine):
    async with Harness(engine) as harness:
        await harness.app.process_update(photo_update(harness.app.bot, 11))
        await harness.send(12, "/start NOSUCH", chat_type="group")
    assert harness.api.texts(11) == [say("not_bound")]
    assert not harness.api.sent("getFile")
    assert harness.api.sent("sendMessage", -12) == []


async def test_documents_are_sent_after_the_submission(database, mini_spec):
    rendered: list[int] = []

    async def render(submission_id: int) -> list[Document]:
        rendered.append(submission_id)
        return [
            Document("phieu.docx", b"DOCX bytes", "application/vnd.openxmlformats"),
            Document("phieu.pdf", b"%PDF-1.7 bytes", "application/pdf"),
        ]

    engine = Engine(database, {"mini": mini_spec}, render_documents=render)
    answers = {
        "1.1": "Xã A",
        "1.2": "20",
        "3.1": "15",
        "3.2.a": "10",
        "3.2.b.1": "1",
        "3.2.b.2": "1",
        "3.2.b.3": "0",
        "3.2.b.4": "0",
        "3.6": "khong",
        "3.7.đ": "10",
        "5.1": "5/10",
        "5.2": "1",
        "5.4": "3",
        "6.2.1.a": "1",
        "6.2.1.e": "2",
    }
    results = await fill_answers(
        engine.db,
        engine.forms,
        unit_name="UBND xã Hương Vinh",
        form_id="mini",
        year=2024,
        answers=answers,
    )
    assert all(accepted for _code, accepted, _detail in results), results
    async with Harness(engine) as harness:
        await harness.send(13, f"/start {await invite(engine, 'DOC1')}")
        await harness.send(13, "/nop")
        await harness.press(13, say("confirm_yes"))
        documents = harness.api.sent("sendDocument", 13)
    assert len(rendered) == 1
    assert [call.files["document"][0] for call in documents] == ["phieu.docx", "phieu.pdf"]
    assert [call.files["document"][1] for call in documents] == [b"DOCX bytes", b"%PDF-1.7 bytes"]
    assert say("submitted", unit="UBND xã Hương Vinh", year=2024) in harness.api.texts(13)[-1]


# Commands menu ---------------------------------------------------------------------------------


async def test_commands_are_registered_with_vietnamese_descriptions(engine):
    async with Harness(engine) as harness:
        await harness.app.post_init(harness.app)
    (call,) = harness.api.sent("setMyCommands")
    commands = call.params["commands"]
    names = [c["command"] for c in commands]
    assert names == ["tieptuc", "quaylai", "boqua", "sua", "xem", "tiendo"] + [
        "bangchung",
        "nop",
        "huy",
        "trogiup",
    ]
    assert all(c["command"] in [command.name for command in COMMANDS] for c in commands)
    assert commands[0]["description"] == "Tiếp tục từ câu chưa trả lời đầu tiên"


async def test_a_refused_set_my_commands_is_logged_and_start_up_goes_on(engine, caplog):
    api = RecordingBotApi(refuse={"setMyCommands": 500})
    async with Harness(engine, api) as harness:
        with caplog.at_level(logging.WARNING, logger="bot.telegram"):
            await harness.app.post_init(harness.app)
        await harness.send(14, "/start NOSUCH")
    assert len(api.sent("setMyCommands")) == 1  # refused once, not retried
    assert "setMyCommands was refused" in caplog.text
    (reply,) = api.texts(14)
    assert say("invite_unknown", code="NOSUCH") in reply


# Failures --------------------------------------------------------------------------------------


class StubEngine:
    """Stands in for the engine where a test needs it to fail or to wait."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.gate = asyncio.Event()
        self.handled: dict[str, asyncio.Event] = {}
        self.asked: dict[str, str] = {}  # user → item last asked, as the database keeps it

    async def position(self, channel: str, user: str) -> str | None:
        return self.asked.get(user)

    def done(self, text: str) -> asyncio.Event:
        return self.handled.setdefault(text, asyncio.Event())

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        what = inbound.text or (encode(inbound.payload) if inbound.payload else "")
        self.seen.append((inbound.user, what))
        if what == "boom" or what == "ans:9.9:0":
            raise RuntimeError("the engine broke")
        if what == "slow":
            await self.gate.wait()
        self.done(what).set()
        if what == "long":
            option = Option("Có", PickOption("1.1", 0), "1")
            self.asked[inbound.user] = "1.1"
            return [Outbound("dòng văn bản dài\n" * 600, options=(option,), asks="1.1")]
        if what == "ask":
            self.asked[inbound.user] = "1.1"
        return [Outbound(f"ok {what}", asks="1.1" if what == "ask" else None)]


async def test_an_engine_failure_is_logged_the_person_told_and_others_still_served(caplog):
    engine = StubEngine()
    async with Harness(engine) as harness:
        await harness.send(20, "ask")
        with caplog.at_level(logging.ERROR, logger="bot.telegram"):
            await harness.send(20, "boom")
        await harness.send(21, "hello")
        await harness.send(20, "again")
    assert harness.api.texts(20) == [
        "ok ask",
        say("telegram_handler_error", current="1.1"),
        "ok again",
    ]
    assert harness.api.texts(21) == ["ok hello"]
    assert "the engine failed" in caplog.text


async def test_a_press_is_answered_even_when_the_engine_fails():
    engine = StubEngine()
    async with Harness(engine) as harness:
        sent = Call("sendMessage", {"text": "câu 9.9", "reply_markup": None})
        await harness.app.process_update(press_update(harness.app.bot, 22, sent, "ans:9.9:0"))
        endpoints = [call.endpoint for call in harness.api.calls if call.endpoint != "getMe"]
    assert endpoints == ["answerCallbackQuery", "sendMessage"]
    assert harness.api.texts(22) == [say("telegram_handler_error", current=None)]


async def test_a_long_reply_is_split_and_the_keyboard_goes_under_the_last_part():
    async with Harness(StubEngine()) as harness:
        await harness.send(23, "long")
        parts = harness.api.sent("sendMessage", 23)
    assert len(parts) > 1
    assert all(utf16_len(part.params["text"]) <= MAX_MESSAGE for part in parts)
    assert [bool(part.params.get("reply_markup")) for part in parts] == [False] * (
        len(parts) - 1
    ) + [True]


async def test_transient_failures_are_retried_and_bad_requests_are_not():
    api = RecordingBotApi()
    async with Harness(StubEngine(), api) as harness:
        api.failures = [502, 500]  # Bad Gateway, then Internal Server Error, then fine
        await harness.send(24, "hi")
        assert [c.endpoint for c in api.calls[-3:]] == ["sendMessage"] * 3
        assert api.texts(24)[-1] == "ok hi"
        api.calls.clear()
        api.failures = [400]
        with pytest.raises(BadRequest):
            await harness.app.bot.send_message(24, "x")
        assert len(api.calls) == 1
        # A sender with its own retry bookkeeping can ask for no repeats.
        api.calls.clear()
        api.failures = [502]
        with pytest.raises(NetworkError):
            await harness.app.bot.send_message(
                24, "x", rate_limit_args=channel.RetryingRateLimiter.NO_REPEAT
            )
        assert len(api.calls) == 1


async def test_one_chat_waits_for_its_own_turns_while_other_chats_go_on():
    """Updates of a chat are handled in order; a slow turn holds up only its own chat."""
    engine = StubEngine()
    async with Harness(engine) as harness:
        await harness.app.start()
        try:
            for user_id, text in [(30, "slow"), (30, "after"), (31, "other")]:
                await harness.app.update_queue.put(text_update(harness.app.bot, user_id, text))
            await asyncio.wait_for(engine.done("other").wait(), 10)
            # Chat 31 was served while chat 30's first turn is still running, and chat 30's
            # second message waits for it instead of overtaking it.
            assert ("30", "after") not in engine.seen
            engine.gate.set()
            await asyncio.wait_for(engine.done("after").wait(), 10)
        finally:
            await harness.app.stop()
    assert [what for user, what in engine.seen if user == "30"] == ["slow", "after"]


# Command line ----------------------------------------------------------------------------------


def test_run_telegram_without_a_token_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["run", "telegram"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "TELEGRAM_BOT_TOKEN" in err


@pytest.mark.parametrize("channel", ["telegram", "zalo"])
def test_a_bare_admin_id_is_refused_at_start(monkeypatch, capsys, channel):
    """Telegram user 555 and Zalo user 555 are different people: say which one."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1:z")
    monkeypatch.setenv("FORMBOT_ADMINS", "telegram:1, 555")
    assert main(["run", channel]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "FORMBOT_ADMINS" in err and "telegram:555 or zalo:555" in err


@pytest.mark.parametrize("secret", [None, "", "has spaces", "x" * 257])
def test_a_webhook_needs_a_valid_secret(monkeypatch, capsys, secret):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    if secret is None:
        monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    else:
        monkeypatch.setenv("WEBHOOK_SECRET", secret)
    assert main(["run", "telegram", "--webhook-url", "https://bot.example.org/tg"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "WEBHOOK_SECRET" in err


def test_both_channels_share_one_web_server(monkeypatch, capsys):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_SECRET", "a_secret_of_16_chars")
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1:z")
    argv = ["run", "telegram", "zalo", "--webhook-url", "https://bot.example.org/tg"]
    assert main([*argv, "--port", "8443", "--zalo-port", "8080"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "one web server" in err
    assert main(["run", "telegram", "--zalo-port", "8080"]) == 2
    assert "need `zalo`" in capsys.readouterr().err

"""Helpers for the operations tests (no tests here): units, campaigns, invites, people who
joined through an invite, a fake Bot API behind PTB's request layer, a recording sender."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict
from datetime import date, datetime

from chatting import Chat, answer_all
from sqlalchemy import select
from telegram.request import BaseRequest

from bot.outbox import SENT, SendResult
from dialogs.access import new_code
from storage import outbox as queue
from storage import repo
from storage.models import OutboxMessage, Respondent, Submission


async def add_unit(database, name: str, form: str = "mini"):
    async with database.session() as session, session.begin():
        unit, _ = await repo.upsert_unit(session, name, form)
        return unit


async def open_campaign(database, form="mini", year=2020, deadline=date(2020, 12, 15), days=None):
    async with database.session() as session, session.begin():
        campaign, _ = await repo.open_campaign(
            session,
            campaign_id=f"{form}-{year}",
            form_id=form,
            year=year,
            deadline=deadline,
            reminder_days=days if days is not None else [7, 3, 1, 0],
        )
        return campaign


async def make_invite(
    database,
    unit,
    *,
    role: str = "respondent",
    uses: int | None = None,
    expires_at: datetime | None = None,
    form: str = "mini",
    year: int = 2020,
) -> str:
    code = new_code()
    async with database.session() as session, session.begin():
        await repo.create_invite(
            session,
            code=code,
            unit_id=unit.id,
            form_id=form,
            year=year,
            role=role,
            uses_left=uses,
            expires_at=expires_at,
        )
    return code


async def join(engine, user: str, code: str, channel: str = "telegram") -> Chat:
    chat = Chat(engine, user=user, channel=channel)
    await chat.say(f"/start {code}")
    return chat


async def fill_and_submit(chat: Chat) -> str:
    """Answer the mini form in the order the bot asks, then submit."""
    await answer_all(chat)
    await chat.say("/nop")
    return await chat.press("confirm:yes")


async def respondent(database, user: str, channel: str = "telegram") -> Respondent | None:
    async with database.session() as session:
        return await repo.get_respondent(session, channel, user)


async def submission(database, unit) -> Submission | None:
    async with database.session() as session:
        stmt = select(Submission).where(Submission.unit_id == unit.id)
        return (await session.execute(stmt)).scalar_one_or_none()


async def outbox(database) -> list[OutboxMessage]:
    async with database.session() as session:
        return await queue.outbox_messages(session)


class RecordingSender:
    """A sender that records what it delivers; ``script`` gives per-chat outcomes to return
    (in order) before delivering normally."""

    channel = "telegram"

    def __init__(self, *, max_rate: float = 1000.0, per_chat_interval: float = 0.0) -> None:
        self.max_rate = max_rate
        self.per_chat_interval = per_chat_interval
        self.delivered: list[tuple[str, str]] = []
        self.calls = 0
        self.script: dict[str, list[SendResult]] = defaultdict(list)
        self.hook = None  # async callable(external_id, text), run after a delivery

    async def send(self, external_id: str, text: str) -> SendResult:
        self.calls += 1
        if self.script[external_id]:
            return self.script[external_id].pop(0)
        self.delivered.append((external_id, text))
        if self.hook is not None:
            await self.hook(external_id, text)
        return SendResult(SENT)


class FakeBotApi(BaseRequest):
    """The Bot API as PTB's request layer sees it: ``getMe`` and ``sendMessage``; ``script``
    maps a chat id to the (status, description, retry_after) answers it gets before a send
    goes through."""

    def __init__(self) -> None:
        self.script: dict[int, list[tuple[int, str, int | None]]] = defaultdict(list)
        self.delivered: list[tuple[int, str]] = []
        self.calls: list[tuple[str, int | None]] = []
        self._ids = itertools.count(1)

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url, method, request_data=None, **_timeouts):
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data is not None else {}
        await asyncio.sleep(0)
        if endpoint == "getMe":
            me = {"id": 1, "is_bot": True, "first_name": "formbot", "username": "formbot_bot"}
            return 200, json.dumps({"ok": True, "result": me}).encode()
        if endpoint != "sendMessage":
            return 200, json.dumps({"ok": True, "result": True}).encode()
        chat = int(params["chat_id"])
        self.calls.append((endpoint, chat))
        if self.script[chat]:
            status, description, retry_after = self.script[chat].pop(0)
            body: dict = {"ok": False, "error_code": status, "description": description}
            if retry_after is not None:
                body["parameters"] = {"retry_after": retry_after}
            return status, json.dumps(body).encode()
        self.delivered.append((chat, params["text"]))
        message = {
            "message_id": next(self._ids),
            "date": 1_600_000_000,
            "chat": {"id": chat, "type": "private"},
            "text": params["text"],
        }
        return 200, json.dumps({"ok": True, "result": message}).encode()

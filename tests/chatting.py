"""Talking to the engine in tests: a ``Chat`` is one person on the console channel."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from dialogs import Engine
from dialogs.messages import Attachment, Inbound, Outbound
from dialogs.payloads import decode
from dialogs.snapshot import load_snapshot
from storage import repo
from storage.models import Submission

_ids = itertools.count(1)

# The mini form (tests/fixtures/mini.yaml) answered in the order the bot asks: (code, typed).
MINI_ANSWERS = [
    ("1.1", "Sở Thông tin và Truyền thông"),
    ("1.2", "10"),
    ("3.1", "10"),
    ("3.2.a", "8"),
    ("3.2.b.1", "10"),
    ("3.2.b.2", "20"),
    ("3.2.b.3", "8"),
    ("3.2.b.4", "2"),
    ("3.6", "có"),
    ("3.6.1", "Mạng truyền số liệu chuyên dùng"),
    ("3.7.đ", "8"),
    ("5.1", "12/30"),
    ("5.2", "2"),
    ("5.3", "1, 2"),
    ("5.4", "50 tr.đ"),
    ("6.2.1.a", "dang thu nghiem"),
    ("6.2.1.e", "1"),
]


class Chat:
    """One person talking to the engine over the console channel."""

    def __init__(self, engine: Engine, user: str = "u1", channel: str = "console") -> None:
        self.engine = engine
        self.user = user
        self.channel = channel
        self.last: list[Outbound] = []

    async def start(self, unit: str = "Sở Thử nghiệm", year: int = 2020, form: str = "mini"):
        self.last = await self.engine.bind(
            self.channel, self.user, unit_name=unit, form_id=form, year=year
        )
        return self.text

    async def say(self, text: str, message_id: str | None = None) -> str:
        inbound = Inbound(self.channel, self.user, text=text, message_id=message_id or next_id())
        self.last = await self.engine.handle(inbound)
        return self.text

    async def press(self, payload: str) -> str:
        typed = decode(payload)
        assert typed is not None, payload
        inbound = Inbound(self.channel, self.user, payload=typed, message_id=next_id())
        self.last = await self.engine.handle(inbound)
        return self.text

    async def send(self, data: bytes, filename: str | None = "tep", size: int | None = None):
        """Send a file (a photo when ``filename`` is None) as evidence."""

        async def fetch() -> bytes:
            self.fetched += 1
            return data

        attachment = Attachment(filename=filename, size=size, fetch=fetch)
        inbound = Inbound(self.channel, self.user, message_id=next_id(), attachment=attachment)
        self.last = await self.engine.handle(inbound)
        return self.text

    fetched = 0  # files downloaded by the engine

    @property
    def evidence_for(self) -> str | None:
        """The item the bot asks evidence for, if it does."""
        return self.last[-1].evidence_for if self.last else None

    async def give_evidence(self, link: str = "https://example.gov.vn/van-ban/12") -> None:
        """Answer a request for evidence as a person would: a link, then "xong"."""
        while self.evidence_for is not None:
            await self.say(link)
            await self.say("xong")

    @property
    def text(self) -> str:
        return "\n".join(message.text for message in self.last)

    @property
    def asks(self) -> str | None:
        return self.last[-1].asks if self.last else None


async def answer_all(chat: Chat, answers=MINI_ANSWERS) -> None:
    """Type each answer when the bot asks its item, and check that it was saved."""
    for code, typed in answers:
        assert chat.asks == code, chat.text
        reply = await chat.say(typed)
        assert f"✓ Đã lưu {code}" in reply, reply


def next_id() -> str:
    return str(next(_ids))


async def submission_of(engine: Engine, unit: str = "Sở Thử nghiệm", year: int = 2020):
    async with engine.db.session() as session:
        unit_row = await repo.find_unit(session, unit)
        stmt = select(Submission).where(Submission.unit_id == unit_row.id, Submission.year == year)
        submission = (await session.execute(stmt)).scalar_one()
        return await load_snapshot(session, submission.id, engine.forms)

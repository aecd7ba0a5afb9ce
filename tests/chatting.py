"""Talking to the engine in tests: a ``Chat`` is one person on the console channel."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from dialogs.engine import Engine
from dialogs.messages import Inbound, Outbound
from dialogs.snapshot import load_snapshot
from storage import repo
from storage.models import Submission

_ids = itertools.count(1)


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
        inbound = Inbound(self.channel, self.user, payload=payload, message_id=next_id())
        self.last = await self.engine.handle(inbound)
        return self.text

    @property
    def text(self) -> str:
        return "\n".join(message.text for message in self.last)

    @property
    def asks(self) -> str | None:
        return self.last[-1].asks if self.last else None


def next_id() -> str:
    return str(next(_ids))


async def submission_of(engine: Engine, unit: str = "Sở Thử nghiệm", year: int = 2020):
    async with engine.db.session() as session:
        unit_row = await repo.find_unit(session, unit)
        stmt = select(Submission).where(Submission.unit_id == unit_row.id, Submission.year == year)
        submission = (await session.execute(stmt)).scalar_one()
        return await load_snapshot(session, submission.id, engine.forms)

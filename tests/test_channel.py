"""What every channel does the same way (``bot.channel``): serve a message, apologise with
the person's position when the engine or the sending fails, keep going, keep one chat's
messages in order, retry what is worth retrying."""

from __future__ import annotations

import asyncio

import pytest

from bot.channel import Channel, retrying, watch_turn
from dialogs.messages import Inbound, Outbound


class Engine:
    """Echoes; "boom" fails; "slow" waits for ``gate``; the position is the last text."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.seen: list[str] = []
        self.position_fails = False

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        self.seen.append(inbound.text)
        if inbound.text == "boom":
            raise RuntimeError("database went away")
        if inbound.text == "slow":
            await self.gate.wait()
        return [Outbound(f"ok {inbound.text}")]

    async def position(self, channel: str, user: str) -> str | None:
        if self.position_fails:
            raise RuntimeError("database still away")
        return "3.2"


class ListChannel(Channel):
    """Sends into a list; ``refuse`` makes the next sends of replies fail."""

    name = "test"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.sent: list[tuple[str, str]] = []
        self.refuse = 0

    async def send(self, chat, replies, context=None) -> None:
        if self.refuse:
            self.refuse -= 1
            raise ConnectionError("the platform refused")
        self.sent += [(chat, reply.text) for reply in replies]

    async def send_text(self, chat: str, text: str) -> None:
        self.sent.append((chat, text))

    def apology(self, current: str | None) -> str:
        return f"sorry, saved up to {current}"


def message(user: str, text: str) -> Inbound:
    return Inbound("test", user, text=text)


async def test_an_engine_failure_is_apologised_for_with_the_position_and_marked_failed():
    channel = ListChannel(Engine())
    with watch_turn() as outcome:
        assert await channel.serve("1", message("1", "boom")) is False
    assert outcome.failed
    with watch_turn() as outcome:
        assert await channel.serve("1", message("1", "next")) is True
    assert not outcome.failed
    assert channel.sent == [("1", "sorry, saved up to 3.2"), ("1", "ok next")]


async def test_a_send_failure_is_apologised_for_but_the_turn_stands():
    engine = Engine()
    channel = ListChannel(engine)
    channel.refuse = 1
    with watch_turn() as outcome:
        assert await channel.serve("2", message("2", "hello")) is True
    assert not outcome.failed  # stored: nothing to deliver again
    assert channel.sent == [("2", "sorry, saved up to 3.2")]


async def test_nothing_escapes_even_when_the_apology_cannot_be_written():
    engine = Engine()
    engine.position_fails = True
    channel = ListChannel(engine)
    assert await channel.serve("3", message("3", "boom")) is False
    assert channel.sent == [("3", "sorry, saved up to None")]


async def test_one_chat_in_order_while_other_chats_go_on():
    engine = Engine()
    channel = ListChannel(engine)
    handled: list[str] = []
    channel.on_handled = handled.append
    first = asyncio.create_task(channel.in_order("5", channel.serve("5", message("5", "slow"))))
    second = asyncio.create_task(channel.in_order("5", channel.serve("5", message("5", "fast"))))
    other = asyncio.create_task(channel.in_order("6", channel.serve("6", message("6", "hi"))))
    await asyncio.wait_for(other, 5)
    await asyncio.sleep(0.05)
    assert engine.seen == ["slow", "hi"]  # "fast" waits for "slow", chat 6 did not
    engine.gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert [text for chat, text in channel.sent if chat == "5"] == ["ok slow", "ok fast"]
    assert handled == ["6", "5", "5"]


async def test_transient_failures_are_retried_and_others_are_not():
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset")
        return "done"

    transient = lambda exc: isinstance(exc, ConnectionError)  # noqa: E731
    assert await retrying(flaky, transient=transient, delays=(0, 0)) == "done"
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(ConnectionError):
        await retrying(flaky, transient=transient, delays=(0,))
    assert len(calls) == 2

    async def refused() -> str:
        calls.append(1)
        raise ValueError("bad request")

    calls.clear()
    with pytest.raises(ValueError):
        await retrying(refused, transient=transient, delays=(0, 0, 0))
    assert len(calls) == 1

"""What every messaging channel does the same way, in one place: serve a person's message,
apologise when something fails, retry a transient failure, keep one chat's messages in order.

A channel (``bot.telegram``, ``bot.zalo``) turns an update into an ``Inbound`` and renders the
``Outbound`` replies; ``Channel.serve`` runs the turn between the two:
- the engine handles the message (and commits it) before anything is sent;
- when the engine fails, nothing of the message is stored: the person is told where their
  saved answers stop (read from the database, which any worker can answer) and the update is
  marked failed (``watch_turn``), so a webhook can ask for it again;
- when sending fails after the retries, the answer is stored: the person gets the same apology;
- nothing a person sends ever stops the bot.

Order: the updates of one chat are handled one at a time in arrival order, other chats'
alongside (``Channel.in_order``, per-chat FIFO locks in a fixed number of stripes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from dialogs.locks import StripedLocks
from dialogs.messages import Inbound, Outbound

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_RETRY_DELAYS = (0.5, 2.0, 5.0)


class TurnEngine(Protocol):
    """What a channel needs of ``dialogs.Engine``."""

    async def handle(self, inbound: Inbound) -> list[Outbound]: ...

    async def position(self, channel: str, user: str) -> str | None: ...


@dataclass
class TurnOutcome:
    """Whether the turns run while it was watched all went through (``watch_turn``)."""

    failed: bool = False


_outcome: ContextVar[TurnOutcome | None] = ContextVar("formbot_turn_outcome", default=None)


@contextlib.contextmanager
def watch_turn() -> Iterator[TurnOutcome]:
    """Watch the turns run in this task: a webhook answers 500 when one failed (nothing was
    stored, so the platform should deliver the update again)."""
    outcome = TurnOutcome()
    token = _outcome.set(outcome)
    try:
        yield outcome
    finally:
        _outcome.reset(token)


def mark_failed() -> None:
    outcome = _outcome.get()
    if outcome is not None:
        outcome.failed = True


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    transient: Callable[[Exception], bool],
    delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    what: str = "request",
) -> T:
    """``call()``, again after each of ``delays`` while it fails with a ``transient`` error
    (a network error, a time-out, 429 or 5xx). A time-out may hide a delivered message, so a
    retry can repeat one: a repeated question is better than a lost one."""
    for attempt in range(len(delays) + 1):
        try:
            return await call()
        except Exception as exc:
            if attempt == len(delays) or not transient(exc):
                raise
            delay = delays[attempt]
            log.warning("%s failed (%s); retry %d in %.1f s", what, exc, attempt + 1, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


class Channel(ABC):
    """The serve / apologise / order logic of a channel; subclasses say how to send."""

    name: str

    def __init__(
        self,
        engine: TurnEngine,
        *,
        stripes: int = 1024,
        on_handled: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.on_handled = on_handled
        self._order = StripedLocks(stripes)

    # What a channel provides -------------------------------------------------------------------

    @abstractmethod
    async def send(self, chat: str, replies: list[Outbound], context: Any = None) -> None:
        """Send one turn's replies to ``chat`` (``context``: what the channel's update
        carried, e.g. the pressed message)."""

    @abstractmethod
    async def send_text(self, chat: str, text: str) -> None:
        """Send a plain text (the apology)."""

    @abstractmethod
    def apology(self, current: str | None) -> str:
        """The apology's text; ``current`` is the question the person is at."""

    async def turn(self, chat: str, inbound: Inbound) -> list[Outbound]:
        """The engine's turn (a channel may add e.g. a "typing…" hint)."""
        return await self.engine.handle(inbound)

    # What every channel does the same way --------------------------------------------------------

    async def in_order(self, chat: str | None, work: Awaitable[T]) -> T:
        """Run ``work`` (one update) after the earlier updates of ``chat``. Call it as soon as
        the update arrives: the FIFO lock is taken in the order of the calls."""
        try:
            if chat is None:
                return await work
            async with self._order(f"{self.name}:{chat}"):
                return await work
        finally:
            if self.on_handled is not None:
                self.on_handled(chat or "0")

    async def serve(self, chat: str, inbound: Inbound, context: Any = None) -> bool:
        """One message, start to finish: the engine's turn (committed), then the replies.
        Never raises; False when the engine failed (nothing was stored)."""
        try:
            replies = await self.turn(chat, inbound)
        except Exception:
            # The turn's transaction was rolled back: nothing of this message is stored.
            log.exception("the engine failed on a %s message from user %s", self.name, inbound.user)
            mark_failed()
            await self.apologise(chat, inbound.user)
            return False
        try:
            await self.send(chat, replies, context)
        except Exception:
            # The answer is committed; only sending failed (after the retries).
            log.exception("sending replies to %s user %s failed", self.name, inbound.user)
            await self.apologise(chat, inbound.user)
        return True

    async def apologise(self, chat: str, user: str) -> None:
        """Tell the person something went wrong and where their saved answers stop."""
        try:  # where the database says this person is; any worker can answer that
            current = await self.engine.position(self.name, user)
        except Exception:
            log.exception("could not read the position of %s user %s", self.name, user)
            current = None
        try:
            await self.send_text(chat, self.apology(current))
        except Exception:
            log.exception("could not tell %s chat %s about the error", self.name, chat)

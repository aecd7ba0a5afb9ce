"""A channel's bot in its own process, as the end-to-end tests and the benchmark run it, and
the part of a ``scenario.Driver`` that waits for it.

The bot (``telegram_bot.py``, ``zalo_bot.py``) prints "ready" once started and
"handled CHAT_ID" after each update: that is how a test knows a turn is over without sleeping.
A channel subclasses ``BotProcess`` with its launcher, its environment and the type of its
chat ids (``telegram_emulator.TelegramBotProcess``, ``zalo_process.ZaloBotProcess``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30.0
TURN_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BotProcess:
    """The bot script ``launcher`` in its own process on the database at ``database_url``,
    with ``extra`` arguments and ``env`` on top of the channel's environment."""

    launcher: Path  # set by each channel

    def __init__(
        self, *, database_url: str, extra: list[str] = (), env: dict[str, str] | None = None
    ) -> None:
        self.database_url = database_url
        self.extra = list(extra)
        self.env = dict(env or {})
        self.handled: Counter = Counter()
        self.ready = False
        self.process: asyncio.subprocess.Process | None = None
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task | None = None
        self._errors: asyncio.Task | None = None
        self._stderr: list[str] = []

    def channel_env(self) -> dict[str, str]:
        """The channel's variables: its token and where its API is."""
        raise NotImplementedError

    def chat_key(self, chat_id: str) -> Any:
        """A chat id as the bot printed it, as ``handled`` and ``turn_done`` key it."""
        return chat_id

    async def start(self) -> Self:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            **self.channel_env(),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        self.handled = Counter()
        self.ready = False
        self._stderr = []
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(self.launcher),
            *self.extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(ROOT),
        )
        self._reader = asyncio.create_task(self._read())
        self._errors = asyncio.create_task(self._read_stderr())
        await self._wait(lambda: self.ready, STARTUP_SECONDS, "start")
        return self

    async def _read(self) -> None:
        assert self.process is not None
        async for raw in self.process.stdout:
            parts = raw.decode().split()
            if parts == ["ready"] or (len(parts) == 2 and parts[0] == "handled"):
                async with self._changed:
                    if parts == ["ready"]:
                        self.ready = True
                    else:
                        self.handled[self.chat_key(parts[1])] += 1
                    self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def _read_stderr(self) -> None:
        async for raw in self.process.stderr:
            self._stderr.append(raw.decode(errors="replace"))

    def stderr(self) -> str:
        return "".join(self._stderr[-40:])

    async def _wait(self, done, seconds: float, what: str) -> None:
        async def until():
            async with self._changed:
                while not done():
                    if self.process.returncode is not None or self._reader.done():
                        raise AssertionError(f"the bot process exited during {what}")
                    await self._changed.wait()

        try:
            await asyncio.wait_for(until(), seconds)
        except (TimeoutError, AssertionError) as exc:
            raise AssertionError(
                f"bot did not finish {what} within {seconds:.0f} s ({exc!r}); its stderr:\n"
                + self.stderr()
            ) from None

    async def turn_done(self, chat_id, count: int) -> None:
        """Wait until the bot has handled ``count`` updates of ``chat_id``."""
        await self._wait(lambda: self.handled[chat_id] >= count, TURN_SECONDS, "a turn")

    async def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the bot shuts down cleanly."""
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        for task in (self._reader, self._errors):
            if task is not None:
                await task
        return code


class ProcessDriver:
    """What a ``scenario.Driver`` does the same on every channel whose bot is a
    ``BotProcess``: a turn is over when the process reports it has handled the update, then
    the bot's new messages are read. A channel says how to read them (``_unread``) and what
    the person sees of one (``_text``)."""

    def __init__(self, user, bot: BotProcess) -> None:
        self.user = user
        self.bot = bot
        self.seen: list = []  # every message the bot sent to this chat
        self._new: list = []

    async def _unread(self) -> list:
        raise NotImplementedError

    def _text(self, message) -> str:
        return message

    async def _turn(self, act) -> None:
        before = self.bot.handled[self.user.user_id]
        await act
        await self.bot.turn_done(self.user.user_id, before + 1)
        messages = await self._unread()
        self.seen += messages
        self._new += messages

    async def send(self, text: str) -> None:
        await self._turn(self.user.send(text))

    async def replies(self) -> list[str]:
        new, self._new = self._new, []
        return [self._text(message) for message in new]

    async def restart_bot(self) -> None:
        assert await self.bot.stop() == 0, self.bot.stderr()
        await self.bot.start()

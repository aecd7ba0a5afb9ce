"""The Zalo bot (``zalo_bot.py``) in its own process, and the scenario's ``Driver`` for Zalo.

The bot prints "ready" once started and "handled CHAT_ID" after each update: that is how a
test knows a turn is over without sleeping.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections import Counter
from pathlib import Path

from zalo_server import ZaloServer, ZaloUser

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LAUNCHER = HERE / "zalo_bot.py"
STARTUP_SECONDS = 30.0
TURN_SECONDS = 30.0
OPTION_LINE = re.compile(r"^(\d+)\. (.+)$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ZaloBotProcess:
    def __init__(
        self,
        *,
        token: str,
        server: ZaloServer,
        database_url: str,
        extra: list[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.token = token
        self.server = server
        self.database_url = database_url
        self.extra = list(extra)
        self.env = dict(env or {})
        self.handled: Counter[str] = Counter()
        self.ready = False
        self.process: asyncio.subprocess.Process | None = None
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task | None = None
        self._errors: asyncio.Task | None = None
        self._stderr: list[str] = []

    async def start(self) -> ZaloBotProcess:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "ZALO_BOT_TOKEN": self.token,
            "ZALO_BASE_URL": self.server.base_url,
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        self.handled = Counter()
        self.ready = False
        self._stderr = []
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(LAUNCHER),
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
        async for raw in self.process.stdout:
            parts = raw.decode().split()
            if parts == ["ready"] or (len(parts) == 2 and parts[0] == "handled"):
                async with self._changed:
                    if parts == ["ready"]:
                        self.ready = True
                    else:
                        self.handled[parts[1]] += 1
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

    async def turn_done(self, chat_id: str, count: int) -> None:
        """Wait until the bot has handled ``count`` updates of ``chat_id``."""
        await self._wait(lambda: self.handled[chat_id] >= count, TURN_SECONDS, "a turn")

    async def stop(self) -> int:
        """SIGTERM, as a service manager stops it."""
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


class ZaloDriver:
    """``scenario.Driver`` on Zalo: text and commands are typed, ``choose`` types the number
    the latest menu shows for the label, and a turn is over when the bot process reports it
    has handled the update."""

    def __init__(self, user: ZaloUser, bot: ZaloBotProcess) -> None:
        self.user = user
        self.bot = bot
        self.seen: list[str] = []
        self._new: list[str] = []

    async def _turn(self, act) -> None:
        before = self.bot.handled[self.user.user_id]
        await act
        await self.bot.turn_done(self.user.user_id, before + 1)
        texts = [message.text for message in self.user.unread()]
        self.seen += texts
        self._new += texts

    async def send(self, text: str) -> None:
        await self._turn(self.user.send(text))

    async def choose(self, label: str) -> None:
        for text in reversed(self.seen):
            for line in text.splitlines():
                match = OPTION_LINE.match(line)
                if match and match[2] == label:
                    await self.send(match[1])
                    return
        raise AssertionError(f"no numbered option {label!r} in the bot's messages")

    async def replies(self) -> list[str]:
        new, self._new = self._new, []
        return new

    async def restart_bot(self) -> None:
        assert await self.bot.stop() == 0, self.bot.stderr()
        await self.bot.start()

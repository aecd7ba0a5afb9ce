"""The Bot API emulator (npm ``telegram-test-api`` + ``emulator.js``), the bot as a separate
process, and a Telegram user acting through the emulator's client HTTP API.

Used by the end-to-end tests and by ``bench/telegram_e2e.py``.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LAUNCHER = HERE / "emulator.js"
BOT_LAUNCHER = HERE / "telegram_bot.py"
MINI_FORM = ROOT / "tests" / "fixtures" / "mini.yaml"
STARTUP_SECONDS = 30.0
TURN_SECONDS = 30.0


class EmulatorMissing(RuntimeError):
    pass


def node_modules() -> Path:
    """Where ``npm install`` put telegram-test-api: ``FORMBOT_E2E_NODE_MODULES`` (set by
    ``.ci/run``), else ``.cache/e2e/node_modules``."""
    configured = os.environ.get("FORMBOT_E2E_NODE_MODULES")
    path = Path(configured) if configured else ROOT / ".cache" / "e2e" / "node_modules"
    if not (path / "telegram-test-api" / "lib" / "index.js").is_file():
        raise EmulatorMissing(
            f"the Bot API emulator is not installed in {path}: run `bash .ci/run` (or: mkdir -p "
            ".cache/e2e && cp tests/e2e/package.json .cache/e2e/ && (cd .cache/e2e && npm install))"
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    """The emulator as a Node process on a free localhost port."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bot_api(self) -> str:
        """What PTB's ``base_url`` / ``TELEGRAM_BASE_URL`` should be."""
        return f"{self.url}/bot"

    def start(self) -> Emulator:
        modules = node_modules()
        env = {**os.environ, "FORMBOT_E2E_NODE_MODULES": str(modules)}
        for _attempt in range(3):
            self.port = free_port()
            self.process = subprocess.Popen(
                ["node", str(LAUNCHER), str(self.port)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            line = self.process.stdout.readline()  # "listening PORT", or EOF on failure
            if line.strip() == f"listening {self.port}":
                return self
            self.process.wait(timeout=10)
            error = self.process.stderr.read()
            if "EADDRINUSE" not in error and "cannot listen" not in error:
                raise RuntimeError(f"the emulator did not start: {line}{error}")
        raise RuntimeError("the emulator found no free port")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass
class BotMessage:
    """One message the bot sent, as the emulator stored it."""

    message_id: int
    chat_id: int
    raw_text: str  # as sent: HTML when parse_mode is HTML
    parse_mode: str | None
    buttons: list[list[tuple[str, str]]]  # rows of (label, callback_data)
    sent_at: float

    @property
    def text(self) -> str:
        """What the person sees."""
        if (self.parse_mode or "").upper() == "HTML":
            return html.unescape(re.sub(r"<[^>]+>", "", self.raw_text))
        return self.raw_text

    @classmethod
    def from_stored(cls, stored: dict) -> BotMessage:
        message = stored["message"]
        markup = message.get("reply_markup") or {}
        rows = [
            [(button["text"], button.get("callback_data", "")) for button in row]
            for row in markup.get("inline_keyboard", [])
        ]
        return cls(
            message_id=int(stored["messageId"]),
            chat_id=int(message["chat_id"]),
            raw_text=message.get("text", ""),
            parse_mode=message.get("parse_mode"),
            buttons=rows,
            sent_at=stored["time"] / 1000,
        )


class TelegramUser:
    """A person in a private chat with the bot, acting through the emulator's client API."""

    def __init__(self, client: httpx.AsyncClient, emulator: Emulator, token: str, user_id: int):
        self.client = client
        self.emulator = emulator
        self.token = token
        self.user_id = user_id
        self.person = {"id": user_id, "is_bot": False, "first_name": f"Cán bộ {user_id}"}
        self.chat = {"id": user_id, "type": "private", "first_name": f"Cán bộ {user_id}"}

    async def _post(self, path: str, body: dict) -> dict:
        response = await self.client.post(f"{self.emulator.url}/{path}", json=body)
        response.raise_for_status()
        return response.json()

    async def send(self, text: str) -> None:
        """Type ``text``; a leading "/" makes it a command (with its ``bot_command`` entity,
        as Telegram sends "/start CODE" from a t.me deep link)."""
        body = {
            "botToken": self.token,
            "from": self.person,
            "chat": self.chat,
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(" ", 1)[0])
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
            await self._post("sendCommand", body)
        else:
            await self._post("sendMessage", body)

    async def press(self, message: BotMessage, data: str) -> None:
        """Press the inline button carrying ``data`` under ``message``."""
        await self._post(
            "sendCallback",
            {
                "botToken": self.token,
                "from": self.person,
                "date": int(time.time()),
                "data": data,
                # Telegram sends the message the button is under, keyboard included.
                "message": {
                    "message_id": message.message_id,
                    "date": int(message.sent_at),
                    "chat": self.chat,
                    "text": message.text,
                    "reply_markup": {
                        "inline_keyboard": [
                            [{"text": label, "callback_data": data} for label, data in row]
                            for row in message.buttons
                        ]
                    },
                },
            },
        )

    async def unread(self) -> list[BotMessage]:
        """The bot's messages to this chat not read yet (the emulator marks them read)."""
        data = await self._post("getUpdates", {"token": self.token, "chatId": self.user_id})
        return [BotMessage.from_stored(stored) for stored in data["result"]]

    async def history(self) -> list[BotMessage]:
        """Every message the bot sent to this chat, as last edited."""
        data = await self._post("getUpdatesHistory", {"token": self.token})
        return [
            BotMessage.from_stored(stored)
            for stored in data["result"]
            if "chat_id" in stored.get("message", {})
            and int(stored["message"]["chat_id"]) == self.user_id
        ]


class BotProcess:
    """``telegram_bot.py``: the real PTB application in its own process, polling the
    emulator. It prints "handled CHAT_ID" after each update, which is how a test knows the
    bot has finished a turn without sleeping."""

    def __init__(self, *, token: str, bot_api: str, database_url: str, extra: list[str] = ()):
        self.token = token
        self.bot_api = bot_api
        self.database_url = database_url
        self.extra = list(extra)
        self.handled: Counter[int] = Counter()
        self.ready = False
        self.process: asyncio.subprocess.Process | None = None
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task | None = None
        self._stderr: list[str] = []

    async def start(self) -> BotProcess:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "TELEGRAM_BOT_TOKEN": self.token,
            "TELEGRAM_BASE_URL": self.bot_api,
            "PYTHONUNBUFFERED": "1",
        }
        self.handled = Counter()
        self.ready = False
        self._stderr = []
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(BOT_LAUNCHER),
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
                        self.handled[int(parts[1])] += 1
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

    async def turn_done(self, chat_id: int, count: int) -> None:
        """Wait until the bot has handled ``count`` updates of ``chat_id``."""
        await self._wait(lambda: self.handled[chat_id] >= count, TURN_SECONDS, "a turn")

    async def stop(self) -> int:
        """SIGTERM, as a service manager stops it; PTB shuts down cleanly."""
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

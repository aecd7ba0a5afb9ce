"""The Bot API emulator (npm ``telegram-test-api`` + ``emulator.js``), the bot as a separate
process, and a Telegram user acting through the emulator's client HTTP API.

Used by the end-to-end tests and by ``bench/telegram_e2e.py``.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from bot_process import ROOT, BotProcess, free_port

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "emulator.js"
BOT_LAUNCHER = HERE / "telegram_bot.py"
MINI_FORM = ROOT / "tests" / "fixtures" / "mini.yaml"


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


class TelegramBotProcess(BotProcess):
    """``telegram_bot.py``: the real PTB application in its own process, polling the
    emulator; ``handled`` counts updates by the (integer) chat id."""

    launcher = BOT_LAUNCHER

    def __init__(self, *, token: str, bot_api: str, database_url: str, extra: list[str] = ()):
        super().__init__(database_url=database_url, extra=extra)
        self.token = token
        self.bot_api = bot_api

    def channel_env(self) -> dict[str, str]:
        return {"TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_BASE_URL": self.bot_api}

    def chat_key(self, chat_id: str) -> int:
        return int(chat_id)

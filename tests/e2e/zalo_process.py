"""The Zalo bot (``zalo_bot.py``) in its own process, and the scenario's ``Driver`` for Zalo.

The bot prints "ready" once started and "handled CHAT_ID" after each update: that is how a
test knows a turn is over without sleeping (``bot_process.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

from bot_process import BotProcess, ProcessDriver
from zalo_server import ZaloServer, ZaloUser

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "zalo_bot.py"
OPTION_LINE = re.compile(r"^(\d+)\. (.+)$")


class ZaloBotProcess(BotProcess):
    """``zalo_bot.py`` on the test Zalo server; ``handled`` counts updates by the (string)
    chat id."""

    launcher = LAUNCHER

    def __init__(
        self,
        *,
        token: str,
        server: ZaloServer,
        database_url: str,
        extra: list[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(database_url=database_url, extra=extra, env=env)
        self.token = token
        self.server = server

    def channel_env(self) -> dict[str, str]:
        return {"ZALO_BOT_TOKEN": self.token, "ZALO_BASE_URL": self.server.base_url}


class ZaloDriver(ProcessDriver):
    """``scenario.Driver`` on Zalo: text and commands are typed, ``choose`` types the number
    the latest menu shows for the label, and a turn is over when the bot process reports it
    has handled the update."""

    user: ZaloUser
    bot: ZaloBotProcess
    seen: list[str]  # the texts of the bot's messages to this chat

    async def _unread(self) -> list[str]:
        return [message.text for message in self.user.unread()]

    async def choose(self, label: str) -> None:
        for text in reversed(self.seen):
            for line in text.splitlines():
                match = OPTION_LINE.match(line)
                if match and match[2] == label:
                    await self.send(match[1])
                    return
        raise AssertionError(f"no numbered option {label!r} in the bot's messages")

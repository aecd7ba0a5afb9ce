"""The outside world: the running bot (``App``), its channels, web server and delivery loop,
and the ``formbot`` command line.

The names below load on first use (PEP 562), so ``formbot forms list`` does not pay for
python-telegram-bot, uvicorn or SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "App": "bot.app",
    "TelegramSettings": "bot.app",
    "ZaloSettings": "bot.app",
    "WebSettings": "bot.app",
    "serve": "bot.app",
    "Channel": "bot.channel",
    "DeliveryLoop": "bot.delivery",
    "Dispatcher": "bot.outbox",
    "TelegramSender": "bot.outbox",
    "ZaloSender": "bot.outbox",
}
__all__ = [
    "App",
    "Channel",
    "DeliveryLoop",
    "Dispatcher",
    "TelegramSender",
    "TelegramSettings",
    "WebSettings",
    "ZaloSender",
    "ZaloSettings",
    "serve",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

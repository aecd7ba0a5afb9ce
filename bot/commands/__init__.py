"""Sub-commands of ``formbot``; each module has ``register(subparsers)``."""

from bot.commands import chat, forms

COMMAND_MODULES = [forms, chat]

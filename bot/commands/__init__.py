"""Sub-commands of ``formbot``; each module has ``register(subparsers)``."""

from bot.commands import chat, documents, forms, operations, run

COMMAND_MODULES = [forms, chat, run, documents, operations]

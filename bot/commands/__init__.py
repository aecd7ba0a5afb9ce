"""Sub-commands of ``formbot``; each module has ``register(subparsers)``."""

from bot.commands import chat, documents, forms, operations, review, run

COMMAND_MODULES = [forms, chat, run, documents, review, operations]

"""Sub-commands of ``formbot``; each module has ``register(subparsers)``."""

from bot.commands import chat, documents, forms, operations, review, run, web

COMMAND_MODULES = [forms, chat, run, documents, review, operations, web]

"""Sub-commands of ``formbot``; each module has ``register(subparsers)``."""

from bot.commands import chat, documents, forms, operations, run, web

COMMAND_MODULES = [forms, chat, run, documents, operations, web]

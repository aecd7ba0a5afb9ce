"""The console channel: a conversation in a terminal, or scripted one message per line."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from dialogs import Engine
from dialogs.messages import Inbound, Outbound, text_menu
from templates.messages import say

CHANNEL = "console"


def render(message: Outbound) -> str:
    text = text_menu(message, say("text_menu_hint"))
    if message.document is not None:
        document = message.document
        text += "\n" + say("console_document", name=document.filename, size=len(document.data))
    return text


async def run_console(
    engine: Engine,
    *,
    unit: str,
    form_id: str,
    year: int,
    user: str,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> None:
    """Talk until EOF. Every answer is committed as it is given, so EOF (or Ctrl-C) loses
    nothing and the next run resumes at the same question."""
    interactive = stdin.isatty()
    if hasattr(stdin, "reconfigure"):  # bytes that are not UTF-8 become "�", not a crash
        stdin.reconfigure(errors="replace")

    def show(messages: list[Outbound]) -> None:
        for message in messages:
            print(render(message), file=stdout)
            print(file=stdout)
        stdout.flush()

    show(await engine.bind(CHANNEL, user, unit_name=unit, form_id=form_id, year=year))
    loop = asyncio.get_running_loop()
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            break
        line = line.rstrip("\n")
        if not line.strip():
            continue
        show(await engine.handle(Inbound(CHANNEL, user, text=line)))

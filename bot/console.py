"""The console channel: a conversation in a terminal, or scripted one message per line.

A line that is the path of an existing file (``/home/lan/hoa-don.pdf``, ``~/anh.jpg``,
``./scan.pdf``, quoted or not) sends that file as evidence."""

from __future__ import annotations

import asyncio
import sys
from functools import partial
from pathlib import Path
from typing import TextIO

from dialogs import Engine
from dialogs.messages import Attachment, Inbound, Outbound, text_menu
from templates.messages import say

CHANNEL = "console"


def looks_like_path(line: str) -> bool:
    """``/home/lan/a.pdf``, ``~/a.jpg``, ``./a.pdf``, ``C:\\a.pdf``; not a command (``/xem``,
    ``/sua 3.2.b``: no second slash)."""
    text = line.strip().strip("\"'")
    if text.startswith(("~", "./", "../")):
        return True
    if text.startswith("/"):
        return "/" in text[1:]
    return len(text) > 2 and text[1] == ":" and text[2] in "\\/"


def file_attachment(line: str) -> Attachment | None:
    """The file a path names, as evidence; None when there is no such file."""
    path = Path(line.strip().strip("\"'")).expanduser()
    try:
        if not path.is_file():
            return None
        size = path.stat().st_size
    except OSError:
        return None
    fetch = partial(asyncio.to_thread, path.read_bytes)
    return Attachment(filename=path.name, size=size, fetch=fetch)


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
        attachment = None
        if looks_like_path(line):
            attachment = file_attachment(line)
            if attachment is None:
                print(say("console_no_file", path=line.strip()), file=stdout)
                print(file=stdout)
                continue
        text = None if attachment is not None else line
        show(await engine.handle(Inbound(CHANNEL, user, text=text, attachment=attachment)))

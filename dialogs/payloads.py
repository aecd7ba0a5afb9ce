"""What a pressed button carries: typed payloads, and their one wire format.

A button's payload travels through the messaging platform as a short string (Telegram's
``callback_data`` holds at most 64 bytes) and comes back when the button is pressed. This
module is the only place that writes or reads that string: the engine builds typed payloads,
a channel ``encode``s them into its buttons and ``decode``s what a press sends back, and
nothing else looks inside.

The wire format is the one the first version used (``ans:3.6:0``, ``keep:3.6``,
``cmd:quaylai``, ``confirm:yes``), so buttons already sitting in people's chats keep working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64  # Telegram's limit for callback_data


@dataclass(frozen=True, slots=True)
class PickOption:
    """The ``index``-th option (0-based) of item ``code``."""

    code: str
    index: int


@dataclass(frozen=True, slots=True)
class KeepPrevious:
    """Keep last year's answer to item ``code``."""

    code: str


@dataclass(frozen=True, slots=True)
class KeepAnswer:
    """Keep the answer to item ``code`` although it raised a warning ("Vẫn giữ")."""

    code: str


@dataclass(frozen=True, slots=True)
class Toggle:
    """Choose or unchoose the ``index``-th option (0-based) of multi-choice item ``code``;
    the selection is stored by ``Done``."""

    code: str
    index: int


@dataclass(frozen=True, slots=True)
class Done:
    """Store the options chosen so far for multi-choice item ``code`` ("Xong")."""

    code: str


@dataclass(frozen=True, slots=True)
class KeepSection:
    """Keep last year's answers of every carried item of MỤC ``section`` that is still open."""

    section: int


@dataclass(frozen=True, slots=True)
class RunCommand:
    """Run the chat command ``name`` (a command word, e.g. ``quaylai``)."""

    name: str
    argument: str = ""


@dataclass(frozen=True, slots=True)
class Confirm:
    """Yes or no to the question the bot asked last (e.g. "Nộp phiếu?")."""

    yes: bool


Payload = (
    PickOption | KeepPrevious | KeepAnswer | Toggle | Done | KeepSection | RunCommand | Confirm
)


@dataclass(frozen=True, slots=True)
class OpenPage:
    """Not a payload that comes back: a button that opens the web page ``url`` (signed by
    the bot: ``bot.links.ReviewLinks``). ``app``: Telegram opens it as a Mini App inside the
    chat (a ``web_app`` button; the page then checks Telegram's signed ``initData``); other
    channels show the link itself."""

    url: str
    app: bool = False


# What an ``Option`` of a message carries: a payload that comes back when pressed, or a page.
Action = Payload | OpenPage
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def encode(payload: Payload) -> str:
    """The payload as a button carries it; ValueError if it would not fit in a button."""
    match payload:
        case PickOption(code, index):
            text = f"ans:{code}:{index}"
        case KeepPrevious(code):
            text = f"keep:{code}"
        case KeepAnswer(code):
            text = f"warn:{code}"
        case Toggle(code, index):
            text = f"tog:{code}:{index}"
        case Done(code):
            text = f"done:{code}"
        case KeepSection(section):
            text = f"keepall:{section}"
        case RunCommand(name, argument):
            text = f"cmd:{name}" + (f" {argument}" if argument else "")
        case Confirm(yes):
            text = "confirm:yes" if yes else "confirm:no"
        case OpenPage():
            raise TypeError("a page button opens its URL; it carries no callback data")
        case _:
            raise TypeError(f"not a payload: {payload!r}")
    if len(text.encode()) > MAX_BYTES:
        raise ValueError(f"payload over {MAX_BYTES} bytes: {text!r}")
    return text


def decode(text: str | None) -> Payload | None:
    """The payload a pressed button sent back; None for anything this bot did not write
    (an old or foreign button, or junk)."""
    if not text or len(text.encode("utf-8", "replace")) > MAX_BYTES or _CONTROL.search(text):
        return None
    kind, _, rest = text.partition(":")
    if kind in ("ans", "tog"):
        code, _, index = rest.rpartition(":")
        if code and _small_number(index):
            return (PickOption if kind == "ans" else Toggle)(code, int(index))
        return None
    if kind == "done" and rest:
        return Done(rest)
    if kind == "keepall" and _small_number(rest):
        return KeepSection(int(rest))
    if kind == "keep" and rest:
        return KeepPrevious(rest)
    if kind == "warn" and rest:
        return KeepAnswer(rest)
    if kind == "cmd" and rest:
        name, _, argument = rest.partition(" ")
        return RunCommand(name, argument.strip())
    if kind == "confirm" and rest in ("yes", "no"):
        return Confirm(rest == "yes")
    return None


def _small_number(text: str) -> bool:
    # isascii: str.isdigit() is also true for "²", which int() refuses.
    return text.isascii() and text.isdigit() and len(text) <= 3

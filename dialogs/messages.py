"""What crosses the boundary between a channel and the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

from templates.messages import say


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a person: typed ``text`` or a pressed option's ``payload``."""

    channel: str
    user: str
    text: str | None = None
    payload: str | None = None
    message_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Option:
    """A choice offered with a message. ``typed`` is what to type on a channel without
    buttons (the option number, or a keyword such as "giu")."""

    label: str
    payload: str
    typed: str


@dataclass(frozen=True, slots=True)
class Document:
    filename: str
    data: bytes
    mime_type: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send. Telegram renders ``options`` and ``nav`` as an inline keyboard;
    text channels render ``options`` as a numbered menu (``text_menu``)."""

    text: str
    options: tuple[Option, ...] = ()
    nav: tuple[Option, ...] = ()
    document: Document | None = None
    # The item this message asks, so a channel can tell a stale button from a fresh one.
    asks: str | None = None
    extra: dict = field(default_factory=dict)


def text_menu(message: Outbound, nav_hint: str | None = None) -> str:
    """The message as plain text with its options numbered, for Zalo and the console."""
    lines = [message.text]
    if message.options:
        lines.append("")
        for option in message.options:
            if option.typed.isdigit():
                lines.append(f"{option.typed}. {option.label}")
            else:
                lines.append(say("menu_keyword", typed=option.typed, label=option.label))
    if message.nav and nav_hint:
        lines.append(nav_hint)
    return "\n".join(lines)

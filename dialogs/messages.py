"""What crosses the boundary between a channel and the engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dialogs.evidence import EvidenceFile
from dialogs.payloads import Action, OpenPage, Payload
from templates.messages import say


@dataclass(frozen=True, slots=True)
class Attachment:
    """A photo or file sent with a message. The channel says what the platform declares
    (``filename``, ``size``) and how to download the bytes (``fetch``); the engine downloads
    and checks them before the turn's transaction and fills in ``file`` (it passed
    ``dialogs.evidence.check_file``) or ``refusal`` (the Vietnamese reason, nothing stored).
    A channel may set ``refusal`` itself (a file the platform will not hand over)."""

    filename: str | None = None
    size: int | None = None
    fetch: Callable[[], Awaitable[bytes]] | None = field(default=None, repr=False, compare=False)
    file: EvidenceFile | None = field(default=None, repr=False)
    refusal: str | None = None
    unread: bool = False  # not downloaded: the person was sending no evidence

    @property
    def ready(self) -> bool:
        """Checked (or left unread): the turn may use it."""
        return self.file is not None or self.refusal is not None or self.unread


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a person: typed ``text`` or a pressed button's ``payload``.

    ``message_id`` identifies the message for de-duplication (a re-delivered update is
    ignored); ``order`` is the sender's order of messages (Telegram's update id, Zalo's
    timestamp), so a late message can be told from a current one. ``attachment``: a photo
    or file sent as evidence (``text`` is then its caption, if any)."""

    channel: str
    user: str
    text: str | None = None
    payload: Payload | None = None
    message_id: str | None = None
    name: str | None = None
    order: int | None = None
    attachment: Attachment | None = None  # a photo or file (evidence), checked by the engine


@dataclass(frozen=True, slots=True)
class Option:
    """A choice offered with a message. ``typed`` is what to type on a channel without
    buttons (the option number, or a keyword such as "giu"); an ``OpenPage`` option is a
    link (a button on Telegram, the address itself in a text menu)."""

    label: str
    payload: Action
    typed: str
    button_only: bool = False  # left out of text menus (e.g. "Xong" of a multi-choice)


@dataclass(frozen=True, slots=True)
class Document:
    filename: str
    data: bytes
    mime_type: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send. Telegram renders ``options`` and ``nav`` as an inline keyboard;
    text channels render ``options`` as a numbered menu (``text_menu``).

    The typed flags tell a channel what happened without reading the text: ``asks`` is the
    item this message asks (to tell a stale button from a fresh one); ``accepted`` the item
    whose answer this turn stored; ``submitted`` the submission this turn submitted;
    ``informational`` that the message only shows something (progress), so the question it
    answers stays open; ``edit_pressed`` that a channel with buttons should show this
    message's options on the pressed message instead of sending a new one (a multi-choice
    toggle); channels without buttons never get one. ``evidence_for``: the message asks for
    evidence (photos, files, links) for that item."""

    text: str
    options: tuple[Option, ...] = ()
    nav: tuple[Option, ...] = ()
    document: Document | None = None
    asks: str | None = None
    accepted: str | None = None
    submitted: int | None = None
    informational: bool = False
    edit_pressed: bool = False
    evidence_for: str | None = None  # the item whose evidence this message asks for


def text_menu(message: Outbound, nav_hint: str | None = None) -> str:
    """The message as plain text with its options numbered, for Zalo and the console."""
    lines = [message.text]
    if message.options:
        lines.append("")
        for option in message.options:
            if option.button_only:
                continue
            if isinstance(option.payload, OpenPage):
                lines.append(say("menu_link", label=option.label, url=option.payload.url))
            elif option.typed.isascii() and option.typed.isdigit():
                lines.append(f"{option.typed}. {option.label}")
            else:
                lines.append(say("menu_keyword", typed=option.typed, label=option.label))
    if message.nav and nav_hint:
        lines.append(nav_hint)
    return "\n".join(lines)

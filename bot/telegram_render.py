"""How an ``Outbound`` looks on Telegram: escaped HTML chunks and an inline keyboard.

Pure functions, no network: ``bot/telegram.py`` sends what these return.
"""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot import splitting
from dialogs.messages import Option, Outbound
from dialogs.payloads import OpenPage, encode

# Bot API: a message text is 1–4096 characters after entity parsing, counted in UTF-16 code
# units. We split the plain text (before escaping), so "&lt;" counts as the one "<" it shows.
MAX_MESSAGE = 4096
# Options whose labels fit in this many characters together share one row (Có · Không);
# longer ones get a row each so a phone does not cut them off.
ONE_ROW_CHARS = 24
ONE_ROW_BUTTONS = 3


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    return splitting.split_text(text, limit)


def html_chunks(text: str) -> list[str]:
    """The engine's plain text as HTML-escaped messages that each fit Telegram's limit.
    Everything is escaped, so anything a respondent typed and the bot echoes shows as typed."""
    return [html.escape(chunk, quote=False) for chunk in split_text(text)]


def _button(option: Option) -> InlineKeyboardButton:
    page = option.payload
    if isinstance(page, OpenPage):
        # A Mini App opens inside the chat; Telegram takes only https for it.
        if page.app and page.url.startswith("https://"):
            return InlineKeyboardButton(option.label, web_app=WebAppInfo(page.url))
        return InlineKeyboardButton(option.label, url=page.url)
    return InlineKeyboardButton(option.label, callback_data=encode(page))


def keyboard(message: Outbound) -> InlineKeyboardMarkup | None:
    """Options as buttons (short ones on one row, long ones one per row), then the
    navigation row (◀ Quay lại · Bỏ qua · Tiến độ)."""
    rows: list[list[InlineKeyboardButton]] = []
    options = list(message.options)
    if options:
        together = sum(len(option.label) for option in options)
        if len(options) <= ONE_ROW_BUTTONS and together <= ONE_ROW_CHARS:
            rows.append([_button(option) for option in options])
        else:
            rows.extend([_button(option)] for option in options)
    if message.nav:
        rows.append([_button(option) for option in message.nav])
    return InlineKeyboardMarkup(rows) if rows else None


def pressed_label(markup: InlineKeyboardMarkup | None, data: str) -> str | None:
    """The label of the button that carried ``data`` in ``markup``."""
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None

"""Cutting long texts into messages a chat platform accepts (Telegram and Zalo both count
a message's length in UTF-16 code units, or at most that)."""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-16 units, cut at a blank line, a line break
    or a space in the second half of a piece when there is one, else mid-word."""
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        end = _prefix_that_fits(rest, limit)
        head = rest[:end]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            position = head.rfind(separator)
            if position >= end // 2:
                cut = position
                break
        if cut <= 0:
            pieces.append(head)
            rest = rest[end:]
        else:
            pieces.append(head[:cut].rstrip())
            rest = rest[cut:].lstrip("\n ")
    if rest.strip() or not pieces:
        pieces.append(rest)
    return pieces


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _prefix_that_fits(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 units."""
    used = 0
    for position, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return position
    return len(text)

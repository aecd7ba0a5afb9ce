"""Text normalisation for matching what people type on phone keyboards."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def fold(text: str) -> str:
    """Lower-case, without diacritics, single-spaced: "Đang thử  nghiệm" → "dang thu nghiem"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", stripped).strip().lower()


def clean(text: str) -> str:
    """Trimmed, NFC, control characters removed (newlines and tabs kept)."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


def fold_code(code: str) -> str:
    """Item codes as typed: "3.7.dd", "3.7.đ" and "3.7.Đ" are the same code."""
    code = code.strip().lower().replace("đ", "dd")
    return code.rstrip(".")


# What a message may be: channels send at most a few thousand characters.
MAX_INPUT = 4096
_INPUT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_input(text: str) -> str:
    """A message as the engine reads it: without NUL and other control characters (newlines
    and tabs kept) or lone surrogates, and at most ``MAX_INPUT`` characters."""
    return _INPUT_CONTROL.sub("", text[:MAX_INPUT])

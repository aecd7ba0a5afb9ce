"""Page measures of the documents (Nghị định 30/2020/NĐ-CP) and text widths in the shipped
fonts, so that a line the code breaks (an issuing body's name in the header block) breaks
where a person would, in the PDF and the DOCX alike."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont

from templates.wording import wording

FONTS_DIR = Path(__file__).parent / "fonts"
SERIF = {
    (False, False): "LiberationSerif-Regular.ttf",
    (True, False): "LiberationSerif-Bold.ttf",
    (False, True): "LiberationSerif-Italic.ttf",
    (True, True): "LiberationSerif-BoldItalic.ttf",
}
# A4, margins in mm (Nghị định 30/2020, Phụ lục I: top and bottom 20–25, left 30–35, right
# 15–20); the same in the CSS (form.css) and the DOCX template (build_docx_template.py).
PAGE_MM = (210.0, 297.0)
MARGINS_MM = {"top": 20.0, "bottom": 20.0, "left": 30.0, "right": 15.0}
TEXT_WIDTH_MM = PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]
# The header block: the issuing body on the left, Quốc hiệu and Tiêu ngữ on the right.
HEADER_LEFT_MM = 65.0
HEADER_RIGHT_MM = TEXT_WIDTH_MM - HEADER_LEFT_MM
# Font sizes (pt): body 13–14 pt, tables 12–13 pt, header lines 12–13 pt, motto 13–14 pt.
BODY_PT = 13
TITLE_PT = 14
TABLE_PT = 12
HEADER_PT = 12
MOTTO_PT = 13


@cache
def _metrics(bold: bool, italic: bool) -> tuple[dict[int, str], dict[str, int], int]:
    font = TTFont(FONTS_DIR / SERIF[(bold, italic)], lazy=True)
    widths = {name: advance for name, (advance, _lsb) in font["hmtx"].metrics.items()}
    return font.getBestCmap(), widths, font["head"].unitsPerEm


def text_width_mm(text: str, size_pt: float, bold: bool = False, italic: bool = False) -> float:
    """The advance width of ``text`` on one line in Liberation Serif (Times New Roman's
    metrics), in mm."""
    cmap, widths, units = _metrics(bold, italic)
    notdef = widths.get(".notdef", units // 2)
    total = sum(widths.get(cmap.get(ord(ch), ".notdef"), notdef) for ch in text)
    return total / units * size_pt * 25.4 / 72


@cache
def break_name(
    text: str, width_mm: float, size_pt: float, bold: bool = True, first: str | None = None
) -> list[str]:
    """``text`` on as few lines as fit ``width_mm``, broken where a person would (the
    ``line_breaks`` of documents.vi.yaml: before "VÀ", "CỦA", "TỈNH …", after a comma; never
    after "VÀ"), else as evenly as possible. ``first``: a leading phrase that stands on a line
    of its own when the text does not fit on one ("ỦY BAN NHÂN DÂN")."""
    text = " ".join(text.split())
    if text_width_mm(text, size_pt, bold) <= width_mm:
        return [text]
    if first and text.startswith(first + " "):
        return [first, *break_name(text[len(first) + 1 :], width_mm, size_pt, bold)]
    words = text.split(" ")
    for count in range(2, len(words) + 1):
        best = _best_split(words, count, width_mm, size_pt, bold)
        if best is not None:
            return best
    return words


def _best_split(
    words: list[str], count: int, width_mm: float, size_pt: float, bold: bool
) -> list[str] | None:
    """The split of ``words`` into ``count`` lines that fit with the fewest breaks at other
    places than good ones, then with the shortest longest line; None when none fits."""
    best: tuple[int, float, list[str]] | None = None
    for cuts in _cuts(len(words), count):
        lines = [" ".join(words[a:b]) for a, b in zip((0, *cuts), (*cuts, len(words)), strict=True)]
        if any(_ends_badly(line) for line in lines[:-1]):
            continue
        widest = max(text_width_mm(line, size_pt, bold) for line in lines)
        if widest > width_mm:
            continue
        elsewhere = sum(
            1
            for before, line in zip(lines, lines[1:], strict=False)
            if not _good_break(before, line)
        )
        key = (elsewhere, round(widest, 1), lines)
        if best is None or key[:2] < best[:2]:
            best = key
    return best[2] if best else None


def _ends_badly(line: str) -> bool:
    return line.split(" ")[-1].upper() in wording()["line_breaks"]["never_after"]


def _good_break(before: str, after: str) -> bool:
    if before.endswith(","):
        return True
    upper = after.upper()
    return any(upper == w or upper.startswith(w + " ") for w in wording()["line_breaks"]["before"])


def _cuts(length: int, count: int, start: int = 1) -> list[tuple[int, ...]]:
    """Every way to cut ``length`` words into ``count`` non-empty lines."""
    if count == 1:
        return [()]
    return [
        (cut, *rest)
        for cut in range(start, length - count + 2)
        for rest in _cuts(length, count - 1, cut + 1)
    ]

"""Plausible typed answers for any item: used by the form walk tests and the benchmarks."""

from __future__ import annotations

from dialogs.spec import Item


def sample_answer(item: Item, year: int) -> str:
    """What a person might type. Every count is the same small number, so most parts never
    exceed their wholes; ``smaller_answer`` is the retry after a sum-of-parts refusal."""
    if item.code == "1.1" and item.kind == "integer":
        return str(year)
    if item.kind == "integer":
        return str(min(max(int(item.min or 0), 5), int(item.max if item.max is not None else 5)))
    if item.kind == "decimal":
        return "2,5"
    if item.kind == "fraction":
        return "5/5"
    if item.kind in ("yes_no", "tri_state", "choice", "multi_choice"):
        return "1"
    return "Nội dung trả lời & <thử>"


def smaller_answer(item: Item) -> str | None:
    if item.kind == "integer":
        return "0"
    if item.kind == "fraction":
        return "0/5"
    return None

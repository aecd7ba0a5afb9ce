"""What staff commands and the turn runner need from outside the conversation: the forms, a
document renderer and the campaign ranking. ``bot/app.py`` wires the real ones in (the
documents live in ``templates/``, which the conversation does not import)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dialogs.messages import Document
from dialogs.payloads import OpenPage
from dialogs.spec import FormSpec

# Submission id → its documents (DOCX, PDF), rendered after the submission is committed.
DocumentRenderer = Callable[[int], Awaitable[list[Document]]]


class RankedUnit(Protocol):
    """One unit of a ranking (``templates.export.UnitRow``)."""

    unit: str
    status: str
    rank: int
    card: Any  # dialogs.scoring.ScoreCard


@dataclass(frozen=True)
class Ranking:
    rows: Sequence[RankedUnit]  # every unit of the campaign, best first
    xlsx: bytes  # the ranking sheet


# (form, year) → the campaign's ranking.
Ranker = Callable[[FormSpec, int], Awaitable[Ranking]]


class ReviewLinker(Protocol):
    """Signs the link to a person's read-only page of their whole form
    (``bot.links.ReviewLinks``)."""

    def page(self, submission_id: int, channel: str, user: str) -> OpenPage: ...


@dataclass
class Services:
    forms: dict[str, FormSpec]
    render_documents: DocumentRenderer | None = None
    rank: Ranker | None = None
    # FORMBOT_PUBLIC_URL: where the web pages are (links in the reviewers' notices); None: no
    # links.
    public_url: str | None = None
    review_links: ReviewLinker | None = None

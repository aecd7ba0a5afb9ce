"""One turn of a respondent's conversation: what it read, and what it will write.

Handlers (``dialogs.respondent``, ``dialogs.answering``, ``dialogs.asking``) work on a
``Turn`` and never touch the database: they change its phase and cursor and ``record``
answers; the turn runner (``dialogs.turns``) writes all of it at the end, in the same
transaction that read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialogs.messages import Inbound
from dialogs.services import ReviewLinker
from dialogs.spec import FormSpec, Item
from dialogs.state import FormState
from storage.turns import AnswerWrite, EvidenceRow, EvidenceWrite, TurnRow, TurnWrites


@dataclass
class Turn:
    inbound: Inbound
    row: TurnRow
    spec: FormSpec
    state: FormState
    previous_year: dict[str, Any]  # last year's answers, for "Giữ như năm trước"
    phase: str
    cursor: str | None
    return_to: str | None
    pending: Any = None  # input in progress (dialogs.pending), kept in the database
    answers: list[AnswerWrite] = field(default_factory=list)
    status: str | None = None  # a new submission status (submitted), set by /nop
    submitted_at: datetime | None = None
    late: bool = False  # typed, and older than a message already applied (set by the runner)
    last_order: int | None = None  # the sender's order to keep if this turn writes
    # Signs the link to the whole form's page; None without a public URL.
    links: ReviewLinker | None = None
    # The submission's evidence, read on the turn's transaction only when a handler asks.
    read_evidence: Callable[[], list[EvidenceRow]] | None = field(default=None, repr=False)
    new_evidence: list[EvidenceWrite] = field(default_factory=list)
    _evidence: list[EvidenceRow] | None = field(default=None, repr=False)

    @property
    def evidence(self) -> list[EvidenceRow]:
        """The evidence stored before this turn (oldest first)."""
        if self._evidence is None:
            self._evidence = self.read_evidence() if self.read_evidence is not None else []
        return self._evidence

    @property
    def item(self) -> Item | None:
        return self.spec.by_code.get(self.cursor) if self.cursor else None

    @property
    def unit(self) -> str:
        return self.row.unit_name

    @property
    def year(self) -> int:
        return self.row.year

    @property
    def submission_id(self) -> int:
        return self.row.submission_id

    @property
    def submission_status(self) -> str:
        return self.status or self.row.status

    def record(self, item: Item, after: FormState) -> None:
        """Store the answer ``after`` holds for ``item`` (written when the turn ends), with
        the warnings kept for it; ``after`` becomes the turn's state."""
        old = self.state.stored.get(item.code)
        new = after.stored[item.code]
        kind = item.type
        kept = [
            {"rule": c.constraint.rule, "message": after.message(c.constraint)}
            for c in after.broken_rules(item.code)
            if c.constraint.rule in new.kept
        ]
        same = old is not None and (old.value, old.skipped) == (new.value, new.skipped)
        self.answers.append(
            AnswerWrite(
                code=item.code,
                old_value=kind.to_json(old.value) if old else None,
                value=kind.to_json(new.value),
                raw=new.raw,
                skipped=new.skipped,
                warnings=kept or None,
                history=not (same and old.kept != new.kept),
            )
        )
        self.state = after

    @property
    def changed(self) -> bool:
        return bool(
            self.answers or self.status or self.new_evidence or self.pending != self.row.pending
        )

    def writes(self) -> TurnWrites:
        return TurnWrites(
            respondent_id=self.row.respondent_id,
            channel=self.inbound.channel,
            message_id=self.inbound.message_id,
            phase=self.phase,
            cursor=self.cursor,
            return_to=self.return_to,
            submission_id=self.row.submission_id,
            expected_version=self.row.version,
            answers=tuple(self.answers),
            status=self.status,
            submitted_at=self.submitted_at,
            pending=self.pending,
            last_order=self.last_order,
            evidence=tuple(self.new_evidence),
        )

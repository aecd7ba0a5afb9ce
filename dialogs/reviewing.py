"""What the reviewers' web console (``/submissions/<id>``) calls for evidence and appraisal.

Each function takes an open ``AsyncSession`` (the caller owns the transaction, as for
``dialogs.staff``) and the forms; none renders anything. The page shows, per item, the unit's
answer, the evidence sent (``item_evidence``), a download per file (``evidence_download``),
and a form to record the appraised value and a note (``appraise``, ``withdraw_appraisal``);
the score with both the self-assessment and the appraisal comes from ``scores``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialogs.campaigns import campaign_best
from dialogs.evidence import megabytes, wants_evidence
from dialogs.kinds import format_value, parse_answer
from dialogs.parsing import Refusal
from dialogs.scoring import ScorePair, rubric_for, score_both
from dialogs.snapshot import Snapshot, load_snapshot
from dialogs.spec import FormSpec, all_forms
from dialogs.text import clean_input
from storage import evidence as store
from storage import repo
from storage.evidence import AppraisalRow, EvidenceInfo
from templates.messages import say

MAX_NOTE = 2000


@dataclass(frozen=True)
class EvidenceEntry:
    """One file or link as the page lists it."""

    id: int
    kind: str  # file | link
    name: str  # the file name, or the link
    url: str | None
    mime_type: str | None
    size: int
    size_text: str  # "1,5 MB"; "" for a link
    received_at: datetime
    channel: str | None


@dataclass(frozen=True)
class ItemEvidence:
    """An item of the submission with its answer, evidence and appraisal."""

    code: str
    label: str
    evidence: str | None  # required | optional | None (the item takes none, yet has some)
    hint: str | None
    answer: str  # the unit's answer as people read it ("" unanswered)
    entries: list[EvidenceEntry] = field(default_factory=list)
    appraised: str | None = None  # the appraised value as people read it
    note: str | None = None
    reviewer: str | None = None
    wanted: bool = False  # the answer is something to prove (not "Không", 0 or unanswered)

    @property
    def missing(self) -> bool:
        """Required evidence that the answer calls for and that was not sent."""
        return self.evidence == "required" and self.wanted and not self.entries


@dataclass(frozen=True)
class EvidenceDownload:
    filename: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class Appraised:
    """The outcome of ``appraise``: stored (``refusal`` None), or the Vietnamese reason."""

    code: str
    value: Any = None
    shown: str = ""
    refusal: str | None = None


def _entry(info: EvidenceInfo) -> EvidenceEntry:
    return EvidenceEntry(
        id=info.id,
        kind=info.kind,
        name=info.filename or info.url or "",
        url=info.url,
        mime_type=info.mime_type,
        size=info.size,
        size_text=megabytes(info.size) if info.kind == "file" else "",
        received_at=info.received_at,
        channel=info.channel,
    )


async def item_evidence(
    session, submission_id: int, forms: dict[str, FormSpec] | None = None
) -> list[ItemEvidence] | None:
    """Per item that takes evidence, has some or was appraised (in form order): the answer,
    the evidence and the appraisal; None when there is no such submission."""
    snapshot = await load_snapshot(session, submission_id, forms)
    if snapshot is None:
        return None
    appraisals = (await store.list_appraisals(session, [submission_id]))[submission_id]
    return await snapshot_evidence(session, snapshot, appraisals)


async def snapshot_evidence(
    session, snapshot: Snapshot, appraisals: dict[str, AppraisalRow]
) -> list[ItemEvidence]:
    """``item_evidence`` of a loaded submission and its appraisals (the web page has both)."""
    spec, state = snapshot.spec, snapshot.state
    submission_id = snapshot.submission.id
    files = (await store.list_evidence(session, [submission_id]))[submission_id]
    by_code: dict[str, list[EvidenceEntry]] = {}
    for info in files:
        by_code.setdefault(info.code, []).append(_entry(info))
    items = []
    for item in spec.items:
        appraisal = appraisals.get(item.code)
        if not (item.evidence or item.code in by_code or appraisal):
            continue
        items.append(
            ItemEvidence(
                code=item.code,
                label=item.label,
                evidence=item.evidence,
                hint=item.evidence_hint,
                answer=format_value(item, state.value(item.code)),
                entries=by_code.get(item.code, []),
                appraised=_shown(spec, item.code, appraisal),
                note=appraisal.note if appraisal else None,
                reviewer=appraisal.reviewer if appraisal else None,
                wanted=wants_evidence(item, state.value(item.code)),
            )
        )
    return items


def _shown(spec: FormSpec, code: str, appraisal: AppraisalRow | None) -> str | None:
    if appraisal is None:
        return None
    item = spec.by_code[code]
    return format_value(item, item.type.from_json(appraisal.value))


async def evidence_download(
    session, submission_id: int, evidence_id: int
) -> EvidenceDownload | None:
    """The bytes of one evidence file of the submission (served as an attachment with the
    stored type: it was checked when received); None for a link or another submission's."""
    found = await store.evidence_bytes(session, submission_id, evidence_id)
    if found is None:
        return None
    info, data = found
    return EvidenceDownload(info.filename or f"{info.code}", info.mime_type or "", data)


async def appraise(
    session,
    submission_id: int,
    code: str,
    typed: str,
    note: str | None = None,
    reviewer: str | None = None,
    forms: dict[str, FormSpec] | None = None,
) -> Appraised:
    """Record the appraised value of ``code`` as a reviewer typed it (read like a unit's
    answer: "có", "12/30", "15 triệu"), with a note. A value that cannot be read is refused
    with the reason and nothing is stored. Typing "không tính" (or "-") appraises the item
    as not counting."""
    submission = await repo.get_submission(session, submission_id)
    forms = forms if forms is not None else all_forms()
    if submission is None:
        return Appraised(code, refusal=say("appraisal_no_submission", id=submission_id))
    spec = forms[submission.form_id]
    item = spec.by_code.get(code)
    if item is None or not item.asked:
        return Appraised(code, refusal=say("appraisal_unknown_code", code=code))
    typed = clean_input(typed or "").strip()
    note = clean_input(note).strip()[:MAX_NOTE] if note else None
    if typed.lower() in ("-", "không tính", "khong tinh"):
        value = None
    else:
        try:
            value = parse_answer(item, typed)
        except Refusal as refusal:
            params = {"unit": item.unit, "text": typed[:40], "optional": False, **refusal.params}
            return Appraised(code, refusal=say(refusal.key, **params))
    await store.save_appraisal(
        session, submission_id, code, item.type.to_json(value), typed, note or None, reviewer
    )
    return Appraised(code, value, format_value(item, value))


async def withdraw_appraisal(session, submission_id: int, code: str) -> bool:
    """Remove the appraisal of ``code``: the unit's own answer counts again."""
    return await store.delete_appraisal(session, submission_id, code)


async def appraised_values(session, spec: FormSpec, submission_id: int) -> dict[str, Any]:
    """The appraised values of a submission (code → value as ``dialogs.kinds`` parses it)."""
    rows = (await store.list_appraisals(session, [submission_id]))[submission_id]
    return parsed_appraisals(spec, rows)


def parsed_appraisals(spec: FormSpec, rows: dict[str, AppraisalRow]) -> dict[str, Any]:
    return {
        code: spec.by_code[code].type.from_json(row.value)
        for code, row in rows.items()
        if code in spec.by_code
    }


async def scores(
    session, submission_id: int, forms: dict[str, FormSpec] | None = None, as_of=None
) -> ScorePair | None:
    """The self-score and the appraised score of a submission, side by side."""
    snapshot = await load_snapshot(session, submission_id, forms)
    if snapshot is None:
        return None
    pair, _rows = await snapshot_scores(session, snapshot, as_of)
    return pair


async def snapshot_scores(
    session, snapshot: Snapshot, as_of=None
) -> tuple[ScorePair, dict[str, AppraisalRow]]:
    """The self-score and the appraised score of a loaded submission, and the appraisals they
    read (the documents list them beside the answers)."""
    spec = snapshot.spec
    rubric = rubric_for(spec)
    best = await campaign_best(session, spec, snapshot.submission.year, rubric)
    rows = (await store.list_appraisals(session, [snapshot.submission.id]))[snapshot.submission.id]
    appraised = parsed_appraisals(spec, rows)
    return score_both(spec, snapshot.state, appraised, rubric, best, as_of), rows

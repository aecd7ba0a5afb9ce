"""Collecting evidence in the conversation (channel-independent).

After an answer to an item that takes evidence (``evidence:`` in the spec) and is something to
prove (``dialogs.evidence.wants_evidence``), the bot asks for it with the item's hint, and the
person's position is "sending evidence for CODE" (``pending = {"evidence": CODE}``, kept in the
database like any input in progress). Then:

- a photo or file: stored if it passed the checks (``dialogs.evidence``), refused with the
  reason otherwise; the same file twice for an item is stored once;
- an http(s) link: stored; something that looks like another kind of link: refused;
- "xong" (or the Xong button): on to the next question; a ``required`` item needs one piece
  first; ``/boqua`` on an optional item: on without evidence;
- ``/bangchung CODE`` asks again later; ``/bangchung`` lists what was sent.

Handlers work on a ``Turn`` and write through it (``Turn.new_evidence``), as the rest of a
turn does; the bytes were downloaded and checked before the turn's transaction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from dialogs.asking import ask_current
from dialogs.evidence import (
    MAX_FILE,
    MAX_SUBMISSION,
    EvidenceRefusal,
    check_file,
    check_link,
    looks_like_link,
    megabytes,
    wants_evidence,
)
from dialogs.messages import Attachment, Option, Outbound
from dialogs.payloads import Done, RunCommand
from dialogs.phases import EDITABLE_STATUSES
from dialogs.spec import Item
from dialogs.text import fold, fold_code
from dialogs.turn import Turn
from storage.turns import EvidenceWrite
from templates.messages import say

log = logging.getLogger(__name__)

DONE_WORDS = {"xong", "da xong", "het", "du roi", "xong roi", "done", "tiep", "tiep tuc"}
PENDING = "evidence"


def hint(item: Item) -> str:
    return item.evidence_hint or say("evidence_hint_default")


def waiting_for(turn: Turn) -> Item | None:
    """The item whose evidence the person is sending, if any."""
    pending = turn.pending
    if isinstance(pending, dict) and PENDING in pending:
        return turn.spec.by_code.get(pending[PENDING])
    return None


def after_answer(turn: Turn, item: Item, value, saved: list[str]) -> list[Outbound] | None:
    """Called once an answer is stored and the cursor moved on: the request for evidence
    when ``item`` takes it, else None (the next question is asked as usual)."""
    if not wants_evidence(item, value):
        return None
    turn.pending = {PENDING: item.code}
    return [_request(turn, item, saved)]


def _request(turn: Turn, item: Item, before: list[str]) -> Outbound:
    required = item.evidence == "required"
    sent = _sent(turn, item.code)
    text = say(
        "evidence_ask",
        code=item.code,
        hint=hint(item),
        required=required,
        count=len(sent),
    )
    return Outbound("\n\n".join([*before, text]), *_buttons(item), evidence_for=item.code)


def _buttons(item: Item) -> tuple[tuple[Option, ...], tuple[Option, ...]]:
    options = (Option(say("evidence_done_button"), Done(item.code), "xong", button_only=True),)
    nav = ()
    if item.evidence != "required":
        nav = (Option(say("nav_skip"), RunCommand("boqua"), "/boqua"),)
    return options, nav


def _sent(turn: Turn, code: str) -> list:
    stored = [row for row in turn.evidence if row.code == code]
    return stored + [write for write in turn.new_evidence if write.code == code]


def collect(turn: Turn, skip: bool = False) -> list[Outbound]:
    """A message while the person is sending evidence (``waiting_for`` is not None)."""
    item = waiting_for(turn)
    if item is None:
        turn.pending = None
        return ask_current(turn, [])
    inbound = turn.inbound
    attachment = inbound.attachment
    if attachment is not None:
        if attachment.refusal is not None or attachment.file is None:
            return [_again(item, attachment.refusal or say("evidence_download_failed"))]
        return _take_file(turn, item)
    payload = inbound.payload
    text = (inbound.text or "").strip()
    if skip or isinstance(payload, Done) or fold(text).rstrip(".!") in DONE_WORDS:
        return _finish(turn, item, skip)
    if looks_like_link(text):
        try:
            url = check_link(text)
        except EvidenceRefusal as refusal:
            return [_again(item, refusal.message)]
        return _take_link(turn, item, url)
    required = item.evidence == "required"
    return [_again(item, say("evidence_waiting", code=item.code, required=required))]


def _again(item: Item, reason: str) -> Outbound:
    return Outbound(reason, *_buttons(item), evidence_for=item.code)


def _take_file(turn: Turn, item: Item) -> list[Outbound]:
    file = turn.inbound.attachment.file
    if any(getattr(row, "digest", None) == file.digest for row in _sent(turn, item.code)):
        return [_again(item, say("evidence_duplicate", name=file.filename, code=item.code))]
    digests = {row.digest: row.size for row in turn.evidence if row.digest}
    digests.update({w.digest: w.size for w in turn.new_evidence if w.digest})
    used = sum(digests.values())
    if file.digest not in digests and used + file.size > MAX_SUBMISSION:
        reason = say("evidence_submission_full", used=megabytes(used), size=megabytes(file.size))
        return [_again(item, reason)]
    filename = file.filename
    if turn.inbound.attachment.filename is None:  # a photo has no name: "anh-5.8.1-2.jpg"
        extension = filename.rsplit(".", 1)[-1]
        filename = say(
            "evidence_photo_name", code=item.code, number=len(_sent(turn, item.code)) + 1
        )
        filename = f"{filename}.{extension}"
    turn.new_evidence.append(
        EvidenceWrite(
            code=item.code,
            kind="file",
            filename=filename,
            size=file.size,
            digest=file.digest,
            mime_type=file.mime_type,
            data=file.data if file.digest not in digests else None,
        )
    )
    return [_received(turn, item, filename, megabytes(file.size))]


def _take_link(turn: Turn, item: Item, url: str) -> list[Outbound]:
    if any(getattr(row, "url", None) == url for row in _sent(turn, item.code)):
        return [_again(item, say("evidence_duplicate", name=url, code=item.code))]
    turn.new_evidence.append(EvidenceWrite(code=item.code, kind="link", filename=None, url=url))
    return [_received(turn, item, url, None)]


def _received(turn: Turn, item: Item, name: str, size: str | None) -> Outbound:
    count = len(_sent(turn, item.code))
    text = say("evidence_received", name=name, size=size, code=item.code, count=count)
    return Outbound(text, *_buttons(item), evidence_for=item.code)


def _finish(turn: Turn, item: Item, skip: bool) -> list[Outbound]:
    count = len(_sent(turn, item.code))
    if not count and item.evidence == "required":
        return [_again(item, say("evidence_required_missing", code=item.code, hint=hint(item)))]
    turn.pending = None
    if count:
        return ask_current(turn, [say("evidence_done", code=item.code, count=count)])
    return ask_current(turn, [say("evidence_skipped", code=item.code)])


def unexpected(turn: Turn) -> list[Outbound]:
    """A photo or file when no evidence was asked for: nothing is stored."""
    codes = evidence_codes(turn)
    if not codes:
        return ask_current(turn, [say("evidence_not_expected_none")])
    return ask_current(turn, [say("evidence_not_expected", example=codes[0])])


def evidence_codes(turn: Turn) -> list[str]:
    """The items of the form that take evidence and apply now."""
    applies = turn.state.applies
    return [i.code for i in turn.spec.items if i.evidence and applies.get(i.code, True)]


def command(turn: Turn, argument: str = "") -> list[Outbound]:
    """``/bangchung`` lists the evidence sent; ``/bangchung CODE`` asks for more for CODE."""
    if not argument.strip():
        return [Outbound(listing(turn), informational=True)]
    if turn.submission_status not in EDITABLE_STATUSES:
        return [Outbound(say("evidence_closed"))]
    code = fold_code(argument.split()[0])
    item = next((i for i in turn.spec.items if fold_code(i.code) == code), None)
    codes = evidence_codes(turn)
    if item is None or not item.evidence:
        shown = argument.split()[0][:20]
        return [Outbound(say("evidence_unknown_code", code=shown, codes=codes), informational=True)]
    turn.pending = {PENDING: item.code}
    if turn.inbound.attachment is not None:  # the file came with "/bangchung CODE" as caption
        return collect(turn)
    return [_request(turn, item, [])]


def missing_required(turn: Turn) -> list[Item]:
    """The items whose answers call for required evidence that was not sent."""
    applies = turn.state.applies
    wanted = [
        item
        for item in turn.spec.items
        if item.evidence == "required"
        and applies.get(item.code, True)
        and wants_evidence(item, turn.state.value(item.code))
    ]
    if not wanted:  # most forms: no read of the evidence at all
        return []
    sent = {row.code for row in turn.evidence} | {w.code for w in turn.new_evidence}
    return [item for item in wanted if item.code not in sent]


def ask_before_submit(turn: Turn, missing: list[Item]) -> list[Outbound]:
    """``/nop`` while required evidence is missing: it is asked for, the first item first."""
    codes = [item.code for item in missing]
    turn.pending = {PENDING: codes[0]}
    return [_request(turn, missing[0], [say("evidence_missing_before_submit", codes=codes)])]


def listing(turn: Turn) -> str:
    """What was sent per item, and the items that still lack their required evidence."""
    codes = evidence_codes(turn)
    if not codes:
        return say("evidence_not_expected_none")
    lines = [say("evidence_list_header")]
    for code in codes:
        item = turn.spec.by_code[code]
        rows = [row for row in turn.evidence if row.code == code]
        names = [row.filename or row.url or "" for row in rows]
        wanted = wants_evidence(item, turn.state.value(code))
        lines.append(
            say(
                "evidence_list_item",
                code=code,
                names=names,
                required=item.evidence == "required" and wanted,
            )
        )
    lines.append(say("evidence_list_footer", example=codes[0]))
    return "\n".join(lines)


async def prepare_attachment(attachment: Attachment) -> Attachment:
    """Download a photo or file and check it (``dialogs.evidence``): the attachment with
    its ``file``, or with the ``refusal`` to tell the person (nothing is stored then)."""
    if attachment.size is not None and attachment.size > MAX_FILE:
        reason = say("evidence_too_large", size=megabytes(attachment.size))
        return replace(attachment, refusal=reason)
    if attachment.fetch is None:
        return replace(attachment, refusal=say("evidence_download_failed"))
    try:
        data = await attachment.fetch()
    except EvidenceRefusal as refusal:  # the download itself saw it was too large
        return replace(attachment, refusal=refusal.message)
    except Exception:
        log.warning("downloading an attachment failed", exc_info=True)
        return replace(attachment, refusal=say("evidence_download_failed"))
    try:
        checked = await asyncio.to_thread(check_file, data, attachment.filename)
    except EvidenceRefusal as refusal:
        return replace(attachment, refusal=refusal.message)
    return replace(attachment, file=checked)

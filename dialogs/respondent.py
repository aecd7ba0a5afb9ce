"""A respondent's commands: moving through the form (/tieptuc, /quaylai, /sua, /huy) and
submitting it (/nop and its confirmation). They work on a ``Turn``; the turn runner writes
what they changed."""

from __future__ import annotations

from dialogs import collecting
from dialogs.answering import next_code
from dialogs.asking import ask_current, greeting
from dialogs.messages import Option, Outbound
from dialogs.parsing import Refusal, parse_yes_no
from dialogs.payloads import Confirm
from dialogs.phases import CONVERSATION, EDITABLE_STATUSES, SUBMISSION
from dialogs.text import fold_code
from dialogs.turn import Turn
from storage.models import utcnow
from templates.messages import say

MISSING_SHOWN = 15


def closed(turn: Turn) -> list[Outbound]:
    """The reply to anything but a look on a submitted or approved form."""
    status = turn.submission_status
    when = turn.row.submitted_at
    text = say(
        "approved" if status == "approved" else "already_submitted",
        unit=turn.unit,
        year=turn.year,
        when=when.strftime("%d/%m/%Y %H:%M") if when else None,
    )
    return [Outbound(text)]


def welcome(turn: Turn) -> list[Outbound]:
    """Just joined a form (or the console bound its operator): greeting, first open question."""
    if turn.item is None or not turn.state.applies.get(turn.item.code, False):
        turn.cursor = next_code(turn.state, None)
    return ask_current(turn, [greeting(turn, first=True)])


def next_year(turn: Turn, previous_year: int) -> list[Outbound]:
    """The person's form of ``previous_year`` is done and a newer campaign is open: their
    message begins the new form (no new invite needed)."""
    turn.cursor = next_code(turn.state, None)
    notice = say(
        "next_year",
        previous=previous_year,
        year=turn.year,
        unit=turn.unit,
        title=turn.spec.title,
        carried=bool(turn.previous_year),
    )
    return ask_current(turn, [notice])


def start(turn: Turn, argument: str = "") -> list[Outbound]:
    """``/start`` of someone bound already: greeting, then where they are."""
    if turn.item is None or not turn.state.applies.get(turn.item.code, False):
        turn.cursor = next_code(turn.state, None)
    if turn.submission_status not in EDITABLE_STATUSES:
        return closed(turn)
    return ask_current(turn, [greeting(turn, first=False)])


def resume(turn: Turn, argument: str = "") -> list[Outbound]:
    turn.phase = CONVERSATION.next(turn.phase, "move")
    turn.return_to = None
    turn.cursor = next_code(turn.state, None)
    return ask_current(turn, [])


def back(turn: Turn, argument: str = "") -> list[Outbound]:
    previous = turn.state.previous(turn.item)
    if previous is None:
        return ask_current(turn, [say("first_item")])
    turn.phase = CONVERSATION.next(turn.phase, "move")
    turn.return_to = None
    turn.cursor = previous.code
    return ask_current(turn, [])


def edit(turn: Turn, argument: str) -> list[Outbound]:
    """``/sua 3.2.a``: answer that item again, then come back here."""
    if not argument:
        return ask_current(turn, [say("edit_usage")])
    codes = turn.spec.memo("_folded_codes", _folded_codes)
    wanted = fold_code(argument.split()[0])
    item = codes.get(wanted)
    if item is None:
        suggestions = [i.code for code, i in codes.items() if code.startswith(wanted)][:5]
        return [Outbound(say("unknown_code", code=argument, suggestions=suggestions))]
    if item.calculate:
        inputs = list(turn.spec.expressions[item.calculate].refs)
        return [Outbound(say("computed_item", code=item.code, inputs=inputs))]
    if not turn.state.applies[item.code]:
        gates = list(turn.spec.expressions[item.relevant].refs) if item.relevant else []
        return [Outbound(say("not_relevant", code=item.code, gates=gates))]
    if turn.phase != "editing":
        turn.return_to = turn.cursor
    turn.phase = CONVERSATION.next(turn.phase, "edit")
    turn.cursor = item.code
    return ask_current(turn, [])


def _folded_codes(spec) -> dict:
    return {fold_code(item.code): item for item in spec.items}


def cancel(turn: Turn, argument: str = "") -> list[Outbound]:
    """``/huy``: stop editing, stop submitting, or pause."""
    if turn.phase == "editing":
        code = turn.cursor
        turn.cursor = turn.return_to or next_code(turn.state, None)
        turn.return_to = None
        turn.phase = CONVERSATION.next(turn.phase, "cancel")
        return ask_current(turn, [say("edit_cancelled", code=code)])
    if turn.phase == "confirming":
        turn.phase = CONVERSATION.next(turn.phase, "cancel")
        return [Outbound(say("submit_cancelled"))]
    return [Outbound(say("paused"))]


def ask_submit(turn: Turn, argument: str = "") -> list[Outbound]:
    """``/nop``: the missing required items, or the question whether to submit."""
    missing = turn.state.missing_required()
    if missing:
        codes = [i.code for i in missing]
        text = say(
            "missing",
            count=len(codes),
            codes=codes[:MISSING_SHOWN],
            more=max(0, len(codes) - MISSING_SHOWN),
        )
        if turn.item is None or not turn.state.is_open(turn.item):
            turn.cursor = missing[0].code
        turn.phase = CONVERSATION.next(turn.phase, "move")
        return ask_current(turn, [text])
    conflicts = turn.state.conflicts()
    if conflicts:
        codes = list(dict.fromkeys(c.item.code for c in conflicts))
        if turn.phase != "editing":
            turn.return_to = None
        turn.phase = CONVERSATION.next(turn.phase, "edit")
        turn.cursor = codes[0]
        return ask_current(turn, [say("conflicts_left", count=len(codes), codes=codes)])
    evidence = collecting.missing_required(turn)
    if evidence:
        return collecting.ask_before_submit(turn, evidence)
    turn.phase = CONVERSATION.next(turn.phase, "ask_submit")
    done, total = turn.state.totals()
    text = say("confirm_submit", done=done, total=total, unit=turn.unit, year=turn.year)
    options = (
        Option(say("confirm_yes"), Confirm(True), "1"),
        Option(say("confirm_no"), Confirm(False), "2"),
    )
    return [Outbound(text, options=options)]


def confirm(turn: Turn) -> list[Outbound]:
    """The answer to "Xác nhận nộp phiếu?"."""
    payload = turn.inbound.payload
    if isinstance(payload, Confirm):
        yes = payload.yes
    else:
        try:
            yes = parse_yes_no(turn.inbound.text or "")
        except Refusal:
            return [Outbound(say("confirm_again"))]
    if not yes:
        turn.phase = CONVERSATION.next(turn.phase, "cancel")
        return [Outbound(say("submit_cancelled"))]
    if turn.state.missing_required() or turn.state.conflicts():
        turn.phase = CONVERSATION.next(turn.phase, "cancel")
        return ask_submit(turn)
    turn.status = SUBMISSION.next(turn.row.status, "submit")
    turn.submitted_at = utcnow()
    turn.phase = CONVERSATION.next(turn.phase, "submit")
    turn.cursor = None
    text = say("submitted", unit=turn.unit, year=turn.year)
    return [Outbound(text, submitted=turn.submission_id)]

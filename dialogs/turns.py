"""The turn runner: one ``Inbound`` in, the ``Outbound`` replies out, the answer committed
before the replies are returned.

A respondent's message runs as one synchronous function on a database thread
(``storage.turns``): de-duplication, reading their position and answers, the handler
(``dialogs.respondent``, ``answering``, ``asking``), and writing what it changed, in one
transaction that holds the person's lock. A stale version (someone else of the same unit
wrote first) runs the turn again on fresh data. Joining with an invite runs on its own
session under the same lock; staff commands on their own session; documents are rendered
after the commit.

Order: the person's lock applies their messages one at a time across workers; the sender's
order applies them in the order they were sent (``dialogs.ordering``).

Cursor moves (/quaylai, /tieptuc, /sua …) write only the person's own row, which only turns
holding that person's lock write; they read the submission but write nothing a turn of another
person of the unit reads, so they need no version check: such a move and a concurrent answer
of a colleague end as if one had run after the other. Writes of answers and of the status are
version-checked.

The answers of a form are kept per process as long as the submission's version (read in
every turn's transaction) says nobody changed them, so a turn rarely reads them again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from dialogs import (
    access,
    answering,
    collecting,
    commands,
    joining,
    known,
    ordering,
    overview,
    respondent,
    staff,
)
from dialogs import campaigns as camp
from dialogs.commands import Called
from dialogs.messages import Inbound, Outbound
from dialogs.phases import EDITABLE_STATUSES
from dialogs.services import DocumentRenderer, Ranker, Services
from dialogs.snapshot import parse_answers
from dialogs.spec import FormSpec, all_forms
from dialogs.state import FormState
from dialogs.text import clean_input
from dialogs.turn import Turn
from storage import repo
from storage.db import Database
from storage.models import utcnow
from storage.turns import RETRIES, StaleVersion, TurnRow, TurnStatements
from templates.messages import say

log = logging.getLogger(__name__)

CONVERSATION_PHASES = ("answering", "editing", "confirming")
Act = Callable[[Turn], list[Outbound]]  # what a turn does: a command, an answer, a welcome


@dataclass(frozen=True)
class _Committed:
    """What a turn's transaction returns once committed: the replies, and the submission's
    new version and state when it wrote (so the cache can keep them)."""

    replies: list[Outbound]
    submission_id: int | None = None
    version: int | None = None
    state: FormState | None = None


_NOT_BOUND = _Committed([])  # the person fills no form: answered outside a turn


class Engine:
    def __init__(
        self,
        database: Database,
        forms: dict[str, FormSpec] | None = None,
        render_documents: DocumentRenderer | None = None,
        rank: Ranker | None = None,
    ) -> None:
        self.db = database
        self.services = Services(
            forms if forms is not None else all_forms(), render_documents, rank
        )
        self._states: dict[int, tuple[int, FormState]] = {}
        self._previous: dict[int, tuple[int, dict[str, Any]]] = {}

    @property
    def forms(self) -> dict[str, FormSpec]:
        return self.services.forms

    # Entry points ----------------------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        """One message; the answer is committed before the replies are returned."""
        if inbound.text is not None:
            # No NUL or control character reaches the database or a reply (PostgreSQL refuses
            # 0x00 in text), and no text longer than any channel sends.
            inbound = replace(inbound, text=clean_input(inbound.text))
        called = commands.called(inbound)
        if inbound.attachment is not None and not inbound.attachment.ready:
            # Downloaded and checked before the turn's transaction: a slow download or a
            # large photo to decode never holds the person's lock or the database. Only when
            # the person is sending evidence (or names the item in the caption): a stranger's
            # files are never fetched.
            attachment = inbound.attachment
            if await self._wants_files(inbound, called):
                attachment = await collecting.prepare_attachment(attachment)
            else:
                attachment = replace(attachment, unread=True)
            inbound = replace(inbound, attachment=attachment)
        if called is not None and called.command is commands.START and called.argument:
            return await self._join(inbound, called.argument)
        if called is not None and called.command.staff:
            return await self._staff(inbound, called)
        came_back = called is not None and called.command is commands.START
        act = partial(_route, called=called)
        outcome = await self._run(inbound, act, mark=True, unblock=came_back)
        if outcome is _NOT_BOUND:
            return await self._unbound(inbound)
        # Documents are rendered after the commit: they must see the submission as submitted,
        # and a slow PDF must not hold the database.
        return [*outcome.replies, *await self._documents(outcome.replies)]

    async def _wants_files(self, inbound: Inbound, called: Called | None) -> bool:
        if called is not None and called.command.name == "bangchung" and called.argument:
            return True
        pending = await self.db.turns.run(lambda st: st.pending(inbound.channel, inbound.user))
        return isinstance(pending, dict) and collecting.PENDING in pending

    async def bind(
        self,
        channel: str,
        user: str,
        *,
        unit_name: str,
        form_id: str,
        year: int,
        role: str = "respondent",
    ) -> list[Outbound]:
        """Bind a person to a unit's submission directly (the console is a trusted operator);
        the greeting and the current question."""
        async with self.db.session() as session, session.begin():
            await joining.bind_directly(
                session, channel, user, unit_name=unit_name, form_id=form_id, year=year, role=role
            )
        return await self._welcome(Inbound(channel, user))

    async def position(self, channel: str, user: str) -> str | None:
        """The code of the question this person is at, e.g. for an apology after a channel
        error; None when not bound or nothing is open."""
        return await self.db.turns.run(lambda statements: statements.position(channel, user))

    # The respondent's turn -------------------------------------------------------------------

    async def _run(
        self, inbound: Inbound, act: Act, *, mark: bool, unblock: bool = False
    ) -> _Committed:
        """``act`` on the person's turn, on a database thread, retried on a stale version.
        ``mark``: de-duplicate by message id; ``unblock``: they came back (/start) after
        blocking the bot."""
        lock = f"{inbound.channel}:{inbound.user}"
        for _attempt in range(RETRIES):
            try:
                work = partial(self._turn, inbound, act, mark, unblock)
                outcome = await self.db.turns.run(work, lock_key=lock)
            except StaleVersion:
                continue
            if outcome.state is not None:  # committed: the cache may hold the new state
                self._states[outcome.submission_id] = (outcome.version, outcome.state)
            return outcome
        return _Committed([Outbound(say("busy"))])

    def _turn(
        self, inbound: Inbound, act: Act, mark: bool, unblock: bool, st: TurnStatements
    ) -> _Committed:
        """On the database thread, inside the transaction."""
        if mark and inbound.message_id is not None:
            if not st.mark_processed(inbound.channel, inbound.user, str(inbound.message_id)):
                log.info("ignored re-delivered message %s", inbound.message_id)
                return _Committed([])
        if unblock:
            st.unblock(inbound.channel, inbound.user)
        row = st.load(inbound.channel, inbound.user)
        if row is None:
            return _NOT_BOUND
        moved_from = None
        if row.status not in EDITABLE_STATUSES or row.campaign_status == "closed":
            # The person's form is done: a newer campaign of the form begins with this message.
            year = st.newer_campaign(row.form_id, row.year)
            if year is not None:
                st.move_to(row, year)
                moved_from, row = row.year, st.load(inbound.channel, inbound.user)
        turn = self._load(st, inbound, row)
        before = (turn.phase, turn.cursor, turn.return_to)
        if row.version == 0 and row.status in EDITABLE_STATUSES:
            facts = known.known_answers(
                turn.spec, year=row.year, unit_name=row.unit_name, unit_contact=row.unit_contact
            )
            for item, after in known.fill(turn.state, facts):
                turn.record(item, after)
        replies = respondent.next_year(turn, moved_from) if moved_from else act(turn)
        if not turn.changed and (turn.phase, turn.cursor, turn.return_to) == before:
            return _Committed(replies)
        version = st.write(turn.writes())
        if turn.status == "submitted":
            self._tell_reviewers(st, turn, version)
        return _Committed(replies, row.submission_id, version, turn.state)

    def _tell_reviewers(self, st: TurnStatements, turn: Turn, version: int) -> None:
        """A submitted (or resubmitted) form: its campaign's reviewers get a notice, queued in
        this transaction, so the submit and its notices are stored together or not at all."""
        spec, year = turn.spec, turn.year
        reviewers = [
            r for r in st.reviewers() if access.Scope.from_json(r.scope).covers(spec.id, year)
        ]
        if not reviewers:
            return
        try:
            score = camp.notice_score(
                spec, turn.state, lambda codes: st.campaign_answers(spec.id, year, codes)
            )
        except Exception:  # a rubric problem must not refuse the submit: notify without it
            log.exception("scoring submission %s for the reviewers failed", turn.submission_id)
            score = None
        st.enqueue(
            camp.submitted_notices(
                spec=spec,
                unit=turn.unit,
                year=year,
                submission_id=turn.submission_id,
                version=version,
                again=turn.row.status == "returned",
                score=score,
                reviewers=reviewers,
                public_url=self.services.public_url,
            )
        )

    def _load(self, st: TurnStatements, inbound: Inbound, row: TurnRow) -> Turn:
        spec = self.forms[row.form_id]
        now = utcnow()
        cached = self._states.get(row.submission_id)
        if cached is not None and cached[0] == row.version:
            state = cached[1]
        else:
            answers = parse_answers(spec, st.answers(row.submission_id))
            state = FormState(spec, answers, row.year)
            self._states[row.submission_id] = (row.version, state)
        return Turn(
            inbound=inbound,
            row=row,
            spec=spec,
            state=state,
            previous_year=self._previous_year(st, spec, row),
            phase=row.phase if row.phase in CONVERSATION_PHASES else "answering",
            cursor=row.cursor,
            return_to=row.return_to,
            pending=row.pending,
            late=ordering.late(inbound, row, now),
            last_order=ordering.order_after(inbound, row, now),
            links=self.services.review_links,
            read_evidence=partial(st.evidence, row.submission_id),
        )

    def _previous_year(self, st: TurnStatements, spec: FormSpec, row: TurnRow) -> dict:
        """Last year's submitted answers of the same unit and form, for one-tap prefill."""
        if row.previous_id is None:
            return {}
        cached = self._previous.get(row.previous_id)
        if cached is not None and cached[0] == row.previous_version:
            return cached[1]
        values = {
            code: answer.value
            for code, answer in parse_answers(spec, st.answers(row.previous_id)).items()
            if not answer.skipped and answer.value is not None
        }
        self._previous[row.previous_id] = (row.previous_version, values)
        return values

    async def _welcome(self, inbound: Inbound) -> list[Outbound]:
        return (await self._run(inbound, respondent.welcome, mark=False)).replies

    async def _documents(self, replies: list[Outbound]) -> list[Outbound]:
        submitted = [r.submitted for r in replies if r.submitted is not None]
        render = self.services.render_documents
        if not submitted or render is None:
            return []
        try:
            documents = await render(submitted[0])
        except Exception:  # the submission stands even if a document fails to render
            log.exception("rendering documents of submission %s failed", submitted[0])
            return []
        return [Outbound(document.filename, document=document) for document in documents]

    # Joining, staff, strangers ---------------------------------------------------------------

    async def _join(self, inbound: Inbound, code: str) -> list[Outbound]:
        async with self.db.session() as session, session.begin():
            # One at a time per person across workers: the wrong-code count and the binding
            # hold until the commit.
            await repo.lock_person(session, inbound.channel, inbound.user)
            if not await self._fresh(session, inbound):
                return []
            await repo.set_blocked(session, inbound.channel, inbound.user, False)
            outcome = await joining.redeem_invite(session, self.forms, inbound, code.strip())
        if isinstance(outcome, joining.Bound):
            return await self._welcome(inbound)
        if isinstance(outcome, joining.StaffJoined):
            return [*outcome.welcome, *commands.help_replies(outcome.role, bound=False)]
        return outcome

    async def _staff(self, inbound: Inbound, called: Called) -> list[Outbound]:
        command = called.command
        async with self.db.session() as session, session.begin():
            if not await self._fresh(session, inbound):
                return []
            person = await repo.get_respondent(session, inbound.channel, inbound.user)
            role = access.role_of(person, inbound.channel, inbound.user)
            if not access.allowed(role, command.role):
                return access.refuse(inbound, role, command.name, command.role)
            scope = access.scope_of(person, inbound.channel, inbound.user)
            return await staff.run(
                command.handler, self.services, session, inbound, called.argument, scope
            )

    async def _unbound(self, inbound: Inbound) -> list[Outbound]:
        """Someone who fills no form: staff get their help, anyone else an invitation."""
        async with self.db.session() as session:
            person = await repo.get_respondent(session, inbound.channel, inbound.user)
        role = access.role_of(person, inbound.channel, inbound.user)
        return commands.help_replies(role, bound=False) or [Outbound(say("not_bound"))]

    @staticmethod
    async def _fresh(session, inbound: Inbound) -> bool:
        if inbound.message_id is None:
            return True
        fresh = await repo.mark_processed(
            session, inbound.channel, inbound.user, str(inbound.message_id)
        )
        if not fresh:
            log.info("ignored re-delivered message %s", inbound.message_id)
        return fresh


def _route(turn: Turn, *, called: Called | None) -> list[Outbound]:
    """Where a respondent's message goes: a command, the next page of /xem, the submit
    confirmation, or an answer."""
    replies = _dispatch(turn, called)
    pending = turn.row.pending
    if turn.pending is pending and isinstance(pending, dict):
        # Input in progress lasts while its question is current; a /xem page, one message.
        if collecting.PENDING in pending:
            # Sending evidence lasts while the person sends it or only looks (/xem, /tiendo).
            command = called.command if called is not None else None
            if command is not None and not (command.anytime or command.name == "boqua"):
                turn.pending = None
        elif "review" in pending or pending.get("code") != turn.cursor:
            turn.pending = None
    return replies


def _dispatch(turn: Turn, called: Called | None) -> list[Outbound]:
    command = called.command if called else None
    if command is not None and command.anytime:
        return command.handler(turn, called.argument)
    if turn.late:
        return ordering.arrived_late(turn)
    if command is None and (review := overview.continue_review(turn)) is not None:
        return review
    if turn.submission_status not in EDITABLE_STATUSES:
        return respondent.closed(turn)
    if collecting.waiting_for(turn) is not None and (command is None or command.name == "boqua"):
        return collecting.collect(turn, skip=command is not None)
    if command is not None:
        return command.handler(turn, called.argument)
    if turn.inbound.attachment is not None:
        return collecting.unexpected(turn)
    if turn.phase == "confirming":
        return respondent.confirm(turn)
    return answering.answer(turn)

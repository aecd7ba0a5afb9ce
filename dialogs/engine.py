"""The conversation engine: one ``Inbound`` in, the ``Outbound`` replies out.

Channel-independent. Each turn is one database transaction: the message is marked as
processed, the answer (if any) is stored with its history, the respondent's cursor moves,
and the submission's version is bumped; only then are the replies returned to be sent.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import access, review
from dialogs.expressions import REFERENCE
from dialogs.kinds import format_value, parse_answer
from dialogs.locks import StripedLocks
from dialogs.messages import Document, Inbound, Option, Outbound
from dialogs.numbers import format_number
from dialogs.parsing import Refusal, parse_yes_no
from dialogs.payloads import Confirm, KeepPrevious, PickOption, RunCommand
from dialogs.phases import CONVERSATION, EDITABLE_STATUSES, SUBMISSION
from dialogs.snapshot import stored_answers
from dialogs.spec import FormSpec, Heading, Item, all_forms
from dialogs.state import FormState, Stored
from dialogs.text import fold, fold_code
from storage import repo
from storage.db import Database
from storage.models import utcnow
from storage.repo import RespondentView, SubmissionView, UnitView
from templates.messages import say

log = logging.getLogger(__name__)

COMMANDS = {
    "batdau": "start",
    "start": "start",
    "tieptuc": "resume",
    "resume": "resume",
    "quaylai": "back",
    "back": "back",
    "boqua": "skip",
    "skip": "skip",
    "sua": "edit",
    "edit": "edit",
    "xem": "review",
    "review": "review",
    "tiendo": "progress",
    "progress": "progress",
    "nop": "submit",
    "submit": "submit",
    "huy": "cancel",
    "cancel": "cancel",
    "trogiup": "help",
    "help": "help",
    **review.COMMANDS,  # staff: /danhsach /taiphieu /xephang /tralai /duyet /thongbao
}
KEEP_WORDS = {"giu", "giu nguyen", "giu nhu nam truoc", "nhu nam truoc"}
MISSING_SHOWN = 15
LOCK_STRIPES = 1024

DocumentRenderer = Callable[[int], Awaitable[list[Document]]]


@dataclass
class Turn:
    """Everything one turn reads and may change."""

    inbound: Inbound
    respondent: RespondentView
    unit: UnitView
    submission: SubmissionView
    spec: FormSpec
    state: FormState
    previous_year: dict[str, Any]
    phase: str
    cursor: str | None
    return_to: str | None
    changed_answer: bool = False

    @property
    def item(self) -> Item | None:
        return self.spec.by_code.get(self.cursor) if self.cursor else None


class Engine:
    def __init__(
        self,
        database: Database,
        forms: dict[str, FormSpec] | None = None,
        render_documents: DocumentRenderer | None = None,
    ) -> None:
        self.db = database
        self.forms = forms if forms is not None else all_forms()
        self.render_documents = render_documents
        # Striped locks: two messages of one person are handled one after the other in this
        # process; the submission version check covers other processes.
        self._locks = StripedLocks(LOCK_STRIPES)
        # submission id → (version, state): the answers are re-read only after another
        # process (or another engine) has written.
        self._answers_cache: dict[int, tuple[int, FormState]] = {}
        self._previous_cache: dict[int, tuple[float, dict[str, Any]]] = {}
        self._codes = {
            form_id: {fold_code(item.code): item for item in spec.items}
            for form_id, spec in self.forms.items()
        }

    # Entry points ----------------------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        """Handle one message; the answer is committed before the replies are returned."""
        async with self._locks(f"{inbound.channel}:{inbound.user}"):
            for _attempt in range(5):
                try:
                    # A bare connection, not an ORM session: this is the hot path.
                    async with self.db.engine.begin() as connection:
                        replies = await self._turn(connection, inbound)
                    break
                except repo.StaleVersion:
                    continue
            else:
                return [Outbound(say("busy"))]
        # Documents are rendered after the commit: they must see the submission as submitted,
        # and a slow PDF must not hold the database's write lock.
        return [*replies, *await self._documents(replies)]

    async def _documents(self, replies: list[Outbound]) -> list[Outbound]:
        submitted = [r.submitted for r in replies if r.submitted is not None]
        if not submitted or self.render_documents is None:
            return []
        documents = []
        try:
            for document in await self.render_documents(submitted[0]):
                documents.append(Outbound(document.filename, document=document))
        except Exception:  # the submission stands even if a document fails to render
            log.exception("rendering documents of submission %s failed", submitted[0])
        return documents

    async def position(self, channel: str, user: str) -> str | None:
        """The code of the question this person is at (read-only), e.g. for an apology
        after a channel error; None when not bound or nothing is open."""
        async with self.db.engine.connect() as connection:
            views = await repo.load_turn_views(connection, channel, user)
        return views[0].cursor if views else None

    async def bind(
        self,
        channel: str,
        user: str,
        *,
        unit_name: str,
        form_id: str,
        year: int,
        role: str = "respondent",
        name: str | None = None,
    ) -> list[Outbound]:
        """Bind a person to a unit's submission directly (the console is a trusted operator);
        creates the unit if needed. Returns the greeting and the current question."""
        async with self.db.session() as session, session.begin():
            unit = await repo.get_or_create_unit(session, unit_name, form_id)
            return await self._bind(session, channel, user, unit, form_id, year, role, name)

    async def redeem_invite(self, session, inbound: Inbound, code: str) -> list[Outbound]:
        """``/start CODE``: bind the person to the invite's unit and role (the wrong-code limit,
        expiry and uses are checked in ``dialogs.access``)."""
        invite, refusal = await access.check_invite(session, inbound, code)
        if refusal is not None:
            return refusal
        if invite.role == "respondent" and invite.form_id not in self.forms:
            log.error("invite %s is for unknown form %s", invite.code, invite.form_id)
            return [Outbound(say("invite_expired", code=invite.code))]
        existing = await repo.get_respondent(session, inbound.channel, inbound.user)
        if not await access.take_invite(session, invite, existing):
            return [Outbound(say("invite_expired", code=invite.code))]
        unit = await repo.get_unit(session, invite.unit_id)
        if invite.role != "respondent":
            return await review.bind_staff(session, inbound, unit, invite.role)
        role = access.higher(existing.role if existing else None, invite.role)
        return await self._bind(
            session,
            inbound.channel,
            inbound.user,
            unit,
            invite.form_id,
            invite.year,
            role,
            inbound.name,
        )

    async def _bind(self, session, channel, user, unit, form_id, year, role, name):
        spec = self.forms[form_id]
        submission = await repo.get_or_create_submission(session, unit.id, form_id, year)
        existing = await repo.get_respondent(session, channel, user)
        same = existing is not None and existing.submission_id == submission.id
        await repo.bind_respondent(
            session,
            channel=channel,
            external_id=user,
            unit_id=unit.id,
            submission_id=submission.id,
            role=role,
            name=name,
        )
        await session.flush()
        turn = await self._load_turn(session, Inbound(channel, user))
        if not same or turn.cursor is None or turn.item is None:
            turn.cursor = self._next_code(turn.state, None)
        done, total = turn.state.totals()
        key = "welcome_back" if done else "welcome"
        greeting = say(key, title=spec.title, unit=unit.name, year=year, done=done, total=total)
        replies = self._ask_current(turn, [greeting])
        await self._save_conversation(session, turn)
        return replies

    async def fill(
        self, *, unit_name: str, form_id: str, year: int, answers: dict[str, Any]
    ) -> list[tuple[str, bool, str]]:
        """Answer items by code as a person would type them (``formbot fill``): the same
        parser and constraints; returns (code, accepted, what happened) per item."""
        results: list[tuple[str, bool, str]] = []
        async with self.db.session() as session, session.begin():
            unit = await repo.get_or_create_unit(session, unit_name, form_id)
            submission = await repo.get_or_create_submission(session, unit.id, form_id, year)
        spec = self.forms[form_id]
        for code, typed in answers.items():
            async with self.db.session() as session, session.begin():
                submission = await repo.get_submission(session, submission.id)
                state = await self._state(session, spec, submission)
                item = self._codes[form_id].get(fold_code(str(code)))
                if item is None:
                    results.append(
                        (str(code), False, say("unknown_code", code=code, suggestions=[]))
                    )
                    continue
                value, problem, after = self._check_answer(spec, state, item, str(typed))
                if problem:
                    results.append((item.code, False, problem))
                    continue
                await self._store(session, submission, state, after, item, None, None)
                results.append((item.code, True, format_value(item, value)))
        return results

    # One turn --------------------------------------------------------------------------------

    async def _turn(self, connection, inbound: Inbound) -> list[Outbound]:
        if inbound.message_id is not None:
            fresh = await repo.mark_processed(
                connection, inbound.channel, inbound.user, str(inbound.message_id)
            )
            if not fresh:
                log.info("ignored re-delivered message %s", inbound.message_id)
                return []
        command, argument = self._command(inbound)
        if command == "start":  # someone who blocked the bot and comes back
            await repo.set_blocked(connection, inbound.channel, inbound.user, False)
        if command == "start" and argument:
            async with AsyncSession(bind=connection, expire_on_commit=False) as session:
                replies = await self.redeem_invite(session, inbound, argument.strip())
                await session.flush()
            return replies
        if command in review.HANDLERS:
            return await self._staff(connection, inbound, command, argument)
        turn = await self._load_turn(connection, inbound)
        if turn is None:  # staff who fill no form get their help; anyone else an invitation
            return await self._staff(connection, inbound, command, argument)
        replies = await self._dispatch(connection, turn, command, argument)
        await self._save_conversation(connection, turn)
        return replies

    async def _staff(self, connection, inbound: Inbound, command, argument) -> list[Outbound]:
        async with AsyncSession(bind=connection, expire_on_commit=False) as session:
            respondent = await repo.get_respondent(session, inbound.channel, inbound.user)
            replies = await review.handle(self, session, inbound, respondent, command, argument)
            await session.flush()
        return replies

    def _command(self, inbound: Inbound) -> tuple[str | None, str]:
        if isinstance(inbound.payload, RunCommand):
            return COMMANDS.get(inbound.payload.name, "help"), inbound.payload.argument
        text = (inbound.text or "").strip()
        if not text.startswith("/"):
            return None, ""
        head, _, argument = text[1:].partition(" ")
        name = fold(head.split("@", 1)[0])
        return COMMANDS.get(name, "unknown"), argument.strip()

    async def _load_turn(self, session, inbound: Inbound) -> Turn | None:
        views = await repo.load_turn_views(session, inbound.channel, inbound.user)
        if views is None:
            return None
        respondent, submission, unit = views
        spec = self.forms[submission.form_id]
        state = await self._state(session, spec, submission)
        previous = await self._previous_year(session, spec, submission)
        return Turn(
            inbound=inbound,
            respondent=respondent,
            unit=unit,
            submission=submission,
            spec=spec,
            state=state,
            previous_year=previous,
            phase=respondent.phase if respondent.phase in CONVERSATION_PHASES else "answering",
            cursor=respondent.cursor,
            return_to=respondent.return_to,
        )

    async def _state(self, session, spec: FormSpec, submission) -> FormState:
        cached = self._answers_cache.get(submission.id)
        if cached and cached[0] == submission.version:
            return cached[1]
        state = FormState(spec, await stored_answers(session, spec, submission.id))
        self._answers_cache[submission.id] = (submission.version, state)
        return state

    async def _previous_year(self, session, spec: FormSpec, submission) -> dict:
        """Last year's submitted answers of the same unit and form, for one-tap prefill."""
        cached = self._previous_cache.get(submission.id)
        if cached and time.monotonic() - cached[0] < 60:
            return cached[1]
        previous = await repo.previous_submission(
            session, submission.unit_id, submission.form_id, submission.year
        )
        values: dict[str, Any] = {}
        if previous is not None:
            for code, answer in (await stored_answers(session, spec, previous.id)).items():
                if not answer.skipped and answer.value is not None:
                    values[code] = answer.value
        self._previous_cache[submission.id] = (time.monotonic(), values)
        return values

    async def _save_conversation(self, session, turn: Turn) -> None:
        respondent = turn.respondent
        if (respondent.phase, respondent.cursor, respondent.return_to) != (
            turn.phase,
            turn.cursor,
            turn.return_to,
        ) or turn.changed_answer:
            await repo.save_conversation(
                session,
                respondent.id,
                phase=turn.phase,
                cursor=turn.cursor,
                return_to=turn.return_to,
            )

    # Dispatch --------------------------------------------------------------------------------

    async def _dispatch(self, session, turn: Turn, command: str | None, argument: str):
        status = turn.submission.status
        if command in ("help", "unknown"):
            role = access.role_of(turn.respondent, turn.inbound.channel, turn.inbound.user)
            return [Outbound(say("help")), *review.staff_help(role)]
        if command == "review":
            return self._review(turn, argument)
        if command == "progress":
            return [self._progress(turn)]
        if status not in EDITABLE_STATUSES:
            key = "approved" if status == "approved" else "already_submitted"
            when = turn.submission.submitted_at
            text = say(
                key,
                unit=turn.unit.name,
                year=turn.submission.year,
                when=when.strftime("%d/%m/%Y %H:%M") if when else None,
            )
            return [Outbound(text)]
        handler = {
            "start": self._cmd_start,
            "resume": self._cmd_resume,
            "back": self._cmd_back,
            "skip": self._cmd_skip,
            "edit": self._cmd_edit,
            "submit": self._cmd_submit,
            "cancel": self._cmd_cancel,
        }.get(command or "")
        if handler is not None:
            return await handler(session, turn, argument)
        if turn.phase == "confirming":
            return await self._confirm(session, turn)
        return await self._answer(session, turn)

    # Answers ---------------------------------------------------------------------------------

    async def _answer(self, session, turn: Turn) -> list[Outbound]:
        inbound = turn.inbound
        item = turn.item
        if item is None or not turn.state.applies.get(item.code, False):
            turn.cursor = self._next_code(turn.state, None)
            item = turn.item
            if item is None:
                return [Outbound(say("all_done"))]
        payload = inbound.payload
        after: FormState | None = None
        if isinstance(payload, PickOption | KeepPrevious):
            if payload.code != item.code:
                notice = say("stale_button", pressed=payload.code, current=item.code)
                return self._ask_current(turn, [notice])
            if isinstance(payload, KeepPrevious):
                typed, value = None, turn.previous_year.get(item.code)
                if value is None:
                    return self._ask_current(turn, [say("no_previous")])
            else:
                choices = item.choices()
                if not 0 <= payload.index < len(choices):
                    return self._ask_current(turn, [say("help")])
                # One press picks one option, also of a multi-choice; typing "1, 3" picks more.
                typed, value = choices[payload.index][1], item.type.picked(item, payload.index)
        else:
            typed = inbound.text or ""
            if fold(typed) in KEEP_WORDS and item.code in turn.previous_year:
                value = turn.previous_year[item.code]
            else:
                value, problem, after = self._check_answer(turn.spec, turn.state, item, typed)
                if problem:
                    return self._ask_current(turn, [say("refused", reason=problem, code=item.code)])
        if after is None:
            problem, after = self._constraint_problem(turn.state, item, value, typed)
            if problem:
                return self._ask_current(turn, [say("refused", reason=problem, code=item.code)])
        return await self._accept(session, turn, item, value, after)

    def _check_answer(
        self, spec: FormSpec, state: FormState, item: Item, typed: str
    ) -> tuple[Any, str | None, FormState | None]:
        """(parsed value, None, the state with it), or (None, a Vietnamese sentence saying
        what is wrong, None)."""
        if item.calculate:
            inputs = list(spec.expressions[item.calculate].refs)
            return None, say("computed_item", code=item.code, inputs=inputs), None
        try:
            value = parse_answer(item, typed)
        except Refusal as refusal:
            params = {"unit": item.unit, **refusal.params}
            for bound in ("min", "max"):
                if bound in params:
                    params[bound] = format_number(params[bound])
            params.setdefault("text", typed.strip()[:40])
            params.setdefault("optional", not item.required)
            return None, say(refusal.key, **params), None
        problem, after = self._constraint_problem(state, item, value, typed)
        return value, problem, after

    def _constraint_problem(
        self, state: FormState, item: Item, value, typed: str | None
    ) -> tuple[str | None, FormState]:
        """Whether the answer breaks a constraint, and the state the answer would make
        (reused when it is stored, so each accepted answer builds one state)."""
        stored = dict(state.stored)
        stored[item.code] = Stored(value, value is None, typed)
        candidate = FormState(state.spec, stored)
        broken = candidate.violations(item.code)
        if not broken:
            return None, candidate
        messages = (self._constraint_message(state.spec, candidate, c.message) for _, c in broken)
        return "\n".join(messages), candidate

    @staticmethod
    def _constraint_message(spec: FormSpec, state: FormState, message: str) -> str:
        def value_of(match: re.Match) -> str:
            item = spec.by_code.get(match.group(1))
            value = state.value(match.group(1))
            if item is None or value is None:
                return "…"
            return format_value(item, value, with_unit=False)

        return REFERENCE.sub(value_of, message)

    async def _accept(self, session, turn: Turn, item: Item, value, after) -> list[Outbound]:
        before = turn.state
        turn.state = await self._store(
            session, turn.submission, before, after, item, turn.respondent, turn.inbound
        )
        turn.changed_answer = True
        lines = [say("saved", code=item.code, value=format_value(item, value))]
        lines += self._computed_changes(turn.spec, before, turn.state)
        self._advance(turn, item)
        replies = self._ask_current(turn, ["\n".join(lines)])
        return [replace(replies[0], accepted=item.code), *replies[1:]]

    async def _store(
        self, session, submission, before: FormState, after: FormState, item, who, inbound
    ) -> FormState:
        """Write the answer ``after`` holds for ``item`` (with its history) and bump the
        submission version; returns ``after``, now the current state."""
        old = before.stored.get(item.code)
        new = after.stored[item.code]
        await repo.save_answer(
            session,
            submission_id=submission.id,
            code=item.code,
            old_value=item.type.to_json(old.value) if old else None,
            value=item.type.to_json(new.value),
            raw=new.raw,
            skipped=new.skipped,
            respondent_id=who.id if who else None,
            channel=inbound.channel if inbound else "cli",
            message_id=str(inbound.message_id) if inbound and inbound.message_id else None,
        )
        submission.version = await repo.bump_version(session, submission.id, submission.version)
        self._answers_cache[submission.id] = (submission.version, after)
        return after

    def _computed_changes(self, spec: FormSpec, before: FormState, after: FormState) -> list[str]:
        lines = []
        for item in spec.computation_order:
            value = after.value(item.code)
            if value is not None and value != before.value(item.code):
                lines.append(
                    say(
                        "computed",
                        code=item.code,
                        label=item.label,
                        value=format_value(item, value),
                        formula=item.formula,
                    )
                )
        return lines

    def _advance(self, turn: Turn, answered: Item) -> None:
        """Move the cursor after an answer: back to where an edit started, else onwards."""
        if turn.phase == "editing":
            turn.phase = CONVERSATION.next(turn.phase, "finish_edit")
            back = turn.spec.by_code.get(turn.return_to or "")
            turn.return_to = None
            if back is not None and turn.state.is_open(back):
                turn.cursor = back.code
                return
            turn.cursor = self._next_code(turn.state, None)
            return
        turn.cursor = self._next_code(turn.state, answered)

    @staticmethod
    def _next_code(state: FormState, after: Item | None) -> str | None:
        item = state.next_open(after)
        return item.code if item else None

    # Commands --------------------------------------------------------------------------------

    async def _cmd_start(self, session, turn: Turn, _argument: str):
        done, total = turn.state.totals()
        greeting = say(
            "welcome_back",
            title=turn.spec.title,
            unit=turn.unit.name,
            year=turn.submission.year,
            done=done,
            total=total,
        )
        if turn.item is None or not turn.state.applies.get(turn.item.code, False):
            turn.cursor = self._next_code(turn.state, None)
        return self._ask_current(turn, [greeting])

    async def _cmd_resume(self, session, turn: Turn, _argument: str):
        turn.phase = CONVERSATION.next(turn.phase, "move")
        turn.return_to = None
        turn.cursor = self._next_code(turn.state, None)
        return self._ask_current(turn, [])

    async def _cmd_back(self, session, turn: Turn, _argument: str):
        previous = turn.state.previous(turn.item)
        if previous is None:
            return self._ask_current(turn, [say("first_item")])
        turn.phase = CONVERSATION.next(turn.phase, "move")
        turn.return_to = None
        turn.cursor = previous.code
        return self._ask_current(turn, [])

    async def _cmd_skip(self, session, turn: Turn, _argument: str):
        item = turn.item
        if item is None:
            return self._ask_current(turn, [])
        if item.required:
            return self._ask_current(turn, [say("required_item", code=item.code)])
        stored = dict(turn.state.stored)
        stored[item.code] = Stored(None, True, None)
        after = FormState(turn.spec, stored)
        turn.state = await self._store(
            session, turn.submission, turn.state, after, item, turn.respondent, turn.inbound
        )
        turn.changed_answer = True
        self._advance(turn, item)
        return self._ask_current(turn, [say("skipped", code=item.code)])

    async def _cmd_edit(self, session, turn: Turn, argument: str):
        if not argument:
            return self._ask_current(turn, [say("edit_usage")])
        wanted = fold_code(argument.split()[0])
        item = self._codes[turn.spec.id].get(wanted)
        if item is None:
            suggestions = [
                i.code for code, i in self._codes[turn.spec.id].items() if code.startswith(wanted)
            ][:5]
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
        return self._ask_current(turn, [])

    async def _cmd_cancel(self, session, turn: Turn, _argument: str):
        if turn.phase == "editing":
            code = turn.cursor
            turn.cursor = turn.return_to or self._next_code(turn.state, None)
            turn.return_to = None
            turn.phase = CONVERSATION.next(turn.phase, "cancel")
            return self._ask_current(turn, [say("edit_cancelled", code=code)])
        if turn.phase == "confirming":
            turn.phase = CONVERSATION.next(turn.phase, "cancel")
            return [Outbound(say("submit_cancelled"))]
        return [Outbound(say("paused"))]

    async def _cmd_submit(self, session, turn: Turn, _argument: str):
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
            return self._ask_current(turn, [text])
        turn.phase = CONVERSATION.next(turn.phase, "ask_submit")
        done, total = turn.state.totals()
        text = say(
            "confirm_submit",
            done=done,
            total=total,
            unit=turn.unit.name,
            year=turn.submission.year,
        )
        options = (
            Option(say("confirm_yes"), Confirm(True), "1"),
            Option(say("confirm_no"), Confirm(False), "2"),
        )
        return [Outbound(text, options=options)]

    async def _confirm(self, session, turn: Turn) -> list[Outbound]:
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
        if turn.state.missing_required():
            turn.phase = CONVERSATION.next(turn.phase, "cancel")
            return await self._cmd_submit(session, turn, "")
        status = SUBMISSION.next(turn.submission.status, "submit")
        turn.submission.version = await repo.bump_version(
            session,
            turn.submission.id,
            turn.submission.version,
            status=status,
            submitted_at=utcnow(),
            returned_reason=None,
        )
        turn.submission.status = status
        turn.phase = CONVERSATION.next(turn.phase, "submit")
        turn.cursor = None
        text = say("submitted", unit=turn.unit.name, year=turn.submission.year)
        return [Outbound(text, submitted=turn.submission.id)]

    # Review and progress ---------------------------------------------------------------------

    def _review(self, turn: Turn, argument: str) -> list[Outbound]:
        spec, state = turn.spec, turn.state
        sections = spec.sections
        if argument:
            wanted = argument.strip().split()[0].upper().removeprefix("MỤC").strip(". ")
            chosen = [s for s in sections if str(s.number) == wanted]
            if not chosen:
                numbers = [str(s.number) for s in sections]
                return [Outbound(say("unknown_section", section=argument, sections=numbers))]
            sections = tuple(chosen)
        lines = [
            say("review_header", unit=turn.unit.name, title=spec.title, year=turn.submission.year)
        ]
        for section in sections:
            lines.append("")
            lines.append(say("review_section", number=section.number, title=section.title))
            for item in section.items:
                if not state.applies[item.code]:
                    continue
                stored = state.stored.get(item.code)
                if item.calculate:
                    shown = format_value(item, state.value(item.code)) or say("review_empty")
                elif stored is None:
                    shown = say("review_empty")
                elif stored.skipped:
                    shown = say("review_skipped")
                else:
                    shown = format_value(item, stored.value)
                lines.append(say("review_line", code=item.code, value=shown))
        return [Outbound("\n".join(lines))]

    def _progress(self, turn: Turn) -> Outbound:
        rows = turn.state.progress()
        done, total = turn.state.totals()
        percent = round(100 * done / total) if total else 100
        text = say("progress", done=done, total=total, percent=percent, sections=rows)
        return Outbound(text, informational=True)

    # Asking ----------------------------------------------------------------------------------

    def _ask_current(self, turn: Turn, before: list[str]) -> list[Outbound]:
        """The notices in ``before`` followed by the current question, as one message."""
        item = turn.item
        if turn.phase == "confirming":
            return [Outbound("\n\n".join([*before, say("confirm_again")]))]
        if item is None:
            return [Outbound("\n\n".join([*before, say("all_done")]))]
        question, options, nav = self.question(turn, item)
        return [Outbound("\n\n".join([*before, question]), options, nav, asks=item.code)]

    def question(self, turn: Turn, item: Item) -> tuple[str, tuple, tuple]:
        spec, state = turn.spec, turn.state
        asked = asked_items(spec)
        stored = state.stored.get(item.code)
        current = None
        if stored is not None:
            current = say("review_skipped") if stored.skipped else format_value(item, stored.value)
        previous = turn.previous_year.get(item.code)
        previous_text = format_value(item, previous) if previous is not None else None
        year = turn.submission.year + item.year_offset if item.year_offset is not None else None
        examples = [example] if (example := item.type.example(item)) else []
        if not item.required:
            examples.append(say("example_optional"))
        text = say(
            "question",
            position=say(
                "position", section=item.section, number=asked[item.code], total=len(asked)
            ),
            context=context_lines(spec, item),
            code=item.code,
            label=item.label,
            unit=item.unit,
            year=year,
            hint=item.hint,
            current=current,
            previous=previous_text,
            example=" ".join(examples),
        )
        options = [
            Option(label, PickOption(item.code, n), str(n + 1))
            for n, (_value, label) in enumerate(item.choices())
        ]
        if previous is not None:
            options.append(
                Option(say("keep_previous", value=previous_text), KeepPrevious(item.code), "giu")
            )
        nav = [Option(say("nav_back"), RunCommand("quaylai"), "/quaylai")]
        if not item.required:
            nav.append(Option(say("nav_skip"), RunCommand("boqua"), "/boqua"))
        nav.append(Option(say("nav_progress"), RunCommand("tiendo"), "/tiendo"))
        return text, tuple(options), tuple(nav)


CONVERSATION_PHASES = {"answering", "editing", "confirming"}


def asked_items(spec: FormSpec) -> dict[str, int]:
    """Code → 1-based number among asked items ("câu 37/212")."""
    return spec.memo("_asked_numbers", _number_asked_items)


def _number_asked_items(spec: FormSpec) -> dict[str, int]:
    asked = [item.code for item in spec.items if item.asked]
    return {code: n for n, code in enumerate(asked, start=1)}


def context_lines(spec: FormSpec, item: Item) -> list[str]:
    """The printed group rows above an item ("Thông tin chỉ đạo, điều hành")."""
    return spec.memo("_context", _heading_context).get(item.code, [])


def _heading_context(spec: FormSpec) -> dict[str, list[str]]:
    """Code → the texts of the headings whose code is a prefix of the item's code."""
    context: dict[str, list[str]] = {}
    for section in spec.sections:
        headings: list[tuple[str, str]] = []  # the open headings, outermost first
        for entry in section.entries:
            headings = [h for h in headings if entry.code.startswith(h[0] + ".")]
            if isinstance(entry, Heading):
                headings.append((entry.code, entry.heading))
            else:
                context[entry.code] = [text for _, text in headings]
    return context

"""The console's routes. Every page checks the session and the role on the server; every POST
checks the session's CSRF token before it reads anything else of the form. Pages that change
something reuse the bot's own paths: returns and approvals go through ``dialogs.staff`` (the
people filling the form get the same chat notice through the outbox), reminders through
``bot.reminders``, closing a campaign through ``storage.repo.close_campaign``.

Blocking work runs off the event loop: PDFs and DOCX in a thread, the campaign ZIP in worker
processes (``templates.bundle``), the spreadsheet in a thread.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cache, wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from bot.web.console.auth import (
    COOKIE,
    CSRF_FIELD,
    Viewer,
    close_session,
    csrf_ok,
    current_viewer,
    open_session,
)
from bot.web.console.charts import daily_chart, status_chart
from dialogs import access, reviewing
from dialogs import campaigns as camp
from dialogs.kinds import format_value
from dialogs.phases import SUBMISSION
from dialogs.spec import FormSpec, all_forms
from dialogs.staff import change_status
from dialogs.units import CsvHeaderError, decode_csv, parse_units_csv
from storage import outbox as queue
from storage import repo
from storage.db import Database
from storage.models import Campaign, Submission, utcnow
from storage.turns import StaleVersion
from templates.messages import say

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSS = HERE / "static" / "console.css"
UPLOAD_LIMIT = 5 * 1024 * 1024  # a units CSV of a province is a few kB
FORM_OVERHEAD = 64 * 1024  # the multipart framing and the other fields of a form
REASON_LIMIT = 1000
FAILURES_SHOWN = 30
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PREVIEW_AGENTS = ("TelegramBot", "facebookexternalhit", "Slackbot", "Discordbot", "WhatsApp")


def _invite_role(value: str | None) -> str:
    """The role an invite form or link names; anything else is the respondent's."""
    return value if value in access.INVITE_ROLES else "respondent"


class TooLarge(Exception):
    pass


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = _local
    env.filters["status_label"] = camp.status_label
    env.filters["file_type"] = _file_type
    return env


def _file_type(mime_type: str | None) -> str:
    """ "PDF", "JPG", "DOCX": the type an evidence file was found to be, as people name it."""
    from dialogs.evidence import ACCEPTED

    known = ACCEPTED.get(mime_type or "")
    return known[0].upper() if known else (mime_type or "?")


def _local(moment: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return camp.local_now(moment).strftime(fmt) if moment else "—"


def _attachment(filename: str) -> str:
    """An attachment named as sent (RFC 6266 with RFC 5987's ``filename*`` in UTF-8), and for
    older clients the same name in ASCII: Vietnamese letters without their marks."""
    name = "".join(ch for ch in filename if ch.isprintable()) or "tep"  # no CR/LF in a header
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    plain = plain.encode("ascii", "replace").decode()
    plain = plain.replace('"', "_").replace("\\", "_").replace("?", "_")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


class Console:
    def __init__(
        self,
        database: Database,
        forms: dict[str, FormSpec] | None = None,
        *,
        public_url: str | None = None,
    ) -> None:
        self.database = database
        self.forms = forms if forms is not None else all_forms()
        self.public_url = public_url if public_url is not None else access.public_url()
        self.secure = (self.public_url or "").startswith("https://")

    # Rendering -------------------------------------------------------------------------------

    def page(
        self,
        template: str,
        *,
        viewer: Viewer | None = None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        html = (
            _environment()
            .get_template(template)
            .render(viewer=viewer, csrf_field=CSRF_FIELD, **context)
        )
        headers = {
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",  # sign-in links are in the URL
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
            "style-src 'self'; form-action 'self'; frame-ancestors 'none'",
        }
        return HTMLResponse(html, status_code=status, headers=headers)

    def message(
        self,
        title: str,
        text: str,
        *,
        viewer: Viewer | None = None,
        status: int = 200,
        back: str | None = None,
        back_label: str | None = None,
        sign_in_help: bool = False,
    ) -> HTMLResponse:
        return self.page(
            "message.html.j2",
            viewer=viewer,
            status=status,
            title=title,
            text=text,
            back=back,
            back_label=back_label or say("web_console_back"),
            sign_in_help=sign_in_help,
        )

    # Guards ----------------------------------------------------------------------------------

    def needs(self, role: str | None) -> Callable:
        """A route for ``role`` or above (None: any signed-in person, to sign out): without a
        session the sign-in page (401), with another role 403; a POST without this session's
        CSRF token 403, changing nothing."""

        def wrap(handler: Callable[..., Awaitable[Response]]) -> Callable:
            @wraps(handler)
            async def route(request: Request) -> Response:
                viewer = await current_viewer(self.database, request)
                if viewer is None:
                    return self.message(
                        say("web_console_sign_in_needed_title"),
                        say("web_console_sign_in_needed"),
                        status=401,
                        sign_in_help=True,
                    )
                if role is not None and not access.allowed(viewer.role, role):
                    log.warning(
                        "web: refused %s %s to %s:%s (role %s)",
                        request.method,
                        request.url.path,
                        viewer.channel,
                        viewer.external_id,
                        viewer.role,
                    )
                    return self.message(
                        say("web_console_forbidden_title"),
                        say("web_console_forbidden", role=say(f"role_{role}")),
                        viewer=viewer,  # still signed in: the header offers to sign out
                        status=403,
                        back="/" if access.is_staff(viewer.role) else None,
                        back_label=say("web_console_back_home"),
                    )
                form = None
                if request.method == "POST":
                    try:
                        form = await self._read_form(request)
                    except TooLarge:
                        return self.message(
                            say("web_console_too_large_title"),
                            say("web_console_too_large", limit_mb=UPLOAD_LIMIT // (1024 * 1024)),
                            viewer=viewer,
                            status=413,
                            back=request.url.path if request.url.path == "/units" else "/units",
                        )
                    if not csrf_ok(viewer, form.get(CSRF_FIELD)):
                        log.warning("web: refused a POST without the right CSRF token")
                        return self.message(
                            say("web_console_csrf_title"),
                            say("web_console_csrf"),
                            viewer=viewer,
                            status=403,
                            back="/",
                            back_label=say("web_console_back_home"),
                        )
                return await handler(request, viewer, form)

            return route

        return wrap

    async def _read_form(self, request: Request) -> FormData:
        """The form, read only up to ``UPLOAD_LIMIT`` (and its framing): a larger body is
        refused from its Content-Length before it is read, or as soon as it grows past."""
        cap = UPLOAD_LIMIT + FORM_OVERHEAD
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            raise TooLarge
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > cap:
                raise TooLarge
        request._body = bytes(body)  # Starlette parses the form from the body read here
        form = await request.form(max_part_size=UPLOAD_LIMIT + 1)
        for value in form.values():
            if isinstance(value, UploadFile) and (value.size or 0) > UPLOAD_LIMIT:
                raise TooLarge
        return form

    # Sign-in ---------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        token = request.path_params["token"]
        agent = request.headers.get("user-agent", "")
        if request.method == "GET" and any(a in agent for a in PREVIEW_AGENTS):
            # A chat app fetching a link preview must not use up the one-time link.
            return self.page("login_confirm.html.j2", token=token)
        cookie, problem = await open_session(self.database, token)
        if cookie is None:
            texts = {
                "unknown": say("web_console_login_unknown"),
                "used": say("web_console_login_used"),
                "expired": say("web_console_login_expired"),
                "role": say("web_console_login_role"),
            }
            return self.message(
                say("web_console_login_failed_title"),
                texts.get(problem or "unknown", texts["unknown"]),
                status=403 if problem == "role" else 400,
                sign_in_help=True,
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(access.WEB_SESSION_TTL.total_seconds()),
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def logout(self, request: Request, viewer: Viewer, form: FormData) -> Response:
        await close_session(self.database, viewer.token)
        response = self.message(
            say("web_console_logged_out_title"),
            say("web_console_logged_out"),
            sign_in_help=True,
        )
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=self.secure)
        return response

    async def stylesheet(self, request: Request) -> Response:
        return Response(
            CSS.read_bytes(),
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    # Campaigns -------------------------------------------------------------------------------

    async def _campaign(self, session, campaign_id: str, viewer: Viewer) -> Campaign:
        """The campaign, 404 when unknown, 403 outside the viewer's scope."""
        campaign = await repo.get_campaign(session, campaign_id)
        if campaign is None or campaign.form_id not in self.forms:
            raise HTTPException(404)
        _check_scope(viewer, campaign.form_id, campaign.year)
        return campaign

    async def _submission(self, session, request: Request, viewer: Viewer) -> Submission:
        """The submission of the path, 404 when unknown, 403 outside the viewer's scope."""
        submission = await repo.get_submission(session, await self._submission_id(request))
        if submission is None or submission.form_id not in self.forms:
            raise HTTPException(404)
        _check_scope(viewer, submission.form_id, submission.year)
        return submission

    async def index(self, request: Request, viewer: Viewer, form: Any) -> Response:
        today = camp.local_today()
        cards = []
        async with self.database.session() as session:
            for campaign in await repo.list_campaigns(session):
                if campaign.form_id not in self.forms:
                    continue
                if not viewer.covers(campaign.form_id, campaign.year):
                    continue  # another reviewer's campaign
                rows = await camp.campaign_progress(session, campaign, self.forms)
                done = sum(1 for r in rows if r.status in ("submitted", "approved"))
                counts = {s: sum(1 for r in rows if r.status == s) for s in camp.UNIT_STATUSES}
                cards.append(
                    {
                        "campaign": campaign,
                        "title": self.forms[campaign.form_id].title,
                        "units": len(rows),
                        "done": done,
                        "percent": round(100 * done / len(rows)) if rows else 0,
                        "days_left": camp.days_left(campaign, today),
                        "counts": [(s, n) for s, n in counts.items() if n],
                    }
                )
        return self.page("index.html.j2", viewer=viewer, cards=cards)

    async def campaign(self, request: Request, viewer: Viewer, form: Any) -> Response:
        wanted = request.query_params.get("status", "").strip()
        statuses, unknown = camp.parse_statuses(wanted.split()) if wanted else (set(), [])
        async with self.database.session() as session:
            campaign = await self._campaign(session, request.path_params["campaign"], viewer)
            rows = await camp.campaign_progress(session, campaign, self.forms)
            warnings = await camp.kept_warning_counts(session, self.forms[campaign.form_id], rows)
            times = await repo.submission_times(session, campaign.form_id, campaign.year)
            scores = await self._unit_scores(session, campaign)
        counts = [
            (s, camp.status_label(s), sum(1 for r in rows if r.status == s))
            for s in camp.UNIT_STATUSES
        ]
        shown = [r for r in rows if not statuses or r.status in statuses]
        today = camp.local_today()
        return self.page(
            "campaign.html.j2",
            viewer=viewer,
            campaign=campaign,
            title=self.forms[campaign.form_id].title,
            rows=shown,
            total=len(rows),
            counts=counts,
            warnings=warnings,
            scores=scores,
            status_filter=wanted if statuses else "",
            unknown_filter=" ".join(unknown),
            days_left=camp.days_left(campaign, today),
            status_chart=status_chart(counts),
            daily_chart=daily_chart([camp.local_today(t) for t in times], campaign.deadline, today),
        )

    async def _unit_scores(self, session, campaign: Campaign) -> dict[int, Any]:
        """Submission id → its ranking row (own score, and the appraised one where reviewers
        appraised), for the forms that are scored."""
        from dialogs.scoring import rubric_for
        from templates.export import campaign_rows

        spec = self.forms[campaign.form_id]
        if rubric_for(spec) is None:
            return {}
        rows = await campaign_rows(session, spec, campaign.year)
        return {row.submission_id: row for row in rows if row.submission_id is not None}

    async def remind(self, request: Request, viewer: Viewer, form: Any) -> Response:
        from bot.reminders import queue_reminders

        campaign_id = request.path_params["campaign"]
        async with self.database.session() as session:
            campaign = await self._campaign(session, campaign_id, viewer)
        back = f"/campaigns/{campaign.id}"
        if campaign.status != "open":
            return self.message(
                say("web_console_campaign_closed_title"),
                say("web_console_campaign_closed", campaign=campaign.id),
                viewer=viewer,
                status=409,
                back=back,
            )
        if request.method == "POST":
            result = await queue_reminders(self.database, campaign.id, forms=self.forms)
            log.info(
                "web: %s:%s queued %d reminders for %s",
                viewer.channel,
                viewer.external_id,
                result.queued,
                campaign.id,
            )
            text = say(
                "web_console_reminders_queued",
                queued=result.queued,
                campaign=campaign.id,
                already=result.already,
            )
            title = say("web_console_reminders_queued_title")
            return self.message(title, text, viewer=viewer, back=back)
        preview = await queue_reminders(self.database, campaign.id, forms=self.forms, dry_run=True)
        async with self.database.session() as session:
            already = await queue.existing_keys(
                session, [r.key for r in preview.recipients if r.key]
            )
        return self.page(
            "remind.html.j2",
            viewer=viewer,
            campaign=campaign,
            day=preview.day,
            recipients=preview.recipients,
            already=already,
            to_send=sum(1 for r in preview.recipients if r.key not in already),
            lonely=preview.unreached,
        )

    async def close(self, request: Request, viewer: Viewer, form: Any) -> Response:
        campaign_id = request.path_params["campaign"]
        if request.method == "GET":
            async with self.database.session() as session:
                campaign = await self._campaign(session, campaign_id, viewer)
            return self.page("close.html.j2", viewer=viewer, campaign=campaign)
        async with self.database.session() as session, session.begin():
            campaign = await self._campaign(session, campaign_id, viewer)
            await repo.close_campaign(session, campaign.id)
        log.info("web: %s:%s closed %s", viewer.channel, viewer.external_id, campaign.id)
        return self.message(
            say("web_console_closed_title"),
            say("web_console_closed", campaign=campaign.id),
            viewer=viewer,
            back=f"/campaigns/{campaign.id}",
        )

    async def documents_zip(self, request: Request, viewer: Viewer, form: Any) -> Response:
        from templates.bundle import export_bundle

        async with self.database.session() as session:
            campaign = await self._campaign(session, request.path_params["campaign"], viewer)
        buffer = io.BytesIO()
        await export_bundle(
            self.database,
            self.forms[campaign.form_id],
            campaign.year,
            buffer,
            forms=self.forms,
        )
        return Response(
            buffer.getvalue(),
            media_type="application/zip",
            headers={"Content-Disposition": _attachment(f"ho-so-{campaign.id}.zip")},
        )

    async def ranking_xlsx(self, request: Request, viewer: Viewer, form: Any) -> Response:
        from templates.export import campaign_rows, write_xlsx

        async with self.database.session() as session:
            campaign = await self._campaign(session, request.path_params["campaign"], viewer)
            spec = self.forms[campaign.form_id]
            rows = await campaign_rows(session, spec, campaign.year)
        data = await asyncio.to_thread(write_xlsx, spec, campaign.year, rows)
        return Response(
            data,
            media_type=XLSX,
            headers={"Content-Disposition": _attachment(f"xep-hang-{campaign.id}.xlsx")},
        )

    # Invites ---------------------------------------------------------------------------------

    async def _newest_invites(self, session, campaign: Campaign, role: str) -> list[dict]:
        """The newest working invite of each unit for ``role`` (what the sheet prints)."""
        newest: dict[int, dict] = {}
        for invite, unit in await repo.live_invites(
            session, campaign.form_id, campaign.year, utcnow()
        ):
            if invite.role == role:
                link = access.invite_link(invite.code)
                newest[unit.id] = {"invite": invite, "unit": unit, "link": link}
        return sorted(newest.values(), key=lambda e: e["unit"].name)

    async def _shown_invites(
        self, request: Request, viewer: Viewer
    ) -> tuple[Campaign, list[dict], str]:
        """The campaign, its newest invites of the role asked for (``?role=``), the role."""
        role = _invite_role(request.query_params.get("role"))
        async with self.database.session() as session:
            campaign = await self._campaign(session, request.path_params["campaign"], viewer)
            entries = await self._newest_invites(session, campaign, role)
        return campaign, entries, role

    async def invites(self, request: Request, viewer: Viewer, form: Any) -> Response:
        campaign_id = request.path_params["campaign"]
        created = None
        if request.method == "POST":
            role = _invite_role(form.get("role"))
            try:
                uses = int(form.get("uses") or 0) or None
                days = int(form.get("days") or 0) or (7 if role == "reviewer" else 30)
            except ValueError:
                uses = days = -1
            if (uses is not None and uses < 1) or not 1 <= days <= 366:
                return self.message(
                    say("web_console_invite_numbers_title"),
                    say("web_console_invite_numbers"),
                    viewer=viewer,
                    status=400,
                    back=f"/campaigns/{campaign_id}/invites",
                )
            async with self.database.session() as session, session.begin():
                campaign = await self._campaign(session, campaign_id, viewer)
                rows = await camp.campaign_progress(session, campaign, self.forms)
                for row in rows:
                    await access.create_invite(
                        session,
                        unit_id=row.unit.id,
                        form_id=campaign.form_id,
                        year=campaign.year,
                        role=role,
                        uses=uses,
                        days=days,
                    )
            created = len(rows)
            log.info("web: %s:%s created %d invites", viewer.channel, viewer.external_id, created)
        campaign, entries, role = await self._shown_invites(request, viewer)
        return self.page(
            "invites.html.j2",
            viewer=viewer,
            campaign=campaign,
            entries=entries,
            role=role,
            created=created,
            bot_named=access.bot_username() is not None,
        )

    async def invites_sheet(self, request: Request, viewer: Viewer, form: Any) -> Response:
        import segno

        campaign, entries, role = await self._shown_invites(request, viewer)
        for entry in entries:
            content = entry["link"] or entry["invite"].code
            qr = segno.make(content, error="m")
            entry["qr"] = qr.svg_inline(scale=3, border=2, omitsize=True)
        return self.page(
            "invites_sheet.html.j2",
            viewer=viewer,
            campaign=campaign,
            title=self.forms[campaign.form_id].title,
            entries=entries,
            role=role,
        )

    async def invites_csv(self, request: Request, viewer: Viewer, form: Any) -> Response:
        campaign, entries, role = await self._shown_invites(request, viewer)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["don_vi", "ma_moi", "duong_dan", "vai_tro", "het_han", "luot_con_lai"])
        for e in entries:
            invite = e["invite"]
            writer.writerow(
                [
                    e["unit"].name,
                    invite.code,
                    e["link"] or "",
                    invite.role,
                    _local(invite.expires_at, "%Y-%m-%d"),
                    "" if invite.uses_left is None else invite.uses_left,
                ]
            )
        # With a BOM, so that Excel opens the Vietnamese names right.
        return Response(
            "\ufeff" + out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": _attachment(f"ma-moi-{campaign.id}.csv")},
        )

    # Submissions -----------------------------------------------------------------------------

    async def _submission_id(self, request: Request) -> int:
        raw = request.path_params["submission"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
            raise HTTPException(404)
        return int(raw)

    async def submission(self, request: Request, viewer: Viewer, form: Any) -> Response:
        return await self._submission_page(request, viewer)

    async def _submission_page(
        self,
        request: Request,
        viewer: Viewer,
        *,
        refused: dict | None = None,
        status: int = 200,
    ) -> Response:
        """The submission page; ``refused``: an appraisal that could not be read (code, typed
        value, note, the reason) shown again under its item."""
        from dialogs.snapshot import load_snapshot

        async with self.database.session() as session:
            submission_id = (await self._submission(session, request, viewer)).id
            snapshot = await load_snapshot(session, submission_id, self.forms)
            # One snapshot for the answers, both scores and the evidence.
            pair, appraisals = await reviewing.snapshot_scores(
                session, snapshot, as_of=camp.local_today()
            )
            evidence = await reviewing.snapshot_evidence(session, snapshot, appraisals)
            history = await repo.answer_history(session, submission_id)
            people = await repo.respondents_by_id(
                session, sorted({h.respondent_id for h in history if h.respondent_id})
            )
            bound = [
                r
                for r in await repo.respondents_of_unit(session, snapshot.unit.id)
                if r.submission_id == submission_id
            ]
            campaign = await repo.get_campaign(
                session, camp.campaign_id(snapshot.spec.id, snapshot.submission.year)
            )
        view = _submission_view(snapshot, pair.own, history, people)
        by_code = {e.code: e for e in evidence}
        elsewhere = refused["reason"] if refused else None  # no item of the page to show it
        # The section of the item just appraised (or refused) opens, to be seen at once.
        focus = refused["code"] if refused else request.query_params.get("item")
        for section in view["sections"]:
            for entry in section["items"]:
                code = entry["item"].code
                entry["evidence"] = by_code.get(code)
                entry["refused"] = None
                if refused and refused["code"] == code and not entry["computed"]:
                    entry["refused"], elsewhere = refused, None
                if code == focus:
                    section["open"] = True
        return self.page(
            "submission.html.j2",
            viewer=viewer,
            status=status,
            **view,
            pair=pair,
            score_rows=_score_rows(pair),
            refused_elsewhere=elsewhere,
            bound=bound,
            campaign=campaign,
            can_return=SUBMISSION.allows(snapshot.submission.status, "return_for_fixes"),
            can_approve=SUBMISSION.allows(snapshot.submission.status, "approve"),
        )

    async def appraise(self, request: Request, viewer: Viewer, form: FormData) -> Response:
        """Record (or withdraw) a reviewer's appraised value and note of one item; a value
        that cannot be read gives the page again with the reason under the item."""
        code = str(form.get("code") or "").strip()[:40]
        typed = str(form.get("value") or "")[:200]
        note = str(form.get("note") or "")[: reviewing.MAX_NOTE]
        async with self.database.session() as session, session.begin():
            submission = await self._submission(session, request, viewer)
            if form.get("withdraw"):
                await reviewing.withdraw_appraisal(session, submission.id, code)
                outcome = None
            elif not typed.strip():
                outcome = reviewing.Appraised(code, refusal=say("web_console_appraisal_empty"))
            else:
                outcome = await reviewing.appraise(
                    session, submission.id, code, typed, note, viewer.label, self.forms
                )
        if outcome is not None and outcome.refusal:
            log.info("web: appraisal of %s on #%s refused", code, submission.id)
            refused = {"code": code, "value": typed, "note": note, "reason": outcome.refusal}
            return await self._submission_page(request, viewer, refused=refused, status=400)
        log.info(
            "web: %s:%s %s %s on #%s",
            viewer.channel,
            viewer.external_id,
            "withdrew the appraisal of" if outcome is None else "appraised",
            code,
            submission.id,
        )
        at = quote(code, safe=".")
        return RedirectResponse(f"/submissions/{submission.id}?item={at}#i-{at}", status_code=303)

    async def evidence(self, request: Request, viewer: Viewer, form: Any) -> Response:
        """One evidence file, as an attachment of the type it was checked to be."""
        raw = request.path_params["evidence"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
            raise HTTPException(404)
        async with self.database.session() as session:
            submission = await self._submission(session, request, viewer)
            found = await reviewing.evidence_download(session, submission.id, int(raw))
        if found is None:
            raise HTTPException(404)
        return Response(
            found.data,
            media_type=found.mime_type or "application/octet-stream",
            headers={
                "Content-Disposition": _attachment(found.filename),
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, no-store",
                # Opened by mistake in the browser, a file runs nothing of ours.
                "Content-Security-Policy": "sandbox; default-src 'none'",
            },
        )

    async def change(self, request: Request, viewer: Viewer, form: FormData) -> Response:
        submission_id = await self._submission_id(request)
        trigger = "approve" if request.url.path.endswith("/approve") else "return_for_fixes"
        back = f"/submissions/{submission_id}"
        reason = " ".join(str(form.get("reason") or "").split())
        async with self.database.session() as session, session.begin():
            submission = await self._submission(session, request, viewer)
            unit = await repo.get_unit(session, submission.unit_id)
            if trigger == "return_for_fixes" and not reason:
                return self.message(
                    say("web_console_reason_needed_title"),
                    say("web_console_reason_needed", unit=unit.name),
                    viewer=viewer,
                    status=400,
                    back=back,
                )
            if len(reason) > REASON_LIMIT:
                return self.message(
                    say("web_console_reason_too_long_title"),
                    say("web_console_reason_too_long", length=len(reason), limit=REASON_LIMIT),
                    viewer=viewer,
                    status=400,
                    back=back,
                )
            try:
                done, text = await change_status(
                    session,
                    submission,
                    unit,
                    trigger,
                    reason or None,
                    by=f"web {viewer.channel}:{viewer.external_id}",
                )
            except StaleVersion:
                done, text = False, say("web_console_submission_stale")
        return self.message(
            say("web_console_changed_title" if done else "web_console_unchanged_title"),
            text,
            viewer=viewer,
            status=200 if done else 409,
            back=back,
            back_label=say("web_console_back_to_submission"),
        )

    async def document(self, request: Request, viewer: Viewer, form: Any) -> Response:
        from templates.render import MIME_TYPES, document_filename, render, submission_context

        async with self.database.session() as session:
            submission_id = (await self._submission(session, request, viewer)).id
        fmt = request.path_params["fmt"]
        context = await submission_context(self.database, submission_id, self.forms)
        if context is None:
            raise HTTPException(404)
        data = await asyncio.to_thread(render, context, fmt)
        return Response(
            data,
            media_type=MIME_TYPES[fmt],
            headers={"Content-Disposition": _attachment(document_filename(context, fmt))},
        )

    # Units -----------------------------------------------------------------------------------

    async def units(self, request: Request, viewer: Viewer, form: Any) -> Response:
        from storage import campaigns as campaign_reads

        async with self.database.session() as session:
            units = await repo.list_units(session)
            people = await campaign_reads.respondents_of_units(session, [u.id for u in units])
        count = {u.id: sum(1 for p in people if p.unit_id == u.id) for u in units}
        return self.page(
            "units.html.j2",
            viewer=viewer,
            units=units,
            people=count,
            types=sorted(self.forms),
            limit_mb=UPLOAD_LIMIT // (1024 * 1024),
        )

    async def units_upload(self, request: Request, viewer: Viewer, form: FormData) -> Response:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return self.message(
                say("web_console_no_file_title"),
                say("web_console_no_file"),
                viewer=viewer,
                status=400,
                back="/units",
            )
        data = await upload.read(UPLOAD_LIMIT + 1)
        forms = set(self.forms)
        try:
            # A few MB of CSV take a moment to parse: not on the event loop.
            rows, problems = await asyncio.to_thread(
                lambda: parse_units_csv(decode_csv(data), forms)
            )
        except CsvHeaderError as error:
            return self.message(
                say("web_console_missing_columns_title"),
                say("web_console_missing_columns", missing=error.missing),
                viewer=viewer,
                status=400,
                back="/units",
            )
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        async with self.database.session() as session, session.begin():
            for _line, row in rows:
                _unit, what = await repo.upsert_unit(session, **row)
                counts[what] += 1
        log.info("web: %s:%s imported %d units", viewer.channel, viewer.external_id, len(rows))
        lines = [
            say(
                f"units_csv_{p.kind}",
                line=p.line,
                fields=p.fields,
                header=p.header,
                name=p.name,
                type=p.type,
                types=", ".join(sorted(forms)),
            )
            for p in problems
        ]
        return self.page(
            "units_report.html.j2",
            viewer=viewer,
            filename=upload.filename,
            imported=len(rows),
            counts=counts,
            problems=lines,
        )

    async def unit_contact(self, request: Request, viewer: Viewer, form: FormData) -> Response:
        raw = request.path_params["unit"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
            raise HTTPException(404)
        contact = " ".join(str(form.get("contact") or "").split())[:200] or None
        async with self.database.session() as session, session.begin():
            unit = await repo.set_unit_contact(session, int(raw), contact)
        if unit is None:
            raise HTTPException(404)
        return RedirectResponse("/units", status_code=303)

    # The outbox ------------------------------------------------------------------------------

    async def outbox(self, request: Request, viewer: Viewer, form: Any) -> Response:
        async with self.database.session() as session:
            counts = await queue.outbox_counts(session)
            failed = await queue.outbox_messages(session, status="failed")
        return self.page(
            "outbox.html.j2",
            viewer=viewer,
            counts=[
                (s, counts.get(s, 0)) for s in ("queued", "sending", "sent", "failed", "blocked")
            ],
            failed=list(reversed(failed[-FAILURES_SHOWN:])),
        )

    # Errors ----------------------------------------------------------------------------------

    async def http_error(self, request: Request, exc: HTTPException) -> Response:
        viewer = await current_viewer(self.database, request)
        if isinstance(exc, OutOfScope) and viewer is not None:
            return self.message(
                say("web_console_forbidden_title"),
                say("web_console_out_of_scope", scope=viewer.scope.names()),
                viewer=viewer,
                status=403,
                back="/",
                back_label=say("web_console_back_home"),
            )
        if exc.status_code == 405:
            return self.message(
                say("web_console_wrong_method_title"),
                say("web_console_wrong_method"),
                viewer=viewer,
                status=405,
                back="/",
                back_label=say("web_console_back_home"),
            )
        return self.message(
            say("web_console_not_found_title"),
            say("web_console_not_found"),
            viewer=viewer,
            status=404 if exc.status_code == 404 else exc.status_code,
            back="/",
            back_label=say("web_console_back_home"),
        )

    async def server_error(self, request: Request, exc: Exception) -> Response:
        log.exception("web console: %s %s failed", request.method, request.url.path)
        return self.message(
            say("web_console_error_title"),
            say("web_console_error"),
            status=500,
            back="/",
            back_label=say("web_console_back_home"),
        )

    # Routes ----------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        reviewer, admin = self.needs("reviewer"), self.needs("admin")
        get, post, both = ["GET"], ["POST"], ["GET", "POST"]
        c = "/campaigns/{campaign}"
        s = "/submissions/{submission}"
        return [
            Route("/console.css", self.stylesheet, methods=get),
            Route("/login/{token}", self.login, methods=both),
            Route("/logout", self.needs(None)(self.logout), methods=post),
            Route("/", reviewer(self.index), methods=get),
            Route(c, reviewer(self.campaign), methods=get),
            Route(c + "/remind", admin(self.remind), methods=both),
            Route(c + "/close", admin(self.close), methods=both),
            Route(c + "/documents.zip", reviewer(self.documents_zip), methods=get),
            Route(c + "/ranking.xlsx", reviewer(self.ranking_xlsx), methods=get),
            Route(c + "/invites", admin(self.invites), methods=both),
            Route(c + "/invites/print", admin(self.invites_sheet), methods=get),
            Route(c + "/invites.csv", admin(self.invites_csv), methods=get),
            Route(s, reviewer(self.submission), methods=get),
            Route(s + "/return", reviewer(self.change), methods=post),
            Route(s + "/approve", reviewer(self.change), methods=post),
            Route(s + "/form.{fmt:str}", reviewer(self._document_format), methods=get),
            Route(s + "/evidence/{evidence}", reviewer(self.evidence), methods=get),
            Route(s + "/appraise", reviewer(self.appraise), methods=post),
            Route("/units", admin(self.units), methods=get),
            Route("/units/upload", admin(self.units_upload), methods=post),
            Route("/units/{unit}/contact", admin(self.unit_contact), methods=post),
            Route("/outbox", admin(self.outbox), methods=get),
        ]

    async def _document_format(self, request: Request, viewer, form) -> Response:
        if request.path_params["fmt"] not in ("docx", "pdf"):
            raise HTTPException(404)
        return await self.document(request, viewer, form)

    def app(self) -> Starlette:
        return Starlette(
            routes=self.routes(),
            exception_handlers={HTTPException: self.http_error, Exception: self.server_error},
        )


class OutOfScope(HTTPException):
    """A campaign or a form the reviewer was not invited to review."""

    def __init__(self) -> None:
        super().__init__(403)


def _check_scope(viewer: Viewer, form_id: str, year: int) -> None:
    if not viewer.covers(form_id, year):
        log.warning(
            "web: refused %s-%s to %s:%s (outside their scope)",
            form_id,
            year,
            viewer.channel,
            viewer.external_id,
        )
        raise OutOfScope


def _submission_view(snapshot, card, history, people) -> dict:
    """What the submission page shows: answers by section with labels, computed values,
    kept warnings and each item's history; the score."""
    spec, state = snapshot.spec, snapshot.state
    kept: dict[str, list[str]] = {}
    for conflict in state.kept_warnings():
        kept.setdefault(conflict.item.code, []).append(state.message(conflict.constraint))
    changes: dict[str, list[dict]] = {}
    for change in history:
        item = spec.by_code.get(change.code)
        if item is None:
            continue
        person = people.get(change.respondent_id)
        changes.setdefault(change.code, []).append(
            {
                "who": (person.name or f"{person.channel}:{person.external_id}") if person else "—",
                "channel": change.channel or "—",
                "at": change.at,
                "old": _shown(item, change.old_value),
                "new": _shown(item, change.new_value),
            }
        )
    by_number = {p.number: p for p in state.progress()}
    sections = []
    for section in spec.sections:
        items = []
        for item in section.items:
            if not state.applies.get(item.code, True):
                continue
            stored = state.stored.get(item.code)
            value = state.value(item.code)
            if stored is not None and stored.skipped:
                shown = say("review_skipped")
            elif value is None:
                shown = "—"
            else:
                shown = format_value(item, value)
            items.append(
                {
                    "item": item,
                    "value": shown,
                    "computed": not item.asked,
                    "missing": item.required and state.is_open(item),
                    "warnings": kept.get(item.code, []),
                    "history": changes.get(item.code, []),
                }
            )
        progress = by_number[section.number]
        warned = sum(len(e["warnings"]) for e in items)
        sections.append(
            {
                "section": section,
                "items": items,
                "done": progress.done,
                "total": progress.total,
                "warnings": warned,
                # A short form reads best open; a long one by section, warnings first.
                "open": warned > 0 or len(spec.items) <= 40,
            }
        )
    done, total = state.totals()
    return {
        "snapshot": snapshot,
        "card": card,
        "sections": sections,
        "done": done,
        "total": total,
        "warning_count": sum(len(w) for w in kept.values()),
    }


def _score_rows(pair) -> list[dict]:
    """The score groups with the unit's own points and, where reviewers appraised, theirs."""
    own = pair.own.groups
    appraised = pair.appraised.groups if pair.appraised is not None else [None] * len(own)
    return [{"group": own, "appraised": other} for own, other in zip(own, appraised, strict=True)]


def _shown(item, stored: Any) -> str:
    if stored is None:
        return "—"
    try:
        return format_value(item, item.type.from_json(stored)) or "—"
    except Exception:  # an answer stored under an older spec: show it as stored
        return str(stored)


def console_app(database: Database, forms: dict[str, FormSpec] | None = None, **kw) -> Starlette:
    return Console(database, forms, **kw).app()


def console_routes(
    database: Database, forms: dict[str, FormSpec] | None = None, **kw
) -> list[Mount]:
    """The console as one mount that answers every path not taken before it."""
    return [Mount("", app=console_app(database, forms, **kw))]

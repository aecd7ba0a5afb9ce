"""A respondent's read-only page of their own form: ``GET …/review/{id}?expires=…&sig=…``, the
link /xem offers ("Xem toàn bộ phiếu", signed by ``bot.links.ReviewLinks``).

Server-rendered (Jinja2, ``templates/review/``), one small inline stylesheet, no script but
the Mini App's: every section with its items' labels and answers, computed values, missing
required items, kept warnings and the ``/sua CODE`` that changes each item.

A link for a Telegram Mini App names its Telegram user: the page Telegram opens carries the
signed ``initData`` in its fragment, which a server never sees, so a few lines of script post
it back and the page is shown only when Telegram signed it for that user
(``bot.telegram_webapp``). A forged link answers 403, an expired one 410, an unknown form
404, each with a Vietnamese page that says what to do; nothing raises to the person.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.links import ReviewAccess, ReviewLinks
from bot.telegram_webapp import telegram_user_id, validate_init_data
from bot.web.server import MAX_BODY
from dialogs import campaigns as camp
from dialogs.overview import whole_form
from dialogs.snapshot import load_snapshot
from dialogs.spec import FormSpec
from storage import repo
from storage.db import Database
from templates.messages import say

log = logging.getLogger(__name__)

PAGES = Path(__file__).resolve().parent.parent.parent / "templates" / "review"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the link's signature must not leave in a Referer
    # Nothing loads from elsewhere; the one inline script is the Mini App's (no frame-ancestors:
    # Telegram Web shows Mini Apps in a frame).
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "form-action 'self'; base-uri 'none'"
    ),
}
_environment = Environment(
    loader=FileSystemLoader(PAGES),
    autoescape=select_autoescape(["html", "j2"], default_for_string=True),
    undefined=StrictUndefined,
)
_environment.globals["say"] = say


def _html(template: str, http_status: int = 200, **values) -> HTMLResponse:
    body = _environment.get_template(template).render(**values)
    return HTMLResponse(body, status_code=http_status, headers=HEADERS)


def message_page(status: int, title_key: str, text_key: str, *, telegram: bool = False):
    return _html(
        "message.html.j2",
        status,
        heading=say(title_key),
        text=say(text_key),
        telegram=telegram,
    )


REFUSALS = {
    403: ("web_review_forged_title", "web_review_forged"),
    410: ("web_review_expired_title", "web_review_expired"),
    404: ("web_review_missing_title", "web_review_not_found"),
}


def review_routes(
    database: Database,
    forms: dict[str, FormSpec],
    links: ReviewLinks,
    bot_token: str | None = None,
) -> list[Route]:
    """The page's route; ``bot_token`` checks the ``initData`` of Telegram Mini App links
    (without it such a link is refused, never shown unchecked)."""

    async def page(request: Request) -> Response:
        try:
            return await _page(request)
        except Exception:  # a person sees a page that says what to do, never a traceback
            log.exception("the review page of %s failed", request.url.path)
            return message_page(500, "web_review_failed_title", "web_review_failed")

    async def _page(request: Request) -> Response:
        submission_id = int(request.path_params["submission_id"])
        query = {name: request.query_params.get(name, "") for name in ("expires", "sig", "tg")}
        access = links.check(submission_id, query)
        if access.status != 200:
            return message_page(access.status, *REFUSALS[access.status])
        if access.telegram_user is not None:
            refused = await _telegram_refusal(request, access)
            if refused is not None:
                return refused
        return await _render(access, int(query["expires"]))

    async def _telegram_refusal(request: Request, access: ReviewAccess) -> Response | None:
        """None when Telegram signed the posted ``initData`` for the link's user; else the
        page to show (the Mini App's first request, or a refusal)."""
        if request.method != "POST":
            return message_page(
                200, "web_review_telegram_title", "web_review_telegram", telegram=True
            )
        body = await request.body()
        form = dict(parse_qsl(body.decode("utf-8", "replace"))) if len(body) < MAX_BODY else {}
        clock = links.signer.clock()
        fields = validate_init_data(form.get("init_data", ""), bot_token or "", now=clock)
        if telegram_user_id(fields) != access.telegram_user:
            log.warning("refused a review Mini App for submission %s", access.submission_id)
            return message_page(403, "web_review_forged_title", "web_review_telegram_refused")
        return None

    async def _render(access: ReviewAccess, expires: int) -> Response:
        async with database.session() as session:
            submission = await repo.get_submission(session, access.submission_id)
            if submission is None or submission.form_id not in forms:
                return message_page(404, *REFUSALS[404])
            snapshot = await load_snapshot(session, submission.id, forms)
        state, spec = snapshot.state, snapshot.spec
        sections = whole_form(spec, state)
        done, total = state.totals()
        until = camp.local_now(datetime.fromtimestamp(expires, UTC))
        answered = len(state.stored)
        return _html(
            "page.html.j2",
            form_title=spec.title,
            unit=snapshot.unit.name,
            year=submission.year,
            status=camp.status_label(camp.unit_status(submission, answered)),
            done=done,
            total=total,
            missing=sum(s.missing for s in sections),
            sections=sections,
            until=until.strftime("%H:%M %d/%m/%Y"),
        )

    # Anything before /review/ is the public URL's own path (a proxy may keep it).
    return [
        Route(
            "/{prefix:path}review/{submission_id:int}",
            page,
            methods=["GET", "POST"],
        )
    ]

"""Webhook routes: Telegram's and Zalo's updates, each authenticated by its secret header
(compared in constant time; 403 without the right one, and the body is not read).

An update is answered after its turn is committed and the replies are sent, so an update
lost to a crash is delivered again by the platform (a repeat of a handled one is recognised
by the engine by its message id); 500 when the turn failed (nothing was stored), so the
platform may deliver it again: a 200 always means stored."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channel import watch_turn
from bot.web.server import MAX_BODY

log = logging.getLogger(__name__)

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ZALO_SECRET_HEADER = "X-Bot-Api-Secret-Token"


async def _read_json(request: Request, header: str, secret: str) -> Any | Response:
    """The JSON body of a request that carries ``secret``; else the refusal to send."""
    received = request.headers.get(header, "").encode("utf-8", "replace")
    if not hmac.compare_digest(received, secret.encode()):
        log.warning("refused a webhook request without the right secret token")
        return Response(status_code=403)
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(status_code=413)
    try:
        return json.loads(body)
    except ValueError:
        return Response(status_code=400)


def webhook_path(path: str) -> str:
    return "/" + path.lstrip("/")


def telegram_webhook(path: str, secret: str, process: Callable[[dict], Awaitable[None]]) -> Route:
    """Telegram's webhook at ``path``: ``process(update_json)`` runs the update through the
    PTB application and returns once the turn is committed and answered."""
    if not secret:
        raise ValueError("a webhook needs a secret token")

    async def receive(request: Request) -> Response:
        update = await _read_json(request, TELEGRAM_SECRET_HEADER, secret)
        if isinstance(update, Response):
            return update
        if not isinstance(update, dict):
            return Response(status_code=400)
        with watch_turn() as outcome:
            try:
                await process(update)
            except Exception:
                log.exception("handling a Telegram webhook update failed")
                return Response(status_code=500)
        return Response(status_code=500 if outcome.failed else 200)

    return Route(webhook_path(path), receive, methods=["POST"])


def zalo_webhook(path: str, secret: str, handle: Callable[[Any], Awaitable[None]]) -> Route:
    """Zalo's webhook at ``path``: ``handle(update)`` serves it to the end (500 when the turn
    failed)."""
    if not secret:
        raise ValueError("a webhook needs a secret token")

    async def receive(request: Request) -> Response:
        update = await _read_json(request, ZALO_SECRET_HEADER, secret)
        if isinstance(update, Response):
            return update
        with watch_turn() as outcome:
            await handle(update)
        if outcome.failed:
            return JSONResponse({"ok": False}, status_code=500)
        return JSONResponse({"ok": True})

    return Route(webhook_path(path), receive, methods=["POST"])

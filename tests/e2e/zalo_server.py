"""A small Zalo Bot Platform server for the tests, and the people who talk to the bot on it.

It answers the Bot API as the public documentation describes it (see ``bot/zalo_api.py`` for
the sources): ``POST /bot{TOKEN}/{method}`` with JSON, ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": N, "description": …}``; getMe, getUpdates (long polling, one
update per call, 408 when none came in time), sendMessage (2000 characters at most, and only
to a chat that has written to the bot), sendChatAction, setWebhook (secret of 8–256
characters) / deleteWebhook / getWebhookInfo. With a webhook set, updates are POSTed to it
with the secret in ``X-Bot-Api-Secret-Token`` and getUpdates is refused.

Where the documentation is silent, this server assumes: HTTP status = ``error_code`` on
errors; getUpdates with a webhook set is refused with 409; a text over the limit with 400.

It runs in the test's event loop on a free loopback port (``await ZaloServer().start()``).
``fail_next(token, method, code)`` makes the next calls of a method fail (retries).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field

import httpx

from bot.web import WebServer

MAX_TEXT = 2000
METHOD_PATH = re.compile(r"^/bot([^/]+)/([A-Za-z]+)$")
SECRET_HEADER = "X-Bot-Api-Secret-Token"


@dataclass
class Sent:
    """A message the bot sent."""

    chat_id: str
    text: str
    message_id: str
    date: int


@dataclass
class BotAccount:
    token: str
    info: dict
    pending: deque = field(default_factory=deque)  # updates waiting for getUpdates
    waiters: deque = field(default_factory=deque)  # getUpdates calls waiting for an update
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_updated: int = 0
    sent: list[Sent] = field(default_factory=list)
    actions: list[tuple[str, str]] = field(default_factory=list)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    failures: dict[str, deque] = field(default_factory=dict)  # method → error codes to return
    chats: set[str] = field(default_factory=set)  # chats that wrote to the bot


class ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class MethodCall:
    """One call of a Bot API method (an ASGI request)."""

    def __init__(self, server: ZaloServer, receive) -> None:
        self.server = server
        self.receive = receive
        self.bot: BotAccount | None = None
        self.waiter: asyncio.Future | None = None

    async def answer(self, token: str, method: str, body: bytes) -> tuple[int, dict]:
        try:
            bot = self.server.bots.get(token)
            if bot is None:
                raise ApiError(401, "Unauthorized: invalid bot token")
            payload = json.loads(body) if body else {}
            if not isinstance(payload, dict):
                raise ApiError(400, "Bad Request: the body is not a JSON object")
            bot.calls.append((method, payload))
            failures = bot.failures.get(method)
            if failures:
                code = failures.popleft()
                raise ApiError(code, f"injected failure {code}")
            answer = getattr(self, f"m_{method}", None)
            if answer is None:
                raise ApiError(404, f"Not Found: method {method}")
            result = await answer(bot, payload)
        except ApiError as exc:
            return exc.code, {"ok": False, "error_code": exc.code, "description": exc.description}
        return 200, {"ok": True, "result": result}

    async def _until_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass

    async def m_getMe(self, bot: BotAccount, _payload: dict) -> dict:
        return bot.info

    async def m_getUpdates(self, bot: BotAccount, payload: dict) -> dict:
        if bot.webhook_url:
            raise ApiError(409, "Conflict: a webhook is active; getUpdates is disabled")
        if bot.pending:
            return bot.pending.popleft()
        timeout = float(payload.get("timeout") or 30)
        self.bot = bot
        waiter = self.waiter = asyncio.get_running_loop().create_future()
        bot.waiters.append(waiter)
        gone = asyncio.ensure_future(self._until_disconnect())
        try:
            await asyncio.wait({waiter, gone}, timeout=timeout, return_when="FIRST_COMPLETED")
            if gone.done():
                # A getUpdates call the bot gave up on (it stopped): its update must not be
                # lost.
                if waiter.done() and not waiter.cancelled():
                    bot.pending.appendleft(waiter.result())
                raise ApiError(499, "the client went away")
            if waiter.cancelled():
                raise ApiError(499, "the server is stopping")
            if not waiter.done():
                raise ApiError(408, "Request timeout: no update")
            return waiter.result()
        finally:
            gone.cancel()
            if not waiter.done():
                waiter.cancel()
            if waiter in bot.waiters:
                bot.waiters.remove(waiter)

    async def m_sendMessage(self, bot: BotAccount, payload: dict) -> dict:
        chat_id, text = str(payload.get("chat_id") or ""), payload.get("text")
        if chat_id not in bot.chats:
            raise ApiError(400, "Bad Request: chat not found")
        if not isinstance(text, str) or not text:
            raise ApiError(400, "Bad Request: text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, f"Bad Request: text is longer than {MAX_TEXT} characters")
        sent = Sent(chat_id, text, f"m{next(self.server.ids)}", int(time.time() * 1000))
        bot.sent.append(sent)
        self.server.notify()
        return {"message_id": sent.message_id, "date": sent.date}

    async def m_sendChatAction(self, bot: BotAccount, payload: dict) -> bool:
        chat_id = str(payload.get("chat_id") or "")
        if chat_id not in bot.chats:
            raise ApiError(400, "Bad Request: chat not found")
        bot.actions.append((chat_id, str(payload.get("action"))))
        return True

    async def m_setWebhook(self, bot: BotAccount, payload: dict) -> dict:
        url, secret = payload.get("url"), payload.get("secret_token")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: url is required")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            raise ApiError(400, "Bad Request: secret_token must be 8-256 characters")
        bot.webhook_url, bot.webhook_secret = url, secret
        bot.webhook_updated = int(time.time() * 1000)
        return {"url": url, "updated_at": bot.webhook_updated}

    async def m_deleteWebhook(self, bot: BotAccount, _payload: dict) -> dict:
        bot.webhook_url, bot.webhook_secret = "", ""
        bot.webhook_updated = int(time.time() * 1000)
        return {"url": "", "updated_at": bot.webhook_updated}

    async def m_getWebhookInfo(self, bot: BotAccount, _payload: dict) -> dict:
        return {"url": bot.webhook_url, "updated_at": bot.webhook_updated}


class ZaloServer:
    def __init__(self) -> None:
        self.bots: dict[str, BotAccount] = {}
        self.ids = itertools.count(1)
        self.port = 0
        self._server: WebServer | None = None
        self._changed = asyncio.Event()
        self._http: httpx.AsyncClient | None = None

    @property
    def base_url(self) -> str:
        """What ``ZALO_BASE_URL`` should be."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> ZaloServer:
        self._server = WebServer(self._asgi, listen="127.0.0.1", port=0)
        await self._server.start()
        self.port = self._server.port
        self._http = httpx.AsyncClient(timeout=60)
        return self

    async def _asgi(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        match = METHOD_PATH.match(scope["path"])
        if match is None:
            status, answer = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        else:
            status, answer = await MethodCall(self, receive).answer(match[1], match[2], body)
        data = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def stop(self) -> None:
        for bot in self.bots.values():
            for waiter in bot.waiters:
                waiter.cancel()
        if self._server is not None:
            await self._server.stop()
        if self._http is not None:
            await self._http.aclose()

    def add_bot(self, token: str, name: str = "Bot Phiếu") -> BotAccount:
        bot_id = token.split(":", 1)[0]
        info = {
            "id": bot_id,
            "account_name": f"bot.{bot_id}",
            "account_type": "BASIC",
            "can_join_groups": False,
            "display_name": name,
        }
        self.bots[token] = BotAccount(token, info)
        return self.bots[token]

    def fail_next(self, token: str, method: str, *codes: int) -> None:
        self.bots[token].failures.setdefault(method, deque()).extend(codes)

    def notify(self) -> None:
        self._changed.set()

    async def changed(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    async def deliver(self, token: str, update: dict) -> int | None:
        """Hand ``update`` to the bot: POST it to the webhook (returns the status) or queue it
        for getUpdates (returns None)."""
        bot = self.bots[token]
        message = update.get("message") or {}
        bot.chats.add(str((message.get("chat") or {}).get("id")))
        if bot.webhook_url:
            response = await self._http.post(
                bot.webhook_url, json=update, headers={SECRET_HEADER: bot.webhook_secret}
            )
            return response.status_code
        while bot.waiters:
            waiter = bot.waiters.popleft()
            if not waiter.done():
                waiter.set_result(update)
                return None
        bot.pending.append(update)
        return None


class ZaloUser:
    """A person in a private chat with the bot, typing in the Zalo app."""

    _message_ids = itertools.count(1)

    def __init__(self, server: ZaloServer, token: str, user_id: str, name: str = "") -> None:
        self.server = server
        self.token = token
        self.user_id = str(user_id)
        self.name = name or f"Cán bộ {user_id}"
        self.read = 0  # how many of the bot's messages to this chat were read

    def _update(self, event: str, **fields) -> dict:
        return {
            "event_name": event,
            "message": {
                "message_id": f"u{self.user_id}-{next(self._message_ids)}",
                "date": int(time.time() * 1000),
                "chat": {"id": self.user_id, "chat_type": "PRIVATE"},
                # As in Zalo's getUpdates sample: the sender's name is ``first_name``.
                "from": {"id": self.user_id, "first_name": self.name, "is_bot": False},
                **fields,
            },
        }

    def text_update(self, text: str) -> dict:
        return self._update("message.text.received", text=text)

    async def send(self, text: str) -> int | None:
        return await self.server.deliver(self.token, self.text_update(text))

    async def send_update(self, update: dict) -> int | None:
        return await self.server.deliver(self.token, update)

    async def send_image(self) -> int | None:
        update = self._update(
            "message.image.received", photo_url="https://example.org/a.jpg", caption="ảnh"
        )
        return await self.server.deliver(self.token, update)

    async def send_sticker(self) -> int | None:
        update = self._update("message.sticker.received", sticker="d063f44dc80821567819")
        return await self.server.deliver(self.token, update)

    async def send_unsupported(self) -> int | None:
        return await self.server.deliver(self.token, self._update("message.unsupported.received"))

    def history(self) -> list[Sent]:
        return [m for m in self.server.bots[self.token].sent if m.chat_id == self.user_id]

    def unread(self) -> list[Sent]:
        messages = self.history()
        new, self.read = messages[self.read :], len(messages)
        return new

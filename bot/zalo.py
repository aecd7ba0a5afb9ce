"""The Zalo channel: the Zalo Bot Platform API (``bot.zalo_api``) in front of the engine.

Handlers are thin, as on Telegram: an update becomes an ``Inbound``, the engine answers (and
commits) the turn, and the ``Outbound`` replies are sent as plain text. Zalo has no inline
buttons, so options are a numbered list (``dialogs.messages.text_menu``) and the person types
the number, the label, or the label without diacritics; the engine understands all three.

- Updates come by webhook (Zalo's documented mode for production: any worker behind the
  public URL takes them) or by long polling (``getUpdates``, one update per call; Zalo's docs
  mean it for development, and only one process may poll). The
  webhook compares the ``X-Bot-Api-Secret-Token`` header with the secret in constant time;
  a request without the right one gets 403 and is not read. A webhook request is answered
  after its turn is committed and the replies are sent, so a request Zalo retries after a
  failure is handled again, and a repeat of a handled one is recognised by the engine.
- Updates of one chat are handled in arrival order, different chats concurrently; the serve /
  apologise / retry logic is ``bot.channel.Channel``'s, shared with Telegram.
- Image messages are evidence (``dialogs.collecting``): the photo's URL goes to the engine as
  an attachment it downloads (``ZaloApi.download``, at most 20 MB) and checks before the turn;
  links are text. Stickers get a polite "text only" and change nothing. What Zalo delivers as
  ``message.unsupported.received`` (anything from a person whose account protects their
  messages, some links) carries nothing the bot can read, whatever the person does, so its
  reply asks for nothing they cannot do. Group chats are ignored (the form is filled in a
  private chat).
- Long texts are split under the 2000-character limit; documents, which the Bot API cannot
  attach, become signed links that expire (``bot.links``) served by the app's web server
  (``bot.web``) when ``FORMBOT_PUBLIC_URL`` is set, or a note on how to get them from a
  reviewer.
- An exception while handling one person's message is logged, that person is told how far
  their answers are saved, and the bot goes on serving.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.channel import Channel, TurnEngine, retrying
from bot.links import DocumentLinks
from bot.zalo_api import POLL_TIMEOUT, ZaloApi, ZaloApiError
from bot.zalo_render import render
from dialogs.messages import Attachment, Inbound, Outbound
from templates.messages import say

log = logging.getLogger(__name__)

CHANNEL = "zalo"
TEXT_EVENT = "message.text.received"
IMAGE_EVENT = "message.image.received"
UNSUPPORTED_EVENT = "message.unsupported.received"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
# Zalo takes a webhook secret of 8–256 characters; we also keep it to URL-safe characters.
SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{8,256}")
SEND_RETRY_DELAYS = (0.5, 2.0, 5.0)
POLL_BACKOFF_MAX = 30.0


@dataclass(frozen=True)
class ZaloMessage:
    """The parts of an update the channel uses."""

    event: str
    chat_id: str
    user_id: str
    text: str | None
    message_id: str | None
    name: str | None
    group: bool
    date: int | None = None  # the sender's timestamp (ms), for ordering
    photo_url: str | None = None  # an image message's photo


def parse_update(body: Any) -> ZaloMessage | None:
    """The message of an update (``{"event_name", "message"}``, bare or inside an
    ``{"ok", "result"}`` envelope), or None when it carries none this channel can answer."""
    if isinstance(body, dict) and isinstance(body.get("result"), dict) and "ok" in body:
        body = body["result"]
    if not isinstance(body, dict):
        return None
    event, message = body.get("event_name"), body.get("message")
    if not isinstance(event, str) or not isinstance(message, dict):
        return None
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    user_id = sender.get("id") or chat.get("id")
    chat_id = chat.get("id") or user_id
    if not user_id or not chat_id or sender.get("is_bot") is True:
        return None
    text = message.get("text")
    if not isinstance(text, str):
        text = message.get("caption")  # an image message's caption
    message_id = message.get("message_id")
    name = sender.get("display_name") or sender.get("first_name") or sender.get("name")
    date = message.get("date")
    return ZaloMessage(
        event=event,
        chat_id=str(chat_id),
        user_id=str(user_id),
        text=text if isinstance(text, str) else None,
        message_id=str(message_id) if message_id not in (None, "") else None,
        name=str(name) if name else None,
        group=str(chat.get("chat_type") or "").upper() == "GROUP",
        date=date if isinstance(date, int) and not isinstance(date, bool) else None,
        photo_url=_photo_url(message),
    )


def _photo_url(message: dict) -> str | None:
    """An image message's photo: ``photo`` (a URL, or an object with ``url``) or
    ``photo_url``, as the public clients of the API read it."""
    for key in ("photo_url", "photo"):
        value = message.get(key)
        if isinstance(value, dict):
            value = value.get("url")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


class ZaloChannel(Channel):
    """Turns updates into engine turns and sends the replies. ``typing_after``: seconds a
    turn may take before "typing…" is shown (None: never). ``on_handled(chat_id)`` is called
    after every update (the tests' way to know a turn is over)."""

    name = CHANNEL

    def __init__(
        self,
        engine: TurnEngine,
        api: ZaloApi,
        *,
        links: DocumentLinks | None = None,
        retry_delays: Sequence[float] = SEND_RETRY_DELAYS,
        typing_after: float | None = 1.0,
        on_handled: Callable[[str], None] | None = None,
        stripes: int = 1024,
    ) -> None:
        super().__init__(engine, stripes=stripes, on_handled=on_handled)
        self.api = api
        self.links = links
        self.retry_delays = tuple(retry_delays)
        self.typing_after = typing_after
        self._background: set[asyncio.Task] = set()

    async def handle_update(self, update: Any) -> None:
        """One update, start to finish (the turn committed and the replies sent), after the
        earlier updates of its chat."""
        message = parse_update(update)
        if message is None:
            log.info("ignored an update without a message from a person")
            return
        await self.in_order(message.chat_id, self._handle(message))

    async def _handle(self, message: ZaloMessage) -> None:
        if message.group:
            log.info("ignored a message in group chat %s", message.chat_id)
            return
        if message.event == UNSUPPORTED_EVENT:
            await self._send_safely(message.chat_id, [say("zalo_unsupported")])
            return
        attachment = None
        if message.event == IMAGE_EVENT and message.photo_url:
            url = message.photo_url
            attachment = Attachment(filename=None, fetch=partial(self.api.download, url))
        elif message.event != TEXT_EVENT or not (message.text or "").strip():
            await self._send_safely(message.chat_id, [say("zalo_text_only")])
            return
        inbound = Inbound(
            CHANNEL,
            message.user_id,
            text=message.text,
            message_id=message.message_id,
            name=message.name,
            order=message.date,
            attachment=attachment,
        )
        await self.serve(message.chat_id, inbound)

    async def turn(self, chat: str, inbound: Inbound) -> list[Outbound]:
        """The engine's turn; "typing…" if it takes longer than ``typing_after``."""
        task = asyncio.ensure_future(self.engine.handle(inbound))
        try:
            if self.typing_after is not None:
                done, _ = await asyncio.wait({task}, timeout=self.typing_after)
                if not done:
                    self._spawn(self._typing(chat))
            return await task
        except BaseException:
            task.cancel()
            raise

    # Sending ---------------------------------------------------------------------------------

    def apology(self, current: str | None) -> str:
        return say("zalo_handler_error", current=current)

    async def send(self, chat: str, replies: list[Outbound], context: Any = None) -> None:
        documents = [reply.document for reply in replies if reply.document is not None]
        if documents and self.links is not None:
            await self.links.keep(documents)  # stored before their links are sent
        for text in render(replies, self.links):
            await self.send_text(chat, text)

    async def send_text(self, chat: str, text: str) -> None:
        """sendMessage, retried with back-off on network errors, 429 and 5xx."""
        await retrying(
            lambda: self.api.send_message(chat, text),
            transient=lambda exc: isinstance(exc, ZaloApiError) and exc.transient,
            delays=self.retry_delays,
            what="Zalo sendMessage",
        )

    async def _send_safely(self, chat_id: str, texts: list[str]) -> None:
        try:
            for text in texts:
                await self.send_text(chat_id, text)
        except Exception:
            log.exception("could not send to Zalo chat %s", chat_id)

    async def _typing(self, chat_id: str) -> None:
        try:
            await self.api.send_chat_action(chat_id)
        except ZaloApiError as exc:
            log.info("sendChatAction failed: %s", exc)

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for the "typing…" requests still under way."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


# Receiving: polling or the webhook --------------------------------------------------------------


class ZaloReceiver:
    """Zalo's updates into ``channel``, in the running event loop. Polling: ``deleteWebhook``,
    then getUpdates in a loop, each update handled in a task (in order per chat). Webhook:
    ``setWebhook`` with the secret; the route is served by the app's web server
    (``bot.web.hooks``), so ``start`` comes after that server listens."""

    REFUSED = ZaloApiError  # what ``start`` raises when the Bot API refuses

    def __init__(
        self,
        channel: ZaloChannel,
        *,
        webhook_url: str | None = None,
        secret: str | None = None,
        poll_timeout: int = POLL_TIMEOUT,
    ) -> None:
        if webhook_url and not (secret and SECRET_FORMAT.fullmatch(secret)):
            raise ValueError("a webhook needs a secret token of 8-256 characters [A-Za-z0-9_-]")
        self.channel = channel
        self.api = channel.api
        self.webhook_url = webhook_url
        self.secret = secret
        self.poll_timeout = poll_timeout
        self.bot_info: dict | None = None
        self._poller: asyncio.Task | None = None
        self._updates: set[asyncio.Task] = set()

    async def prepare(self) -> None:
        """Check the token (getMe)."""
        self.bot_info = await self.api.get_me()

    async def start(self) -> None:
        """Receive updates (``prepare`` first, if it has not run). Raises ``ZaloApiError``
        when the API refuses."""
        if self.bot_info is None:
            await self.prepare()
        if self.webhook_url:
            await self.api.set_webhook(self.webhook_url, self.secret or "")
            log.info("Zalo webhook set")
            return
        log.warning(
            "Zalo by long polling: Zalo documents it for development, and only one process may "
            "poll; in production use --webhook-url (every worker behind it takes updates)"
        )
        try:
            await self.api.delete_webhook()
        except ZaloApiError as exc:  # polling may still work; getUpdates will tell
            log.warning("deleteWebhook failed (%s); polling anyway", exc)
        self._poller = asyncio.ensure_future(self._poll())

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                update = await self.api.get_updates(self.poll_timeout)
            except ZaloApiError as exc:
                failures += 1
                delay = min(POLL_BACKOFF_MAX, 2.0 ** (failures - 1))
                log.warning("getUpdates failed (%s); again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if update is None:
                continue
            # Tasks start in creation order and take the chat's FIFO lock first thing, so one
            # chat's updates are handled in arrival order, other chats' alongside.
            task = asyncio.ensure_future(self._handle(update))
            self._updates.add(task)
            task.add_done_callback(self._updates.discard)

    async def _handle(self, update: dict) -> None:
        try:
            await self.channel.handle_update(update)
        except Exception:
            log.exception("handling a Zalo update failed")

    async def stop(self, grace: float = 30.0) -> None:
        """Stop receiving, let the updates under way finish (up to ``grace`` seconds), then
        close the API client."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._updates:
            await asyncio.wait(set(self._updates), timeout=grace)
        await self.channel.drain()
        await self.api.close()

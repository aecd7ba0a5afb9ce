"""The Telegram channel: python-telegram-bot in front of the dialogs engine.

Handlers are thin: an update becomes an ``Inbound``, the engine answers (and commits) the
turn, and the ``Outbound`` replies are sent as HTML-escaped messages with inline keyboards.
Nothing here parses answers or touches tables.

Reliability (the shared parts are ``bot.channel.Channel``'s):
- updates of one chat are handled in arrival order, different chats concurrently
  (``Channel.in_order``, entered by PTB's update processor when polling and by the webhook
  route), so one slow turn does not hold up everyone else;
- sends go through ``RetryingRateLimiter``: Telegram's flood limits (AIORateLimiter, which
  also retries ``RetryAfter``) plus ``bot.channel.retrying`` for network errors, time-outs
  and 5xx answers (a reply may then come twice: better than a lost question); getUpdates is
  retried by PTB's own polling loop. The outbox's sends pass ``NO_REPEAT``: it decides itself
  what is sent again (``delivery_unknown``);
- an exception while handling one person's message is logged, that person is told how far
  their answers are saved, and the bot goes on serving.

Evidence: a photo (its largest size) or a document becomes an ``Inbound`` with an
``Attachment`` whose ``fetch`` is getFile and the download; the engine calls it before the
turn. The Bot API hands out files up to 20 MB only, so a larger ``file_size`` is refused
before anything is downloaded.

Receiving: ``TelegramReceiver`` starts long polling (PTB's updater, in our event loop) or sets
the webhook that ``bot.web.hooks`` serves on the app's one web server.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import httpx
from telegram import BotCommand, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.channel import Channel, TurnEngine, mark_failed, retrying
from bot.splitting import utf16_len
from bot.telegram_render import MAX_MESSAGE, html_chunks, keyboard, pressed_label
from dialogs.commands import menu
from dialogs.evidence import MAX_FILE, EvidenceRefusal, megabytes
from dialogs.messages import Attachment, Inbound, Outbound
from dialogs.payloads import Done, KeepAnswer, KeepPrevious, KeepSection, PickOption, decode
from templates.messages import say

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
BOOTSTRAP_DELAYS = (1.0, 2.0, 4.0)  # setWebhook / getMe at start-up


# httpx's errors that mean the request never left: no connection was made or free.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _transient(exc: Exception) -> bool:
    """Network errors, time-outs and 5xx: PTB raises ``NetworkError`` for those;
    ``BadRequest`` (a subclass) and ``Forbidden`` will not get better by asking again."""
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


def delivery_unknown(exc: Exception) -> bool:
    """A failed request that may have reached Telegram: it left, then timed out or lost its
    connection before the answer. PTB raises the HTTP layer's error as the cause
    (``raise TimedOut from err``); a ``NetworkError`` without a cause is an answer of the Bot
    API (5xx), so Telegram did not take the message."""
    if not _transient(exc):
        return False
    cause = exc.__cause__
    if isinstance(cause, NOT_SENT):
        return False
    return cause is not None or isinstance(exc, TimedOut)


def _message_inbound(
    update: Update, text: str | None, attachment: Attachment | None = None
) -> Inbound:
    """A typed or sent message as the engine reads it, in the sender's order (update_id)."""
    message, user = update.effective_message, update.effective_user
    return Inbound(
        CHANNEL,
        str(user.id),
        text=text,
        message_id=str(message.message_id),
        name=user.full_name,
        order=update.update_id,
        attachment=attachment,
    )


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter, plus retries with back-off for transient failures of a request
    (``bot.channel.retrying``)."""

    # Cosmetic calls whose failure is logged and ignored; retrying them only delays start-up.
    NOT_RETRIED = frozenset({"setMyCommands"})
    # Pass as ``rate_limit_args`` for a message that must not be sent twice (a broadcast
    # with its own retry bookkeeping): flood limits and RetryAfter still apply, but a
    # network error or 5xx is raised at once instead of retried.
    NO_REPEAT = "no-repeat"

    def __init__(
        self, *, retry_delays: Sequence[float] = (0.5, 2.0, 5.0), max_retries: int = 3, **kwargs
    ) -> None:
        super().__init__(max_retries=max_retries, **kwargs)
        self.retry_delays = tuple(retry_delays)

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        delays = self.retry_delays
        if endpoint in self.NOT_RETRIED or rate_limit_args == self.NO_REPEAT:
            delays = ()
        if rate_limit_args == self.NO_REPEAT:
            rate_limit_args = None

        async def once():
            return await super(RetryingRateLimiter, self).process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )

        return await retrying(once, transient=_transient, delays=delays, what=endpoint)


class PerChatOrder(BaseUpdateProcessor):
    """PTB's update processor for polling: updates run concurrently, each entering its
    chat's order (``Channel.in_order``) as it arrives."""

    def __init__(self, channel: Channel, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self.channel = channel

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await self.channel.in_order(chat_of(update), coroutine)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def chat_of(update: object) -> str | None:
    chat = update.effective_chat if isinstance(update, Update) else None
    return str(chat.id) if chat is not None else None


class TelegramChannel(Channel):
    """The handlers: each update becomes an ``Inbound`` for the engine, and the replies are
    sent back with ``application.bot``."""

    name = CHANNEL

    def __init__(self, engine: TurnEngine, **options) -> None:
        super().__init__(engine, **options)
        self.application: Application | None = None

    def register(self, application: Application) -> None:
        self.application = application
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        application.add_handler(MessageHandler(private & filters.TEXT, self.on_text))
        files = filters.PHOTO | filters.Document.ALL
        application.add_handler(MessageHandler(private & files, self.on_file))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(MessageHandler(private & ~filters.TEXT, self.on_other))
        application.add_error_handler(self.on_error)

    async def process(self, update: Update) -> None:
        """One update (a webhook's), in its chat's order."""
        await self.in_order(chat_of(update), self.application.process_update(update))

    # Handlers --------------------------------------------------------------------------------

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        await self.serve(str(message.chat_id), _message_inbound(update, message.text))

    async def on_file(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo or a document: evidence for the item the person is sending it for."""
        message = update.effective_message
        if message.photo:
            sent, filename = message.photo[-1], None  # the largest size Telegram made
        else:
            sent, filename = message.document, message.document.file_name
        attachment = Attachment(
            filename=filename,
            size=sent.file_size,
            fetch=partial(self._download, sent.file_id),
        )
        inbound = _message_inbound(update, message.caption, attachment)
        await self.serve(str(message.chat_id), inbound)

    async def _download(self, file_id: str) -> bytes:
        """getFile, then the file's bytes (the Bot API keeps the link for an hour)."""
        file = await self.application.bot.get_file(file_id)
        if file.file_size is not None and file.file_size > MAX_FILE:
            raise EvidenceRefusal("evidence_too_large", size=megabytes(file.file_size))
        return bytes(await file.download_as_bytearray())

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, update.effective_user
        # Answer first, whatever happens next: it stops the button's spinner.
        try:
            await query.answer()
        except TelegramError as exc:
            log.info("answerCallbackQuery failed: %s", exc)
        if not query.data:  # a game or inline-mode button: not ours
            return
        message = query.message if isinstance(query.message, Message) else None
        chat_id = message.chat_id if message else user.id
        if message is not None and message.chat.type != "private":
            return
        inbound = Inbound(
            CHANNEL,
            str(user.id),
            payload=decode(query.data),
            message_id=f"cb:{query.id}",
            name=user.full_name,
            order=update.update_id,
        )
        await self.serve(str(chat_id), inbound, (message, query.data or ""))

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, voice, video: say what is read."""
        await self.send(str(update.effective_chat.id), [Outbound(say("telegram_text_only"))])

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything the handlers did not catch themselves (PTB calls this, then goes on)."""
        log.error("error while handling an update", exc_info=context.error)
        mark_failed()
        if isinstance(update, Update) and update.effective_chat is not None:
            user = update.effective_user.id if update.effective_user else update.effective_chat.id
            await self.apologise(str(update.effective_chat.id), str(user))

    # Sending ---------------------------------------------------------------------------------

    def apology(self, current: str | None) -> str:
        return say("telegram_handler_error", current=current)

    async def send(self, chat: str, replies: list[Outbound], context: Any = None) -> None:
        pressed, data = context if context else (None, "")
        if pressed is not None and replies and replies[0].edit_pressed:
            await self._edit_keyboard(pressed, replies[0])  # a multi-choice toggle
            replies = replies[1:]
        elif pressed is not None and replies:
            await self._mark_pressed(pressed, data, replies)
        bot = self.application.bot
        for reply in replies:
            if reply.document is not None:
                document = reply.document
                if reply.text and reply.text != document.filename:
                    await self._send_text(int(chat), reply.text, None)
                await bot.send_document(
                    int(chat), document=document.data, filename=document.filename
                )
                continue
            await self._send_text(int(chat), reply.text, keyboard(reply))

    async def send_text(self, chat: str, text: str) -> None:
        await self._send_text(int(chat), text, None)

    @staticmethod
    async def _edit_keyboard(message: Message, reply: Outbound) -> None:
        """Show ``reply``'s options on the pressed message, in place of sending it."""
        try:
            await message.edit_reply_markup(reply_markup=keyboard(reply))
        except BadRequest as exc:  # unchanged, or too old to edit
            log.info("could not edit the pressed keyboard: %s", exc)

    async def _mark_pressed(self, message: Message, data: str, replies: list[Outbound]) -> None:
        """Remove the pressed keyboard and show which button was pressed, unless the press
        only showed something (progress) and the question is still the current one. An
        answer button is shown as chosen only if the engine stored an answer (not when the
        press was stale or refused)."""
        if all(reply.informational for reply in replies):
            return
        stored = any(reply.accepted for reply in replies)
        is_answer = isinstance(
            decode(data), PickOption | KeepPrevious | KeepAnswer | KeepSection | Done
        )
        label = pressed_label(message.reply_markup, data) if stored or not is_answer else None
        try:
            text = message.text_html if message.text else ""
            if label and text:
                marked = f"{text}\n\n{html_chunks(say('telegram_pressed', label=label))[0]}"
                if utf16_len(marked) <= MAX_MESSAGE:
                    await message.edit_text(marked, parse_mode=ParseMode.HTML, reply_markup=None)
                    return
            await message.edit_reply_markup(reply_markup=None)
        except BadRequest as exc:  # too old to edit, or already edited
            log.info("could not edit the pressed message: %s", exc)

    async def _send_text(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None):
        chunks = html_chunks(text)
        for number, chunk in enumerate(chunks, start=1):
            await self.application.bot.send_message(
                chat_id,
                chunk,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if number == len(chunks) else None,
            )


async def register_commands(application: Application) -> None:
    """setMyCommands with the Vietnamese descriptions; a refusal is logged, not fatal."""
    commands = [BotCommand(name, description) for name, description in menu()]
    try:
        await application.bot.set_my_commands(commands)
    except TelegramError as exc:
        log.warning("setMyCommands was refused (%s); going on without the command menu", exc)


def build_application(
    engine: TurnEngine,
    token: str,
    *,
    base_url: str | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    retry_delays: Sequence[float] = (0.5, 2.0, 5.0),
    rate_limiter: AIORateLimiter | None = None,
    max_concurrent_updates: int = 256,
    on_handled: Callable[[str], None] | None = None,
) -> Application:
    """The PTB application serving ``engine`` (its channel is ``application.bot_data
    ["channel"]``). ``base_url`` points it at another Bot API server (``TELEGRAM_BASE_URL``,
    e.g. ``http://127.0.0.1:9000/bot``); ``request`` and ``get_updates_request`` replace PTB's
    HTTP layer (tests); ``on_handled(chat)`` is called after each update."""
    channel = TelegramChannel(engine, on_handled=on_handled)
    builder = (
        ApplicationBuilder()
        .token(token)
        .rate_limiter(rate_limiter or RetryingRateLimiter(retry_delays=retry_delays))
        .concurrent_updates(PerChatOrder(channel, max_concurrent_updates))
        .post_init(register_commands)
        .job_queue(None)
    )
    if base_url:
        builder = builder.base_url(base_url)
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    application = builder.build()
    channel.register(application)
    application.bot_data["channel"] = channel
    return application


def channel_of(application: Application) -> TelegramChannel:
    return application.bot_data["channel"]


def webhook_processor(application: Application) -> Callable[[dict], Awaitable[None]]:
    """What the webhook route does with an update's JSON: the update, through the
    application's handlers in its chat's order, to the end of its turn."""
    channel = channel_of(application)

    async def process(data: dict) -> None:
        await channel.process(Update.de_json(data, application.bot))

    return process


class TelegramReceiver:
    """Telegram's updates into ``application``, in the running event loop: long polling
    (PTB's updater), or a webhook whose route the app's web server serves
    (``bot.web.hooks``); ``start`` after that server listens, ``stop`` before it closes."""

    REFUSED = TelegramError  # what ``start`` raises when the Bot API refuses

    def __init__(
        self,
        application: Application,
        *,
        webhook_url: str | None = None,
        secret: str | None = None,
        poll_interval: float = 0.0,
    ) -> None:
        if webhook_url and not secret:
            raise ValueError("a webhook needs a secret token")
        self.application = application
        self.webhook_url = webhook_url
        self.secret = secret
        self.poll_interval = poll_interval

    async def prepare(self) -> None:
        """getMe (checks the token) and the command menu: the application can then process
        updates (before the web server takes the first webhook request)."""
        application = self.application
        await application.initialize()
        await application.post_init(application)

    async def start(self) -> None:
        """Receive the updates: setWebhook, or long polling. Raises ``TelegramError`` when
        the Bot API refuses."""
        application = self.application
        if self.webhook_url:
            await retrying(
                lambda: application.bot.set_webhook(
                    url=self.webhook_url,
                    secret_token=self.secret,
                    allowed_updates=ALLOWED_UPDATES,
                    drop_pending_updates=False,
                ),
                transient=_transient,
                delays=BOOTSTRAP_DELAYS,
                what="setWebhook",
            )
            await application.start()
            log.info("Telegram webhook set")
            return
        await application.updater.start_polling(
            poll_interval=self.poll_interval,
            allowed_updates=ALLOWED_UPDATES,
            bootstrap_retries=3,
        )
        await application.start()

    async def stop(self) -> None:
        """Stop receiving, let the updates under way finish, close the HTTP clients."""
        application = self.application
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()

"""The Telegram channel: python-telegram-bot in front of the dialogs engine.

Handlers are thin: an update becomes an ``Inbound``, the engine answers (and commits) the
turn, and the ``Outbound`` replies are sent as HTML-escaped messages with inline keyboards.
Nothing here parses answers or touches tables.

Reliability:
- updates of one chat are handled in arrival order, different chats concurrently
  (``PerChatOrder``), so one slow turn does not hold up everyone else;
- sends go through ``RetryingRateLimiter``: Telegram's flood limits (AIORateLimiter, which
  also retries ``RetryAfter``) plus retries with back-off for network errors, time-outs and
  5xx answers; getUpdates is retried by PTB's own polling loop;
- an exception while handling one person's message is logged, that person is told how far
  their answers are saved, and the bot goes on serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import (
    BotCommand,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError
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

from bot.splitting import utf16_len
from bot.telegram_render import MAX_MESSAGE, html_chunks, keyboard, pressed_label
from dialogs import Engine
from dialogs.commands import menu
from dialogs.locks import StripedLocks
from dialogs.messages import Inbound, Outbound
from dialogs.payloads import Done, KeepAnswer, KeepPrevious, KeepSection, PickOption, decode
from templates.messages import say

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]

Hook = Callable[[], Awaitable[Any]]


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter, plus retries with back-off for transient failures of a request:
    network errors, time-outs and 5xx answers (PTB raises ``NetworkError`` for those).
    ``BadRequest`` (also a ``NetworkError`` subclass) and ``Forbidden`` are not retried.
    A time-out may hide a delivered message, so a retry can repeat a message; a repeated
    question is better than a lost one."""

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
        for attempt in range(len(delays) + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except BadRequest:
                raise
            except NetworkError as exc:
                if attempt == len(delays):
                    raise
                log.warning(
                    "%s failed (%s); retry %d in %.1f s",
                    endpoint,
                    exc,
                    attempt + 1,
                    delays[attempt],
                )
                await asyncio.sleep(delays[attempt])
        raise AssertionError("unreachable")


class PerChatOrder(BaseUpdateProcessor):
    """Handles updates concurrently, except that the updates of one chat wait for each
    other and run in arrival order (a typed answer right after a button press must not
    overtake it). Chats share ``stripes`` FIFO locks."""

    def __init__(self, max_concurrent_updates: int = 256, stripes: int = 1024) -> None:
        super().__init__(max_concurrent_updates)
        self._locks = StripedLocks(stripes)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        async with self._locks(str(chat.id)):
            await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class TelegramChannel:
    """The handlers: each update becomes an ``Inbound`` for the engine, and the replies are
    sent back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def register(self, application: Application) -> None:
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        application.add_handler(MessageHandler(private & filters.TEXT, self.on_text))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(MessageHandler(private & ~filters.TEXT, self.on_other))
        application.add_error_handler(self.on_error)

    # Handlers --------------------------------------------------------------------------------

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        inbound = Inbound(
            CHANNEL,
            str(user.id),
            text=message.text,
            message_id=str(message.message_id),
            name=user.full_name,
        )
        await self._serve(context, message.chat_id, inbound)

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
        )
        await self._serve(context, chat_id, inbound, pressed=message, data=query.data or "")

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Photos, stickers, voice: say that only text is read."""
        await self._send(context, update.effective_chat.id, [Outbound(say("telegram_text_only"))])

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything the handlers did not catch themselves (PTB calls this, then goes on)."""
        log.error("error while handling an update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            await self._apologise(context, update.effective_chat.id)

    # One turn --------------------------------------------------------------------------------

    async def _serve(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat_id: int,
        inbound: Inbound,
        pressed: Message | None = None,
        data: str = "",
    ) -> None:
        try:
            replies = await self.engine.handle(inbound)
        except Exception:
            # The turn's transaction was rolled back: nothing of this message is stored.
            log.exception("the engine failed on a message from user %s", inbound.user)
            await self._apologise(context, chat_id)
            return
        try:
            if pressed is not None and replies and replies[0].edit_pressed:
                await self._edit_keyboard(pressed, replies[0])  # a multi-choice toggle
                replies = replies[1:]
            elif pressed is not None and replies:
                await self._mark_pressed(pressed, data, replies)
            await self._send(context, chat_id, replies)
        except Exception:
            # The answer is committed; only sending failed (after PTB's retries).
            log.exception("sending replies to user %s failed", inbound.user)
            await self._apologise(context, chat_id)

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

    @staticmethod
    async def _edit_keyboard(message: Message, reply: Outbound) -> None:
        """Show ``reply``'s options on the pressed message, in place of sending it."""
        try:
            await message.edit_reply_markup(reply_markup=keyboard(reply))
        except BadRequest as exc:  # unchanged, or too old to edit
            log.info("could not edit the pressed keyboard: %s", exc)

    async def _send(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, replies: list[Outbound]
    ) -> None:
        bot = context.bot
        for reply in replies:
            if reply.document is not None:
                document = reply.document
                if reply.text and reply.text != document.filename:
                    await self._send_text(bot, chat_id, reply.text, None)
                await bot.send_document(chat_id, document=document.data, filename=document.filename)
                continue
            await self._send_text(bot, chat_id, reply.text, keyboard(reply))

    @staticmethod
    async def _send_text(bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None):
        chunks = html_chunks(text)
        for number, chunk in enumerate(chunks, start=1):
            await bot.send_message(
                chat_id,
                chunk,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if number == len(chunks) else None,
            )

    async def _apologise(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
        try:  # where the database says this person is; any worker can answer that
            current = await self.engine.position(CHANNEL, str(chat_id))
        except Exception:
            log.exception("could not read the position of chat %s", chat_id)
            current = None
        try:
            await self._send_text(
                context.bot, chat_id, say("telegram_handler_error", current=current), None
            )
        except Exception:
            log.exception("could not tell chat %s about the error", chat_id)


async def register_commands(application: Application) -> None:
    """setMyCommands with the Vietnamese descriptions; a refusal is logged, not fatal."""
    commands = [BotCommand(name, description) for name, description in menu()]
    try:
        await application.bot.set_my_commands(commands)
    except TelegramError as exc:
        log.warning("setMyCommands was refused (%s); going on without the command menu", exc)


def build_application(
    engine: Engine,
    token: str,
    *,
    base_url: str | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    retry_delays: Sequence[float] = (0.5, 2.0, 5.0),
    rate_limiter: AIORateLimiter | None = None,
    max_concurrent_updates: int = 256,
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
) -> Application:
    """The PTB application serving ``engine``. ``base_url`` points it at another Bot API
    server (``TELEGRAM_BASE_URL``, e.g. ``http://127.0.0.1:9000/bot``); ``request`` and
    ``get_updates_request`` replace PTB's HTTP layer (tests). ``on_startup`` runs before the
    first update (e.g. database migrations), ``on_shutdown`` after the last."""

    async def post_init(application: Application) -> None:
        if on_startup is not None:
            await on_startup()
        await register_commands(application)

    async def post_shutdown(application: Application) -> None:
        if on_shutdown is not None:
            await on_shutdown()

    builder = (
        ApplicationBuilder()
        .token(token)
        .rate_limiter(rate_limiter or RetryingRateLimiter(retry_delays=retry_delays))
        .concurrent_updates(PerChatOrder(max_concurrent_updates))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if base_url:
        builder = builder.base_url(base_url)
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    application = builder.build()
    TelegramChannel(engine).register(application)
    return application


def run_polling(application: Application, *, poll_interval: float = 0.0) -> None:
    """Long polling until SIGINT/SIGTERM."""
    application.run_polling(
        poll_interval=poll_interval,
        allowed_updates=ALLOWED_UPDATES,
        bootstrap_retries=3,
    )


def run_webhook(
    application: Application,
    *,
    webhook_url: str,
    secret_token: str,
    listen: str = "0.0.0.0",
    port: int = 8443,
    url_path: str = "",
) -> None:
    """Serve the webhook until SIGINT/SIGTERM. Telegram sends ``secret_token`` in the
    ``X-Telegram-Bot-Api-Secret-Token`` header; PTB answers 403 to a request without it."""
    application.run_webhook(
        listen=listen,
        port=port,
        url_path=url_path,
        webhook_url=webhook_url,
        secret_token=secret_token,
        allowed_updates=ALLOWED_UPDATES,
        bootstrap_retries=3,
    )

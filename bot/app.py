"""The running bot, assembled once for any mix of channels: the database (schema brought up to
date once, at start), the engine, the channels (Telegram, Zalo), one web server for whatever
needs HTTP (webhooks, document links, later the web console) and one delivery loop for the
reminders and the outbox of every channel.

``formbot run …`` (``bot.commands.run``) reads the options and the environment into settings
and calls ``serve(App(...))``; the end-to-end tests build the same ``App`` with their forms.

Start-up order: database, channels' getMe, web server (so a webhook is reachable before it
is announced), channels' updates (polling or setWebhook), delivery. Shutdown in reverse: the
web server finishes the requests under way, the channels the updates under way, then the
delivery loop its messages in flight, then the database closes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.links import DocumentLinks, LinkConfigError, ReviewLinks
from dialogs import DocumentRenderer, Engine
from dialogs.spec import all_forms
from storage.db import Database

log = logging.getLogger(__name__)

TELEGRAM_SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")
ZALO_SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{8,256}")  # Zalo takes 8-256 characters
DEFAULT_RETRY_DELAYS = (0.5, 2.0, 5.0)


class ConfigError(Exception):
    """The environment or the options do not allow starting a channel."""


class StartError(Exception):
    """A channel or the web server could not start (the API refused, the port is taken)."""


def _url(url: str) -> str:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"not a URL: {url}")
    return url


@dataclass(frozen=True)
class TelegramSettings:
    token: str
    base_url: str | None = None
    webhook_url: str | None = None
    secret: str | None = None
    poll_interval: float = 0.0
    retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS
    rate_limiter: Any = None  # a RetryingRateLimiter other than the default (benchmarks)

    @classmethod
    def from_env(
        cls, webhook_url: str | None = None, environ: Mapping[str, str] | None = None
    ) -> TelegramSettings:
        """``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_BASE_URL``; ``WEBHOOK_SECRET`` for a webhook."""
        env = os.environ if environ is None else environ
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError("set TELEGRAM_BOT_TOKEN to the bot's token")
        secret = env.get("WEBHOOK_SECRET", "")
        if webhook_url:
            if not TELEGRAM_SECRET_FORMAT.fullmatch(secret):
                raise ConfigError(
                    "--webhook-url needs WEBHOOK_SECRET (1-256 characters: A-Z, a-z, 0-9, _ and -)"
                )
            _url(webhook_url)
        return cls(
            token=token,
            base_url=env.get("TELEGRAM_BASE_URL") or None,
            webhook_url=webhook_url or None,
            secret=secret if webhook_url else None,
        )


@dataclass(frozen=True)
class ZaloSettings:
    token: str
    base_url: str | None = None
    webhook_url: str | None = None
    secret: str | None = None
    links: DocumentLinks | None = None
    retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS

    @classmethod
    def from_env(
        cls, webhook_url: str | None = None, environ: Mapping[str, str] | None = None
    ) -> ZaloSettings:
        """``ZALO_BOT_TOKEN``, ``ZALO_BASE_URL``; ``ZALO_WEBHOOK_SECRET`` (else
        ``WEBHOOK_SECRET``) for a webhook; ``FORMBOT_PUBLIC_URL`` and ``FORMBOT_LINK_*`` for
        document links."""
        env = os.environ if environ is None else environ
        token = env.get("ZALO_BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError("set ZALO_BOT_TOKEN to the bot's token (from Zalo Bot Manager)")
        secret = env.get("ZALO_WEBHOOK_SECRET") or env.get("WEBHOOK_SECRET") or None
        if webhook_url:
            _url(webhook_url)
            if not (secret and ZALO_SECRET_FORMAT.fullmatch(secret)):
                raise ConfigError(
                    "--webhook-url needs ZALO_WEBHOOK_SECRET or WEBHOOK_SECRET "
                    "(8-256 characters: A-Z, a-z, 0-9, _ and -)"
                )
        try:
            links = DocumentLinks.from_env(dict(env))
        except LinkConfigError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            token=token,
            base_url=env.get("ZALO_BASE_URL") or None,
            webhook_url=webhook_url or None,
            secret=secret if webhook_url else None,
            links=links,
        )


@dataclass(frozen=True)
class WebSettings:
    listen: str = "0.0.0.0"
    port: int = 8080


def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


def build_engine(database: Database, environ: Mapping[str, str] | None = None) -> Engine:
    """The engine of a running bot, with the services the documents live in: the DOCX and
    PDF a channel sends after a submission, and the ranking of /xephang (WeasyPrint,
    docxtpl and openpyxl load only here, when serving); with ``FORMBOT_PUBLIC_URL``, the
    links of the reviewers' notices and of the respondents' review pages. ``ConfigError``
    when the public URL is set but its links cannot be signed."""
    from templates.export import campaign_ranking

    env = os.environ if environ is None else environ
    try:
        review_links = ReviewLinks.from_env(dict(env))
    except LinkConfigError as exc:
        raise ConfigError(str(exc)) from None
    engine = Engine(
        database,
        all_forms(),
        render_documents=document_renderer(database),
        rank=campaign_ranking(database),
    )
    if review_links is not None:
        engine.services.public_url = review_links.public_url
        engine.services.review_links = review_links
    return engine


def review_pages(engine: Engine, telegram_token: str | None) -> list:
    """The respondents' review pages (``bot.web.review``), when the engine links to them."""
    links = engine.services.review_links
    if not isinstance(links, ReviewLinks):
        return []
    from bot.web import review_routes

    return review_routes(engine.db, engine.forms, links, telegram_token)


def document_renderer(database: Database) -> DocumentRenderer:
    """What turns a submitted form into the DOCX and PDF a channel sends after the
    confirmation."""
    from templates.render import submission_documents

    return submission_documents(database)


def quiet_http_logs() -> None:
    """httpx logs every request URL at INFO, and Bot API URLs contain the token."""
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


class App:
    """The bot for ``telegram`` and/or ``zalo`` on ``engine``'s database. ``web``: where the
    web server listens when something needs it (a webhook, document links, ``web_routes``:
    Starlette routes of other pages on the same server). ``delivery``: run the reminder and
    outbox loop. ``on_handled(chat)`` is called after every update (the tests' signal)."""

    def __init__(
        self,
        engine: Engine,
        *,
        telegram: TelegramSettings | None = None,
        zalo: ZaloSettings | None = None,
        web: WebSettings | None = None,
        delivery: bool = True,
        on_handled: Callable[[str], None] | None = None,
        web_routes: Sequence[Any] = (),
        console: bool = False,
    ) -> None:
        if telegram is None and zalo is None and not (web_routes or console):
            raise ValueError("no channel to serve")
        self.engine = engine
        self.database: Database = engine.db
        self.telegram_settings = telegram
        self.zalo_settings = zalo
        self.web_settings = web or WebSettings()
        self.run_delivery = delivery
        self.on_handled = on_handled
        self.web_routes = list(web_routes)  # more pages on the same server
        self.console = console  # the web console, on the same server, after everything else
        self.telegram = None  # the PTB Application
        self.zalo = None  # the ZaloChannel
        self.web = None  # the WebServer
        self.delivery = None  # the DeliveryLoop
        self._receivers: list[Any] = []

    async def start(self) -> None:
        """Everything, in start-up order; ``StartError`` when a part cannot start (what was
        started is stopped again by ``stop``)."""
        await self.database.upgrade()
        token = self.telegram_settings.token if self.telegram_settings else None
        routes: list = review_pages(self.engine, token)
        senders: dict = {}
        if self.telegram_settings is not None:
            routes += self._build_telegram(senders)
        if self.zalo_settings is not None:
            routes += self._build_zalo(senders)
        routes += self.web_routes
        if self.console:
            from bot.web.console import console_routes

            # Last: the console answers every path the webhooks and links do not take.
            routes += console_routes(self.database, self.engine.forms)
        # The token first (getMe), so that a webhook request finds the channel ready.
        await self._each_receiver("prepare")
        if routes:
            from bot.web import WebServer, web_app

            web = self.web_settings
            self.web = WebServer(web_app(routes), listen=web.listen, port=web.port)
            try:
                await self.web.start()
            except OSError as exc:
                self.web = None
                raise StartError(f"cannot listen on {web.listen}:{web.port}: {exc}") from None
        await self._each_receiver("start")
        if self.run_delivery:
            from bot.delivery import DeliveryLoop

            self.delivery = DeliveryLoop(self.database, senders, forms=self.engine.forms)
            await self.delivery.start()

    async def _each_receiver(self, step: str) -> None:
        for name, receiver in self._receivers:
            try:
                await getattr(receiver, step)()
            except receiver.REFUSED as exc:  # a bad token, a refused webhook: not a crash
                raise StartError(f"the {name} Bot API refused to start: {exc}") from None

    def _build_telegram(self, senders: dict) -> list:
        from bot import telegram as tg
        from bot.outbox import TelegramSender

        settings = self.telegram_settings
        application = tg.build_application(
            self.engine,
            settings.token,
            base_url=settings.base_url,
            retry_delays=settings.retry_delays,
            rate_limiter=settings.rate_limiter,
            on_handled=self.on_handled,
        )
        self.telegram = application
        self._receivers.append(
            (
                "Telegram",
                tg.TelegramReceiver(
                    application,
                    webhook_url=settings.webhook_url,
                    secret=settings.secret,
                    poll_interval=settings.poll_interval,
                ),
            )
        )
        senders["telegram"] = TelegramSender(application.bot)
        if not settings.webhook_url:
            return []
        from bot.web import telegram_webhook

        path = webhook_path(settings.webhook_url)
        return [telegram_webhook(path, settings.secret, tg.webhook_processor(application))]

    def _build_zalo(self, senders: dict) -> list:
        from bot.outbox import ZaloSender
        from bot.zalo import ZaloChannel, ZaloReceiver
        from bot.zalo_api import ZaloApi

        settings = self.zalo_settings
        api = ZaloApi(settings.token, base_url=settings.base_url)
        # The linked documents live in the database, where every worker finds them.
        links = settings.links.with_database(self.database) if settings.links else None
        channel = ZaloChannel(
            self.engine,
            api,
            links=links,
            retry_delays=settings.retry_delays,
            on_handled=self.on_handled,
        )
        self.zalo = channel
        receiver = ZaloReceiver(channel, webhook_url=settings.webhook_url, secret=settings.secret)
        self._receivers.append(("Zalo", receiver))
        senders["zalo"] = ZaloSender(api)
        routes = []
        if settings.webhook_url:
            from bot.web import zalo_webhook

            path = webhook_path(settings.webhook_url)
            routes.append(zalo_webhook(path, settings.secret, channel.handle_update))
        if links is not None:
            from bot.web import document_routes

            routes += document_routes(links)
        return routes

    async def stop(self) -> None:
        """Everything that started, in reverse; never raises."""
        steps = []
        if self.web is not None:
            steps.append(("the web server", self.web.stop))
        steps += [(f"the {name} channel", receiver.stop) for name, receiver in self._receivers]
        if self.delivery is not None:
            steps.append(("the delivery loop", self.delivery.stop))
        steps.append(("the database", self.database.dispose))
        for what, stop in steps:
            try:
                await stop()
            except Exception:
                log.exception("stopping %s failed", what)
        self.web = self.delivery = None
        self._receivers = []


async def serve_web(listen: str, port: int, *, prog: str) -> int:
    """``formbot web``: the web console alone (no channel; what it queues, such as returns
    and reminders, the running bot's delivery loop sends)."""
    database = Database()
    app = App(Engine(database, all_forms()), web=WebSettings(listen, port), console=True)
    app.run_delivery = False

    def ready() -> None:
        shown = "127.0.0.1" if listen in ("0.0.0.0", "::") else listen
        print(f"{prog}: the web console is on http://{shown}:{app.web.port}/", flush=True)

    return await serve(app, prog=prog, on_ready=ready)


async def serve(app: App, *, prog: str, on_ready: Callable[[], None] | None = None) -> int:
    """Run ``app`` until SIGINT or SIGTERM. Exit status 0, or 1 when it cannot start."""
    quiet_http_logs()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await app.start()
        except StartError as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return 1
        if on_ready is not None:
            on_ready()
        await stop.wait()
        return 0
    finally:
        await app.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)

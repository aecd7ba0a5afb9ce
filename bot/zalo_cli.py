"""``formbot run zalo`` (long polling, or a webhook with ``--webhook-url``) and Zalo next to
Telegram in one process (``formbot run telegram zalo``).

Everything secret comes from the environment and is never printed: ``ZALO_BOT_TOKEN``;
``ZALO_WEBHOOK_SECRET`` (else ``WEBHOOK_SECRET``) for the webhook; ``FORMBOT_LINK_SECRET``
for document links. ``ZALO_BASE_URL`` points the bot at another Bot API server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.links import DocumentLinks, LinkConfigError
from dialogs import DocumentRenderer, Engine

DEFAULT_PORT = 8080
Hook = Callable[[], Awaitable[object]]


class ZaloConfigError(Exception):
    """The environment or the options do not allow starting the Zalo channel."""


@dataclass(frozen=True)
class ZaloSettings:
    token: str
    base_url: str | None
    webhook_url: str | None
    secret: str | None
    listen: str
    port: int
    links: DocumentLinks | None

    @property
    def webhook_path(self) -> str | None:
        if not self.webhook_url:
            return None
        return urlsplit(self.webhook_url).path or "/"


def settings_from_env(
    webhook_url: str | None, listen: str, port: int, environ: dict[str, str] | None = None
) -> ZaloSettings:
    env = os.environ if environ is None else environ
    from bot.zalo import SECRET_FORMAT

    token = env.get("ZALO_BOT_TOKEN", "").strip()
    if not token:
        raise ZaloConfigError("set ZALO_BOT_TOKEN to the bot's token (from Zalo Bot Manager)")
    secret = env.get("ZALO_WEBHOOK_SECRET") or env.get("WEBHOOK_SECRET") or None
    if webhook_url:
        if urlsplit(webhook_url).scheme not in ("http", "https"):
            raise ZaloConfigError(f"not a URL: {webhook_url}")
        if not (secret and SECRET_FORMAT.fullmatch(secret)):
            raise ZaloConfigError(
                "--webhook-url needs ZALO_WEBHOOK_SECRET or WEBHOOK_SECRET "
                "(8-256 characters: A-Z, a-z, 0-9, _ and -)"
            )
    try:
        links = DocumentLinks.from_env(env)
    except LinkConfigError as exc:
        raise ZaloConfigError(str(exc)) from None
    return ZaloSettings(
        token=token,
        base_url=env.get("ZALO_BASE_URL") or None,
        webhook_url=webhook_url or None,
        secret=secret if webhook_url else None,
        listen=listen,
        port=port,
        links=links,
    )


def build_service(
    engine: Engine,
    settings: ZaloSettings,
    *,
    on_handled: Callable[[str], None] | None = None,
    **channel_options,
):
    """The ``bot.zalo.ZaloService`` for ``settings`` on ``engine``."""
    from bot.zalo import ZaloChannel, ZaloService
    from bot.zalo_api import ZaloApi

    api = ZaloApi(settings.token, base_url=settings.base_url)
    channel = ZaloChannel(
        engine, api, links=settings.links, on_handled=on_handled, **channel_options
    )
    return ZaloService(
        channel,
        webhook_url=settings.webhook_url,
        secret=settings.secret,
        webhook_path=settings.webhook_path,
        listen=settings.listen,
        port=settings.port,
    )


def quiet_http_logs() -> None:
    """httpx logs every request URL at INFO, and Bot API URLs contain the token."""
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


async def serve(
    service,
    *,
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
    on_ready: Callable[[], None] | None = None,
    prog: str = "formbot run zalo",
) -> int:
    """Run ``service`` until SIGINT or SIGTERM. Exit status 0, or 1 when it cannot start."""
    from bot.zalo_api import ZaloApiError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        if on_startup is not None:
            await on_startup()
        try:
            await service.start()
        except ZaloApiError as exc:
            print(f"{prog}: the Zalo Bot API refused to start: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            where = f"{service.listen}:{service.port}"
            print(f"{prog}: cannot listen on {where}: {exc}", file=sys.stderr)
            return 1
        if on_ready is not None:
            on_ready()
        await stop.wait()
        return 0
    finally:
        await service.stop()
        if on_shutdown is not None:
            await on_shutdown()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


# Sub-commands ----------------------------------------------------------------------------------


def register(run_sub: argparse._SubParsersAction, telegram: argparse.ArgumentParser) -> None:
    """``formbot run zalo``, and ``formbot run telegram zalo`` on the Telegram parser."""
    z = run_sub.add_parser(
        "zalo",
        help="Zalo: long polling, or a webhook with --webhook-url",
        description="Token from ZALO_BOT_TOKEN; ZALO_BASE_URL points at another Bot API server; "
        "the webhook's secret token comes from ZALO_WEBHOOK_SECRET (or WEBHOOK_SECRET). With "
        "FORMBOT_PUBLIC_URL and FORMBOT_LINK_SECRET, documents are sent as signed links served "
        "on --listen/--port.",
    )
    z.add_argument(
        "--webhook-url",
        metavar="URL",
        help="public HTTPS URL Zalo posts updates to (default: long polling); "
        "the local server listens on the URL's path",
    )
    z.add_argument("--listen", default="0.0.0.0", help="web server address (0.0.0.0)")
    z.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"web server port ({DEFAULT_PORT})"
    )
    z.set_defaults(handler=cmd_run_zalo)

    telegram.add_argument(
        "also",
        nargs="*",
        metavar="zalo",
        help="also serve Zalo in the same process (polling, or --zalo-webhook-url)",
    )
    telegram.add_argument("--zalo-webhook-url", metavar="URL", help="Zalo's webhook URL")
    telegram.add_argument("--zalo-listen", default="0.0.0.0", help="Zalo web server address")
    telegram.add_argument(
        "--zalo-port", type=int, default=DEFAULT_PORT, help=f"Zalo web server port ({DEFAULT_PORT})"
    )


def cmd_run_zalo(args: argparse.Namespace, render_documents: DocumentRenderer | None = None) -> int:
    try:
        settings = settings_from_env(args.webhook_url, args.listen, args.port)
    except ZaloConfigError as exc:
        print(f"formbot run zalo: {exc}", file=sys.stderr)
        return 2
    quiet_http_logs()
    from bot.commands.run import document_renderer
    from bot.outbox import ZaloSender
    from bot.reminders import DeliveryLoop
    from storage.db import Database

    database = Database()
    engine = Engine(database, render_documents=render_documents or document_renderer(database))
    service = build_service(engine, settings)
    # Reminders and broadcasts to Zalo users leave through the outbox from this process too.
    delivery = DeliveryLoop(database, {"zalo": ZaloSender(service.api)})
    return asyncio.run(
        serve(
            service,
            on_startup=chain(database.upgrade, delivery.start),
            on_shutdown=chain(delivery.stop, database.dispose),
        )
    )


class Companion:
    """Zalo inside python-telegram-bot's event loop: ``start`` and ``stop`` are called from the
    application's post_init and post_shutdown."""

    def __init__(self, settings: ZaloSettings) -> None:
        self.settings = settings
        self.service = None
        self.exit_code = 0

    def attach(self, engine: Engine) -> Companion:
        self.service = build_service(engine, self.settings)
        return self

    async def start(self) -> None:
        from bot.zalo_api import ZaloApiError

        try:
            await self.service.start()
        except (ZaloApiError, OSError) as exc:
            print(f"formbot run telegram zalo: Zalo did not start: {exc}", file=sys.stderr)
            self.exit_code = 1
            # python-telegram-bot takes SystemExit from post_init as "stop": it shuts down
            # cleanly, then ``cmd_run_telegram`` returns ``exit_code``.
            raise SystemExit(1) from None

    async def stop(self) -> None:
        await self.service.stop()


def companion(args: argparse.Namespace) -> Companion | None:
    """For ``formbot run telegram [zalo]``: None without ``zalo``; exits with status 2 and a
    message when the channels named are unknown or Zalo's settings are unusable."""
    also = [name.lower() for name in getattr(args, "also", None) or []]
    unknown = [name for name in also if name != "zalo"]
    if unknown:
        print(f"formbot run telegram: unknown channel: {', '.join(unknown)}", file=sys.stderr)
        raise SystemExit(2)
    if not also:
        if getattr(args, "zalo_webhook_url", None):
            print("formbot run telegram: --zalo-webhook-url needs `zalo`", file=sys.stderr)
            raise SystemExit(2)
        return None
    try:
        settings = settings_from_env(args.zalo_webhook_url, args.zalo_listen, args.zalo_port)
    except ZaloConfigError as exc:
        print(f"formbot run telegram zalo: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return Companion(settings)


def chain(*hooks: Hook | None) -> Hook:
    """One hook that awaits ``hooks`` in order (None entries skipped)."""

    async def run() -> None:
        for hook in hooks:
            if hook is not None:
                await hook()

    return run

"""``formbot run telegram``: serve the bot (long polling, or a webhook behind HTTPS)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from urllib.parse import urlsplit

from bot import zalo_cli
from dialogs import DocumentRenderer, Engine
from storage.db import Database

SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="serve the bot on a messaging channel")
    run_sub = p.add_subparsers(dest="channel", metavar="CHANNEL", required=True)
    tg = run_sub.add_parser(
        "telegram",
        help="Telegram: long polling, or a webhook with --webhook-url",
        description="Token from TELEGRAM_BOT_TOKEN; TELEGRAM_BASE_URL points at another Bot API "
        "server; the webhook's secret token comes from WEBHOOK_SECRET.",
    )
    tg.add_argument(
        "--webhook-url",
        metavar="URL",
        help="public HTTPS URL Telegram posts updates to (default: long polling); "
        "the local server listens on the URL's path",
    )
    tg.add_argument("--listen", default="0.0.0.0", help="webhook listen address (0.0.0.0)")
    tg.add_argument("--port", type=int, default=8443, help="webhook listen port (8443)")
    tg.set_defaults(handler=cmd_run_telegram)
    zalo_cli.register(run_sub, tg)  # formbot run zalo; formbot run telegram zalo


def document_renderer(database: Database) -> DocumentRenderer | None:
    """What turns a submitted form into the DOCX and PDF the channel sends after the
    confirmation."""
    from templates.render import submission_documents  # WeasyPrint loads only when serving

    return submission_documents(database)


def cmd_run_telegram(
    args: argparse.Namespace, render_documents: DocumentRenderer | None = None
) -> int:
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        print("formbot run telegram: set TELEGRAM_BOT_TOKEN to the bot's token", file=sys.stderr)
        return 2
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if args.webhook_url:
        if not SECRET_FORMAT.fullmatch(secret):
            print(
                "formbot run telegram: --webhook-url needs WEBHOOK_SECRET "
                "(1-256 characters: A-Z, a-z, 0-9, _ and -)",
                file=sys.stderr,
            )
            return 2
        if urlsplit(args.webhook_url).scheme not in ("http", "https"):
            print(f"formbot run telegram: not a URL: {args.webhook_url}", file=sys.stderr)
            return 2

    zalo = zalo_cli.companion(args)  # `formbot run telegram zalo`: Zalo in this event loop

    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))

    from telegram.error import TelegramError

    from bot import telegram as channel

    database = Database()
    engine = Engine(database, render_documents=render_documents or document_renderer(database))
    if zalo is not None:
        zalo.attach(engine)
    # Reminders and broadcasts leave through the outbox, on this application's JobQueue.
    from bot.outbox import TelegramSender, ZaloSender
    from bot.reminders import schedule_reminders

    dispatcher = None

    async def stop_delivery() -> None:
        if dispatcher is not None:
            dispatcher.stop()

    application = channel.build_application(
        engine,
        token,
        base_url=os.environ.get("TELEGRAM_BASE_URL") or None,
        on_startup=zalo_cli.chain(database.upgrade, zalo and zalo.start),
        on_shutdown=zalo_cli.chain(stop_delivery, zalo and zalo.stop, database.dispose),
    )
    senders = {"telegram": TelegramSender(application.bot)}
    if zalo is not None:
        senders["zalo"] = ZaloSender(zalo.service.api)
    dispatcher = schedule_reminders(application, database, senders=senders)
    try:
        if args.webhook_url:
            channel.run_webhook(
                application,
                webhook_url=args.webhook_url,
                secret_token=secret,
                listen=args.listen,
                port=args.port,
                url_path=urlsplit(args.webhook_url).path.lstrip("/"),
            )
        else:
            channel.run_polling(application)
    except TelegramError as exc:
        print(f"formbot run telegram: the Bot API refused to start: {exc}", file=sys.stderr)
        return 1
    return zalo.exit_code if zalo else 0

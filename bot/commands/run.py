"""``formbot run telegram [zalo]`` and ``formbot run zalo``: the options and the environment
read into settings for ``bot.app``, which runs the bot.

Everything secret comes from the environment and is never printed: ``TELEGRAM_BOT_TOKEN``,
``WEBHOOK_SECRET``, ``ZALO_BOT_TOKEN``, ``ZALO_WEBHOOK_SECRET``, ``FORMBOT_LINK_SECRET``.
One process has one web server: with a Telegram webhook it listens on ``--listen/--port``
and Zalo's routes join it; otherwise Zalo's server listens on ``--zalo-listen/--zalo-port``
(``formbot run telegram zalo``) or ``--listen/--port`` (``formbot run zalo``).
"""

from __future__ import annotations

import argparse
import sys

TELEGRAM_PORT = 8443
ZALO_PORT = 8080
WEB_HELP = "also serve the web console on the same web server (sign-in links: FORMBOT_PUBLIC_URL)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="serve the bot on messaging channels")
    run_sub = p.add_subparsers(dest="channel", metavar="CHANNEL", required=True)
    tg = run_sub.add_parser(
        "telegram",
        help="Telegram (and Zalo with `zalo`): long polling, or a webhook with --webhook-url",
        description="Token from TELEGRAM_BOT_TOKEN; TELEGRAM_BASE_URL points at another Bot API "
        "server; the webhook's secret token comes from WEBHOOK_SECRET.",
    )
    tg.add_argument(
        "also",
        nargs="*",
        metavar="zalo",
        help="also serve Zalo in the same process (polling, or --zalo-webhook-url)",
    )
    tg.add_argument(
        "--webhook-url",
        metavar="URL",
        help="public HTTPS URL Telegram posts updates to (default: long polling); "
        "the local server listens on the URL's path",
    )
    tg.add_argument("--listen", default="0.0.0.0", help="web server address (0.0.0.0)")
    tg.add_argument(
        "--port", type=int, default=TELEGRAM_PORT, help=f"web server port ({TELEGRAM_PORT})"
    )
    tg.add_argument("--zalo-webhook-url", metavar="URL", help="Zalo's webhook URL")
    tg.add_argument(
        "--zalo-listen",
        help="web server address when Telegram polls (0.0.0.0; with --webhook-url: --listen)",
    )
    tg.add_argument(
        "--zalo-port",
        type=int,
        help=f"web server port when Telegram polls ({ZALO_PORT}; with --webhook-url: --port)",
    )
    tg.add_argument("--web", action="store_true", help=WEB_HELP)
    tg.set_defaults(handler=cmd_run_telegram)

    z = run_sub.add_parser(
        "zalo",
        help="Zalo: a webhook with --webhook-url (production), or long polling (development)",
        description="Token from ZALO_BOT_TOKEN; ZALO_BASE_URL points at another Bot API server; "
        "the webhook's secret token comes from ZALO_WEBHOOK_SECRET (or WEBHOOK_SECRET). With "
        "FORMBOT_PUBLIC_URL and FORMBOT_LINK_SECRET, documents are sent as signed links served "
        "on --listen/--port.",
    )
    z.add_argument(
        "--webhook-url",
        metavar="URL",
        help="public HTTPS URL Zalo posts updates to, Zalo's mode for production (default: "
        "long polling, for development, one process only); the local server listens on the "
        "URL's path",
    )
    z.add_argument("--listen", default="0.0.0.0", help="web server address (0.0.0.0)")
    z.add_argument("--port", type=int, default=ZALO_PORT, help=f"web server port ({ZALO_PORT})")
    z.add_argument("--web", action="store_true", help=WEB_HELP)
    z.set_defaults(handler=cmd_run_zalo)


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return 2


def cmd_run_telegram(args: argparse.Namespace) -> int:
    from bot.app import ConfigError, TelegramSettings, WebSettings, ZaloSettings

    also = [name.lower() for name in args.also or []]
    prog = "formbot run telegram" + (" zalo" if also else "")
    if unknown := [name for name in also if name != "zalo"]:
        return _fail("formbot run telegram", f"unknown channel: {', '.join(unknown)}")
    if not also and (args.zalo_webhook_url or args.zalo_port or args.zalo_listen):
        return _fail(prog, "--zalo-webhook-url, --zalo-listen and --zalo-port need `zalo`")
    web = WebSettings(args.listen, args.port)
    if args.webhook_url and also:
        # One server: Zalo's routes join Telegram's webhook server.
        if (args.zalo_port not in (None, args.port)) or (
            args.zalo_listen not in (None, args.listen)
        ):
            return _fail(
                prog,
                "one web server serves both channels: leave out --zalo-listen/--zalo-port "
                "or give them --listen/--port's values",
            )
    elif also:
        web = WebSettings(args.zalo_listen or "0.0.0.0", args.zalo_port or ZALO_PORT)
    try:
        _check_admins()
        telegram = TelegramSettings.from_env(args.webhook_url)
        zalo = ZaloSettings.from_env(args.zalo_webhook_url) if also else None
    except ConfigError as exc:
        return _fail(prog, str(exc))
    return _run(prog, telegram=telegram, zalo=zalo, web=web, console=args.web)


def cmd_run_zalo(args: argparse.Namespace) -> int:
    from bot.app import ConfigError, WebSettings, ZaloSettings

    try:
        _check_admins()
        zalo = ZaloSettings.from_env(args.webhook_url)
    except ConfigError as exc:
        return _fail("formbot run zalo", str(exc))
    return _run(
        "formbot run zalo", zalo=zalo, web=WebSettings(args.listen, args.port), console=args.web
    )


def _check_admins() -> None:
    """``FORMBOT_ADMINS`` names the channel of every admin (``ConfigError`` otherwise)."""
    from bot.app import ConfigError
    from dialogs.access import AdminsError, check_admins

    try:
        check_admins()
    except AdminsError as exc:
        raise ConfigError(str(exc)) from None


def _run(prog: str, **channels) -> int:
    import asyncio

    from bot.app import App, ConfigError, build_engine, serve
    from storage.db import Database

    database = Database()
    try:
        engine = build_engine(database)
    except ConfigError as exc:
        return _fail(prog, str(exc))
    return asyncio.run(serve(App(engine, **channels), prog=prog))

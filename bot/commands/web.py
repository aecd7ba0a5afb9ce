"""``formbot web [--listen ADDR --port N]``: the web console on its own (``formbot run …
--web`` serves it beside the bots); ``formbot web login USER``: a one-time sign-in link.

USER is ``telegram:ID`` or ``zalo:ID`` of a reviewer or admin, or the name of an admin signing
in from the server (whoever can run this command already holds the database)."""

from __future__ import annotations

import argparse
import sys

from bot.commands.common import with_database

DEFAULT_LISTEN = "127.0.0.1"
DEFAULT_PORT = 8080
CHAT_CHANNELS = ("telegram", "zalo")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "web",
        help="the web console (campaigns, units, submissions, invites); `web login USER`",
        description="Serves the web console on --listen/--port. Sign-in links are built from "
        "FORMBOT_PUBLIC_URL (default http://127.0.0.1:8080).",
    )
    p.add_argument("--listen", default=DEFAULT_LISTEN, help=f"address ({DEFAULT_LISTEN})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    p.set_defaults(handler=cmd_web)
    actions = p.add_subparsers(dest="web_command", metavar="ACTION")
    q = actions.add_parser("login", help="print a one-time sign-in link (15 minutes)")
    q.add_argument(
        "user",
        metavar="USER",
        help="telegram:ID or zalo:ID of a reviewer or admin, or an admin's name",
    )
    q.set_defaults(handler=cmd_web_login)


def cmd_web(args: argparse.Namespace) -> int:
    import asyncio

    from bot.app import serve_web

    return asyncio.run(serve_web(args.listen, args.port, prog="formbot web"))


def cmd_web_login(args: argparse.Namespace) -> int:
    from bot.web.console.auth import CLI_CHANNEL, role_of
    from dialogs import access

    channel, colon, user = args.user.strip().partition(":")
    if colon and channel in CHAT_CHANNELS:
        if not user.strip():
            print(f"formbot web login: {args.user!r} names no user id", file=sys.stderr)
            return 2
        user = user.strip()
    elif args.user.strip().isdigit():
        # A bare id could be a Telegram or a Zalo user (as in FORMBOT_ADMINS).
        print(
            f"formbot web login: write telegram:{args.user.strip()} or zalo:{args.user.strip()}",
            file=sys.stderr,
        )
        return 2
    else:
        # An admin signing in from the server, by name.
        channel, user = CLI_CHANNEL, " ".join(args.user.split())
        if not user:
            print("formbot web login: give telegram:ID, zalo:ID or a name", file=sys.stderr)
            return 2

    async def run(database):
        async with database.session() as session, session.begin():
            role = await role_of(session, channel, user)
            if not access.is_staff(role):
                return None
            return await access.issue_web_login(session, channel, user, None)

    link = with_database(run)
    if link is None:
        print(
            f"formbot web login: {channel}:{user} is not a reviewer or an admin (invite them "
            "as a reviewer with `formbot invite UNIT --role reviewer`, or `formbot admin add`)",
            file=sys.stderr,
        )
        return 1
    print(link)
    print("works once, for 15 minutes", file=sys.stderr)
    if access.public_url() is None:
        print(
            "note: FORMBOT_PUBLIC_URL is not set; the link points at formbot web's default address",
            file=sys.stderr,
        )
    return 0

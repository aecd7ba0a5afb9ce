"""The Telegram bot as the end-to-end tests and the benchmark run it: the real PTB
application from ``bot.telegram``, long polling the Bot API at ``TELEGRAM_BASE_URL``, on the
database at ``DATABASE_URL``, serving the fixture form ``tests/fixtures/mini.yaml``.

What differs from ``formbot run telegram``, and why:
- the form comes from the test fixtures (the CLI serves the built-in forms);
- it prints "ready" once started and "handled CHAT_ID" after each update, so a test knows
  a turn is finished without sleeping (an extra handler in a later group);
- the emulator answers immediately instead of long polling, so getUpdates is paced by
  ``--poll-interval``; retries of failed requests wait ``--retry-delay`` seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402
from telegram.ext import TypeHandler  # noqa: E402

from bot import telegram as channel  # noqa: E402
from dialogs import Engine  # noqa: E402
from dialogs.spec import load_spec  # noqa: E402
from storage.db import Database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--form", default=str(ROOT / "tests" / "fixtures" / "mini.yaml"))
    parser.add_argument("--poll-interval", type=float, default=0.01)
    parser.add_argument("--retry-delay", type=float, default=0.05)
    parser.add_argument(
        "--no-rate-limit",
        action="store_true",
        help="lift Telegram's 30 messages/s flood limit (benchmark only)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    spec = load_spec(args.form)
    database = Database()
    engine = Engine(database, forms={spec.id: spec})
    rate_limiter = None
    if args.no_rate_limit:
        rate_limiter = channel.RetryingRateLimiter(
            retry_delays=(args.retry_delay,), overall_max_rate=0, group_max_rate=0
        )

    async def startup() -> None:
        await database.upgrade()
        print("ready", flush=True)

    application = channel.build_application(
        engine,
        os.environ["TELEGRAM_BOT_TOKEN"],
        base_url=os.environ["TELEGRAM_BASE_URL"],
        retry_delays=(args.retry_delay, args.retry_delay),
        rate_limiter=rate_limiter,
        on_startup=startup,
        on_shutdown=database.dispose,
    )

    async def report(update: Update, _context) -> None:
        chat = update.effective_chat
        print(f"handled {chat.id if chat else 0}", flush=True)

    application.add_handler(TypeHandler(Update, report), group=1)
    channel.run_polling(application, poll_interval=args.poll_interval)


if __name__ == "__main__":
    main()

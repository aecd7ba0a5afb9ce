"""The Telegram bot as the end-to-end tests and the benchmark run it: the real app
(``bot.app``, as ``formbot run telegram`` assembles it), long polling the Bot API at
``TELEGRAM_BASE_URL``, on the database at ``DATABASE_URL``, serving the fixture form
``tests/fixtures/mini.yaml``.

What differs from ``formbot run telegram``, and why:
- the form comes from the test fixtures (the CLI serves the built-in forms);
- it prints "ready" once started and "handled CHAT_ID" after each update, so a test knows
  a turn is finished without sleeping (``App(on_handled=…)``);
- the emulator answers immediately instead of long polling, so getUpdates is paced by
  ``--poll-interval``; retries of failed requests wait ``--retry-delay`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot import telegram as channel  # noqa: E402
from bot.app import App, TelegramSettings, serve  # noqa: E402
from dialogs import Engine  # noqa: E402
from dialogs.spec import load_spec  # noqa: E402
from storage.db import Database  # noqa: E402


def main() -> int:
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
    engine = Engine(Database(), forms={spec.id: spec})
    rate_limiter = None
    if args.no_rate_limit:
        rate_limiter = channel.RetryingRateLimiter(
            retry_delays=(args.retry_delay,), overall_max_rate=0, group_max_rate=0
        )
    settings = TelegramSettings(
        token=os.environ["TELEGRAM_BOT_TOKEN"],
        base_url=os.environ["TELEGRAM_BASE_URL"],
        poll_interval=args.poll_interval,
        retry_delays=(args.retry_delay, args.retry_delay),
        rate_limiter=rate_limiter,
    )
    app = App(
        engine,
        telegram=settings,
        on_handled=lambda chat: print(f"handled {chat}", flush=True),
    )
    return asyncio.run(serve(app, prog="telegram_bot", on_ready=lambda: print("ready", flush=True)))


if __name__ == "__main__":
    sys.exit(main())

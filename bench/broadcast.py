"""Broadcast throughput: queued reminders through the outbox against a fake Bot API server.

A local fake Bot API server (Starlette on uvicorn, in a child process, 127.0.0.1 only)
answers a share of the sendMessage calls (5 % by default) with 429 Too Many Requests
(retry_after 1) or 502 Bad Gateway, half each, and records every message it accepts; with
``--slow``, a share of the accepted ones is answered only after ``--slow-delay`` seconds, past
the client's read time-out (the person has the message, the sender does not know). The
outbox dispatchers (``--dispatchers``, each with its own connections, as workers have) send N
queued reminders through the bot the running app uses (PTB's ExtBot with our rate limiter, its
flood limits off: the dispatcher paces) at the configured rate. Printed: the achieved request
rate as the server saw it (first to last call) next to the configured limit, the busiest
second, the delivered rate, and lost and duplicate messages (from the server's record, checked
against the outbox table), and how many ended "delivery unknown". Last line: one JSON object.

    python bench/broadcast.py                         # 10,000 messages at 30/s (~6 min)
    python bench/broadcast.py --messages 1000 --rate 50
    python bench/broadcast.py --messages 300 --slow 0.1 --dispatchers 2
    python bench/broadcast.py --database postgresql+asyncpg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import time as clock_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.outbox import Dispatcher, DispatchStats, QuietHours, TelegramSender  # noqa: E402
from storage import outbox as queue  # noqa: E402
from storage.db import Database  # noqa: E402

TOKEN = "123456:BENCH"
FIRST_CHAT = 10_000_000
NEVER_QUIET = QuietHours(clock_time(0, 0), clock_time(0, 0))


# The fake Bot API server (child process) ----------------------------------------------------


def serve(fail: float, seed: int, max_seconds: float, slow: float, slow_delay: float) -> None:
    import socket
    import threading
    from urllib.parse import parse_qs

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    rng = random.Random(seed)
    record = {"calls": [], "accepted": Counter(), "e429": 0, "e502": 0, "slow": 0}

    async def bot_api(request: Request) -> JSONResponse:
        method = request.path_params["method"]
        if method == "getMe":
            me = {"id": 1, "is_bot": True, "first_name": "bench", "username": "bench_bot"}
            return JSONResponse({"ok": True, "result": me})
        if method != "sendMessage":
            return JSONResponse({"ok": True, "result": True})
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        chat = int(form["chat_id"])
        record["calls"].append(time.time())
        draw = rng.random()
        if draw < fail / 2:
            record["e429"] += 1
            body = {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }
            return JSONResponse(body, status_code=429)
        if draw < fail:
            record["e502"] += 1
            body = {"ok": False, "error_code": 502, "description": "Bad Gateway"}
            return JSONResponse(body, status_code=502)
        record["accepted"][chat] += 1
        if rng.random() < slow:  # taken, but answered after the client has given up
            record["slow"] += 1
            await asyncio.sleep(slow_delay)
        message = {
            "message_id": sum(record["accepted"].values()),
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private"},
            "text": form.get("text", ""),
        }
        return JSONResponse({"ok": True, "result": message})

    async def stats(_request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "calls": record["calls"],
                "e429": record["e429"],
                "e502": record["e502"],
                "slow": record["slow"],
                "accepted": {str(k): v for k, v in record["accepted"].items()},
            }
        )

    app = Starlette(
        routes=[
            Route("/bot{token}/{method}", bot_api, methods=["GET", "POST"]),
            Route("/stats", stats),
        ]
    )
    sock = socket.create_server(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", access_log=False, log_level="warning")
    )

    def stop() -> None:  # never outlives a forgotten run
        server.should_exit = True

    timer = threading.Timer(max_seconds, stop)
    timer.daemon = True
    timer.start()
    server.run(sockets=[sock])


def start_server(args: argparse.Namespace, max_seconds: float) -> tuple[subprocess.Popen, int]:
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            *("--fail", str(args.fail), "--seed", str(args.seed)),
            *("--slow", str(args.slow), "--slow-delay", str(args.slow_delay)),
            *("--max-seconds", str(max_seconds)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(child.stdout.readline())
    return child, port


# The run ------------------------------------------------------------------------------------


class TimedSender:
    """The Telegram sender, noting when each request leaves."""

    def __init__(self, sender: TelegramSender) -> None:
        self.sender = sender
        self.channel = sender.channel
        self.max_rate = sender.max_rate
        self.per_chat_interval = sender.per_chat_interval
        self.times: list[float] = []

    async def send(self, external_id: str, text: str):
        self.times.append(time.time())
        return await self.sender.send(external_id, text)


async def prepare(database: Database, messages: int) -> None:
    await database.upgrade()
    async with database.engine.begin() as connection:
        await queue.delete_everything(connection)
    async with database.session() as session, session.begin():
        broadcast = await queue.create_broadcast(session, kind="reminder", campaign_id="bench")
        rows = [
            {
                "key": f"reminder:bench:{FIRST_CHAT + n}",
                "channel": "telegram",
                "external_id": str(FIRST_CHAT + n),
                "broadcast_id": broadcast.id,
                "kind": "reminder",
                "text": f"⏰ Nhắc việc: phiếu của đơn vị số {n} còn 3 ngày nữa là hết hạn.",
            }
            for n in range(messages)
        ]
        broadcast.total = await queue.enqueue(session, rows)


def app_bot(port: int, args: argparse.Namespace):
    """The bot as the running app has it: ExtBot with our rate limiter (which retries failed
    requests of the live conversation; the outbox's sends ask it not to)."""
    from telegram.ext import ExtBot
    from telegram.request import HTTPXRequest

    from bot.telegram import RetryingRateLimiter

    return ExtBot(
        TOKEN,
        base_url=f"http://127.0.0.1:{port}/bot",
        request=HTTPXRequest(connection_pool_size=args.concurrency, read_timeout=args.read_timeout),
        rate_limiter=RetryingRateLimiter(overall_max_rate=0, group_max_rate=0),
    )


async def run(args: argparse.Namespace, port: int) -> dict:
    if args.database:
        databases = [Database(args.database) for _ in range(args.dispatchers)]
        scratch = None
    else:
        scratch = tempfile.TemporaryDirectory()
        databases = [
            Database(f"sqlite+aiosqlite:///{scratch.name}/bench.db")
            for _ in range(args.dispatchers)
        ]
    try:
        await prepare(databases[0], args.messages)
        bots = [app_bot(port, args) for _ in databases]
        senders = [TimedSender(TelegramSender(bot, max_rate=args.rate)) for bot in bots]
        dispatchers = [
            Dispatcher(
                database,
                {"telegram": sender},
                concurrency=args.concurrency,
                quiet=QuietHours.from_env() if args.quiet_hours else NEVER_QUIET,
                progress_every=10.0,
            )
            for database, sender in zip(databases, senders, strict=True)
        ]

        def progress(stats: DispatchStats) -> None:
            print(
                f"  {stats.elapsed:6.0f} s  sent {stats.sent:>6} / {args.messages}  "
                f"retried {stats.retried}  failed {stats.failed}",
                flush=True,
            )

        for bot in bots:
            await bot.initialize()
        try:
            stats = await asyncio.gather(
                *(d.run(until_idle=True, on_progress=progress) for d in dispatchers)
            )
            await asyncio.sleep(args.slow_delay if args.slow else 0)  # the last late answers
        finally:
            for bot in bots:
                await bot.shutdown()
        async with databases[0].session() as session:
            counts = await queue.outbox_counts(session)
            unknown = len(
                [
                    m
                    for m in await queue.outbox_messages(session, status="failed")
                    if (m.reason or "").startswith("delivery unknown")
                ]
            )
        times = sorted(t for sender in senders for t in sender.times)
        return {"stats": stats, "outbox": counts, "unknown": unknown, "sent_at": times}
    finally:
        for database in databases:
            await database.dispose()
        if scratch is not None:
            scratch.cleanup()


def fetch_stats(port: int) -> dict:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/stats", timeout=30).json()


def peak_per_second(calls: list[float]) -> int:
    """The most calls in any one-second window."""
    peak, start = 0, 0
    for end, moment in enumerate(calls):
        while moment - calls[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=30.0, help="messages per second (limit)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--fail", type=float, default=0.05, help="share of 429/502 answers")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--database", help="default: a scratch SQLite file")
    parser.add_argument("--quiet-hours", action="store_true", help="respect quiet hours")
    parser.add_argument("--dispatchers", type=int, default=1, help="workers sending at once")
    parser.add_argument(
        "--slow", type=float, default=0.0, help="share of accepted sends answered late"
    )
    parser.add_argument("--slow-delay", type=float, default=1.0, help="seconds (late answers)")
    parser.add_argument("--read-timeout", type=float, default=0.5, help="the client's, seconds")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--max-seconds", type=float, default=3600.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.fail, args.seed, args.max_seconds, args.slow, args.slow_delay)
        return 0

    budget = 120 + 2 * args.messages / args.rate
    child, port = start_server(args, budget)
    try:
        print(
            f"{args.messages} queued reminders, limit {args.rate:g}/s, concurrency "
            f"{args.concurrency}, {args.dispatchers} dispatcher(s), fake Bot API on "
            f"127.0.0.1:{port} answering {100 * args.fail:g} % with 429 (retry_after 1) or 502 "
            f"and {100 * args.slow:g} % of the accepted after {args.slow_delay:g} s "
            f"(client read time-out {args.read_timeout:g} s)",
            flush=True,
        )
        started = time.monotonic()
        result = asyncio.run(run(args, port))
        wall = time.monotonic() - started
        server = fetch_stats(port)
    finally:
        child.terminate()
        child.wait(timeout=10)

    calls = server["calls"]
    accepted = Counter({int(k): v for k, v in server["accepted"].items()})
    expected = {FIRST_CHAT + n for n in range(args.messages)}
    lost = len(expected - set(accepted))
    duplicates = sum(n - 1 for n in accepted.values() if n > 1)
    span = calls[-1] - calls[0] if len(calls) > 1 else 0.0
    request_rate = (len(calls) - 1) / span if span else 0.0
    delivered_rate = (len(accepted) - 1) / span if span else 0.0
    all_stats: list[DispatchStats] = result["stats"]
    figures = {
        "messages": args.messages,
        "configured_rate": args.rate,
        "achieved_rate": round(request_rate, 2),
        "achieved_rate_ratio": round(request_rate / args.rate, 4),
        "peak_calls_in_one_second_sent": peak_per_second(result["sent_at"]),
        "peak_calls_in_one_second_received": peak_per_second(calls),
        "delivered_rate": round(delivered_rate, 2),
        "calls": len(calls),
        "answered_429": server["e429"],
        "answered_502": server["e502"],
        "lost": lost,
        "duplicates": duplicates,
        "chats_with_duplicates": sum(1 for n in accepted.values() if n > 1),
        "answered_late": server["slow"],
        "delivery_unknown": result["unknown"],
        "outbox": result["outbox"],
        "retried": sum(stats.retried for stats in all_stats),
        "seconds": round(wall, 1),
    }
    print(
        f"achieved {request_rate:.2f} requests/s against a limit of {args.rate:g}/s "
        f"({100 * request_rate / args.rate:.1f} %); busiest second "
        f"{figures['peak_calls_in_one_second_sent']} calls as sent, "
        f"{figures['peak_calls_in_one_second_received']} as received; "
        f"delivered {delivered_rate:.2f} messages/s "
        f"({server['e429']} × 429, {server['e502']} × 502 answered and retried)"
    )
    print(
        f"{args.messages} messages, {len(calls)} sends: lost {lost}, duplicates {duplicates} "
        f"({figures['chats_with_duplicates']} chats), {server['slow']} answered late, "
        f"{result['unknown']} delivery unknown; outbox {result['outbox']}, {wall:.0f} s"
    )
    print(json.dumps(figures))
    return 0 if lost == 0 and duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Conversation turns per second through the engine, next to the storage floor.

N simulated respondents (each its own unit) answer the whole ``so-ban-nganh`` form in one
process, round-robin, so all N are in progress at once. In the same run, the storage floor is
measured: on SQLite a bare ``sqlite3`` single-row insert+commit (WAL, synchronous=NORMAL) in a
file next to the database, on PostgreSQL a single-row insert+commit on one connection; the
ratio says how many floor-writes one turn costs. Last line: one JSON object.

    python bench/turns.py --respondents 1000
    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/bench python bench/turns.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialogs import Engine  # noqa: E402
from dialogs.kinds import sample_answer, smaller_answer  # noqa: E402
from dialogs.messages import Inbound  # noqa: E402
from dialogs.spec import all_forms  # noqa: E402
from storage.db import Database  # noqa: E402

FORM = "so-ban-nganh"
YEAR = 2020


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def fresh_database(url: str | None) -> Database:
    if url is None:
        folder = tempfile.mkdtemp(prefix="formbot-bench-")
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
    database = Database(url)
    if not database.is_sqlite:
        await database.reset_schema()
    await database.upgrade()
    return database


async def measure_turns(
    database: Database, respondents: int, concurrency: int
) -> tuple[list[float], int]:
    """Every respondent answers the whole form; ``concurrency`` lanes of respondents take
    turns at once (as several chats do), each lane round-robin over its respondents."""
    engine = Engine(database, all_forms())
    spec = engine.forms[FORM]
    current: dict[str, str | None] = {}
    for n in range(respondents):
        user = f"r{n}"
        replies = await engine.bind("bench", user, unit_name=f"Đơn vị {n}", form_id=FORM, year=YEAR)
        current[user] = replies[-1].asks
    latencies: list[float] = []
    refusals = 0
    messages = iter(range(1, 10**9))

    async def answer(user: str) -> None:
        nonlocal refusals
        code = current[user]
        item = spec.by_code[code]
        typed = sample_answer(item, YEAR)
        for attempt in range(2):
            number = next(messages)  # the sender's order too, as Telegram's update_id
            inbound = Inbound("bench", user, text=typed, message_id=str(number), order=number)
            started = time.perf_counter()
            replies = await engine.handle(inbound)
            latencies.append(time.perf_counter() - started)
            if replies[-1].asks != code or attempt == 1:
                break
            refusals += 1
            typed = smaller_answer(item) or typed
        for text in (
            ("https://example.gov.vn/van-ban/12", "xong") if replies[-1].evidence_for else ()
        ):
            number = next(messages)  # evidence asked: a link to the document, then "xong"
            inbound = Inbound("bench", user, text=text, message_id=str(number), order=number)
            started = time.perf_counter()
            replies = await engine.handle(inbound)
            latencies.append(time.perf_counter() - started)
        current[user] = replies[-1].asks

    async def progress() -> None:
        while True:
            await asyncio.sleep(10)
            left = sum(1 for code in current.values() if code is not None)
            print(f"{len(latencies)} turns, {left} respondents in progress", file=sys.stderr)

    async def lane(users: list[str]) -> None:
        while users:
            for user in list(users):
                if current[user] is None:
                    users.remove(user)
                    continue
                await answer(user)

    users = list(current)
    lanes = [users[k::concurrency] for k in range(concurrency)]
    reporter = asyncio.create_task(progress())
    await asyncio.gather(*(lane(group) for group in lanes))
    reporter.cancel()
    return latencies, refusals


def measure_floor(database: Database, count: int) -> list[float]:
    """Single-row insert+commit on a bare connection: the cost of durability."""
    if database.is_sqlite:
        folder = tempfile.mkdtemp(prefix="formbot-floor-")
        connection = sqlite3.connect(f"{folder}/floor.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        marker = "?"
    else:
        import psycopg

        dsn = database.url.replace("postgresql+asyncpg://", "postgresql://")
        connection = psycopg.connect(dsn, autocommit=True)
        marker = "%s"
    connection.execute("CREATE TABLE IF NOT EXISTS bench_floor (id INTEGER PRIMARY KEY, note TEXT)")
    connection.execute("DELETE FROM bench_floor")
    latencies = []
    for n in range(count):
        started = time.perf_counter()
        connection.execute("BEGIN")
        connection.execute(f"INSERT INTO bench_floor VALUES ({marker}, {marker})", (n, f"row {n}"))
        connection.execute("COMMIT")
        latencies.append(time.perf_counter() - started)
    connection.close()
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1, help="chats answering at once")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    database = await fresh_database(url)
    backend = "sqlite" if database.is_sqlite else "postgresql"
    started = time.perf_counter()
    turns, refusals = await measure_turns(database, args.respondents, args.concurrency)
    elapsed = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    floor = measure_floor(database, min(len(turns), 20000))
    await database.dispose()
    turn_ms = statistics.median(turns) * 1000
    floor_ms = statistics.median(floor) * 1000
    result = {
        "backend": backend,
        "respondents": args.respondents,
        "concurrency": args.concurrency,
        "turns": len(turns),
        "refusals": refusals,
        "turns_per_s": round(len(turns) / elapsed, 1),
        "p50_ms": round(turn_ms, 3),
        "p99_ms": round(percentile(turns, 0.99) * 1000, 3),
        "rss_mb": round(rss_mb, 1),
        "floor_per_s": round(len(floor) / sum(floor), 1),
        "floor_p50_ms": round(floor_ms, 3),
        "ratio": round(turn_ms / floor_ms, 2),
    }
    print(f"backend            {backend}")
    print(f"respondents        {args.respondents} ({len(turns)} turns, {refusals} refusals)")
    print(f"turns/s            {result['turns_per_s']}   (target ≥ 1000)")
    print(f"turn p50 / p99     {result['p50_ms']} ms / {result['p99_ms']} ms   (p99 target ≤ 10)")
    print(f"peak RSS           {result['rss_mb']} MB   (target ≤ 300)")
    print(f"floor insert+commit {result['floor_per_s']}/s, p50 {result['floor_p50_ms']} ms")
    print(f"ratio turn/floor   {result['ratio']}")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())

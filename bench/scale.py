"""Aggregate conversation turns per second of 1, 2 and 4 worker processes on one PostgreSQL.

Each worker is its own Python process with its own engine (answer cache, database threads and
connections), as ``formbot run`` is; its respondents (each their own unit) answer the whole
``so-ban-nganh`` form, ``--concurrency`` chats at a time, with typed answers as a person would
(refused counts typed again smaller, as in ``bench/turns.py``). The workers bind their
respondents, wait until all are ready, start together, and report their turns; the aggregate
is all turns over the time from the start to the last worker's end. Every worker count runs
``--repeat`` times in one run, alternating, and the medians are printed side by side with the
speed-up over one worker, and how many CPU cores the workers kept busy (on a machine that
also runs the database, the cores left over are PostgreSQL's). Last line: one JSON object.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/formbot_bench python bench/scale.py
    python bench/scale.py --database postgresql+asyncpg://… --workers 1 2 4 --repeat 3

The database is emptied first (its schema dropped): give it one of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
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


# One worker (a child process) ------------------------------------------------------------------


async def worker(url: str, name: str, respondents: int, concurrency: int) -> dict:
    """Bind the respondents, say "ready", wait for "go" on stdin, answer, report."""
    database = Database(url)
    engine = Engine(database, all_forms())
    spec = engine.forms[FORM]
    current: dict[str, str | None] = {}
    for n in range(respondents):
        user = f"{name}-{n}"
        replies = await engine.bind(
            "bench", user, unit_name=f"Đơn vị {user}", form_id=FORM, year=YEAR
        )
        current[user] = replies[-1].asks
    messages = iter(range(1, 10**9))
    latencies: list[float] = []

    async def answer(user: str) -> None:
        item = spec.by_code[current[user]]
        typed = sample_answer(item, YEAR)
        for attempt in range(2):
            inbound = Inbound("bench", user, text=typed, message_id=f"{name}:{next(messages)}")
            started = time.perf_counter()
            replies = await engine.handle(inbound)
            latencies.append(time.perf_counter() - started)
            if replies[-1].asks != item.code or attempt == 1:
                break
            typed = smaller_answer(item) or typed
        for text in (
            ("https://example.gov.vn/van-ban/12", "xong") if replies[-1].evidence_for else ()
        ):
            # Evidence asked: a link to the document, then "xong".
            inbound = Inbound("bench", user, text=text, message_id=f"{name}:{next(messages)}")
            started = time.perf_counter()
            replies = await engine.handle(inbound)
            latencies.append(time.perf_counter() - started)
        current[user] = replies[-1].asks

    async def lane(users: list[str]) -> None:
        while users:
            for user in list(users):
                if current[user] is None:
                    users.remove(user)
                    continue
                await answer(user)

    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "go"
    started, cpu = time.perf_counter(), time.process_time()
    users = list(current)
    await asyncio.gather(*(lane(users[k::concurrency]) for k in range(concurrency)))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    await database.dispose()
    return {
        "turns": len(latencies),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "p50_ms": _ms(latencies, 0.5),
    }


def _ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)


# The run ---------------------------------------------------------------------------------------


def run_workers(args: argparse.Namespace, count: int, round_: int) -> dict:
    """``count`` worker processes started together; the aggregate of their turns."""
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                f"r{round_}w{count}n{k}",
                "--database",
                args.database,
                "--respondents",
                str(args.respondents),
                "--concurrency",
                str(args.concurrency),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(count)
    ]
    for child in children:
        line = child.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"a worker did not start: {line!r}")
    started = time.perf_counter()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    reports = []
    for child in children:
        reports.append(json.loads(child.stdout.readline()))
        child.wait(timeout=60)
    wall = time.perf_counter() - started
    turns = sum(report["turns"] for report in reports)
    cpu = sum(report["cpu_seconds"] for report in reports)
    return {
        "workers": count,
        "turns": turns,
        "seconds": round(wall, 2),
        "turns_per_s": round(turns / wall, 1),
        "worker_cpus": round(cpu / wall, 2),  # cores the workers kept busy (the rest: PostgreSQL)
        "p50_ms": round(statistics.median(report["p50_ms"] for report in reports), 2),
    }


async def prepare(url: str) -> None:
    database = Database(url)
    try:
        if database.is_sqlite:
            raise SystemExit("bench/scale.py measures PostgreSQL: give a postgresql+asyncpg URL")
        await database.reset_schema()
        await database.upgrade()
    finally:
        await database.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--respondents", type=int, default=8, help="per worker")
    parser.add_argument("--concurrency", type=int, default=8, help="chats at once per worker")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.database:
        parser.error("give --database or DATABASE_URL (PostgreSQL)")
    if args.child:
        report = asyncio.run(worker(args.database, args.child, args.respondents, args.concurrency))
        print(json.dumps(report), flush=True)
        return 0

    asyncio.run(prepare(args.database))
    print(
        f"{FORM}: {args.respondents} respondents per worker, {args.concurrency} chats at once "
        f"per worker, {args.repeat} rounds; {os.cpu_count()} CPUs on this machine",
        flush=True,
    )
    runs: dict[int, list[dict]] = {count: [] for count in args.workers}
    for round_ in range(args.repeat):
        for count in args.workers:  # alternating, so that drift hits every count alike
            result = run_workers(args, count, round_)
            runs[count].append(result)
            print(f"  round {round_ + 1}: {count} worker(s) {result['turns_per_s']} turns/s")
    base = statistics.median(r["turns_per_s"] for r in runs[args.workers[0]])
    rows = []
    header = ("workers", "turns/s", "per worker", "speed-up", "p50 ms", "worker CPUs")
    print("{:>8} {:>10} {:>11} {:>9} {:>8} {:>12}".format(*header))
    for count in args.workers:
        rate = statistics.median(r["turns_per_s"] for r in runs[count])
        p50 = round(statistics.median(r["p50_ms"] for r in runs[count]), 2)
        busy = round(statistics.median(r["worker_cpus"] for r in runs[count]), 2)
        rows.append(
            {
                "workers": count,
                "turns_per_s": rate,
                "per_worker": round(rate / count, 1),
                "speed_up": round(rate / base, 2),
                "p50_ms": p50,
                "worker_cpus": busy,
                "turns": runs[count][0]["turns"],
            }
        )
        speed_up = rate / base
        print(
            f"{count:>8} {rate:>10.1f} {rate / count:>11.1f} {speed_up:>9.2f} {p50:>8.2f} "
            f"{busy:>12.2f}"
        )
    print(json.dumps({"form": FORM, "cpus": os.cpu_count(), "results": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

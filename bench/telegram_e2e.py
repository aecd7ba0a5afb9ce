"""Turns per second through python-telegram-bot and the Bot API emulator, next to the engine
alone, measured in the same run.

Every simulated person fills the fixture form ``tests/fixtures/mini.yaml`` from an invite to
the submission (20 turns: typed answers, button presses, /nop and the confirmation), all
people at once. Three measurements:

- engine: ``Engine.handle`` called directly (the floor: parsing, checks, one transaction);
- telegram: the bot process of the end-to-end tests (``tests/e2e/telegram_bot.py``, the real
  PTB application with Telegram's flood limits, 30 messages/s per bot) polling the emulator,
  the people acting through the emulator's client API;
- telegram-unlimited: the same with the flood limiter lifted, to show PTB's own overhead.

A turn is timed from the person's message to the bot reporting the update handled (its
replies are in the emulator by then). Run: ``.venv/bin/python bench/telegram_e2e.py``
(needs the emulator: see ``.ci/run``). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import httpx  # noqa: E402
from telegram_emulator import Emulator, TelegramBotProcess, TelegramUser  # noqa: E402

from dialogs import Engine  # noqa: E402
from dialogs.messages import Inbound  # noqa: E402
from dialogs.payloads import decode  # noqa: E402
from dialogs.spec import load_spec  # noqa: E402
from storage import repo  # noqa: E402
from storage.db import Database  # noqa: E402
from templates.messages import say  # noqa: E402

FORM = ROOT / "tests" / "fixtures" / "mini.yaml"
YEAR = 2024
# (how, what): "send" types text, "press" presses the button carrying that callback data.
STEPS = [
    ("send", "/start {code}"),
    ("send", "UBND xã số {n}"),
    ("send", "20"),
    ("send", "15"),
    ("send", "10"),
    ("send", "1"),
    ("send", "2,5"),
    ("send", "0"),
    ("send", "0"),
    ("press", "ans:3.6:0"),
    ("send", "VPN"),
    ("send", "12"),
    ("send", "5/10"),
    ("press", "ans:5.2:1"),
    ("send", "1, 2"),
    ("send", "12,5"),
    ("press", "ans:6.2.1.a:0"),
    ("press", "ans:6.2.1.e:1"),
    ("send", "/nop"),
    ("press", "confirm:yes"),
]


async def prepare(url: str, users: int) -> list[str]:
    database = Database(url)
    await database.upgrade()
    codes = []
    async with database.session() as session, session.begin():
        for n in range(users):
            unit = await repo.get_or_create_unit(session, f"UBND xã số {n}", "mini")
            code = f"BENCH{n:03d}"
            await repo.create_invite(session, code=code, unit_id=unit.id, form_id="mini", year=YEAR)
            codes.append(code)
    await database.dispose()
    return codes


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a running process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def submitted(n: int) -> str:
    return say("submitted", unit=f"UBND xã số {n}", year=YEAR)


async def engine_alone(users: int, workdir: Path) -> dict:
    url = f"sqlite+aiosqlite:///{workdir / 'engine.db'}"
    codes = await prepare(url, users)
    database = Database(url)
    spec = load_spec(FORM)
    engine = Engine(database, forms={spec.id: spec})
    latencies: list[float] = []
    done = 0

    async def person(n: int) -> None:
        nonlocal done
        text = ""
        for number, (how, what) in enumerate(STEPS):
            what = what.format(code=codes[n], n=n)
            inbound = Inbound(
                "bench",
                str(n),
                text=what if how == "send" else None,
                payload=decode(what) if how == "press" else None,
                message_id=str(number),
            )
            started = time.perf_counter()
            replies = await engine.handle(inbound)
            latencies.append(time.perf_counter() - started)
            text = "\n".join(reply.text for reply in replies)
        done += submitted(n) in text

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(person(n) for n in range(users)))
    elapsed = time.perf_counter() - started
    await database.dispose()
    row = summary("engine", users, elapsed, latencies, done)
    row["cpu_bot_s"] = round(time.process_time() - cpu, 2)
    return row


async def through_telegram(
    name: str, users: int, workdir: Path, emulator: Emulator, extra: list[str]
) -> dict:
    url = f"sqlite+aiosqlite:///{workdir / f'{name}.db'}"
    codes = await prepare(url, users)
    token = f"{abs(hash(name)) % 10**9}:BENCH"
    bot = await TelegramBotProcess(
        token=token, bot_api=emulator.bot_api, database_url=url, extra=extra
    ).start()
    latencies: list[float] = []
    done = 0
    limits = httpx.Limits(max_connections=users * 2, max_keepalive_connections=users * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def person(n: int) -> None:
            nonlocal done
            chat = 10_000 + n
            user = TelegramUser(client, emulator, token, chat)
            last_keyboard = None
            text = ""
            for how, what in STEPS:
                what = what.format(code=codes[n], n=n)
                before = bot.handled[chat]
                started = time.perf_counter()
                if how == "send":
                    await user.send(what)
                else:
                    await user.press(last_keyboard, what)
                await bot.turn_done(chat, before + 1)
                latencies.append(time.perf_counter() - started)
                messages = await user.unread()
                keyboards = [m for m in messages if m.buttons]
                last_keyboard = keyboards[-1] if keyboards else last_keyboard
                text = "\n".join(m.text for m in messages)
            done += submitted(n) in text

        cpu_before = (
            cpu_seconds(bot.process.pid),
            cpu_seconds(emulator.process.pid),
            time.process_time(),
        )
        started = time.perf_counter()
        await asyncio.gather(*(person(n) for n in range(users)))
        elapsed = time.perf_counter() - started
        cpu_after = (
            cpu_seconds(bot.process.pid),
            cpu_seconds(emulator.process.pid),
            time.process_time(),
        )
    await bot.stop()
    row = summary(name, users, elapsed, latencies, done)
    if None not in cpu_before + cpu_after:
        for key, before, after in zip(
            ("cpu_bot_s", "cpu_emulator_s", "cpu_people_s"), cpu_before, cpu_after, strict=True
        ):
            row[key] = round(after - before, 2)
    return row


def summary(name: str, users: int, elapsed: float, latencies: list[float], done: int) -> dict:
    ordered = sorted(latencies)
    return {
        "name": name,
        "users": users,
        "turns": len(latencies),
        "seconds": round(elapsed, 3),
        "turns_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
        "submitted": done,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    emulator = Emulator().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            engine = await engine_alone(args.users, workdir)
            limited = await through_telegram("telegram", args.users, workdir, emulator, [])
            unlimited = await through_telegram(
                "telegram-unlimited", args.users, workdir, emulator, ["--no-rate-limit"]
            )
    finally:
        emulator.stop()
    rows = [engine, limited, unlimited]
    print(f"{args.users} people, {len(STEPS)} turns each, SQLite, one bot process")
    print(
        f"{'path':<20} {'turns/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'seconds':>8} "
        f"{'submitted':>9}   CPU s: bot / emulator / people"
    )
    for row in rows:
        cpu = " / ".join(
            str(row.get(key, "-")) for key in ("cpu_bot_s", "cpu_emulator_s", "cpu_people_s")
        )
        print(
            f"{row['name']:<20} {row['turns_per_second']:>8} {row['p50_ms']:>8} "
            f"{row['p95_ms']:>8} {row['seconds']:>8} "
            f"{row['submitted']:>6}/{row['users']:<2}   {cpu}"
        )
    print(f"machine: {os.cpu_count()} CPUs shared by the bot, the emulator and the people")
    result = {
        "users": args.users,
        "turns_per_person": len(STEPS),
        "engine_turns_per_second": engine["turns_per_second"],
        "telegram_turns_per_second": limited["turns_per_second"],
        "telegram_unlimited_turns_per_second": unlimited["turns_per_second"],
        "overhead_ratio": round(engine["turns_per_second"] / limited["turns_per_second"], 2),
        "overhead_ratio_unlimited": round(
            engine["turns_per_second"] / unlimited["turns_per_second"], 2
        ),
        "runs": rows,
    }
    print(
        f"overhead (engine ÷ telegram): {result['overhead_ratio']}× with Telegram's flood limits, "
        f"{result['overhead_ratio_unlimited']}× without"
    )
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())

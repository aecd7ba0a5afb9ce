"""Start-up time of the admin commands: ``formbot forms list`` and ``formbot campaign status``
on the default SQLite database (a scratch file with one open campaign and a few units), each
run ``--runs`` times in a fresh process after one warm-up run (which may write the form-spec
cache); printed: the median, fastest and slowest wall time per command. Last line: JSON.

    python bench/startup.py                  # this checkout
    python bench/startup.py --root /tmp/old  # another checkout, with this interpreter
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (("forms", "list"), ("campaign", "status"))


def formbot(root: Path, env: dict[str, str], *argv: str) -> float:
    """Seconds from starting ``python -m bot.cli ARGV`` to its exit."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"formbot {' '.join(argv)} failed: {done.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "PYTHONPATH": str(args.root),
            "DATABASE_URL": f"sqlite+aiosqlite:///{scratch}/formbot.db",
            "XDG_CACHE_HOME": f"{scratch}/cache",
        }
        env.pop("FORMBOT_CACHE_DIR", None)
        csv = Path(scratch) / "units.csv"
        csv.write_text(
            "name,type\n" + "".join(f"UBND xã Số {n},xa-phuong\n" for n in range(30)), "utf-8"
        )
        formbot(args.root, env, "units", "import", str(csv))
        formbot(
            args.root,
            env,
            *("campaign", "open", "--form", "xa-phuong", "--year", "2024"),
            *("--deadline", "2024-12-15"),
        )
        figures = {}
        for command in COMMANDS:
            formbot(args.root, env, *command)  # warm-up: page cache, form-spec cache
            times = [formbot(args.root, env, *command) for _ in range(args.runs)]
            name = " ".join(command)
            figures[name] = {
                "median": round(statistics.median(times), 3),
                "min": round(min(times), 3),
                "max": round(max(times), 3),
                "runs": args.runs,
            }
            print(
                f"formbot {name:<16} median {statistics.median(times):.3f} s "
                f"(min {min(times):.3f}, max {max(times):.3f}, {args.runs} runs)",
                flush=True,
            )
    print(json.dumps({"root": str(args.root), **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fixtures and helpers that more than one end-to-end module uses.

A module takes a fixture by naming it at module level (``emulator = e2e_common.emulator``),
which is how pytest finds it; they live here rather than in a ``tests/e2e/conftest.py``
because a second module named ``conftest`` would shadow ``tests/conftest.py`` for the test
modules that import from it. A module-scoped fixture is still one per module that takes it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys

import pytest
from bot_process import ROOT, free_port
from telegram_emulator import Emulator, EmulatorMissing, node_modules
from zalo_server import ZaloServer

from storage import repo
from storage.db import Database


@pytest.fixture(scope="module")
def emulator():
    """The Telegram Bot API emulator as a Node process on a free localhost port. Without
    Node or the emulator the tests fail (never skip; see .ci/run)."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed; the end-to-end tests need it (see .ci/run)")
    try:
        node_modules()
    except EmulatorMissing as exc:
        pytest.fail(str(exc))
    running = Emulator().start()
    yield running
    running.stop()


@pytest.fixture
async def zalo(bot_token):
    """The test Zalo server, in the test's event loop, with the bot of ``bot_token``."""
    server = await ZaloServer().start()
    server.add_bot(bot_token)
    yield server
    await server.stop()


@pytest.fixture
async def bot_database(tmp_path):
    """A fresh SQLite database for the bot process, migrated."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'formbot.db'}")
    await database.upgrade()
    yield database
    await database.dispose()


async def unit_with_invite(database: Database, code: str, uses: int, form: str = "xa-phuong"):
    """The unit "UBND xã Hương Vinh" of ``form``, with the invite ``code`` to its 2024
    submission for ``uses`` people."""
    async with database.session() as session, session.begin():
        unit = await repo.get_or_create_unit(session, "UBND xã Hương Vinh", form)
        await repo.create_invite(
            session, code=code, unit_id=unit.id, form_id=form, year=2024, uses_left=uses
        )


async def invite_uses_left(database: Database, code: str) -> int | None:
    async with database.session() as session:
        return (await repo.get_invite(session, code)).uses_left


async def formbot(*argv: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """``formbot ARGV…`` in its own process, logging at INFO (so that a test can check what
    reaches the log), with ``env`` on top of this process's environment."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *argv,
        env={**os.environ, "FORMBOT_LOG_LEVEL": "INFO", **env},
        cwd=str(ROOT),
        stderr=asyncio.subprocess.PIPE,
    )


async def formbot_webhook(
    channel: str, env: dict[str, str]
) -> tuple[asyncio.subprocess.Process, str]:
    """``formbot run CHANNEL --webhook-url URL`` listening on a free loopback port, the URL's
    path being ``/CHANNEL/hook``: the process and the URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/{channel}/hook"
    process = await formbot(
        "run",
        channel,
        "--webhook-url",
        url,
        "--listen",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
    )
    return process, url


async def stop_formbot(
    process: asyncio.subprocess.Process, *, signal_it: bool = True
) -> tuple[int, str]:
    """Stop it as a service manager would (or, ``signal_it=False``, wait for it to exit)."""
    if signal_it and process.returncode is None:
        process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(process.wait(), 30)
    return code, (await process.stderr.read()).decode()

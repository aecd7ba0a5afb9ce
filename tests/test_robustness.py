"""No input crashes anything: any text, button payload or command, on the engine and through
the console process, on SQLite and PostgreSQL; a refused input changes nothing."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys

import pytest
from conftest import BACKENDS, fresh_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs import Engine
from dialogs.commands import COMMANDS
from dialogs.messages import Inbound
from dialogs.payloads import (
    Confirm,
    Done,
    KeepAnswer,
    KeepPrevious,
    KeepSection,
    PickOption,
    RunCommand,
    Toggle,
    decode,
)
from dialogs.snapshot import load_snapshot
from dialogs.spec import all_forms, load_spec
from storage import repo
from storage.db import Database

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
JUNK_CHARACTERS = st.characters(codec="utf-8", exclude_categories=("Cs",))
NASTY = [
    "²",
    "٣",
    "１２",
    "\x00",
    "1" * 5000,
    "9" * 400 + ",5",
    "-0",
    "1e309",
    "nan",
    "inf",
    "0x10",
    "1/0",
    "0/0",
    "tất cả",
    "không có",
    "vẫn giữ",
    "giu het",
    "tiếp",
    "chào bạn",
    "3.2.a",
    "\u202e12",
    "🙂",
]


def messages():
    """A typed text, a command with any argument, or a pressed button with any content."""
    text = st.one_of(st.sampled_from(NASTY), st.text(JUNK_CHARACTERS, max_size=40))
    codes = st.one_of(st.sampled_from(["1.1", "1.2", "3.1", "3.6", "5.3", "6.2.1.a"]), text)
    index = st.integers(min_value=-5, max_value=10**6)
    payloads = st.one_of(
        st.builds(PickOption, codes, index),
        st.builds(Toggle, codes, index),
        st.builds(Done, codes),
        st.builds(KeepAnswer, codes),
        st.builds(KeepPrevious, codes),
        st.builds(KeepSection, index),
        st.builds(RunCommand, st.sampled_from([c.name for c in COMMANDS]) | text, text),
        st.builds(Confirm, st.booleans()),
    )
    commands = st.builds(
        lambda word, argument: f"/{word} {argument}",
        st.sampled_from([w for c in COMMANDS for w in (c.name, *c.words)]),
        text,
    )
    return st.one_of(
        text.map(lambda t: ("text", t)),
        commands.map(lambda t: ("text", t)),
        payloads.map(lambda p: ("payload", p)),
    )


async def answers_of(database: Database, forms, submission_id: int) -> dict:
    async with database.session() as session:
        data = (await load_snapshot(session, submission_id, forms)).as_json()
    return {"answers": data["answers"], "warnings": data["warnings"]}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("robust")
    url = f"sqlite+aiosqlite:///{folder / 'robust.db'}"

    async def upgrade():
        database = Database(url)
        await database.upgrade()
        await database.dispose()

    asyncio.run(upgrade())
    return url


_people = iter(range(10**9))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    form=st.sampled_from(["mini", "so-ban-nganh", "ubnd-huyen", "xa-phuong"]),
    typed=st.lists(messages(), min_size=1, max_size=12),
)
def test_no_input_raises_and_a_refused_input_changes_nothing(prepared, form, typed):
    forms = {**all_forms(), "mini": load_spec(os.path.join(FIXTURES, "mini.yaml"))}

    async def run() -> None:
        database = Database(prepared)
        engine = Engine(database, forms)
        person = f"p{next(_people)}"
        try:
            await engine.bind("console", person, unit_name=person, form_id=form, year=2020)
            async with database.session() as session:
                submission_id = (
                    await repo.get_respondent(session, "console", person)
                ).submission_id
            for n, (kind, content) in enumerate(typed):
                before = await answers_of(database, forms, submission_id)
                inbound = Inbound(
                    "console",
                    person,
                    text=content if kind == "text" else None,
                    payload=content if kind == "payload" else None,
                    message_id=f"{person}-{n}",
                )
                replies = await engine.handle(inbound)
                refused = any("Vui lòng trả lời lại" in r.text for r in replies) and not any(
                    r.accepted for r in replies
                )
                if refused:
                    assert await answers_of(database, forms, submission_id) == before, content
        finally:
            await database.dispose()

    asyncio.run(run())


@given(st.text(max_size=80))
def test_any_button_data_decodes_to_a_payload_or_nothing(data):
    payload = decode(data)
    if payload is not None:
        assert "\x00" not in repr(payload)


def junk_lines(count: int, seed: int = 655) -> bytes:
    """Lines a careless paste, a broken keyboard or a fuzzer might send: huge numbers, odd
    digits, control characters, invalid UTF-8, commands with junk arguments."""
    pick = random.Random(seed)
    words = [w for c in COMMANDS for w in (c.name, *c.words)]
    alphabet = "0123456789.,/ -+²³¹٣１aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạ\t\x00\x01\x07\x1b\u200b🙂"
    lines = []
    for _ in range(count):
        roll = pick.random()
        if roll < 0.15:
            line = pick.choice(NASTY).encode()
        elif roll < 0.3:
            line = f"/{pick.choice(words)} {pick.choice(NASTY)}".encode()
        elif roll < 0.4:
            line = bytes(pick.randrange(256) for _ in range(pick.randrange(1, 30))).replace(
                b"\n", b""
            )
        elif roll < 0.5:
            line = ("9" * pick.randrange(1, 6000)).encode()
        else:
            size = pick.randrange(1, 60)
            line = "".join(pick.choice(alphabet) for _ in range(size)).encode()
        lines.append(line)
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_thousands_of_junk_lines_through_the_console_leave_no_traceback(backend, tmp_path):
    async def prepare() -> str:
        database = await fresh_database(backend, tmp_path)
        await database.dispose()
        return database.url

    url = asyncio.run(prepare())
    # The console operator is an admin here, so the staff commands get the junk too.
    env = {**os.environ, "DATABASE_URL": url, "FORMBOT_ADMINS": "local"}
    for form in ("xa-phuong", "so-ban-nganh"):
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "chat", "--form", form, "--year", "2020"],
            input=junk_lines(1500, seed=len(form)),
            capture_output=True,
            env=env,
            timeout=600,
        )
        errors = done.stderr.decode(errors="replace")
        assert done.returncode == 0, errors[-3000:]
        # Warnings are logged (wrong invite codes lock the person out for a while); errors not.
        assert "Traceback" not in errors and " ERROR " not in errors, errors[-3000:]
        assert done.stdout.decode().count("❓") > 100

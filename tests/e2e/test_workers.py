"""Several workers behind one reverse proxy on one database, as production runs them.

Two real ``formbot run telegram --webhook-url …`` processes serve the Bot API emulator's bot
behind a small reverse proxy written here, which sends each request to the next worker in
turn. The test plays Telegram: it posts each person's updates to the proxy one after another,
each as soon as the previous one was answered 200 (Telegram's webhook sends one chat's updates
in order and waits for each), several people at once, and delivers again whatever did not get
a 200. Meanwhile the proxy kills one worker (SIGKILL) right after it answered 200, and the
other while a request is under way; each is started again.

What must hold, read from the database at the end against the same conversation run once in
this process: every answer stored under the question it was typed for (0 misplaced), none
missing (0 lost), none applied twice; a typed message that arrives after a later one is not
applied; and a burst of wrong invite codes over both workers is counted up to five.

On SQLite (two processes on one file) and on PostgreSQL when ``TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import e2e_common
import httpx
import pytest
from bot_process import ROOT, free_port
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram_emulator import TelegramUser

from bot.web import WebServer, web_app
from dialogs import Engine
from dialogs.kinds import sample_answer, smaller_answer
from dialogs.messages import Inbound
from dialogs.spec import all_forms
from storage import repo
from storage.db import Database
from storage.models import Answer, AnswerHistory, InviteAttempt, Respondent
from templates.messages import say

emulator = e2e_common.emulator

FORM = "xa-phuong"
YEAR = 2024
PEOPLE = 3  # each answers the whole form: 3 × 96 answers
SECRET = "workers_webhook-s3cret"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
KILL_AFTER_200 = 60  # the proxy's request number after whose 200 its worker is killed
KILL_IN_FLIGHT = 170  # the request during which its worker is killed (the other one up again)
RECOVERED_BY = 50  # each person's message that waits until the first killed worker is back
_tokens = itertools.count(7001)


# The workers and the proxy --------------------------------------------------------------------


class Worker:
    """``formbot run telegram --webhook-url PROXY_URL`` on its own port; its log in a file."""

    def __init__(self, name: str, env: dict[str, str], public_url: str, log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.public_url = public_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram/hook"
        self.log = log_dir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "bot.cli", "run", "telegram", "--webhook-url", self.public_url),
                *("--listen", "127.0.0.1", "--port", str(self.port)),
                env={**os.environ, "FORMBOT_LOG_LEVEL": "INFO", **self.env},
                cwd=str(ROOT),
                stdout=log,
                stderr=log,
            )
        async with httpx.AsyncClient(timeout=5) as client:
            for _attempt in range(600):  # ready: it answers (403 without the secret)
                assert self.process.returncode is None, self.log.read_text()[-3000:]
                try:
                    await client.post(self.url, json={})
                    return
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name} did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, whatever was under way."""
        self.process.kill()

    async def restart(self) -> None:
        await self.process.wait()
        await self.start()

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)


@dataclass
class Proxy:
    """A reverse proxy that sends each request to the next worker in turn (as a load balancer
    with round robin; a POST is not retried on another worker, the sender delivers it again).
    It kills a worker right after it answered request ``KILL_AFTER_200`` with 200, and the
    worker of request ``KILL_IN_FLIGHT`` while that request is under way."""

    workers: list[Worker]
    plan: str | None = "after 200"  # the next kill: "after 200", then "in flight", then none
    requests: int = 0
    kills: list[str] = field(default_factory=list)
    restarts: list[asyncio.Task] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(timeout=30)
        route = Route("/telegram/hook", self.forward, methods=["POST"])
        self.server = WebServer(web_app([route]), listen="127.0.0.1", port=free_port())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/telegram/hook"

    async def forward(self, request: Request) -> Response:
        number = self.requests = self.requests + 1
        worker = self.workers[number % len(self.workers)]
        headers = {HEADER: request.headers.get(HEADER, ""), "Content-Type": "application/json"}
        call = asyncio.ensure_future(
            self.http.post(worker.url, content=await request.body(), headers=headers)
        )
        if self.plan == "in flight" and number >= KILL_IN_FLIGHT and self._all_up():
            self.plan = None
            await asyncio.sleep(0.005)  # the request has reached the worker
            self._kill(worker)
        try:
            answer = await call
        except httpx.TransportError:
            return Response(status_code=502)
        if self.plan == "after 200" and number >= KILL_AFTER_200 and answer.status_code == 200:
            self.plan = "in flight"
            self._kill(worker)  # right after its 200, before the sender even sees it
        return Response(status_code=answer.status_code)

    def _all_up(self) -> bool:
        return all(task.done() for task in self.restarts)

    async def recovered(self) -> None:
        """Until the first kill has happened and that worker is up again."""
        while not (self.kills and self._all_up()):
            await asyncio.sleep(0.05)

    def _kill(self, worker: Worker) -> None:
        worker.kill()
        self.kills.append(worker.name)
        self.restarts.append(asyncio.ensure_future(worker.restart()))


class Telegram:
    """The sender: one chat's updates one at a time, the next as soon as the previous one was
    answered 200; what got no 200 is delivered again."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(timeout=30)
        self.update_ids = itertools.count(500_000)
        self.redelivered = 0

    def update(self, user: int, message_id: int, text: str) -> dict:
        person = {"id": user, "is_bot": False, "first_name": f"Cán bộ {user}"}
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": user, "type": "private", "first_name": person["first_name"]},
            "from": person,
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(" ", 1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return {"update_id": next(self.update_ids), "message": message}

    async def deliver(self, update: dict) -> None:
        for _attempt in range(200):
            try:
                answer = await self.http.post(self.url, json=update, headers={HEADER: SECRET})
                if answer.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            self.redelivered += 1
            await asyncio.sleep(0.02)
        raise AssertionError(f"update {update['update_id']} was never acknowledged")


# The conversation, run once in this process ---------------------------------------------------


# Texts that name their position, in every text format, so an answer stored under another
# item shows.
NUMBERED = {
    None: "Trả lời số {n}",
    "phone": "0905 {n:03d} 000",
    "email": "nguoi{n}@huongvinh.gov.vn",
    "url": "trang{n}.huongvinh.gov.vn",
    "doc_ref": "{n}/QĐ-UBND",
}


def typed_answer(item, number: int) -> str:
    if item.type.free_text and item.format in NUMBERED:
        return NUMBERED[item.format].format(n=number % 1000)
    return sample_answer(item, YEAR)


async def invite(database: Database, person: int) -> str:
    code = f"HV{person:04d}"
    async with database.session() as session, session.begin():
        unit = await repo.get_or_create_unit(session, f"UBND xã Thử {person}", FORM)
        await repo.create_invite(
            session, code=code, unit_id=unit.id, form_id=FORM, year=YEAR, uses_left=1
        )
    return code


async def script(people: list[int]) -> tuple[dict[int, list[str]], dict, dict]:
    """What each person types (the invite, then an answer to each question as asked), and the
    answers and answer history that one worker alone stores for it."""
    folder = tempfile.mkdtemp(prefix="formbot-workers-")
    database = Database(f"sqlite+aiosqlite:///{folder}/alone.db")
    await database.upgrade()
    engine = Engine(database, all_forms())
    spec = engine.forms[FORM]
    texts: dict[int, list[str]] = {}
    try:
        for person in people:
            said = [f"/start {await invite(database, person)}"]
            inbound = Inbound("telegram", str(person), text=said[0], message_id="1")
            replies = await engine.handle(inbound)
            while replies[-1].asks:
                item = spec.by_code[replies[-1].asks]
                replies = await type_in(engine, person, said, typed_answer(item, len(said) + 1))
                if replies[-1].asks == item.code and smaller_answer(item):
                    replies = await type_in(engine, person, said, smaller_answer(item))
                assert replies[-1].asks != item.code, replies[-1].text
                while replies[-1].evidence_for:  # evidence asked: a link, then "xong"
                    await type_in(engine, person, said, "https://xa.gov.vn/van-ban/655")
                    replies = await type_in(engine, person, said, "xong")
            texts[person] = said
        return texts, *(await stored(database))
    finally:
        await database.dispose()


async def type_in(engine: Engine, person: int, said: list[str], text: str) -> list:
    said.append(text)  # its message id is its position, from 1
    inbound = Inbound("telegram", str(person), text=text, message_id=str(len(said)))
    return await engine.handle(inbound)


async def stored(database: Database) -> tuple[dict, dict]:
    """Per person: the answers {code: value}, and the history {message id: [(code, value)]}."""
    answers: dict = defaultdict(dict)
    history: dict = defaultdict(lambda: defaultdict(list))
    async with database.session() as session:
        rows = await session.execute(
            select(Respondent.external_id, Answer.code, Answer.value).join(
                Answer, Answer.submission_id == Respondent.submission_id
            )
        )
        for person, code, value in rows:
            answers[int(person)][code] = value
        rows = await session.execute(
            select(
                Respondent.external_id,
                AnswerHistory.message_id,
                AnswerHistory.code,
                AnswerHistory.new_value,
            )
            .join(Respondent, Respondent.id == AnswerHistory.respondent_id)
            .order_by(AnswerHistory.id)
        )
        for person, message_id, code, value in rows:
            history[int(person)][message_id].append((code, value))
    return answers, history


# The test -----------------------------------------------------------------------------------


@pytest.fixture
async def workers(emulator, database, tmp_path):
    token = f"{next(_tokens)}:WORKERS-{next(_tokens)}"
    env = {
        "DATABASE_URL": database.url,
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_BASE_URL": emulator.bot_api,
        "WEBHOOK_SECRET": SECRET,
        "FORMBOT_QUIET_HOURS": "off",
    }
    proxy = Proxy([])
    proxy.workers = [Worker(f"worker{n}", env, proxy.url, tmp_path) for n in (1, 2)]
    await proxy.server.start()
    await asyncio.gather(*(worker.start() for worker in proxy.workers))
    yield proxy, token
    await asyncio.gather(*proxy.restarts)
    codes = await asyncio.gather(*(worker.stop() for worker in proxy.workers))
    await proxy.http.aclose()
    await proxy.server.stop()
    assert codes == [0, 0], [worker.log.read_text()[-3000:] for worker in proxy.workers]


async def test_two_workers_lose_nothing_misplace_nothing_and_apply_nothing_twice(
    workers, database, emulator
):
    proxy, token = workers
    people = [8001 + n for n in range(PEOPLE)]
    texts, expected_answers, expected_history = await script(people)
    for person in people:
        await invite(database, person)
    telegram = Telegram(proxy.url)

    async def converse(person: int) -> None:
        for message_id, text in enumerate(texts[person], start=1):
            if message_id == RECOVERED_BY:  # so that the second kill finds both workers up
                await proxy.recovered()
            await telegram.deliver(telegram.update(person, message_id, text))

    await asyncio.gather(*(converse(person) for person in people))
    await asyncio.gather(*proxy.restarts)

    answers, history = await stored(database)
    typed = sum(len(texts[person]) - 1 for person in people)
    misplaced = lost = twice = 0
    for person in people:
        for message_id, rows in expected_history[person].items():
            live = history[person].get(message_id, [])
            lost += not live
            twice += len(live) > len(rows)
            misplaced += bool(live) and live[: len(rows)] != rows
        twice += len(set(history[person]) - set(expected_history[person]))
    figures = {"typed answers": typed, "misplaced": misplaced, "lost": lost, "twice": twice}
    print(f"\n{figures}; kills {proxy.kills}, redelivered {telegram.redelivered}")
    assert typed >= 200
    assert len(proxy.kills) == 2 and telegram.redelivered > 0  # the kills did happen
    assert (misplaced, lost, twice) == (0, 0, 0), figures
    assert {person: answers[person] for person in people} == {
        person: expected_answers[person] for person in people
    }

    # A typed message that reaches a worker after a later one of the same person was applied
    # is not applied to the current question; the person is told and asked it again.
    late, newer = 8100, texts[people[0]]
    await invite(database, late)
    await telegram.deliver(telegram.update(late, 1, f"/start HV{late:04d}"))
    older = telegram.update(late, 2, newer[2])  # typed first …
    await telegram.deliver(telegram.update(late, 3, newer[1]))  # … delivered after this one
    await telegram.deliver(older)
    answers, _history = await stored(database)
    [(first, value)] = expected_history[people[0]]["2"]
    [(second, _value)] = expected_history[people[0]]["3"]
    assert answers[late][first] == value  # the newer message was applied …
    assert second not in answers[late]  # … the older one, typed before it, was not
    async with httpx.AsyncClient(timeout=30) as client:
        seen = await TelegramUser(client, emulator, token, late).history()
    assert say("arrived_late", text=newer[2]) in seen[-1].text
    assert second in seen[-1].text  # the question it was not applied to, asked again

    # Wrong invite codes sent all at once over both workers: five are counted.
    burst = [telegram.update(8200, n, f"/start SAI{n}") for n in range(1, 9)]
    await asyncio.gather(*(telegram.deliver(update) for update in burst))
    async with database.session() as session:
        counted = await session.scalar(
            select(func.count()).where(InviteAttempt.external_id == "8200")
        )
    assert counted == 5
    await telegram.http.aclose()

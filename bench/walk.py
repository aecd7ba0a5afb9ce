"""Messages a clerk needs to finish each form, and the longest reply they read.

A simulated commune/department clerk answers every question of each official form with
realistic figures (counts that fit together, typed the way people type them: "1.250",
"25 người", "150 triệu", "có"), on the console channel, then submits (/nop, "có"). The unit is
registered with its phone and email, so the bot fills what it knows. Afterwards the clerk
reads /tiendo, the /xem index and every /xem page; the longest reply of the whole run is
reported. Goal: messages ≤ 1.2 × the questions that apply.

    python bench/walk.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialogs import Engine  # noqa: E402
from dialogs.answering import check_answer  # noqa: E402
from dialogs.kinds import FORMAT_SAMPLES  # noqa: E402
from dialogs.messages import Inbound, Outbound, text_menu  # noqa: E402
from dialogs.snapshot import load_snapshot  # noqa: E402
from dialogs.spec import FormSpec, Item, all_forms  # noqa: E402
from dialogs.state import FormState  # noqa: E402
from storage import repo  # noqa: E402
from storage.db import Database  # noqa: E402
from templates.messages import say  # noqa: E402

YEAR = 2020
GOAL = 1.2
UNITS = {
    "xa-phuong": "UBND xã Hương Vinh",
    "so-ban-nganh": "Sở Tư pháp",
    "ubnd-huyen": "UBND thị xã Hương Trà",
}
CONTACT = "0234 3551 234; vanphong@huongtra.gov.vn"
# A plausible figure per unit, as a clerk would type it; parts are lowered to fit their wholes.
FIGURES = {
    "người": "25 người",
    "máy": "28",
    "văn bản": "1.250",
    "hồ sơ": "820",
    "tin bài": "12",
    "tin, bài": "40",
    "tin, bài, văn bản": "40",
    "tin": "1",
    "quý": "4",
    "Tr.đ": "150 triệu",
    "Mbps": "100",
    "lần": "5.000",
    "ngày": "250",
    "đơn vị": "5",
    "thủ tục": "120",
    "xã": "15",
    "phòng, ban": "12",
    "thiết bị": "2",
    "hệ thống": "1",
    "lượt người": "10 lượt",
    "kiến nghị": "14",
    "ý kiến": "30",
    "CKS": "40",
    "cuộc họp": "12",
    "điểm": "15",
    "kết quả": "300",
    "hộp thư": "25",
}
TEXTS = {
    "Họ và tên": "Lê Thị Hoa",
    "Chức vụ": "Công chức Văn phòng - Thống kê",
    "Bộ phận": "Văn phòng",
    "Địa chỉ": "Số 2 Lý Thường Kiệt, thị xã Hương Trà",
}


def realistic(spec: FormSpec, state: FormState, item: Item) -> str:
    """What a clerk types for ``item``, given the answers so far: a figure that fits the
    form's rules (no warning, no refusal), else the largest smaller one that does."""
    kind = item.kind
    if kind == "yes_no":
        return "có"
    if kind in ("tri_state", "choice"):
        return "1"
    if kind == "multi_choice":
        return "1, 2" if len(item.choices()) > 1 else "1"
    if kind == "text":
        if item.format:
            return FORMAT_SAMPLES[item.format]
        return next((v for k, v in TEXTS.items() if item.label.startswith(k)), "Phần mềm VNPT")
    if kind == "fraction":
        candidates = ["820/1.250", "80/100", "0/1"]
    elif item.plain:
        candidates = [str(YEAR)]
    else:
        typed = FIGURES.get(item.unit or "", "5")
        number = int("".join(ch for ch in typed if ch.isdigit()))
        candidates = [typed, *(str(number * k // 10) for k in (8, 5, 2)), "1", "0"]
    for typed in candidates:
        checked = check_answer(spec, state, item, typed)
        if not checked.problem and not checked.warnings:
            return typed
    return candidates[-1]


def longest(replies: list[Outbound]) -> int:
    return max((len(text_menu(r, say("text_menu_hint"))) for r in replies), default=0)


async def walk(database: Database, engine: Engine, form: str) -> dict:
    spec = engine.forms[form]
    unit = UNITS[form]
    async with database.session() as session, session.begin():
        await repo.upsert_unit(session, unit, form, contact=CONTACT)
    user = f"clerk-{form}"
    replies = await engine.bind("console", user, unit_name=unit, form_id=form, year=YEAR)
    sent = refused = 0
    widest = longest(replies)
    numbers = iter(range(10**9))

    async def say_(text: str) -> list[Outbound]:
        nonlocal sent, widest
        sent += 1
        out = await engine.handle(
            Inbound("console", user, text=text, message_id=str(next(numbers)))
        )
        widest = max(widest, longest(out))
        return out

    async with database.session() as session:
        submission_id = (await repo.get_respondent(session, "console", user)).submission_id

    async def state_now() -> FormState:
        async with database.session() as session:
            return (await load_snapshot(session, submission_id, engine.forms)).state

    while (asks := replies[-1].asks) is not None:
        item = spec.by_code[asks]
        replies = await say_(realistic(spec, await state_now(), item))
        while replies[-1].evidence_for is not None:  # a link to the document, then "xong"
            await say_("https://example.gov.vn/van-ban/12")
            replies = await say_("xong")
        if replies[-1].asks == asks:
            refused += 1
            if sent > 4 * len(spec.items):
                raise RuntimeError(f"stuck at {asks}: {replies[-1].text}")
    state = await state_now()
    done, applicable = state.totals()
    answered = sum(1 for a in state.stored.values() if a.raw is not None)
    await say_("/nop")
    confirmation = await say_("có")
    assert confirmation[0].submitted, confirmation[0].text
    needed = sent
    # Reading: progress, the index, every page of every section (not counted as needed).
    await say_("/tiendo")
    await say_("/xem")
    for section in spec.sections:
        page = 1
        while True:
            out = await say_(f"/xem {section.number} {page}")
            if say("review_next_page") not in [o.label for o in out[0].options]:
                break
            page += 1
    return {
        "form": form,
        "applicable": applicable,
        "filled_by_bot": done - answered,
        "messages": needed,
        "refused_or_warned": refused,
        "ratio": round(needed / applicable, 3),
        "goal": GOAL,
        "longest_reply": widest,
    }


async def main() -> None:
    folder = tempfile.mkdtemp(prefix="formbot-walk-")
    database = Database(f"sqlite+aiosqlite:///{folder}/walk.db")
    await database.upgrade()
    engine = Engine(database, all_forms())
    results = []
    try:
        for form in UNITS:
            results.append(await walk(database, engine, form))
    finally:
        await database.dispose()
    print(f"{'form':<14}{'applicable':>11}{'filled':>8}{'messages':>10}{'ratio':>8}{'longest':>9}")
    for r in results:
        ok = "ok" if r["ratio"] <= GOAL else "OVER"
        print(
            f"{r['form']:<14}{r['applicable']:>11}{r['filled_by_bot']:>8}{r['messages']:>10}"
            f"{r['ratio']:>8}{r['longest_reply']:>9}  {ok} (goal ≤ {GOAL} × applicable)"
        )
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())

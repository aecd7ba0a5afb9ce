"""The console conversation and the submission commands, run as a person would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.cli import main


@pytest.fixture
def db_env(tmp_path, monkeypatch):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return {**os.environ, "DATABASE_URL": url}


def chat(env, lines: list[str], *args: str) -> str:
    command = [sys.executable, "-m", "bot.cli", "chat", "--form", "xa-phuong", *args]
    done = subprocess.run(
        command,
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert done.stderr == ""
    return done.stdout


def test_console_chat_scripted_then_resumed(db_env):
    unit = ["--unit", "UBND xã Hương Vinh", "--year", "2020"]
    first = chat(db_env, ["Thôn 3, xã Hương Vinh", "/xem 1"], *unit)
    # The year and the unit's name are known: the first question is the address.
    assert "PHIẾU TỰ ĐÁNH GIÁ" in first and "[Năm 2020 · MỤC 1 · câu 3/" in first
    assert "❓ 1.1." not in first and "❓ 1.2." not in first
    assert "✓ Đã lưu 1.3: Thôn 3, xã Hương Vinh" in first
    assert "1.1 Năm báo cáo: 2020" in first and "1.2 Tên xã, phường: UBND xã Hương Vinh" in first
    # EOF ended the run; the next run greets with progress and asks the same next question.
    second = chat(db_env, ["/tiendo"], *unit)
    assert "Chào mừng trở lại" in second and "đã trả lời 3/" in second
    assert "❓ 1.4." in second
    assert "Tiến độ năm 2020: 3/" in second


def test_fill_and_show(db_env, tmp_path, capsys):
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "'1.1': '2020'\n'1.7': '12'\n'3.1.1': '13 máy'\n'5.8.1': 'nhiều'\n'9.9': '1'\n",
        encoding="utf-8",
    )
    code = main(
        ["fill", "xa-phuong", "--unit", "Xã A", "--year", "2020", "--answers", str(answers)]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 2
    assert out[0] == "1.1: accepted: 2020"
    assert out[1] == "1.7: accepted: 12 người"
    assert out[2] == "3.1.1: accepted: 13 máy"
    assert out[3].startswith("5.8.1: refused: «nhiều» không phải là một số")
    assert out[4].startswith("9.9: refused: Không có câu «9.9»")
    assert main(["submissions", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["unit"], row["form"], row["year"], row["status"]) == (
        "Xã A",
        "xa-phuong",
        2020,
        "draft",
    )
    assert main(["show", str(row["id"]), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    # The unit's name is known: filled when the submission started.
    assert shown["answers"] == {"1.1": 2020, "1.2": "Xã A", "1.7": 12, "3.1.1": 13}
    assert shown["computed"]["3.1"] == pytest.approx(13 / 12)
    assert shown["progress"]["answered"] == 4
    assert main(["show", "999", "--json"]) == 2

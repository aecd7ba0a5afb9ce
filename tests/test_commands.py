"""The command table: the words that call a command, who may use it, /trogiup and the menu."""

from __future__ import annotations

import pytest

from dialogs.commands import COMMANDS, HELP, START, by_name, called, help_replies, menu
from dialogs.messages import Inbound
from dialogs.payloads import RunCommand
from templates.messages import has


def typed(text: str):
    return called(Inbound("console", "u", text=text))


@pytest.mark.parametrize(
    ("text", "name", "argument"),
    [
        ("/sua 3.2.a", "sua", "3.2.a"),
        ("/edit 3.2.a", "sua", "3.2.a"),
        ("/Sửa 3.2.a", "sua", "3.2.a"),
        ("/nop@formbot_bot", "nop", ""),
        ("/TIẾNĐỘ", "tiendo", ""),
        ("/start AB12CD34", "start", "AB12CD34"),
        ("/khongcolenh", "trogiup", ""),
    ],
)
def test_a_typed_command_is_found_by_any_of_its_words(text, name, argument):
    call = typed(text)
    assert (call.command.name, call.argument) == (name, argument)


def test_an_answer_calls_no_command():
    assert typed("12 máy") is None


def test_a_pressed_command_button_calls_its_command():
    call = called(Inbound("telegram", "1", payload=RunCommand("quaylai")))
    assert call.command is by_name("quaylai")


def test_every_command_has_its_wording_and_a_known_role():
    for command in COMMANDS:
        assert command.role in ("respondent", "reviewer", "admin")
        if command not in (START,):
            assert has(f"command_help_{command.name}"), command.name
        if command.menu:
            assert has(f"command_menu_{command.name}"), command.name
    assert START.anytime and HELP.anytime


def test_help_lists_what_each_person_may_use():
    respondent = "\n".join(m.text for m in help_replies("respondent", bound=True))
    reviewer = "\n".join(m.text for m in help_replies("reviewer", bound=False))
    admin = "\n".join(m.text for m in help_replies("admin", bound=False))
    assert "/sua MÃ_CÂU" in respondent and "/danhsach" not in respondent
    assert "/danhsach" in reviewer and "/thongbao" not in reviewer and "/sua" not in reviewer
    assert "/thongbao" in admin
    assert help_replies(None, bound=False) == []


def test_the_telegram_menu_follows_the_table():
    assert [name for name, _ in menu()] == [c.name for c in COMMANDS if c.menu]
    assert all(description for _, description in menu())

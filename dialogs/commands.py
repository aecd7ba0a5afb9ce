"""The chat commands, in one table: the words that call each one, who may use it, where its
help line and menu entry come from, and what runs it.

``/trogiup``, Telegram's command menu and the role checks are all read from ``COMMANDS``, so
a new command is one row here, its handler, and its two lines of wording
(``command_help_<name>`` and ``command_menu_<name>`` in ``templates/messages.vi.yaml``).

Respondent commands run inside a turn (``dialogs.respondent``: synchronous, on the
conversation's database transaction); staff commands run on their own session
(``dialogs.staff``) and receive the services they need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialogs import access, answering, collecting, overview, respondent, staff
from dialogs.messages import Inbound, Outbound
from dialogs.payloads import RunCommand
from dialogs.text import fold
from templates.messages import say


@dataclass(frozen=True)
class Command:
    name: str  # what to type after "/", without diacritics: "tieptuc"
    words: tuple[str, ...]  # other words that call it (folded): English, old spellings
    role: str  # the least role that may use it (dialogs.access.ROLES)
    handler: Callable  # respondent: (turn, argument); staff: async (services, session, …)
    anytime: bool = False  # also on a submitted or approved form (it changes nothing)
    menu: bool = False  # listed in Telegram's command menu

    @property
    def staff(self) -> bool:
        return self.role != "respondent"


def _help(turn, argument: str) -> list[Outbound]:
    return help_replies(turn.row.role, bound=True)


COMMANDS: tuple[Command, ...] = (
    Command("start", ("batdau",), "respondent", respondent.start, anytime=True),
    Command("tieptuc", ("resume",), "respondent", respondent.resume, menu=True),
    Command("quaylai", ("back",), "respondent", respondent.back, menu=True),
    Command("boqua", ("skip",), "respondent", answering.skip, menu=True),
    Command("sua", ("edit",), "respondent", respondent.edit, menu=True),
    Command("xem", ("review",), "respondent", overview.review, anytime=True, menu=True),
    Command("tiendo", ("progress",), "respondent", overview.progress, anytime=True, menu=True),
    Command("bangchung", ("evidence",), "respondent", collecting.command, anytime=True, menu=True),
    Command("nop", ("submit",), "respondent", respondent.ask_submit, menu=True),
    Command("huy", ("cancel",), "respondent", respondent.cancel, menu=True),
    Command("trogiup", ("help",), "respondent", _help, anytime=True, menu=True),
    Command("danhsach", ("list",), "reviewer", staff.list_units),
    Command("taiphieu", ("documents",), "reviewer", staff.documents),
    Command("xephang", ("ranking",), "reviewer", staff.ranking),
    Command("tralai", ("return",), "reviewer", staff.return_for_fixes),
    Command("duyet", ("approve",), "reviewer", staff.approve),
    Command("thongbao", ("announce",), "admin", staff.announce),
    Command("web", ("console",), "reviewer", staff.web_login),
)
_BY_WORD = {word: c for c in COMMANDS for word in (c.name, *c.words)}
START = _BY_WORD["start"]
HELP = _BY_WORD["trogiup"]


@dataclass(frozen=True)
class Called:
    """A command as a person called it: typed ``/sua 3.2.a`` or a pressed command button.
    An unknown word calls the help."""

    command: Command
    argument: str
    word: str


def called(inbound: Inbound) -> Called | None:
    """The command a message calls, or None when it is an answer."""
    if isinstance(inbound.payload, RunCommand):
        name = inbound.payload.name
        return Called(_BY_WORD.get(name, HELP), inbound.payload.argument, name)
    text = (inbound.text or "").strip()
    if not text.startswith("/"):
        return None
    head, _, argument = text[1:].partition(" ")
    word = fold(head.split("@", 1)[0])  # "/nop@formbot_bot" in a group-style mention
    return Called(_BY_WORD.get(word, HELP), argument.strip(), word)


def by_name(name: str) -> Command:
    return _BY_WORD[name]


def help_replies(role: str | None, *, bound: bool) -> list[Outbound]:
    """``/trogiup``: the lines of the commands this person may use."""
    replies = []
    if bound:
        lines = [say("help_header")]
        lines += [say(f"command_help_{c.name}") for c in COMMANDS if c.menu]
        lines.append(say("help_footer"))
        replies.append(Outbound("\n".join(lines)))
    if access.is_staff(role):
        lines = [say("staff_help_header")]
        lines += [
            say(f"command_help_{c.name}")
            for c in COMMANDS
            if c.staff and access.allowed(role, c.role)
        ]
        lines.append(say("staff_help_footer"))
        replies.append(Outbound("\n".join(lines)))
    return replies


def menu() -> list[tuple[str, str]]:
    """Telegram's command menu: (command, description) in table order."""
    return [(c.name, say(f"command_menu_{c.name}")) for c in COMMANDS if c.menu]

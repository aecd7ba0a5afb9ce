"""What the sub-commands share: running their work against the database, and refusing a
form id that is not a built-in form."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

# Heavy modules (SQLAlchemy, the form specs) load when a command needs them, so that
# `formbot forms list` does not pay for the database and `formbot campaign status` not for
# Telegram or the documents.
from dialogs.spec import all_forms

if TYPE_CHECKING:
    from dialogs.spec import FormSpec
    from storage.db import Database

T = TypeVar("T")


def with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the database (``DATABASE_URL``), bring its schema up to date, run
    ``work(database)`` and dispose of the engine, whatever happens; ``work``'s result."""

    import asyncio

    from storage.db import Database

    async def main() -> T:
        database = Database()
        try:
            await database.upgrade()
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


def unknown_form(form_id: str, forms: Mapping[str, FormSpec] | None = None) -> str | None:
    """None for one of ``forms`` (default: the built-in forms); else what to tell the user,
    with the forms there are."""
    forms = all_forms() if forms is None else forms
    if form_id in forms:
        return None
    return f"unknown form {form_id!r}; known: {', '.join(forms)}"


def known_form(form_id: str) -> bool:
    """Whether ``form_id`` is a built-in form; if not, says so on stderr."""
    problem = unknown_form(form_id)
    if problem:
        print(problem, file=sys.stderr)
    return problem is None

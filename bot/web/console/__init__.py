"""The web console of the province IT team and the reviewers: campaigns, units, submissions,
invites, the outbox; server-rendered Vietnamese pages (Jinja2), one CSS file, no JavaScript.

``console_routes(database)`` is what the bot's one web server mounts (``bot.app``): it goes
last, after the webhooks and document links, and answers every other path (unknown ones with
its own 404 page)."""

from bot.web.console.pages import console_app, console_routes

__all__ = ["console_app", "console_routes"]

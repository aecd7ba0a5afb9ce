"""The bot's web side: one server (``WebServer``) for the webhooks, the document links and,
later, the IT team's web console; each part contributes its routes."""

from bot.web.documents import document_routes
from bot.web.hooks import telegram_webhook, zalo_webhook
from bot.web.review import review_routes
from bot.web.server import WebServer, web_app

__all__ = [
    "WebServer",
    "document_routes",
    "review_routes",
    "telegram_webhook",
    "web_app",
    "zalo_webhook",
]

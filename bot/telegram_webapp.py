"""Telegram Mini App ``initData``: who opened the page, signed by Telegram with the bot's token.

Telegram's rule (core.telegram.org/bots/webapps, "Validating data received via the Mini
App"): the data-check-string is every received ``key=value`` except ``hash``, sorted by key
and joined with line feeds; ``secret_key = HMAC_SHA256(key="WebAppData", msg=bot_token)``;
the data is Telegram's when ``hex(HMAC_SHA256(key=secret_key, msg=data_check_string))``
equals ``hash``. ``auth_date`` (unix time) says when it was signed: older data is refused,
so a copied ``initData`` stops working. Pure functions, no network.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl

MAX_AGE_SECONDS = 24 * 3600  # as long as the review link itself
MAX_LENGTH = 10_000  # initData is a few hundred bytes


def init_data_hash(fields: dict[str, str], bot_token: str) -> str:
    """The ``hash`` Telegram puts in ``initData`` with these other ``fields``."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()


def validate_init_data(
    init_data: str, bot_token: str, *, now: float, max_age: float = MAX_AGE_SECONDS
) -> dict[str, Any] | None:
    """The fields of ``init_data`` (the query string the Mini App got), ``user`` parsed from
    its JSON, when Telegram signed it for this bot no longer than ``max_age`` seconds before
    ``now``; None when it is forged, tampered with, stale or malformed."""
    if not init_data or len(init_data) > MAX_LENGTH or not bot_token:
        return None
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    fields = dict(pairs)
    if len(fields) != len(pairs) or "hash" not in fields:
        return None  # a repeated key: not what Telegram sends
    expected = init_data_hash(fields, bot_token)
    if not hmac.compare_digest(expected, fields["hash"].encode("ascii", "replace").decode()):
        return None
    date = fields.get("auth_date", "")
    # A few seconds ahead is Telegram's clock, not an attack.
    if not (date.isascii() and date.isdigit()) or not -60 <= now - int(date) <= max_age:
        return None
    parsed: dict[str, Any] = dict(fields)
    if "user" in fields:
        try:
            parsed["user"] = json.loads(fields["user"])
        except ValueError:
            return None
    return parsed


def telegram_user_id(fields: dict[str, Any] | None) -> str | None:
    """The id of the user of validated ``initData``, as the bot keys people."""
    user = fields.get("user") if fields else None
    if isinstance(user, dict) and isinstance(user.get("id"), int):
        return str(user["id"])
    return None

"""The sender's order: which typed messages arrived too late to be applied.

The person's lock (``dialogs.turns``) applies their messages one at a time across workers; the
sender's order (``Inbound.order``) applies them in the order they were sent. A typed message
older than one already applied is not applied to the current question (it was typed for an
earlier one): the person is told and asked the current question again. Buttons carry their item,
and the commands that only show something (/xem, /tiendo, /trogiup, /start) are answered
whenever they come. The orders come from the platform, never from a worker's clock: Telegram's
update_id is one sequence per bot, the same by webhook or by polling and across restarts of the
workers, but it starts again at a random number after a week without updates, so the last order
is only compared for ``ORDER_WINDOW``; Zalo's is its time stamp in milliseconds, and two
messages in the same millisecond are not late to each other (only an older order is).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from dialogs.asking import ask_current
from dialogs.messages import Inbound, Outbound
from dialogs.turn import Turn
from storage.turns import TurnRow
from templates.messages import say

log = logging.getLogger(__name__)

ORDER_WINDOW = timedelta(days=1)  # how long the last applied order is compared with


def _trusted(row: TurnRow, now: datetime) -> bool:
    """Whether the person's last order is recent enough to compare with."""
    return row.last_seen_at is not None and now - row.last_seen_at < ORDER_WINDOW


def late(inbound: Inbound, row: TurnRow, now: datetime) -> bool:
    """A typed message sent before one already applied for this person."""
    if inbound.payload is not None or inbound.order is None or row.last_order is None:
        return False
    return inbound.order < row.last_order and _trusted(row, now)


def order_after(inbound: Inbound, row: TurnRow, now: datetime) -> int | None:
    """The last order to keep if this message is applied (the newest seen)."""
    if inbound.order is None:
        return row.last_order
    if row.last_order is None or not _trusted(row, now):
        return inbound.order
    return max(row.last_order, inbound.order)


def arrived_late(turn: Turn) -> list[Outbound]:
    """Nothing is applied: the message was meant for an earlier question."""
    log.info(
        "not applied: %s:%s sent message %s before one already applied",
        turn.inbound.channel,
        turn.inbound.user,
        turn.inbound.message_id,
    )
    return ask_current(turn, [say("arrived_late", text=(turn.inbound.text or "").strip())])

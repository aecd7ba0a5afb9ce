"""All SQL: the async database (``Database``), the tables, the repository (``storage.repo``),
the campaign reads (``storage.campaigns``) and the outbox queue (``storage.outbox``).

The names below load on first use (PEP 562): importing one storage module does not import
the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Database": "storage.db",
    "CampaignData": "storage.campaigns",
    "load_campaign": "storage.campaigns",
}
__all__ = ["CampaignData", "Database", "load_campaign"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'storage' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

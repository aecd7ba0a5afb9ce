"""The conversation and its rules: form specs, item kinds, the turn runner and what it says.

What channels and the CLI use is importable from here. The names load on first use (PEP 562),
so reading a form spec does not import the turn runner and its database.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Document": "dialogs.messages",
    "Inbound": "dialogs.messages",
    "Option": "dialogs.messages",
    "Outbound": "dialogs.messages",
    "DocumentRenderer": "dialogs.services",
    "Ranker": "dialogs.services",
    "Ranking": "dialogs.services",
    "Services": "dialogs.services",
    "FormSpec": "dialogs.spec",
    "Item": "dialogs.spec",
    "all_forms": "dialogs.spec",
    "load_spec": "dialogs.spec",
    "Engine": "dialogs.turns",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'dialogs' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

"""The conversation and its rules: form specs, item kinds, the turn runner and what it says.

What channels and the CLI use is importable from here.
"""

from dialogs.messages import Document, Inbound, Option, Outbound
from dialogs.services import DocumentRenderer, Ranker, Ranking, Services
from dialogs.spec import FormSpec, Item, all_forms, load_spec
from dialogs.turns import Engine

__all__ = [
    "Document",
    "DocumentRenderer",
    "Engine",
    "FormSpec",
    "Inbound",
    "Item",
    "Option",
    "Outbound",
    "Ranker",
    "Ranking",
    "Services",
    "all_forms",
    "load_spec",
]

"""The bot's Vietnamese wording, kept in ``messages.vi.yaml`` as Jinja templates.

Code asks for a message by key; whoever maintains the wording edits only the YAML file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from jinja2 import Environment, StrictUndefined, Template

MESSAGES_FILE = Path(__file__).parent / "messages.vi.yaml"
_env = Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


@cache
def _templates() -> dict[str, Template]:
    raw = yaml.safe_load(MESSAGES_FILE.read_text(encoding="utf-8"))
    return {key: _env.from_string(text.rstrip("\n")) for key, text in raw.items()}


def say(key: str, **params) -> str:
    """The message ``key`` rendered with ``params``."""
    return _templates()[key].render(**params)


def has(key: str) -> bool:
    return key in _templates()

"""The documents' Vietnamese wording that code needs as data, kept in ``documents.vi.yaml``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, Template

WORDING_FILE = Path(__file__).parent / "documents.vi.yaml"
_env = Environment(undefined=StrictUndefined, autoescape=False)


@cache
def wording() -> dict[str, Any]:
    """The whole file, parsed once per process."""
    return yaml.safe_load(WORDING_FILE.read_text(encoding="utf-8"))


@cache
def _template(text: str) -> Template:
    return _env.from_string(text)


def phrase(*path: str, **params: Any) -> str:
    """The string at ``path`` (e.g. ``phrase("why", "ratio", ...)``) rendered with ``params``."""
    node: Any = wording()
    for key in path:
        node = node[key]
    return _template(str(node)).render(**params)


def form_settings(form_id: str) -> dict[str, Any]:
    forms = wording()["forms"]
    return {**forms["default"], **forms.get(form_id, {})}

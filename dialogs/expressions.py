"""Safe evaluation of the expressions written in form specs.

Spec text never reaches ``eval``: expressions are parsed once by ``simpleeval`` (an AST
walker that only knows arithmetic, comparisons, boolean logic and the functions we hand it)
and re-evaluated against a mapping of answers. Items are referenced XLSForm-style as
``${3.2.b}``, because item codes are not Python identifiers.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple

from simpleeval import SimpleEval

REFERENCE = re.compile(r"\$\{\s*([^}\s]+)\s*\}")


class FractionValue(NamedTuple):
    """An answer of kind ``fraction`` ("x / y"): ``part`` of ``whole``."""

    part: int
    whole: int


class ExpressionError(ValueError):
    """The expression text cannot be parsed."""


def _ratio(a: Any, b: Any = None) -> float | None:
    if isinstance(a, FractionValue) and b is None:
        a, b = a.part, a.whole
    if a is None or b in (None, 0):
        return None
    return a / b


def _part(value: Any) -> Any:
    return value.part if isinstance(value, FractionValue) else value


def _whole(value: Any) -> Any:
    return value.whole if isinstance(value, FractionValue) else value


def _selected(value: Any, option: str) -> bool:
    if isinstance(value, list | tuple | set):
        return option in value
    return value == option


def _count_selected(value: Any) -> int:
    return len(value) if isinstance(value, list | tuple | set) else int(value is not None)


FUNCTIONS = {
    "ratio": _ratio,
    "part": _part,
    "whole": _whole,
    "selected": _selected,
    "count_selected": _count_selected,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
}


class _Evaluators(threading.local):
    """One evaluator per thread: building a SimpleEval costs more than evaluating, and its
    ``names`` are set per evaluation, so threads (the turn threads) must not share one."""

    def __init__(self) -> None:
        self.evaluator = SimpleEval(functions=FUNCTIONS)


_EVALUATORS = _Evaluators()


def references(source: str) -> list[str]:
    """Item codes referenced by ``source``, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in REFERENCE.finditer(source):
        seen.setdefault(match.group(1), None)
    return list(seen)


class Expression:
    """A parsed expression; ``evaluate`` is cheap enough for the per-message path."""

    __slots__ = ("source", "refs", "_names", "_tree")

    def __init__(self, source: str) -> None:
        self.source = source
        self.refs: tuple[str, ...] = tuple(references(source))
        self._names = {code: f"_ref{i}" for i, code in enumerate(self.refs)}
        translated = REFERENCE.sub(lambda m: self._names[m.group(1)], source)
        # Python spellings that spec authors write in YAML.
        translated = re.sub(r"\btrue\b", "True", translated)
        translated = re.sub(r"\bfalse\b", "False", translated)
        try:
            self._tree = ast.parse(translated.strip(), mode="eval").body
        except SyntaxError as exc:
            raise ExpressionError(f"cannot parse expression {source!r}: {exc.msg}") from None

    def evaluate(self, values: Mapping[str, Any]) -> Any | None:
        """The value, or None when a referenced answer is missing or arithmetic fails."""
        names: dict[str, Any] = {}
        for code in self.refs:
            value = values.get(code)
            if value is None:
                return None
            names[self._names[code]] = value
        evaluator = _EVALUATORS.evaluator
        evaluator.names = names
        try:
            return evaluator.eval("", previously_parsed=self._tree)
        except (ZeroDivisionError, TypeError, ValueError, ArithmeticError):
            return None

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

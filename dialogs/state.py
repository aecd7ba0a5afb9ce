"""What a set of stored answers means for a form: which items apply, the computed values,
which rules they break, what is still open, progress. Pure and cheap, changed one answer at
a time (``with_answer``).

Answers of items that stop applying (a gate flipped from Có to Không) stay stored but are
left out here, so they come back unchanged if the gate flips again.

A broken rule (``dialogs.spec.Constraint``) belongs to the item that owns it. It is a
*conflict* while its owner's answer stands and the rule is an error, or a warning the person
has not kept ("Vẫn giữ"): the conversation asks that item again, and the form cannot be
submitted until none is left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dialogs.expressions import REFERENCE
from dialogs.kinds import format_value
from dialogs.spec import Constraint, FormSpec, Item

Check = tuple[str, str]  # (owner code, rule): one constraint of one item


@dataclass(frozen=True, slots=True)
class Stored:
    value: Any
    skipped: bool = False
    raw: str | None = None
    kept: frozenset[str] = frozenset()  # the rules of warnings the person chose to keep


@dataclass(frozen=True, slots=True)
class Conflict:
    """A broken rule of an answered item."""

    item: Item
    constraint: Constraint

    @property
    def warning(self) -> bool:
        return self.constraint.severity == "warning"

    @property
    def key(self) -> Check:
        return (self.item.code, self.constraint.rule)


@dataclass(frozen=True, slots=True)
class SectionProgress:
    number: int
    title: str
    done: int
    total: int


class FormState:
    def __init__(self, spec: FormSpec, stored: dict[str, Stored], year: int | None = None) -> None:
        """``year``: the campaign's, which rules may compare an answer with (``${@year}``)."""
        self.spec = spec
        self.stored = stored
        self.year = year
        self.values: dict[str, Any] = {} if year is None else {"@year": year}
        self.applies: dict[str, bool] = {}
        for item in spec.items:
            self._settle(item)
        # Second pass: a printed total may precede its parts.
        self._compute(spec.computation_order)
        self.broken: frozenset[Check] = frozenset(
            key for key in _all_checks(spec) if self._breaks(key)
        )

    def with_answer(self, code: str, answer: Stored) -> FormState:
        """This state with one answer changed, as ``FormState`` would build it from scratch,
        re-evaluating only the items whose relevance or calculation depends on ``code`` and
        the rules that read them."""
        state = FormState.__new__(FormState)
        state.spec = self.spec
        state.stored = {**self.stored, code: answer}
        state.year = self.year
        state.values = dict(self.values)
        state.applies = dict(self.applies)
        items, codes = _downstream(self.spec)[code]
        for item in items:
            state._settle(item)
        state._compute([i for i in self.spec.computation_order if i.code in codes])
        recheck = _rechecks(self.spec)[code]
        state.broken = (self.broken - recheck) | {key for key in recheck if state._breaks(key)}
        return state

    def _breaks(self, key: Check) -> bool:
        return self.spec.expressions[key[1]].evaluate(self.values) is False

    def _settle(self, item: Item) -> None:
        """Whether ``item`` applies, and its value (in form order)."""
        expressions = self.spec.expressions
        applies = not item.relevant or bool(expressions[item.relevant].evaluate(self.values))
        self.applies[item.code] = applies
        answer = self.stored.get(item.code)
        if applies and item.calculate:
            self.values[item.code] = expressions[item.calculate].evaluate(self.values)
        elif applies and answer is not None and not answer.skipped:
            self.values[item.code] = answer.value
        else:
            self.values.pop(item.code, None)

    def _compute(self, items: list[Item]) -> None:
        expressions = self.spec.expressions
        for item in items:
            if self.applies[item.code]:
                self.values[item.code] = expressions[item.calculate].evaluate(self.values)

    # Items -----------------------------------------------------------------------------------

    def is_open(self, item: Item) -> bool:
        """Asked, applies, and neither answered nor skipped."""
        return item.asked and self.applies[item.code] and item.code not in self.stored

    def next_open(self, after: Item | None = None) -> Item | None:
        """The first open item after ``after``, wrapping round to the start."""
        items = self.spec.items
        start = after.index + 1 if after else 0
        for item in items[start:]:
            if self.is_open(item):
                return item
        for item in items[:start]:
            if self.is_open(item):
                return item
        return None

    def previous(self, before: Item | None) -> Item | None:
        """The asked, applicable item before ``before`` (the last one when None)."""
        items = self.spec.items
        end = before.index if before else len(items)
        for item in reversed(items[:end]):
            if item.asked and self.applies[item.code]:
                return item
        return None

    def missing_required(self) -> list[Item]:
        return [i for i in self.spec.items if i.required and self.is_open(i)]

    def value(self, code: str) -> Any:
        return self.values.get(code)

    # Progress --------------------------------------------------------------------------------

    def progress(self) -> list[SectionProgress]:
        rows = []
        for section in self.spec.sections:
            asked = [i for i in section.items if i.asked and self.applies[i.code]]
            done = sum(1 for i in asked if i.code in self.stored)
            rows.append(SectionProgress(section.number, section.title, done, len(asked)))
        return rows

    def totals(self) -> tuple[int, int]:
        rows = self.progress()
        return sum(r.done for r in rows), sum(r.total for r in rows)

    # Rules -----------------------------------------------------------------------------------

    def broken_rules(self, code: str) -> list[Conflict]:
        """The rules of item ``code`` its answer breaks now (kept warnings included)."""
        if not self.applies.get(code) or not self.broken:
            return []
        checks = _checks_by_key(self.spec)
        return [
            Conflict(self.spec.by_code[code], checks[key])
            for key in sorted(self.broken, key=_rule_order(self.spec).__getitem__)
            if key[0] == code
        ]

    def conflicts(self) -> list[Conflict]:
        """Broken rules of answered items that apply, not kept, in form order."""
        if not self.broken:
            return []
        found = []
        checks = _checks_by_key(self.spec)
        for key in sorted(self.broken, key=_rule_order(self.spec).__getitem__):
            code, rule = key
            answer = self.stored.get(code)
            if answer is None or answer.skipped or not self.applies.get(code):
                continue
            constraint = checks[key]
            if constraint.severity == "warning" and rule in answer.kept:
                continue
            found.append(Conflict(self.spec.by_code[code], constraint))
        return found

    def message(self, constraint: Constraint) -> str:
        """The rule's message with the current values in place of its ``${code}``s."""

        def value_of(match: re.Match) -> str:
            code = match.group(1)
            value = self.values.get(code)
            item = self.spec.by_code.get(code)
            if value is None:
                return "…"
            return format_value(item, value, with_unit=False) if item else str(value)

        return REFERENCE.sub(value_of, constraint.message)

    def kept_warnings(self) -> list[Conflict]:
        """Warnings that hold and that the person kept, in form order (for the reviewer)."""
        found = []
        checks = _checks_by_key(self.spec)
        for key in sorted(self.broken, key=_rule_order(self.spec).__getitem__):
            answer = self.stored.get(key[0])
            if answer is None or not self.applies.get(key[0]) or key[1] not in answer.kept:
                continue
            found.append(Conflict(self.spec.by_code[key[0]], checks[key]))
        return found


def _all_checks(spec: FormSpec) -> tuple[Check, ...]:
    return spec.memo("_all_checks", lambda s: tuple(_checks_by_key(s)))


def _checks_by_key(spec: FormSpec) -> dict[Check, Constraint]:
    return spec.memo(
        "_checks_by_key", lambda s: {(i.code, c.rule): c for i in s.items for c in i.checks}
    )


def _rule_order(spec: FormSpec) -> dict[Check, int]:
    return spec.memo("_rule_order", lambda s: {key: n for n, key in enumerate(_all_checks(s))})


def _rechecks(spec: FormSpec) -> dict[str, frozenset[Check]]:
    """For each code, the rules to evaluate again when its answer changes: those that read
    it, or an item whose value or relevance depends on it."""
    return spec.memo("_rechecks", _build_rechecks)


def _build_rechecks(spec: FormSpec) -> dict[str, frozenset[Check]]:
    readers: dict[str, set[Check]] = {item.code: set() for item in spec.items}
    for owner in spec.items:
        for constraint in owner.checks:
            for ref in {*spec.expressions[constraint.rule].refs, owner.code}:
                if ref in readers:
                    readers[ref].add((owner.code, constraint.rule))
    downstream = _downstream(spec)
    return {
        code: frozenset(key for changed in downstream[code][1] for key in readers[changed])
        for code in readers
    }


def _downstream(spec: FormSpec) -> dict[str, tuple[list[Item], frozenset[str]]]:
    return spec.memo("_downstream", _build_downstream)


def _build_downstream(spec: FormSpec) -> dict[str, tuple[list[Item], frozenset[str]]]:
    """For each code, that item and every item whose relevance or calculation depends on it,
    directly or through others, in form order."""
    readers: dict[str, set[str]] = {item.code: set() for item in spec.items}
    for item in spec.items:
        for source in (item.relevant, item.calculate):
            if source:
                for ref in spec.expressions[source].refs:
                    readers[ref].add(item.code)
    downstream: dict[str, tuple[list[Item], frozenset[str]]] = {}
    for code in readers:
        seen = {code}
        stack = [code]
        while stack:
            for reader in readers[stack.pop()]:
                if reader not in seen:
                    seen.add(reader)
                    stack.append(reader)
        downstream[code] = ([item for item in spec.items if item.code in seen], frozenset(seen))
    return downstream

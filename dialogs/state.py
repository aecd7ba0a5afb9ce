"""What a set of stored answers means for a form: which items apply, the computed values,
what is still open, progress. Pure and cheap, rebuilt whenever the answers change.

Answers of items that stop applying (a gate flipped from Có to Không) stay stored but are
left out here, so they come back unchanged if the gate flips again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dialogs.spec import Constraint, FormSpec, Item


@dataclass(frozen=True, slots=True)
class Stored:
    value: Any
    skipped: bool = False
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class SectionProgress:
    number: int
    title: str
    done: int
    total: int


class FormState:
    def __init__(self, spec: FormSpec, stored: dict[str, Stored]) -> None:
        self.spec = spec
        self.stored = stored
        self.values: dict[str, Any] = {}
        self.applies: dict[str, bool] = {}
        for item in spec.items:
            self._settle(item)
        # Second pass: a printed total may precede its parts.
        self._compute(spec.computation_order)

    def with_answer(self, code: str, answer: Stored) -> FormState:
        """This state with one answer changed, as ``FormState`` would build it from scratch,
        re-evaluating only the items whose relevance or calculation depends on ``code``."""
        state = FormState.__new__(FormState)
        state.spec = self.spec
        state.stored = {**self.stored, code: answer}
        state.values = dict(self.values)
        state.applies = dict(self.applies)
        items, codes = _downstream(self.spec)[code]
        for item in items:
            state._settle(item)
        state._compute([i for i in self.spec.computation_order if i.code in codes])
        return state

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

    # Constraints -----------------------------------------------------------------------------

    def violations(self, changed: str) -> list[tuple[Item, Constraint]]:
        """Constraints touched by a change of ``changed`` that do not hold."""
        broken = []
        for owner, constraint in affected_constraints(self.spec)[changed]:
            if not self.applies[owner.code]:
                continue
            result = self.spec.expressions[constraint.rule].evaluate(self.values)
            if result is False:
                broken.append((owner, constraint))
        return broken


def _dependents(spec: FormSpec) -> dict[str, set[str]]:
    return spec.memo("_dependents", _build_dependents)


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


def affected_constraints(spec: FormSpec) -> dict[str, list[tuple[Item, Constraint]]]:
    """For each code, the constraints that must be re-checked when its answer changes."""
    return spec.memo("_affected_constraints", _build_affected)


def _build_dependents(spec: FormSpec) -> dict[str, set[str]]:
    """For each code, the computed items whose value depends on it (transitively)."""
    direct: dict[str, set[str]] = {item.code: set() for item in spec.items}
    for item in spec.items:
        if item.calculate:
            for ref in spec.expressions[item.calculate].refs:
                direct[ref].add(item.code)
    closure: dict[str, set[str]] = {}
    for code in direct:
        seen: set[str] = set()
        stack = list(direct[code])
        while stack:
            dep = stack.pop()
            if dep not in seen:
                seen.add(dep)
                stack.extend(direct[dep])
        closure[code] = seen
    return closure


def _build_affected(spec: FormSpec) -> dict[str, list[tuple[Item, Constraint]]]:
    dependents = _dependents(spec)
    result: dict[str, list[tuple[Item, Constraint]]] = {item.code: [] for item in spec.items}
    for owner in spec.items:
        for constraint in owner.constraints:
            refs = set(spec.expressions[constraint.rule].refs) | {owner.code}
            for code in result:
                if code in refs or dependents[code] & refs:
                    result[code].append((owner, constraint))
    return result

"""Form specs: the YAML files in ``dialogs/forms/`` loaded into validated objects.

A spec is data a non-programmer can read (see ``dialogs/forms/README.md``). The loader
refuses a bad spec with one message per problem, each naming the file and the item code,
so whoever edits a form learns exactly what to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dialogs.expressions import Expression, ExpressionError, references
from dialogs.formats import FORMATS
from dialogs.kinds import KINDS, Kind, kind_of
from dialogs.numbers import format_number
from templates.messages import say

FORMS_DIR = Path(__file__).parent / "forms"
# What the bot knows about a submission before anyone answers (``fill`` in a spec), and the
# name an expression uses for it (``${@year}``).
FILL_SOURCES = ("year", "unit_name", "unit_contact")
CONTEXT_NAMES = ("@year",)


class SpecError(ValueError):
    """A spec file is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class StrictModel(BaseModel):
    """A part of a YAML file (spec or rubric): unknown keys are errors, and it is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(StrictModel):
    value: str
    label: str


class Constraint(StrictModel):
    """A rule that must hold. ``error``: the answer is impossible and is refused (a part larger
    than its whole of the same count); ``warning``: unusual but possible, the person may keep
    it ("Vẫn giữ") and the kept warning goes with the answer to the reviewer."""

    rule: str
    message: str
    severity: Literal["error", "warning"] = "error"


class Target(StrictModel):
    """A measurable obligation (Kế hoạch 655): the answer must reach it to be "Đạt"."""

    min: float | None = None
    max: float | None = None
    equals: bool | str | None = None
    text: str

    def met(self, value: Any) -> bool | None:
        """True/False once there is a value; None while unanswered."""
        if value is None:
            return None
        if self.equals is not None:
            return value == self.equals
        number = value.part / value.whole if hasattr(value, "whole") and value.whole else value
        if not isinstance(number, int | float) or isinstance(number, bool):
            return None
        if self.min is not None and number < self.min:
            return False
        if self.max is not None and number > self.max:
            return False
        return True


class Item(StrictModel):
    code: str
    kind: str  # a name in dialogs.kinds.KINDS
    label: str
    hint: str | None = None
    unit: str | None = None
    required: bool = True
    relevant: str | None = None
    constraints: tuple[Constraint, ...] = ()
    calculate: str | None = None
    formula: str | None = None
    bonus: bool = False
    target: Target | None = None
    options: tuple[Option, ...] | None = None
    min: float | None = None
    max: float | None = None
    max_length: int = 1000
    plain: bool = False  # a number written without thousands separators (a year: 2020)
    table: str | None = None
    row: str | None = None
    format: str | None = None  # text items: a name in dialogs.formats.FORMATS
    carry: bool | None = None  # "Giữ như năm trước" offered; None: the kind's default
    warn_above: float | None = None  # a larger number is possible but unusual: a warning
    fill: Literal["year", "unit_name", "unit_contact"] | None = None  # known, not asked
    unit_words: tuple[str, ...] = ()  # more words accepted after a number ("lượt", "bài")

    # Filled in by the loader.
    section: int = 0
    index: int = 0

    @field_validator("code")
    @classmethod
    def _code_has_no_spaces(cls, value: str) -> str:
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("code must be non-empty and without spaces")
        return value

    @field_validator("kind")
    @classmethod
    def _kind_is_known(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"unknown kind {value!r}; known: {', '.join(KINDS)}")
        return value

    @field_validator("format")
    @classmethod
    def _format_is_known(cls, value: str | None) -> str | None:
        if value is not None and value not in FORMATS:
            raise ValueError(f"unknown format {value!r}; known: {', '.join(FORMATS)}")
        return value

    @cached_property
    def checks(self) -> tuple[Constraint, ...]:
        """The spec's constraints, and the warnings the item's fields imply: a number above
        ``warn_above``, a report year other than the campaign's."""
        extra = []
        if self.warn_above is not None:
            limit = format_number(self.warn_above)
            extra.append(
                Constraint(
                    rule=f"${{{self.code}}} <= {self.warn_above!r}",
                    message=say("warn_above", code=self.code, limit=limit, unit=self.unit),
                    severity="warning",
                )
            )
        if self.fill == "year":
            extra.append(
                Constraint(
                    rule=f"${{{self.code}}} == ${{@year}}",
                    message=say("warn_year", code=self.code),
                    severity="warning",
                )
            )
        return (*self.constraints, *extra)

    @property
    def carried(self) -> bool:
        """Whether last year's answer may be kept with one tap: facts that stay (names,
        systems in place), never this year's counts or budgets (the kind's default, or
        ``carry`` in the spec)."""
        return self.carry if self.carry is not None else kind_of(self).carried

    @cached_property
    def type(self) -> Kind:
        """What this item's kind means (parsing, storing, writing, scoring)."""
        return kind_of(self)

    @cached_property
    def asked(self) -> bool:
        """Computed items are shown, never asked."""
        return kind_of(self).asked

    @property
    def year_offset(self) -> int | None:
        """Investment-table columns are relative to the campaign year (N-1, N)."""
        if self.code.endswith(".prev"):
            return -1
        if self.code.endswith(".curr"):
            return 0
        return None

    def choices(self) -> list[tuple[Any, str]]:
        """(value, label) pairs a person may pick from, for kinds that have them."""
        return kind_of(self).choices(self)


class Heading(StrictModel):
    """A printed row or line that groups items and asks nothing (e.g. "2 | Thông tin …")."""

    code: str
    heading: str
    section: int = 0


class Table(StrictModel):
    title: str
    columns: tuple[str, ...] = ()


class Section(StrictModel):
    number: int
    title: str
    entries: tuple[Annotated[Item | Heading, Field(union_mode="left_to_right")], ...] = ()

    @property
    def items(self) -> list[Item]:
        return [e for e in self.entries if isinstance(e, Item)]


class FormSpec(StrictModel):
    id: str
    title: str
    issued_by: str | None = None
    unit_label: str | None = None
    tables: dict[str, Table] = {}
    sections: tuple[Section, ...]

    @cached_property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    @cached_property
    def by_code(self) -> dict[str, Item]:
        return {item.code: item for item in self.items}

    @cached_property
    def headings(self) -> list[Heading]:
        return [e for s in self.sections for e in s.entries if isinstance(e, Heading)]

    @cached_property
    def expressions(self) -> dict[str, Expression]:
        """Every expression of the spec, parsed once, keyed by its source text."""
        found: dict[str, Expression] = {}
        for item in self.items:
            for source in (item.relevant, item.calculate, *(c.rule for c in item.checks)):
                if source and source not in found:
                    found[source] = Expression(source)
        return found

    def memo(self, name: str, build: Callable[[FormSpec], Any]) -> Any:
        """``build(self)``, computed once and kept on the spec (as ``cached_property`` does),
        for data other modules derive from a form: specs live as long as the process, and
        hashing a whole spec to key a cache would cost more than the work."""
        if name not in self.__dict__:
            self.__dict__[name] = build(self)
        return self.__dict__[name]

    def section(self, number: int) -> Section:
        return next(s for s in self.sections if s.number == number)

    def item(self, code: str) -> Item:
        return self.by_code[code]

    @cached_property
    def computation_order(self) -> list[Item]:
        """Computed items in dependency order (the loader has refused cycles)."""
        computed = [i for i in self.items if i.calculate]
        done: set[str] = set()
        ordered: list[Item] = []

        def visit(item: Item) -> None:
            if item.code in done:
                return
            done.add(item.code)
            for ref in self.expressions[item.calculate or ""].refs:
                dep = self.by_code[ref]
                if dep.calculate:
                    visit(dep)
            ordered.append(item)

        for item in computed:
            visit(item)
        return ordered


def _section_entries(raw_section: dict, where: str, problems: list[str]) -> list[Any]:
    entries: list[Any] = []
    for raw in raw_section.get("items") or []:
        code = raw.get("code", "?") if isinstance(raw, dict) else "?"
        model = Heading if isinstance(raw, dict) and "heading" in raw else Item
        if model is Item and isinstance(raw, dict) and raw.get("kind") not in KINDS:
            problems.append(f"{where}: item {code}: unknown kind {raw.get('kind')!r}")
            continue
        try:
            entries.append(model.model_validate({**raw, "section": raw_section.get("number", 0)}))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "item"
                problems.append(f"{where}: item {code}: {field}: {err['msg']}")
        except TypeError:
            problems.append(f"{where}: item {code}: not a mapping")
    return entries


def _check_expressions(spec: FormSpec, where: str, problems: list[str]) -> None:
    position = {item.code: n for n, item in enumerate(spec.items)}
    for n, item in enumerate(spec.items):
        sources = [("relevant", item.relevant), ("calculate", item.calculate)]
        sources += [("constraint", c.rule) for c in item.checks]
        sources += [("constraint message", c.message) for c in item.checks]
        for field, source in sources:
            if not source:
                continue
            try:
                expression = Expression(source) if field != "constraint message" else None
            except ExpressionError as exc:
                problems.append(f"{where}: item {item.code}: {field}: {exc}")
                continue
            refs = expression.refs if expression else _message_refs(source)
            for ref in refs:
                if ref in CONTEXT_NAMES and field.startswith("constraint"):
                    continue
                if ref not in position:
                    problems.append(
                        f"{where}: item {item.code}: {field} references unknown code {ref}"
                    )
                elif field == "relevant" and position[ref] >= n:
                    problems.append(
                        f"{where}: item {item.code}: relevant references {ref}, "
                        "which is not an earlier item"
                    )
                elif field == "relevant" and _totals_later_items(spec, ref, position):
                    problems.append(
                        f"{where}: item {item.code}: relevant references {ref}, which is "
                        "calculated from later items (not known yet when it is asked)"
                    )
                elif field == "constraint" and position[ref] > n:
                    problems.append(
                        f"{where}: item {item.code}: constraint references later item {ref}"
                    )


def _totals_later_items(spec: FormSpec, code: str, position: dict[str, int]) -> bool:
    item = spec.by_code[code]
    if not item.calculate:
        return False
    refs = Expression(item.calculate).refs
    return any(position.get(ref, -1) > position[code] for ref in refs)


def _message_refs(message: str) -> list[str]:
    return references(message)


def _check_cycles(spec: FormSpec, where: str, problems: list[str]) -> None:
    """Computed items may reference later items (a printed total precedes its parts), so
    ordering alone cannot rule out a cycle: walk the graph."""
    graph: dict[str, list[str]] = {}
    for item in spec.items:
        if item.calculate:
            try:
                graph[item.code] = [r for r in Expression(item.calculate).refs if r in spec.by_code]
            except ExpressionError:
                graph[item.code] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished

    def visit(code: str, path: list[str]) -> None:
        state[code] = 1
        for ref in graph.get(code, []):
            if state.get(ref) == 1:
                cycle = " → ".join([*path[path.index(ref) :], ref]) if ref in path else ref
                problems.append(f"{where}: item {code}: calculation cycle {cycle}")
            elif state.get(ref) is None and ref in graph:
                visit(ref, [*path, ref])
        state[code] = 2

    for code in graph:
        if code not in state:
            visit(code, [code])


def _check_items(spec: FormSpec, where: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for entry in (e for s in spec.sections for e in s.entries):
        if entry.code in seen:
            problems.append(f"{where}: item {entry.code}: duplicate code")
        seen.add(entry.code)
    for item in spec.items:
        for problem in kind_of(item).spec_problems(item):
            problems.append(f"{where}: item {item.code}: {problem}")
        if item.table and item.table not in spec.tables:
            problems.append(f"{where}: item {item.code}: unknown table {item.table!r}")
        if item.format and item.kind != "text":
            problems.append(f"{where}: item {item.code}: only text items have a format")
        if item.warn_above is not None and not kind_of(item).is_number:
            problems.append(f"{where}: item {item.code}: only numbers have warn_above")


def parse_spec(data: Any, where: str) -> FormSpec:
    """Validate raw YAML data; raise SpecError listing every problem found."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise SpecError([f"{where}: the spec must be a mapping with id, title and sections"])
    sections = []
    for raw_section in data.get("sections") or []:
        entries = _section_entries(raw_section, where, problems)
        try:
            sections.append(
                Section(
                    number=raw_section.get("number"),
                    title=raw_section.get("title"),
                    entries=tuple(entries),
                )
            )
        except ValidationError as exc:
            for err in exc.errors():
                problems.append(f"{where}: section {raw_section.get('number')}: {err['msg']}")
    if not sections:
        problems.append(f"{where}: the spec has no sections")
    header = {k: v for k, v in data.items() if k != "sections"}
    try:
        spec = FormSpec.model_validate({**header, "sections": ()})
    except ValidationError as exc:
        problems += [f"{where}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise SpecError(problems) from None
    spec = FormSpec.model_validate({**header, "sections": sections})
    position = 0
    for section in spec.sections:
        for item in section.items:
            object.__setattr__(item, "index", position)
            position += 1
    _check_items(spec, where, problems)
    _check_expressions(spec, where, problems)
    _check_cycles(spec, where, problems)
    if problems:
        raise SpecError(problems)
    return spec


def read_yaml(path: Path, error: type[SpecError] = SpecError) -> Any:
    """The YAML document in ``path``; ``error`` with one problem line when the file cannot be
    read or is not YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error([f"{path}: cannot read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise error([f"{path}: not valid YAML: {exc}"]) from None


def load_spec(path: str | Path) -> FormSpec:
    path = Path(path)
    return parse_spec(read_yaml(path), str(path))


_registry: dict[str, FormSpec] | None = None


def all_forms() -> dict[str, FormSpec]:
    """The built-in forms, loaded and validated once per process."""
    global _registry
    if _registry is None:
        forms = {}
        for path in sorted(FORMS_DIR.glob("*.yaml")):
            if path.name.endswith(".rubric.yaml"):
                continue
            spec = load_spec(path)
            forms[spec.id] = spec
        _registry = forms
    return _registry

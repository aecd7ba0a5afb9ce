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
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from dialogs import spec_cache
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

# How a printed table column is filled (see dialogs/forms/README.md, "Tables").
ColumnRole = Literal["index", "label", "unit", "check", "answer"]


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
    percent: bool = False  # a ratio written as a percentage (0,98 → 98 %)
    table: str | None = None
    row: str | None = None
    column: str | None = None  # the key of the table column the answer is printed in
    note: str | None = None  # printed under the item's line, as the form prints it
    marker: str | None = None  # the printed bullet when it is not the numbering ("-", "+")
    single_box: bool = False  # yes_no printed as one tick box before the label
    format: str | None = None  # text items: a name in dialogs.formats.FORMATS
    carry: bool | None = None  # "Giữ như năm trước" offered; None: the kind's default
    warn_above: float | None = None  # a larger number is possible but unusual: a warning
    fill: Literal["year", "unit_name", "unit_contact"] | None = None  # known, not asked
    unit_words: tuple[str, ...] = ()  # more words accepted after a number ("lượt", "bài")
    # Evidence (tài liệu kiểm chứng) asked after the answer: photos, scans, files or links.
    evidence: Literal["required", "optional"] | None = None
    evidence_hint: str | None = None  # what to send ("hóa đơn, hợp đồng, ảnh chụp màn hình")

    # Filled in by the loader.
    section: int = 0
    index: int = 0
    _year_offset: int | None = PrivateAttr(default=None)

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
        """The year of the table column the item fills, relative to the campaign year (N-1 →
        -1, N → 0); None when it is not in a year column."""
        return self._year_offset

    def choices(self) -> list[tuple[Any, str]]:
        """(value, label) pairs a person may pick from, for kinds that have them."""
        return kind_of(self).choices(self)


class Heading(StrictModel):
    """A printed row or line that groups items and asks nothing (e.g. "2 | Thông tin …").
    In a table (``table``, ``row``) it is a group row of its own, or the text of the row
    that items with the same ``row`` fill."""

    code: str
    heading: str
    table: str | None = None
    row: str | None = None
    marker: str | None = None
    section: int = 0


class Note(StrictModel):
    """Printed text that asks nothing, where the form prints it: "Ghi chú: …", "Nếu có:",
    "Trong đó:", or dotted lines to write on. ``about``: the item it explains, so the
    conversation can show it with that item's question."""

    note: str = ""
    about: str | None = None
    lines: int = Field(default=0, ge=0, le=20)  # dotted lines printed under the text
    # Filled in by the loader: the code of the entry the note follows (None: section start).
    _after: str | None = PrivateAttr(default=None)

    @property
    def after(self) -> str | None:
        return self._after


class Column(StrictModel):
    """A column of a printed table and how it is filled."""

    title: str
    role: ColumnRole
    key: str | None = None  # what items write in ``column:``
    value: bool | str | None = None  # check: the answer that ticks the box (true, hoan_chinh)
    year: int | None = None  # answer: a year column relative to the campaign year (N-1: -1)
    group: str | None = None  # a header printed over the adjacent columns of the same group


class Table(StrictModel):
    title: str
    columns: tuple[Column, ...] = ()

    def roles(self) -> list[str]:
        return [column.role for column in self.columns]

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key is not None and c.key == key), None)

    @property
    def answer_columns(self) -> list[Column]:
        return [c for c in self.columns if c.role == "answer"]


class Section(StrictModel):
    number: int
    title: str
    entries: tuple[Annotated[Item | Heading, Field(union_mode="left_to_right")], ...] = ()
    notes: tuple[Note, ...] = ()

    @property
    def items(self) -> list[Item]:
        return [e for e in self.entries if isinstance(e, Item)]

    @property
    def printed(self) -> list[Item | Heading | Note]:
        """Entries and notes in printed order."""
        pending: dict[str | None, list[Note]] = {}
        for note in self.notes:
            pending.setdefault(note.after, []).append(note)
        ordered: list[Item | Heading | Note] = list(pending.get(None, []))
        for entry in self.entries:
            ordered.append(entry)
            ordered.extend(pending.get(entry.code, []))
        return ordered


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
    def notes(self) -> list[Note]:
        return [note for section in self.sections for note in section.notes]

    def notes_about(self, code: str) -> list[str]:
        """What the form prints to explain an item: its own ``note`` and the notes
        ``about`` it, in printed order."""
        item = self.by_code.get(code)
        own = [item.note] if item is not None and item.note else []
        return own + [n.note for n in self.notes if n.about == code and n.note]

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


def _section_entries(
    raw_section: dict, where: str, problems: list[str]
) -> tuple[list[Any], list[Note]]:
    """(items and headings, notes) of one section; each note knows the entry it follows."""
    entries: list[Any] = []
    notes: list[Note] = []
    for raw in raw_section.get("items") or []:
        if isinstance(raw, dict) and "note" in raw and not {"code", "kind", "heading"} & set(raw):
            after = entries[-1].code if entries else None
            try:
                note = Note.model_validate(raw)
            except ValidationError as exc:
                for err in exc.errors():
                    field = ".".join(str(p) for p in err["loc"]) or "note"
                    problems.append(
                        f"{where}: note after {after or 'the section start'}: {field}: {err['msg']}"
                    )
                continue
            note._after = after
            notes.append(note)
            continue
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
    return entries, notes


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
        if item.format and not item.type.free_text:
            problems.append(f"{where}: item {item.code}: only text items have a format")
        if item.warn_above is not None and not kind_of(item).is_number:
            problems.append(f"{where}: item {item.code}: only numbers have warn_above")
        if item.evidence_hint and not item.evidence:
            problems.append(f"{where}: item {item.code}: evidence_hint without evidence")
        if item.evidence and not item.asked:
            problems.append(f"{where}: item {item.code}: a computed item takes no evidence")
    for heading in spec.headings:
        if heading.table and heading.table not in spec.tables:
            problems.append(f"{where}: item {heading.code}: unknown table {heading.table!r}")
    for note in spec.notes:
        if note.about is not None and note.about not in spec.by_code:
            problems.append(f"{where}: note after {note.after}: about unknown code {note.about}")
        if not note.note and not note.lines:
            problems.append(f"{where}: note after {note.after}: give a text or lines")


def _check_tables(spec: FormSpec, where: str, problems: list[str]) -> None:
    """Columns say how they are filled, and every table item has a column to go to."""
    for name, table in spec.tables.items():
        here = f"{where}: table {name}"
        keys = [c.key for c in table.columns if c.key is not None]
        if len(keys) != len(set(keys)):
            problems.append(f"{here}: column keys must be unique")
        for role in ("index", "label", "unit"):
            if table.roles().count(role) > 1:
                problems.append(f"{here}: more than one {role} column")
        for column in table.columns:
            if column.role == "check" and column.value is None:
                problems.append(f"{here}: column {column.title}: a check column needs a value")
            if column.year is not None and column.role != "answer":
                problems.append(f"{here}: column {column.title}: only answer columns have a year")
    for item in spec.items:
        here = f"{where}: item {item.code}"
        table = spec.tables.get(item.table or "")
        if item.column is not None and table is None:
            problems.append(f"{here}: column {item.column!r} without a table")
            continue
        if table is None:
            continue
        if item.column is not None:
            column = table.column(item.column)
            if column is None or column.role != "answer":
                problems.append(f"{here}: table {item.table} has no answer column {item.column!r}")
            else:
                item._year_offset = column.year
        elif item.type.ticks_a_box and "check" not in table.roles():
            problems.append(f"{here}: table {item.table} has no check column for a {item.kind}")
        elif item.type.is_number and len(table.answer_columns) != 1:
            problems.append(
                f"{here}: name its column (table {item.table} has "
                f"{len(table.answer_columns)} answer columns)"
            )


def parse_spec(data: Any, where: str) -> FormSpec:
    """Validate raw YAML data; raise SpecError listing every problem found."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise SpecError([f"{where}: the spec must be a mapping with id, title and sections"])
    sections = []
    for raw_section in data.get("sections") or []:
        entries, notes = _section_entries(raw_section, where, problems)
        try:
            sections.append(
                Section(
                    number=raw_section.get("number"),
                    title=raw_section.get("title"),
                    entries=tuple(entries),
                    notes=tuple(notes),
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
    _check_tables(spec, where, problems)
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
# The code that decides what a parsed spec is: a change to it is a change of the cache's key.
_VALIDATING_CODE = ("spec.py", "kinds.py", "parsing.py", "expressions.py", "text.py")


def all_forms() -> dict[str, FormSpec]:
    """The built-in forms, validated once per version of the files (``dialogs.spec_cache``)
    and kept for the life of the process."""
    global _registry
    if _registry is None:
        here = Path(__file__).parent
        sources = [here / name for name in _VALIDATING_CODE] + sorted(FORMS_DIR.glob("*.yaml"))
        _registry = spec_cache.cached("forms", sources, _parse_builtin_forms)
    return _registry


def _parse_builtin_forms() -> dict[str, FormSpec]:
    forms = {}
    for path in sorted(FORMS_DIR.glob("*.yaml")):
        if path.name.endswith(".rubric.yaml"):
            continue
        spec = load_spec(path)
        forms[spec.id] = spec
    return forms

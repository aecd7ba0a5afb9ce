"""Scores of a submission from a rubric: a YAML file next to the form spec.

The rubric is data (``dialogs/forms/<form>.rubric.yaml``): evaluation groups (MỤC 3–8 for the
Quyết định 3871 forms), each with rules on items, in the style of the national methodology
(Quyết định 62/QĐ-BTTTT):

- ``ratio``: ratio × points (computers per staff, e-documents per document, …); the ratio is a
  fraction item's x / y, or the ``value`` expression, clamped to 0–1;
- ``yes_no``: the points on Có (or when the ``value`` expression is true);
- ``choice``: the option's share (``scores: {option: 0–1}``) × points;
- ``tri_state``: Hoàn chỉnh full, Đang thử nghiệm half, Chưa có nothing;
- ``target``: min(value / target, 1) × points;
- ``relative``: value ÷ the best value of the same campaign × points (bandwidth per CBCCVC);
- ``met``: the points when the item's Kế hoạch 655 target is met.

Bonus items ("cộng điểm khuyến khích") score on top of the others; each group is capped at its
maximum (the sum of its non-bonus points).

Arithmetic is done as printed: a ratio is rounded to 4 decimals, every rule's points to 2
(half up) from the printed numbers, and groups and the total add the printed points, so a
reviewer who checks the summary with a calculator gets the same figures.

An item that does not apply (its ``relevant`` is false) scores as the rubric says
(``not_applicable``, per rule or for the whole rubric): ``zero`` (the default: no points, the
maximum unchanged), ``full`` (the rule's points) or ``exclude`` (left out of the maximum).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from fractions import Fraction
from functools import cache, cached_property, partial
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from dialogs.expressions import Expression, ExpressionError, FractionValue
from dialogs.kinds import format_value
from dialogs.numbers import format_number
from dialogs.spec import FORMS_DIR, FormSpec, SpecError, StrictModel, read_yaml
from dialogs.state import FormState, Stored
from templates.wording import phrase, wording

RuleKind = Literal["ratio", "yes_no", "choice", "tri_state", "target", "relative", "met"]
# Rules that may score a ``value`` expression instead of the item's own answer.
VALUE_RULES = ("ratio", "yes_no", "target", "relative")
# What a rule scores when its item does not apply (see the module docstring).
NotApplicable = Literal["zero", "full", "exclude"]
POINT_PLACES = 2  # points are printed and added with 2 decimals
RATIO_PLACES = 4  # ratios are printed and multiplied with 4 decimals
TRI_STATE_SHARE = {"hoan_chinh": 1.0, "dang_thu_nghiem": 0.5}
# Submissions whose answers count for the campaign's best value of a ``relative`` rule.
CAMPAIGN_STATUSES = ("submitted", "approved")


class RubricError(SpecError):
    """A rubric file is invalid; ``problems`` holds one line per problem."""


class Rule(StrictModel):
    code: str
    rule: RuleKind
    points: float
    value: str | None = None
    target: float | None = None
    scores: dict[str, float] | None = None
    bonus: bool | None = None
    not_applicable: NotApplicable | None = None
    cap: float | None = None  # relative: values above count as this (one absurd value must not
    # make everyone else's score zero)


class Group(StrictModel):
    code: str
    title: str
    max: float | None = None
    rules: tuple[Rule, ...]


class ClassBand(StrictModel):
    name: str
    min: float


class Rubric(StrictModel):
    form: str
    title: str = ""  # printed on the score page with the version
    version: str = ""
    not_applicable: NotApplicable = "zero"
    classes: tuple[ClassBand, ...] | None = None
    groups: tuple[Group, ...]
    path: str = ""

    def when_not_applicable(self, rule: Rule) -> NotApplicable:
        return rule.not_applicable or self.not_applicable

    def group_max(self, group: Group) -> float:
        return sum(r.points for r in group.rules if not self.is_bonus(r))

    @property
    def max(self) -> float:
        return sum(self.group_max(g) for g in self.groups)

    def is_bonus(self, rule: Rule) -> bool:
        return bool(rule.bonus)

    def bands(self) -> tuple[ClassBand, ...]:
        if self.classes:
            return self.classes
        return tuple(ClassBand(**band) for band in wording()["classes"])

    @property
    def relative_rules(self) -> list[Rule]:
        return [r for g in self.groups for r in g.rules if r.rule == "relative"]


# Loading -------------------------------------------------------------------------------------


def rubric_path(form_id: str) -> Path:
    return FORMS_DIR / f"{form_id}.rubric.yaml"


def load_rubric(path: str | Path, spec: FormSpec) -> Rubric:
    """Read and validate a rubric against its form; RubricError lists every problem, each
    naming the file and the item code."""
    path = Path(path)
    return parse_rubric(read_yaml(path, RubricError), spec, str(path))


def parse_rubric(data: Any, spec: FormSpec, where: str) -> Rubric:
    if not isinstance(data, dict):
        raise RubricError([f"{where}: the rubric must be a mapping with form and groups"])
    problems: list[str] = []
    try:
        rubric = Rubric.model_validate({**data, "path": where})
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(f"{where}: {_location(data, err['loc'])}: {err['msg']}")
        raise RubricError(problems) from None
    if rubric.form != spec.id:
        problems.append(f"{where}: form {rubric.form!r} does not match the spec {spec.id!r}")
    _check_groups(rubric, spec, where, problems)
    _check_classes(rubric, where, problems)
    if problems:
        raise RubricError(problems)
    # Bonus defaults to the spec's flag ("cộng điểm khuyến khích").
    groups = []
    for group in rubric.groups:
        rules = []
        for rule in group.rules:
            item = spec.by_code[rule.code]
            rules.append(rule.model_copy(update={"bonus": bool(rule.bonus or item.bonus)}))
        groups.append(group.model_copy(update={"rules": tuple(rules)}))
    return rubric.model_copy(update={"groups": tuple(groups)})


def _location(data: Any, loc: tuple) -> str:
    """A pydantic error location as a person finds it in the file: group and item code."""
    parts: list[str] = []
    node = data
    for key in loc:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
        if isinstance(key, int) and isinstance(node, dict) and "code" in node:
            label = "rule" if "rule" in node or "points" in node else "group"
            parts.append(f"{label} {node['code']}")
        elif not isinstance(key, int) and key not in ("groups", "rules"):
            parts.append(str(key))
    return ": ".join(parts) or "rubric"


def _check_groups(rubric: Rubric, spec: FormSpec, where: str, problems: list[str]) -> None:
    seen_groups: set[str] = set()
    seen_rules: set[str] = set()
    for group in rubric.groups:
        if group.code in seen_groups:
            problems.append(f"{where}: group {group.code}: duplicate group code")
        seen_groups.add(group.code)
        for rule in group.rules:
            here = f"{where}: group {group.code}: item {rule.code}"
            if rule.code in seen_rules:
                problems.append(f"{here}: scored twice")
            seen_rules.add(rule.code)
            _check_rule(rule, spec, here, problems)
        base = sum(
            r.points
            for r in group.rules
            if not (r.bonus or (r.code in spec.by_code and spec.by_code[r.code].bonus))
        )
        if base <= 0:
            problems.append(f"{where}: group {group.code}: has no points outside bonus items")
        if group.max is not None and abs(group.max - base) > 1e-9:
            problems.append(
                f"{where}: group {group.code}: max {group.max:g} is not the sum of its "
                f"non-bonus points {base:g}"
            )


def _check_rule(rule: Rule, spec: FormSpec, here: str, problems: list[str]) -> None:
    item = spec.by_code.get(rule.code)
    if item is None:
        problems.append(f"{here}: unknown item code in form {spec.id}")
        return
    if rule.points <= 0:
        problems.append(f"{here}: points must be greater than 0")
    if rule.value is not None:
        try:
            expression = Expression(rule.value)
        except ExpressionError as exc:
            problems.append(f"{here}: value: {exc}")
        else:
            for ref in expression.refs:
                if ref not in spec.by_code:
                    problems.append(f"{here}: value references unknown code {ref}")
    if item.bonus and rule.bonus is False:
        problems.append(f"{here}: the form marks it (cộng điểm khuyến khích); it must be a bonus")
    kind = rule.rule
    reads_value = rule.value is not None and kind in VALUE_RULES
    if not reads_value and kind not in item.type.scored_by:
        hint = " (give a value expression)" if kind in VALUE_RULES else ""
        problems.append(f"{here}: {kind} rule on a {item.kind} item{hint}")
    if kind == "choice" and item.type.needs_options:
        if not rule.scores:
            problems.append(f"{here}: choice rule needs scores (option value: share 0–1)")
        else:
            options = {value for value, _label in item.choices()}
            for option, share in rule.scores.items():
                if option not in options:
                    problems.append(f"{here}: scores: unknown option {option!r}")
                if not 0 <= share <= 1:
                    problems.append(f"{here}: scores: {option}: share must be between 0 and 1")
    if kind == "target" and (rule.target is None or rule.target <= 0):
        problems.append(f"{here}: target rule needs a target greater than 0")
    if kind == "met" and item.target is None:
        problems.append(f"{here}: met rule on an item without a target")


def _check_classes(rubric: Rubric, where: str, problems: list[str]) -> None:
    if rubric.classes is None:
        return
    minimums = [band.min for band in rubric.classes]
    if not rubric.classes or minimums != sorted(minimums, reverse=True) or minimums[-1] != 0:
        problems.append(
            f"{where}: classes: list them from the best down, each with its minimum percent; "
            "the last minimum must be 0"
        )


def rubric_for(spec: FormSpec) -> Rubric | None:
    """The built-in rubric of a form (None when it has none), loaded once per process."""
    path = rubric_path(spec.id)
    return spec.memo("_rubric", lambda s: load_rubric(path, s) if path.exists() else None)


# Scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleScore:
    code: str
    group: str
    rule: str
    points: float
    max: float
    bonus: bool
    label: str
    # Writing the explanation costs more than the points: only when someone reads it.
    explain: Callable[[], str] = field(repr=False, compare=False, default=lambda: "")
    applies: bool = True  # False: the item does not apply ("không áp dụng")
    counted: bool = True  # False: left out of the maximum (not_applicable: exclude)

    @cached_property
    def why(self) -> str:
        """The rule and the answers that produced the points, in Vietnamese."""
        return self.explain()


@dataclass(frozen=True)
class GroupScore:
    code: str
    title: str
    points: float
    max: float
    bonus: float


@dataclass(frozen=True)
class TargetCheck:
    code: str
    label: str
    value: str
    target: str
    met: bool | None


@dataclass(frozen=True)
class ScoreCard:
    form: str
    rubric: str
    groups: list[GroupScore]
    rules: list[RuleScore]
    total: float
    max: float
    index: float
    klass: str
    bonus: float
    targets: list[TargetCheck] = field(default_factory=list)
    rubric_title: str = ""
    rubric_version: str = ""
    bands: tuple[ClassBand, ...] = ()
    percent: float = 0.0  # the index in percent, 2 decimals: what the class is read from
    as_of: date | None = None  # the day the campaign's best values were taken
    relative: bool = False  # some rule compares with the campaign

    def as_json(self) -> dict:
        return {
            "form": self.form,
            "rubric": self.rubric,
            "rubric_title": self.rubric_title,
            "rubric_version": self.rubric_version,
            "percent": self.percent,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "bands": [{"name": b.name, "min": b.min} for b in self.bands],
            "groups": [
                {
                    "code": g.code,
                    "title": g.title,
                    "points": round(g.points, 2),
                    "max": round(g.max, 2),
                    "bonus": round(g.bonus, 2),
                }
                for g in self.groups
            ],
            "total": round(self.total, 2),
            "max": round(self.max, 2),
            "index": round(self.index, 4),
            "class": self.klass,
            "bonus": round(self.bonus, 2),
            "rules": [
                {
                    "code": r.code,
                    "group": r.group,
                    "rule": r.rule,
                    "points": round(r.points, 2),
                    "max": round(r.max, 2),
                    "bonus": r.bonus,
                    "applies": r.applies,
                    "counted": r.counted,
                    "why": r.why,
                }
                for r in self.rules
            ],
            "targets": [asdict(t) for t in self.targets],
        }


def _number(value: Any) -> float | None:
    if isinstance(value, FractionValue):
        return value.part / value.whole if value.whole else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def rule_value(spec: FormSpec, rule: Rule, values: dict[str, Any]) -> Any:
    """What a rule looks at: its ``value`` expression, else the item's answer."""
    if rule.value is not None:
        return _expression(rule.value).evaluate(values)
    return values.get(rule.code)


@cache
def _expression(source: str) -> Expression:
    return Expression(source)


def _inputs(spec: FormSpec, rule: Rule, state: FormState) -> str:
    codes = _expression(rule.value).refs if rule.value else (rule.code,)
    return _shown(spec, codes, state)


def _gate(spec: FormSpec, rule: Rule, state: FormState) -> str:
    """The answers that make the rule's item not apply ("5.2 = Chưa triển khai")."""
    relevant = spec.by_code[rule.code].relevant
    return _shown(spec, spec.expressions[relevant].refs, state) if relevant else ""


def _shown(spec: FormSpec, codes, state: FormState) -> str:
    shown = []
    for code in codes:
        item = spec.by_code[code]
        value = state.value(code)
        shown.append(f"{code} = {format_value(item, value) if value is not None else '…'}")
    return "; ".join(shown)


def _n(number: float | Fraction, places: int = 2) -> str:
    return format_number(float(number), places)


@cache
def _decimal(number: float) -> Fraction:
    """A float as the decimal it is written as (0.1 → 1/10, not the binary 0.1000…0555)."""
    return Fraction(repr(float(number)))


def _round(value: Fraction, places: int) -> Fraction:
    """``value`` (≥ 0) rounded half up, as people round: 0,375 → 0,38."""
    scale = 10**places
    scaled = value * scale
    return Fraction((2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator), scale)


def _result(product: Fraction) -> str:
    """How a product is printed: "= 4,76", "= 4,762 ≈ 4,76" (the exact product, then the
    points rounded to 2 decimals) or "≈ 0,67" when the product has no short decimal."""
    points = _round(product, POINT_PLACES)
    if points == product:
        return f"= {_n(points)}"
    if (product * 10**6).denominator == 1:
        return f"= {_n(product, 6)} ≈ {_n(points)}"
    return f"≈ {_n(points)}"


def relative_values(spec: FormSpec, rubric: Rubric, state: FormState) -> dict[str, float]:
    """The values of one submission that ``relative`` rules compare across the campaign."""
    found = {}
    for rule in rubric.relative_rules:
        number = _number(rule_value(spec, rule, state.values))
        if number is not None:
            found[rule.code] = number
    return found


def best_of(spec: FormSpec, rubric: Rubric, states: list[FormState]) -> dict[str, float]:
    """The best value of each ``relative`` rule among ``states`` (one campaign), each value
    capped at the rule's ``cap``; values that are not finite numbers are left out."""
    caps = {rule.code: rule.cap for rule in rubric.relative_rules}
    best: dict[str, float] = {}
    for state in states:
        for code, number in relative_values(spec, rubric, state).items():
            if not math.isfinite(number):
                continue
            number = _capped(number, caps.get(code))
            best[code] = max(best.get(code, number), number)
    return best


def _capped(number: float, cap: float | None) -> float:
    return min(number, cap) if cap is not None else number


def _explanation(
    spec: FormSpec, rule: Rule, state: FormState, key: str, params: dict[str, Any]
) -> str:
    shown = {
        k: _n(v, RATIO_PLACES) if isinstance(v, Fraction | float) else v for k, v in params.items()
    }
    if "product" in params:
        shown["result"] = _result(params["product"])
        shown["points"] = _n(_round(params["product"], POINT_PLACES))
    gate = _gate(spec, rule, state) if key.startswith("not_applicable") else ""
    why = phrase("why", key, inputs=_inputs(spec, rule, state), gate=gate, **shown)
    return why + phrase("why", "bonus") if rule.bonus else why


def _scored(key: str, product: Fraction, **params: Any) -> tuple[float, str, dict[str, Any]]:
    points = float(_round(product, POINT_PLACES))
    return points, key, {**params, "product": product}


def _points(
    spec: FormSpec,
    rule: Rule,
    values: dict[str, Any],
    best: dict[str, float],
    as_of: date | None = None,
) -> tuple[float, str, dict[str, Any]]:
    """(points, the key of the explanation, its parameters). Points come from the numbers
    as the explanation prints them (ratios rounded to 4 decimals); the parameters are
    written out only when someone reads the explanation."""
    m = _decimal(rule.points)
    value = rule_value(spec, rule, values)
    kind = rule.rule
    number = _number(value)
    if value is None or (kind in ("ratio", "target", "relative") and number is None):
        return 0.0, "unanswered", {}
    if kind == "ratio":
        ratio = _round(_decimal(min(max(number, 0.0), 1.0)), RATIO_PLACES)
        return _scored("ratio", ratio * m, ratio=ratio, max=m)
    if kind == "yes_no":
        share = 1 if value is True or (rule.value is not None and bool(value)) else 0
        return _scored("yes_no", share * m, max=m)
    if kind == "choice":
        scores = rule.scores or {}
        chosen = value if isinstance(value, list) else [value]
        share = min(Fraction(1), sum(_decimal(scores.get(v, 0.0)) for v in chosen))
        return _scored("choice", share * m, share=share, max=m)
    if kind == "tri_state":
        return _scored("tri_state", _decimal(TRI_STATE_SHARE.get(value, 0.0)) * m, max=m)
    if kind == "target":
        target = _round(_decimal(rule.target or 1.0), RATIO_PLACES)
        shown_value = _round(_decimal(max(number, 0.0)), RATIO_PLACES)
        share = min(shown_value / target, Fraction(1))
        return _scored("target", share * m, target=target, value=shown_value, max=m)
    if kind == "relative":
        if not math.isfinite(number):
            return 0.0, "unanswered", {}
        number = _capped(number, rule.cap)
        top = max(best.get(rule.code, number), number)
        shown_value = _round(_decimal(max(number, 0.0)), RATIO_PLACES)
        shown_top = _round(_decimal(top), RATIO_PLACES)
        day = as_of.strftime("%d/%m/%Y") if as_of else ""
        if shown_top <= 0:
            return 0.0, "relative_no_best", {"as_of": day}
        product = shown_value / shown_top * m
        return _scored("relative", product, best=shown_top, value=shown_value, max=m, as_of=day)
    # met: the item's own Kế hoạch 655 target
    target = spec.by_code[rule.code].target
    met = bool(target and target.met(value))
    verdict = wording()["met"] if met else wording()["not_met"]
    text = target.text if target else ""
    return _scored("met", m if met else Fraction(0), target=text, verdict=verdict, max=m)


def _not_applicable(rule: Rule, how: NotApplicable) -> tuple[float, str, dict[str, Any]]:
    full = how == "full" and not rule.bonus
    return _scored(
        f"not_applicable_{how}",
        _decimal(rule.points) if full else Fraction(0),
        max=_decimal(rule.points),
    )


def target_checks(spec: FormSpec, state: FormState) -> list[TargetCheck]:
    """Every Kế hoạch 655 target of the form: the value next to the target, Đạt / Chưa đạt."""
    checks = []
    for item in spec.items:
        if item.target is None:
            continue
        value = state.value(item.code)
        checks.append(
            TargetCheck(
                code=item.code,
                label=item.label,
                value=format_value(item, value),
                target=item.target.text,
                met=item.target.met(value),
            )
        )
    return checks


def score(
    spec: FormSpec,
    state: FormState,
    rubric: Rubric | None = None,
    best: dict[str, float] | None = None,
    as_of: date | None = None,
) -> ScoreCard:
    """The score card of one submission. ``best``: the campaign's best value of each
    ``relative`` rule (``best_of``); without it the submission is compared with itself.
    ``as_of``: the day ``best`` was taken, printed with the relative rules."""
    rubric = rubric if rubric is not None else rubric_for(spec)
    targets = target_checks(spec, state)
    if rubric is None:
        return ScoreCard(spec.id, "", [], [], 0.0, 0.0, 0.0, "", 0.0, targets)
    best = best or {}
    groups: list[GroupScore] = []
    rules: list[RuleScore] = []
    total = maximum = bonus_total = Fraction(0)
    for group in rubric.groups:
        base = bonus = top = Fraction(0)
        for rule in group.rules:
            applies = state.applies.get(rule.code, True)
            how = rubric.when_not_applicable(rule)
            if applies:
                points, key, params = _points(spec, rule, state.values, best, as_of)
            else:
                points, key, params = _not_applicable(rule, how)
            counted = applies or how != "exclude"
            exact = _decimal(points)
            if rule.bonus:
                bonus += exact
            else:
                base += exact
                top += _decimal(rule.points) if counted else 0
            rules.append(
                RuleScore(
                    code=rule.code,
                    group=group.code,
                    rule=rule.rule,
                    points=points,
                    max=rule.points,
                    bonus=bool(rule.bonus),
                    label=spec.by_code[rule.code].label,
                    explain=partial(_explanation, spec, rule, state, key, params),
                    applies=applies,
                    counted=counted,
                )
            )
        points = min(base + bonus, top)
        groups.append(GroupScore(group.code, group.title, float(points), float(top), float(bonus)))
        total += points
        maximum += top
        bonus_total += bonus
    index = float(total / maximum) if maximum else 0.0
    percent = _round(total * 100 / maximum, POINT_PLACES) if maximum else Fraction(0)
    bands = rubric.bands()
    klass = next((b.name for b in bands if percent >= _decimal(b.min)), bands[-1].name)
    return ScoreCard(
        form=spec.id,
        rubric=_display_path(rubric.path),
        groups=groups,
        rules=rules,
        total=float(total),
        max=float(maximum),
        index=index,
        klass=klass,
        bonus=float(bonus_total),
        targets=targets,
        rubric_title=rubric.title,
        rubric_version=rubric.version,
        bands=bands,
        percent=float(percent),
        as_of=as_of,
        relative=bool(rubric.relative_rules),
    )


# The reviewers' appraisal ----------------------------------------------------------------------


def appraised_state(state: FormState, appraised: dict[str, Any]) -> FormState:
    """The submission as the reviewers appraised it: their value in place of the unit's own
    for each appraised item (``None``: the item does not count, as if unanswered); the
    computed items and relevance follow."""
    for code, value in appraised.items():
        if code in state.spec.by_code:
            state = state.with_answer(code, Stored(value, value is None, None))
    return state


@dataclass(frozen=True)
class ScorePair:
    """The unit's own score (tự đánh giá) and the appraised one (thẩm định) side by side;
    ``appraised`` is None when no item was appraised."""

    own: ScoreCard
    appraised: ScoreCard | None = None

    @property
    def ranked(self) -> ScoreCard:
        """The card a ranking orders by: the appraised one where there is one."""
        return self.appraised if self.appraised is not None else self.own


def score_both(
    spec: FormSpec,
    state: FormState,
    appraised: dict[str, Any] | None = None,
    rubric: Rubric | None = None,
    best: dict[str, float] | None = None,
    as_of: date | None = None,
) -> ScorePair:
    """The self-score and, when some item was appraised (``appraised``: code → value, as
    ``dialogs.kinds`` parses it), the appraised score, with the same rubric and campaign
    best values."""
    own = score(spec, state, rubric, best, as_of)
    if not appraised:
        return ScorePair(own)
    return ScorePair(own, score(spec, appraised_state(state, appraised), rubric, best, as_of))


def _display_path(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(FORMS_DIR.parent.parent))
    except ValueError:
        return path


# The campaign --------------------------------------------------------------------------------


def needed_codes(spec: FormSpec, rubric: Rubric) -> set[str]:
    """Items whose answers the ``relative`` rules depend on: their references, the inputs of
    computed items and the gates (relevance) of all of them."""
    stack = []
    for rule in rubric.relative_rules:
        stack.extend(_expression(rule.value).refs if rule.value else (rule.code,))
    needed: set[str] = set()
    while stack:
        code = stack.pop()
        if code in needed or code not in spec.by_code:
            continue
        needed.add(code)
        item = spec.by_code[code]
        for source in (item.calculate, item.relevant):
            if source:
                stack.extend(spec.expressions[source].refs)
    return needed

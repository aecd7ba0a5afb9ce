"""Scores from a rubric: hand-computed points per rule kind, the relative bandwidth score
across units of one campaign, bonus and caps, classes, and rubric files that are wrong."""

from __future__ import annotations

import textwrap
from datetime import date

import pytest

from dialogs.expressions import FractionValue
from dialogs.scoring import (
    RubricError,
    best_of,
    load_rubric,
    rubric_for,
    score,
)
from dialogs.spec import all_forms
from dialogs.state import FormState, Stored

MINI_RUBRIC = """
form: mini
groups:
  - code: "3"
    title: Hạ tầng
    max: 10
    rules:
      - {code: "3.1", rule: ratio, points: 4, value: "ratio(${3.1}, ${1.2})"}
      - {code: "3.2.c", rule: relative, points: 3}
      - {code: "3.6", rule: yes_no, points: 1}
      - {code: "3.7.đ", rule: ratio, points: 2, value: "ratio(${3.7.đ}, ${3.2.a})"}
  - code: "5"
    title: Ứng dụng
    rules:
      - {code: "5.1", rule: ratio, points: 3}
      - {code: "5.2", rule: choice, points: 1, scores: {chuyen_dung: 1, cong_cong: 0.5}}
      - {code: "5.4", rule: target, points: 2, target: 100}
  - code: "6"
    title: Website
    rules:
      - {code: "6.2.1.a", rule: tri_state, points: 1}
      - {code: "6.2.1.e", rule: tri_state, points: 1}
"""


@pytest.fixture
def rubric(tmp_path, mini_spec):
    path = tmp_path / "mini.rubric.yaml"
    path.write_text(MINI_RUBRIC, encoding="utf-8")
    return load_rubric(path, mini_spec)


def state_of(spec, **answers) -> FormState:
    return FormState(spec, {code.replace("_", "."): Stored(v) for code, v in answers.items()})


def unit_a(spec) -> FormState:
    # 40 staff, 30 with computers; 2 Mbps leased line → 10 Mbps converted, 0,25 per person.
    return FormState(
        spec,
        {
            "1.2": Stored(40),
            "3.1": Stored(30),
            "3.2.a": Stored(30),
            "3.2.b.1": Stored(2.0),
            "3.2.b.2": Stored(0.0),
            "3.2.b.3": Stored(0.0),
            "3.2.b.4": Stored(0.0),
            "3.6": Stored(True),
            "3.7.đ": Stored(15),
            "5.1": Stored(FractionValue(45, 60)),
            "5.2": Stored("cong_cong"),
            "5.4": Stored(250.0),
            "6.2.1.a": Stored("dang_thu_nghiem"),
            "6.2.1.e": Stored("hoan_chinh"),
        },
    )


def bandwidth_unit(spec, staff: int, leased: float, ftth: float, xdsl: float) -> FormState:
    return FormState(
        spec,
        {
            "1.2": Stored(staff),
            "3.2.b.1": Stored(leased),
            "3.2.b.2": Stored(ftth),
            "3.2.b.3": Stored(xdsl),
            "3.2.b.4": Stored(0.0),
        },
    )


def rule(card, code):
    return next(r for r in card.rules if r.code == code)


def group(card, code):
    return next(g for g in card.groups if g.code == code)


def test_every_rule_kind_scores_as_computed_by_hand(mini_spec, rubric):
    card = score(mini_spec, unit_a(mini_spec), rubric)
    # 30 computers / 40 staff = 0,75 × 4
    assert rule(card, "3.1").points == pytest.approx(3.0)
    # alone in its campaign the unit is its own best: 0,25 / 0,25 × 3
    assert rule(card, "3.2.c").points == pytest.approx(3.0)
    assert rule(card, "3.6").points == pytest.approx(1.0)
    # 15 licensed antivirus / 30 computers = 0,5 × 2
    assert rule(card, "3.7.đ").points == pytest.approx(1.0)
    # 45 of 60 e-documents = 0,75 × 3
    assert rule(card, "5.1").points == pytest.approx(2.25)
    # public signature scores half
    assert rule(card, "5.2").points == pytest.approx(0.5)
    # 250 Tr.đ against a target of 100: min(2,5; 1) × 2
    assert rule(card, "5.4").points == pytest.approx(2.0)
    # Đang thử nghiệm: half
    assert rule(card, "6.2.1.a").points == pytest.approx(0.5)
    # the spec marks 6.2.1.e "cộng điểm khuyến khích": a bonus, full on Hoàn chỉnh
    assert rule(card, "6.2.1.e").bonus and not rule(card, "6.2.1.a").bonus
    assert rule(card, "6.2.1.e").points == pytest.approx(1.0)


def test_bonus_scores_on_top_but_a_group_never_exceeds_its_maximum(mini_spec, rubric):
    card = score(mini_spec, unit_a(mini_spec), rubric)
    website = group(card, "6")
    assert website.max == pytest.approx(1.0)  # bonus points are not part of the maximum
    assert website.bonus == pytest.approx(1.0)
    assert website.points == pytest.approx(1.0)  # 0,5 + 1 bonus, capped at 1
    assert group(card, "3").points == pytest.approx(8.0)
    assert group(card, "5").points == pytest.approx(4.75)
    assert card.max == pytest.approx(17.0)
    assert card.total == pytest.approx(13.75)
    assert card.index == pytest.approx(13.75 / 17)
    assert card.klass == "Khá"  # 80,9 %: Khá from 70 %, Tốt from 85 %
    assert card.bonus == pytest.approx(1.0)


def test_bonus_lifts_a_group_that_is_short_of_its_maximum(mini_spec, rubric):
    state = FormState(
        mini_spec, {"6.2.1.a": Stored("chua_co"), "6.2.1.e": Stored("dang_thu_nghiem")}
    )
    website = group(score(mini_spec, state, rubric), "6")
    assert website.points == pytest.approx(0.5)
    assert website.bonus == pytest.approx(0.5)


def test_relative_bandwidth_across_three_units(mini_spec, rubric):
    a = bandwidth_unit(mini_spec, staff=40, leased=2, ftth=0, xdsl=0)  # 10 Mbps / 40 = 0,25
    b = bandwidth_unit(mini_spec, staff=10, leased=0, ftth=4, xdsl=0)  # 20 Mbps / 10 = 2
    c = bandwidth_unit(mini_spec, staff=20, leased=0, ftth=0, xdsl=10)  # 10 Mbps / 20 = 0,5
    best = best_of(mini_spec, rubric, [a, b, c])
    assert best == {"3.2.c": pytest.approx(2.0)}
    points = [rule(score(mini_spec, s, rubric, best), "3.2.c").points for s in (a, b, c)]
    # 0,25 ÷ 2 × 3 = 0,375: points are printed and added with 2 decimals, rounded half up.
    assert points == [0.38, 3.0, 0.75]
    why = rule(score(mini_spec, c, rubric, best), "3.2.c").why
    assert "0,5 ÷ 2 × 3 = 0,75 điểm" in why
    why = rule(score(mini_spec, a, rubric, best), "3.2.c").why
    assert "0,25 ÷ 2 × 3 = 0,375 ≈ 0,38 điểm" in why


def test_one_absurd_value_cannot_zero_the_other_units(mini_spec, rubric, tmp_path):
    """A typing accident (10.000.000 Mbps of leased line) used to be the campaign's best and
    left every other unit with nothing; the rule's cap bounds it."""
    path = tmp_path / "capped.rubric.yaml"
    path.write_text(MINI_RUBRIC.replace("relative, points: 3}", "relative, points: 3, cap: 5}"))
    capped = load_rubric(path, mini_spec)
    a = bandwidth_unit(mini_spec, staff=40, leased=2, ftth=0, xdsl=0)  # 0,25 Mbps per person
    absurd = bandwidth_unit(mini_spec, staff=1, leased=10**7, ftth=0, xdsl=0)
    best = best_of(mini_spec, capped, [a, absurd])
    assert best == {"3.2.c": pytest.approx(5.0)}
    assert rule(score(mini_spec, a, capped, best), "3.2.c").points == pytest.approx(0.15)
    assert rule(score(mini_spec, absurd, capped, best), "3.2.c").points == pytest.approx(3.0)
    # Without the cap the absurd unit is the best and the other one gets (next to) nothing.
    uncapped = best_of(mini_spec, rubric, [a, absurd])
    assert rule(score(mini_spec, a, rubric, uncapped), "3.2.c").points < 0.001


def test_unanswered_items_score_nothing_and_say_so(mini_spec, rubric):
    card = score(mini_spec, FormState(mini_spec, {}), rubric)
    assert card.total == 0 and card.klass == "Yếu"
    assert all(r.points == 0 for r in card.rules)
    assert "Chưa có số liệu" in rule(card, "3.1").why
    assert "3.1 = …; 1.2 = …" in rule(card, "3.1").why


def test_every_point_says_which_answers_produced_it(mini_spec, rubric):
    card = score(mini_spec, unit_a(mini_spec), rubric)
    assert rule(card, "3.1").why.startswith("3.1 = 30 người; 1.2 = 40 người")
    assert "0,75 × 4 = 3 điểm" in rule(card, "3.1").why
    assert "5.1 = 45/60 văn bản" in rule(card, "5.1").why
    assert "khuyến khích" in rule(card, "6.2.1.e").why
    data = card.as_json()
    assert {g["code"] for g in data["groups"]} == {"3", "5", "6"}
    assert set(data["groups"][0]) >= {"code", "title", "points", "max"}
    assert set(data["rules"][0]) >= {"code", "points", "max", "why"}
    assert data["total"] == 13.75 and data["max"] == 17 and data["class"] == "Khá"


def test_the_printed_arithmetic_adds_up(mini_spec, rubric):
    """A ratio is printed with 4 decimals and the points computed from it; a group is the sum
    of its printed points; the class is read from the printed percentage."""
    state = FormState(
        mini_spec,
        {
            "1.2": Stored(21),
            "3.1": Stored(20),  # 20/21 = 0,952380…
            "5.1": Stored(FractionValue(1, 3)),  # 0,333333…
        },
    )
    card = score(mini_spec, state, rubric)
    assert "→ tỷ lệ 0,9524 × 4 = 3,8096 ≈ 3,81 điểm" in rule(card, "3.1").why
    assert rule(card, "3.1").points == 3.81
    assert "tỷ lệ 0,3333 × 3 = 0,9999 ≈ 1 điểm" in rule(card, "5.1").why
    assert rule(card, "5.1").points == 1.0
    for group in card.groups:
        printed = [r.points for r in card.rules if r.group == group.code]
        assert group.points == pytest.approx(min(sum(printed), group.max), abs=1e-9)
    assert card.total == pytest.approx(sum(g.points for g in card.groups), abs=1e-9)
    assert card.percent == round(card.total / card.max * 100, 2)


def test_the_best_of_the_campaign_is_dated(mini_spec, rubric):
    a = bandwidth_unit(mini_spec, staff=40, leased=2, ftth=0, xdsl=0)
    card = score(mini_spec, a, rubric, {"3.2.c": 2.0}, as_of=date(2021, 3, 5))
    assert "cao nhất trong đợt đánh giá tính đến ngày 05/03/2021: 2 →" in rule(card, "3.2.c").why
    assert card.as_of == date(2021, 3, 5) and card.relative


NOT_APPLICABLE_RUBRIC = """
form: mini
title: Bộ tiêu chí thử
version: "2"
{default}
groups:
  - code: "3"
    title: Hạ tầng
    rules:
      - {{code: "3.6", rule: yes_no, points: 1}}
      - {{code: "3.6.1", rule: yes_no, points: 2, value: "${{3.6.1}} != ''"{rule}}}
"""


@pytest.mark.parametrize(
    ("default", "own", "points", "maximum", "why"),
    [
        ("", "", 0, 3, "Không áp dụng (3.6 = Không): 0/2 điểm"),
        ("not_applicable: full", "", 2, 3, "Không áp dụng (3.6 = Không): tính đủ 2 điểm"),
        ("", ", not_applicable: exclude", 0, 1, "không tính vào điểm tối đa"),
        ("not_applicable: exclude", ", not_applicable: zero", 0, 3, "0/2 điểm"),
    ],
)
def test_an_item_that_does_not_apply_scores_as_the_rubric_says(
    tmp_path, mini_spec, default, own, points, maximum, why
):
    path = tmp_path / "mini.rubric.yaml"
    path.write_text(NOT_APPLICABLE_RUBRIC.format(default=default, rule=own), encoding="utf-8")
    rubric = load_rubric(path, mini_spec)
    assert (rubric.title, rubric.version) == ("Bộ tiêu chí thử", "2")
    card = score(mini_spec, FormState(mini_spec, {"3.6": Stored(False)}), rubric)
    gated = rule(card, "3.6.1")
    assert not gated.applies
    assert gated.points == points and card.max == maximum
    assert why in gated.why
    assert gated.counted == (maximum == 3)
    # When the item applies, the rule scores as usual whatever the rubric says.
    answered = {"3.6": Stored(True), "3.6.1": Stored("Mạng truyền số liệu chuyên dùng")}
    card = score(mini_spec, FormState(mini_spec, answered), rubric)
    assert rule(card, "3.6.1").points == 2 and card.max == 3


def test_classes_are_configurable(tmp_path, mini_spec):
    path = tmp_path / "mini.rubric.yaml"
    path.write_text(
        "classes:\n  - {name: Xuất sắc, min: 50}\n  - {name: Cần cố gắng, min: 0}\n" + MINI_RUBRIC,
        encoding="utf-8",
    )
    card = score(mini_spec, unit_a(mini_spec), load_rubric(path, mini_spec))
    assert card.klass == "Xuất sắc"


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ('{code: "9.9", rule: yes_no, points: 1}', "item 9.9: unknown item code"),
        ('{code: "1.1", rule: yes_no, points: 1}', "item 1.1: yes_no rule on a text item"),
        ('{code: "5.2", rule: choice, points: 1, scores: {x: 1}}', "unknown option 'x'"),
        ('{code: "3.6", rule: yes_no, points: 0}', "item 3.6: points must be greater than 0"),
        ('{code: "3.1", rule: ratio, points: 1, value: "${3.1} / ${nope}"}', "unknown code nope"),
        ('{code: "6.2.1.e", rule: tri_state, points: 1, bonus: false}', "must be a bonus"),
        ('{code: "3.6", rule: sometimes, points: 1}', "rule 3.6: rule"),
        ('{code: "3.6", rule: yes_no, points: 1, not_applicable: half}', "not_applicable"),
    ],
)
def test_a_wrong_rubric_is_refused_naming_the_file_and_the_item(
    tmp_path, mini_spec, broken, message
):
    path = tmp_path / "mini.rubric.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            form: mini
            groups:
              - code: "9"
                title: Thử
                rules:
                  - {{code: "3.2.a", rule: target, points: 1, target: 5}}
                  - {broken}
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(RubricError) as error:
        load_rubric(path, mini_spec)
    text = str(error.value)
    assert str(path) in text
    assert message in text


def test_a_group_maximum_must_add_up(tmp_path, mini_spec):
    path = tmp_path / "mini.rubric.yaml"
    path.write_text(MINI_RUBRIC.replace("max: 10", "max: 12"), encoding="utf-8")
    with pytest.raises(RubricError, match="group 3: max 12 is not the sum"):
        load_rubric(path, mini_spec)


@pytest.mark.parametrize(
    ("form_id", "maximum"), [("so-ban-nganh", 100), ("ubnd-huyen", 100), ("xa-phuong", 55)]
)
def test_the_built_in_rubrics_load_against_their_forms(form_id, maximum):
    spec = all_forms()[form_id]
    rubric = rubric_for(spec)
    assert rubric is not None and rubric.max == pytest.approx(maximum)
    # Named in words on the score page, with a version and a stated rule for what does not
    # apply.
    assert rubric.title.startswith("Bộ tiêu chí chấm điểm") and rubric.version
    assert rubric.not_applicable == "zero"
    if form_id != "xa-phuong":
        assert [g.code for g in rubric.groups] == ["3", "4", "5", "6", "7", "8"]
        scored = {r.code for g in rubric.groups for r in g.rules}
        bonus_items = {i.code for i in spec.items if i.bonus}
        assert bonus_items <= scored  # every "cộng điểm khuyến khích" row counts
        assert all(r.bonus for g in rubric.groups for r in g.rules if r.code in bonus_items)


def test_xa_phuong_lists_every_target_as_met_or_not():
    spec = all_forms()["xa-phuong"]
    state = FormState(
        spec,
        {
            "1.7": Stored(10),
            "3.1.1": Stored(12),  # 1,2 computers per person: ≥ 1 → Đạt
            "3.3": Stored(False),  # target Có → Chưa đạt
            "6.5": Stored(15),  # 8–12 posts → Chưa đạt (too many)
            "6.6": Stored(4),  # ≥ 4 → Đạt
        },
    )
    card = score(spec, state)
    targets = {t.code: t for t in card.targets}
    assert len(targets) == sum(1 for i in spec.items if i.target)
    assert targets["3.1"].met is True and targets["3.1"].value == "1,2 máy/CBCC"
    assert targets["3.3"].met is False and targets["3.3"].value == "Không"
    assert targets["6.5"].met is False and targets["6.6"].met is True
    assert targets["5.2"].met is None  # unanswered: neither
    assert rule(card, "3.1").points == pytest.approx(1.0)
    assert rule(card, "3.3").points == 0
    assert rule(card, "6.5").points == 0 and "Chưa đạt" in rule(card, "6.5").why

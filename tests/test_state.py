"""What a set of answers means for a form: relevance, computed values, progress; and that
changing one answer step by step gives the same state as building it from scratch."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs.kinds import parse_answer, sample_answer, smaller_answer
from dialogs.spec import all_forms
from dialogs.state import FormState, Stored

FORMS = all_forms()


def typed_answers(spec, year=2020):
    """For each asked item, a few answers a person might give (as parsed values)."""
    answers = {}
    for item in spec.items:
        if not item.asked:
            continue
        options = []
        # A large count too, so that rules of other items break and mend.
        typed_options = {sample_answer(item, year), smaller_answer(item) or ""}
        if item.type.is_number and item.kind != "fraction" and item.max is None:
            typed_options.add("100000")
        for typed in typed_options - {""}:
            options.append(Stored(parse_answer(item, typed), False, typed))
        for n, (_value, label) in enumerate(item.choices()):
            options.append(Stored(item.type.picked(item, n), False, label))
        options.append(Stored(None, True, None))  # skipped
        answers[item.code] = options
    return answers


def same(a: FormState, b: FormState) -> None:
    assert a.applies == b.applies
    assert a.values == b.values
    assert a.totals() == b.totals()
    assert a.broken == b.broken
    assert a.conflicts() == b.conflicts()


@pytest.mark.parametrize("form", sorted(FORMS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_answer_at_a_time_equals_a_fresh_build(form, data):
    spec = FORMS[form]
    choices = typed_answers(spec)
    codes = sorted(choices)
    state = FormState(spec, {})
    stored: dict[str, Stored] = {}
    for _step in range(data.draw(st.integers(min_value=1, max_value=60))):
        code = data.draw(st.sampled_from(codes))
        answer = data.draw(st.sampled_from(choices[code]))
        stored[code] = answer
        state = state.with_answer(code, answer)
        same(state, FormState(spec, dict(stored)))


def test_a_gate_hides_its_follow_up_and_brings_it_back_unchanged():
    spec = FORMS["so-ban-nganh"]
    state = FormState(spec, {})
    state = state.with_answer("3.6", Stored(True, False, "có"))
    assert state.applies["3.6.1"]
    state = state.with_answer("3.6.1", Stored("Mạng truyền số liệu", False, "x"))
    assert state.value("3.6.1") == "Mạng truyền số liệu"
    state = state.with_answer("3.6", Stored(False, False, "không"))
    assert not state.applies["3.6.1"] and state.value("3.6.1") is None
    state = state.with_answer("3.6", Stored(True, False, "có"))
    assert state.value("3.6.1") == "Mạng truyền số liệu"


def test_a_total_is_computed_from_parts_asked_after_it():
    spec = FORMS["so-ban-nganh"]
    state = FormState(spec, {})
    for code, value in {"3.2.b.1": 10, "3.2.b.2": 20, "3.2.b.3": 8, "3.2.b.4": 2}.items():
        state = state.with_answer(code, Stored(value, False, str(value)))
    assert state.value("3.2.b") == 10 * 5 + 20 * 5 + 8 + 2

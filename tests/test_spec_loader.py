"""The spec loader refuses bad specs with messages naming the file and the item code."""

import json
import textwrap

import pytest

from bot.cli import main
from dialogs.spec import SpecError, load_spec

HEADER = """\
id: bad
title: PHIẾU
sections:
  - number: 1
    title: MỤC 1
    items:
"""


def write_spec(tmp_path, items: str):
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER + textwrap.indent(textwrap.dedent(items), "      "), encoding="utf-8")
    return path


def problems_of(path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return info.value.problems


def test_duplicate_code(tmp_path):
    path = write_spec(
        tmp_path,
        """\
        - {code: "1.1", kind: integer, label: A}
        - {code: "1.1", kind: text, label: B}
        """,
    )
    assert problems_of(path) == [f"{path}: item 1.1: duplicate code"]


def test_unknown_kind(tmp_path):
    path = write_spec(tmp_path, '- {code: "1.2", kind: number, label: A}\n')
    assert problems_of(path) == [f"{path}: item 1.2: unknown kind 'number'"]


def test_reference_to_unknown_code(tmp_path):
    path = write_spec(
        tmp_path,
        """\
        - {code: "1.1", kind: integer, label: A}
        - {code: "1.2", kind: text, label: B, relevant: "${1.9} > 0"}
        """,
    )
    assert problems_of(path) == [f"{path}: item 1.2: relevant references unknown code 1.9"]


def test_relevance_on_a_later_item(tmp_path):
    path = write_spec(
        tmp_path,
        """\
        - {code: "1.1", kind: text, label: A, relevant: "${1.2}"}
        - {code: "1.2", kind: yes_no, label: B}
        """,
    )
    assert problems_of(path) == [
        f"{path}: item 1.1: relevant references 1.2, which is not an earlier item"
    ]


def test_constraint_on_a_later_item(tmp_path):
    path = write_spec(
        tmp_path,
        """\
        - code: "1.1"
          kind: integer
          label: A
          constraints: [{rule: "${1.1} <= ${1.2}", message: "quá lớn"}]
        - {code: "1.2", kind: integer, label: B}
        """,
    )
    assert problems_of(path) == [f"{path}: item 1.1: constraint references later item 1.2"]


def test_calculation_cycle(tmp_path):
    path = write_spec(
        tmp_path,
        """\
        - {code: "1.1", kind: computed, label: A, calculate: "${1.2} + 1"}
        - {code: "1.2", kind: computed, label: B, calculate: "${1.1} * 2"}
        """,
    )
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: item ")
    assert "calculation cycle 1.1 → 1.2 → 1.1" in problems[0] or "1.2 → 1.1 → 1.2" in problems[0]


def test_computed_may_reference_a_later_item(tmp_path):
    path = write_spec(
        tmp_path,
        """\
        - {code: "1.1", kind: computed, label: Tổng, calculate: "${1.1.a} + ${1.1.b}"}
        - {code: "1.1.a", kind: integer, label: A}
        - {code: "1.1.b", kind: integer, label: B}
        """,
    )
    spec = load_spec(path)
    assert spec.expressions["${1.1.a} + ${1.1.b}"].evaluate({"1.1.a": 2, "1.1.b": 3}) == 5


def test_choice_without_options(tmp_path):
    path = write_spec(tmp_path, '- {code: "1.1", kind: choice, label: A}\n')
    assert problems_of(path) == [f"{path}: item 1.1: choice has no options"]


def test_unparseable_expression(tmp_path):
    path = write_spec(tmp_path, '- {code: "1.1", kind: computed, label: A, calculate: "1 +"}\n')
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}: item 1.1: calculate: cannot parse expression")


def test_every_problem_is_reported_at_once(tmp_path):
    path = write_spec(
        tmp_path,
        """\
        - {code: "1.1", kind: choice, label: A}
        - {code: "1.1", kind: text, label: B, relevant: "${9.9}"}
        """,
    )
    assert len(problems_of(path)) == 3


def test_expressions_cannot_escape_the_sandbox(tmp_path):
    path = write_spec(
        tmp_path,
        """\
        - {code: "1.1", kind: integer, label: A}
        - {code: "1.2", kind: computed, label: B, calculate: "${1.1}.__class__"}
        """,
    )
    spec = load_spec(path)
    expression = spec.expressions[spec.item("1.2").calculate]
    with pytest.raises(Exception) as info:
        expression.evaluate({"1.1": 3})
    assert "__class__" in str(info.value)


def test_forms_check_cli_exit_codes(tmp_path, capsys):
    bad = write_spec(tmp_path, '- {code: "1.1", kind: choice, label: A}\n')
    assert main(["forms", "check", str(bad)]) == 2
    assert capsys.readouterr().out.strip() == f"{bad}: item 1.1: choice has no options"
    assert main(["forms", "check", "tests/fixtures/mini.yaml"]) == 0


def test_forms_list_and_show_json(capsys):
    assert main(["forms", "list", "--json"]) == 0
    listed = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert {"so-ban-nganh", "ubnd-huyen", "xa-phuong"} <= set(listed)
    assert main(["forms", "show", "so-ban-nganh", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["items"]) == listed["so-ban-nganh"]["items"]
    keys = {"code", "section", "kind", "label", "unit", "required", "relevant"}
    keys |= {"constraints", "calculate", "bonus", "target"}
    assert set(shown["items"][0]) == keys
    bandwidth = next(i for i in shown["items"] if i["code"] == "3.2.b")
    assert bandwidth["kind"] == "computed" and bandwidth["unit"] == "Mbps"


def test_forms_check_validates_the_rubric_next_to_the_spec(tmp_path, capsys):
    spec = tmp_path / "mini.yaml"
    spec.write_text(open("tests/fixtures/mini.yaml", encoding="utf-8").read(), encoding="utf-8")
    rubric = tmp_path / "mini.rubric.yaml"
    rubric.write_text(
        "form: mini\ngroups:\n  - code: '3'\n    title: Hạ tầng\n    max: 1\n"
        "    rules:\n      - {code: '3.9', rule: yes_no, points: 1}\n",
        encoding="utf-8",
    )
    assert main(["forms", "check", str(spec)]) == 2
    out = capsys.readouterr().out
    assert str(rubric) in out and "3.9" in out
    assert main(["forms", "check", str(rubric)]) == 2


# Notes and printed tables -------------------------------------------------------------------

TABLE_HEADER = """\
id: bad
title: PHIẾU
tables:
  dau-tu:
    title: Về đầu tư
    columns:
      - {title: TT, role: index}
      - {title: Nội dung, role: label}
      - {title: ĐVT, role: unit}
      - {title: N-1, role: answer, key: truoc, year: -1, group: Năm}
      - {title: N, role: answer, key: nay, year: 0, group: Năm}
  an-toan:
    title: An toàn
    columns:
      - {title: TT, role: index}
      - {title: Nội dung, role: label}
      - {title: Có, role: check, value: true}
      - {title: Không, role: check, value: false}
sections:
  - number: 4
    title: MỤC 4
    items:
"""


def write_tables(tmp_path, items: str):
    path = tmp_path / "tables.yaml"
    path.write_text(
        TABLE_HEADER + textwrap.indent(textwrap.dedent(items), "      "), encoding="utf-8"
    )
    return path


def test_a_note_is_printed_where_it_stands_and_belongs_to_the_item_it_explains(tmp_path):
    path = write_spec(
        tmp_path,
        """\
        - {code: "1.1", kind: yes_no, label: WAN, note: "Nếu có đánh dấu X vào ô □"}
        - {code: "1.2", kind: text, label: Công nghệ, relevant: "${1.1}"}
        - {note: "Ghi chú: Mạng diện rộng (WAN) của tỉnh là …", about: "1.1"}
        - {note: "", lines: 3}
        """,
    )
    spec = load_spec(path)
    section = spec.sections[0]
    # The conversation walks items and headings only; notes stand apart, in printed order.
    assert [e.code for e in section.entries] == ["1.1", "1.2"]
    printed = [getattr(e, "code", None) or e.note for e in section.printed]
    assert printed == ["1.1", "1.2", "Ghi chú: Mạng diện rộng (WAN) của tỉnh là …", ""]
    assert section.notes[1].lines == 3 and section.notes[0].after == "1.2"
    assert spec.notes_about("1.1") == [
        "Nếu có đánh dấu X vào ô □",
        "Ghi chú: Mạng diện rộng (WAN) của tỉnh là …",
    ]
    assert spec.notes_about("1.2") == []


@pytest.mark.parametrize(
    ("note", "problem"),
    [
        (
            '{note: "Ghi chú", colour: red}',
            "note after 1.1: colour: Extra inputs are not permitted",
        ),
        ('{note: "Ghi chú", about: "9.9"}', "note after 1.1: about unknown code 9.9"),
        ('{note: ""}', "note after 1.1: give a text or lines"),
        ('{note: "x", lines: 50}', "note after 1.1: lines: Input should be less than or equal"),
    ],
)
def test_a_wrong_note_is_refused(tmp_path, note, problem):
    path = write_spec(tmp_path, f'- {{code: "1.1", kind: text, label: A}}\n- {note}\n')
    [found] = problems_of(path)
    assert found.startswith(f"{path}: {problem}")


def test_table_columns_say_how_they_are_filled_and_year_columns_their_year(tmp_path):
    path = write_tables(
        tmp_path,
        """\
        - {code: "4.1", heading: "Về đầu tư"}
        - {code: "4.1.1.a", kind: decimal, label: Chi, table: dau-tu, row: "1", column: truoc}
        - {code: "4.1.1.b", kind: decimal, label: Chi, table: dau-tu, row: "1", column: nay}
        - {code: "4.2", kind: yes_no, label: Quy chế, table: an-toan, row: "1"}
        """,
    )
    spec = load_spec(path)
    # The year comes from the column, whatever the code is called.
    assert spec.item("4.1.1.a").year_offset == -1
    assert spec.item("4.1.1.b").year_offset == 0
    assert spec.item("4.2").year_offset is None
    assert spec.tables["dau-tu"].roles() == ["index", "label", "unit", "answer", "answer"]


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        (
            '- {code: "4.1", kind: decimal, label: Chi, table: dau-tu, row: "1", column: sau}',
            "item 4.1: table dau-tu has no answer column 'sau'",
        ),
        (
            '- {code: "4.1", kind: decimal, label: Chi, table: dau-tu, row: "1"}',
            "item 4.1: name its column (table dau-tu has 2 answer columns)",
        ),
        (
            '- {code: "4.1", kind: yes_no, label: Có, table: dau-tu, row: "1"}',
            "item 4.1: table dau-tu has no check column for a yes_no",
        ),
        (
            '- {code: "4.1", kind: integer, label: Số, column: nay}',
            "item 4.1: column 'nay' without a table",
        ),
        ('- {code: "4.1", kind: integer, label: Số, single_box: true}', "item 4.1: single_box"),
        ('- {code: "4.1", kind: text, label: Số, percent: true}', "item 4.1: percent is for"),
        ('- {code: "4.1", heading: Nhóm, table: khong-co}', "item 4.1: unknown table 'khong-co'"),
    ],
)
def test_a_table_item_without_a_place_to_go_is_refused(tmp_path, items, problem):
    path = write_tables(tmp_path, items + "\n")
    assert any(p.startswith(f"{path}: {problem}") for p in problems_of(path)), problems_of(path)


def test_a_column_that_cannot_be_filled_is_refused(tmp_path):
    path = tmp_path / "bad-table.yaml"
    path.write_text(
        TABLE_HEADER.replace(
            "{title: Có, role: check, value: true}", "{title: Có, role: check}"
        ).replace(
            "role: index}\n      - {title: Nội dung", "role: tick}\n      - {title: Nội dung", 1
        )
        + '      - {code: "4.1", kind: text, label: A}\n',
        encoding="utf-8",
    )
    problems = problems_of(path)
    assert any("tables.dau-tu.columns.0.role: Input should be 'index'" in p for p in problems)


def test_a_check_column_needs_the_answer_that_ticks_it(tmp_path):
    path = tmp_path / "bad-check.yaml"
    path.write_text(
        TABLE_HEADER.replace("{title: Có, role: check, value: true}", "{title: Có, role: check}")
        + '      - {code: "4.1", kind: text, label: A}\n',
        encoding="utf-8",
    )
    assert problems_of(path) == [f"{path}: table an-toan: column Có: a check column needs a value"]

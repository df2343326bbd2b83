"""Tests added to a properties YAML as text: every line a person wrote stays byte-identical.

`generator.testgen.yaml_edit.add_to_yaml` on YAML people write: comments, blank lines, quoted
strings, long lines, flow-style rows and lists, block scalars, 2- and 4-space indents, the
`versions:` of a model. The diff must be pure insertions, except for the one flow entry the
tests go into (`data_tests: [a]`, `- {name: id}`, `columns: [...]`, `unit_tests: []`): its
own lines become block style. What cannot be rewritten alone is refused, located; the file
is never re-dumped whole.
"""

from __future__ import annotations

import difflib

import pytest
import yaml

from generator.errors import WriteError
from generator.testgen.datatests import DataTest
from generator.testgen.unit_runner import GivenInput, UnitTest
from generator.testgen.yaml_edit import add_to_yaml

NOT_NULL = DataTest("not_null", "order_id", reason="grain column")
FEWER = DataTest("gen_model.fewer_rows_than", None, {"compare_model": "ref('raw_payments')"}, reason="a group by")
UNIT = UnitTest(
    "order_payments_logic",
    "order_payments",
    (GivenInput("ref('raw_payments')", ({"order_id": 1, "amount": 100},)),),
    ({"order_id": 1, "total_amount": 1},),
    None,
    "pins the logic",
)

PERSON = """\
version: 2

# Payments per order (written by hand).
models:
  - name: order_payments
    description: "One row per order: what was paid, by method."   # quoted, with a comment
    columns:
      - name: order_id
        description: 'The order.'
        data_tests:
          - unique    # the grain
      - name: notes
        description: |
          A block scalar: kept as it is,

          blank line included.
      - name: total_amount
        description: LONG

unit_tests:
  - name: by_method   # a person wrote this one
    model: order_payments
    given:
      - input: ref('raw_payments')
        rows:
          - {id: 1, order_id: 1, payment_method: credit_card, amount: 1000}
          - {id: 2, order_id: 1, payment_method: "coupon",    amount: 250}
    expect:
      rows:
        - {order_id: 1, total_amount: 12.5}

# trailing comment
""".replace(
    "LONG",  # a long line (over the linter's limit here), as people write them
    "Everything paid for the order in dollars, whichever method was used, credit card or coupon or bank "
    "transfer or gift card, summed over all of its payments.",
)


def changes(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed lines, inserted lines) of the diff from `before` to `after`."""
    removed: list[str] = []
    inserted: list[str] = []
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            removed += old[i1:i2]
        if tag in ("replace", "insert"):
            inserted += new[j1:j2]
    return removed, inserted


def by_name(items: list[dict]) -> dict:
    return {item["name"]: item for item in items}


def test_tests_go_in_as_pure_insertions_into_what_a_person_wrote():
    extra = DataTest("not_null", "total_amount", reason="a sum of a not-null column")
    after = add_to_yaml(PERSON, "order_payments", None, [NOT_NULL, extra], [FEWER], [UNIT], "m.yml")
    removed, inserted = changes(PERSON, after)
    assert removed == []
    assert inserted[0] == "          - not_null: {config: {meta: {reason: grain column}}}\n"
    document = yaml.safe_load(after)
    model = document["models"][0]
    columns = by_name(model["columns"])
    assert columns["order_id"]["data_tests"][0] == "unique"
    assert columns["notes"]["description"] == "A block scalar: kept as it is,\n\nblank line included.\n"
    assert list(columns["total_amount"]["data_tests"][0]) == ["not_null"]
    assert list(model["data_tests"][0]) == ["gen_model.fewer_rows_than"]
    assert [u["name"] for u in document["unit_tests"]] == ["by_method", "order_payments_logic"]
    # The unit test goes after the person's, before the file's trailing comment.
    assert after.endswith("        - {order_id: 1, total_amount: 1}\n\n# trailing comment\n")


def test_a_flow_list_on_its_key_line_is_the_one_line_that_changes():
    text = (
        "models:\n"
        "  - name: order_payments\n"
        "    columns:\n"
        "      - name: order_id\n"
        "        data_tests: [unique, {accepted_range: {arguments: {min_value: 0}}}]   # keep me\n"
        "      - name: amount\n"
    )
    after = add_to_yaml(text, "order_payments", None, [NOT_NULL], [], [], "m.yml")
    removed, inserted = changes(text, after)
    assert removed == ["        data_tests: [unique, {accepted_range: {arguments: {min_value: 0}}}]   # keep me\n"]
    assert inserted == [
        "        data_tests:   # keep me\n",
        "          - unique\n",
        "          - {accepted_range: {arguments: {min_value: 0}}}\n",
        "          - not_null: {config: {meta: {reason: grain column}}}\n",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 2 spaces, lists not indented under their key (`- ` at the key's column).
        (
            "models:\n- name: order_payments\n  columns:\n  - name: order_id\n    data_tests:\n    - unique\n",
            "    - not_null: {config: {meta: {reason: grain column}}}\n",
        ),
        # 4 spaces, the dash 2 in.
        (
            "models:\n    - name: order_payments\n      columns:\n          - name: order_id\n",
            "            data_tests:\n                - not_null: {config: {meta: {reason: grain column}}}\n",
        ),
    ],
)
def test_new_lines_are_indented_like_the_file(text, expected):
    after = add_to_yaml(text, "order_payments", None, [NOT_NULL], [], [], "m.yml")
    removed, inserted = changes(text, after)
    assert removed == []
    assert "".join(inserted) == expected
    assert yaml.safe_load(after)["models"][0]["columns"][0]["data_tests"][-1] == {
        "not_null": {"config": {"meta": {"reason": "grain column"}}}
    }


def test_a_key_with_nothing_under_it_gets_its_items_below_it():
    text = "models:\n  - name: order_payments\n    columns:\n      - name: order_id\n        data_tests:\n"
    after = add_to_yaml(text, "order_payments", None, [NOT_NULL], [], [], "m.yml")
    assert changes(text, after) == ([], ["          - not_null: {config: {meta: {reason: grain column}}}\n"])


def test_new_columns_models_and_unit_tests_are_appended():
    text = "version: 2\nmodels:\n  - name: other   # not ours\n    description: x\n"
    after = add_to_yaml(text, "order_payments", None, [NOT_NULL], [FEWER], [UNIT], "m.yml")
    removed, _ = changes(text, after)
    assert removed == []
    document = yaml.safe_load(after)
    assert [m["name"] for m in document["models"]] == ["other", "order_payments"]
    ours = document["models"][1]
    assert ours["columns"][0]["name"] == "order_id" and ours["data_tests"]
    assert document["unit_tests"][0]["name"] == "order_payments_logic"

    column = DataTest("not_null", "amount", reason="r")
    again = add_to_yaml(after, "order_payments", None, [column], [], [UNIT], "m.yml")
    removed, inserted = changes(after, again)
    assert removed == []
    assert inserted == [
        "      - name: amount\n",
        "        data_tests:\n",
        "          - not_null: {config: {meta: {reason: r}}}\n",
    ]


def test_tests_of_a_version_go_into_its_entry():
    text = (
        "models:\n"
        "  - name: order_payments\n"
        "    latest_version: 2\n"
        "    versions:\n"
        "      - v: 1\n"
        "        columns:\n"
        "          - name: order_id\n"
        "      - v: 2   # the current one\n"
        "        columns:\n"
        "          - name: order_id\n"
        '            description: "The order."\n'
        "    config:\n"
        "      materialized: table\n"
    )
    after = add_to_yaml(text, "order_payments", 2, [NOT_NULL], [FEWER], [], "m.yml")
    removed, _ = changes(text, after)
    assert removed == []
    versions = yaml.safe_load(after)["models"][0]["versions"]
    assert "data_tests" not in versions[0]["columns"][0]
    assert list(versions[1]["columns"][0]["data_tests"][0]) == ["not_null"]
    assert list(versions[1]["data_tests"][0]) == ["gen_model.fewer_rows_than"]


NOT_NULL_YAML = {"not_null": {"config": {"meta": {"reason": "grain column"}}}}


@pytest.mark.parametrize(
    ("text", "rewritten", "expected"),
    [
        # A column written inline: that one line becomes the column in block style, its comment kept.
        (
            "models:\n"
            "  - name: order_payments\n"
            "    columns:\n"
            "      - {name: order_id, data_tests: [unique]}   # the grain\n"
            "      - name: amount\n",
            [
                "      - name: order_id   # the grain\n",
                "        data_tests:\n",
                "          - unique\n",
                "          - not_null: {config: {meta: {reason: grain column}}}\n",
            ],
            [{"name": "order_id", "data_tests": ["unique", NOT_NULL_YAML]}, {"name": "amount"}],
        ),
        # An inline column over two lines: its two lines, nothing else.
        (
            "models:\n"
            "  - name: order_payments\n"
            "    columns:\n"
            "      - {name: order_id,\n"
            '         description: "The order."}\n'
            "      - name: amount\n",
            [
                "      - name: order_id\n",
                '        description: "The order."\n',
                "        data_tests:\n",
                "          - not_null: {config: {meta: {reason: grain column}}}\n",
            ],
            [{"name": "order_id", "description": "The order.", "data_tests": [NOT_NULL_YAML]}, {"name": "amount"}],
        ),
        # A flow list of columns: the column the test goes into turns block, its sibling stays inline.
        (
            "models:\n  - name: order_payments\n    columns: [{name: order_id}, {name: amount}]   # both\n",
            [
                "    columns:   # both\n",
                "      - name: order_id\n",
                "        data_tests:\n",
                "          - not_null: {config: {meta: {reason: grain column}}}\n",
                "      - {name: amount}\n",
            ],
            [{"name": "order_id", "data_tests": [NOT_NULL_YAML]}, {"name": "amount"}],
        ),
    ],
)
def test_an_inline_column_is_the_one_entry_rewritten(text, rewritten, expected):
    after = add_to_yaml(text, "order_payments", None, [NOT_NULL], [], [], "m.yml")
    removed, inserted = changes(text, after)
    # What was removed is the entry's own lines (the key's line too for a flow list of columns).
    assert removed == [line for line in text.splitlines(keepends=True) if "order_id" in line or "The order." in line]
    assert inserted == rewritten
    assert yaml.safe_load(after)["models"][0]["columns"] == expected


def test_an_inline_model_entry_is_rewritten_and_the_rest_kept():
    text = (
        "version: 2\n"
        "models:\n"
        "  - {name: order_payments, description: 'Per order.'}   # mine\n"
        "  - name: other\n"
        "    description: x\n"
    )
    after = add_to_yaml(text, "order_payments", None, [NOT_NULL], [FEWER], [], "m.yml")
    removed, inserted = changes(text, after)
    assert removed == ["  - {name: order_payments, description: 'Per order.'}   # mine\n"]
    assert inserted == [
        "  - name: order_payments   # mine\n",
        "    description: 'Per order.'\n",
        "    columns:\n",
        "      - name: order_id\n",
        "        data_tests:\n",
        "          - not_null: {config: {meta: {reason: grain column}}}\n",
        "    data_tests:\n",
        "      - gen_model.fewer_rows_than:\n",
        "          arguments: {compare_model: ref('raw_payments')}\n",
        "          config: {meta: {reason: a group by}}\n",
    ]
    assert yaml.safe_load(after)["models"] == [
        {
            "name": "order_payments",
            "description": "Per order.",
            "columns": [{"name": "order_id", "data_tests": [NOT_NULL_YAML]}],
            "data_tests": [
                {
                    "gen_model.fewer_rows_than": {
                        "arguments": {"compare_model": "ref('raw_payments')"},
                        "config": {"meta": {"reason": "a group by"}},
                    }
                }
            ],
        },
        {"name": "other", "description": "x"},
    ]


UNIT_LINES = [
    "  - name: order_payments_logic\n",
    "    model: order_payments\n",
    "    description: pins the logic\n",
    "    given:\n",
    "      - input: ref('raw_payments')\n",
    "        rows:\n",
    "          - {order_id: 1, amount: 100}\n",
    "    expect:\n",
    "      rows:\n",
    "        - {order_id: 1, total_amount: 1}\n",
]
MODELS = "models:\n  - name: order_payments   # tests elsewhere\n"


@pytest.mark.parametrize(
    ("units", "removed", "inserted", "names"),
    [
        # Absent: the key and the unit test go at the end.
        ("", [], ["unit_tests:\n", *UNIT_LINES], ["order_payments_logic"]),
        # A key with nothing under it: the unit test goes right below it.
        ("unit_tests:\n", [], UNIT_LINES, ["order_payments_logic"]),
        # An empty flow list: that line becomes the key with the unit test below it.
        (
            "unit_tests: []   # none yet\n",
            ["unit_tests: []   # none yet\n"],
            ["unit_tests:   # none yet\n", *UNIT_LINES],
            ["order_payments_logic"],
        ),
        # A flow list of unit tests: rewritten in block style, the person's own entry kept inline.
        (
            "unit_tests: [{name: mine, model: order_payments, given: [], expect: {rows: []}}]\n",
            ["unit_tests: [{name: mine, model: order_payments, given: [], expect: {rows: []}}]\n"],
            ["unit_tests:\n", "  - {name: mine, model: order_payments, given: [], expect: {rows: []}}\n", *UNIT_LINES],
            ["mine", "order_payments_logic"],
        ),
    ],
)
def test_the_unit_test_goes_in_whatever_unit_tests_looks_like(units, removed, inserted, names):
    text = MODELS + units
    after = add_to_yaml(text, "order_payments", None, [], [], [UNIT], "m.yml")
    assert changes(text, after) == (removed, inserted)
    document = yaml.safe_load(after)
    assert [u["name"] for u in document["unit_tests"]] == names
    assert document["unit_tests"][-1]["expect"] == {"rows": [{"order_id": 1, "total_amount": 1}]}


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        # The column the test goes into is anchored: what is added would show up at its aliases too.
        (
            "models:\n  - name: order_payments\n    columns:\n      - &key {name: order_id}\n"
            "  - name: other\n    columns: [*key]\n",
            "m.yml:4:9",
            "an anchor (&) on what the tests go into",
        ),
        # A merge key: the keys it brings are not where the text says.
        (
            "base: &base {description: x}\nmodels:\n  - name: order_payments\n    <<: *base\n"
            "    columns:\n      - name: order_id\n",
            "m.yml:4:5",
            "a merge key (<<)",
        ),
        # A comment inside the inline entry would be lost by its rewrite.
        (
            "models:\n  - name: order_payments\n    columns:\n      - {name: order_id,   # the grain\n"
            "         description: x}\n",
            "m.yml:4:9",
            "a flow `[...]`/`{...}` with a comment in it",
        ),
        # Which of two documents the tests go into is a person's call.
        ("models: []\n---\nmodels: []\n", "m.yml:2:1", "a second YAML document"),
    ],
)
def test_what_cannot_be_rewritten_alone_is_refused_with_its_place(text, where, why):
    with pytest.raises(WriteError) as raised:
        add_to_yaml(text, "order_payments", None, [NOT_NULL], [], [], "m.yml")
    assert raised.value.exit_code == 1
    message = raised.value.format()
    assert message.startswith("m.yml was left as it is\n" + where + ": [yaml-edit] cannot add the tests"), message
    assert why in message and "by hand and run again." in message


def test_a_new_file_is_laid_out_as_before():
    after = add_to_yaml("", "order_payments", None, [NOT_NULL], [FEWER], [UNIT], "m.yml")
    assert after == (
        "version: 2\n"
        "models:\n"
        "  - name: order_payments\n"
        "    columns:\n"
        "      - name: order_id\n"
        "        data_tests:\n"
        "          - not_null: {config: {meta: {reason: grain column}}}\n"
        "    data_tests:\n"
        "      - gen_model.fewer_rows_than:\n"
        "          arguments: {compare_model: ref('raw_payments')}\n"
        "          config: {meta: {reason: a group by}}\n"
        "unit_tests:\n"
        "  - name: order_payments_logic\n"
        "    model: order_payments\n"
        "    description: pins the logic\n"
        "    given:\n"
        "      - input: ref('raw_payments')\n"
        "        rows:\n"
        "          - {order_id: 1, amount: 100}\n"
        "    expect:\n"
        "      rows:\n"
        "        - {order_id: 1, total_amount: 1}\n"
    )


@pytest.mark.dbt
def test_gen_model_tests_rewrites_only_an_inline_column_entry(shop_project_with_package):
    from click.testing import CliRunner

    from generator.cli import cli

    marts = shop_project_with_package / "models" / "marts" / "marts.yml"
    key = "      - name: customer_id\n        data_tests: [unique, not_null]\n"
    inline = '      - {name: order_count, description: "Orders placed."}   # written inline\n'
    original = marts.read_text(encoding="utf-8")
    assert original.count(key) == 1, "the shop project's YAML changed: update this test"
    before = original.replace(key, key + inline)
    marts.write_text(before, encoding="utf-8")

    result = CliRunner().invoke(cli, ["tests", "customers", "--project-dir", str(shop_project_with_package)])
    assert result.exit_code == 0, result.output
    after = marts.read_text(encoding="utf-8")
    removed, inserted = changes(before, after)
    assert removed == [inline], "only the inline entry is rewritten; every other line is kept"
    assert inserted[:4] == [
        "      - name: order_count   # written inline\n",
        '        description: "Orders placed."\n',
        "        data_tests:\n",
        "          - not_null: {config: {meta: {reason: 'never null: coalesce(..., 0) always has a value'}}}\n",
    ]
    document, previous = yaml.safe_load(after), yaml.safe_load(before)
    columns = by_name(by_name(document["models"])["customers"]["columns"])
    assert columns["customer_id"]["data_tests"] == ["unique", "not_null"]
    assert columns["order_count"]["description"] == "Orders placed."
    assert [list(test)[0] for test in columns["order_count"]["data_tests"]] == ["not_null", "gen_model.accepted_range"]
    assert by_name(document["models"])["orders"] == by_name(previous["models"])["orders"]
    assert [u["name"] for u in document["unit_tests"]] == ["customers_logic"]

    # A merge key is refused (its keys are not where the text says): exit 1, located, nothing written.
    orders = "  - name: orders\n"
    merged = after.replace(orders, orders + "    <<: {config: {enabled: true}}\n")
    marts.write_text(merged, encoding="utf-8")
    refused = CliRunner().invoke(cli, ["tests", "orders", "--project-dir", str(shop_project_with_package)])
    assert refused.exit_code == 1, refused.output
    line = merged.splitlines().index("    <<: {config: {enabled: true}}") + 1
    assert f"models/marts/marts.yml:{line}:5: [yaml-edit] cannot add the tests of orders" in refused.output
    assert "a merge key (<<). To add them, write out the keys it merges in by hand" in refused.output
    assert marts.read_text(encoding="utf-8") == merged

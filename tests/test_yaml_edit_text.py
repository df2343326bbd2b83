"""Two shapes of hand-written YAML `add_to_yaml` edits like any other, every other byte kept:
a file with Windows line endings (\\r\\n), and a `#` inside a quoted string of the inline
entry the tests go into (a string, not a comment, so the entry can be rewritten).
"""

from __future__ import annotations

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
        data_tests: [unique]   # the grain
      - name: notes
        description: |
          A block scalar: kept as it is,

          blank line included.
"""


def add(text: str) -> str:
    return add_to_yaml(text, "order_payments", None, [NOT_NULL], [FEWER], [UNIT], "m.yml")


# -- line endings -------------------------------------------------------------------------------


def test_a_file_with_windows_line_endings_keeps_them_on_every_line():
    windows = PERSON.replace("\n", "\r\n")
    after = add(windows)
    # The same edit as on the \n file, every line (the person's and the new ones) ending in \r\n.
    assert after == add(PERSON).replace("\n", "\r\n")
    assert "\n" not in after.replace("\r\n", ""), "a line ending in \\n alone"
    assert yaml.safe_load(after) == yaml.safe_load(add(PERSON))
    kept = [line for line in windows.splitlines(keepends=True) if "data_tests: [unique]" not in line]
    assert all(line in after.splitlines(keepends=True) for line in kept)


def test_a_windows_file_without_a_last_line_ending_gets_one_of_its_kind():
    windows = PERSON.replace("\n", "\r\n").removesuffix("\r\n")
    after = add(windows)
    assert after == add(PERSON).replace("\n", "\r\n")


def test_mixed_line_endings_keep_each_line_its_own_and_new_lines_take_the_most_common():
    text = PERSON.replace("version: 2\n", "version: 2\r\n")  # one \r\n among \n
    after = add(text)
    assert after.startswith("version: 2\r\n")
    assert after.replace("version: 2\r\n", "version: 2\n", 1) == add(PERSON)


# -- `#` in a quoted string ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "rewritten"),
    [
        (
            '- {name: order_id, description: "issue #12, fixed"}',
            ["- name: order_id", '  description: "issue #12, fixed"'],
        ),
        ("- {name: order_id, description: 'a # b'}   # c", ["- name: order_id   # c", "  description: 'a # b'"]),
        # A quoted key, and a quoted string over two lines.
        (
            "- {name: order_id, 'x #1': \"a #\n         b\"}",
            ["- name: order_id", "  'x #1': \"a # b\""],
        ),
    ],
)
def test_a_hash_inside_a_quoted_string_is_no_comment(entry, rewritten):
    text = "models:\n  - name: order_payments\n    columns:\n      " + entry + "\n"
    after = add_to_yaml(text, "order_payments", None, [NOT_NULL], [], [], "m.yml")
    assert after == (
        "models:\n  - name: order_payments\n    columns:\n"
        + "".join(f"      {line}\n" for line in rewritten)
        + "        data_tests:\n          - not_null: {config: {meta: {reason: grain column}}}\n"
    )


def test_a_comment_after_a_quoted_hash_is_still_refused():
    text = (
        "models:\n  - name: order_payments\n    columns:\n"
        '      - {name: order_id, description: "#1",   # the grain\n         tags: [a]}\n'
    )
    with pytest.raises(WriteError) as raised:
        add_to_yaml(text, "order_payments", None, [NOT_NULL], [], [], "m.yml")
    assert "a flow `[...]`/`{...}` with a comment in it" in raised.value.format()

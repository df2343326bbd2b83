"""generator.write.inert and the formatter's escapes: what dbt would render is escaped or refused.

Escapes are checked against dbt's own renderer (dbt.clients.jinja.get_rendered, native and
not), the checks against dbt's own lexer; the end-to-end payloads are in test_inert_e2e.py.
"""

from __future__ import annotations

import re

import pytest
import sqlglot
from dbt.clients.jinja import get_rendered

from generator.errors import WriteError
from generator.sql.formatting import format_sql
from generator.sql.templating import untemplate
from generator.write.inert import check_files, jinja_string, make_inert, sql_problems, yaml_problems
from generator.write.writer import dump_yaml

# dbt-core's add_rendered_test_kwargs: a test argument like this is rendered as `{{ value }}`.
LOOKS_LIKE_FUNC = r"^\s*(env_var|ref|var|source|doc)\s*\(.+\)\s*$"

TRICKY = [
    "{{ env_var('HOME') }}",
    "{% raw %}x{% endraw %}",
    "{# not a comment",
    'env_var("HOME") ~ run_query("copy (select 1) to \'/tmp/x\'")',
    "it's a \\ back\\slash\nnew line\ttab",
    "unicode é ✓ 𝔘 and }} %} #}",
    "'{{' ~ '}}'",
]


def render_as_test_argument(value: str) -> str:
    """What dbt makes of a test argument at compile time."""
    if isinstance(value, str) and re.match(LOOKS_LIKE_FUNC, value):
        value = f"{{{{ {value} }}}}"
    return get_rendered(value, {}, native=True)


@pytest.mark.parametrize("text", TRICKY)
def test_a_jinja_string_renders_to_its_text_natively_or_not(text):
    escaped = jinja_string(text)
    assert not re.search(r"[{%#]}|{[{%#]", escaped[3:-3])  # no delimiter inside the constant
    assert get_rendered(escaped, {}, native=False) == text
    assert get_rendered(escaped, {}, native=True) == text
    assert render_as_test_argument(escaped) == text


@pytest.mark.parametrize("text", TRICKY)
def test_a_versions_test_argument_survives_both_of_dbts_renders(text):
    entry = make_inert({"data_tests": [{"accepted_values": {"arguments": {"values": [text]}}}]}, ("versions", 0))
    value = entry["data_tests"][0]["accepted_values"]["arguments"]["values"][0]
    # the schema renderer when the YAML is read, then the test's compilation
    assert render_as_test_argument(get_rendered(value, {}, native=True)) == text


def test_make_inert_leaves_ordinary_data_keys_and_resolved_calls_alone():
    data = {
        "name": "plans",
        "description": "Plain text, with (parentheses) and {braces}",
        "columns": [{"name": "a", "data_tests": [{"relationships": {"arguments": {"to": "ref('x')", "field": "a"}}}]}],
        "unit_tests": [{"given": [{"input": "ref('stg_x')", "rows": [{"{{ key }}": 1, "v": "env_var('X')"}]}]}],
        "meta": {"request": "{{ x }}", "n": 3},
    }
    inert = make_inert(data)
    assert inert["description"] == data["description"]
    assert inert["columns"] == data["columns"]
    assert inert["unit_tests"][0]["given"][0]["input"] == "ref('stg_x')"
    assert inert["unit_tests"][0]["given"][0]["rows"][0] == {"{{ key }}": 1, "v": "env_var('X')"}
    assert inert["meta"] == {"request": jinja_string("{{ x }}"), "n": 3}
    assert dump_yaml(make_inert(data)) == dump_yaml(make_inert(data))  # deterministic


def test_a_test_argument_that_dbt_would_call_is_escaped_but_its_config_is_not():
    test = {"accepted_values": {"arguments": {"values": ["var('x')"]}, "config": {"meta": {"reason": "var('x')"}}}}
    inert = make_inert({"data_tests": [test]})["data_tests"][0]["accepted_values"]
    assert inert["arguments"]["values"] == [jinja_string("var('x')")]
    assert inert["config"]["meta"]["reason"] == "var('x')"


# -- the SQL check ---------------------------------------------------------------------------


def test_sql_allows_only_resolved_calls_config_and_string_constants():
    sql = (
        "{{ config(materialized='table') }}\n"
        "select 'a{{ '{' }}{b' as x\n"
        "from {{ ref('a') }} join {{ source('s', 't') }} using (id) join {{ ref('b', v=2) }} using (id)\n"
    )
    assert sql_problems(sql, "m.sql") == []


@pytest.mark.parametrize(
    "sql, line, col",
    [
        ("select 1\nfrom x -- {{ env_var('SECRET') }}\n", 2, 11),
        ("select 1 from {{ ref(var('m')) }}\n", 1, 15),
        ("select {% set x = 1 %} 1\n", 1, 8),
        ("select\n    '{#' as marker\n", 2, 6),
        ("select {{ ref('a') ~ run_query('copy') }}\n", 1, 8),
        ("select 1\r\nfrom x\r\n  -- {{ env_var('S') }}\r\n", 3, 6),
    ],
)
def test_sql_problems_are_located(sql, line, col):
    problems = sql_problems(sql, "models/m_v1.sql")
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.file, problem.line, problem.col, problem.rule) == ("models/m_v1.sql", line, col, "jinja")
    assert problem.format().startswith(f"models/m_v1.sql:{line}:{col}: [jinja] ")


def test_check_files_refuses_before_writing_and_names_every_problem():
    with pytest.raises(WriteError) as error:
        check_files([("a.sql", "select '{#'\n"), ("b.yml", "x: ok\ny: '{{ env_var(\"S\") }}'\n"), ("c.lock", "{{")])
    assert [(p.file, p.line, p.col) for p in error.value.problems] == [("a.sql", 1, 9), ("b.yml", 2, 4)]
    assert error.value.exit_code == 1


# -- the YAML check --------------------------------------------------------------------------


def test_yaml_problems_are_located_and_escapes_pass():
    text = (
        "models:\n"
        "  - name: m\n"
        "    description: \"{{ env_var('SECRET') }}\"\n"
        "    versions:\n"
        "      - v: 1\n"
        "        description: \"{{ '\\x7b\\x7b x \\x7d\\x7d' }}\"\n"
        "        columns:\n"
        "          - name: a\n"
        "            description: \"{{ 'escaped' }}\"\n"
        "            data_tests:\n"
        "              - accepted_values:\n"
        "                  arguments:\n"
        "                    values: ['env_var(\"HOME\")', plain]\n"
        "              - relationships:\n"
        "                  arguments: {to: \"ref('x')\", field: a}\n"
    )
    problems = yaml_problems(text, "m.yml")
    assert [(p.line, p.col, p.identifier) for p in problems] == [
        (3, 18, "models.0.description"),
        (6, 22, "models.0.versions.0.description"),
        (13, 30, "models.0.versions.0.columns.0.data_tests.0.accepted_values.arguments.values.0"),
    ]
    fixed = make_inert(
        {
            "description": "{{ env_var('SECRET') }}",
            "versions": [{"description": "{{ x }}", "data_tests": [{"t": {"arguments": {"v": 'env_var("H")'}}}]}],
        }
    )
    assert yaml_problems(dump_yaml(fixed), "m.yml") == []


# -- the formatter ---------------------------------------------------------------------------


def formatted(sql: str) -> str:
    templated, problems = untemplate(sql)
    assert not problems
    return format_sql(templated, sqlglot.parse_one(templated.sql, read="duckdb"))


def test_the_formatter_keeps_escape_strings_escaped_and_braces_apart():
    sql = (
        "/* a #} comment */\n"
        "select\n"
        "    E'\\x7b\\x7b run_query(\"x\") \\x7d\\x7d' as escaped,\n"
        "    '{#' as hash,\n"
        "    $$ {# $$ as dollar,\n"
        "    map { {'k': 1} : 2 } as nested /* then {# */\n"
        "from {{ ref('a') }}\n"
    )
    out = formatted(sql)
    assert "e'\\x7b\\x7b run_query(\"x\") \\x7d\\x7d' as escaped" in out
    assert "e'\\x7b#' as hash" in out
    assert "e' \\x7b# ' as dollar" in out
    assert "map { {'k': 1}: 2}" in out
    assert "/* a # } comment */" in out and "/* then { # */" in out
    assert sql_problems(out, "m.sql") == []
    assert formatted(out) == out  # idempotent


def test_ordinary_literals_keep_their_form():
    out = formatted("select '{\"a\": 1}' as j, 'x}' as k, E'a\\nb' as e from {{ ref('a') }}\n")
    assert "'{\"a\": 1}' as j" in out and "'x}' as k" in out and "e'a\\nb' as e" in out


def test_an_identifier_that_opens_jinja_is_refused_where_it_is():
    out = formatted("select 1 as \"{#a\"\nfrom {{ ref('a') }}\n")
    problems = sql_problems(out, "models/m_v1.sql")
    assert len(problems) == 1 and problems[0].line is not None
    assert '"{#a"' in problems[0].highlight.splitlines()[0]


def test_gen_model_tests_adds_inert_tests_to_any_model():
    from generator.testgen.datatests import DataTest
    from generator.testgen.yaml_edit import add_to_yaml

    test = DataTest("accepted_values", "a", {"values": ['env_var("X")', "{{ y }}", "ok"]}, "why", "accepted_values")
    versioned = "models:\n  - name: m\n    versions:\n      - v: 1\n        columns:\n          - name: a\n"
    for text, version in (("", None), (versioned, 1)):
        after = add_to_yaml(text, "m", version, [test], [], [], "f.yml")
        assert "ok]" in after
        assert yaml_problems(after, "f.yml") == []


def test_every_version_the_writer_adds_is_inert_and_deterministic():
    from generator.proposal import validate_proposal
    from generator.testgen.datatests import DataTest
    from generator.write.writer import (
        ContractColumn,
        add_version_to_yaml,
        new_model_yaml,
        version_entry,
    )

    payload = "{{ env_var('SECRET') }}"
    proposal = validate_proposal(
        {
            "name": "m",
            "layer": "marts",
            "description": f"Model {payload}",
            "grain": ["a"],
            "sql": "select 1",
            "columns": [{"name": "a", "description": f"Column {payload}"}],
        }
    )

    def entry(version):
        test = DataTest("accepted_values", "a", {"values": ['var("x")', payload]}, f"reason {payload}", "x")
        columns = [ContractColumn("a", "varchar", f"Column {payload}")]
        return version_entry(version, proposal.description, columns, [test], [], {"request": payload})

    unit = {"name": "m_v1_logic", "model": "m", "given": [{"input": "ref('x')", "rows": [{"a": payload}]}]}
    first = new_model_yaml(proposal, entry(1), [unit])
    assert first == new_model_yaml(proposal, entry(1), [unit])
    second = add_version_to_yaml(first, proposal, entry(2), unit_tests=[{**unit, "name": "m_v2_logic"}])
    assert payload not in first and payload not in second
    assert yaml_problems(first, "m.yml") == [] and yaml_problems(second, "m.yml") == []

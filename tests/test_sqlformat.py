"""The dbt-style formatter: fixtures, idempotence, determinism and same rows in DuckDB."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot

from generator.project.sandbox import RESULT_TABLE, Sandbox
from generator.sql.formatting import entity_name, format_sql
from generator.sql.runnable import executable_sql
from generator.sql.templating import untemplate
from tests.sandbox_support import DATABASE, build_warehouse, catalog_for, make_context

FIXTURES = Path(__file__).parent / "fixtures" / "sqlformat.sql"


def load_pairs(path: Path) -> list[tuple[str, str, str]]:
    """(title, input, expected) from a file of `--# title`, input `;`, expected `;` blocks.

    Like sqlglot's pretty.sql: statements end with a `;` at the end of a line and come in
    input/expected pairs; `--#` lines are titles, so SQL `--` comments stay testable.
    """
    pairs = []
    title = ""
    statements: list[tuple[str, str]] = []
    current: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("--#"):
            title = line[3:].strip()
            continue
        if line.rstrip().endswith(";") and not line.lstrip().startswith("--"):
            current.append(line.rstrip()[:-1])
            statements.append((title, "\n".join(current).strip("\n")))
            current = []
            continue
        current.append(line)
    assert not "".join(current).strip(), "fixture file ends inside a statement"
    assert len(statements) % 2 == 0, "fixtures come in input/expected pairs"
    for index in range(0, len(statements), 2):
        (title, given), (_, expected) = statements[index], statements[index + 1]
        pairs.append((title, given, expected + "\n"))
    return pairs


PAIRS = load_pairs(FIXTURES)


def fmt(sql: str, relations=None) -> str:
    templated, problems = untemplate(sql)
    assert not problems, problems
    return format_sql(templated, sqlglot.parse_one(templated.sql, dialect="duckdb"), relations)


@pytest.mark.parametrize("title, given, expected", PAIRS, ids=[p[0] for p in PAIRS])
def test_fixture(title, given, expected):
    assert fmt(given) == expected


@pytest.mark.parametrize("title, given, expected", PAIRS, ids=[p[0] for p in PAIRS])
def test_fixture_expected_is_a_fixed_point(title, given, expected):
    assert fmt(expected) == expected


# -- semantics: the formatted SQL returns what the proposal returns ------------------------

INVOICES = "{{ ref('stg_billing__invoices') }}"
CUSTOMERS = "{{ ref('stg_crm__customers') }}"
RAW = "{{ source('billing', 'invoices') }}"


def load_statements(path: Path) -> dict[str, str]:
    """title -> SQL from a file of `--# title` lines each followed by one `;`-ended query."""
    statements, title, current = {}, "", []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("--#"):
            title = line[3:].strip()
        elif title and line.rstrip().endswith(";") and not line.lstrip().startswith("--"):
            current.append(line.rstrip()[:-1])
            statements[title] = "\n".join(current).strip()
            title, current = "", []
        elif title:
            current.append(line)
    return statements


# Joins, subqueries, set operations, windows, structs, lists, lambdas, qualify, exclude,
# and DuckDB functions sqlglot might rewrite: every one must keep its rows.
QUERIES = load_statements(FIXTURES.parent / "sqlformat_semantics.sql")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("format") / "warehouse.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture(scope="module")
def sandbox(warehouse):
    with Sandbox(warehouse, DATABASE, timeout_s=20) as box:
        yield box


def _ordered(sql: str) -> bool:
    tree = sqlglot.parse_one(untemplate(sql)[0].sql, dialect="duckdb")
    return tree.args.get("order") is not None


def result(sandbox, catalog, sql: str):
    """Column names and types as the rows carry them, and the rows (a multiset unless the
    query orders them)."""
    runnable = executable_sql(make_context(sql, catalog))
    materialised = sandbox.materialise(runnable)
    rows = [tuple(map(repr, row)) for row in sandbox.execute(f"select * from {RESULT_TABLE}")]
    if _ordered(sql):
        rows = [tuple(map(repr, row)) for row in sandbox.execute(runnable)]
    else:
        rows.sort()
    return materialised.columns, rows


CORPUS = {**QUERIES, **{f"fixture: {title}": given for title, given, _ in PAIRS}}


@pytest.mark.parametrize("sql", list(CORPUS.values()), ids=list(CORPUS))
def test_formatting_keeps_the_result(sandbox, warehouse, sql):
    catalog = catalog_for(warehouse)
    formatted = fmt(sql)
    original = result(sandbox, catalog, sql)
    assert result(sandbox, catalog, formatted) == original, formatted
    # dbt's contract check DESCRIBEs the written (formatted) model; it must see the names
    # and types the dry run recorded from the proposal.
    described = sandbox.describe(executable_sql(make_context(formatted, catalog)))
    assert described == original[0]


@pytest.mark.parametrize("sql", list(CORPUS.values()), ids=list(CORPUS))
def test_formatting_is_idempotent_and_deterministic(sql):
    once = fmt(sql)
    assert fmt(sql) == once
    assert fmt(once) == once


@pytest.mark.parametrize("sql", list(CORPUS.values()), ids=list(CORPUS))
def test_formatting_follows_dbt_style(sql):
    formatted = fmt(sql)
    assert formatted.endswith("\n") and not formatted.endswith("\n\n")
    code = re.sub(r"'(?:[^']|'')*'|\"[^\"]*\"|/\*.*?\*/|\{\{.*?\}\}", "", formatted, flags=re.S)
    for keyword in ("SELECT", "FROM", "WHERE", "JOIN", "GROUP BY", "ORDER BY", " AS ", "CASE"):
        assert keyword not in code
    for line in formatted.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 4 == 0, line
        assert "\t" not in line
        assert not line.startswith(",") and not line.lstrip().startswith(", "), line
    refs = re.findall(r"\{\{ (?:ref|source)\(.*?\) \}\}", formatted)
    # Every ref()/source() is read once, in an import CTE of its own.
    assert len(refs) == len(set(refs))
    for ref in refs:
        assert re.search(rf"\n\w+ as \(\n\n    select \* from {re.escape(ref)}\n\n\)", formatted)


# -- import CTE names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, entity",
    [
        ("{{ ref('stg_billing__invoices') }}", "invoices"),
        ("{{ ref('stg_payments') }}", "payments"),
        ("{{ ref('int_invoices_paid') }}", "invoices_paid"),
        ("{{ ref('customers') }}", "customers"),
        ("{{ source('billing', 'invoices') }}", "invoices"),
        ("{{ ref('orders', v=2) }}", "orders"),
        ("{{ source('raw', 'Order Items') }}", "order_items"),
        ("{{ source('raw', '2024-orders') }}", "t_2024_orders"),
    ],
)
def test_entity_names(call, entity):
    assert entity_name(untemplate(call)[0].calls[0]) == entity


def import_ctes(formatted: str) -> dict[str, str]:
    """Import CTE name -> the Jinja call it reads."""
    pattern = r"\n(\w+) as \(\n\n    select \* from (\{\{ .*? \}\})\n\n\)"
    return dict(re.findall(pattern, "\n" + formatted))


def test_clashing_names_take_the_next_candidate():
    sql = (
        f"with invoices as (select invoice_id from {INVOICES} where status = 'paid') "
        f"select i.invoice_id, r.status, o.customer_id from invoices i "
        f"join {RAW} r using (invoice_id) join {{{{ ref('order') }}}} o using (invoice_id)"
    )
    assert import_ctes(fmt(sql)) == {
        "billing_invoices": INVOICES,  # `invoices` is the proposal's own CTE
        "invoices_2": RAW,  # `invoices` and `billing_invoices` are taken
        "order_2": "{{ ref('order') }}",  # `order` is reserved in DuckDB
    }


def test_two_versions_of_a_model_get_two_import_ctes():
    sql = (
        "select a.customer_id, a.amount - b.amount as change "
        "from {{ ref('invoice_totals') }} a join {{ ref('invoice_totals', v=1) }} b "
        "using (customer_id)"
    )
    assert import_ctes(fmt(sql)) == {
        "invoice_totals": "{{ ref('invoice_totals') }}",
        "invoice_totals_v1": "{{ ref('invoice_totals', v=1) }}",
    }


def test_output_does_not_depend_on_hash_seeds():
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, sys; sys.path.insert(0, '.');"
        "from tests.test_sqlformat import CORPUS, fmt;"
        "print(json.dumps([fmt(sql) for sql in CORPUS.values()]))"
    )
    outputs = []
    for seed in ("1", "2"):
        run = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent.parent,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.append(json.loads(run.stdout))
    assert outputs[0] == outputs[1] == [fmt(sql) for sql in CORPUS.values()]


def test_relation_identifier_is_kept_for_unaliased_refs(warehouse):
    # dbt renders ref('invoices_model') to the warehouse identifier; columns qualified by
    # that identifier must keep resolving once the ref reads through an import CTE.
    sql = "select stg_billing__invoices.invoice_id from {{ ref('invoices_alias') }}"
    templated = untemplate(sql)[0]
    catalog = catalog_for(warehouse)
    relation = catalog.ref("stg_billing__invoices")
    formatted = format_sql(
        templated,
        sqlglot.parse_one(templated.sql, dialect="duckdb"),
        {templated.calls[0].placeholder: relation},
    )
    assert "from invoices_alias as stg_billing__invoices" in formatted


def test_private_use_characters_in_literals_survive():
    sql = "select '\ue000x\ue001' as marked from {{ ref('stg_crm__customers') }}"
    assert "'\ue000x\ue001' as marked" in fmt(sql)

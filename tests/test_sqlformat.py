"""The dbt-style formatter: fixtures, idempotence, determinism and same rows in DuckDB."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot

from generator.sandbox import RESULT_TABLE, Sandbox, executable_sql
from generator.sqlformat import entity_name, format_sql
from generator.templating import untemplate
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
PAID = "{{ ref('int_invoices_paid') }}"
RAW = "{{ source('billing', 'invoices') }}"

QUERIES = {
    "plain": f"select invoice_id, amount from {INVOICES}",
    "unaliased qualifier": (
        f"select stg_billing__invoices.invoice_id, stg_billing__invoices.amount * 2 as doubled "
        f"from {INVOICES}"
    ),
    "ref twice, two aliases": (
        f"select a.invoice_id, b.invoice_id as next_id from {INVOICES} a "
        f"join {INVOICES} b on b.invoice_id = a.invoice_id + 1"
    ),
    "self join on customer": (
        f"select a.customer_id, count(*) as pairs from {INVOICES} as a, {INVOICES} as b "
        "where a.customer_id = b.customer_id and a.invoice_id < b.invoice_id group by all"
    ),
    "source and ref": (
        f"select r.invoice_id, r.status, i.amount from {RAW} r join {INVOICES} i using (invoice_id)"
    ),
    "subqueries": (
        f"select customer_id, total from (select customer_id, sum(amount) as total from {INVOICES} "
        f"group by customer_id) t where total > (select avg(amount) from {INVOICES}) "
        f"and customer_id in (select customer_id from {CUSTOMERS} where region = 'eu')"
    ),
    "exists": (
        f"select c.customer_id from {CUSTOMERS} c where exists (select 1 from {PAID} p "
        "where p.customer_id = c.customer_id) and not exists (select 1 from "
        f"{INVOICES} i where i.customer_id = c.customer_id and i.amount > 480)"
    ),
    "union": (
        f"select invoice_id, 'paid' as kind from {PAID} union all "
        f"select invoice_id, status from {INVOICES} where status <> 'paid' union "
        f"select customer_id, region from {CUSTOMERS}"
    ),
    "union by name": (
        f"select invoice_id, amount from {INVOICES} union all by name "
        f"select amount, invoice_id from {PAID}"
    ),
    "except and intersect": (
        f"(select customer_id from {INVOICES} except select customer_id from {PAID}) "
        f"intersect select customer_id from {CUSTOMERS}"
    ),
    "window functions": (
        f"select invoice_id, row_number() over (partition by customer_id order by amount desc, "
        "invoice_id) as rank_in_customer, sum(amount) over (partition by customer_id order by "
        "invoice_id rows between unbounded preceding and current row) as running, "
        "lag(amount, 1, 0) over w as previous, avg(amount) over (order by invoice_id range "
        f"between 2 preceding and 2 following) as smooth from {INVOICES} window w as "
        "(partition by status order by invoice_id)"
    ),
    "qualify": (
        f"select customer_id, invoice_id, amount from {INVOICES} qualify row_number() over "
        "(partition by customer_id order by amount desc) = 1"
    ),
    "exclude and replace": (
        f"select * exclude (tags, profile) replace (upper(region) as region) from {CUSTOMERS}"
    ),
    "structs": (
        "select customer_id, profile.tier as tier, profile['label'] as label, "
        "{'id': customer_id, 'Name': customer_name, 'nested': {'x': [1, 2]} } as packed, "
        f"struct_pack(a := 1, B := customer_id) as packed2 from {CUSTOMERS}"
    ),
    "lists and lambdas": (
        "select customer_id, tags, list_transform(tags, lambda t: upper(t)) as upper_tags, "
        "list_filter(tags, lambda t: t like 'v%') as v_tags, [x * 2 for x in [1, 2, customer_id]] "
        "as doubled, tags[1] as first_tag, tags[1:1] as first_slice, len(tags) as n, "
        f"list_reduce([1, 2, 3], lambda a, b: a + b) as reduced from {CUSTOMERS}"
    ),
    "unnest": (
        f"select customer_id, unnest(tags) as tag from {CUSTOMERS}"
    ),
    "case, casts and literals": (
        "select invoice_id, case when amount > 300 then 'large' when amount > 100 then "
        "'medium' else 'small' end as size, case status when 'paid' then 1 else 0 end as paid, "
        "amount::int as whole, cast(amount as varchar) as text, try_cast(status as int) as "
        "nothing, issued_at::date as issued_on, date_trunc('month', issued_at) as month, "
        "interval 3 day + issued_at::date as due, 7 // 2 as int_div, 2 ** 3 as power, "
        "'it''s' as quoted, e'a\\tb' as escaped, -amount as negative "
        f"from {INVOICES}"
    ),
    "aggregates": (
        "select status, count(*) as n, count(distinct customer_id) as customers, "
        "sum(amount) filter (where customer_id > 2) as big_customers, "
        "string_agg(invoice_id::varchar, ',' order by invoice_id) as ids, "
        "list(invoice_id order by invoice_id desc)[1] as last_id, "
        "arg_max(invoice_id, amount) as top, quantile_cont(amount, 0.5) as median "
        f"from {INVOICES} group by status having count(*) > 1"
    ),
    "group by all, order by all": (
        f"select status, customer_id % 2 as parity, sum(amount) as total from {INVOICES} "
        "group by all order by all"
    ),
    "grouping sets": (
        f"select status, customer_id, sum(amount) as total from {INVOICES} "
        "group by grouping sets ((status), (customer_id), ())"
    ),
    "existing ctes and shadowing": (
        f"with invoices as (select * from {INVOICES} where status = 'paid'), "
        "totals as (select customer_id, sum(amount) as total from invoices group by 1) "
        f"select t.customer_id, t.total, c.region from totals t join {CUSTOMERS} c "
        "using (customer_id)"
    ),
    "nested with": (
        "select * from (with x as (select customer_id, amount from "
        f"{INVOICES}) select customer_id, max(amount) as top from x group by customer_id)"
    ),
    "order by with limit": (
        f"select invoice_id, amount from {INVOICES} order by amount desc, invoice_id limit 5 "
        "offset 2"
    ),
    "distinct on": (
        f"select distinct on (customer_id) customer_id, invoice_id from {INVOICES} "
        "order by customer_id, invoice_id desc"
    ),
    "case-sensitive aliases": (
        f"select invoice_id as InvoiceId, amount * 1 as \"Amount Due\", status as Status "
        f"from {INVOICES}"
    ),
    "comments": (
        "-- revenue per customer\nselect\n    customer_id, -- the key\n    sum(amount) as "
        f"revenue /* money */\nfrom {INVOICES}\ngroup by customer_id"
    ),
    "string functions and regex": (
        "select customer_id, regexp_replace(customer_name, '[0-9]+', '#') as masked, "
        "split_part(customer_name, ' ', 1) as first_word, customer_name || '!' as shout, "
        "concat_ws('-', region, customer_id) as code, customer_name ilike 'CUST%' as is_cust, "
        "strftime(date '2024-01-02', '%Y/%m') as fmt, coalesce(nullif(region, 'eu'), 'n/a') "
        f"as region_or_na from {CUSTOMERS}"
    ),
    "lateral-ish correlated": (
        f"select c.customer_id, (select max(amount) from {INVOICES} i where i.customer_id = "
        f"c.customer_id) as biggest from {CUSTOMERS} c"
    ),
    "versioned-looking names": (
        f"select p.invoice_id, p.amount from {PAID} as p where p.amount between 10 and 400 "
        "and p.status in ('paid', 'void') and p.invoice_id is not null"
    ),
    "from first": f"from {CUSTOMERS} select customer_id, region",
    "two versions": (
        "select a.customer_id, a.amount - b.amount as change, a.invoices "
        "from {{ ref('invoice_totals') }} a join {{ ref('invoice_totals', v=1) }} b "
        "using (customer_id)"
    ),
    "pivot": (
        f"pivot (select status, customer_id, amount from {INVOICES}) on status using sum(amount) "
        "group by customer_id"
    ),
}


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

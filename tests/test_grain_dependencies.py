"""Grain from the SQL, grouped finer than the grain: every grouping expression must be determined
by the grain, followed through CTEs, lossless casts and upstream models' own SQL."""

from __future__ import annotations

import duckdb
import pytest

from generator.gates.binding import BindingRule as Binding
from generator.gates.dry_run import DryRun
from generator.gates.grain import Grain
from generator.project.catalog import Catalog
from generator.project.sandbox import Sandbox
from generator.sql.dependencies import dependencies
from generator.sql.grain import grain_evidence
from generator.sql.scope import analyze
from tests.sandbox_support import DATABASE, build_warehouse, make_context

INVOICES = "{{ ref('stg_billing__invoices') }}"
CUSTOMERS = "{{ ref('stg_crm__customers') }}"
WITH_CUSTOMERS = "{{ ref('int_invoices_with_customers') }}"
WITH_SEGMENTS = "{{ ref('int_invoices_with_segments') }}"

# Upstream models: their SQL files (what the analysis reads) and the views dbt would build.
MODELS = {
    # A left join to customers on their unique key: customer_id determines region.
    "int_invoices_with_customers": (
        "select\n    invoices.invoice_id,\n    invoices.customer_id,\n    invoices.amount,\n    customers.region\n"
        f"from {INVOICES} as invoices\nleft join {CUSTOMERS} as customers\n"
        "    on invoices.customer_id = customers.customer_id\n"
    ),
    # A lookup on a column nothing says is unique: one segment per customer today only.
    "int_invoices_with_segments": (
        "select invoices.invoice_id, invoices.customer_id, invoices.amount, segments.segment\n"
        f"from {INVOICES} as invoices\n"
        "left join {{ ref('stg_crm__segments') }} as segments on segments.customer_id = invoices.customer_id\n"
    ),
    # A model that reads itself (dbt refuses it; the analysis must not loop on it).
    "int_loop": (
        "select loop.customer_id, customers.region\n"
        "from {{ ref('int_loop') }} as loop\n"
        f"left join {CUSTOMERS} as customers on loop.customer_id = customers.customer_id\n"
    ),
    # A config() call and a comment render to nothing: the join below is what dbt compiles.
    "int_invoices_configured": (
        "{{ config(materialized='view', tags=['billing']) }}\n{# one region per customer #}\n"
        "select invoices.invoice_id, invoices.customer_id, invoices.amount, customers.region\n"
        f"from {INVOICES} as invoices\nleft join {CUSTOMERS} as customers\n"
        "    on invoices.customer_id = customers.customer_id\n"
    ),
    # Other Jinja: what the SQL is depends on dbt, so nothing is known about it.
    "int_invoices_macro": (
        f"select invoice_id, customer_id, amount, {{{{ region_of('customer_id') }}}} as region\nfrom {INVOICES}\n"
    ),
}

VIEWS = """
create table main.stg_crm__segments as
    select range as customer_id, ['small', 'large'][1 + range % 2] as segment from range(7);
create view main.int_invoices_with_customers as
    select i.invoice_id, i.customer_id, i.amount, c.region
    from main.stg_billing__invoices as i left join main.stg_crm__customers as c on i.customer_id = c.customer_id;
create view main.int_invoices_with_segments as
    select i.invoice_id, i.customer_id, i.amount, s.segment
    from main.stg_billing__invoices as i left join main.stg_crm__segments as s on s.customer_id = i.customer_id;
create view main.int_invoices_configured as
    select i.invoice_id, i.customer_id, i.amount, c.region
    from main.stg_billing__invoices as i left join main.stg_crm__customers as c on i.customer_id = c.customer_id;
create view main.int_invoices_macro as
    select i.invoice_id, i.customer_id, i.amount, c.region
    from main.stg_billing__invoices as i left join main.stg_crm__customers as c on i.customer_id = c.customer_id;
"""


def typed(*columns: tuple[str, str], unique: str | None = None) -> list[dict]:
    return [{"name": name, "data_type": kind, "unique": name == unique} for name, kind in columns]


INVOICE_COLUMNS = (("invoice_id", "bigint"), ("customer_id", "bigint"), ("amount", "decimal(18,2)"))


def catalog_with_models(path) -> Catalog:
    """The small warehouse with its keys tested, and the upstream models above as files."""
    models = path.parent / "models"
    models.mkdir()
    for name, sql in MODELS.items():
        (models / f"{name}.sql").write_text(sql)
    return Catalog.from_dict(
        {
            "project_name": "acme",
            "project_dir": str(path.parent),
            "database_path": str(path),
            "relations": [
                {
                    "name": "stg_billing__invoices",
                    "database": DATABASE,
                    "columns": typed(
                        *INVOICE_COLUMNS,
                        ("issued_at", "timestamp with time zone"),
                        ("status", "varchar"),
                        unique="invoice_id",
                    ),
                },
                {
                    "name": "stg_crm__customers",
                    "database": DATABASE,
                    "columns": typed(
                        ("customer_id", "bigint"),
                        ("customer_name", "varchar"),
                        ("region", "varchar"),
                        unique="customer_id",
                    ),
                },
                {
                    "name": "stg_crm__segments",
                    "database": DATABASE,
                    "columns": typed(("customer_id", "bigint"), ("segment", "varchar")),
                },
                *(
                    {
                        "name": name,
                        "database": DATABASE,
                        "original_file_path": f"models/{name}.sql",
                        "columns": typed(*INVOICE_COLUMNS, ("segment" if "segments" in name else "region", "varchar")),
                    }
                    for name in MODELS
                    if name != "int_loop"
                ),
                {
                    "name": "int_loop",
                    "original_file_path": "models/int_loop.sql",
                    "columns": typed(("customer_id", "bigint"), ("region", "varchar")),
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    path = tmp_path_factory.mktemp("grain_dependencies") / "warehouse.duckdb"
    build_warehouse(path)
    connection = duckdb.connect(str(path))
    try:
        connection.execute(VIEWS)
    finally:
        connection.close()
    catalog = catalog_with_models(path)
    with Sandbox(path, DATABASE, timeout_s=20) as box:
        yield catalog, box


def grain_check(setup, sql, columns, grain, allow=False):
    catalog, sandbox = setup
    ctx = make_context(sql, catalog, columns=columns, grain=grain, sandbox=sandbox)
    ctx.allow_observed_grain = allow
    assert Binding().check(ctx) == []
    assert DryRun().check(ctx) == []
    return ctx, Grain().check(ctx)


ACCEPTED = {
    "a CTE column its join to a unique key determines": (
        "with enriched as (\n"
        "    select invoices.customer_id, customers.region, invoices.amount\n"
        f"    from {INVOICES} as invoices\n"
        f"    join {CUSTOMERS} as customers on invoices.customer_id = customers.customer_id\n"
        ")\n"
        "select customer_id, region, sum(amount) as amount\nfrom enriched\ngroup by customer_id, region",
        ["customer_id", "region", "amount"],
        ["customer_id"],
    ),
    "a day truncated in a CTE, cast to date": (
        "with daily as (\n"
        f"    select customer_id, date_trunc('day', issued_at) as day_start, amount from {INVOICES}\n"
        ")\n"
        "select customer_id, cast(day_start as date) as issued_on, sum(amount) as amount\n"
        "from daily\ngroup by customer_id, day_start",
        ["customer_id", "issued_on", "amount"],
        ["customer_id", "issued_on"],
    ),
    "months of a series of months, cast to date": (
        "with months as (\n"
        "    select customer_id, unnest(generate_series(\n"
        "        date_trunc('month', issued_at), date_trunc('month', issued_at), interval 1 month\n"
        f"    )) as month_start\n    from {INVOICES}\n"
        ")\n"
        "select customer_id, cast(month_start as date) as month, count(*) as invoices\n"
        "from months\ngroup by customer_id, month_start",
        ["customer_id", "month", "invoices"],
        ["customer_id", "month"],
    ),
    "an integer widened": (
        f"select cast(customer_id as bigint) as customer, count(*) as invoices\nfrom {INVOICES}\ngroup by customer_id",
        ["customer", "invoices"],
        ["customer"],
    ),
    "an upstream model's left join to a unique key": (
        f"select customer_id, region, sum(amount) as amount\nfrom {WITH_CUSTOMERS}\ngroup by customer_id, region",
        ["customer_id", "region", "amount"],
        ["customer_id"],
    ),
    "an upstream model with a config() call and a comment": (
        "select customer_id, region, sum(amount) as amount\n"
        "from {{ ref('int_invoices_configured') }}\ngroup by customer_id, region",
        ["customer_id", "region", "amount"],
        ["customer_id"],
    ),
}


@pytest.mark.parametrize("sql, columns, grain", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_grouping_by_what_the_grain_determines_is_accepted(setup, sql, columns, grain):
    ctx, problems = grain_check(setup, sql, columns, grain)
    assert problems == [] and ctx.observed_grain is None


REFUSED = {
    "a column the grain does not determine": (
        f"select customer_id, sum(amount) as amount\nfrom {INVOICES}\nwhere invoice_id < 7\n"
        "group by customer_id, status",
        ["customer_id", "amount"],
        ["customer_id"],
        "grouped by status, which (customer_id) does not determine",
        (4, 23),
    ),
    "an upstream model's lookup on a key nothing says is unique": (
        f"select customer_id, segment, sum(amount) as amount\nfrom {WITH_SEGMENTS}\ngroup by customer_id, segment",
        ["customer_id", "segment", "amount"],
        ["customer_id"],
        "grouped by segment, which (customer_id) does not determine",
        (3, 23),
    ),
    "an upstream model with other Jinja": (
        "select customer_id, region, sum(amount) as amount\n"
        "from {{ ref('int_invoices_macro') }}\ngroup by customer_id, region",
        ["customer_id", "region", "amount"],
        ["customer_id"],
        "grouped by region, which (customer_id) does not determine",
        (3, 23),
    ),
    "a lossy cast: a timestamp cast to its day": (
        f"select cast(issued_at as date) as issued_on, count(*) as invoices\nfrom {INVOICES}\ngroup by issued_at",
        ["issued_on", "invoices"],
        ["issued_on"],
        "grouped by issued_at, which (issued_on) does not determine",
        (3, 10),
    ),
}


@pytest.mark.parametrize("sql, columns, grain, reason, where", list(REFUSED.values()), ids=list(REFUSED))
def test_grouping_by_what_the_grain_does_not_determine_is_refused_where_it_is(
    setup, sql, columns, grain, reason, where
):
    _, [problem] = grain_check(setup, sql, columns, grain)
    shown = ", ".join(grain)
    assert problem.message == (
        f"the grain ({shown}) is unique in today's data, but the SQL does not guarantee it: {reason}"
    )
    assert (problem.line, problem.col) == where
    assert problem.suggestion.startswith("Add ")
    assert "--allow-observed-grain" in problem.suggestion


def test_allow_observed_grain_accepts_a_finer_grouping_and_says_why(setup):
    sql, columns, grain, reason, _ = REFUSED["an upstream model's lookup on a key nothing says is unique"]
    ctx, problems = grain_check(setup, sql, columns, grain, allow=True)
    assert problems == []
    assert ctx.observed_grain == reason


def test_only_a_cast_that_cannot_merge_values_is_an_equality(setup):
    catalog, _ = setup
    sql = (
        f"with small as (select cast(customer_id as int) as id, amount, issued_at from {INVOICES})\n"
        "select cast(id as bigint) as wide, cast(id as smallint) as narrow, cast(amount as int) as whole,\n"
        "    cast(issued_at as date) as day, cast(date_trunc('week', issued_at) as date) as week, id\n"
        "from small"
    )
    ctx = make_context(sql, catalog)
    analysis = analyze(ctx)
    top = next(info for info in analysis.selects if info.node is ctx.tree)
    search = dependencies(analysis)
    lossless = {o.name: search.lossless_inner(analysis, o.expression) is not None for o in top.outputs}
    assert lossless == {"wide": True, "narrow": False, "whole": False, "day": False, "week": True, "id": False}


def test_an_upstream_model_is_analysed_once_per_analysis(setup):
    catalog, _ = setup
    ctx = make_context(f"select customer_id, region from {WITH_CUSTOMERS}", catalog)
    analysis = analyze(ctx)
    search = dependencies(analysis)
    assert search is dependencies(analysis)
    relation = catalog.ref("int_invoices_with_customers")
    first = search.model(relation)
    assert first is not None and search.model(relation) is first


def test_a_model_that_reads_itself_is_followed_without_looping(setup):
    catalog, _ = setup
    sql = "select customer_id, region, count(*) as rows\nfrom {{ ref('int_loop') }}\ngroup by customer_id, region"
    ctx = make_context(sql, catalog, columns=["customer_id", "region", "rows"])
    # Its own join to customers on their key says region; reading itself again adds nothing.
    assert grain_evidence(analyze(ctx), ctx.tree, ["customer_id"]).implied


# -- through the CLI, on a project we did not write ----------------------------------------

PAID_ORDERS = {
    "name": "paid_orders",
    "layer": "marts",
    "description": "What was paid per order.",
    "grain": ["order_id"],
    # Grouped by customer_id too: the CTE joins orders on their unique order_id.
    "sql": (
        "with payments as (\n"
        "    select payments.order_id, orders.customer_id, payments.amount\n"
        "    from {{ ref('stg_payments') }} as payments\n"
        "    join {{ ref('stg_orders') }} as orders on orders.order_id = payments.order_id\n"
        ")\n\n"
        "select order_id, customer_id, sum(amount) as paid_amount\n"
        "from payments\n"
        "group by order_id, customer_id\n"
    ),
    "columns": [
        {"name": "order_id", "description": "The order."},
        {"name": "customer_id", "description": "Who placed it."},
        {"name": "paid_amount", "description": "What was paid for it."},
    ],
}

ORDERS_BY_NAME = {
    "name": "orders_by_name",
    "layer": "marts",
    "description": "Orders per customer name.",
    # Unique among today's customers, but grouped by the id: two customers may share a name.
    "grain": ["first_name", "last_name"],
    "sql": (
        "select customers.first_name, customers.last_name, count(orders.order_id) as order_count\n"
        "from {{ ref('stg_customers') }} as customers\n"
        "left join {{ ref('stg_orders') }} as orders on orders.customer_id = customers.customer_id\n"
        "group by customers.customer_id, customers.first_name, customers.last_name\n"
    ),
    "columns": [
        {"name": "first_name", "description": "First name."},
        {"name": "last_name", "description": "Last name."},
        {"name": "order_count", "description": "Their orders."},
    ],
}


@pytest.mark.dbt
def test_apply_follows_a_cte_and_refuses_a_grouping_the_grain_does_not_determine(shop_project_with_package, tmp_path):
    import yaml
    from click.testing import CliRunner

    from generator.cli import cli

    project = shop_project_with_package
    paid, by_name = tmp_path / "paid_orders.yml", tmp_path / "orders_by_name.yml"
    paid.write_text(yaml.safe_dump(PAID_ORDERS, sort_keys=False))
    by_name.write_text(yaml.safe_dump(ORDERS_BY_NAME, sort_keys=False))

    accepted = CliRunner().invoke(cli, ["apply", str(paid), "--project-dir", str(project)])
    assert accepted.exit_code == 0, accepted.output
    written = yaml.safe_load((project / "models" / "marts" / "paid_orders.yml").read_text())
    [version] = written["models"][0]["versions"]
    [grain_test] = [t for t in version["data_tests"] if "gen_model.unique_combination_of_columns" in str(t)]
    assert "warn" not in str(grain_test)

    refused = CliRunner().invoke(cli, ["apply", str(by_name), "--project-dir", str(project)])
    assert refused.exit_code == 1, refused.output
    assert (
        "orders_by_name.yml#sql:4:10: [grain] the grain (first_name, last_name) is unique in today's data, but the SQL "
        "does not guarantee it: grouped by customers.customer_id, which (first_name, last_name) does not determine"
    ) in refused.stderr
    assert "Traceback" not in refused.output
    assert not (project / "models" / "marts" / "orders_by_name_v1.sql").exists()

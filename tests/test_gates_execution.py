"""The execution gates: dry_run, grain, finite and contract, on a real DuckDB warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from generator.gates import GATES
from generator.gates.contract import Contract, contract_columns
from generator.gates.dry_run import DryRun
from generator.gates.finite import Finite
from generator.gates.grain import Grain
from generator.project.sandbox import Sandbox, SandboxQueryError, lowercase_type
from generator.sql.context import DryRunResult, ResultColumn
from tests.sandbox_support import DATABASE, build_warehouse, make_context

INVOICES = "{{ ref('stg_billing__invoices') }}"
CUSTOMERS = "{{ ref('stg_crm__customers') }}"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gates") / "warehouse.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture(scope="module")
def catalog(warehouse):
    from tests.sandbox_support import catalog_for

    return catalog_for(warehouse)


@pytest.fixture(scope="module")
def sandbox(warehouse):
    with Sandbox(warehouse, DATABASE, timeout_s=20) as box:
        yield box


def run(ctx, *rules):
    """Run rules in order, stopping at the first that fails (as run_gates would skip)."""
    for rule in rules:
        problems = rule.check(ctx)
        if problems:
            return rule.name, problems
    return None, []


def test_gates_are_appended_in_order_with_their_prerequisites():
    names = [rule.name for rule in GATES]
    assert names[-4:] == ["dry_run", "grain", "finite", "contract"]
    assert set(DryRun.requires) == {"parse", "references", "binding", "safety", "determinism"}
    assert Grain.requires == Finite.requires == Contract.requires == ("dry_run",)
    for rule in (DryRun, Grain, Finite, Contract):
        assert rule.summary()


# -- dry_run -----------------------------------------------------------------------------


def test_dry_run_records_duckdb_types_and_row_count(sandbox, catalog):
    sql = f"""
select
    i.invoice_id,
    i.amount,
    i.issued_at,
    c.tags,
    c.profile,
    sum(i.customer_id) over (partition by i.status) as customer_id_sum,
    {{'Label': c.customer_name, 'n': 1}} as labelled
from {INVOICES} as i
join {CUSTOMERS} as c on c.customer_id = i.customer_id
"""
    columns = [
        "invoice_id",
        "amount",
        "issued_at",
        "tags",
        "profile",
        "customer_id_sum",
        "labelled",
    ]
    ctx = make_context(sql, catalog, columns=columns, sandbox=sandbox)
    assert run(ctx, DryRun(), Grain(), Contract()) == (None, [])
    assert ctx.result.row_count == 40
    assert ctx.result.elapsed_s > 0
    assert [(c.name, c.data_type) for c in ctx.result.columns] == [
        ("invoice_id", "bigint"),
        ("amount", "decimal(18,2)"),
        ("issued_at", "timestamp with time zone"),
        ("tags", "varchar[]"),
        ("profile", 'struct(tier bigint, "label" varchar)'),
        ("customer_id_sum", "hugeint"),
        ("labelled", 'struct("Label" varchar, n integer)'),
    ]


def test_dry_run_reports_duckdb_errors_at_the_proposal_line(sandbox, catalog):
    sql = f"select\n    invoice_id,\n    cast(status as int) as status_code\nfrom {INVOICES}"
    ctx = make_context(sql, catalog, columns=["invoice_id", "status_code"], sandbox=sandbox)
    [problem] = DryRun().check(ctx)
    assert problem.rule == "dry_run"
    assert problem.message.startswith("DuckDB could not run the proposal: Conversion Error: Could not convert string")
    assert (problem.line, problem.col) == (3, 5)
    assert problem.highlight.splitlines()[1].strip() == "^" * len("cast(status as int)")
    assert "try_cast" in problem.suggestion
    assert ctx.result is None


def test_dry_run_maps_columns_back_across_a_relation_name(sandbox, catalog):
    # The relation name dbt renders is longer than the ref() call; the column DuckDB
    # reports is in the executed SQL and must be moved back to the proposal's text.
    sql = f"select * from {CUSTOMERS} as c where cast(c.customer_name as int) = 1"
    ctx = make_context(sql, catalog, columns=["customer_id"], sandbox=sandbox)
    [problem] = DryRun().check(ctx)
    assert problem.col == sql.index("cast(c.customer_name") + 1
    assert problem.line == 1


def test_dry_run_interrupts_a_slow_query(sandbox, catalog):
    sql = f"select count(*) as n from {INVOICES} as a, range(1000000000000) as r"
    ctx = make_context(sql, catalog, columns=["n"], sandbox=sandbox, timeout_s=0.3)
    [problem] = DryRun().check(ctx)
    assert problem.message == "the dry run did not finish within 0.3 s and was interrupted"
    assert "join" in problem.suggestion


def test_dry_run_refuses_file_access_even_if_earlier_gates_missed_it(sandbox, catalog):
    ctx = make_context("select * from read_csv('/etc/passwd')", catalog, sandbox=sandbox)
    [problem] = DryRun().check(ctx)
    assert "Permission Error" in problem.message
    assert "ref()" in problem.suggestion


def test_dry_run_says_to_build_a_relation_the_warehouse_lacks(sandbox, catalog):
    sql = "select refund_id\nfrom {{ ref('stg_billing__refunds') }}"
    ctx = make_context(sql, catalog, columns=["refund_id"], sandbox=sandbox)
    [problem] = DryRun().check(ctx)
    assert "Catalog Error: Table with name stg_billing__refunds does not exist" in problem.message
    assert problem.suggestion == (
        "ref('stg_billing__refunds') is not in the warehouse yet; build it first: "
        "dbt build --select stg_billing__refunds."
    )
    assert (problem.line, problem.col) == (2, 6)


def test_dry_run_reads_attached_databases(tmp_path, warehouse):
    from generator.project.catalog import Catalog

    crm = tmp_path / "crm.duckdb"
    connection = duckdb.connect(str(crm))
    connection.execute("create table accounts as select 7 as account_id, 'acme' as name")
    connection.close()
    catalog = Catalog.from_dict(
        {
            "project_name": "acme",
            "relations": [
                {"name": "stg_billing__invoices", "database": DATABASE},
                {
                    "resource_type": "source",
                    "source_name": "crm",
                    "name": "accounts",
                    "database": "crm",
                },
            ],
        }
    )
    sql = (
        "select a.name, count(*) as invoices\n"
        f"from {{{{ source('crm', 'accounts') }}}} as a\njoin {INVOICES} as i\n"
        "    on i.customer_id % 7 = a.account_id % 7\ngroup by a.name"
    )
    with Sandbox(warehouse, DATABASE, attachments=[(crm, "crm")]) as box:
        ctx = make_context(sql, catalog, columns=["name", "invoices"], grain=["name"], sandbox=box)
        assert run(ctx, DryRun(), Grain(), Contract()) == (None, [])
        assert box.execute("select * from gen_model_dry_run") == [("acme", 6)]
        with pytest.raises(SandboxQueryError):
            box.execute("insert into crm.accounts values (8, 'evil')")
    with Sandbox(warehouse, DATABASE) as box:
        ctx = make_context(sql, catalog, columns=["name", "invoices"], sandbox=box)
        [problem] = DryRun().check(ctx)
    assert problem.message == (
        "source('crm', 'accounts') lives in database 'crm', which the sandbox did not attach (it has warehouse)"
    )
    assert (problem.line, problem.col) == (2, 6)


def test_dry_run_without_a_sandbox_says_so(catalog):
    ctx = make_context(f"select invoice_id as id from {INVOICES}", catalog)
    [problem] = DryRun().check(ctx)
    assert "no sandbox" in problem.message


# -- finite ------------------------------------------------------------------------------


def finite_problems(sandbox, catalog, sql, columns):
    ctx = make_context(sql, catalog, columns=columns, sandbox=sandbox)
    assert DryRun().check(ctx) == []
    return Finite().check(ctx)


def test_finite_refuses_nan_and_infinity_from_a_division_by_zero_at_its_expression(sandbox, catalog):
    sql = (
        "select\n    customer_id,\n    count(*) filter (where status = 'nope')"
        " / count(*) filter (where status = 'nope') as nothing_share,\n"
        "    count(*) / count(*) filter (where status = 'nope') as per_nothing,\n"
        f"    count(*) / count(*) as one\nfrom {INVOICES}\ngroup by customer_id"
    )
    columns = ["customer_id", "nothing_share", "per_nothing", "one"]
    nan, infinite = finite_problems(sandbox, catalog, sql, columns)
    assert nan.rule == "finite" and nan.identifier == "nothing_share"
    assert nan.message == "column 'nothing_share' is NaN in 7 of 7 rows"
    assert (nan.line, nan.col) == (3, 5)
    assert "nullif(denominator, 0)" in nan.suggestion
    assert (
        infinite.identifier == "per_nothing" and infinite.message == "column 'per_nothing' is infinite in 7 of 7 rows"
    )
    assert (infinite.line, infinite.col) == (4, 5)


def test_finite_passes_nullif_guarded_divisions_and_leaves_other_types_alone(sandbox, catalog):
    sql = (
        f"select\n    customer_id,\n    count(*) filter (where status = 'nope') / nullif(count(*) filter "
        f"(where status = 'nope'), 0) as nothing_share,\n    cast('NaN' as varchar) as label,\n"
        f"    [cast('NaN' as double)] as listed\nfrom {INVOICES}\ngroup by customer_id"
    )
    assert finite_problems(sandbox, catalog, sql, ["customer_id", "nothing_share", "label", "listed"]) == []


# -- grain -------------------------------------------------------------------------------


def grain_problems(sandbox, catalog, sql, columns, grain):
    ctx = make_context(sql, catalog, columns=columns, grain=grain, sandbox=sandbox)
    assert DryRun().check(ctx) == []
    return Grain().check(ctx)


def test_grain_passes_for_a_key(sandbox, catalog):
    sql = f"select invoice_id, customer_id from {INVOICES}"
    columns = ["invoice_id", "customer_id"]
    assert grain_problems(sandbox, catalog, sql, columns, ["invoice_id"]) == []
    assert grain_problems(sandbox, catalog, sql, columns, ["customer_id", "invoice_id"]) == []


def test_grain_reports_duplicates_with_ordered_examples(sandbox, catalog):
    sql = f"select\n    customer_id,\n    status\nfrom {INVOICES}"
    [problem] = grain_problems(sandbox, catalog, sql, ["customer_id", "status"], ["customer_id"])
    # 40 invoices over 7 customers: customers 0-4 have 6 invoices, 5 and 6 have 5.
    assert problem.message == (
        "the grain (customer_id) is not unique: 7 key(s) occur more than once, in 40 of 40 "
        "rows; e.g. (customer_id=0) x6; (customer_id=1) x6; (customer_id=2) x6; "
        "(customer_id=3) x6; (customer_id=4) x6"
    )
    assert (problem.line, problem.col) == (2, 5)
    assert "Aggregate to one row per (customer_id)" in problem.suggestion


def test_grain_examples_render_compound_keys(sandbox, catalog):
    sql = f"select customer_id, status, issued_at::date as issued_on from {INVOICES}"
    sql += "\nunion all\n"
    sql += f"select customer_id, status, issued_at::date from {INVOICES} where invoice_id = 3"
    [problem] = grain_problems(
        sandbox,
        catalog,
        sql,
        ["customer_id", "status", "issued_on"],
        ["status", "issued_on", "customer_id"],
    )
    assert problem.message.endswith(
        "1 key(s) occur more than once, in 2 of 41 rows; e.g. (status='open', issued_on='2024-01-04', customer_id=3) x2"
    )


def test_grain_reports_null_keys(sandbox, catalog):
    sql = (
        f"select c.customer_id, i.invoice_id\nfrom {CUSTOMERS} as c\n"
        f"left join {INVOICES} as i on i.customer_id = c.customer_id and i.invoice_id < 5"
    )
    [problem] = grain_problems(sandbox, catalog, sql, ["customer_id", "invoice_id"], ["customer_id", "invoice_id"])
    assert problem.message == "grain column 'invoice_id' is null in 2 of 7 rows"
    assert "outer join" in problem.suggestion


def test_grain_column_missing_from_result_has_did_you_mean(sandbox, catalog):
    sql = f"select invoice_id, customer_id from {INVOICES}"
    [problem] = grain_problems(sandbox, catalog, sql, ["invoice_id", "customer_id"], ["invoice_idd"])
    assert problem.message == "grain column 'invoice_idd' is not a column of the query's result"
    assert problem.suggestion == "Did you mean 'invoice_id'?"


# -- contract ----------------------------------------------------------------------------


def contract_problems(sandbox, catalog, sql, columns):
    ctx = make_context(sql, catalog, columns=columns, sandbox=sandbox)
    assert DryRun().check(ctx) == []
    return Contract().check(ctx)


def test_contract_columns_for_the_writer(sandbox, catalog):
    sql = f"select invoice_id, amount, c.profile from {INVOICES}"
    sql += f" join {CUSTOMERS} c using (customer_id)"
    ctx = make_context(sql, catalog, columns=["invoice_id", "amount", "profile"], sandbox=sandbox)
    assert DryRun().check(ctx) == [] and Contract().check(ctx) == []
    assert contract_columns(ctx) == [
        ("invoice_id", "bigint", "the invoice_id"),
        ("amount", "decimal(18,2)", "the amount"),
        ("profile", 'struct(tier bigint, "label" varchar)', "the profile"),
    ]


def test_contract_reports_missing_and_extra_columns_with_did_you_mean(sandbox, catalog):
    sql = f"select\n    invoice_id,\n    amount,\n    status\nfrom {INVOICES}"
    problems = contract_problems(sandbox, catalog, sql, ["invoice_id", "amout", "issued_at"])
    messages = [(p.message, p.suggestion) for p in problems]
    assert messages == [
        (
            "column 'amout' is in the proposal's columns but the query does not return it",
            "Did you mean 'amount'?",
        ),
        (
            "column 'issued_at' is in the proposal's columns but the query does not return it",
            "Remove it from columns, or select it. The query returns: invoice_id, amount, status.",
        ),
        (
            "the query returns column 'amount', which is not in the proposal's columns",
            "Did you mean 'amout'?",
        ),
        (
            "the query returns column 'status', which is not in the proposal's columns",
            "Add it to columns (with a description) or drop it from the select.",
        ),
    ]
    assert [p.line for p in problems] == [None, None, 3, 4]


def test_contract_reports_order(sandbox, catalog):
    sql = f"select invoice_id, amount, status from {INVOICES}"
    [problem] = contract_problems(sandbox, catalog, sql, ["invoice_id", "status", "amount"])
    assert problem.message == (
        "columns are not in the order the query returns them: column 'status' is listed at "
        "position 2, where the query returns 'amount'"
    )
    assert problem.suggestion == "Did you mean the order invoice_id, amount, status?"


def test_contract_reports_case_differences(sandbox, catalog):
    # DuckDB keeps a column's own name when the alias differs only in case
    # (`amount as Amount` is `amount`), so the alias must name an expression.
    sql = f"select invoice_id, amount * 1 as Amount from {INVOICES}"
    [problem] = contract_problems(sandbox, catalog, sql, ["invoice_id", "amount"])
    assert problem.message.startswith("column 'amount' is returned as 'Amount'")
    assert problem.suggestion == "Did you mean 'Amount'?"


def test_contract_reports_untyped_nulls(sandbox, catalog):
    sql = f"select invoice_id, null as note from {INVOICES}"
    [problem] = contract_problems(sandbox, catalog, sql, ["invoice_id", "note"])
    assert problem.message == "column 'note' has no data type: it is an untyped null (\"NULL\")"
    assert problem.suggestion == "Cast it, e.g. cast(null as varchar) as note."


def test_contract_reports_duplicate_output_names(sandbox, catalog):
    sql = f"select invoice_id, amount, amount * 2 as amount from {INVOICES}"
    [problem] = contract_problems(sandbox, catalog, sql, ["invoice_id", "amount"])
    assert problem.message == "the select returns more than one column named 'amount'"


def test_contract_reports_a_real_column_that_looks_like_a_renamed_duplicate(sandbox, catalog):
    sql = f"select invoice_id, amount, amount * 2 as amount_2 from {INVOICES}"
    [problem] = contract_problems(sandbox, catalog, sql, ["invoice_id", "amount"])
    assert problem.message == ("the query returns column 'amount_2', which is not in the proposal's columns")


def test_contract_explains_duckdbs_rename_of_star_duplicates(sandbox, catalog):
    sql = f"select i.*, c.* from {INVOICES} i join {CUSTOMERS} c using (customer_id)"
    columns = [
        "invoice_id",
        "customer_id",
        "amount",
        "issued_at",
        "status",
        "customer_name",
        "region",
        "tags",
        "profile",
    ]
    [problem] = contract_problems(sandbox, catalog, sql, columns)
    assert problem.message == ("the query returns column 'customer_id_1', which is not in the proposal's columns")
    assert problem.suggestion.startswith("If two columns are called 'customer_id'")


@pytest.mark.parametrize(
    "alias, suggested",
    [('"Total Amount"', "total_amount"), ('"order"', "order_value"), ('"2nd"', "c_2nd")],
)
def test_contract_rejects_names_that_need_quoting(sandbox, catalog, alias, suggested):
    sql = f"select invoice_id, amount as {alias} from {INVOICES}"
    name = alias.strip('"')
    [problem] = contract_problems(sandbox, catalog, sql, ["invoice_id", name])
    assert problem.message.startswith(f"column name {name!r} needs quoting")
    assert problem.suggestion == f"Did you mean {suggested!r}?"


def test_contract_checks_each_type_survives_the_round_trip(sandbox, catalog):
    sql = f"select status from {INVOICES}"
    ctx = make_context(sql, catalog, columns=["status"], sandbox=sandbox)
    # DuckDB has no varchar(n): a type like this would be silently widened by dbt's cast.
    ctx.result = DryRunResult((ResultColumn("status", "varchar(10)"),), 40, 0.0)
    [problem] = Contract().check(ctx)
    assert "does not survive dbt's contract check (cast back it is 'varchar')" in problem.message


def test_lowercase_type_keeps_field_names_and_enum_values():
    assert lowercase_type('STRUCT(a INTEGER, B VARCHAR, "my field" STRUCT(X INTEGER)[])') == (
        'struct(a integer, B varchar, "my field" struct(X integer)[])'
    )
    assert lowercase_type("ENUM('Happy', 'sad')[]") == "enum('Happy', 'sad')[]"
    assert lowercase_type("MAP(VARCHAR, UNION(Num INTEGER, s VARCHAR))") == (
        "map(varchar, union(Num integer, s varchar))"
    )
    assert lowercase_type("TIMESTAMP WITH TIME ZONE") == "timestamp with time zone"


# -- the types against real dbt ----------------------------------------------------------

TRICKY_SQL = """
select
    1 as id,
    1.5::decimal(18, 2) as amount,
    sum(12.5) as summed_decimal,
    timestamptz '2024-01-01 10:00:00+00' as created_at,
    ['x', 'y'] as tags,
    {'a': 1, 'B': 'x', 'my field': 2} as payload,
    sum(1::bigint) as total,
    12345678901234567890123 as huge,
    [1, 2, 3]::int[3] as triple,
    map {'k': [1]} as mapping,
    'Happy'::enum('Happy', 'sad') as mood,
    {'x': [{'Y': 1}]} as nested,
    [{'K': 1}] as list_of_structs,
    uuid '00000000-0000-0000-0000-000000000001' as uid,
    interval 1 day as span,
    '{}'::json as doc,
    union_value(num := 2)::union(num int, str varchar) as either,
    time '10:00' as at_time,
    1::utinyint as tiny
"""


@pytest.mark.dbt
def test_contract_types_pass_dbt_duckdb_contract_enforcement(tmp_path):
    from generator.project import load_project
    from generator.project.catalog import Catalog
    from generator.project.dbt import invoke, release_duckdb

    project_dir = tmp_path / "typed"
    (project_dir / "models").mkdir(parents=True)
    (project_dir / "dbt_project.yml").write_text(
        "name: typed\nversion: '1.0'\nconfig-version: 2\nprofile: typed\nflags:\n  send_anonymous_usage_stats: false\n"
    )
    (project_dir / "profiles.yml").write_text(
        "typed:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: warehouse.duckdb\n      threads: 1\n"
    )
    warehouse = project_dir / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    catalog = Catalog(project_name="typed", project_dir=project_dir, database_path=warehouse)
    names = [line.rsplit(" as ", 1)[1].strip(",") for line in TRICKY_SQL.strip().splitlines()[1:]]
    release_duckdb()
    with Sandbox(warehouse, "warehouse") as box:
        ctx = make_context(TRICKY_SQL, catalog, columns=names, grain=["id"], sandbox=box)
        assert run(ctx, DryRun(), Grain(), Contract()) == (None, [])
        columns = contract_columns(ctx)

    def yaml_columns(columns):
        return [{"name": n, "data_type": t, "description": d} for n, t, d in columns]

    (project_dir / "models" / "typed_v1.sql").write_text(TRICKY_SQL)
    (project_dir / "models" / "typed_v2.sql").write_text(TRICKY_SQL)
    # The control: a plain .lower() of DuckDB's names, which must fail the contract.
    (project_dir / "models" / "typed_lowered.sql").write_text(TRICKY_SQL)
    lowered = [(n, t.lower(), d) for n, t, d in columns]
    assert lowered != columns
    contract = {"contract": {"enforced": True}}
    document = {
        "version": 2,
        "models": [
            {
                "name": "typed",
                "latest_version": 2,
                "config": {**contract, "materialized": "table"},
                "columns": yaml_columns(columns),
                "versions": [{"v": 1}, {"v": 2, "config": {"materialized": "view"}}],
            },
            {
                "name": "typed_lowered",
                "config": {**contract, "materialized": "table"},
                "columns": yaml_columns(lowered),
            },
        ],
    }
    (project_dir / "models" / "typed.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    outcome = invoke(load_project(project_dir), ["build"])
    nodes = {node.unique_id: node for node in outcome.nodes}
    for version in ("v1", "v2"):
        node = nodes[f"model.typed.typed.{version}"]
        assert node.status == "success", node.message
    control = nodes["model.typed.typed_lowered"]
    assert control.status == "error"
    failure = control.message
    assert "payload.B" in failure and "ENUM('Happy', 'sad')" in failure


SHOP = Path("/work/shared/corpora/shop_project")

SHOP_PROPOSAL = """
with payments as (
    select order_id, sum(amount) as paid from {{ ref('stg_payments') }} group by order_id
)
select
    o.customer_id,
    date_trunc('month', o.order_date) as order_month,
    count(*) as orders,
    sum(coalesce(p.paid, 0))::decimal(18, 2) as revenue,
    list(o.status order by o.order_id) as statuses
from {{ ref('stg_orders') }} o
left join payments p using (order_id)
group by all
"""


@pytest.mark.dbt
@pytest.mark.skipif(not SHOP.is_dir(), reason="the shop corpus is not on this machine")
def test_end_to_end_on_a_project_we_did_not_write(tmp_path):
    """Gates, formatter and contract on the shop project, then a real dbt build of the result."""
    import shutil

    from generator.project import load_project
    from generator.project.catalog import Catalog
    from generator.project.dbt import build, invoke
    from generator.sql.formatting import format_sql

    project_dir = tmp_path / "shop"
    shutil.copytree(SHOP, project_dir, ignore=shutil.ignore_patterns("*.duckdb", "target", "logs"))
    project = load_project(project_dir)
    assert invoke(project, ["build"]).success
    catalog = Catalog.from_dict(
        {
            "project_name": "shop",
            "project_dir": str(project_dir),
            "relations": [
                {"name": name, "database": "shop"} for name in ("stg_orders", "stg_payments", "stg_customers")
            ],
        }
    )
    columns = ["customer_id", "order_month", "orders", "revenue", "statuses"]
    warehouse = project_dir / "shop.duckdb"
    with Sandbox(warehouse, "shop", base_dir=project_dir) as box:
        ctx = make_context(
            SHOP_PROPOSAL,
            catalog,
            columns=columns,
            grain=["customer_id", "order_month"],
            sandbox=box,
        )
        assert run(ctx, DryRun(), Grain(), Contract()) == (None, [])
        dry_rows = sorted(box.execute("select * from gen_model_dry_run"))
    assert len(dry_rows) == ctx.result.row_count > 0
    assert {c.name: c.data_type for c in ctx.result.columns} == {
        "customer_id": "integer",
        "order_month": "timestamp",
        "orders": "bigint",
        "revenue": "decimal(18,2)",
        "statuses": "varchar[]",
    }

    formatted = format_sql(ctx.templated, ctx.tree, ctx.relations)
    models = project_dir / "models" / "marts"
    (models / "customer_revenue_v1.sql").write_text(formatted)
    document = {
        "version": 2,
        "models": [
            {
                "name": "customer_revenue",
                "latest_version": 1,
                "config": {"contract": {"enforced": True}, "materialized": "table"},
                "columns": [
                    {"name": name, "data_type": data_type, "description": description}
                    for name, data_type, description in contract_columns(ctx)
                ],
                "versions": [{"v": 1}],
            }
        ],
    }
    (models / "customer_revenue.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    outcome = build(project, ["customer_revenue"])
    assert outcome.success, (outcome.errors, [n.message for n in outcome.failed], formatted)
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        built = sorted(connection.execute("select * from main.customer_revenue_v1").fetchall())
    finally:
        connection.close()
    assert built == dry_rows

"""Grain from the SQL: a grain unique in today's data but not guaranteed by the SQL is refused
(located, with what can repeat a row), or accepted with --allow-observed-grain."""

from __future__ import annotations

import pytest

from generator.gates.binding import BindingRule as Binding
from generator.gates.dry_run import DryRun
from generator.gates.grain import Grain
from generator.project.catalog import Catalog
from generator.project.sandbox import Sandbox
from tests.sandbox_support import DATABASE, build_warehouse, make_context

INVOICES = "{{ ref('stg_billing__invoices') }}"
CUSTOMERS = "{{ ref('stg_crm__customers') }}"


def catalog_with_tests(path) -> Catalog:
    """The small warehouse, with the tests a project would declare: invoice_id and customer_id
    unique, nothing about customer_name (unique today by chance)."""
    return Catalog.from_dict(
        {
            "project_name": "acme",
            "project_dir": str(path.parent),
            "database_path": str(path),
            "relations": [
                {
                    "name": "stg_billing__invoices",
                    "database": DATABASE,
                    "columns": [
                        {"name": "invoice_id", "data_type": "bigint", "unique": True, "not_null": True},
                        {"name": "customer_id", "data_type": "bigint"},
                        {"name": "amount", "data_type": "decimal(18,2)"},
                        {"name": "issued_at", "data_type": "timestamp with time zone"},
                        {"name": "status", "data_type": "varchar"},
                    ],
                },
                {
                    "name": "stg_crm__customers",
                    "database": DATABASE,
                    "columns": [
                        {"name": "customer_id", "data_type": "bigint", "unique": True, "not_null": True},
                        {"name": "customer_name", "data_type": "varchar"},
                        {"name": "region", "data_type": "varchar"},
                    ],
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    path = tmp_path_factory.mktemp("grain") / "warehouse.duckdb"
    build_warehouse(path)
    catalog = catalog_with_tests(path)
    with Sandbox(path, DATABASE, timeout_s=20) as box:
        yield catalog, box


def grain_check(setup, sql, columns, grain, allow=False):
    catalog, sandbox = setup
    ctx = make_context(sql, catalog, columns=columns, grain=grain, sandbox=sandbox)
    ctx.allow_observed_grain = allow
    assert Binding().check(ctx) == []
    assert DryRun().check(ctx) == []
    return ctx, Grain().check(ctx)


@pytest.mark.parametrize(
    "sql, columns, grain",
    [
        (f"select invoice_id, status from {INVOICES}", ["invoice_id", "status"], ["invoice_id"]),
        (
            f"select customer_id, count(*) as invoices from {INVOICES} group by customer_id",
            ["customer_id", "invoices"],
            ["customer_id"],
        ),
        (
            f"select i.invoice_id, c.region from {INVOICES} as i join {CUSTOMERS} as c using (customer_id)",
            ["invoice_id", "region"],
            ["invoice_id"],
        ),
        (f"select distinct customer_id, status from {INVOICES}", ["customer_id", "status"], ["customer_id", "status"]),
        (
            f"select customer_id, status from {INVOICES}\nqualify row_number() over "
            "(partition by customer_id order by issued_at desc, invoice_id) = 1",
            ["customer_id", "status"],
            ["customer_id"],
        ),
    ],
)
def test_a_grain_the_sql_guarantees_passes(setup, sql, columns, grain):
    ctx, problems = grain_check(setup, sql, columns, grain)
    assert problems == [] and ctx.observed_grain is None


def test_a_grain_unique_by_chance_is_refused_with_what_to_do(setup):
    sql = f"select customer_name, region\nfrom {CUSTOMERS}"
    _, [problem] = grain_check(setup, sql, ["customer_name", "region"], ["customer_name"])
    assert problem.message == (
        "the grain (customer_name) is unique in today's data, but the SQL does not guarantee it: "
        "no unique test of ref('stg_crm__customers') makes (customer_name) identify its rows"
    )
    assert (problem.line, problem.col) == (2, 6)
    assert "add a unique (or unique_combination_of_columns) test" in problem.suggestion
    assert "--allow-observed-grain" in problem.suggestion


def test_a_join_that_can_fan_out_is_named_where_it_is(setup):
    # One invoice per customer today (invoice_id < 7 and customer_id = invoice_id % 7), so the
    # data cannot see that a customer with two invoices would repeat.
    sql = (
        f"select c.customer_id, i.amount\nfrom {CUSTOMERS} as c\n"
        f"join {INVOICES} as i on i.customer_id = c.customer_id and i.invoice_id < 7"
    )
    _, [problem] = grain_check(setup, sql, ["customer_id", "amount"], ["customer_id"])
    assert problem.message.endswith(
        "the join to ref('stg_billing__invoices') can repeat rows: it is not joined on a unique key "
        "of ref('stg_billing__invoices')"
    )
    assert problem.line == 3


def test_union_all_is_not_a_grain_guarantee(setup):
    sql = (
        f"select invoice_id, 'a' as kind from {INVOICES} where invoice_id < 5\n"
        f"union all\nselect invoice_id, 'b' from {INVOICES} where invoice_id >= 5"
    )
    _, [problem] = grain_check(setup, sql, ["invoice_id", "kind"], ["invoice_id"])
    assert "the branches of its UNION ALL may return the same (invoice_id)" in problem.message


def test_allow_observed_grain_accepts_and_says_why(setup):
    sql = f"select customer_name, region from {CUSTOMERS}"
    ctx, problems = grain_check(setup, sql, ["customer_name", "region"], ["customer_name"], allow=True)
    assert problems == []
    assert ctx.observed_grain == "no unique test of ref('stg_crm__customers') makes (customer_name) identify its rows"


# -- through the CLI, on a project we did not write ----------------------------------------

DIRECTORY = {
    "name": "customer_directory",
    "layer": "marts",
    "description": "Customers by full name.",
    # Unique among today's 100 customers, but nothing says two customers never share a name.
    "grain": ["full_name"],
    "sql": "select first_name || ' ' || last_name as full_name, customer_id\nfrom {{ ref('stg_customers') }}\n",
    "columns": [
        {"name": "full_name", "description": "First and last name."},
        {"name": "customer_id", "description": "The customer."},
    ],
}


@pytest.mark.dbt
def test_apply_refuses_an_observed_grain_and_accepts_it_when_allowed(shop_project_with_package, tmp_path):
    import yaml
    from click.testing import CliRunner

    from generator.cli import cli

    project = shop_project_with_package
    proposal = tmp_path / "customer_directory.yml"
    proposal.write_text(yaml.safe_dump(DIRECTORY, sort_keys=False))
    refused = CliRunner().invoke(cli, ["apply", str(proposal), "--project-dir", str(project)])
    assert refused.exit_code == 1, refused.output
    assert (
        "the grain (full_name) is unique in today's data, but the SQL does not guarantee it: "
        "no unique test of ref('stg_customers') makes (full_name) identify its rows"
    ) in refused.stderr
    assert "Traceback" not in refused.output
    assert not (project / "models" / "marts" / "customer_directory_v1.sql").exists()

    accepted = CliRunner().invoke(
        cli, ["apply", str(proposal), "--project-dir", str(project), "--allow-observed-grain"]
    )
    assert accepted.exit_code == 0, accepted.output
    written = yaml.safe_load((project / "models" / "marts" / "customer_directory.yml").read_text())
    [version] = written["models"][0]["versions"]
    [grain_test] = [t for t in version["data_tests"] if "gen_model.unique_combination_of_columns" in t]
    assert grain_test["gen_model.unique_combination_of_columns"]["config"] == {
        "severity": "warn",
        "meta": {
            "reason": "observed grain, unique in today's data only: no unique test of ref('stg_customers') "
            "makes (full_name) identify its rows"
        },
    }
    assert "grain accepted from the data (--allow-observed-grain), its test warns" in accepted.output


# -- what was allowed is recorded, and a replay repeats it ---------------------------------

SIGNUPS = {
    "name": "account_signups",
    "layer": "marts",
    "description": "Accounts by the moment they signed up.",
    # Unique among today's 500 accounts; no test says two accounts never sign up together.
    "grain": ["signed_up_at"],
    "sql": "select created_at as signed_up_at, account_id\nfrom {{ ref('stg_app__accounts') }}\n",
    "columns": [
        {"name": "signed_up_at", "description": "When the account was created."},
        {"name": "account_id", "description": "The account."},
    ],
}


@pytest.mark.dbt
def test_an_allowed_observed_grain_is_recorded_and_replayed_without_the_flag(locked_sample_project):
    import yaml

    from tests.reproducibility_support import digests, generate

    project, request = locked_sample_project, "accounts by signup time"
    files = ("models/marts/account_signups_v1.sql", "models/marts/account_signups.yml", "gen_model.lock")
    report, provider = generate(project, [SIGNUPS], request=request, allow_observed_grain=True)
    assert (report.status, provider.calls) == ("written", 1), report.format_text()
    entry = yaml.safe_load((project / "gen_model.lock").read_text())["models"]["account_signups"][0]
    assert entry["provenance"]["allowed"] == ["observed_grain"]
    written = digests(project, *files)

    for path in files[:2]:
        (project / path).unlink()
    report, provider = generate(project, [], request=request)  # no --allow-observed-grain
    assert (report.status, provider.calls) == ("replayed", 0), report.format_text()
    assert digests(project, *files) == written

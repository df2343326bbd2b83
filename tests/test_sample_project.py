"""The sample dbt project builds green on the sample data, offline, and `make demo` says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from sample_data import demo

pytestmark = pytest.mark.dbt

MODELS = {
    "stg_app__accounts", "stg_app__users", "stg_billing__plans", "stg_billing__subscriptions",
    "stg_billing__invoices", "stg_billing__payments", "int_subscriptions_joined_to_plans",
    "int_payments_aggregated_to_invoices", "int_invoices_aggregated_to_accounts",
    "accounts", "subscriptions", "invoices",
}  # fmt: skip
MARTS = ("accounts", "subscriptions", "invoices")


def query(project: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_sample_project_builds_green_from_scratch(sample_project_built):
    results = json.loads((sample_project_built / "target" / "run_results.json").read_text())["results"]
    statuses = {result["unique_id"]: result["status"] for result in results}
    assert statuses and set(statuses.values()) <= {"success", "pass"}
    built = {unique_id.split(".")[-1] for unique_id in statuses if unique_id.startswith("model.")}
    assert MODELS <= built
    assert "seed.gen_model.countries" in statuses
    assert sum(unique_id.startswith("test.") for unique_id in statuses) > 100


def test_marts_keep_their_grain(sample_project_built):
    counts = query(
        sample_project_built,
        """
        select
            (select count(*) from main.accounts) - (select count(*) from raw_app.accounts),
            (select count(*) from main.subscriptions)
                - (select count(*) from raw_billing.subscriptions),
            (select count(*) from main.invoices) - (select count(*) from raw_billing.invoices),
            (select count(*) from main.stg_billing__payments)
                - (select count(distinct id) from raw_billing.payments)
        """,
    )
    assert counts == [(0, 0, 0, 0)]


def test_marts_agree_with_the_raw_data(sample_project_built):
    # Money is converted from minor units exactly; refunds and MRR come out as the raw data says.
    differences = query(
        sample_project_built,
        """
        select
            (select sum(amount_paid) from main.invoices) * 100
                - (select sum(amount_paid) from raw_billing.invoices),
            (select sum(refunded_amount) from main.invoices) * 100
                + (select sum(amount) from (select distinct id, amount from raw_billing.payments)
                   where amount < 0),
            (select sum(lifetime_net_paid_amount) from main.accounts)
                - (select sum(net_paid_amount) from main.invoices),
            (select count(*) from main.subscriptions
             where is_churned and next_subscription_id is not null),
            (select count(*) from main.accounts where is_paying and monthly_amount = 0)
        """,
    )
    assert differences == [(0, 0, 0, 0, 0)]
    yearly = query(
        sample_project_built,
        "select unit_price, seats, monthly_amount from main.subscriptions where billing_interval = 'year' limit 1",
    )
    unit_price, seats, monthly_amount = yearly[0]
    assert monthly_amount == round(unit_price * seats / 12, 2)


def test_marts_contracts_are_enforced(sample_project_built):
    manifest = json.loads((sample_project_built / "target" / "manifest.json").read_text())
    for name in MARTS:
        node = manifest["nodes"][f"model.gen_model.{name}"]
        assert node["config"]["materialized"] == "table"
        assert node["contract"]["enforced"] is True
        assert all(column["data_type"] for column in node["columns"].values()), name


def test_demo_summarises_a_green_build(sample_project, capsys):
    assert demo.main(sample_project) == 0
    output = capsys.readouterr().out
    assert "dbt build succeeded" in output
    models = [p for p in (sample_project / "models").rglob("*") if p.suffix in (".sql", ".py")]
    assert f"models     {len(models)} passed" in output
    assert "accounts 500 rows" in output


def test_demo_fails_and_explains_when_the_raw_data_is_missing(sample_project, capsys):
    with duckdb.connect(str(sample_project / "warehouse.duckdb")) as connection:
        connection.execute("drop schema raw_billing cascade")
    assert demo.main(sample_project) == 1
    captured = capsys.readouterr()
    assert "dbt build FAILED" in captured.out
    assert "ERROR" in captured.out and "raw_billing" in captured.out
    assert "hint: load the raw data first: python -m sample_data" in captured.err


# A sitecustomize that fails and records every network connection attempt (DNS included) in
# any Python process started with it on PYTHONPATH. Local IPC (AF_UNIX) stays allowed.
NETWORK_GUARD = textwrap.dedent(
    """
    import os
    import socket

    _LOG = os.environ["NETWORK_GUARD_LOG"]


    def _refuse(what, target):
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{what} {target!r}\\n")
        raise OSError(f"network access blocked by the test: {what} {target!r}")


    _connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


    def connect(self, address):
        if self.family != socket.AF_UNIX:
            _refuse("connect", address)
        return _connect(self, address)


    def connect_ex(self, address):
        if self.family != socket.AF_UNIX:
            _refuse("connect_ex", address)
        return _connect_ex(self, address)


    def getaddrinfo(host, *args, **kwargs):
        _refuse("getaddrinfo", host)


    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
    """
)


def guarded_environment(guard_dir: Path) -> tuple[dict[str, str], Path]:
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(NETWORK_GUARD, encoding="utf-8")
    log = guard_dir / "attempts.log"
    environment = dict(os.environ)
    # Prove the project's own settings keep dbt offline, not the test harness's variables.
    for name in ("DO_NOT_TRACK", "DBT_SEND_ANONYMOUS_USAGE_STATS", "DBT_VERSION_CHECK"):
        environment.pop(name, None)
    environment["PYTHONPATH"] = str(guard_dir)
    environment["NETWORK_GUARD_LOG"] = str(log)
    return environment, log


def test_network_guard_blocks_connections(tmp_path):
    environment, log = guarded_environment(tmp_path / "guard")
    probe = "import socket; socket.create_connection(('127.0.0.1', 9), timeout=1)"
    result = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "network access blocked by the test" in result.stderr
    assert log.read_text(encoding="utf-8").strip()


def test_dbt_build_makes_no_network_calls(sample_project, tmp_path):
    environment, log = guarded_environment(tmp_path / "guard")
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run(
        [
            str(dbt),
            "build",
            "--project-dir",
            str(sample_project),
            "--profiles-dir",
            str(sample_project),
        ],
        cwd=sample_project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Completed successfully" in result.stdout
    attempts = log.read_text(encoding="utf-8") if log.exists() else ""
    assert attempts == "", f"dbt tried to reach the network:\n{attempts}"


def test_shop_project_fixture_builds_a_private_copy(shop_project, shop_project_built):
    assert shop_project != shop_project_built
    with duckdb.connect(str(shop_project / "shop.duckdb")) as connection:
        tables = {row[0] for row in connection.execute("select table_name from information_schema.tables").fetchall()}
        connection.execute("create table scratch as select 1 as x")
    assert {"customers", "orders", "raw_customers"} <= tables
    with duckdb.connect(str(shop_project_built / "shop.duckdb"), read_only=True) as connection:
        untouched = connection.execute(
            "select count(*) from information_schema.tables where table_name = 'scratch'"
        ).fetchall()
    assert untouched == [(0,)]


def test_a_failure_is_summed_up_by_the_line_that_names_the_error():
    # dbt's wording and DuckDB's caret marker vary by release; the summary picks the error line.
    message = (
        "Runtime Error in model stg_billing__invoices (models/staging/billing/stg_billing__invoices.sql)\n"
        "  Catalog Error: Table with name invoices does not exist!\n"
        '  Did you mean "raw_app.invoices"?\n\n'
        '  LINE 12:     from "warehouse"."raw_billing"."invoices"\n'
        "                    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    )
    assert demo.headline(message) == "Catalog Error: Table with name invoices does not exist!"
    assert demo.headline("Got 3 results, configured to fail if != 0") == "Got 3 results, configured to fail if != 0"
    assert demo.headline("") == ""

"""The DuckDB sandbox: what it lets a proposal do, what it refuses, and its limits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from generator.errors import ConfigError
from generator.project.sandbox import RESULT_TABLE, Sandbox, SandboxQueryError, SandboxTimeout, default_memory_limit
from generator.sql.runnable import executable, executable_sql
from tests.sandbox_support import DATABASE, build_warehouse, make_context


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("project")
    raw = directory / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "plans.csv").write_text("plan_id,plan_name\n1,basic\n2,pro\n")
    (directory / "secret.csv").write_text("token\nhunter2\n")
    (directory / "data" / "raw_secrets").mkdir()
    (directory / "data" / "raw_secrets" / "keys.csv").write_text("key\nabc\n")
    path = directory / "warehouse.duckdb"
    build_warehouse(path)
    connection = duckdb.connect(str(path))
    # dbt-duckdb projects read raw files from views, by paths relative to the project.
    connection.execute(f"set file_search_path = '{directory}'")
    connection.execute("create view main.stg_plans as select * from read_csv('data/raw/plans.csv')")
    connection.close()
    return path


@pytest.fixture(scope="module")
def catalog(warehouse):
    from tests.sandbox_support import catalog_for

    return catalog_for(warehouse)


@pytest.fixture
def sandbox(warehouse):
    raw = warehouse.parent / "data" / "raw"
    with Sandbox(warehouse, DATABASE, [raw], timeout_s=10, base_dir=warehouse.parent) as box:
        yield box


def test_reads_attached_tables_and_views(sandbox):
    invoices = '"warehouse"."main"."stg_billing__invoices"'
    assert sandbox.execute(f"select count(*) from {invoices}") == [(40,)]
    assert sandbox.execute('select count(*) from "warehouse"."raw"."invoices"') == [(40,)]
    # A view written by dbt refers to the warehouse by name: the alias must be dbt's.
    assert sandbox.execute('select count(*) from "warehouse"."main"."int_invoices_paid"') == [(13,)]


def test_views_over_raw_files_in_allowed_directories_work(sandbox):
    rows = sandbox.execute('select plan_name from "warehouse"."main"."stg_plans" order by plan_id')
    assert rows == [("basic",), ("pro",)]


FORBIDDEN = {
    "read a system file": "select * from read_csv('/etc/passwd')",
    "read a file next to the allowed one": "select * from read_csv('secret.csv')",
    "escape the allowed directory": "select * from read_csv('data/raw/../../secret.csv')",
    "read a sibling sharing the prefix": "select * from read_csv('data/raw_secrets/keys.csv')",
    "read it by absolute path": "select * from read_csv('{project}/data/raw_secrets/keys.csv')",
    "read a URL": "select * from read_parquet('https://example.com/x.parquet')",
    "list files": "select * from glob('/etc/*')",
    "copy out": "copy (select 1) to '{tmp}/out.csv'",
    "export": "export database '{tmp}/export'",
    "attach": "attach '{tmp}/other.duckdb' as other",
    "install": "install httpfs",
    "load": "load httpfs",
    "re-enable external access": "set enable_external_access = true",
    "unlock": "set lock_configuration = false",
    "raise the memory limit": "set memory_limit = '100GB'",
    "raise threads": "set threads = 64",
    "move the spill directory": "set temp_directory = '{tmp}'",
    "create a table in the warehouse": 'create table "warehouse"."main"."evil" (a int)',
    "create a view in the warehouse": 'create view "warehouse"."main"."evil" as select 1',
    "insert": 'insert into "warehouse"."main"."stg_crm__customers" (customer_id) values (99)',
    "update": 'update "warehouse"."main"."stg_billing__invoices" set amount = 0',
    "delete": 'delete from "warehouse"."main"."stg_billing__invoices"',
    "drop": 'drop table "warehouse"."main"."stg_billing__invoices"',
    "alter": 'alter table "warehouse"."main"."stg_billing__invoices" add column x int',
    "create a secret": "create secret (type s3, key_id 'a', secret 'b')",
}


@pytest.mark.parametrize("statement", list(FORBIDDEN.values()), ids=list(FORBIDDEN))
def test_refuses(sandbox, warehouse, tmp_path, statement):
    with pytest.raises(SandboxQueryError):
        sandbox.execute(statement.format(tmp=tmp_path, project=warehouse.parent))
    assert list(tmp_path.iterdir()) == []  # nothing was written anywhere


def test_the_warehouse_is_unchanged_after_a_session_of_attempts(warehouse, tmp_path):
    before = warehouse.read_bytes()
    with Sandbox(warehouse, DATABASE) as box:
        for statement in FORBIDDEN.values():
            with pytest.raises(SandboxQueryError):
                box.execute(statement.format(tmp=tmp_path, project=warehouse.parent))
    assert warehouse.read_bytes() == before


def test_limits_are_set_and_locked(warehouse):
    with Sandbox(warehouse, DATABASE, memory_limit="300MiB", threads=1) as box:
        settings = dict(
            box.execute(
                "select name, value from duckdb_settings() where name in "
                "('memory_limit', 'threads', 'enable_external_access', 'lock_configuration')"
            )
        )
    assert settings["threads"] == "1"
    assert settings["memory_limit"].startswith("300")
    assert settings["enable_external_access"] == "false"
    assert settings["lock_configuration"] == "true"


def test_default_memory_limit_is_bounded():
    megabytes = int(default_memory_limit().removesuffix("MiB"))
    assert 512 <= megabytes <= 4096


def test_a_query_over_the_memory_and_spill_limits_fails_instead_of_growing(warehouse):
    query = "select list(range) from range(200000000)"
    with Sandbox(warehouse, DATABASE, memory_limit="64MiB", max_temp_size="16MiB") as box:
        with pytest.raises(SandboxQueryError, match="(?i)out of memory"):
            box.execute(query)
        # The connection survives and keeps working.
        assert box.execute("select 42") == [(42,)]


def test_slow_query_is_interrupted_at_the_time_limit(warehouse):
    with Sandbox(warehouse, DATABASE, timeout_s=0.5) as box:
        started = time.perf_counter()
        with pytest.raises(SandboxTimeout) as raised:
            box.execute("select count(*) from range(100000000000) a where a.range % 7 = 3")
        elapsed = time.perf_counter() - started
        assert 0.4 < elapsed < 5
        assert raised.value.timeout_s == 0.5
        assert "0.5 s" in str(raised.value)
        # A query that finishes in time is not hit by a late interrupt.
        assert box.execute("select 1") == [(1,)]


def test_spill_directory_is_private_and_removed(warehouse):
    box = Sandbox(warehouse, DATABASE)
    with box:
        directory = Path(box.execute("select current_setting('temp_directory')")[0][0])
        assert directory.is_dir() and directory.name.startswith("gen-model-sandbox-")
    assert not directory.exists()


def test_missing_warehouse_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist.*dbt build"):
        Sandbox(tmp_path / "nope.duckdb", DATABASE).open()


def test_not_a_database_is_a_config_error(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    path.write_text("not a database")
    with pytest.raises(ConfigError, match="not a DuckDB database"):
        Sandbox(path, DATABASE).open()


def test_warehouse_open_in_this_process_is_a_config_error(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = duckdb.connect(str(path))
    try:
        with pytest.raises(ConfigError, match="release_duckdb"):
            Sandbox(path, DATABASE).open()
    finally:
        holder.close()
    with Sandbox(path, DATABASE) as box:  # once released, it opens
        assert box.execute("select 1") == [(1,)]


def test_warehouse_locked_by_another_process_is_a_config_error(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys
                connection = duckdb.connect({str(path)!r})
                print("ready", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(ConfigError, match=rf"PID {holder.pid}\).*Close it"):
            Sandbox(path, DATABASE).open()
    finally:
        holder.communicate("")


# -- executable SQL ----------------------------------------------------------------------


def test_executable_sql_swaps_placeholders_for_relation_names(catalog):
    from generator.sql.templating import untemplate

    ref = "{{ ref('stg_billing__invoices') }}"
    placeholder = untemplate(ref)[0].calls[0].placeholder
    sql = (
        f"select i.invoice_id, c.customer_name, '{placeholder}' as text\n"
        f"from {ref} as i -- {placeholder}\n"
        "join {{ ref('stg_crm__customers') }} c on c.customer_id = i.customer_id\n"
        "join {{ source('billing', 'invoices') }} as r on r.invoice_id = i.invoice_id;\n"
    )
    ctx = make_context(sql, catalog)
    runnable = executable_sql(ctx)
    assert runnable.splitlines() == [
        f"select i.invoice_id, c.customer_name, '{placeholder}' as text",
        f'from "warehouse"."main"."stg_billing__invoices" as i -- {placeholder}',
        'join "warehouse"."main"."stg_crm__customers" c on c.customer_id = i.customer_id',
        'join "warehouse"."raw"."invoices" as r on r.invoice_id = i.invoice_id ',
    ]


def test_executable_sql_runs_in_the_sandbox(sandbox, catalog):
    sql = (
        "select c.region, count(*) as invoices\n"
        "from {{ ref('stg_billing__invoices') }} as i\n"
        "join {{ ref('stg_crm__customers') }} as c using (customer_id)\n"
        "group by all"
    )
    result = sandbox.materialise(executable_sql(make_context(sql, catalog)))
    assert result.row_count == 2
    assert result.columns == (("region", "VARCHAR"), ("invoices", "BIGINT"))
    total = sandbox.execute(f"select sum(invoices) from {RESULT_TABLE}")
    assert total == [(40,)]


def test_original_offsets_map_back_through_relation_names(catalog):
    sql = "select x\nfrom {{ ref('stg_crm__customers') }} as c, {{ ref('int_invoices_paid') }} as p"
    ctx = make_context(sql, catalog)
    runnable = executable(ctx)
    for word in ("as c", "as p", "select x"):
        assert sql[runnable.original_offset(runnable.sql.index(word)) :].startswith(word)
    inside = runnable.sql.index('"stg_crm__customers"')
    assert runnable.original_offset(inside) == sql.index("{{ ref('stg_crm__customers') }}")


def test_regenerates_when_the_tree_has_no_positions(sandbox, catalog):
    import sqlglot

    sql = "select count(*) as n from {{ ref('stg_billing__invoices') }}"
    ctx = make_context(sql, catalog)
    ctx.tree = sqlglot.parse_one(ctx.templated.sql, dialect="duckdb")
    for node in ctx.tree.walk():
        node.meta.clear()
    runnable = executable_sql(ctx)
    assert '"warehouse"."main"."stg_billing__invoices"' in runnable
    assert sandbox.execute(runnable) == [(40,)]


@pytest.mark.parametrize(
    "statement",
    [
        "copy (select 1) to '{spill}/x.csv'",
        "attach '{spill}/x.duckdb' as x",
        "select 1; copy (select 1) to '{spill}/x.csv'",
        "install httpfs",
    ],
)
def test_untrusted_sql_runs_only_as_one_query(sandbox, statement):
    # DuckDB always allows its spill directory; a proposal never gets to issue a
    # statement that could write there, because it only ever runs inside a query.
    spill = sandbox.execute("select current_setting('temp_directory')")[0][0]
    with pytest.raises(SandboxQueryError):
        sandbox.materialise(statement.format(spill=spill))
    assert list(Path(spill).glob("x.*")) == []


def test_a_second_statement_cannot_ride_along(sandbox):
    with pytest.raises(SandboxQueryError, match="(?i)syntax error"):
        sandbox.materialise("select 1 as a; drop table x")


def test_error_position_refers_to_the_query(sandbox):
    with pytest.raises(SandboxQueryError) as raised:
        sandbox.materialise("select 1 as a,\n    cast('x' as int) as b")
    error = raised.value
    assert error.summary == "Conversion Error: Could not convert string 'x' to INT32"
    assert error.position() == (2, 5, len("cast('x' as int)"))


def test_error_position_survives_a_line_number_losing_a_digit(sandbox):
    sql = "select\n" + "".join(f"    {n} as c{n},\n" for n in range(7)) + "    foo(1) as bad"
    with pytest.raises(SandboxQueryError) as raised:
        sandbox.materialise(sql)
    assert "LINE 9:" in raised.value.duckdb_message
    assert raised.value.position() == (9, 5, len("foo(1)"))


def test_sandboxes_are_independent_databases(warehouse, tmp_path):
    with Sandbox(warehouse, DATABASE) as first, Sandbox(warehouse, DATABASE) as second:
        first.execute("create temp table only_here as select 1 as x")
        with pytest.raises(SandboxQueryError, match="only_here"):
            second.execute("select * from only_here")
    # A locked sandbox leaves ordinary DuckDB use in the process alone.
    other = duckdb.connect(":memory:")
    other.execute(f"copy (select 1) to '{tmp_path / 'fine.csv'}'")
    other.close()
    assert (tmp_path / "fine.csv").exists()


def test_a_warehouse_named_memory_attaches_under_its_own_name(tmp_path):
    path = tmp_path / "memory.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("create table orders as select 1 as id")
    connection.close()
    with Sandbox(path, "memory") as box:
        assert box.execute('select id from "memory"."main"."orders"') == [(1,)]


def test_a_dbt_duckdb_handle_left_open_is_released_first(tmp_path):
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    path = tmp_path / "warehouse.duckdb"
    holder = duckdb.connect(str(path))

    class LeftOpen:
        def close(self):
            holder.close()

    DuckDBConnectionManager._ENV = LeftOpen()
    try:
        with Sandbox(path, DATABASE) as box:
            assert box.execute("select 1") == [(1,)]
        assert DuckDBConnectionManager._ENV is None
    finally:
        DuckDBConnectionManager._ENV = None
        holder.close()


def test_one_watchdog_times_many_statements_and_each_limit_is_its_own(warehouse):
    """The time limit survives many statements (one watchdog thread, not a timer each): a
    slow statement after a thousand quick ones is still interrupted, and the statement
    after the interrupted one runs normally."""
    slow = "select count(*) from range(1000000000) a, range(1000) b"
    with Sandbox(warehouse, DATABASE, timeout_s=10) as box:
        for _ in range(1000):
            assert box.execute("select 1") == [(1,)]
        threads = [thread.name for thread in threading.enumerate()]
        assert sum(name == "gen-model-sandbox-watchdog" for name in threads) == 1
        started = time.monotonic()
        with pytest.raises(SandboxTimeout):
            box.execute(slow, timeout_s=0.5)
        assert time.monotonic() - started < 5
        assert box.execute("select 2", timeout_s=0.5) == [(2,)]
    names = [thread.name for thread in threading.enumerate()]
    assert "gen-model-sandbox-watchdog" not in names  # stopped with the sandbox

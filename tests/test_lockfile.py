"""gen_model.lock: format, determinism, ownership of shared files, replay lookup, the
catalog-slice comparison, and the upstream columns a SQL reads (for the drift check)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.errors import ConfigError
from generator.gates import GATES
from generator.gates.base import run_gates
from generator.project.catalog import Catalog
from generator.proposal import ColumnSpec, Proposal
from generator.sql.context import GateContext
from generator.write import lockfile

CATALOG = Catalog.from_dict(yaml.safe_load((Path(__file__).parent / "fixtures" / "catalog.yml").read_text()))


def entry(model: str, version: int, files: dict, **extra) -> lockfile.LockEntry:
    provenance = extra.pop("provenance", {"generator_version": "0.1.0", "origin": "llm", "request": "r"})
    return lockfile.LockEntry(model=model, version=version, layer="marts", files=files, provenance=provenance, **extra)


def test_dump_is_deterministic_sorted_and_round_trips(tmp_path):
    lock = lockfile.Lockfile(tmp_path / lockfile.LOCK_NAME)
    sql = "select\n    1 as id\n"
    lock.record(entry("zeta", 1, {"models/marts/zeta_v1.sql": "a" * 64}, proposal={"name": "zeta", "sql": sql}))
    lock.record(entry("alpha", 2, {"models/marts/alpha_v2.sql": "b" * 64}))
    lock.record(entry("alpha", 1, {"models/marts/alpha_v1.sql": "c" * 64}))
    text = lock.dumps()
    assert text.startswith("# gen_model.lock")
    assert text.index("alpha:") < text.index("zeta:")
    assert text.index("- v: 1") < text.index("- v: 2")
    assert "sql: |\n" in text  # SQL stays readable (and diffable) in the lockfile
    lock.save()
    again = lockfile.load(tmp_path)
    assert again.dumps() == text
    assert again.get("zeta", 1).proposal["sql"] == sql
    assert [e.version for e in again.versions("alpha")] == [1, 2]


def test_provenance_keeps_its_order_for_byte_identical_replays(tmp_path):
    provenance = {"generator_version": "0.1.0", "origin": "llm", "request": "r", "grain": ["id"], "attempts": 1}
    lock = lockfile.Lockfile(tmp_path / lockfile.LOCK_NAME)
    lock.record(entry("m", 1, {}, provenance=provenance))
    lock.save()
    assert list(lockfile.load(tmp_path).get("m", 1).provenance) == list(provenance)


def test_recording_a_version_again_replaces_it(tmp_path):
    lock = lockfile.Lockfile(tmp_path / lockfile.LOCK_NAME)
    lock.record(entry("m", 1, {"a.sql": "1" * 64}))
    lock.record(entry("m", 1, {"a.sql": "2" * 64}))
    assert [e.files for e in lock.versions("m")] == [{"a.sql": "2" * 64}]
    lock.remove("m", 1)
    assert lock.entries == {}


def test_the_newest_version_owns_the_shared_yaml():
    lock = lockfile.Lockfile(Path("gen_model.lock"))
    lock.record(entry("m", 1, {"m_v1.sql": "1" * 64, "m.yml": "a" * 64}, adopted={"m.yml": "e" * 64}))
    lock.record(entry("m", 2, {"m_v2.sql": "2" * 64, "m.yml": "b" * 64}))
    owners = lock.expected_files("m")
    assert {path: (e.version, generated, adopted) for path, (e, generated, adopted) in owners.items()} == {
        "m_v1.sql": (1, "1" * 64, None),
        "m.yml": (2, "b" * 64, None),  # v1's adoption of the old YAML no longer applies
        "m_v2.sql": (2, "2" * 64, None),
    }


def test_replay_candidate_matches_request_and_what_the_user_fixed():
    lock = lockfile.Lockfile(Path("gen_model.lock"))
    llm = {"origin": "llm", "request": "revenue per month"}
    lock.record(entry("revenue", 1, {}, provenance=llm, proposal={"name": "revenue"}))
    lock.record(entry("revenue", 2, {}, provenance=llm, proposal={"name": "revenue"}, requested={"name": "revenue"}))
    applied = {"origin": "proposal-file", "request": "revenue per month"}
    lock.record(entry("other", 1, {}, provenance=applied, proposal={"name": "other"}))
    assert lock.replay_candidate("revenue per month", None, None).version == 1
    assert lock.replay_candidate("revenue per month", "revenue", None).version == 2
    assert lock.replay_candidate("revenue per month", "revenue", "marts") is None
    assert lock.replay_candidate("Revenue per month", None, None) is None


def test_a_lockfile_of_another_format_version_is_refused(tmp_path):
    (tmp_path / lockfile.LOCK_NAME).write_text("version: 7\nmodels: {}\n")
    with pytest.raises(ConfigError, match="format version 7; this gen-model reads version 1"):
        lockfile.load(tmp_path)


def test_broken_yaml_says_where_and_what_to_do(tmp_path):
    (tmp_path / lockfile.LOCK_NAME).write_text("version: 1\nmodels: [\n")
    with pytest.raises(ConfigError, match="is not valid YAML.*Restore it from git"):
        lockfile.load(tmp_path)


def test_no_lockfile_is_an_empty_one(tmp_path):
    assert lockfile.load(tmp_path).entries == {}


# -- the catalog slice -------------------------------------------------------------------------


def test_slice_fingerprint_ignores_the_model_itself_and_row_counts():
    from dataclasses import replace

    relations = list(CATALOG.relations)
    base = lockfile.slice_fingerprint(relations, "customer_orders")
    without = [r for r in relations if r.name != "customer_orders"]
    assert lockfile.slice_fingerprint(without, "customer_orders") == base
    counted = [replace(r, row_count=123_456) for r in relations]
    assert lockfile.slice_fingerprint(counted, "customer_orders") == base
    assert lockfile.slice_fingerprint(relations, "fct_refunds") != base


def test_slice_changes_name_the_columns_of_inputs():
    from dataclasses import replace

    from generator.project.catalog import Column

    orders = CATALOG.ref("stg_shop__orders")
    customers = CATALOG.ref("stg_shop__customers")
    locked = entry(
        "m",
        1,
        {},
        catalog_slice=lockfile.slice_shape([orders, customers], "m"),
        inputs={orders.display: {"uses": ["amount"], "columns": lockfile.columns_line(orders)}},
    )
    changed_orders = replace(
        orders,
        columns=tuple(c for c in orders.columns if c.name != "amount") + (Column("discount", "decimal(18,2)"),),
    )
    changed_orders = replace(
        changed_orders,
        columns=tuple(replace(c, data_type="bigint") if c.name == "order_id" else c for c in changed_orders.columns),
    )
    changed_customers = replace(customers, columns=customers.columns[:-1])
    products = CATALOG.ref("products")
    changes = lockfile.slice_changes(locked, [changed_orders, changed_customers, products], "m")
    assert changes == [
        "ref('products') is new in the catalog slice",
        "ref('stg_shop__customers'): columns changed",
        "ref('stg_shop__orders'): lost column amount, gained column discount, column order_id integer -> bigint",
    ]
    assert lockfile.slice_changes(locked, [orders, customers], "m") == []
    gone = lockfile.slice_changes(locked, [orders], "m")
    assert gone == ["ref('stg_shop__customers') is no longer in the catalog slice"]


def test_columns_lines_split_only_on_top_level_commas():
    line = "id integer, address struct(street varchar, city varchar), amount decimal(18,2)"
    assert lockfile.parse_columns_line(line) == {
        "id": "integer",
        "address": "struct(street varchar, city varchar)",
        "amount": "decimal(18,2)",
    }


@pytest.mark.parametrize(
    ("display", "unique_id"),
    [
        ("ref('stg_shop__orders')", "model.shop.stg_shop__orders"),
        ("ref('customer_orders')", "model.shop.customer_orders.v2"),
        ("ref('customer_orders', v=1)", "model.shop.customer_orders.v1"),
        ("source('raw_shop', 'orders')", "source.shop.raw_shop.orders"),
        ("ref('nope')", None),
        ("something else", None),
    ],
)
def test_resolve_display(display, unique_id):
    relation = lockfile.resolve_display(CATALOG, display)
    assert (relation.unique_id if relation else None) == unique_id


# -- the columns a SQL reads ---------------------------------------------------------------------


def read_columns(sql: str) -> dict[str, list[str]]:
    proposal = Proposal("m", "marts", "d", ("x",), sql, (ColumnSpec("x"),))
    ctx = GateContext(proposal=proposal, catalog=CATALOG)
    report = run_gates(ctx, tuple(rule for rule in GATES if rule.name in ("parse", "references", "binding")))
    assert report.passed, report.format()
    return lockfile.used_columns(ctx)


def test_columns_used_in_filters_joins_and_grouping_count_not_just_outputs():
    sql = """
with orders as (
    select * from {{ ref('stg_shop__orders') }}
),
customers as (
    select * from {{ ref('stg_shop__customers') }}
)
select
    customers.city,
    count(*) as order_count
from orders
inner join customers on customers.customer_id = orders.customer_id
where orders.status <> 'returned'
group by customers.city
"""
    assert read_columns(sql) == {
        "ref('stg_shop__customers')": ["city", "customer_id"],
        "ref('stg_shop__orders')": ["customer_id", "status"],
    }


def test_a_star_import_counts_only_the_columns_used_downstream():
    sql = """
with orders as (
    select * from {{ ref('stg_shop__orders') }}
),
paid as (
    select order_id, amount * 2 as doubled, ordered_at from orders where status = 'shipped'
)
select order_id, doubled from paid
"""
    # ordered_at is selected by a CTE but never used: dropping it upstream would not break us.
    assert read_columns(sql) == {"ref('stg_shop__orders')": ["amount", "order_id", "status"]}


def test_count_star_over_a_filtered_cte_still_reads_the_filter_column():
    sql = """
with shipped as (
    select * from {{ ref('stg_shop__orders') }} where status = 'shipped'
)
select count(*) as shipped_orders from shipped
"""
    assert read_columns(sql) == {"ref('stg_shop__orders')": ["status"]}


def test_union_branches_subqueries_and_versions():
    sql = """
select customer_id as x from {{ ref('customer_orders', v=1) }}
where customer_id in (select customer_id from {{ source('raw_shop', 'orders') }} where amount > 0)
union all
select customer_id as x from {{ ref('stg_shop__customers') }}
"""
    assert read_columns(sql) == {
        "ref('customer_orders', v=1)": ["customer_id"],
        "ref('stg_shop__customers')": ["customer_id"],
        "source('raw_shop', 'orders')": ["amount", "customer_id"],
    }


def test_inputs_keep_every_typed_column_of_a_relation_read():
    proposal = Proposal("m", "marts", "d", ("x",), "select order_id as x from {{ ref('stg_shop__orders') }}", ())
    ctx = GateContext(proposal=proposal, catalog=CATALOG)
    run_gates(ctx, tuple(rule for rule in GATES if rule.name in ("parse", "references", "binding")))
    inputs = lockfile.inputs_of(ctx)
    assert inputs == {
        "ref('stg_shop__orders')": {
            "uses": ["order_id"],
            "columns": "order_id integer, customer_id integer, ordered_at timestamp, order_date date, "
            "status varchar, amount decimal(18,2)",
        }
    }

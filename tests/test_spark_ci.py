"""`gen-model verify`, `diff` and `review` on a Spark target say what they say on DuckDB.

One JVM for this module: a copy of shop_project on profiles.yml.example's `spark` target
(under a schema of its own, so another Spark module in the same process keeps its tables)
is built once and given two versions of one model by `gen-model apply`; a copy of the
DuckDB-built shop_project gets the same two applies. Then, through the CLI on both:

  * verify passes, and fails on the same hand edits and the same dropped input column with
    the same located messages (only the header's warehouse differs);
  * the data diff between the versions runs in the Spark session and counts the same rows,
    keys and changed values, with the same example rows, as DuckDB's;
  * review's data diff section is DuckDB's, and review gives the same bytes twice;
  * the catalog profiles relations (row counts, a categorical column's values) for the
    prompt in the Spark session, with DuckDB's numbers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from tests.conftest import copy_project
from tests.shop_support import ORDER_COUNTS
from tests.spark_support import shop_copy_on_spark

pytestmark = pytest.mark.spark

SCHEMA = "shop_ci"
MODEL = ORDER_COUNTS["name"]
# v2: returned orders no longer count, the first three customers leave, a column is added.
V2 = dict(
    ORDER_COUNTS,
    sql=(
        "select customers.customer_id, count(orders.order_id) as order_count,\n"
        "    max(orders.order_date) as last_order_date\n"
        "from {{ ref('stg_customers') }} as customers\n"
        "left join {{ ref('stg_orders') }} as orders on orders.customer_id = customers.customer_id\n"
        "    and orders.status <> 'returned'\n"
        "where customers.customer_id > 3\n"
        "group by customers.customer_id\n"
    ),
    columns=[*ORDER_COUNTS["columns"], {"name": "last_order_date", "description": "Their last order."}],
)


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def give_two_versions(root: Path, proposals: Path) -> Path:
    """`gen-model init`, then v1 and v2 of MODEL applied (each built by apply), from files
    of the same names on both engines (review shows the name)."""
    initialised = run("init", "--project-dir", str(root))
    assert initialised.exit_code == 0, initialised.output
    for file_name, proposal in (("counts_v1.yml", ORDER_COUNTS), ("counts_v2.yml", V2)):
        path = proposals / file_name
        path.write_text(yaml.safe_dump(proposal, sort_keys=False))
        # No unit-test row search: it runs on DuckDB only, and these commands do not read it.
        applied = run("apply", "--no-unit-test", str(path), "--project-dir", str(root))
        assert applied.exit_code == 0, applied.output
    return root


@pytest.fixture(scope="module")
def on_spark(tmp_path_factory) -> Path:
    from tests.conftest import dbt_build

    root = shop_copy_on_spark(tmp_path_factory, "shop_ci_on_spark", SCHEMA)
    dbt_build(root)
    return give_two_versions(root, tmp_path_factory.mktemp("spark_proposals"))


@pytest.fixture(scope="module")
def on_duckdb(shop_project_built, tmp_path_factory) -> Path:
    root = copy_project(shop_project_built, tmp_path_factory.mktemp("shop_ci_on_duckdb") / "project")
    return give_two_versions(root, tmp_path_factory.mktemp("duckdb_proposals"))


@contextlib.contextmanager
def edited(path: Path, old: str, new: str) -> Iterator[None]:
    """`path` with `old` replaced once by `new`, restored afterwards."""
    original = path.read_text()
    assert old in original
    path.write_text(original.replace(old, new, 1))
    try:
        yield
    finally:
        path.write_text(original)


@contextlib.contextmanager
def input_without_status(root: Path) -> Iterator[None]:
    """stg_orders rebuilt without `status` (which v2 joins on), rebuilt whole afterwards.

    The same dbt run on both engines: the drift is in the warehouse, not in SQL written
    for one engine."""
    from generator.project import load_project
    from generator.project.dbt import invoke

    try:
        with edited(
            root / "models" / "staging" / "stg_orders.sql", "    order_date,\n    status\n", "    order_date\n"
        ):
            assert invoke(load_project(root), ["run", "--select", "stg_orders"]).success
            yield
    finally:
        assert invoke(load_project(root), ["run", "--select", "stg_orders"]).success


def verify_lines(root: Path) -> tuple[int, list[str]]:
    result = run("verify", "--project-dir", str(root))
    return result.exit_code, result.output.splitlines()


def test_verify_passes_and_fails_with_the_messages_duckdb_gives(on_spark, on_duckdb):
    code, lines = verify_lines(on_spark)
    assert code == 0, lines
    assert lines[0] == "gen-model verify: 2 generated model version(s), gen_model.lock, warehouse target spark (spark)"
    assert (
        lines[1:]
        == verify_lines(on_duckdb)[1][1:]
        == [
            f"  ✓ {MODEL} v1",
            f"  ✓ {MODEL} v2",
            "✓ verify passed: 0 problem(s), 0 edited, 0 warning(s)",
        ]
    )

    failed = {}
    for root in (on_spark, on_duckdb):
        marts = root / "models" / "marts"
        with (
            edited(marts / f"{MODEL}_v2.sql", "group by customers.customer_id", "group by 1"),
            edited(marts / f"{MODEL}.yml", "enforced: true", "enforced: false"),
        ):
            failed[root] = verify_lines(root)
    assert failed[on_spark][0] == failed[on_duckdb][0] == 1
    assert failed[on_spark][1][1:] == failed[on_duckdb][1][1:]
    adopt = f"Review the change: `gen-model adopt {MODEL}` accepts it as a hand edit"
    enforce = "Set `config: {contract: {enforced: true}}` on the model in its YAML (gen-model writes it)"
    assert failed[on_spark][1][1:] == [
        f"  ✗ {MODEL} v1",
        f"      ✗ models/marts/{MODEL}_v1.sql: [contract] {MODEL} v1 does not enforce its contract. {enforce}",
        f"  ✗ {MODEL} v2",
        f"      ✗ models/marts/{MODEL}_v2.sql: [contract] {MODEL} v2 does not enforce its contract. {enforce}",
        f"      ✗ models/marts/{MODEL}.yml: [files] changed since gen_model.lock ({MODEL} v2) and not adopted. "
        f"{adopt}, `git checkout -- models/marts/{MODEL}.yml` undoes it",
        f"      ✗ models/marts/{MODEL}_v2.sql: [files] changed since gen_model.lock ({MODEL} v2) and not adopted. "
        f"{adopt}, `git checkout -- models/marts/{MODEL}_v2.sql` undoes it",
        "✗ verify failed: 4 problem(s), 0 edited, 0 warning(s)",
    ]

    drifted = {}
    for root in (on_spark, on_duckdb):
        with input_without_status(root):
            drifted[root] = verify_lines(root)
    assert drifted[on_spark][0] == drifted[on_duckdb][0] == 1
    assert drifted[on_spark][1][1:] == drifted[on_duckdb][1][1:]
    assert (
        f"      ✗ models/marts/{MODEL}_v2.sql: [drift] ref('stg_orders') no longer has column status, which "
        f"{MODEL} v2 uses (in a filter, join or grouping). Restore status in ref('stg_orders'), or fix the "
        "proposal and `gen-model apply` it again (counts_v2.yml)"
    ) in drifted[on_spark][1]
    assert verify_lines(on_spark)[0] == 0  # rebuilt: passes again


def without_types(report: dict) -> dict:
    """A diff's JSON without its timing and column types (Spark says `int`, DuckDB `integer`)."""
    report = dict(report, columns=[{"name": c["name"], "changed": c["changed"]} for c in report["columns"]])
    report.pop("elapsed_s")
    return report


def data_diff_section(markdown: str) -> str:
    return markdown[markdown.index("### Data diff") : markdown.index("### Generation")]


def test_diff_and_review_compute_the_data_diff_in_spark_as_duckdb_does(on_spark, on_duckdb):
    text = {root: run("diff", MODEL, "--project-dir", str(root)) for root in (on_spark, on_duckdb)}
    assert text[on_spark].exit_code == 0, text[on_spark].output
    assert text[on_spark].output == text[on_duckdb].output
    reports = {root: json.loads(run("diff", MODEL, "--project-dir", str(root), "--json").output) for root in text}
    found = reports[on_spark]
    assert without_types(found) == without_types(reports[on_duckdb])
    # Not vacuous: keys leave, values change, a column is added, and examples show them.
    assert found["rows"] == {"from": 100, "to": 97}
    assert (found["keys_only_in_from"], found["keys_only_in_to"], found["keys_in_both"]) == (3, 0, 97)
    assert found["added_columns"] == ["last_order_date"]
    assert [(c["name"], c["changed"]) for c in found["columns"]] == [("order_count", 2)]
    assert found["examples"]["only_in_from"] == [{"customer_id": 1}, {"customer_id": 2}, {"customer_id": 3}]
    assert len(found["examples"]["changed"]) == 2

    first = run("review", MODEL, "--project-dir", str(on_spark))
    assert first.exit_code == 0, first.output
    assert run("review", MODEL, "--project-dir", str(on_spark)).output == first.output
    on_duckdb_review = run("review", MODEL, "--project-dir", str(on_duckdb)).output
    assert data_diff_section(first.output) == data_diff_section(on_duckdb_review)
    assert "| Rows whose key is only here | 3 | 0 |" in first.output.splitlines()
    assert "| `order_count` | 2 | bigint | bigint |" in first.output.splitlines()
    # verify after review in one process: review's cached manifest facts are not a manifest
    assert verify_lines(on_spark)[0] == 0


def profiles(root: Path) -> dict:
    """Row counts and sample values of the shop's staging views, as the prompt's catalog has them."""
    from generator.project import load_project
    from generator.project.catalog_builder import build_catalog, profile_relations

    catalog = build_catalog(load_project(root), raw_files=())
    staging = [r.unique_id for r in catalog.relations if r.name.startswith("stg_")]
    profiled = profile_relations(catalog, staging)
    return {
        r.name: (r.row_count, {c.name: c.sample_values for c in r.columns if c.sample_values})
        for r in profiled.relations
        if r.unique_id in staging
    }


def test_the_catalog_profiles_relations_on_spark_as_on_duckdb(on_spark, on_duckdb):
    found = profiles(on_spark)
    assert found == profiles(on_duckdb)
    assert found["stg_orders"] == (99, {"status": ("completed", "placed", "return_pending", "returned", "shipped")})
    assert found["stg_payments"] == (113, {"payment_method": ("bank_transfer", "coupon", "credit_card", "gift_card")})
    assert found["stg_customers"] == (100, {})  # names are not categorical: never shown

"""SQL that gen-model reads back or writes as text speaks the target's dialect, without a JVM.

On a Spark target a version's SQL (backticks, Spark's functions) is classified by its logic,
not as changed text, and the SQL shown in a derived test's reason (in the model's YAML) is
Spark SQL. All of it is sqlglot over the fixture catalog recorded as a Spark target.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from generator.gates import GATES
from generator.gates.base import run_gates
from generator.run.finish import classify_change
from generator.sql.facts import Facts
from generator.testgen.kinds import accepted_range, expression_is_true
from generator.write.versions import BREAKING, NON_BREAKING, Contract, classify, logic_facts
from tests.test_gate_fixtures import context
from tests.test_spark_gates import spark_catalog

# -- versions: the change class of a Spark model ------------------------------------------

V1 = """select
    o.`Order ID` as order_id,
    date_format(o.ordered_at, 'yyyy-MM') as order_month,
    sum(o.amount) as amount
from {{ ref('orders') }} as o
where o.`Status Code` <> 'VOID'
group by o.`Order ID`, date_format(o.ordered_at, 'yyyy-MM')
"""
V2 = """select
    o.`Order ID` as order_id,
    date_format(o.ordered_at, 'yyyy-MM') as order_month,
    sum(o.amount) as amount
from {{ ref('orders') }} as o
left anti join {{ ref('refunds') }} as r on r.`Order ID` = o.`Order ID`
where o.`Status Code` <> 'VOID' and datediff(o.shipped_at, o.ordered_at) >= 0
group by o.`Order ID`, date_format(o.ordered_at, 'yyyy-MM')
"""
COLUMNS = (("order_id", "bigint"), ("order_month", "string"), ("amount", "decimal(28,2)"))
SPARK_REASONS = (
    "filter added: where datediff(o.shipped_at, o.ordered_at) >= 0",
    "join added: left anti join {{ ref('refunds') }}",
)


def contracts(old_sql: str = V1, new_sql: str = V2) -> tuple[Contract, Contract]:
    return Contract(COLUMNS, ("order_id",), sql=old_sql), Contract(COLUMNS, ("order_id",), sql=new_sql)


def test_a_spark_version_pair_is_classified_by_its_logic():
    change = classify(*contracts(), previous_version=1, dialect="spark")
    assert change.kind == NON_BREAKING
    assert change.reasons == SPARK_REASONS
    # Read as DuckDB (backticks, two-argument datediff) it does not parse: only "text changed".
    assert logic_facts(V1) is None and logic_facts(V1, "spark") is not None
    assert classify(*contracts(), previous_version=1).reasons == ("logic changed; same columns, types and grain",)


def test_spark_identifiers_keep_their_quotes_and_case_in_the_reasons():
    facts = logic_facts(V1, "spark")
    assert facts.filters == ("where o.`Status Code` <> 'VOID'",)
    assert facts.aggregates == ("sum(o.amount)",)
    # A rename is judged by the expressions of the two columns, compared in Spark SQL.
    renamed = V1.replace("as order_month", "as month_of_order")
    old, new = contracts(V1, renamed)
    new = dataclasses.replace(new, columns=(COLUMNS[0], ("month_of_order", "string"), COLUMNS[2]))
    change = classify(old, new, dialect="spark")
    assert change.kind == BREAKING and change.reasons[0] == "column order_month renamed to month_of_order"


def test_the_pipeline_classifies_in_the_targets_dialect():
    # finish.classify_change reads the dialect from the catalog's adapter type.
    old, new = contracts()
    accepted = SimpleNamespace(
        proposal=SimpleNamespace(name="order_amounts"),
        owns=lambda relation: True,
        previous_contract=lambda project, relation: old,
        contract=lambda: new,
        same_contract="same",
    )
    previous = SimpleNamespace(version=1)
    for adapter, reasons in (("spark", SPARK_REASONS), ("duckdb", ("logic changed; same columns, types and grain",))):
        catalog = SimpleNamespace(adapter_type=adapter, ref=lambda name: previous)
        assert classify_change(None, catalog, accepted).reasons == reasons


# -- derived tests: the SQL in their reasons ----------------------------------------------

RATIO = """select
    o.customer_id,
    count(*) filter (where cast(o.status as string) = 'returned') / count(*) as returned_share,
    count(*) filter (where cast(o.status as string) = 'returned') as returned_orders,
    count(*) filter (where cast(o.status as string) = 'shipped') as shipped_orders,
    count(*) as orders
from {{ ref('stg_shop__orders') }} as o
group by o.customer_id
"""


class Deriver:
    """What a kind's derivation reads of generator.testgen.derive.Deriver, without a dry run."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.facts = Facts(ctx)
        self.result = SimpleNamespace(notes=[], tests=[])

    def add(self, test) -> None:
        self.result.tests.append(test)


def derived_reasons(catalog) -> list[str]:
    ctx = context(RATIO, catalog)
    report = run_gates(ctx, [gate for gate in GATES if gate.name in ("parse", "references", "binding")])
    assert report.passed, report.problems
    deriver = Deriver(ctx)
    shapes = {}
    for name in ("returned_share", "returned_orders", "shipped_orders", "orders"):
        definition = deriver.facts.output(name)
        accepted_range.derive(deriver, name, "double", definition)
        shape = deriver.facts.aggregate_shape(definition.scope, definition.expression)
        if shape is not None:
            shapes[name] = shape
    expression_is_true.derive_invariants(deriver, shapes)
    return [test.reason for test in deriver.result.tests]


def test_derived_reasons_are_in_the_targets_sql():
    duckdb_catalog = dataclasses.replace(spark_catalog(), adapter_type="duckdb", session_settings=())
    on_spark, on_duckdb = derived_reasons(spark_catalog()), derived_reasons(duckdb_catalog)
    # The ratio's accepted_range and each filtered count's expression_is_true show the SQL.
    shown = [reason for reason in on_spark if "CAST(" in reason]
    assert [reason.split(":")[0].split(" counts")[0] for reason in shown] == [
        "a filtered count over the count of the same rows",
        "returned_orders",
        "shipped_orders",
    ], on_spark
    assert all("AS STRING" in reason and "AS TEXT" not in reason for reason in shown), shown
    # On DuckDB the same tests and reasons, in DuckDB's spelling.
    assert [reason.replace("AS STRING", "AS TEXT") for reason in on_spark] == on_duckdb
    assert not [reason for reason in on_duckdb if "AS STRING" in reason]

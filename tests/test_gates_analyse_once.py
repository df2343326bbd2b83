"""The static gates analyse a proposal once (issue #16): one parse, one scope analysis.

Parse leaves its statements on the context and safety judges those; binding and
determinism share one scope analysis while the tree, templated SQL, catalog and resolved
relations it was built from stay the same objects. What the gates report must not depend
on which gate computed what first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.gates import GATES, nondeterminism_problems
from generator.gates import parse as parse_module
from generator.gates import safety as safety_module
from generator.gates.base import run_gates
from generator.gates.binding import qualified_tree
from generator.gates.safety import SafetyRule
from generator.project.catalog import Catalog
from generator.proposal import ColumnSpec, Proposal
from generator.sql import context as context_module
from generator.sql import scope as scope_module
from generator.sql.columns import columns_read
from generator.sql.context import GateContext
from generator.sql.facts import Facts
from generator.sql.lineage import column_lineage
from generator.testgen.mutate import source_columns
from generator.testgen.unit_fixtures import read_columns
from generator.write.lockfile import used_columns

FIXTURES = Path(__file__).parent / "fixtures"
STATIC = GATES[:5]  # parse, references, binding, safety, determinism

JOINED = (
    "select o.order_id, c.full_name, o.status\nfrom {{ ref('stg_shop__orders') }} as o\n"
    "join {{ ref('stg_shop__customers') }} as c using (customer_id)\n"
    "order by o.order_id\nlimit 5\n"
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_dict(yaml.safe_load((FIXTURES / "catalog.yml").read_text()))


def context(sql: str, catalog: Catalog) -> GateContext:
    proposal = Proposal(
        name="once",
        layer="marts",
        description="A proposal the gates analyse once.",
        grain=("x",),
        sql=sql,
        columns=(ColumnSpec("x"),),
    )
    return GateContext(proposal=proposal, catalog=catalog)


@pytest.fixture
def counted(monkeypatch):
    """How many scope analyses and statement parses the gates ran."""
    counts = {"analysis": 0, "parse": 0}

    class CountedAnalysis(scope_module.Analysis):
        def __init__(self, ctx):
            counts["analysis"] += 1
            super().__init__(ctx)

    real_parse = parse_module.parse_statements

    def counted_parse(*args, **kwargs):
        counts["parse"] += 1
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(scope_module, "Analysis", CountedAnalysis)
    monkeypatch.setattr(parse_module, "parse_statements", counted_parse)
    monkeypatch.setattr(safety_module, "parse_statements", counted_parse)
    return counts


def test_static_gates_parse_and_analyse_once(catalog: Catalog, counted):
    ctx = context(JOINED, catalog)
    report = run_gates(ctx, STATIC)
    assert [o.status for o in report.outcomes] == ["passed"] * 5
    assert counted == {"analysis": 1, "parse": 1}


def test_analysis_is_shared_even_when_binding_refuses(catalog: Catalog, counted):
    sql = "select nope, now() as at from {{ ref('stg_shop__orders') }}\n"
    ctx = context(sql, catalog)
    report = run_gates(ctx, STATIC)
    assert [p.rule for p in report.problems] == ["binding", "determinism"]
    assert counted == {"analysis": 1, "parse": 1}


def test_analysis_is_redone_when_what_it_read_changes(catalog: Catalog):
    ctx = context(JOINED, catalog)
    run_gates(ctx, STATIC)
    first = scope_module.analyze(ctx)
    assert scope_module.analyze(ctx) is first
    ctx.relations = dict(ctx.relations)  # a new dict, the same relations: still valid
    assert scope_module.analyze(ctx) is first
    placeholder = next(iter(ctx.relations))
    ctx.relations = {placeholder: ctx.relations[placeholder]}  # one relation fewer
    assert scope_module.analyze(ctx) is not first
    again = scope_module.analyze(ctx)
    ctx.tree = ctx.tree.copy()
    assert scope_module.analyze(ctx) is not again


def test_shared_analysis_reports_what_fresh_ones_do(catalog: Catalog):
    """Determinism after binding (shared analysis) says what it says on its own."""
    sql = (
        "select c.customer_id, o.status\nfrom {{ ref('stg_shop__orders') }} as o\n"
        "join {{ ref('stg_shop__customers') }} as c using (customer_id)\nlimit 3\n"
    )
    shared = context(sql, catalog)
    report = run_gates(shared, STATIC)
    alone = context(sql, catalog)
    run_gates(alone, GATES[:2])  # parse, references: no analysis yet
    assert alone.analysis is None
    assert [p.format() for p in nondeterminism_problems(alone)] == [
        p.format() for p in report.problems if p.rule == "determinism"
    ]
    assert [p.rule for p in report.problems] == ["determinism"]


def test_safety_without_parsed_statements_parses_itself(catalog: Catalog):
    """A context filled some other way (statements unknown) is still judged on every statement."""
    sql = "select 1 as x;\ncopy (select 1) to 'out.csv'\n"
    ctx = context(sql, catalog)
    run_gates(ctx, GATES[:1])
    from_parse = SafetyRule().check(ctx)
    ctx.statements = None
    assert [p.format() for p in SafetyRule().check(ctx)] == [p.format() for p in from_parse]
    assert [p.identifier for p in from_parse] == ["COPY"]


def test_qualified_tree_is_the_same_with_cached_column_mappings(catalog: Catalog):
    """Per-process column mappings: a second proposal over the same relations qualifies alike."""
    first, second = context(JOINED, catalog), context(JOINED, catalog)
    run_gates(first, STATIC)
    run_gates(second, STATIC)
    assert first.qualified.sql(dialect="duckdb") == second.qualified.sql(dialect="duckdb")
    assert qualified_tree(second).sql(dialect="duckdb") == second.qualified.sql(dialect="duckdb")


def test_what_reads_the_qualified_tree_shares_one_analysis_and_one_scope_build(catalog, counted, monkeypatch):
    """Facts, test derivation, fixtures, lineage and the lockfile run no analysis of their
    own, and sqlglot's scopes over the qualified tree are built once for all of them."""
    builds = []
    real_build = context_module.build_scope

    def counted_build(tree):
        builds.append(tree)
        return real_build(tree)

    monkeypatch.setattr(context_module, "build_scope", counted_build)
    ctx = context(JOINED, catalog)
    run_gates(ctx, STATIC)
    first = Facts(ctx).root
    assert Facts(ctx).root is first is not None
    assert columns_read(ctx) == {p: set(c) for p, c in read_columns_by_catalog(ctx).items()}
    source_columns(ctx)
    column_lineage(ctx)
    assert used_columns(ctx) == {
        "ref('stg_shop__customers')": ["customer_id", "full_name"],
        "ref('stg_shop__orders')": ["customer_id", "order_id", "status"],
    }
    assert counted["analysis"] == 1
    assert len(builds) == 1
    ctx.qualified = ctx.qualified.copy()  # a new tree: scopes of its own
    assert Facts(ctx).root is not first
    assert len(builds) == 2


def read_columns_by_catalog(ctx: GateContext) -> dict[str, list[str]]:
    """The fixtures' view (lowercase names per placeholder), spelled as the catalog does."""
    read = read_columns(ctx)
    return {
        placeholder: [c.name for c in ctx.relations[placeholder].columns if c.name.lower() in read[placeholder]]
        for placeholder in read
        if read[placeholder]
    }

"""Mutants of a model's SQL and the tests that see them: enumeration, classification, score."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from generator.testgen.datatests import DataTest
from generator.testgen.mutate import (
    HELD_OUT,
    OPERATORS,
    MutationReport,
    enumerate_mutants,
    run_mutants,
    show_survivors_in,
)
from generator.testgen.testsql import catalog_resolver

ROOT = Path(__file__).resolve().parents[1]
HEALTH = ROOT / "examples" / "proposals" / "account_payment_health.yml"
EVERY_OPERATOR = Path(__file__).parent / "fixtures" / "mutate" / "every_operator.yml"
EVERY_OPERATOR_MUTANTS = [
    "#1 group-by: drop `subs.account_id` from the group by (line 23)",
    "#2 distinct: select distinct -> select (line 11)",
    "#3 join-type: left join plans -> inner join (line 21)",
    "#4 join-key: join on plans.plan_name instead of plans.plan_id (line 21)",
    "#5 drop-predicate: drop `not subs.subscription_status = 'trialing'` from the where (line 22)",
    "#6 drop-predicate: drop `subs.seats >= 1` from the where (line 22)",
    "#7 drop-predicate: drop `having count(*) > 0` (line 24)",
    "#8 distinct: `count(distinct subs.plan_id)` -> count without distinct (line 12)",
    "#9 aggregate: `sum(subs.seats)` -> count (line 13)",
    "#10 aggregate: `sum(subs.seats)` -> avg (line 13)",
    "#11 aggregate: `min(subs.started_at)` -> max (line 14)",
    "#12 drop-filter: drop the filter of `count(*) filter (where subs.subscription_status = 'active')` (line 15)",
    "#13 case-branches: swap then and else of `case when sum(subs.seats) > 10 then 'large' else 'small' end` (line 16)",
    "#14 arithmetic: `coalesce(max(plans.unit_price), 0) * 2` -> `coalesce(max(plans.unit_price), 0) / 2` (line 17)",
    "#15 precision: `round(count(*) filter (where subs.seats >= 1), 1)`: 1 -> 0 decimal places (line 19)",
    "#16 boundary: `count(*) > 0` -> `count(*) >= 0` (line 24)",
    "#17 coalesce: `coalesce(max(plans.unit_price), 0)` -> `max(plans.unit_price)` (line 17)",
    "#18 window-frame: window frame `1 preceding` -> `0 preceding` (line 18)",
    "#19 window-frame: window frame `1 preceding` -> `2 preceding` (line 18)",
    "#20 drop-filter: drop the filter of `count(*) filter (where subs.seats >= 1)` (line 19)",
    "#21 negation: `not subs.subscription_status = 'trialing'` -> `subs.subscription_status = 'trialing'` (line 22)",
    "#22 boundary: `subs.seats >= 1` -> `subs.seats > 1` (line 22)",
    "#23 column-swap: `distinct subs.plan_id` reads subs.account_id instead of plan_id (line 12)",
    "#24 column-swap: `distinct subs.plan_id` reads subs.subscription_status instead of plan_id (line 12)",
    "#25 boundary: `subs.subscription_status = 'active'` -> `subs.subscription_status <> 'active'` (line 15)",
    "#26 boundary: `sum(subs.seats) > 10` -> `sum(subs.seats) >= 10` (line 16)",
    "#27 aggregate: `max(plans.unit_price)` -> min (line 17)",
    "#28 window-order: `order by sum(subs.seats)` in a window: desc -> asc (line 18)",
    "#29 window-order: `order by subs.account_id` in a window: asc -> desc (line 18)",
    "#30 boundary: `subs.subscription_status = 'trialing'` -> `subs.subscription_status <> 'trialing'` (line 22)",
    "#31 aggregate: `sum(subs.seats)` -> count (line 16)",
    "#32 aggregate: `sum(subs.seats)` -> avg (line 16)",
    "#33 aggregate: `sum(subs.seats)` -> count (line 18)",
    "#34 aggregate: `sum(subs.seats)` -> avg (line 18)",
    "#35 boundary: `subs.seats >= 1` -> `subs.seats > 1` (line 19)",
]
BASELINE = [DataTest("unique", "account_id"), DataTest("not_null", "account_id")]


def test_enumeration_is_deterministic_and_covers_every_operator(gate_proposal):
    first = enumerate_mutants(gate_proposal(EVERY_OPERATOR))
    second = enumerate_mutants(gate_proposal(EVERY_OPERATOR))
    assert [(m.label(), m.tree.sql(dialect="duckdb")) for m in first] == [
        (m.label(), m.tree.sql(dialect="duckdb")) for m in second
    ]
    assert [m.index for m in first] == list(range(1, len(first) + 1))
    searched = [m for m in first if not m.held_out]
    assert {m.operator for m in searched} == set(OPERATORS)
    texts = [m.tree.sql(dialect="duckdb") for m in first]
    assert len(set(texts)) == len(texts), "no two mutants are the same SQL"
    assert [m.label() for m in searched] == EVERY_OPERATOR_MUTANTS
    assert first[: len(searched)] == searched, "held-out mutants come after the searched ones"


def test_held_out_operators_change_meaning_the_search_never_sees(gate_proposal):
    sql = """
        select
            account_id,
            date_trunc('month', started_at) as month,
            count(plan_id) as plans,
            sum(seats) as seats,
            count(*) filter (where subscription_status = 'active') as active,
            sum(seats) / nullif(count(*), 0) as seats_per_subscription,
            lag(sum(seats)) over (partition by account_id order by date_trunc('month', started_at)) as previous_seats
        from {{ ref('stg_billing__subscriptions') }}
        where subscription_status in ('active', 'past_due')
        group by account_id, date_trunc('month', started_at)
    """
    ctx = gate_proposal(
        {
            "name": "held_out_shapes",
            "layer": "marts",
            "description": "Seats per account and month.",
            "grain": ["account_id", "month"],
            "sql": sql,
            "columns": [
                {"name": name, "description": name}
                for name in ("account_id", "month", "plans", "seats", "active", "seats_per_subscription")
                + ("previous_seats",)
            ],
        }
    )
    held = [m for m in enumerate_mutants(ctx) if m.held_out]
    # The other held-out operators have their own cases in test_mutate_held_out.py.
    assert {m.operator for m in held} == set(HELD_OUT) - {"join-swap", "coalesce-order", "frame-drop", "cte-bypass"}
    labels = [m.label() for m in held]
    assert any("drop 'past_due' from" in label for label in labels), labels
    assert any("= 'active'` with 'trialing' instead" in label for label in labels), labels
    assert any("month -> week" in label for label in labels), labels


def test_nothing_to_score_is_never_a_perfect_score():
    report = MutationReport("positional")
    assert report.total == 0 and report.score is None
    assert report.to_dict()["score"] is None
    assert report.format_text().startswith("positional: 0/0 mutants killed (nothing to score)")
    assert "held out (operators the unit-test rows were not chosen for): 0/0 (nothing to score)" in (
        report.format_text()
    )


def test_a_survivor_is_reported_with_its_diff(gate_proposal, sample_catalog):
    ctx = gate_proposal(HEALTH)
    report = run_mutants(ctx, enumerate_mutants(ctx), BASELINE, [], catalog_resolver(sample_catalog))
    survivors = {o.mutant.description: o for o in report.with_status("survived")}
    dropped_where = survivors["drop `where not accounts.is_deleted`"]
    assert "-where not accounts.is_deleted\n" in dropped_where.diff
    assert dropped_where.diff.startswith("--- original\n+++ mutant ")
    assert report.score < 0.5  # the bare baseline sees little of the logic
    assert report.to_dict()["survivors"][0]["diff"]


def test_survivors_can_be_shown_in_the_engines_sql(gate_proposal, sample_catalog):
    # mutate on Spark runs a DuckDB twin's mutants: their diffs are shown in Spark's SQL
    ctx = gate_proposal(
        {
            "name": "live_accounts",
            "layer": "marts",
            "description": "Accounts not deleted.",
            "grain": ["account_id"],
            "sql": "select account_id from {{ ref('stg_app__accounts') }}\n"
            "where cast(is_deleted as varchar) = 'false'\n",
            "columns": [{"name": "account_id", "description": "The account."}],
        }
    )
    report = run_mutants(ctx, enumerate_mutants(ctx), BASELINE, [], catalog_resolver(sample_catalog))
    (dropped,) = [o for o in report.with_status("survived") if o.mutant.operator == "drop-predicate"]
    assert "-where cast(is_deleted as text) = 'false'\n" in dropped.diff
    show_survivors_in(report, ctx, "spark")
    assert "-where cast(is_deleted as string) = 'false'\n" in dropped.diff


def test_equivalent_and_invalid_mutants_are_not_counted(gate_proposal, sample_catalog):
    ctx = gate_proposal(HEALTH)
    report = run_mutants(ctx, enumerate_mutants(ctx), BASELINE, [], catalog_resolver(sample_catalog))
    equivalent = [o.mutant.description for o in report.with_status("equivalent")]
    # Accounts without attempts have a null count after the left join: > 0 and >= 0 agree.
    assert "`attempts.payment_attempts > 0` -> `attempts.payment_attempts >= 0`" in equivalent
    assert report.total == report.killed + len(report.with_status("survived"))
    assert report.total + len(equivalent) + len(report.with_status("invalid")) == len(report.outcomes)

    invalid = gate_proposal(
        {
            "name": "payment_ids",
            "layer": "marts",
            "description": "d",
            "grain": ["account_id"],
            "sql": "select account_id, count(payment_id) as payments\n"
            "from {{ ref('stg_billing__payments') }}\ngroup by account_id",
            "columns": [{"name": "account_id", "description": ""}, {"name": "payments", "description": ""}],
        }
    )
    report = run_mutants(invalid, enumerate_mutants(invalid), [], [], catalog_resolver(sample_catalog))
    (outcome,) = [o for o in report.outcomes if o.mutant.description == "`count(payment_id)` -> sum"]
    assert outcome.status == "invalid"
    assert outcome.error.startswith(
        "Binder Error: No function matches the given name and argument types 'sum(VARCHAR)'"
    )


def test_derived_tests_kill_what_the_baseline_misses(gate_proposal, sample_catalog):
    from generator.testgen.modeltests import checked_tests

    ctx = gate_proposal(HEALTH)
    checked = checked_tests(ctx, model="account_payment_health", version=1)
    mutants = enumerate_mutants(ctx)
    resolve = catalog_resolver(sample_catalog)
    derived = run_mutants(ctx, mutants, checked.kept, [checked.unit_test], resolve, contract=True)
    baseline = run_mutants(ctx, mutants, BASELINE, [], resolve, contract=True)
    assert derived.score >= 0.8 > baseline.score
    assert derived.total == baseline.total  # the same mutants count in both


@pytest.mark.dbt
def test_mutation_score_of_the_generated_sample_models(sample_project):
    from generator.project import dbt, load_project
    from generator.project.catalog_builder import build_catalog
    from generator.testgen.modeltests import mutate_model

    project = load_project(sample_project)
    manifest = dbt.parse(project)
    catalog = build_catalog(project, manifest)
    warehouse = sample_project / "warehouse.duckdb"
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    for model in ("account_mrr", "account_payment_health", "monthly_revenue_by_tier"):
        report = mutate_model(project, model, manifest=manifest, catalog=catalog)
        assert report.score >= 0.8, report.format_text()
        # No test rests on today's data alone, so fewer data tests than a profile would give.
        assert report.unit_tests == 1 and report.data_tests >= 7
        held_killed, held_total, _ = report.held_out()
        assert held_total >= 3 and held_killed == held_total, report.format_text()
        assert report.total >= 8
    # Mutants ran in the sandbox: the warehouse is as it was.
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before

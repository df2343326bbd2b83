"""Realistic bugs: do the generated marts' tests catch the mistakes people make?

Our mutation operators are what the unit-test rows are chosen for, so their score is
partly circular. This benchmark uses hand-written bugs of the classes that slip through
such searches instead (a wrong value set in a filter, a month or time-zone boundary, a
multiplicity error, null and zero handling, the wrong column or join), on the sample
project's generated marts, plus behaviour-preserving refactors that must not fail any
test (a false alarm). Each bug is one text replacement in the model's SQL file; it must
parse, run, and (to count) change the model's output on the real data.

For every bug: killed by the unit test, by the data tests, by the enforced contract, and
by the bare baseline (`unique` + `not_null` on the grain, no unit test). The held-out
mutation score (operators the unit-test search never sees) is printed beside it.

    python benchmarks/realistic_bugs.py [--project-dir DIR]

realistic_bugs_shop.py runs the same measurement on marts generated in shop_project.

Exits 1 when fewer than 95% of the output-changing bugs are caught by the derived tests
(unit + data + contract) or when any refactor raises a false alarm.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.95

# model -> [(class, description, old text, new text)]; class "refactor" must change nothing.
BUGS: dict[str, list[tuple[str, str, str, str]]] = {
    "account_mrr": [
        ("value-set", "only active subscriptions count (past_due and canceled months lost)",
         "subscriptions.subscription_status <> 'trialing'", "subscriptions.subscription_status = 'active'"),
        ("value-set", "past_due excluded too",
         "subscriptions.subscription_status <> 'trialing'",
         "subscriptions.subscription_status not in ('trialing', 'past_due')"),
        ("value-set", "the wrong status excluded",
         "subscriptions.subscription_status <> 'trialing'", "subscriptions.subscription_status <> 'canceled'"),
        ("value-set", "free plans kept", "and subscriptions.plan_tier <> 'free'", "and subscriptions.plan_tier <> ''"),
        ("month-boundary", "months start one month late",
         "date_trunc('MONTH', subscriptions.started_at)",
         "date_trunc('MONTH', subscriptions.started_at + interval '1' month)"),
        ("month-boundary", "the end month is left out",
         "coalesce(subscriptions.ended_at, data_end.last_month)",
         "coalesce(subscriptions.ended_at - interval '1' month, data_end.last_month)"),
        ("time-zone", "months in New York time",
         "date_trunc('MONTH', subscriptions.started_at)",
         "date_trunc('MONTH', timezone('America/New_York', subscriptions.started_at))"),
        ("time-zone", "months in Tokyo time (the last hours of a UTC month are the next month there)",
         "date_trunc('MONTH', subscriptions.started_at)",
         "date_trunc('MONTH', timezone('Asia/Tokyo', subscriptions.started_at))"),
        ("month-boundary", "a start in the first hours of the 1st counted from the month before",
         "date_trunc('MONTH', subscriptions.started_at)",
         "date_trunc('MONTH', subscriptions.started_at - interval '6' hour)"),
        ("month-boundary", "an end in the last hours of a month counted in the next",
         "date_trunc('MONTH', coalesce(subscriptions.ended_at, data_end.last_month))",
         "date_trunc('MONTH', coalesce(subscriptions.ended_at + interval '12' hour, data_end.last_month))"),
        ("wrong-column", "the data ends at the last invoice's start",
         "max(period_end_at)", "max(period_start_at)"),
        ("wrong-column", "ends at the cancellation, not the end",
         "coalesce(subscriptions.ended_at, data_end.last_month)",
         "coalesce(subscriptions.canceled_at, data_end.last_month)"),
        ("multiplicity", "plans counted, not subscriptions",
         "count(*) as running_subscriptions", "count(distinct plan_id) as running_subscriptions"),
        ("multiplicity", "equal amounts summed once",
         "sum(monthly_amount) as mrr", "sum(distinct monthly_amount) as mrr"),
        ("step", "quarterly steps", "interval '1' month\n", "interval '3' month\n"),
        ("refactor", "count a never-null column", "count(*) as running_subscriptions",
         "count(monthly_amount) as running_subscriptions"),
    ],
    # the version these bugs were written for (v2 keeps the rate unrounded, for Spark)
    "account_payment_health.v1": [
        ("null-zero", "refunds counted as attempts", "    where not is_refund\n", "\n"),
        ("value-set", "deleted accounts kept", "where not accounts.is_deleted", "where true"),
        ("value-set", "pending payments counted as failed",
         "count(*) filter (where payment_status = 'failed') as failed_payments",
         "count(*) filter (where payment_status in ('failed', 'pending')) as failed_payments"),
        ("value-set", "anything not failed counts as succeeded",
         "count(*) filter (where payment_status = 'succeeded')",
         "count(*) filter (where payment_status <> 'failed')"),
        ("precision", "rate rounded to 2 places", "attempts.payment_attempts, 4)", "attempts.payment_attempts, 2)"),
        ("null-zero", "rate over attempts + 1", "attempts.failed_payments / attempts.payment_attempts",
         "attempts.failed_payments / (attempts.payment_attempts + 1)"),
        ("join", "accounts without payments dropped", "left join attempts", "inner join attempts"),
        ("wrong-column", "last failure is the last payment of any status",
         "max(created_at) filter (where payment_status = 'failed') as last_failed_at",
         "max(created_at) as last_failed_at"),
        ("multiplicity", "attempts counted per invoice, not per payment",
         "count(*) as payment_attempts", "count(distinct invoice_id) as payment_attempts"),
        ("null-zero", "no attempts gives null, not 0",
         "coalesce(attempts.failed_payments, 0)", "attempts.failed_payments"),
        ("null-zero", "rate only where a payment failed",
         "when attempts.payment_attempts > 0 then", "when attempts.failed_payments > 0 then"),
        ("wrong-column", "first failure instead of the last",
         "max(created_at) filter (where payment_status = 'failed')",
         "min(created_at) filter (where payment_status = 'failed')"),
        ("refactor", "count the never-null key",
         "count(*) as payment_attempts", "count(payment_id) as payment_attempts"),
        ("refactor", "coalesce in the case", "when attempts.payment_attempts > 0 then",
         "when coalesce(attempts.payment_attempts, 0) > 0 then"),
    ],
    "monthly_revenue_by_tier": [
        ("value-set", "open invoices left out", "('paid', 'open', 'uncollectible')", "('paid', 'uncollectible')"),
        ("value-set", "uncollectible left out", "('paid', 'open', 'uncollectible')", "('paid', 'open')"),
        ("value-set", "everything but void (drafts in)",
         "invoices.invoice_status in ('paid', 'open', 'uncollectible')", "invoices.invoice_status <> 'void'"),
        ("value-set", "only paid", "invoices.invoice_status in ('paid', 'open', 'uncollectible')",
         "invoices.invoice_status = 'paid'"),
        ("month-boundary", "month of the period end",
         "date_trunc('MONTH', invoices.period_start_at)", "date_trunc('MONTH', invoices.period_end_at)"),
        ("month-boundary", "month the invoice was created",
         "date_trunc('MONTH', invoices.period_start_at)", "date_trunc('MONTH', invoices.created_at)"),
        ("time-zone", "months in Los Angeles time",
         "date_trunc('MONTH', invoices.period_start_at)",
         "date_trunc('MONTH', timezone('America/Los_Angeles', invoices.period_start_at))"),
        ("time-zone", "months in Sydney time (the last hours of a UTC month are the next month there)",
         "date_trunc('MONTH', invoices.period_start_at)",
         "date_trunc('MONTH', timezone('Australia/Sydney', invoices.period_start_at))"),
        ("month-boundary", "the month of the day before the period starts (a period from the 1st moves)",
         "date_trunc('MONTH', invoices.period_start_at)",
         "date_trunc('MONTH', invoices.period_start_at - interval '1' day)"),
        ("multiplicity", "accounts counted, not invoices", "count(*) as invoice_count",
         "count(distinct invoices.account_id) as invoice_count"),
        ("wrong-column", "paid before refunds", "sum(invoices.net_paid_amount)", "sum(invoices.amount_paid)"),
        ("wrong-column", "currency of the plan", "    invoices.currency,\n", "    plans.currency,\n"),
        ("date-unit", "quarters", "date_trunc('MONTH', invoices.period_start_at)",
         "date_trunc('QUARTER', invoices.period_start_at)"),
        ("null-zero", "billed only when paid", "sum(invoices.amount_due) as billed_amount",
         "sum(invoices.amount_due) filter (where invoices.is_paid) as billed_amount"),
        ("refactor", "count the unique key (unique upstream)", "count(*) as invoice_count",
         "count(distinct invoices.invoice_id) as invoice_count"),
        ("refactor", "the complement of the value set",
         "invoices.invoice_status in ('paid', 'open', 'uncollectible')",
         "invoices.invoice_status not in ('draft', 'void')"),
    ],
}  # fmt: skip


def run(project_dir: Path, bugs_by_model: dict[str, list[tuple[str, str, str, str]]] | None = None) -> int:
    """Apply every bug and refactor of `bugs_by_model` (default: the sample project's
    `BUGS`) to the built project in `project_dir`, print the table, and return the exit
    status: 0 when the target is met with no false alarm."""
    from generator.project import dbt
    from generator.project.catalog_builder import build_catalog
    from generator.project.sandbox import RESULT_TABLE, SandboxQueryError, open_sandbox
    from generator.sql.runnable import runnable_sql
    from generator.sql.templating import untemplate
    from generator.testgen.modeltests import (
        baseline_tests,
        find_model,
        manifest_tests,
        manifest_unit_tests,
        mutate_model,
        open_model,
    )
    from generator.testgen.mutate import Mutant, run_mutants
    from generator.testgen.testsql import catalog_resolver

    project = dbt_project(project_dir)
    manifest = dbt.parse(project)
    catalog = build_catalog(project, manifest)
    totals = {"bugs": 0, "unit": 0, "data": 0, "contract": 0, "caught": 0, "baseline": 0, "alarms": 0, "refactors": 0}
    survivors: list[str] = []
    print(f"{'model':<26} {'bugs':>4} {'unit':>5} {'data':>5} {'contr':>5} {'all':>5} {'base':>5} {'alarms':>6} "
          f"{'held-out':>9}")  # fmt: skip
    for name, bugs in (BUGS if bugs_by_model is None else bugs_by_model).items():
        relation, node = find_model(project, catalog, manifest, name)
        own, _ = manifest_tests(manifest, relation.unique_id)
        units, _ = manifest_unit_tests(manifest, relation.name, relation.version)
        sql_path = project.project_dir / relation.original_file_path
        original = sql_path.read_text(encoding="utf-8")
        row = {"bugs": 0, "unit": 0, "data": 0, "contract": 0, "caught": 0, "baseline": 0, "alarms": 0}
        with open_sandbox(catalog, 60.0) as sandbox:
            model = open_model(project, catalog, relation, node, sandbox)
            ctx = model.ctx
            mutants, refactors = [], []
            for index, (kind, description, old, new) in enumerate(bugs, start=1):
                if old not in original:
                    raise SystemExit(f"{name}: bug {index} ({description}): {old!r} is not in {sql_path}")
                templated, _ = untemplate(original.replace(old, new, 1))
                from sqlglot import parse_one

                tree = parse_one(templated.sql, read="duckdb")
                mutant = Mutant(index, kind, description, None, tree)
                try:
                    sandbox.execute(
                        "create or replace temp table gm_bug as select * from (\n"
                        f"{runnable_sql(tree, ctx.relations)}\n) as q"
                    )
                    changed = sandbox.execute(
                        f"select (select count(*) from (select * from {RESULT_TABLE} except all select * from gm_bug))"
                        f" + (select count(*) from (select * from gm_bug except all select * from {RESULT_TABLE}))"
                    )[0][0]
                except SandboxQueryError as error:
                    raise SystemExit(f"{name}: bug {index} ({description}) does not run: {error.summary}") from None
                if kind == "refactor":
                    if changed:
                        raise SystemExit(f"{name}: refactor {index} ({description}) changes the output")
                    refactors.append(mutant)
                elif changed:
                    mutants.append(mutant)
                else:
                    print(f"    (bug {index} '{description}' does not change the output on this data: not counted)")
            resolver = catalog_resolver(catalog)
            derived = run_mutants(ctx, mutants + refactors, own, units, resolver, contract=True, model=name)
            bare = run_mutants(ctx, mutants, baseline_tests(relation, own), [], resolver, contract=True, model=name)
        for outcome in derived.outcomes:
            names = outcome.killed_by
            if outcome.mutant.operator == "refactor":
                totals["refactors"] += 1
                if names:
                    row["alarms"] += 1
                    survivors.append(f"{name}: FALSE ALARM on refactor '{outcome.mutant.description}': {names[:3]}")
                continue
            row["bugs"] += 1
            row["unit"] += any(n.startswith("unit test") for n in names)
            row["contract"] += any(n.startswith("contract") for n in names)
            row["data"] += any(not n.startswith(("unit test", "contract")) for n in names)
            row["caught"] += bool(names)
            if not names:
                survivors.append(f"{name}: missed {outcome.mutant.operator} bug '{outcome.mutant.description}'")
        row["baseline"] = sum(1 for o in bare.outcomes if o.killed_by)
        mutation = mutate_model(project, name, manifest=manifest, catalog=catalog)
        held_killed, held_total, held_score = mutation.held_out()
        held = f"{held_killed}/{held_total}" if held_total else "nothing"
        for key in row:
            totals[key] += row[key]
        print(
            f"{name:<26} {row['bugs']:>4} {row['unit']:>5} {row['data']:>5} {row['contract']:>5} "
            f"{row['caught']:>5} {row['baseline']:>5} {row['alarms']:>6} {held:>9}"
        )
    bugs = totals["bugs"] or 1
    print(
        f"\n{totals['bugs']} output-changing bugs: unit test {totals['unit'] / bugs:.0%}, data tests "
        f"{totals['data'] / bugs:.0%}, contract {totals['contract'] / bugs:.0%}, all together "
        f"{totals['caught'] / bugs:.0%} (target {TARGET:.0%}); bare unique + not_null "
        f"{totals['baseline'] / bugs:.0%}; false alarms {totals['alarms']} of {totals['refactors']} refactors"
    )
    for line in survivors:
        print("  " + line)
    return 0 if totals["caught"] / bugs >= TARGET and totals["alarms"] == 0 else 1


def dbt_project(project_dir: Path):
    from generator.project import load_project

    return load_project(project_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=ROOT, help="a built copy of the sample project")
    args = parser.parse_args(argv)
    started = time.monotonic()
    status = run(args.project_dir)
    print(f"({time.monotonic() - started:.0f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())

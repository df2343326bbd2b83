"""The held-out operators issue 13 lists beside the first five: input SQL -> expected mutants,
and SQL where an operator must not fire (a swap that would not bind, a bypass that is the
searched drop-predicate in disguise)."""

from __future__ import annotations

import pytest

from generator.testgen.mutate import HELD_OUT, enumerate_mutants

SUBS = "{{ ref('stg_billing__subscriptions') }}"
INVOICES = "{{ ref('stg_billing__invoices') }}"
PLANS = "{{ ref('stg_billing__plans') }}"

CASES = {
    "time-zone": (
        f"""
        select
            account_id,
            date_trunc('month', started_at) as month,
            cast(ended_at as date) as ended_on,
            cast(started_at at time zone 'America/Chicago' as date) as started_on,
            count(*) as subscriptions
        from {SUBS}
        group by all
        """,
        [
            "`started_at` read in America/New_York time in `date_trunc('MONTH', started_at)`",
            "`started_at` read in Asia/Tokyo time in `date_trunc('MONTH', started_at)`",
            "`ended_at` read in America/New_York time in `cast(ended_at as date)`",
            "`ended_at` read in Asia/Tokyo time in `cast(ended_at as date)`",
            "`started_at at time zone 'America/Chicago'` in UTC instead",
            "`started_at at time zone 'America/Chicago'` -> `started_at`",
        ],
    ),
    "join-swap": (
        f"""
        with invoices as (select * from {INVOICES}),
        subscriptions as (select * from {SUBS})
        select invoices.invoice_id, subscriptions.plan_id
        from invoices
        inner join subscriptions
            on invoices.subscription_id = subscriptions.subscription_id
            and invoices.account_id = subscriptions.account_id
        """,
        [
            "join on invoices.invoice_id instead of invoices.subscription_id",
            "join on invoices.account_id instead of invoices.subscription_id",
            "join on subscriptions.plan_id instead of subscriptions.subscription_id",
            "join on subscriptions.previous_subscription_id instead of subscriptions.subscription_id",
            "join on invoices.invoice_id instead of invoices.account_id",
            "join on invoices.subscription_id instead of invoices.account_id",
            "join on subscriptions.plan_id instead of subscriptions.account_id",
            "join on subscriptions.previous_subscription_id instead of subscriptions.account_id",
            "`subscriptions.subscription_id` and `subscriptions.account_id` trade places in the join",
        ],
    ),
    "coalesce-order": (
        f"""
        select subscription_id, coalesce(ended_at, canceled_at, trial_ends_at) as stopped_at,
            coalesce(seats, 0) as seats
        from {SUBS}
        """,
        [
            "`coalesce(ended_at, canceled_at, trial_ends_at)` with its first two values swapped",
            "drop `canceled_at` from `coalesce(ended_at, canceled_at, trial_ends_at)`",
        ],
    ),
    "frame-drop": (
        f"""
        select subscription_id,
            sum(seats) over (partition by account_id order by started_at rows between 2 preceding and current row)
                as rolling_seats
        from {SUBS}
        """,
        ["drop the frame `rows between 2 preceding and current row` of a window"],
    ),
    "cte-bypass": (
        f"""
        with subscriptions as (select * from {SUBS}),
        paid as (
            select subscription_id, account_id, seats from subscriptions where subscription_status <> 'trialing'
        ),
        firsts as (select account_id, min(subscription_id) as first_id from paid group by account_id)
        select paid.account_id, sum(paid.seats) as seats, min(firsts.first_id) as first_id
        from paid
        inner join firsts on firsts.account_id = paid.account_id
        group by paid.account_id
        """,
        [
            "`from paid` in the final select reads subscriptions instead (its filter skipped)",
            "`from paid` in firsts reads subscriptions instead (its filter skipped)",
        ],
    ),
}


def _context(sample_catalog, sql: str):
    """`sql`'s context after the static gates (no sandbox: nothing runs)."""
    from generator.gates import GATES
    from generator.gates.base import run_gates
    from generator.proposal import ColumnSpec, Proposal
    from generator.sql.context import GateContext

    proposal = Proposal(
        name="held_out", layer="marts", description="d", grain=("x",), sql=sql, columns=(ColumnSpec("x"),)
    )
    ctx = GateContext(proposal=proposal, catalog=sample_catalog, allow_nondeterministic=True)
    report = run_gates(ctx, tuple(rule for rule in GATES if rule.name in ("parse", "references", "binding")))
    assert report.passed, report.format()
    return ctx


def _mutants(sample_catalog, sql: str, operator: str) -> list:
    return [m for m in enumerate_mutants(_context(sample_catalog, sql)) if m.operator == operator]


@pytest.mark.parametrize("operator", sorted(CASES))
def test_a_held_out_operator_makes_the_expected_mutants(sample_catalog, operator):
    sql, expected = CASES[operator]
    mutants = _mutants(sample_catalog, sql, operator)
    assert operator in HELD_OUT
    assert [m.description for m in mutants] == expected
    assert all(m.held_out for m in mutants)


# SQL where the operator must not fire, and why.
NOT_FIRING = {
    "time-zone": (
        # A date has no hours to read in another zone; a computed column's type is not known.
        f"""
        with lasts as (select account_id, max(started_at) as last_at from {SUBS} group by account_id)
        select account_id, date_trunc('month', cast(last_at as date)) as month, date_trunc('month', last_at) as m
        from lasts
        """
    ),
    "join-swap": (
        # No other key-like column of the key's type on either side (plan_name is the searched
        # join-key's), and the two equalities' keys are of different types: no trade.
        f"""
        with plans as (select * from {PLANS})
        select plans.plan_id, newer.plan_name
        from plans
        inner join plans as newer on newer.plan_id = plans.plan_id and newer.unit_price = plans.unit_price
        """
    ),
    "coalesce-order": f"select subscription_id, coalesce(seats, 0) as seats from {SUBS}",
    "frame-drop": (
        f"select subscription_id, sum(seats) over (partition by account_id order by started_at) as seats from {SUBS}"
    ),
    "cte-bypass": (
        # One reader (the searched drop-predicate already drops its filter), a renamed column,
        # a join in the CTE, and a reader that selects * (its columns would change).
        f"""
        with subscriptions as (select * from {SUBS}),
        one_reader as (select subscription_id from subscriptions where seats > 1),
        renamed as (select subscription_id as id from subscriptions where seats > 2),
        joined as (
            select subscriptions.subscription_id from subscriptions
            inner join {PLANS} as plans on plans.plan_id = subscriptions.plan_id
            where plans.is_active
        ),
        narrow as (select subscription_id, seats from subscriptions where seats > 3),
        star_reader as (select * from narrow)
        select one_reader.subscription_id
        from one_reader
        inner join renamed on renamed.id = one_reader.subscription_id
        inner join renamed as again on again.id = one_reader.subscription_id
        inner join joined on joined.subscription_id = one_reader.subscription_id
        inner join joined as twice on twice.subscription_id = one_reader.subscription_id
        inner join star_reader on star_reader.subscription_id = one_reader.subscription_id
        inner join narrow on narrow.seats = star_reader.seats
        """
    ),
}


@pytest.mark.parametrize("operator", sorted(NOT_FIRING))
def test_a_held_out_operator_does_not_fire_where_it_would_not_bind_or_mean_anything_new(sample_catalog, operator):
    mutants = _mutants(sample_catalog, NOT_FIRING[operator], operator)
    if operator == "cte-bypass":
        # narrow has two readers; only the one that names its columns may read the source instead.
        assert [m.description for m in mutants] == [
            "`from narrow` in the final select reads subscriptions instead (its filter skipped)"
        ]
        return
    assert mutants == []


def test_the_new_mutants_run_in_duckdb(sample_catalog):
    """Every mutant of the cases binds and runs in the sandbox (none is an invalid mutant)."""
    from generator.project.sandbox import open_sandbox
    from generator.sql.runnable import runnable_sql

    with open_sandbox(sample_catalog, 60) as sandbox:
        for operator, (sql, _) in CASES.items():
            ctx = _context(sample_catalog, sql)
            for mutant in enumerate_mutants(ctx):
                if mutant.operator == operator:
                    sandbox.execute(f"select count(*) from ({runnable_sql(mutant.tree, ctx.relations)})")


def test_value_set_adds_a_sibling_to_an_in_list(sample_catalog):
    """The other half of a wrong value set: a status the list leaves out is kept too; a
    column without known values (plan_id) gets nothing added."""
    sql = f"""
        select subscription_id
        from {SUBS}
        where subscription_status in ('active', 'past_due') and plan_id in ('p1', 'p2')
    """
    added = [m.description for m in _mutants(sample_catalog, sql, "value-set") if m.description.startswith("add ")]
    assert added == [
        "add 'trialing' to `subscription_status in ('active', 'past_due')`",
        "add 'canceled' to `subscription_status in ('active', 'past_due')`",
    ]

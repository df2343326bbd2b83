"""raw_billing: a Stripe-like billing system's plans, subscriptions, invoices and payments.

The story per account: it signs up on the free plan or a 14-day trial; trials convert or
lapse (some lapse to free); paying customers upgrade, downgrade (a plan change ends the old
subscription and starts a new one pointing back at it) or cancel at the end of a billing
period; deleting an account cancels at once. Every billing period of a paid subscription
has an invoice of price x seats, paid (sometimes after failed attempts), still open,
voided or written off; a few payments are refunded by a negative payment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from sample_data import reference as ref
from sample_data.app import NEVER, Accounts, Users
from sample_data.common import (
    END,
    EXTRACTED_AT,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_MINUTE,
    US_PER_SECOND,
    Streams,
    add_months,
    ids,
    load_lag,
    lookup,
    pick,
    to_datetime,
    utc_us,
)

FREE, STARTER, GROWTH, ENTERPRISE = range(4)
MONTH, YEAR = 0, 1
INTERVALS = ["month", "year"]
PLAN_CURRENCIES = ["usd", "eur", "gbp"]
TRIAL_DAYS = 14
AVERAGE_MONTH = int(30.44 * US_PER_DAY)
PRICE_CHANGE_AT = utc_us(*ref.PRICE_CHANGE_AT)

# Monthly hazards per tier (free, starter, growth, enterprise): cancel, move up, move down.
CHURN_RATE = np.array([0.0, 0.03, 0.02, 0.01])
UPGRADE_RATE = np.array([0.03, 0.03, 0.015, 0.01])
DOWNGRADE_RATE = np.array([0.0, 0.012, 0.015, 0.008])
TRIAL_CONVERSION = 0.5
# What ends a subscription.
CHURN, UPGRADE, DOWNGRADE, LAPSE_TO_FREE = range(4)
PAST_DUE_SHARE = 0.06


@dataclass
class Billing:
    """The four raw_billing tables and what the event stream needs to know."""

    plans: pl.DataFrame
    subscriptions: pl.DataFrame
    invoices: pl.DataFrame
    payments: pl.DataFrame
    # Until when each account uses the product: deletion, or a month after its last
    # subscription ended; END while any subscription runs.
    active_until: np.ndarray
    # Whether each account was ever billed (a customer, as sales would say).
    customer: np.ndarray


@dataclass
class PlanCatalog:
    table: pl.DataFrame
    # index[tier, interval, plan currency, legacy] -> row of `table`
    index: np.ndarray
    unit_amount: np.ndarray


def make_plans() -> PlanCatalog:
    """The price list: free, three paid tiers x month/year x usd/eur/gbp, two legacy plans."""
    rows = [("plan_free", "Free", "free", "month", "usd", 0, True)]
    index = np.zeros((4, 2, 3, 2), dtype=np.int64)  # free is row 0 everywhere
    for tier_number, tier in enumerate(ref.TIERS[1:], start=1):
        for interval_number, (interval, label) in enumerate((("month", "Monthly"), ("year", "Yearly"))):
            for currency_number, currency in enumerate(PLAN_CURRENCIES):
                price = ref.TIER_PRICES[tier][currency] * (10 if interval == "year" else 1)
                plan_id = f"plan_{tier}_{label.lower()}" + ("" if currency == "usd" else f"_{currency}")
                name = f"{tier.title()} {label}" + ("" if currency == "usd" else f" ({currency.upper()})")
                index[tier_number, interval_number, currency_number, :] = len(rows)
                rows.append((plan_id, name, tier, interval, currency, price, True))
    for tier, price in ref.LEGACY_PRICES.items():
        index[ref.TIERS.index(tier), MONTH, 0, 1] = len(rows)
        rows.append(
            (
                f"plan_{tier}_monthly_2023",
                f"{tier.title()} Monthly (2023 pricing)",
                tier,
                "month",
                "usd",
                price,
                False,
            )
        )
    table = pl.DataFrame(
        rows,
        schema=["id", "name", "tier", "billing_interval", "currency", "unit_amount", "is_active"],
        orient="row",
    )
    return PlanCatalog(table, index, table["unit_amount"].to_numpy())


def next_boundary(start: np.ndarray, moment: np.ndarray, step_months: np.ndarray) -> np.ndarray:
    """The first billing-period boundary (start + k * step months, k >= 1) at or after `moment`."""
    guess = np.maximum(1, np.ceil((moment - start) / (step_months * AVERAGE_MONTH))).astype(np.int64)
    boundary = add_months(start, guess * step_months)
    later = boundary < moment
    guess[later] += 1
    earlier = (guess > 1) & (add_months(start, (guess - 1) * step_months) >= moment)
    guess[earlier] -= 1
    return add_months(start, guess * step_months)


def exponential_months(rng: np.random.Generator, rate: np.ndarray) -> np.ndarray:
    """Waiting times (us) for monthly hazards `rate`; never for a zero rate."""
    with np.errstate(divide="ignore"):
        months = rng.exponential(1.0, len(rate)) / rate
    return np.where(rate > 0, np.minimum(months, 1e4) * AVERAGE_MONTH, np.inf)


def clip_seats(seats: np.ndarray, tier: np.ndarray) -> np.ndarray:
    low = np.array([ref.TIER_SEATS[name][0] for name in ref.TIERS])[tier]
    high = np.array([ref.TIER_SEATS[name][1] for name in ref.TIERS])[tier]
    return np.clip(np.round(seats), low, high).astype(np.int64)


def simulate_subscriptions(
    rng: np.random.Generator, accounts: Accounts, users_per_account: np.ndarray
) -> dict[str, np.ndarray]:
    """Every account's subscription history, one generation of plan changes at a time."""
    count = accounts.count
    on_trial = rng.random(count) < 0.65
    trial_tier = pick(rng, ref.TIERS[1:], [60, 35, 5], count) + 1
    tier = np.where(on_trial, trial_tier, FREE)
    start = accounts.created + rng.integers(US_PER_SECOND, 10 * US_PER_MINUTE, count)
    current = {
        "account": np.arange(count),
        "tier": tier,
        "interval": np.zeros(count, dtype=np.int64),
        "seats": clip_seats(users_per_account * rng.uniform(0.6, 1.3, count), tier),
        "start": start,
        "trial_end": np.where(on_trial, start + TRIAL_DAYS * US_PER_DAY, NEVER),
        "previous": np.full(count, -1),
    }
    generations: list[dict[str, np.ndarray]] = []
    next_row = 0
    while len(current["account"]):
        size = len(current["account"])
        account, tier, interval = current["account"], current["tier"], current["interval"]
        start, trial_end = current["start"], current["trial_end"]
        deleted = accounts.deleted[account]
        step = np.where(interval == YEAR, 12, 1)
        has_trial = trial_end != NEVER
        bill_start = np.where(has_trial, trial_end, start)

        # What ends this subscription, if anything, and when it takes effect.
        churn_at = bill_start + exponential_months(rng, CHURN_RATE[tier])
        up_at = bill_start + exponential_months(rng, UPGRADE_RATE[tier])
        down_at = bill_start + exponential_months(rng, DOWNGRADE_RATE[tier])
        requested = np.minimum(np.minimum(churn_at, up_at), down_at)
        kind = np.select([requested == churn_at, requested == up_at], [CHURN, UPGRADE], DOWNGRADE)
        requested = np.where(np.isfinite(requested), requested, float(NEVER))
        requested = np.minimum(requested, float(NEVER // 2)).astype(np.int64)

        # Trials: lapse (some to the free plan) or convert and go on as paid.
        lapses = has_trial & (rng.random(size) >= TRIAL_CONVERSION)
        lapse_requested = start + (rng.uniform(0.3, 1.0, size) * (trial_end - start)).astype(np.int64)
        requested = np.where(lapses, lapse_requested, requested)
        kind = np.where(lapses, np.where(rng.random(size) < 0.5, LAPSE_TO_FREE, CHURN), kind)

        in_range = requested < END
        boundary = np.full(size, NEVER, dtype=np.int64)
        boundary[in_range] = next_boundary(bill_start[in_range], requested[in_range], step[in_range])
        # Cancellations wait for the period end, a downgrade of a yearly plan for the renewal;
        # upgrades take effect at once; a lapsing trial ends when the trial does.
        effective = np.select(
            [kind == CHURN, kind == UPGRADE, (kind == DOWNGRADE) & (interval == YEAR)],
            [boundary, requested, boundary],
            requested,
        )
        effective = np.where(lapses, trial_end, effective)

        deleted_first = (deleted <= effective) & (deleted < END)
        happens = ~deleted_first & (effective < END)
        ended = np.select([deleted_first, happens], [deleted, effective], NEVER)
        quits = (kind == CHURN) | (kind == LAPSE_TO_FREE)
        # The last case: canceled before END, running until the period ends after END.
        canceled = np.select(
            [deleted_first, happens & quits, happens, (kind == CHURN) & in_range],
            [deleted, requested, effective, requested],
            NEVER,
        )
        # A trial still running at END has not decided anything yet.
        undecided = has_trial & (trial_end >= END) & ~deleted_first
        canceled = np.where(undecided, NEVER, canceled)

        rows = np.arange(next_row, next_row + size)
        next_row += size
        generations.append(
            {
                **current,
                "row": rows,
                "bill_start": bill_start,
                "ended": ended,
                "canceled": canceled,
            }
        )

        # Plan changes start a successor subscription the moment the old one ends.
        moves = happens & (kind != CHURN)
        up = kind[moves] == UPGRADE
        old_tier, old_interval, old_seats = tier[moves], interval[moves], current["seats"][moves]
        moved = moves.sum()
        new_tier = np.where(up, np.minimum(old_tier + 1, ENTERPRISE), np.maximum(old_tier - 1, FREE))
        new_tier = np.where(kind[moves] == LAPSE_TO_FREE, FREE, new_tier)
        new_tier = np.where(up & (old_tier == FREE), np.where(rng.random(moved) < 0.3, GROWTH, STARTER), new_tier)
        new_interval = np.where(
            up & (new_tier > FREE) & (rng.random(moved) < 0.25),
            YEAR,
            np.where(~up & (rng.random(moved) < 0.5), MONTH, old_interval),
        )
        # Enterprise customers move 'up' by switching to yearly billing or buying seats.
        new_interval = np.where(up & (old_tier == ENTERPRISE), YEAR, new_interval)
        new_interval = np.where(new_tier == FREE, MONTH, new_interval)
        team = users_per_account[account[moves]] * rng.uniform(0.6, 1.3, moved)
        seats = np.where(
            up,
            np.maximum(old_seats * rng.uniform(1.0, 1.5, moved) + 1, team),
            old_seats * rng.uniform(0.5, 1.0, moved),
        )
        current = {
            "account": account[moves],
            "tier": new_tier,
            "interval": new_interval,
            "seats": clip_seats(seats, new_tier),
            "start": ended[moves],
            "trial_end": np.full(moved, NEVER),
            "previous": rows[moves],
        }
    return {key: np.concatenate([part[key] for part in generations]) for key in generations[0]}


def make_billing(streams: Streams, accounts: Accounts, users: Users) -> Billing:
    """Plans, then each account's subscriptions, their invoices and the payments on them."""
    plans = make_plans()
    rng = streams("subscriptions")
    users_per_account = np.bincount(users.account, minlength=accounts.count)
    history = simulate_subscriptions(rng, accounts, users_per_account)

    account, tier, interval = history["account"], history["tier"], history["interval"]
    start, trial_end = history["start"], history["trial_end"]
    ended, canceled = history["ended"], history["canceled"]
    currency = accounts.currency[account]
    plan_currency = np.array([PLAN_CURRENCIES.index(ref.PLAN_CURRENCY[code]) for code in ref.CURRENCIES])[currency]
    legacy = ((start < PRICE_CHANGE_AT) & (plan_currency == 0) & (interval == MONTH)).astype(np.int64)
    plan = plans.index[tier, interval, plan_currency, legacy]

    running = ended == NEVER
    trialing = running & (trial_end != NEVER) & (trial_end >= END)
    past_due = running & ~trialing & (tier > FREE) & (canceled == NEVER) & (rng.random(len(tier)) < PAST_DUE_SHARE)
    status = np.select([~running, trialing, past_due], [3, 0, 2], 1)
    stamps = np.stack(
        [
            start,
            np.where(trial_end < END, trial_end, 0),
            np.where(canceled < END, canceled, 0),
            np.where(ended < END, ended, 0),
        ]
    )
    updated = stamps.max(axis=0)

    # Subscription ids follow the order they started in.
    order = np.lexsort((account, start))
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    subscription_ids = ids("sub_", len(order), 6)
    previous = history["previous"]
    previous_position = np.where(previous >= 0, position[np.maximum(previous, 0)], -1)
    account_ids = accounts.table["id"]
    subscriptions = pl.DataFrame(
        {
            "id": subscription_ids.gather(position),
            "account_id": account_ids.gather(account),
            "plan_id": plans.table["id"].gather(plan),
            "status": lookup(["trialing", "active", "past_due", "canceled"], status),
            "quantity": pl.Series(history["seats"], dtype=pl.Int32),
            "started_at": to_datetime(start),
            "ended_at": to_datetime(ended, ended == NEVER),
            "canceled_at": to_datetime(canceled, canceled == NEVER),
            "trial_ends_at": to_datetime(trial_end, trial_end == NEVER),
            "previous_subscription_id": subscription_ids.gather(np.maximum(previous_position, 0)),
            "created_at": to_datetime(start),
            "updated_at": to_datetime(updated),
        }
    ).with_columns(
        previous_subscription_id=pl.when(pl.Series(previous_position >= 0)).then(pl.col("previous_subscription_id"))
    )
    subscriptions = subscriptions.sort("id")

    invoices, payments = make_invoices_and_payments(
        streams, accounts, plans, history, plan, currency, past_due, position, subscription_ids
    )

    # Until when the account uses the product: a month after its last subscription ended.
    last_end = np.zeros(accounts.count, dtype=np.int64)
    np.maximum.at(last_end, account, np.where(running, END, np.minimum(ended, END)))
    active_until = np.where(last_end >= END, END, np.minimum(last_end + 30 * US_PER_DAY, END))
    active_until = np.minimum(active_until, accounts.deleted)
    customer = np.zeros(accounts.count, dtype=bool)
    customer[account[(tier > FREE) & (history["bill_start"] < np.minimum(ended, END))]] = True
    return Billing(plans.table, subscriptions, invoices, payments, active_until, customer)


def payment_methods(rng: np.random.Generator, accounts: Accounts) -> np.ndarray:
    """Each account's way of paying, by billing currency: SEPA in euros, ACH in dollars."""
    draw = rng.random(accounts.count)
    code = np.array(ref.CURRENCIES)[accounts.currency]
    card, sepa, ach, wire = range(4)
    return np.select(
        [draw < 0.08, (code == "eur") & (draw < 0.50), (code == "usd") & (draw < 0.30)],
        [wire, sepa, ach],
        card,
    )


def make_invoices_and_payments(
    streams: Streams,
    accounts: Accounts,
    plans: PlanCatalog,
    history: dict[str, np.ndarray],
    plan: np.ndarray,
    currency: np.ndarray,
    past_due: np.ndarray,
    position: np.ndarray,
    subscription_ids: pl.Series,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One invoice per billing period of every paid subscription, and its payment attempts."""
    rng = streams("invoices")
    method_of_account = payment_methods(rng, accounts)
    tier, interval = history["tier"], history["interval"]
    bill_start = history["bill_start"]
    bill_end = np.minimum(history["ended"], END)
    billed = (tier > 0) & (bill_start < bill_end)
    subs = np.flatnonzero(billed)
    step = np.where(interval[subs] == YEAR, 12, 1)
    span_days = (bill_end[subs] - bill_start[subs]) // US_PER_DAY
    upper = np.where(step == 12, span_days // 365 + 2, span_days // 28 + 2)
    sub = np.repeat(subs, upper)
    first = np.repeat(np.cumsum(upper) - upper, upper)
    period = np.arange(len(sub)) - first
    sub_step = np.repeat(step, upper)
    period_start = add_months(bill_start[sub], period * sub_step)
    keep = period_start < bill_end[sub]
    sub, period, sub_step, period_start = (
        sub[keep],
        period[keep],
        sub_step[keep],
        period_start[keep],
    )
    period_end = add_months(bill_start[sub], (period + 1) * sub_step)
    count = len(sub)
    is_last = np.r_[sub[1:] != sub[:-1], True] if count else np.zeros(0, dtype=bool)

    account = history["account"][sub]
    code = np.array(ref.CURRENCIES)[currency[sub]]
    unit_amount = plans.unit_amount[plan[sub]]
    # Price book in integers: per-seat price x percent, rounded half up to whole currency units.
    percent = np.array([ref.PRICE_BOOK_PERCENT.get(name, 100) for name in ref.CURRENCIES])[currency[sub]]
    local_unit = np.where(percent == 100, unit_amount, (unit_amount * percent + 5000) // 10000 * 100)
    amount_due = (local_unit * history["seats"][sub]).astype(np.int64)
    method = method_of_account[account]
    wire = method == 3
    created = period_start + rng.integers(US_PER_MINUTE, 2 * US_PER_HOUR, count)
    created = np.minimum(created, END - US_PER_SECOND)
    due = np.where(wire, created + 30 * US_PER_DAY, created)

    # Each invoice's fate: 0 paid, 1 open, 2 void, 3 uncollectible, 4 draft.
    fate = np.zeros(count, dtype=np.int64)
    draw = rng.random(count)
    fate[draw < 0.010] = 2
    fate[(draw >= 0.010) & (draw < 0.022) & ~wire] = 3
    fate[wire & (due > END) & (rng.random(count) < 0.6)] = 1
    owed = is_last & past_due[sub]
    fate[owed] = 1
    fate[is_last & (created > END - US_PER_DAY) & ~owed] = 4

    # Payment attempts: failures before success, dunning for the uncollectible and past due.
    failures = np.where(fate == 3, 4, 0)
    failures = np.where(owed & ~wire, rng.integers(1, 4, count), failures)
    retried = (fate == 0) & ~wire & (rng.random(count) < 0.07)
    failures = np.where(retried, rng.integers(1, 3, count), failures)
    settle = np.where(wire, rng.uniform(2, 40, count) * US_PER_DAY, rng.uniform(1, 60, count) * US_PER_MINUTE)
    retry_gap = rng.uniform(2, 4, count) * US_PER_DAY
    paid_at = (created + settle + failures * retry_gap).astype(np.int64)
    # A direct debit initiated in the last days is still pending at the extract.
    debit = (method == 1) | (method == 2)
    pending = (fate == 0) & debit & ~retried & (created > END - 4 * US_PER_DAY) & (rng.random(count) < 0.5)
    fate[pending] = 1
    fate[(fate == 0) & (paid_at >= END)] = 1  # the money has not arrived yet
    amount_paid = np.where(fate == 0, amount_due, 0)

    order = np.lexsort((position[sub], created))
    invoice_number = np.empty(count, dtype=np.int64)
    invoice_number[order] = np.arange(count)
    invoice_ids = ids("in_", count, 6)
    code_series = pl.Series(code)
    invoices = pl.DataFrame(
        {
            "id": invoice_ids.gather(invoice_number),
            "account_id": accounts.table["id"].gather(account),
            "subscription_id": subscription_ids.gather(position[sub]),
            "currency": code_series,
            "amount_due": amount_due,
            "amount_paid": amount_paid.astype(np.int64),
            "status": lookup(["paid", "open", "void", "uncollectible", "draft"], fate),
            "period_start": to_datetime(period_start),
            "period_end": to_datetime(period_end),
            "created_at": to_datetime(created),
            "due_at": to_datetime(due),
        }
    ).sort("id")

    # Payment rows: failed attempts, the success, a pending debit, a refund.
    attempts = np.where(fate == 2, 0, failures)
    attempts = np.where(fate == 4, 0, attempts)
    failed_invoice = np.repeat(np.arange(count), attempts)
    failed_number = np.arange(len(failed_invoice)) - np.repeat(np.cumsum(attempts) - attempts, attempts)
    failed_at = (
        created[failed_invoice]
        + rng.integers(US_PER_MINUTE, US_PER_HOUR, len(failed_invoice))
        + failed_number * retry_gap[failed_invoice]
    ).astype(np.int64)
    keep = failed_at < END
    failed_invoice, failed_at = failed_invoice[keep], failed_at[keep]
    reasons = [reason for name in ("card", "sepa_debit", "ach") for reason in ref.FAILURE_REASONS[name]]
    # Offsets of each method's reasons in `reasons` (card, sepa_debit, ach; wires never fail).
    reason_offset = np.array([0, 4, 7, 0])
    reason_count = np.array([4, 3, 3, 1])
    failed_method = method[failed_invoice]
    reason = reason_offset[failed_method] + (rng.random(len(failed_invoice)) * reason_count[failed_method]).astype(
        np.int64
    )

    succeeded_invoice = np.flatnonzero(fate == 0)
    pending_invoice = np.flatnonzero(pending)
    pending_at = created[pending_invoice] + rng.integers(US_PER_MINUTE, US_PER_HOUR, len(pending_invoice))
    refunded = succeeded_invoice[rng.random(len(succeeded_invoice)) < 0.02]
    full_refund = rng.random(len(refunded)) < 0.6
    refund_amount = np.where(
        full_refund,
        amount_due[refunded],
        np.round(amount_due[refunded] * rng.uniform(0.1, 0.5, len(refunded))),
    ).astype(np.int64)
    refund_at = paid_at[refunded] + (rng.uniform(1, 45, len(refunded)) * US_PER_DAY).astype(np.int64)
    keep = refund_at < END
    refunded, refund_amount, refund_at = refunded[keep], refund_amount[keep], refund_at[keep]

    invoice = np.concatenate([failed_invoice, succeeded_invoice, pending_invoice, refunded])
    amount = np.concatenate(
        [
            amount_due[failed_invoice],
            amount_due[succeeded_invoice],
            amount_due[pending_invoice],
            -refund_amount,
        ]
    )
    paid_status = np.concatenate(
        [
            np.full(len(failed_invoice), 1),
            np.zeros(len(succeeded_invoice), dtype=np.int64),
            np.full(len(pending_invoice), 2),
            np.zeros(len(refunded), dtype=np.int64),
        ]
    )
    failure = np.concatenate([reason, np.full(len(succeeded_invoice) + len(pending_invoice) + len(refunded), -1)])
    at = np.concatenate([failed_at, paid_at[succeeded_invoice], pending_at, refund_at])
    payment_order = np.lexsort((amount, invoice_number[invoice], at))
    invoice, amount, paid_status, failure, at = (
        column[payment_order] for column in (invoice, amount, paid_status, failure, at)
    )
    size = len(invoice)
    loaded = np.minimum(at + load_lag(rng, size, 0.03), EXTRACTED_AT)
    payments = pl.DataFrame(
        {
            "id": ids("py_", size, 6),
            "invoice_id": invoice_ids.gather(invoice_number[invoice]),
            "account_id": accounts.table["id"].gather(account[invoice]),
            "amount": amount,
            "currency": code_series.gather(invoice),
            "status": lookup(["succeeded", "failed", "pending"], paid_status),
            "payment_method": lookup(ref.PAYMENT_METHODS, method[invoice]),
            "failure_reason": lookup(reasons, failure),
            "created_at": to_datetime(at),
            "_loaded_at": to_datetime(loaded),
        }
    )
    return invoices, duplicate_loads(rng, payments, loaded)


def duplicate_loads(rng: np.random.Generator, payments: pl.DataFrame, loaded: np.ndarray) -> pl.DataFrame:
    """Land ~1% of payments twice, as at-least-once EL does: same id, a later `_loaded_at`.

    A direct debit that settled between the two loads was still 'pending' the first time.
    """
    size = payments.height
    again = np.flatnonzero((rng.random(size) < 0.01) & (loaded < EXTRACTED_AT - US_PER_HOUR))
    later = (
        loaded[again]
        + (rng.random(len(again)) * np.minimum(3 * US_PER_DAY, EXTRACTED_AT - loaded[again])).astype(np.int64)
        + US_PER_SECOND
    )
    first_copy = payments[again]
    settled_since = (
        first_copy["payment_method"].is_in(["sepa_debit", "ach"]) & (first_copy["status"] != "pending")
    ) & pl.Series(rng.random(len(again)) < 0.5)
    first_copy = first_copy.with_columns(
        status=pl.when(settled_since).then(pl.lit("pending")).otherwise(pl.col("status")),
        failure_reason=pl.when(settled_since).then(None).otherwise(pl.col("failure_reason")),
    )
    second_copy = payments[again].with_columns(_loaded_at=to_datetime(later))
    rest = np.setdiff1d(np.arange(size), again)
    return pl.concat([payments[rest], first_copy, second_copy]).sort("_loaded_at", "id")

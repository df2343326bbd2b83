"""Realistic bugs on a fifth domain: airline ticket sales and a computer shop, first contact.

First contact (the first and only run, on main at 55ee3a6, 2026-12-05, 52 s): 40
output-changing bugs, unit test 95%, data tests 5%, contract 8%, all together 95% (38/40;
target 95%); bare unique + not_null 8%; false alarms 0 of 9 refactors; held-out mutation
12/12, 12/14, 24/24. 3 of the 43 bugs did not change the output on this data and are not
counted: 'duration in whole hours' and 'average price in integer division' (DuckDB's `//`
on a DOUBLE divides like `/`: a mistake of the bug writer, not a catch), 'discount rounded
to whole percent' (every discount in the data is exactly 10%). No gen-model error or crash:
the build, `gen-model init` and the three applies ran clean.
The 2 misses, both package_monthly, share one cause (unit_fixtures.py is in generator/testgen/):
the 20-row budget of stg_tickets (MAX_ROWS_PER_INPUT) is spent before the rows that matter
are offered. cover_apart covers the values of packages.cancellation_policy (a filtered column
of the parent input stg_flight_packages) with blocks of that package and its tickets, and
block() takes EXPANSION = 3 tickets per key value, the first by gm_row (SN8801's, and
SN8801-SN8943's for 1_BAG_E): 6 packages x 3 tickets (+1) = 19 tickets on two flights that
leave on one day. Every later candidate
that brings a ticket block (3 more) is over budget and _adopt_best drops it:
- 'month of the UTC arrival, not of the departure' (`date_trunc('MONTH',
  flights.departs_at_local)` -> `flights.arrives_at`): needs a ticket of SN8913 (leaves
  11-30 14:45 New York time, lands 12-01 01:49 UTC) or of SN8807-SN8913. boundary_candidates
  does offer it ("departs_at_local: last hours of a month (UTC)", stg_flights row 5) but the
  fixture had 19 tickets then: not covered. The fixture holds two flights, both leaving on
  12-03; departure_month has one value. It is also a wrong column of the same type (the
  class reverted on hn: rows where a read timestamp and the given-only ones fall in two
  months).
- 'lowest price is the highest' (`min(tickets.ticket_price)` -> `max`): every package and
  month group of the fixture has its tickets from one flight, which all cost the same (a
  price is per flight and package); needs two flights of one package in one month (1_BAG_E:
  330 on SN8801, 390 on SN8943). It is gen-model's own aggregate mutant #16 (not held out),
  which choose_rows lists as unkillable, like #2 (drop departure_month from the group by:
  needs one package in two months).
Held-out 12/14 on package_monthly: #38 (drop 'Premium_Economy_Full_Refund' from the filter's
value set) survives because Max_Flex_PE (and Partial_Refund's Medium_Flex_E) never got in:
same budget. (The other survivor is #2, above.)
Diagnostic, not a fix (a monkeypatched run of `gen-model tests package_monthly --dry-run`,
nothing of it kept): with EXPANSION = 1 the same search has 16 tickets on all 6 flights, covers
the month boundary, and kills #2, #15 and #16. A fix likely belongs in cover/cover_apart:
a class row on a parent input needs one child per key value (or the block's children cut
to the fewest that still change the expected rows), not EXPANSION of them.

After the fix (unit_fixtures.py: a coverage class is offered a lean block first, one row per
key value except the seed's own siblings, which a group's aggregates read; the full block only
when the lean one does not change the expected rows): 40 of 40, unit test 98%, 0 false alarms
of 9 refactors; held-out 13/13, 13/14, 24/24; every other set's table unchanged. The fix cost
flight_sales's unit test one catch ('occupancy in integer division', still caught by the
contract). Now a seen set: 95% stays its first-contact figure.

realistic_bugs_shop.py, realistic_bugs_shop_holdout.py, realistic_bugs_nyc.py and
realistic_bugs_hn.py were all tuned against; issue 13 keeps "a hidden set of realistic bugs
on projects you have not seen". This is a fifth set on a domain nobody here wrote marts for
before: benchmarks/flight_project/ (sources on the flightinfo tables of
../shared/corpora/duckdb-nsql/databases/flightinfo/flightinfo.duckdb and the tables of
laptop/laptop.duckdb, eight staging views with the data tests a team would write) is copied
into a temp dir with a copy of flightinfo.duckdb into which laptop.duckdb's tables are copied
as schema `laptop` (the corpus files are only read), built, `gen-model init`-ed, and given
the marts of benchmarks/flight_proposals/ (sales per flight, tickets per fare package and
month of departure, purchases per shop customer). The bugs below are then scored with
`realistic_bugs.run`, through realistic_bugs_shop's `main`.

    python benchmarks/realistic_bugs_flight.py [--shared-dir DIR] [--keep DIR | --project-dir DIR]

Exits as realistic_bugs_shop.py does: 1 below 95% caught or on a false alarm, 2 when the
project cannot be prepared.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.realistic_bugs_shop import main, prepare_corpus_project  # noqa: E402 - importable once the repository is on the path

PROJECT = HERE / "flight_project"
PROPOSALS = HERE / "flight_proposals"
DATABASES = Path("corpora") / "duckdb-nsql" / "databases"
WAREHOUSE = DATABASES / "flightinfo" / "flightinfo.duckdb"
LAPTOP = DATABASES / "laptop" / "laptop.duckdb"
LAPTOP_TABLES = ("customers", "products", "laptops", "pcs", "printers", "sales")

# model -> [(class, description, old text, new text)], as in realistic_bugs.BUGS; the old
# texts are those of the SQL `gen-model apply` writes. Written from reading the SQL, before
# any of them was run. The data: 6 flights of one airline (4 direct legs BRU-IAD, BRU-EWR,
# EWR-LAX, IAD-LAX and 2 connecting flights over them) leaving on 2020-11-30 and 2020-12-03,
# times local to each airport (SN8913 lands at 17:49 in Los Angeles on 11-30, 01:49 UTC on
# 12-01; SN8943 lands 05:12 UTC on 12-04), no distance; 420 tickets (100 per leg, 10 per
# connecting flight, 9 packages in 3 cabins, 1 ticket with a meal and wifi price, both 0,
# the others null; titles in varying case: 'LIGHT_E', 'MAX_Flex_B', 'MAX_Flex_PE'; 20 at a
# price of exactly 500), 440 seats (110 per leg, rows 1-14, 1 not available); cancellation
# policies refunding 100, 0 or null (no refund, a fixed fee). 5 shop customers, 10 sales
# from Thursday 2020-12-17 to Sunday 12-20 (one model bought twice by one customer, quantities
# 1 to 3, 4 of them below list price), payments cash, visa credit, visa debit, mastercard credit.
FLIGHT_BUGS: dict[str, list[tuple[str, str, str, str]]] = {
    "flight_sales": [
        ("value-set", "Premium Economy not counted as economy",
         "packages.cabin_class in ('Economy', 'Premium_Economy')", "packages.cabin_class = 'Economy'"),
        ("value-set", "anything but Economy counted as business",
         "packages.cabin_class = 'Business'", "packages.cabin_class <> 'Economy'"),
        ("value-set", "the availability flag read the wrong way round",
         "filter (where not seats.is_available)", "filter (where seats.is_available)"),
        ("time-zone", "arrival day in local time", "cast(flights.arrives_at as date) as arrival_date_utc",
         "cast(flights.arrives_at_local as date) as arrival_date_utc"),
        ("time-zone", "next-day arrival from the local days",
         "cast(flights.arrives_at as date) > cast(flights.departs_at as date)",
         "cast(flights.arrives_at_local as date) > cast(flights.departs_at_local as date)"),
        ("time-zone", "block time from the local times (time zones ignored)",
         "date_diff('MINUTE', flights.departs_at, flights.arrives_at)",
         "date_diff('MINUTE', flights.departs_at_local, flights.arrives_at_local)"),
        ("duration-unit", "block time in hours", "date_diff('MINUTE', flights.departs_at",
         "date_diff('HOUR', flights.departs_at"),
        ("integer-division", "duration in whole hours", "flights.duration_minutes / 60",
         "flights.duration_minutes // 60"),
        ("duration-unit", "revenue per minute, not per hour", "/ nullif(flights.duration_minutes, 0) * 60, 2)",
         "/ nullif(flights.duration_minutes, 0), 2)"),
        ("null-zero", "services not chosen make the ticket's total null",
         "coalesce(tickets.meal_price, 0) + coalesce(tickets.wifi_price, 0)",
         "tickets.meal_price + tickets.wifi_price"),
        ("multiplicity", "packages counted per ticket", "count(distinct tickets.package_key)",
         "count(tickets.package_key)"),
        ("join-key", "packages joined on the title as the ticket writes it",
         "tickets.package_key = packages.package_key", "tickets.package_title = packages.package_title"),
        ("left-inner", "connecting flights (no seats of their own) dropped",
         "left join seat_totals", "inner join seat_totals"),
        ("percentage", "occupancy as a fraction", "round(100.0 * ticket_totals.tickets_sold /",
         "round(ticket_totals.tickets_sold /"),
        ("integer-division", "occupancy in integer division", "100.0 * ticket_totals.tickets_sold / nullif(",
         "100 * ticket_totals.tickets_sold // nullif("),
        ("off-by-one", "only row 1 counted as front row", "seats.seat_row <= 2", "seats.seat_row < 2"),
        ("precision", "average price rounded to whole units", "round(avg(tickets.ticket_price), 2)",
         "round(avg(tickets.ticket_price))"),
        ("refactor", "count the never-null key", "count(*) as tickets_sold",
         "count(tickets.ticket_id) as tickets_sold"),
        ("refactor", "next-day arrival as a day difference",
         "cast(flights.arrives_at as date) > cast(flights.departs_at as date)",
         "date_diff('day', flights.departs_at, flights.arrives_at) > 0"),
        ("refactor", "economy as the complement of Business (upstream accepted values)",
         "packages.cabin_class in ('Economy', 'Premium_Economy')", "packages.cabin_class <> 'Business'"),
    ],
    "package_monthly": [
        ("month-boundary", "month of the UTC arrival, not of the departure",
         "date_trunc('MONTH', flights.departs_at_local)", "date_trunc('MONTH', flights.arrives_at)"),
        ("value-set", "only the Economy full refund counted as refundable",
         "packages.cancellation_policy in ('Full_Refund', 'Business_Full_Refund', 'Premium_Economy_Full_Refund')",
         "packages.cancellation_policy = 'Full_Refund'"),
        ("value-set", "anything but No_Refund counted as refundable",
         "packages.cancellation_policy in ('Full_Refund', 'Business_Full_Refund', 'Premium_Economy_Full_Refund')",
         "packages.cancellation_policy <> 'No_Refund'"),
        ("off-by-one", "tickets at exactly 500 left out", "tickets.ticket_price >= 500", "tickets.ticket_price > 500"),
        ("percentage", "the refund percentage used as a fraction",
         "coalesce(packages.refund_pct, 0) / 100)", "coalesce(packages.refund_pct, 0))"),
        ("null-zero", "a policy without a percentage makes the exposure null",
         "tickets.ticket_price * coalesce(packages.refund_pct, 0) / 100",
         "tickets.ticket_price * packages.refund_pct / 100"),
        ("wrong-column", "the predue percentage", "tickets.ticket_price * coalesce(packages.refund_pct, 0) / 100",
         "tickets.ticket_price * coalesce(packages.refund_predue_pct, 0) / 100"),
        ("multiplicity", "flights counted per ticket", "count(distinct tickets.flight_number)",
         "count(tickets.flight_number)"),
        ("join-key", "packages joined on the title as the ticket writes it",
         "tickets.package_key = packages.package_key", "tickets.package_title = packages.package_title"),
        ("integer-division", "average price in integer division", "round(avg(tickets.ticket_price), 2)",
         "round(sum(tickets.ticket_price) // count(*), 2)"),
        ("wrong-column", "lowest price is the highest", "min(tickets.ticket_price) as lowest_price",
         "max(tickets.ticket_price) as lowest_price"),
        ("refactor", "count the never-null key", "count(*) as tickets", "count(tickets.ticket_id) as tickets"),
        ("refactor", "refundable by suffix (upstream accepted values)",
         "packages.cancellation_policy in ('Full_Refund', 'Business_Full_Refund', 'Premium_Economy_Full_Refund')",
         "packages.cancellation_policy like '%Full_Refund'"),
        ("refactor", "connecting as not direct (upstream accepted values)", "flights.flight_type = 'non-direct'",
         "flights.flight_type <> 'direct'"),
    ],
    "customer_purchases": [
        ("value-set", "credit cards by brand (visa debit counted, mastercard credit lost)",
         "sales.payment_type in ('visa credit', 'mastercard credit')", "sales.payment_type like 'visa%'"),
        ("value-set", "every card counted as credit", "sales.payment_type in ('visa credit', 'mastercard credit')",
         "sales.payment_type <> 'cash'"),
        ("value-set", "desktops counted as laptops", "products.product_type = 'laptop'",
         "products.product_type in ('laptop', 'pc')"),
        ("null-zero", "no cash payment gives null, not 0",
         "coalesce(sum(sales.paid_amount) filter (where sales.payment_type = 'cash'), 0)",
         "sum(sales.paid_amount) filter (where sales.payment_type = 'cash')"),
        ("wrong-column", "list value without the quantity",
         "coalesce(sum(products.list_price * sales.quantity), 0)", "coalesce(sum(products.list_price), 0)"),
        ("percentage", "discount as a fraction", "100.0 * (\n            1 - sum(sales.paid_amount)",
         "(\n            1 - sum(sales.paid_amount)"),
        ("precision", "discount rounded to whole percent", "        1\n    ) as discount_pct",
         "        0\n    ) as discount_pct"),
        ("off-by-one", "days counted inclusively", "date_diff('DAY', min(sales.sold_on), max(sales.sold_on))",
         "date_diff('DAY', min(sales.sold_on), max(sales.sold_on)) + 1"),
        ("multiplicity", "models counted per purchase", "count(distinct sales.model)", "count(sales.model)"),
        ("multiplicity", "makers counted per purchase", "count(distinct products.maker)", "count(products.maker)"),
        ("multiplicity", "units counted as purchases", "coalesce(sum(sales.quantity), 0) as units",
         "count(sales.quantity) as units"),
        ("integer-division", "laptop share in integer division",
         "filter (where products.product_type = 'laptop') / sum(sales.quantity)",
         "filter (where products.product_type = 'laptop') // sum(sales.quantity)"),
        ("multiplicity", "laptop share of purchases, not units",
         "sum(sales.quantity) filter (where products.product_type = 'laptop') / sum(sales.quantity)",
         "count(*) filter (where products.product_type = 'laptop') / count(*)"),
        ("day-of-week", "weekend by dayofweek (Sunday is 0, so only Saturdays count)",
         "isodow(sales.sold_on) in (6, 7)", "dayofweek(sales.sold_on) in (6, 7)"),
        ("day-of-week", "weekend is Friday and Saturday", "isodow(sales.sold_on) in (6, 7)",
         "isodow(sales.sold_on) in (5, 6)"),
        ("refactor", "days as a date subtraction", "date_diff('DAY', min(sales.sold_on), max(sales.sold_on))",
         "max(sales.sold_on) - min(sales.sold_on)"),
        ("refactor", "credit cards by suffix (upstream accepted values)",
         "sales.payment_type in ('visa credit', 'mastercard credit')", "sales.payment_type like '% credit'"),
        ("refactor", "coalesce inside the sum (a customer without sales has one null row)",
         "coalesce(sum(sales.quantity), 0) as units", "sum(coalesce(sales.quantity, 0)) as units"),
    ],
}  # fmt: skip


def prepare(root: Path, shared_dir: Path, proposals: Path = PROPOSALS) -> Path:
    """Copy flight_project and the corpus' flightinfo.duckdb into `root`, copy laptop.duckdb's
    tables into that copy as schema `laptop` (the corpus files are only read), build it,
    `gen-model init` it and apply `proposals`; return the project directory.
    Raises RuntimeError when a warehouse is missing or the build fails."""
    tables = {f"laptop.{table}": table for table in LAPTOP_TABLES}
    return prepare_corpus_project(root, PROJECT, shared_dir, WAREHOUSE, proposals, LAPTOP, tables)


if __name__ == "__main__":
    sys.exit(main(bugs=FLIGHT_BUGS, proposals=PROPOSALS, preparer=prepare))

"""Realistic bugs on a project we did not write: shop_project, with marts gen-model made.

`realistic_bugs.py` measures the sample project's marts, whose data and SQL we know well.
The hidden set of issue 13 is on other projects, so this runs the same measurement on a
copy of ../shared/corpora/shop_project (dbt Labs' jaffle-shop seeds): it builds the copy,
runs `gen-model init`, applies the hand-written proposals of benchmarks/shop_proposals/
(monthly revenue per customer, an order status funnel, customer lifetime value), then
scores the hand-written bugs and refactors below with `realistic_bugs.run`.

    python benchmarks/realistic_bugs_shop.py [--shared-dir DIR] [--keep DIR | --project-dir DIR]

Exits 1 when fewer than 95% of the output-changing bugs are caught or a refactor raises a
false alarm; 2 when the project cannot be prepared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.realistic_bugs import run  # noqa: E402 - importable once the repository is on the path

PROPOSALS = HERE / "shop_proposals"
SHARED_DIR = Path(os.environ.get("GEN_MODEL_SHARED_DIR") or HERE.parent.parent / "shared")
# What a copy of the corpus leaves behind: build output of whoever built it before.
LEFT_BEHIND = shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb", "*.duckdb.wal", ".user.yml")

# model -> [(class, description, old text, new text)], as in realistic_bugs.BUGS. The
# statuses are the shop's (placed, shipped, completed, return_pending, returned) and the
# payment methods its (credit_card, coupon, bank_transfer, gift_card).
SHOP_BUGS: dict[str, list[tuple[str, str, str, str]]] = {
    "customer_monthly_revenue": [
        ("value-set", "orders awaiting a return count as revenue",
         "not orders.status in ('returned', 'return_pending')", "orders.status <> 'returned'"),
        ("value-set", "only completed orders count (placed and shipped lost)",
         "not orders.status in ('returned', 'return_pending')", "orders.status = 'completed'"),
        ("value-set", "completed and shipped only (placed orders lost)",
         "not orders.status in ('returned', 'return_pending')", "orders.status in ('completed', 'shipped')"),
        ("value-set", "gift cards counted as coupons",
         "payments.payment_method = 'coupon'", "payments.payment_method in ('coupon', 'gift_card')"),
        ("time-zone", "months in New York time (an order on the 1st moves to the month before)",
         "date_trunc('MONTH', orders.order_date)",
         "date_trunc('month', timezone('America/New_York', cast(orders.order_date as timestamptz)))"),
        ("month-boundary", "months end a day late (the 1st belongs to the month before)",
         "date_trunc('MONTH', orders.order_date)", "date_trunc('month', orders.order_date - interval '1' day)"),
        ("date-unit", "weeks, not months", "date_trunc('MONTH', orders.order_date)",
         "date_trunc('week', orders.order_date)"),
        ("multiplicity", "orders counted once per payment", "count(distinct orders.order_id) as order_count",
         "count(orders.order_id) as order_count"),
        ("multiplicity", "payments counted per method", "count(payments.payment_id) as payment_count",
         "count(distinct payments.payment_method) as payment_count"),
        ("multiplicity", "equal payments summed once", "coalesce(sum(payments.amount), 0) as revenue",
         "coalesce(sum(distinct payments.amount), 0) as revenue"),
        ("null-zero", "no coupon gives null, not 0",
         "coalesce(sum(payments.amount) filter (where payments.payment_method = 'coupon'), 0)",
         "sum(payments.amount) filter (where payments.payment_method = 'coupon')"),
        ("join", "joined on the customer, not the order", "on payments.order_id = orders.order_id",
         "on payments.order_id = orders.customer_id"),
        ("refactor", "a filter on a never-null key",
         "count(distinct orders.order_id) as order_count",
         "count(distinct orders.order_id) filter (where orders.order_id is not null) as order_count"),
        ("refactor", "coalesce inside the sum (a group always has a row)",
         "coalesce(sum(payments.amount), 0) as revenue", "sum(coalesce(payments.amount, 0)) as revenue"),
        ("refactor", "the complement of the value set",
         "not orders.status in ('returned', 'return_pending')",
         "orders.status in ('placed', 'shipped', 'completed')"),
    ],
    "order_status_funnel": [
        ("value-set", "orders awaiting a return left out of the returns",
         "count(*) filter (where orders.status in ('return_pending', 'returned')) as orders_returned",
         "count(*) filter (where orders.status = 'returned') as orders_returned"),
        ("value-set", "shipped means only the status shipped",
         "where orders.status in ('shipped', 'completed', 'return_pending', 'returned')",
         "where orders.status = 'shipped'"),
        ("value-set", "completed leaves the returns out",
         "where orders.status in ('completed', 'return_pending', 'returned')",
         "where orders.status = 'completed'"),
        ("value-set", "shipped is anything but placed (a new status would count)",
         "where orders.status in ('shipped', 'completed', 'return_pending', 'returned')",
         "where orders.status <> 'placed'"),
        ("integer-division", "the return rate in integer division",
         "('return_pending', 'returned')) / count(*),", "('return_pending', 'returned')) // count(*),"),
        ("multiplicity", "customers counted once per order", "count(distinct orders.customer_id)",
         "count(orders.customer_id)"),
        ("month-boundary", "the month of the day after (the last day moves on)",
         "date_trunc('MONTH', orders.order_date)", "date_trunc('month', orders.order_date + interval '1' day)"),
        ("time-zone", "months in Tokyo time from a UTC midnight (the last day moves on)",
         "date_trunc('MONTH', orders.order_date)",
         "date_trunc('month', timezone('Asia/Tokyo', cast(orders.order_date as timestamp)))"),
        ("date-unit", "quarters", "date_trunc('MONTH', orders.order_date)", "date_trunc('quarter', orders.order_date)"),
        ("precision", "the rate rounded to 1 place", "4\n    ) as return_rate", "1\n    ) as return_rate"),
        ("refactor", "group by position", "group by all", "group by 1"),
        ("refactor", "count a never-null key", "count(*) as orders_placed", "count(orders.order_id) as orders_placed"),
        ("refactor", "the rate as a sum of flags",
         "count(*) filter (where orders.status in ('return_pending', 'returned')) / count(*),",
         "avg(case when orders.status in ('return_pending', 'returned') then 1 else 0 end),"),
    ],
    "customer_lifetime_value": [
        ("value-set", "orders awaiting a return count as returned",
         "where orders.status <> 'returned'", "where orders.status not in ('returned', 'return_pending')"),
        ("value-set", "only completed orders count", "where orders.status <> 'returned'",
         "where orders.status = 'completed'"),
        ("value-set", "returned orders kept", "where orders.status <> 'returned'", "where true"),
        ("multiplicity", "orders counted once per payment (a join before the aggregation)",
         "sum(amount) as paid_amount\n    from payments\n    group by order_id",
         "amount as paid_amount\n    from payments"),
        ("multiplicity", "equal order totals summed once", "sum(order_payments.paid_amount) as lifetime_value",
         "sum(distinct order_payments.paid_amount) as lifetime_value"),
        ("null-zero", "no orders gives a null count", "coalesce(customer_orders.order_count, 0)",
         "customer_orders.order_count"),
        ("null-zero", "no orders gives a null value", "coalesce(customer_orders.lifetime_value, 0)",
         "customer_orders.lifetime_value"),
        ("null-zero", "an average of 0 without orders, not null",
         "/ customer_orders.order_count, 2)\n    end", "/ customer_orders.order_count, 2)\n        else 0\n    end"),
        ("integer-division", "the average in integer division",
         "round(customer_orders.lifetime_value / customer_orders.order_count, 2)",
         "round(cast(customer_orders.lifetime_value as integer) // customer_orders.order_count, 2)"),
        ("join", "payments joined on the customer, not the order",
         "on order_payments.order_id = orders.order_id", "on order_payments.order_id = orders.customer_id"),
        ("join", "customers without orders dropped", "from customers\nleft join customer_orders",
         "from customers\ninner join customer_orders"),
        ("wrong-column", "first order is the last", "min(orders.order_date) as first_order_date",
         "max(orders.order_date) as first_order_date"),
        ("date-unit", "weeks between, not days", "date_diff('DAY', customer_orders.first_order_date",
         "date_diff('week', customer_orders.first_order_date"),
        ("date-unit", "months between, not days", "date_diff('DAY', customer_orders.first_order_date",
         "date_diff('month', customer_orders.first_order_date"),
        ("refactor", "count the unique key (unique upstream)", "count(*) as order_count",
         "count(distinct orders.order_id) as order_count"),
        ("refactor", "the complement of the value set", "where orders.status <> 'returned'",
         "where orders.status in ('placed', 'shipped', 'completed', 'return_pending')"),
        ("refactor", "a subtraction of dates", "date_diff('DAY', customer_orders.first_order_date, "
         "customer_orders.last_order_date)",
         "customer_orders.last_order_date - customer_orders.first_order_date"),
    ],
}  # fmt: skip


def prepare(root: Path, shared_dir: Path = SHARED_DIR, proposals: Path = PROPOSALS) -> Path:
    """Copy shop_project into `root`, build it, run `gen-model init` and apply every
    proposal of `proposals` (default shop_proposals/); return the project directory.
    Raises RuntimeError with dbt's message when the build fails."""
    source = shared_dir / "corpora" / "shop_project"
    if not (source / "dbt_project.yml").is_file():
        raise RuntimeError(f"the shared shop project is not at {source} (pass --shared-dir)")
    project_dir = root / "shop_project"
    shutil.copytree(source, project_dir, ignore=LEFT_BEHIND)
    # The corpus is read-only; dbt writes target/ and the warehouse into the copy.
    for path in (project_dir, *project_dir.rglob("*")):
        path.chmod(path.stat().st_mode | 0o200)
    build_and_apply(project_dir, proposals)
    return project_dir


def build_and_apply(project_dir: Path, proposals: Path = PROPOSALS) -> None:
    """`dbt build` the writable project copy in `project_dir`, run `gen-model init` and
    apply every proposal of `proposals` (prepare and prepare_corpus_project end with it).
    Raises RuntimeError with dbt's message when the build fails."""
    from generator.project import load_project
    from generator.project.dbt import invoke
    from generator.write.package import init_project

    built = invoke(load_project(project_dir), ["build"])
    if not built.success:
        raise RuntimeError(f"dbt build of the {project_dir.name} copy failed:\n" + "\n".join(built.errors))
    init_project(load_project(project_dir))
    apply_proposals(project_dir, proposals=proposals)


def prepare_corpus_project(
    root: Path,
    project: Path,
    shared_dir: Path,
    warehouse: Path,
    proposals: Path,
    extra: Path | None = None,
    tables: dict[str, str] | None = None,
) -> Path:
    """Copy the fixture `project` and the corpus database `warehouse` (a path under
    `shared_dir`) into `root`, copy `tables` of the corpus database `extra` into that copy
    (`schema.table` there -> table of `extra`; the corpus files are only read), build it,
    `gen-model init` it and apply `proposals`; return the project directory. The nyc, hn and
    flight sets prepare their projects with it. Raises RuntimeError when a database is
    missing or the build fails."""
    import duckdb

    for path in (warehouse, *([extra] if extra else [])):
        if not (shared_dir / path).is_file():
            raise RuntimeError(f"the corpus database is not at {shared_dir / path} (pass --shared-dir)")
    project_dir = root / project.name
    shutil.copytree(project, project_dir, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*"))
    copy = project_dir / warehouse.name
    shutil.copyfile(shared_dir / warehouse, copy)
    copy.chmod(0o644)
    if extra:
        with duckdb.connect(str(copy)) as connection:
            connection.execute(f"attach '{shared_dir / extra}' as gm_extra (read_only)")
            for target, table in (tables or {}).items():
                connection.execute(f"create schema if not exists {target.split('.')[0]}")
                connection.execute(f"create table {target} as select * from gm_extra.main.{table}")
            connection.execute("detach gm_extra")
    build_and_apply(project_dir, proposals)
    return project_dir


def apply_proposals(project_dir: Path, names: list[str] | None = None, proposals: Path = PROPOSALS) -> None:
    """`gen-model apply` the proposals of `proposals` called `names` (default: all of them)
    to the built, initialised shop copy in `project_dir`. Raises RuntimeError when one is
    not written."""
    from generator.project import load_project
    from generator.run.apply import apply
    from generator.run.options import Options

    chosen = names if names is not None else sorted(path.stem for path in proposals.glob("*.yml"))
    for name in chosen:
        report = apply(load_project(project_dir), proposals / f"{name}.yml", Options())
        if report.status != "written":
            raise RuntimeError(f"{name}.yml was not written ({report.status})")


def main(
    argv: list[str] | None = None,
    bugs: dict[str, list[tuple[str, str, str, str]]] = SHOP_BUGS,
    proposals: Path = PROPOSALS,
    preparer: Callable[[Path, Path, Path], Path] = prepare,
) -> int:
    """Prepare (or reuse) a shop copy with the marts of `proposals` and score `bugs` on it;
    realistic_bugs_shop_holdout.py calls this with its held-out marts and bugs, and
    realistic_bugs_nyc.py with its own project's `preparer` (same arguments as `prepare`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-dir", type=Path, default=SHARED_DIR, help="holds corpora/shop_project")
    parser.add_argument("--keep", type=Path, help="prepare the project here and keep it (default: a temp dir)")
    parser.add_argument("--project-dir", type=Path, help="a shop copy --keep prepared before: skip preparing")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="realistic_bugs_shop_") as scratch:
        project_dir = args.project_dir
        if project_dir is None:
            try:
                project_dir = preparer(args.keep or Path(scratch), args.shared_dir, proposals)
            except RuntimeError as error:
                print(error, file=sys.stderr)
                return 2
            print(f"({project_dir.name} prepared in {time.monotonic() - started:.0f} s)")
        status = run(project_dir, bugs)
    print(f"({time.monotonic() - started:.0f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())

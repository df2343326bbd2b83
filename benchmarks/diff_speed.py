"""Data-diff benchmark: does `gen-model diff` stay in seconds on millions of rows?

Builds a throwaway DuckDB file with two versions of a model (`v1`, `v2`) of N rows each:
an integer key plus a date key (the grain), a varchar, two decimals, a double, a bigint
and a timestamp. v2 drops 1% of v1's keys, adds as many new ones, changes 0.5% of one
decimal and 0.2% of the varchar, widens the bigint's type, and nulls 0.1% of the doubles.
It then runs `generator.ci.diff.diff_relations` on the file opened read-only (as `gen-model
diff` does) and checks every count against what was planted. Exits 1 on a wrong count.

Usage: python benchmarks/diff_speed.py [--rows 5000000] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.ci.diff import diff_relations


def build(path: Path, rows: int) -> dict:
    """Write v1 and v2 into `path`; return the counts the diff must find."""
    connection = duckdb.connect(str(path))
    connection.execute(
        f"""
        create table v1 as
        select
            i as account_id,
            date '2024-01-01' + (i % 24) * interval 1 month as month,
            'plan_' || (i % 7) as plan_id,
            cast((i % 10000) / 100.0 as decimal(18,2)) as mrr,
            cast((i % 333) as decimal(18,2)) as seats_amount,
            (i % 1000) / 7.0 as score,
            cast(i * 3 as integer) as events,
            timestamp '2024-01-01' + i * interval 1 second as updated_at
        from range({rows}) as t(i)
        """
    )
    connection.execute(
        f"""
        create table v2 as
        select
            account_id,
            month,
            case when account_id % 500 = 1 then plan_id || '_x' else plan_id end as plan_id,
            case when account_id % 200 = 3 then mrr + 1 else mrr end as mrr,
            seats_amount,
            case when account_id % 1000 = 7 then null else score end as score,
            cast(events as bigint) as events,
            updated_at
        from v1
        where account_id % 100 <> 5
        union all
        select
            i as account_id,
            date '2024-01-01' as month,
            'plan_new' as plan_id,
            1.00 as mrr,
            0 as seats_amount,
            0.0 as score,
            0 as events,
            timestamp '2025-01-01' as updated_at
        from range({rows}, {rows} + {rows // 100}) as t(i)
        """
    )
    connection.close()
    with duckdb.connect(str(path), read_only=True) as check:
        removed, plan_changed, mrr_changed, score_changed = check.execute(
            """
            select
                count(*) filter (where account_id % 100 = 5),
                count(*) filter (where account_id % 100 <> 5 and account_id % 500 = 1),
                count(*) filter (where account_id % 100 <> 5 and account_id % 200 = 3),
                count(*) filter (where account_id % 100 <> 5 and account_id % 1000 = 7)
            from v1
            """
        ).fetchone()
    return {
        "only_from": removed,
        "only_to": rows // 100,
        "matched": rows - removed,
        "plan_id": plan_changed,
        "mrr": mrr_changed,
        "score": score_changed,
        "seats_amount": 0,
        "events": 0,
        "updated_at": 0,
    }


def columns(connection, table: str) -> list[tuple[str, str]]:
    return connection.execute(
        "select column_name, lower(data_type) from duckdb_columns() where table_name = ? order by column_index",
        [table],
    ).fetchall()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: DuckDB's default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "diff_bench.duckdb"
        started = time.monotonic()
        expected = build(path, args.rows)
        size = path.stat().st_size / 2**20
        print(f"built 2 x {args.rows:,} rows in {time.monotonic() - started:.1f} s ({size:.0f} MiB)")
        connection = duckdb.connect(str(path), read_only=True)
        if args.threads:
            connection.execute(f"set threads = {args.threads}")
        started = time.monotonic()
        result = diff_relations(
            connection,
            "v1",
            "v2",
            ["account_id", "month"],
            columns(connection, "v1"),
            columns(connection, "v2"),
            model="bench",
            from_version=1,
            to_version=2,
        )
        elapsed = time.monotonic() - started
        connection.close()
    print(result.format_text())
    threads = args.threads or "default"
    print(f"diff of {args.rows:,} rows: {elapsed:.2f} s (threads {threads})")
    found = {"only_from": result.only_from, "only_to": result.only_to, "matched": result.matched}
    found.update({c.name: c.changed for c in result.columns})
    wrong = {key: (found.get(key), value) for key, value in expected.items() if found.get(key) != value}
    if wrong:
        print("WRONG (found, expected):", wrong)
        return 1
    print("every count matches what was planted")
    return 0


if __name__ == "__main__":
    sys.exit(main())

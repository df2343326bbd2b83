"""`make bench` / `python -m benchmarks`: every benchmark, one after another.

Each prints its own side-by-side ratio and exits non-zero when it misses its target;
this runner reports which did. The scale-100 enrichment benchmark needs about 450 MB of
generated data (`python -m sample_data --scale 100 --raw-dir data/scale100/raw --warehouse
data/scale100/warehouse.duckdb`) and is run only with --all.

    python -m benchmarks [--all]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = (
    ("apply overhead vs plain dbt build (issue 3)", ["apply_overhead.py", "--runs", "3"]),
    ("catalog-slice tokens at 10/100/1,000 relations (issue 3)", ["context_tokens.py"]),
    ("gates on the DuckDB-NSQL corpus: false rejects (issue 3)", ["nsql_gates.py"]),
    ("mutation score: derived tests vs unique+not_null (issue 4)", ["mutation_score.py"]),
    ("realistic bugs: unit, data tests, both vs unique+not_null (issue 13)", ["realistic_bugs.py"]),
    ("realistic bugs on shop_project, a project we did not write (issue 13)", ["realistic_bugs_shop.py"]),
    ("realistic bugs on two more shop marts, held out when written (issue 13)", ["realistic_bugs_shop_holdout.py"]),
    ("realistic bugs on a new domain (NYC taxi, rideshare, 311 requests) (issue 13)", ["realistic_bugs_nyc.py"]),
    ("realistic bugs on a fourth domain (Hacker News posts, WHO air quality) (issue 13)", ["realistic_bugs_hn.py"]),
    ("realistic bugs on a fifth domain (airline tickets, a computer shop) (issue 13)", ["realistic_bugs_flight.py"]),
    ("data diff speed on millions of rows (issue 6)", ["diff_speed.py", "--rows", "2000000"]),
    ("first hour: commands vs dbt parse/build, gates vs sqlglot (issue 16)", ["first_hour.py", "--runs", "3"]),
    ("gate run and apply on Spark vs DuckDB, JVM start apart (issue 14)", ["spark_vs_duckdb.py", "--runs", "3"]),
)
SLOW = (
    (
        "enrichment throughput and memory at scale 100 (issue 5)",
        [
            "enrich_throughput.py",
            "--raw-dir",
            "data/scale100/raw",
            "--warehouse",
            "data/scale100/warehouse.duckdb",
            "--scale",
            "100",
        ],
    ),
)


def main() -> int:
    chosen = QUICK + (SLOW if "--all" in sys.argv[1:] else ())
    missed = []
    for title, (script, *args) in chosen:
        print(f"\n===== {title}: {script} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0:
            missed.append(script)
    print("\n===== " + ("every benchmark met its target" if not missed else f"missed: {', '.join(missed)}"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

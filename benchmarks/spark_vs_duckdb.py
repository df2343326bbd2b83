"""A gate run and an `apply` of the same proposal on DuckDB and on Spark, side by side in one run.

Two copies of ../shared/corpora/shop_project: one on its own DuckDB target, one on
profiles.yml.example's `spark` target (dbt-spark in session mode on a local Spark). Both are
built once, then each round runs, on each engine in turn (the order alternates per round so
machine noise hits both alike):

  gate run  `gen-model apply --dry-run --no-unit-test PROPOSAL`: parse, catalog, every gate
            (the dry run on the engine), nothing written;
  apply     `gen-model apply --no-unit-test PROPOSAL` under a new model name each round:
            all that, plus the write and the in-process `dbt build --select` of the model.

Everything runs in this one process, as the Spark session must: it is started once and
dbt-spark and gen-model share it. Its start (the JVM and Spark's own start-up, paid once
per process) is timed and reported on its own line, not inside any median. Prints the
median wall time of each and the Spark/DuckDB ratio.

The same test work on both (derived data tests and the hollow-test gate; the unit test is
left out with --no-unit-test, as its Spark path adds a DuckDB twin), with one difference
said in the output: DuckDB's catalog can come from gen-model's cache, where Spark's is
read from the metastore every run. There is no target to meet:
the script reports.
Exit 1 when a run fails or Spark cannot start (no JDK, no pyspark).

    python benchmarks/spark_vs_duckdb.py [--runs 3] [--shop DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GEN_MODEL_SHARED_DIR") or REPO.parent / "shared")
SCHEMA = "bench"
ENGINES = ("DuckDB", "Spark")

# Orders per customer: a left join to a unique key, grouped by it (valid SQL on both engines).
PROPOSAL = {
    "name": "customer_order_counts",
    "layer": "marts",
    "description": "Orders per customer.",
    "grain": ["customer_id"],
    "sql": (
        "select customers.customer_id, count(orders.order_id) as order_count\n"
        "from {{ ref('stg_customers') }} as customers\n"
        "left join {{ ref('stg_orders') }} as orders on orders.customer_id = customers.customer_id\n"
        "group by customers.customer_id\n"
    ),
    "columns": [
        {"name": "customer_id", "description": "The customer."},
        {"name": "order_count", "description": "Their orders."},
    ],
}


def spark_target() -> dict:
    """profiles.yml.example's `spark` target, in a schema of its own."""
    import yaml

    example = yaml.safe_load((REPO / "profiles.yml.example").read_text())
    return dict(example["gen_model"]["outputs"]["spark"], schema=SCHEMA)


def copy_shop(shop: Path, directory: Path, spark: bool) -> Path:
    """A writable copy of the shop project; with `spark`, its profile is the Spark target."""
    import yaml

    shutil.copytree(shop, directory, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", "dbt_packages"))
    for path in (directory, *directory.rglob("*")):
        path.chmod(path.stat().st_mode | 0o200)
    if spark:
        profile = {"shop": {"target": "spark", "outputs": {"spark": spark_target()}}}
        (directory / "profiles.yml").write_text(yaml.safe_dump(profile))
    return directory


def gen_model(*args: str) -> float:
    """Wall time of one in-process `gen-model` command; exit on failure."""
    from click.testing import CliRunner

    from generator.cli import cli

    started = time.perf_counter()
    result = CliRunner().invoke(cli, list(args))
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        sys.exit(f"failed (exit {result.exit_code}): gen-model {' '.join(args)}\n{result.output}")
    return elapsed


def dbt_build(directory: Path) -> float:
    """Wall time of an in-process `dbt build` of the whole project; exit on failure."""
    from generator.project import load_project
    from generator.project.dbt import invoke

    started = time.perf_counter()
    outcome = invoke(load_project(directory), ["build"])
    if not outcome.success:
        sys.exit(f"dbt build of {directory} failed:\n" + "\n".join(outcome.errors))
    return time.perf_counter() - started


def start_spark(directory: Path) -> float:
    """Wall time to start the Spark session dbt-spark will use (the JVM and Spark's start-up)."""
    from generator.dialects.spark_session import spark_session

    settings = tuple((str(k), str(v)) for k, v in spark_target()["server_side_parameters"].items())
    started = time.perf_counter()
    spark = spark_session(directory, settings)
    spark.sql("select 1").collect()  # the first query: the executor is up too
    return time.perf_counter() - started


def write_proposal(scratch: Path, name: str) -> Path:
    import yaml

    path = scratch / f"{name}.yml"
    path.write_text(yaml.safe_dump(dict(PROPOSAL, name=name), sort_keys=False))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shop", type=Path, default=SHARED / "corpora" / "shop_project")
    args = parser.parse_args()
    if not (args.shop / "dbt_project.yml").is_file():
        print(f"no shop project at {args.shop} (pass --shop or set GEN_MODEL_SHARED_DIR)", file=sys.stderr)
        return 1
    if shutil.which("java") is None:
        print("no JDK on PATH: Spark needs one (`make test` installs it from apt)", file=sys.stderr)
        return 1
    try:
        import pyspark  # noqa: F401 - only whether it is installed
    except ImportError:
        print("pyspark is not installed: `pip install -e '.[spark]'`", file=sys.stderr)
        return 1
    os.environ["DO_NOT_TRACK"] = "1"
    sys.path.insert(0, str(REPO))

    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="gen-model-bench-spark-") as scratch_name:
        scratch = Path(scratch_name)
        projects = {
            "DuckDB": copy_shop(args.shop, scratch / "duckdb" / "project", spark=False),
            "Spark": copy_shop(args.shop, scratch / "spark" / "project", spark=True),
        }
        print(f"copies of {args.shop} in {scratch}; building both once ...", flush=True)
        for directory in projects.values():
            gen_model("init", "--project-dir", str(directory))
        jvm = start_spark(projects["Spark"])
        builds = {engine: dbt_build(directory) for engine, directory in projects.items()}
        gate_proposal = write_proposal(scratch, PROPOSAL["name"])
        for index in range(args.runs):
            order = ENGINES if index % 2 == 0 else tuple(reversed(ENGINES))
            for engine in order:
                directory = str(projects[engine])
                gate = gen_model("apply", "--dry-run", "--no-unit-test", str(gate_proposal), "--project-dir", directory)
                times.setdefault(("gate run", engine), []).append(gate)
                written = write_proposal(scratch, f"{PROPOSAL['name']}_{index}")
                applied = gen_model("apply", "--no-unit-test", str(written), "--project-dir", directory)
                times.setdefault(("apply", engine), []).append(applied)
                print(f"  run {index + 1} {engine:<6} gate run {gate:6.2f} s, apply {applied:6.2f} s", flush=True)

    print(f"\nshop_project, proposal {PROPOSAL['name']}, {args.runs} runs each, one process, medians of wall time:")
    print(f"  {'':<10}{'command':<40}{'DuckDB':>9}{'Spark':>9}{'Spark/DuckDB':>14}")
    for label, command in (
        ("gate run", "apply --dry-run --no-unit-test"),
        ("apply", "apply --no-unit-test (+ write, build)"),
    ):
        duckdb_s, spark_s = (statistics.median(times[(label, engine)]) for engine in ENGINES)
        print(f"  {label:<10}{command:<40}{duckdb_s:8.2f}s{spark_s:8.2f}s{spark_s / duckdb_s:13.1f}x")
    print(f"  Spark session start (the JVM; once per process, in no median above): {jvm:.1f} s")
    print(f"  setup, dbt build of the whole project: DuckDB {builds['DuckDB']:.1f} s, Spark {builds['Spark']:.1f} s")
    print("  the same test work on both (derived data tests, hollow-test gate), but:")
    print("    DuckDB's catalog can come from gen-model's cache (keyed on the project files and the")
    print("    warehouse file); Spark's is read from the metastore every run (the cache cannot see it).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Mutation score of the derived tests against the bare baseline most projects have.

For every model gen-model generated in the sample project (the repository's dbt project,
built), and for shop_project's `customers` and `orders` after `gen-model tests` (in a temp
copy, after `gen-model init`), mutants of the model's SQL (generator.testgen.mutate) are run
against two sets of tests:

  derived   the model's tests as its YAML has them: derived data tests and the unit test
  baseline  `unique` + `not_null` on the grain (primary key) only, no unit test

    python benchmarks/mutation_score.py [--project-dir DIR] [--skip-shop]

prints a table (killed/total and score per model, the ratio of the scores, seconds) and
exits 1 if any generated sample model scores under 0.80 with its derived tests. Both
columns count a mutant an enforced contract rejects (a changed column type) as killed.

The unit test's rows are chosen to tell mutants apart, so the derived score is partly
made by construction. A second table says how far that choice generalises: the rows are
chosen again with half of the operators only (join types, filters, aggregates, coalesce,
distinct), and the data tests and that unit test are scored on the other half (boundaries,
arithmetic, negation, group-by keys, case branches, join keys), which they never saw.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.80
SHOP_MODELS = ("customers", "orders")
SELECTION = frozenset({"join-type", "drop-predicate", "drop-filter", "aggregate", "coalesce", "distinct"})


def shared_dir() -> Path:
    return Path(os.environ.get("GEN_MODEL_SHARED_DIR") or ROOT.parent / "shared")


def scores(project, names, *, manifest=None, catalog=None) -> list[dict]:
    from generator.project import dbt
    from generator.project.catalog_builder import build_catalog
    from generator.testgen.modeltests import baseline_tests, manifest_tests, mutate_model

    manifest = manifest if manifest is not None else dbt.parse(project)
    catalog = catalog if catalog is not None else build_catalog(project, manifest)
    rows = []
    for name in names:
        relation = catalog.ref(name)
        own, _ = manifest_tests(manifest, relation.unique_id)
        started = time.monotonic()
        derived = mutate_model(project, name, manifest=manifest, catalog=catalog)
        derived_s = time.monotonic() - started
        baseline = mutate_model(
            project, name, manifest=manifest, catalog=catalog, data_tests=baseline_tests(relation, own), unit_tests=[]
        )
        rows.append(
            {
                "model": name,
                "derived": derived,
                "baseline": baseline,
                "seconds": derived_s,
            }
        )
    return rows


def _score(score: float | None) -> str:
    """A score, or `none` when nothing was there to score (never a perfect 1.00)."""
    return f"{score:>6.2f}" if score is not None else "  none"


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(f"{'model':<28} {'mutants':>7} {'equiv':>5} {'derived':>15} {'baseline':>15} {'ratio':>6} {'s':>5}")
    for row in rows:
        derived, baseline = row["derived"], row["baseline"]
        ratio = f"{derived.score / baseline.score:>6.2f}" if baseline.score and derived.score is not None else "   n/a"
        equivalent = len(derived.with_status("equivalent"))
        print(
            f"{row['model']:<28} {len(derived.outcomes):>7} {equivalent:>5} "
            f"{derived.killed:>3}/{derived.total:<3} {_score(derived.score)}  "
            f"{baseline.killed:>3}/{baseline.total:<3} {_score(baseline.score)}  {ratio} {row['seconds']:>5.1f}"
        )
        for outcome in derived.with_status("survived"):
            print(f"    survived: {outcome.mutant.label()}")


def sample_project(project_dir: Path) -> list[dict]:
    from generator.project import dbt, load_project
    from generator.project.catalog_builder import build_catalog

    project = load_project(project_dir)
    manifest = dbt.parse(project)
    catalog = build_catalog(project, manifest)
    from generator.ci.verify import generated_versions

    # SQL models gen-model generated; enrichment models compiled from specs are Python.
    names = sorted({r.name for r in generated_versions(project, catalog)})
    return scores(project, names, manifest=manifest, catalog=catalog)


def held_out(project_dir: Path) -> list[dict]:
    """Unit rows chosen with the SELECTION operators, scored on the others."""
    from generator.project import dbt, load_project
    from generator.project.catalog_builder import build_catalog
    from generator.project.sandbox import open_sandbox
    from generator.testgen.modeltests import checked_tests, find_model, manifest_tests, open_model
    from generator.testgen.mutate import enumerate_mutants, run_mutants
    from generator.testgen.testsql import catalog_resolver
    from generator.testgen.unit_fixtures import build_unit_test

    project = load_project(project_dir)
    manifest = dbt.parse(project)
    catalog = build_catalog(project, manifest)
    from generator.ci.verify import generated_versions

    names = sorted({r.name for r in generated_versions(project, catalog)})
    rows = []
    for name in names:
        relation, node = find_model(project, catalog, manifest, name)
        tests, _ = manifest_tests(manifest, relation.unique_id)
        with open_sandbox(catalog, 60) as sandbox:
            ctx = open_model(project, catalog, relation, node, sandbox).ctx
            started = time.monotonic()
            checked_tests(ctx, model=name, version=relation.version)
            derive_s = time.monotonic() - started
            mutants = enumerate_mutants(ctx)
            seen = [m for m in mutants if m.operator in SELECTION]
            unseen = [m for m in mutants if m.operator not in SELECTION]
            unit_test, _, _ = build_unit_test(ctx, seen, model=name, version=relation.version)
            report = run_mutants(
                ctx, unseen, tests, [unit_test] if unit_test else [], catalog_resolver(catalog), contract=True
            )
        rows.append({"model": name, "report": report, "derive_s": derive_s})
    return rows


def print_held_out(rows: list[dict]) -> None:
    print("\nheld out: unit rows chosen with half the operators, scored on the other half")
    print(f"{'model':<28} {'held-out':>15} {'derive+hollow+unit s':>21}")
    for row in rows:
        report = row["report"]
        counts = f"{report.killed:>3}/{report.total:<3}"
        print(f"{row['model']:<28} {counts} {_score(report.score)}  {row['derive_s']:>21.1f}")
        for outcome in report.with_status("survived"):
            print(f"    survived: {outcome.mutant.label()}")


def shop_project() -> list[dict] | None:
    from generator.project import dbt, load_project
    from generator.testgen.modeltests import add_tests
    from generator.write.package import init_project

    source = shared_dir() / "corpora" / "shop_project"
    if not (source / "dbt_project.yml").is_file():
        print(f"\n(shop_project not found at {source}; set GEN_MODEL_SHARED_DIR)")
        return None
    with tempfile.TemporaryDirectory(prefix="gen-model-bench-") as temp:
        copy = Path(temp) / "shop"
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb", "dbt_packages"))
        for path in (copy, *copy.rglob("*")):
            path.chmod(path.stat().st_mode | 0o200)
        project = load_project(copy)
        if not dbt.invoke(project, ["build"]).success:
            raise SystemExit("dbt build of the shop_project copy failed")
        init_project(project)
        for name in SHOP_MODELS:
            report = add_tests(project, name)
            print(
                f"gen-model tests {name}: {report.status}, {len(report.added)} data tests added"
                + (", a unit test" if report.unit_test else "")
            )
        return scores(project, SHOP_MODELS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=ROOT, help="The built sample project (default: the repo).")
    parser.add_argument("--skip-shop", action="store_true", help="Only the sample project.")
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows = sample_project(args.project_dir)
    print_table(f"sample project ({args.project_dir}): generated models", rows)
    print_held_out(held_out(args.project_dir))
    if not args.skip_shop:
        shop = shop_project()
        if shop is not None:
            print_table("shop_project (a copy) after gen-model init + gen-model tests", shop)
    print(f"\n{time.monotonic() - started:.1f} s in all")
    failing = [row["model"] for row in rows if (row["derived"].score or 0) < TARGET]
    if failing:
        print(f"under the {TARGET:.0%} target with derived tests: {', '.join(failing)}", file=sys.stderr)
        return 1
    if not rows:
        print("no generated models in the sample project", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

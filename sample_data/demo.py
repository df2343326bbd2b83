"""python -m sample_data.demo: build the sample project with dbt and say how it went.

Run from the project directory after `python -m sample_data` (as `make demo` does). dbt runs
in-process through generator.dbt; the exit status is 1 when the build fails, with dbt's
errors printed.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from generator.dbt import DbtOutcome, invoke
from generator.errors import GenModelError
from generator.project import Project, load_project

MARTS = ("accounts", "subscriptions", "invoices")
PASSED = {"success", "pass"}
SHOWN_FAILURES = 10


def mart_row_counts(project: Project, marts: tuple[str, ...] = MARTS) -> dict[str, int]:
    """Rows per mart, counted by dbt itself so any profile's warehouse path works."""
    query = " union all ".join(
        f"select '{name}' as mart, count(*) as row_count from {{{{ ref('{name}') }}}}"
        for name in marts
    )
    outcome = invoke(project, ["show", "--inline", query, "--limit", str(len(marts))])
    if not outcome.success or not outcome.nodes:
        return {}
    table = outcome.result.results[0].agate_table
    return {str(row[0]): int(row[1]) for row in table.rows}


def summarize(outcome: DbtOutcome, seconds: float) -> str:
    """Passed/failed per resource type, then the failures, in a few lines."""
    tally: dict[str, Counter] = {}
    for node in outcome.nodes:
        kind = node.resource_type.rsplit(".", 1)[-1]
        tally.setdefault(kind, Counter())["passed" if node.status in PASSED else node.status] += 1
    lines = [f"dbt build {'succeeded' if outcome.success else 'FAILED'} in {seconds:.1f} s"]
    for kind in ("seed", "model", "test", "unit_test", "snapshot"):
        if kind in tally:
            counts = ", ".join(f"{count} {status}" for status, count in sorted(tally[kind].items()))
            lines.append(f"  {kind + 's':<10} {counts}")
    broken = sorted(
        (node for node in outcome.nodes if node.status in ("error", "fail")), key=lambda n: n.name
    )
    for node in broken[:SHOWN_FAILURES]:
        last_line = (node.message or "").strip().splitlines()[-1:] or [""]
        lines.append(f"  {node.status.upper():<6} {node.name}: {last_line[0].strip()}")
    if len(broken) > SHOWN_FAILURES:
        lines.append(f"  ... and {len(broken) - SHOWN_FAILURES} more (see target/run_results.json)")
    return "\n".join(lines)


def main(project_dir: str | Path | None = None) -> int:
    try:
        project = load_project(project_dir or Path.cwd())
    except GenModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    began = time.perf_counter()
    outcome = invoke(project, ["build"])
    print(summarize(outcome, time.perf_counter() - began))
    if not outcome.success:
        if not any(node.status in ("error", "fail") for node in outcome.nodes):
            for message in outcome.errors:  # parse or compile errors: no node to blame
                print(message, file=sys.stderr)
        if any("raw_app" in message or "raw_billing" in message for message in outcome.errors):
            print("hint: load the raw data first: python -m sample_data --scale 1", file=sys.stderr)
        return 1
    if not outcome.nodes:
        print("dbt built nothing: are the sample models enabled?", file=sys.stderr)
        return 1
    counts = mart_row_counts(project)
    if counts:
        print("  marts      " + ", ".join(f"{name} {rows:,} rows" for name, rows in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
